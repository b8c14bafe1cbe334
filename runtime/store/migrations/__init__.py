"""Schema migrations of the store, runnable from code without an alembic.ini on disk.

``await upgrade_async(url_or_engine)`` from async code (``Store.migrate`` uses it), or
``upgrade(url)`` from sync code (a CLI, a test setup): it runs its own event loop, in a
worker thread when the caller already has one running. The version table is
``statehop_alembic_version`` so the store can share a database with another Alembic user.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from runtime.store.engine import create_engine

SCRIPT_LOCATION = str(Path(__file__).resolve().parent)
VERSION_TABLE = "statehop_alembic_version"


def alembic_config(url: str | URL | None = None) -> Config:
    """An in-memory Alembic config pointing at these migrations (and ``url``, if given)."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if url is not None:
        text = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
        config.set_main_option("sqlalchemy.url", text.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def _with_engine(target: str | URL | AsyncEngine, fn: Any, *args: Any) -> Any:
    engine = target if isinstance(target, AsyncEngine) else create_engine(target)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(fn, *args)
    finally:
        if engine is not target:
            await engine.dispose()


#: pg_advisory_xact_lock key: replicas that start together migrate one after the other
#: (the others then find the schema current) instead of racing on CREATE TABLE.
_MIGRATION_LOCK = 0x5354_4850_4D49_4752  # "STHPMIGR"


def _upgrade(connection: Connection, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _downgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


def _current(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


async def upgrade_async(target: str | URL | AsyncEngine, revision: str = "head") -> None:
    """Migrate the database at ``target`` (a URL or an engine) up to ``revision``, in one transaction."""
    await _with_engine(target, _upgrade, revision)


async def downgrade_async(target: str | URL | AsyncEngine, revision: str = "base") -> None:
    await _with_engine(target, _downgrade, revision)


async def current_revision_async(target: str | URL | AsyncEngine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    result: str | None = await _with_engine(target, _current)
    return result


def _run_sync(coro_fn: Any, *args: Any) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro_fn(*args))
    box: dict[str, Any] = {}

    def worker() -> None:
        try:
            box["result"] = asyncio.run(coro_fn(*args))
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=worker, name="statehop-migrate")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("result")


def upgrade(url: str | URL, revision: str = "head") -> None:
    """Sync entry point: migrate the database at ``url`` up to ``revision``."""
    _run_sync(upgrade_async, url, revision)


def downgrade(url: str | URL, revision: str = "base") -> None:
    _run_sync(downgrade_async, url, revision)


def current_revision(url: str | URL) -> str | None:
    result: str | None = _run_sync(current_revision_async, url)
    return result
