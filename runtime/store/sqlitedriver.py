"""aiosqlite with one thread hand-off per statement, for the store's SQLite engines.

aiosqlite runs every sqlite3 call on a thread of its own and hands each one over and back
(a queue put, a thread wake-up, a ``call_soon_threadsafe``). SQLAlchemy's adapter makes three
or four such calls per statement — create a cursor, execute, fetch the rows, close the
cursor — and on a busy machine each hand-off costs more than the statement itself.

:class:`Connection` is aiosqlite's connection with one change: its cursors run
execute + fetch-all + close as ONE call on the thread, and keep what SQLAlchemy reads
afterwards (``description``, ``rowcount``, ``lastrowid``, the rows); and a rollback with no
transaction open (the pool's reset of every connection it takes back) is not handed over at
all. Same SQL, same sqlite3 calls in the same order on the same thread, so nothing changes but
the number of hand-offs (measured in docs/performance.md, "Embedded (SQLite) hops").
SQLAlchemy fetches every row of a non-streaming result at once anyway; no sqlite3 cursor ever
leaves the connection's thread.

It is plugged in with ``create_async_engine(..., async_creator=...)`` by
:func:`runtime.store.engine.create_engine`, with the connection arguments SQLAlchemy derives
from the URL.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

_Description = tuple[tuple[str, None, None, None, None, None, None], ...] | None


class Cursor:
    """What SQLAlchemy's aiosqlite adapter uses of ``aiosqlite.Cursor``, one hand-off per
    execute; fetching serves the rows the execute brought back."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._rows: deque[Any] = deque()
        self.description: _Description = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _run(self, many: bool, sql: str, parameters: Any) -> Cursor:
        db = self._conn

        def work() -> tuple[_Description, int, int | None, list[Any]]:
            cursor = db._conn.cursor()
            try:
                if many:
                    cursor.executemany(sql, parameters)
                else:
                    cursor.execute(sql, parameters)
                rows = cursor.fetchall() if cursor.description else []
                return cursor.description, cursor.rowcount, cursor.lastrowid, rows
            finally:
                cursor.close()

        self.description, self.rowcount, self.lastrowid, rows = await db._execute(work)  # type: ignore[no-untyped-call]
        self._rows = deque(rows)
        return self

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> Cursor:
        return await self._run(False, sql, [] if parameters is None else parameters)

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> Cursor:
        return await self._run(True, sql, parameters)

    async def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        n = self.arraysize if size is None else size
        return [self._rows.popleft() for _ in range(min(n, len(self._rows)))]

    async def fetchall(self) -> Sequence[Any]:
        rows, self._rows = list(self._rows), deque()
        return rows

    async def close(self) -> None:
        self._rows.clear()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        while self._rows:
            yield self._rows.popleft()


class Connection(aiosqlite.Connection):
    """``aiosqlite.Connection`` whose cursors take one hand-off per statement."""

    def cursor(self) -> Cursor:  # type: ignore[override]
        return Cursor(self)

    async def rollback(self) -> None:
        """As aiosqlite's, without the hand-off when there is no transaction to roll back
        (sqlite3's ``rollback()`` does nothing then): SQLAlchemy's pool "resets" every
        connection it takes back, also after a commit."""
        connection = self._connection
        if connection is not None and not connection.in_transaction:
            return
        await super().rollback()


def connect(database: str | bytes | Path, *, iter_chunk_size: int = 64, **kwargs: Any) -> Connection:
    """``aiosqlite.connect`` returning a :class:`Connection` (await it to open it)."""

    def connector() -> sqlite3.Connection:
        location = database.decode() if isinstance(database, bytes) else str(database)
        db: sqlite3.Connection = sqlite3.connect(location, **kwargs)
        return db

    connection: Connection = Connection(connector, iter_chunk_size)
    connection._thread.daemon = True  # as SQLAlchemy sets it for aiosqlite's own connections
    return connection
