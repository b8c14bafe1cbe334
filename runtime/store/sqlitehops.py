"""The SQLite fast path: STANDARD hops committed in one short transaction per event-loop turn.

The same contract as :class:`runtime.store.hopcommit.HopCommitter` (PostgreSQL): a
:class:`HopWrite` in, a :class:`HopResult` out, and nothing written unless the execution is
RUNNING at the redrive count the worker interpreted against, none of the hop's enclosing
Parallel/Map joins has ended, and the hop's id is new. Then the hop's id goes into
``applied_messages``, the history counter moves, the events and outbox rows are inserted, and
the outbox rows already published are deleted; a Task's answer settles its token (which must
still be PENDING, part of the first condition) and a dispatched Task's PENDING token is
inserted.

What makes it cheap on SQLite is where the statements run. The store reaches SQLite through
aiosqlite, which runs every call on a thread of its own; through SQLAlchemy a statement costs
a hand-off to that thread plus SQLAlchemy's own work (some hundreds of µs on a busy machine),
and a hop transaction is seven or more of them. Here the whole batch — every hop submitted
during one event-loop turn — is one function run on that thread: ``BEGIN IMMEDIATE``, a
handful of statements on the sqlite3 connection (``executemany`` for the rows), ``COMMIT``.
One hand-off and one commit for the batch, whatever its size. Published outbox rows ride
along; if no hop is waiting, they get a batch of their own (at most one per loop turn: the
embedded runtime has no periodic relay to delete them later).

Concurrency follows the store's SQLite discipline (runtime/store/store.py): the batch holds the
store's in-process writer lock, so it never overlaps a :meth:`Store.transaction` of this
process (on an in-memory database, which has one shared connection, every use of the
connection holds it, reads included), and ``BEGIN IMMEDIATE`` takes the database write lock
up front, so what the batch reads cannot change before it writes (other processes wait in the
busy timeout). Under that lock, "read the execution rows, then write" is as safe as the
PostgreSQL statement's row lock.

A batch that fails (but for an ``OperationalError``) is committed again one hop per
transaction, so one bad hop cannot fail its neighbours. ``OperationalError`` (a locked
database, I/O) becomes :class:`TransientStoreError`: the engine retries the hops, as it does
for the transactional path. Do not call the committer inside a transaction of the same store:
it queues on the same writer lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

from runtime.store import tables as t
from runtime.store.errors import TransientStoreError
from runtime.store.hopcommit import ExecutionRow, HopResult, HopWrite, settle_future

log = logging.getLogger("statehop.store.sqlitehops")

T = TypeVar("T")

#: parameters per IN (...) list: far below SQLite's limit (32,766 since 3.32)
_CHUNK = 500

LOAD_EXECUTION = """
SELECT e.name, e.input, e.start_date, e.status, e.redrive_count, e.revision_id,
       sm.arn AS state_machine_arn, r.role_arn,
       CASE WHEN ? THEN r.definition END AS definition
FROM executions e
JOIN state_machines sm ON sm.id = e.state_machine_id
JOIN state_machine_revisions r ON r.revision_id = e.revision_id
WHERE e.arn = ?
"""

LOAD_TOKEN = """
SELECT t.token, e.arn AS execution_arn, t.state_name, t.branch_path, t.attempt, t.info, t.status,
       t.output, t.error, t.cause, t.creation_date, t.heartbeat_date, t.completion_date
FROM task_tokens t JOIN executions e ON e.id = t.execution_id
WHERE t.token = ?
"""

LOAD_ANSWER = """
SELECT t.status, t.info, t.state_name, t.branch_path, t.attempt,
       e.arn AS execution_arn, e.arn, e.type, e.trace_header, e.start_date, e.redrive_count,
       e.redrive_date, e.state_machine_version_arn, sm.arn AS state_machine_arn
