"""Database engines: URL normalisation and the SQLite settings the guarantees depend on.

SQLite gets WAL (readers never block the writer), foreign keys (cascading deletes), a busy
timeout (other processes' writers are waited for, not failed on) and ``BEGIN IMMEDIATE`` for
write transactions: taking the write lock up front is what makes "read the counter, then
write" safe across processes, and avoids the upgrade deadlock a deferred BEGIN runs into.
"""

from __future__ import annotations

from typing import Any, Literal

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from runtime.store import sqlitedriver
from runtime.store.errors import ValidationError

SqliteSynchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]

#: Execution option read by the BEGIN hook: a read-only unit of work begins DEFERRED.
READONLY_OPTION = "statehop_readonly"

_PG_DRIVERS = {"postgres", "postgresql", "postgresql+psycopg2", "postgresql+psycopg", "postgresql+asyncpg"}
_SQLITE_DRIVERS = {"sqlite", "sqlite+pysqlite", "sqlite+aiosqlite"}


def normalize_url(url: str | URL) -> URL:
    """Map any SQLite/PostgreSQL URL to its asyncio driver (aiosqlite / asyncpg)."""
    parsed = make_url(url)
    if parsed.drivername in _PG_DRIVERS:
        return parsed.set(drivername="postgresql+asyncpg")
    if parsed.drivername in _SQLITE_DRIVERS:
        return parsed.set(drivername="sqlite+aiosqlite")
    raise ValidationError(f"unsupported database URL {parsed.drivername!r}: use sqlite:// or postgresql://")


def is_memory_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def create_engine(
    url: str | URL,
    *,
    echo: bool = False,
    sqlite_synchronous: SqliteSynchronous = "FULL",
    sqlite_busy_timeout: float = 30.0,
    pool_size: int = 10,
    pool_pre_ping: bool = False,
    **kwargs: Any,
) -> AsyncEngine:
    """An AsyncEngine for ``url`` configured for the store's transaction discipline.

    ``pool_pre_ping`` is off: it costs a round trip per transaction, and a connection that
    died with a database restart surfaces as TransientStoreError instead, which
    ``Store.run`` retries on a fresh connection.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "postgresql":
        return create_async_engine(
            parsed,
            echo=echo,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=pool_pre_ping,
            **kwargs,
        )
    # SQLAlchemy's connection arguments for this URL, opened with runtime/store/sqlitedriver.py
    # (aiosqlite with one thread hand-off per statement instead of three or four)
    cargs, cparams = parsed.get_dialect()().create_connect_args(parsed)
    cparams.update(kwargs.pop("connect_args", {}))
    cparams.setdefault("timeout", sqlite_busy_timeout)

    async def connect() -> aiosqlite.Connection:
        return await sqlitedriver.connect(*cargs, **cparams)

    engine = create_async_engine(parsed, echo=echo, async_creator=connect, **kwargs)
    memory = is_memory_sqlite(parsed)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={sqlite_synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={int(sqlite_busy_timeout * 1000)}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        readonly = conn.get_execution_options().get(READONLY_OPTION, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine
