"""The Store: one object per database URL, handing out units of work.

``async with store.transaction() as tx:`` runs every ``tx`` call in one database
transaction, committed when the block ends and rolled back if it raises. Database errors of
timing (deadlock, serialization failure, a locked SQLite file) come out as
TransientStoreError; ``store.run(fn)`` retries those for you.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from runtime.store.arns import DEFAULT_ACCOUNT, DEFAULT_REGION, Arns
from runtime.store.engine import (
    READONLY_OPTION,
    SqliteSynchronous,
    create_engine,
    is_memory_sqlite,
    normalize_url,
)
from runtime.store.errors import TransientStoreError
from runtime.store.hopcommit import HopCommit, HopCommitter, asyncpg_dsn
from runtime.store.migrations import current_revision_async, head_revision, upgrade_async
from runtime.store.sqlitehops import SqliteHopCommitter
from runtime.store.tx import Transaction

T = TypeVar("T")

#: serialization_failure, deadlock_detected, lock_not_available
_PG_TRANSIENT = frozenset({"40001", "40P01", "55P03"})


def is_transient(exc: DBAPIError) -> bool:
    """Would running the same transaction again probably succeed?"""
    if exc.connection_invalidated:  # the server went away (restart, failover): reconnect
        return True
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _PG_TRANSIENT:
        return True
    if getattr(orig, "sqlite_errorname", "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return True
    return "database is locked" in str(orig)


class Store:
    """Persistent state of StateHop on SQLite (embedded) or PostgreSQL (production)."""

    def __init__(
        self,
        url: str | URL,
        *,
        region: str = DEFAULT_REGION,
        account: str = DEFAULT_ACCOUNT,
        echo: bool = False,
        pool_size: int = 10,
        sqlite_synchronous: SqliteSynchronous = "FULL",
        sqlite_busy_timeout: float = 30.0,
        pool_pre_ping: bool = False,
    ) -> None:
        self.url = normalize_url(url)
        self.arns = Arns(region, account)
        self.backend = self.url.get_backend_name()
        self.engine = create_engine(
            self.url,
            echo=echo,
            pool_size=pool_size,
            sqlite_synchronous=sqlite_synchronous,
            sqlite_busy_timeout=sqlite_busy_timeout,
            pool_pre_ping=pool_pre_ping,
        )
        self._memory = is_memory_sqlite(self.url)
        # SQLite has one writer at a time anyway; queueing writers here is cheaper than letting
        # them spin in SQLite's busy handler (other processes still meet the busy timeout).
        self._sqlite_writer = asyncio.Lock() if self.backend == "sqlite" else None
        self._pool_size = pool_size
        self._committer: HopCommit | None = None

    def __repr__(self) -> str:
        return f"Store({self.url.render_as_string(hide_password=True)!r})"

    @contextlib.asynccontextmanager
    async def transaction(self, *, readonly: bool = False) -> AsyncIterator[Transaction]:
        """A unit of work; ``readonly`` lets SQLite readers run beside the writer."""
        guard: contextlib.AbstractAsyncContextManager[Any] = contextlib.nullcontext()
        if self._sqlite_writer is not None and (not readonly or self._memory):
            guard = self._sqlite_writer
        async with guard:
            try:
                async with self.engine.connect() as conn:
                    if readonly and self.backend == "sqlite":
                        await conn.execution_options(**{READONLY_OPTION: True})
                    async with conn.begin():
                        yield Transaction(conn, self.arns)
            except DBAPIError as exc:
                if is_transient(exc):
                    raise TransientStoreError(f"retry the transaction: {exc.orig}") from exc
                raise

    async def run(
        self, work: Callable[[Transaction], Awaitable[T]], *, attempts: int = 5, readonly: bool = False
    ) -> T:
        """Run ``work(tx)`` in a transaction, again (with jittered back-off) on TransientStoreError."""
        for attempt in range(1, attempts + 1):
            try:
                async with self.transaction(readonly=readonly) as tx:
                    return await work(tx)
            except TransientStoreError:
                if attempt == attempts:
                    raise
                await asyncio.sleep(random.uniform(0, 0.01 * 2**attempt))
        raise AssertionError("unreachable")

    async def migrate(self, revision: str = "head") -> None:
        """Bring the schema up to ``revision`` (Alembic; safe to call on every start)."""
        await upgrade_async(self.engine, revision)

    async def schema_revision(self) -> str | None:
        return await current_revision_async(self.engine)

    async def is_up_to_date(self) -> bool:
        return await self.schema_revision() == head_revision()

    async def hop_committer(self) -> HopCommit:
        """The fast path's hop commit (opened on first use): one grouped statement per hop on
        PostgreSQL (runtime/store/hopcommit.py), one short transaction per event-loop turn on
        SQLite (runtime/store/sqlitehops.py), which keeps this store's writer lock."""
        if self._committer is None:
            committer: HopCommit
            if self._sqlite_writer is not None:
                sqlite = SqliteHopCommitter(self.engine, self._sqlite_writer, memory=self._memory)
                await sqlite.open()
                committer = sqlite
            else:
                pg = HopCommitter(asyncpg_dsn(self.url), pool_size=max(2, self._pool_size // 2))
                await pg.open()
                committer = pg
            self._committer = committer
        return self._committer

    async def close(self) -> None:
        if self._committer is not None:
            committer, self._committer = self._committer, None
            await committer.close()
        await self.engine.dispose()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
