"""Alembic environment of the store.

``upgrade()`` hands a live connection in ``config.attributes["connection"]``, so no
alembic.ini and no second engine are needed. Run from the alembic CLI instead, it reads
``sqlalchemy.url`` (or ``STATEHOP_DATABASE_URL``) and opens its own async engine.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

from runtime.store.engine import create_engine
from runtime.store.migrations import VERSION_TABLE
from runtime.store.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get("STATEHOP_DATABASE_URL")
    if not url:
        raise RuntimeError("set sqlalchemy.url or STATEHOP_DATABASE_URL to run store migrations")
    return url


def run_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(_url())
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run)
    finally:
        await engine.dispose()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    run_offline()
else:
    run_online()