FROM task_tokens t
JOIN executions e ON e.id = t.execution_id
JOIN state_machines sm ON sm.id = e.state_machine_id
WHERE t.token = ?
"""

_TOKEN_DATES = ("creation_date", "heartbeat_date", "completion_date")
_ANSWER_DATES = ("start_date", "redrive_date")

SETTLE_TOKEN = (
    "UPDATE task_tokens SET status = ?, output = ?, error = ?, cause = ?, completion_date = ? "
    "WHERE token = ? AND status = 'PENDING'"
)
ISSUE_TOKEN = (
    "INSERT INTO task_tokens (token, execution_id, state_name, branch_path, attempt, info, activity_arn, "
    "input, status, creation_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'PENDING', ?) ON CONFLICT DO NOTHING"
)
INSERT_APPLIED = "INSERT INTO applied_messages (message_id, applied_date) VALUES (?, ?)"
UPDATE_COUNT = "UPDATE executions SET event_count = ? WHERE id = ?"
INSERT_EVENT = (
    "INSERT INTO history_events (execution_id, event_id, previous_event_id, timestamp, type, details) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
INSERT_OUTBOX = (
    "INSERT INTO outbox (destination, routing_key, headers, body, message_id, creation_date) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)]


def _marks(n: int) -> str:
    return ",".join("?" * n)


class _Batch:
    """One transaction's work, run on the sqlite3 connection (on aiosqlite's thread)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.cur = db.cursor()
        self.statements = 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        self.statements += 1
        return self.cur.execute(sql, params)

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self.statements += 1
            self.cur.executemany(sql, rows)

    def transaction(self, work: Callable[[], T]) -> T:
        """``work()`` in one transaction; the cursor is closed here, on the connection's thread
        (never by a traceback that outlives the call on another thread)."""
        try:
            self.execute("BEGIN IMMEDIATE")
            try:
                result = work()
                self.execute("COMMIT")
            except BaseException:
                if self.cur.connection.in_transaction:
                    self.cur.execute("ROLLBACK")
                raise
            return result
        finally:
            self.cur.close()

    def delete_outbox(self, ids: Sequence[int]) -> None:
        for chunk in _chunks(ids):
            self.execute(f"DELETE FROM outbox WHERE id IN ({_marks(len(chunk))})", chunk)

    def apply(self, writes: Sequence[HopWrite], stamp: str, deleted: Sequence[int]) -> list[HopResult]:
        """The batch's hops in submission order (what the transactional path, serialised by
        the writer lock, would also do): checks first, then every row in a few statements."""
        arns = sorted({w.execution_arn for w in writes})
        executions: dict[str, list[Any]] = {}  # arn -> [id, status, redrive_count, event_count]
        for chunk in _chunks(arns):
            for row in self.execute(
                "SELECT arn, id, status, redrive_count, event_count FROM executions "
                f"WHERE arn IN ({_marks(len(chunk))})",
                chunk,
            ):
                executions[row[0]] = list(row[1:])
        ended: set[tuple[int, str]] = set()
        keys = sorted({k for w in writes for k in w.fork_keys if w.execution_arn in executions})
        if keys:
            ids = sorted(
                {
                    executions[w.execution_arn][0]
                    for w in writes
                    if w.fork_keys and w.execution_arn in executions
                }
            )
            for chunk in _chunks(keys):
                ended.update(
                    self.execute(
                        "SELECT execution_id, fork_key FROM forks WHERE status <> 'RUNNING' "
                        f"AND execution_id IN ({_marks(len(ids))}) AND fork_key IN ({_marks(len(chunk))})",
                        [*ids, *chunk],
                    ).fetchall()
                )
        pending: set[str] = set()  # answered tasks' tokens still PENDING
        settling = sorted({w.settle[0] for w in writes if w.settle is not None})
        for chunk in _chunks(settling):
            pending.update(
                r[0]
                for r in self.execute(
                    "SELECT token FROM task_tokens WHERE status = 'PENDING' "
                    f"AND token IN ({_marks(len(chunk))})",
                    chunk,
                )
            )
        running = [
            w
            for w in writes
            if (ex := executions.get(w.execution_arn)) is not None
            and ex[1] == "RUNNING"
            and ex[2] == w.redrive_count
            and not any((ex[0], k) in ended for k in w.fork_keys)
        ]
        applied: set[str] = set()
        candidates = sorted({w.message_id for w in running})
        for chunk in _chunks(candidates):
            applied.update(
                r[0]
                for r in self.execute(
                    f"SELECT message_id FROM applied_messages WHERE message_id IN ({_marks(len(chunk))})",
                    chunk,
                )
            )
        results: list[HopResult] = []
        new_ids: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        counts: dict[int, int] = {}
        outbox_of: list[int] = []  # index into writes of each outbox row
        outbox_rows: list[tuple[Any, ...]] = []
        running_ids = {id(w) for w in running}
        settled: list[tuple[Any, ...]] = []
        issued: list[tuple[Any, ...]] = []
        for index, write in enumerate(writes):
            # in order, as one statement after the other would see it: a token settled by an
            # earlier hop of the batch is no longer PENDING for a later one
            if id(write) not in running_ids or (write.settle is not None and write.settle[0] not in pending):
                results.append(HopResult(False, False, []))
                continue
            if write.message_id in applied:
                results.append(HopResult(True, False, []))
                continue
            applied.add(write.message_id)
            new_ids.append((write.message_id, stamp))
            ex = executions[write.execution_arn]
            if write.settle is not None:
                token, status, output, error, cause = write.settle
                pending.discard(token)
                settled.append((status, output, error, cause, stamp, token))
            for token, state_name, branch_path, attempt, info, activity_arn, input_ in write.issue:
                issued.append(
                    (token, ex[0], state_name, branch_path, attempt, info, activity_arn, input_, stamp)
                )
            base = ex[3]
            for n, (type_, details, previous) in enumerate(write.events, 1):
                event_id = base + n
                if previous is None:
                    previous = event_id - 1
                elif previous < 0:
                    previous = max(event_id + previous, 0)
                events.append((ex[0], event_id, previous, stamp, type_, details))
            if write.events:
                ex[3] = base + len(write.events)
                counts[ex[0]] = ex[3]
            for destination, routing_key, headers, body, message_id in write.outbox:
                outbox_of.append(index)
                outbox_rows.append((destination, routing_key, headers, body, message_id, stamp))
            results.append(HopResult(True, True, []))
        self.executemany(INSERT_APPLIED, new_ids)
        self.executemany(UPDATE_COUNT, [(count, execution_id) for execution_id, count in counts.items()])
        self.executemany(INSERT_EVENT, events)
        self.executemany(SETTLE_TOKEN, settled)
        self.executemany(ISSUE_TOKEN, issued)
        for index, row in zip(outbox_of, outbox_rows, strict=True):
            # one row at a time: lastrowid is the id, with no assumption on how SQLite numbers
            # the rows of a multi-row insert
            results[index].outbox_ids.append(int(self.execute(INSERT_OUTBOX, row).lastrowid or 0))
        self.delete_outbox(deleted)
        return results


