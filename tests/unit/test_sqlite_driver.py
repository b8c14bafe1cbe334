"""runtime/store/sqlitedriver.py: aiosqlite with one thread hand-off per statement.

What SQLAlchemy reads after a statement (rows, rowcount, lastrowid, errors) must be what
aiosqlite's own cursor gives; only the number of hand-offs to the connection's thread changes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from runtime.store import Store, sqlitedriver

items = sa.Table(
    "items",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String, unique=True),
)


class Counted:
    """Counts the calls handed to an aiosqlite connection's thread."""

    def __init__(self, aio: sqlitedriver.Connection) -> None:
        self.calls = 0
        self._execute = aio._execute
        aio._execute = self  # type: ignore[method-assign]

    async def __call__(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return await self._execute(fn, *args, **kwargs)


@pytest_asyncio.fixture(params=["memory", "file"])
async def conn(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[AsyncConnection, Counted]]:
    url = "sqlite://" if request.param == "memory" else f"sqlite:///{tmp_path / 'd.db'}"
    async with Store(url) as store, store.engine.connect() as connection:
        await connection.run_sync(items.metadata.create_all)
        await connection.commit()
        raw = await connection.get_raw_connection()
        aio = raw.driver_connection
        assert isinstance(aio, sqlitedriver.Connection)
        yield connection, Counted(aio)


async def test_one_hand_off_per_statement_and_the_same_results(conn: tuple[AsyncConnection, Counted]) -> None:
    c, counted = conn
    inserted = await c.execute(sa.insert(items).values(name="a"))
    assert inserted.inserted_primary_key == (1,)  # cursor.lastrowid
    assert counted.calls == 2  # BEGIN (autobegin) + the INSERT
    many = await c.execute(sa.insert(items), [{"name": n} for n in "bcdef"])
    assert many.rowcount == 5
    assert counted.calls == 3
    result = await c.execute(sa.select(items.c.id, items.c.name).order_by(items.c.id))
    assert counted.calls == 4  # execute and every fetch: one hand-off
    assert result.fetchone() == (1, "a")
    assert result.fetchmany(2) == [(2, "b"), (3, "c")]
    assert result.fetchall() == [(4, "d"), (5, "e"), (6, "f")]
    updated = await c.execute(sa.update(items).where(items.c.id > 4).values(name=items.c.name + "!"))
    assert updated.rowcount == 2
    assert (await c.execute(sa.select(items.c.name).where(items.c.id == 6))).scalar_one() == "f!"
    with pytest.raises(IntegrityError):
        await c.execute(sa.insert(items).values(name="a"))
    await c.rollback()
    assert (await c.execute(sa.select(sa.func.count()).select_from(items))).scalar_one() == 0


async def test_a_rollback_without_a_transaction_is_not_handed_over(
    conn: tuple[AsyncConnection, Counted],
) -> None:
    c, counted = conn
    raw = await c.get_raw_connection()
    aio = raw.driver_connection
    await c.execute(sa.insert(items).values(name="kept"))
    await c.commit()
    calls = counted.calls
    await aio.rollback()  # what the pool's reset does after a commit
    assert counted.calls == calls
    await c.execute(sa.insert(items).values(name="dropped"))
    calls = counted.calls
    await c.rollback()
    assert counted.calls == calls + 1, "an open transaction is rolled back on the thread"
    assert (await c.execute(sa.select(items.c.name))).scalars().all() == ["kept"]


async def test_the_cursor_api(tmp_path: Path) -> None:
    aio = await sqlitedriver.connect(str(tmp_path / "c.db"), isolation_level=None)
    try:
        async with aio.cursor() as cursor:
            await cursor.execute("CREATE TABLE t (x INTEGER)")
            await cursor.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(5)])
            assert cursor.rowcount == 5
            await cursor.execute("SELECT x FROM t ORDER BY x")
            assert cursor.description is not None and cursor.description[0][0] == "x"
            assert await cursor.fetchone() == (0,)
            cursor.arraysize = 2
            assert await cursor.fetchmany() == [(1,), (2,)]
            assert [row async for row in cursor] == [(3,), (4,)]
            assert await cursor.fetchone() is None
            await cursor.execute("INSERT INTO t VALUES (?)", (9,))
            assert (cursor.lastrowid, cursor.description, await cursor.fetchall()) == (6, None, [])
    finally:
        await aio.close()