class SqliteHopCommitter:
    """Group commit of fast-path hops on the store's SQLite database (see the module docstring)."""

    def __init__(
        self, engine: AsyncEngine, writer: asyncio.Lock, *, memory: bool, max_batch: int = 256
    ) -> None:
        self._engine = engine
        self._writer = writer
        self._memory = memory
        self._max_batch = max_batch
        self._pending: list[tuple[HopWrite, asyncio.Future[HopResult]]] = []
        self._running = False
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._published: list[int] = []
        self._raw: Any = None  # the pooled connection held (PoolProxiedConnection)
        self._aio: Any = None  # its aiosqlite connection
        self._acquiring = asyncio.Lock()
        # exactly how the store's SQLAlchemy types write and read timestamps on SQLite
        dialect = engine.dialect
        stamp = t.outbox.c.creation_date.type.dialect_impl(dialect).bind_processor(dialect)
        parse = t.executions.c.start_date.type.dialect_impl(dialect).result_processor(dialect, None)
        assert stamp is not None and parse is not None
        self._stamp: Callable[[datetime], str] = stamp
        self._parse_date: Callable[[Any], datetime | None] = parse
        self.batches = 0  # statistics for benchmarks and tests: transactions,
        self.statements = 0  # hops committed (one statement each on PostgreSQL),
        self.sql_statements = 0  # and SQL statements run, BEGIN and COMMIT included

    async def open(self) -> None:
        async with self._writer:
            await self._driver()

    async def close(self) -> None:
        while self._tasks or self._scheduled:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            else:
                await asyncio.sleep(0)
        with contextlib.suppress(Exception):
            await self.flush_published()
        if self._raw is not None:
            raw, self._raw, self._aio = self._raw, None, None
            async with self._writer:
                await greenlet_spawn(raw.close)  # back to the pool (SQLAlchemy's sync API)

    # ------------------------------------------------------------------ the connection

    async def _driver(self) -> Any:
        """The aiosqlite connection the committer works on: a connection of the store's pool
        held for the committer's life (on an in-memory database, the one connection there is,
        the same one every transaction uses)."""
        aio = self._aio
        if aio is not None and aio._connection is not None:
            return aio
        async with self._acquiring:  # first use, or the connection was closed
            if self._aio is None or self._aio._connection is None:
                if self._raw is not None:
                    with contextlib.suppress(Exception):
                        await greenlet_spawn(self._raw.invalidate)
                self._raw = await self._engine.raw_connection()
                self._aio = self._raw.driver_connection
            return self._aio

    async def _run(self, *, write: bool, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work(sqlite3_connection)`` on the connection's aiosqlite thread: one hand-off.
        (aiosqlite has no public call for it; SQLAlchemy's adapter queues on the same thread.)

        Under the store's writer lock for writes, and for reads too on an in-memory database,
        whose one connection every transaction of the store shares."""
        guard: contextlib.AbstractAsyncContextManager[Any] = contextlib.nullcontext()
        if write or self._memory:
            guard = self._writer
        async with guard:
            aio = await self._driver()
            try:
                return await aio._execute(lambda: work(aio._conn))  # type: ignore[no-any-return]
            except sqlite3.OperationalError as exc:
                raise TransientStoreError(f"retry the hop: {exc}") from exc

    # ------------------------------------------------------------------ hops

    def published(self, ids: Sequence[int]) -> None:
        """Outbox rows whose messages are out: deleted with the next batch, which is started
        for them alone if no hop is waiting (one small transaction per event-loop turn, not
        one per hop)."""
        if not ids:
            return
        self._published.extend(ids)
        self._schedule()

    async def apply(self, write: HopWrite) -> HopResult:
        """Commit one hop (batched with the others of this loop turn)."""
        future: asyncio.Future[HopResult] = asyncio.get_running_loop().create_future()
        self._pending.append((write, future))
        self._schedule()
        return await future

    def _schedule(self) -> None:
        if not self._scheduled and not self._running:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._start_batch)

    def _start_batch(self) -> None:
        self._scheduled = False
        if self._running or not (self._pending or self._published):
            return
        batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
        self._running = True
        task = asyncio.get_running_loop().create_task(self._commit(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _commit(self, batch: list[tuple[HopWrite, asyncio.Future[HopResult]]]) -> None:
        deleted, self._published = self._published, []
        writes = [w for w, _ in batch]
        stamp = self._stamp(datetime.now(UTC))
        committed = False
        try:
            try:
                results, statements = await self._run(
                    write=True, work=lambda db: _commit_batch(db, writes, stamp, deleted)
                )
            except Exception as exc:
                self._published.extend(deleted)
                if len(batch) > 1 and not isinstance(exc, TransientStoreError):
                    log.warning("a batch of %d hops failed (%s); committing them one by one", len(batch), exc)
                    await self._one_by_one(batch, stamp)
                    return
                for _, future in batch:
                    settle_future(future, exc=exc)
                return
            except BaseException as exc:  # cancelled: the hops are not known to be committed
                self._published.extend(deleted)
                for _, future in batch:
                    settle_future(future, exc=exc)
                raise
            committed = True
            self.batches += 1
            self.statements += len(batch)
            self.sql_statements += statements
            for (_, future), result in zip(batch, results, strict=True):
                settle_future(future, result)
        finally:
            self._running = False
            # published rows whose delete just failed wait for the next hop (no retry loop)
            if self._pending or (committed and self._published):
                self._schedule()

    async def _one_by_one(self, batch: list[tuple[HopWrite, asyncio.Future[HopResult]]], stamp: str) -> None:
        def work(db: sqlite3.Connection) -> list[tuple[HopResult | Exception, int]]:
            out: list[tuple[HopResult | Exception, int]] = []
            for write, _ in batch:
                try:
                    results, statements = _commit_batch(db, [write], stamp, [])
                except sqlite3.OperationalError as exc:
                    out.append((TransientStoreError(f"retry the hop: {exc}"), 0))
                except Exception as exc:
                    out.append((exc, 0))
                else:
                    out.append((results[0], statements))
            return out

        try:
            outcomes = await self._run(write=True, work=work)
        except BaseException as exc:
            for _, future in batch:
                settle_future(future, exc=exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), (outcome, statements) in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Exception):
                settle_future(future, exc=outcome)
                continue
            self.batches += 1
            self.statements += 1
            self.sql_statements += statements
            settle_future(future, outcome)

    async def flush_published(self) -> int:
        """Delete the published outbox rows no batch has taken along yet."""
        if not self._published:
            return 0
        ids, self._published = self._published, []

        def work(db: sqlite3.Connection) -> int:
            batch = _Batch(db)
            batch.transaction(lambda: batch.delete_outbox(ids))
            return batch.statements

        try:
            self.sql_statements += await self._run(write=True, work=work)
        except BaseException:
            self._published.extend(ids)
            raise
        self.batches += 1
        return len(ids)

    # ------------------------------------------------------------------ reads

    async def load_execution(self, arn: str, *, with_definition: bool) -> ExecutionRow | None:
        """The execution's cacheable facts (and its definition if asked) in one query."""

        def work(db: sqlite3.Connection) -> tuple[Any, ...] | None:
            cursor = db.cursor()
            try:
                row: tuple[Any, ...] | None = cursor.execute(
                    LOAD_EXECUTION, (with_definition, arn)
                ).fetchone()
                return row
            finally:
                cursor.close()

        row = await self._run(write=False, work=work)
        self.sql_statements += 1
        if row is None:
            return None
        name, input_, start, status, redrive_count, revision_id, sm_arn, role_arn, definition = row
        start_date = self._parse_date(start)
        assert start_date is not None
        return ExecutionRow(
            name=name,
            input=input_,
            start_date=start_date,
            status=status,
            redrive_count=redrive_count,
            revision_id=revision_id,
            state_machine_arn=sm_arn,
            role_arn=role_arn,
            definition=definition,
        )

    async def _read_one(self, sql: str, *params: Any) -> dict[str, Any] | None:
        def work(db: sqlite3.Connection) -> dict[str, Any] | None:
            cursor = db.cursor()
            try:
                row = cursor.execute(sql, params).fetchone()
                return (
                    None if row is None else dict(zip([d[0] for d in cursor.description], row, strict=True))
                )
            finally:
                cursor.close()

        row = await self._run(write=False, work=work)
        self.sql_statements += 1
        return row

    async def load_token(self, token: str) -> dict[str, Any] | None:
        """A task token's row (the fields of ``records.TaskToken``) in one query."""
        row = await self._read_one(LOAD_TOKEN, token)
        return None if row is None else _dates(row, _TOKEN_DATES, self._parse_date)

    async def load_answer(self, token: str) -> SimpleNamespace | None:
        """What answering a task needs (its token and its execution's identity) in one query;
        attribute access like the store's TaskToken and Execution records."""
        row = await self._read_one(LOAD_ANSWER, token)
        return None if row is None else SimpleNamespace(**_dates(row, _ANSWER_DATES, self._parse_date))


def _dates(row: dict[str, Any], names: Sequence[str], parse: Callable[[Any], Any]) -> dict[str, Any]:
    for name in names:
        row[name] = parse(row[name])
    return row


def _commit_batch(
    db: sqlite3.Connection, writes: Sequence[HopWrite], stamp: str, deleted: Sequence[int]
) -> tuple[list[HopResult], int]:
    batch = _Batch(db)
    results = batch.transaction(lambda: batch.apply(writes, stamp, deleted))
    return results, batch.statements
