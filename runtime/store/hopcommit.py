"""The PostgreSQL fast path: a whole STANDARD hop committed in one statement, many per round trip.

A hop that needs nothing from the store but "is this execution still running, and is this
hop new?" (Pass, Choice, Wait, a Retry or Wait resuming, ... inside or outside a branch) does
not need a transaction of many statements. :data:`APPLY_HOP` does it all at once, as one
autocommitted statement:

1. lock the execution row if it is RUNNING at the redrive count the worker interpreted
   against, and none of the hop's enclosing Parallel/Map joins has ended;
2. record the hop's deterministic id in ``applied_messages`` (a redelivery inserts nothing);
3. bump the history counter and insert the hop's events with ids relative to it;
4. insert the outbox rows of what the hop emits, returning their ids;
5. delete the outbox rows of hops already published (piggybacked; no round trip of its own);
6. a Task dispatched: insert its PENDING token; a Task answered: settle its token, which
   must still be PENDING (condition of 1).

Nothing is written unless 1 and 2 hold, and the caller learns which one failed: not running →
the engine's transactional path decides (drop it, note a redrive point); not new → duplicate.

:class:`HopCommitter` groups the statements submitted during one event-loop turn into one
``fetchmany`` (one round trip, one transaction, one WAL flush) sorted by execution ARN, so two
batches lock execution rows in the same order and cannot deadlock each other. A batch that
fails on a server error is retried one statement at a time, so one bad hop cannot fail its
neighbours.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, Protocol

import asyncpg
from sqlalchemy.engine import URL

log = logging.getLogger("statehop.store.hopcommit")

_APPLY = """
WITH ex AS (
    SELECT e.id FROM executions e
    WHERE e.arn = $1 AND e.status = 'RUNNING' AND e.redrive_count = $2
      AND NOT EXISTS (
          SELECT 1 FROM forks f
          WHERE f.execution_id = e.id AND f.fork_key = ANY($3::text[]) AND f.status <> 'RUNNING'
      )
      {token_condition}
    FOR UPDATE OF e
), ap AS (
    INSERT INTO applied_messages (message_id, applied_date)
    SELECT $4, $5 FROM ex
    ON CONFLICT DO NOTHING
    RETURNING 1
), up AS (
    UPDATE executions SET event_count = event_count + cardinality($6::text[])
    WHERE id = (SELECT id FROM ex) AND EXISTS (SELECT 1 FROM ap) AND cardinality($6::text[]) > 0
    RETURNING id, event_count - cardinality($6::text[]) AS base
), evs AS (
    INSERT INTO history_events (execution_id, event_id, previous_event_id, timestamp, type, details)
    SELECT up.id, up.base + e.n,
           CASE WHEN e.prev IS NULL THEN up.base + e.n - 1
                WHEN e.prev < 0 THEN GREATEST(up.base + e.n + e.prev, 0)
                ELSE e.prev END,
           $5, e.type, e.details
    FROM up, unnest($6::text[], $7::text[], $8::int[]) WITH ORDINALITY AS e(type, details, prev, n)
), ob AS (
    INSERT INTO outbox (destination, routing_key, headers, body, message_id, creation_date)
    SELECT o.destination, o.routing_key, o.headers, o.body, o.message_id, $5
    FROM ap, unnest($9::text[], $10::text[], $11::text[], $12::bytea[], $13::text[])
         AS o(destination, routing_key, headers, body, message_id)
    RETURNING id
), gone AS (
    DELETE FROM outbox WHERE id = ANY($14::bigint[])
){token_ctes}
SELECT EXISTS (SELECT 1 FROM ex) AS running,
       EXISTS (SELECT 1 FROM ap) AS applied,
       ARRAY(SELECT id FROM ob) AS outbox_ids
"""

#: Most hops: the statement without the task-token parts (measurably cheaper per hop).
APPLY_HOP = _APPLY.format(token_condition="", token_ctes="")

#: A Task dispatched or answered: the answered token must still be PENDING, and is settled; a
#: dispatched Task's token is inserted.
APPLY_TASK_HOP = _APPLY.format(
    token_condition="""AND ($15::text IS NULL OR EXISTS (
          SELECT 1 FROM task_tokens t WHERE t.token = $15 AND t.status = 'PENDING'
      ))""",
    token_ctes=""", settled AS (
    UPDATE task_tokens SET status = $16, output = $17, error = $18, cause = $19, completion_date = $5
    WHERE token = $15 AND status = 'PENDING' AND EXISTS (SELECT 1 FROM ap)
), issued AS (
    INSERT INTO task_tokens (token, execution_id, state_name, branch_path, attempt, info,
                             activity_arn, input, status, creation_date)
    SELECT t.token, ex.id, t.state_name, t.branch_path, t.attempt, t.info, t.activity_arn, t.input,
           'PENDING', $5
    FROM ex, ap, unnest($20::text[], $21::text[], $22::text[], $23::int[], $24::text[], $25::text[],
                        $26::text[]) AS t(token, state_name, branch_path, attempt, info, activity_arn, input)
    ON CONFLICT DO NOTHING
)""",
)

DELETE_OUTBOX = "DELETE FROM outbox WHERE id = ANY($1::bigint[])"

LOAD_TOKEN = """
SELECT t.token, e.arn AS execution_arn, t.state_name, t.branch_path, t.attempt, t.info, t.status,
       t.output, t.error, t.cause, t.creation_date, t.heartbeat_date, t.completion_date
FROM task_tokens t JOIN executions e ON e.id = t.execution_id
WHERE t.token = $1
"""

LOAD_ANSWER = """
SELECT t.status, t.info, t.state_name, t.branch_path, t.attempt,
       e.arn AS execution_arn, e.arn, e.type, e.trace_header, e.start_date, e.redrive_count,
       e.redrive_date, e.state_machine_version_arn, sm.arn AS state_machine_arn
FROM task_tokens t
JOIN executions e ON e.id = t.execution_id
JOIN state_machines sm ON sm.id = e.state_machine_id
WHERE t.token = $1
"""

LOAD_EXECUTION = """
SELECT e.name, e.input, e.start_date, e.status, e.redrive_count, e.revision_id,
       sm.arn AS state_machine_arn, r.role_arn,
       CASE WHEN $2 THEN r.definition END AS definition
FROM executions e
JOIN state_machines sm ON sm.id = e.state_machine_id
JOIN state_machine_revisions r ON r.revision_id = e.revision_id
WHERE e.arn = $1
"""


@dataclass(frozen=True, slots=True)
class HopWrite:
    """What one hop writes: its identity, the joins it runs under, its events and messages."""

    execution_arn: str
    redrive_count: int
    fork_keys: Sequence[str]
    message_id: str
    events: Sequence[tuple[str, str | None, int | None]]  # (type, details JSON, previous id)
    outbox: Sequence[tuple[str, str, str, bytes, str | None]]  # (destination, key, headers, body, id)
    #: a Task's answer: the token must still be PENDING, and is settled with this hop
    #: (token, status, output, error, cause)
    settle: tuple[str, str, str | None, str | None, str | None] | None = None
    #: a Task dispatched: its PENDING token (token, state, branch, attempt, info, activity, input)
    issue: Sequence[tuple[str, str, str, int, str | None, str | None, str | None]] = ()


@dataclass(frozen=True, slots=True)
class HopResult:
    running: bool  # False: ended, redriven since, or a join above it ended; nothing written
    applied: bool  # False: a redelivery; nothing written
    outbox_ids: list[int]


@dataclass(frozen=True, slots=True)
class ExecutionRow:
    """What the engine caches about an execution, read in one query."""

    name: str
    input: str
    start_date: datetime
    status: str
    redrive_count: int
    revision_id: str
    state_machine_arn: str
    role_arn: str
    definition: str | None


class HopCommit(Protocol):
    """What the engine's fast path needs from a store: :class:`HopCommitter` on PostgreSQL,
    :class:`runtime.store.sqlitehops.SqliteHopCommitter` on SQLite."""

    batches: int  # transactions committed
    statements: int  # hops committed

    async def apply(self, write: HopWrite) -> HopResult: ...

    def published(self, ids: Sequence[int]) -> None: ...

    async def flush_published(self) -> int: ...

    async def load_execution(self, arn: str, *, with_definition: bool) -> ExecutionRow | None: ...

    async def load_token(self, token: str) -> dict[str, Any] | None: ...

    async def load_answer(self, token: str) -> SimpleNamespace | None: ...

    async def close(self) -> None: ...


def asyncpg_dsn(url: URL) -> str:
    """The SQLAlchemy URL as a libpq DSN asyncpg accepts."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class HopCommitter:
    """Group commit of fast-path hops on a small asyncpg pool of its own."""

    def __init__(self, dsn: str, *, pool_size: int = 4, max_batch: int = 64, in_flight: int = 1) -> None:
        """``in_flight``: batches committing at once. One is best measured (bench/README.md):
        the hops arriving while a batch commits form the next, larger batch; the first hop of
        an idle worker still goes at once."""
        self._dsn = dsn
        self._pool_size = pool_size
        self._max_batch = max_batch
        self._in_flight = in_flight
        self._pool: asyncpg.Pool | None = None
        self._pending: list[tuple[HopWrite, asyncio.Future[HopResult]]] = []
        self._running = 0
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._published: list[int] = []
        self.batches = 0  # statistics for benchmarks and tests
        self.statements = 0

    async def open(self) -> None:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=1,
                max_size=self._pool_size,
                command_timeout=60,
                # Every lookup in APPLY_HOP is by a unique key, so the generic plan is the best
                # one; left to choose, PostgreSQL re-plans the CTE per call (measured: ~3.5x
                # the server CPU per hop, bench/README.md).
                server_settings={
                    "plan_cache_mode": "force_generic_plan",
                    "application_name": "statehop-hops",
                },
            )

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.flush_published()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    # ------------------------------------------------------------------ hops

    def published(self, ids: Sequence[int]) -> None:
        """Outbox rows whose messages are out: deleted with the next batch (or by a flush)."""
        self._published.extend(ids)

    async def apply(self, write: HopWrite) -> HopResult:
        """Commit one hop (batched with the others of this loop turn)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[HopResult] = loop.create_future()
        self._pending.append((write, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._start_batches)
        return await future

    def _start_batches(self) -> None:
        self._scheduled = False
        while self._pending and self._running < self._in_flight:
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            self._running += 1
            task = asyncio.get_running_loop().create_task(self._commit(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _commit(self, batch: list[tuple[HopWrite, asyncio.Future[HopResult]]]) -> None:
        try:
            plain = [item for item in batch if not _is_task(item[0])]
            tasks = [item for item in batch if _is_task(item[0])]
            for group in (plain, tasks):  # one statement each: a fetchmany runs one statement
                if group:
                    try:
                        await self._commit_group(group)
                    except BaseException as exc:  # cancelled: nobody may wait forever
                        for _, future in batch:
                            settle_future(future, exc=exc)
                        raise
        finally:
            self._running -= 1
            if self._pending and not self._scheduled:
                self._scheduled = True
                asyncio.get_running_loop().call_soon(self._start_batches)

    async def _commit_group(self, batch: list[tuple[HopWrite, asyncio.Future[HopResult]]]) -> None:
        batch.sort(key=lambda item: (item[0].execution_arn, item[0].message_id))
        stamp = datetime.now(UTC)
        deleted, self._published = self._published, []
        args = [_args(w, stamp, deleted if i == 0 else []) for i, (w, _) in enumerate(batch)]
        try:
            assert self._pool is not None, "HopCommitter.open() was not called"
            async with self._pool.acquire() as conn:
                rows = await conn.fetchmany(_statement(batch[0][0]), args)
        except asyncpg.PostgresError as exc:
            if len(batch) == 1:
                self._published.extend(deleted)
                settle_future(batch[0][1], exc=exc)
                return
            log.warning("a batch of %d hops failed (%s); committing them one by one", len(batch), exc)
            self._published.extend(deleted)
            await self._one_by_one(batch, stamp)
            return
        except BaseException as exc:
            self._published.extend(deleted)
            for _, future in batch:
                settle_future(future, exc=exc)
            if not isinstance(exc, Exception):
                raise
            return
        self.batches += 1
        self.statements += len(batch)
        for (_, future), row in zip(batch, rows, strict=True):
            settle_future(future, HopResult(row["running"], row["applied"], list(row["outbox_ids"])))

    async def _one_by_one(
        self, batch: list[tuple[HopWrite, asyncio.Future[HopResult]]], stamp: datetime
    ) -> None:
        assert self._pool is not None
        async with self._pool.acquire() as conn:
            for write, future in batch:
                try:
                    row = await conn.fetchrow(_statement(write), *_args(write, stamp, []))
                except Exception as exc:
                    settle_future(future, exc=exc)
                    continue
                assert row is not None
                settle_future(future, HopResult(row["running"], row["applied"], list(row["outbox_ids"])))

    async def flush_published(self) -> int:
        """Delete the published outbox rows no batch has taken along (an idle worker)."""
        if not self._published or self._pool is None:
            return 0
        ids, self._published = self._published, []
        try:
            async with self._pool.acquire() as conn:
                await conn.execute(DELETE_OUTBOX, ids)
        except BaseException:
            self._published.extend(ids)
            raise
        return len(ids)

    # ------------------------------------------------------------------ reads

    async def load_token(self, token: str) -> dict[str, Any] | None:
        """A task token's row (the fields of ``records.TaskToken``) in one query."""
        assert self._pool is not None, "HopCommitter.open() was not called"
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(LOAD_TOKEN, token)
        return None if row is None else dict(row)

    async def load_answer(self, token: str) -> SimpleNamespace | None:
        """What answering a task needs (its token and its execution's identity) in one query;
        attribute access like the store's TaskToken and Execution records."""
        assert self._pool is not None, "HopCommitter.open() was not called"
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(LOAD_ANSWER, token)
        return None if row is None else SimpleNamespace(**dict(row))

    async def load_execution(self, arn: str, *, with_definition: bool) -> ExecutionRow | None:
        """The execution's cacheable facts (and its definition if asked) in one query."""
        assert self._pool is not None, "HopCommitter.open() was not called"
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(LOAD_EXECUTION, arn, with_definition)
        if row is None:
            return None
        return ExecutionRow(**dict(row))


def _is_task(write: HopWrite) -> bool:
    return write.settle is not None or bool(write.issue)


def _statement(write: HopWrite) -> str:
    return APPLY_TASK_HOP if _is_task(write) else APPLY_HOP


def _args(write: HopWrite, stamp: datetime, deleted: list[int]) -> tuple[Any, ...]:
    events = write.events
    outbox = write.outbox
    plain = (
        write.execution_arn,
        write.redrive_count,
        list(write.fork_keys),
        write.message_id,
        stamp,
        [e[0] for e in events],
        [e[1] for e in events],
        [e[2] for e in events],
        [o[0] for o in outbox],
        [o[1] for o in outbox],
        [o[2] for o in outbox],
        [o[3] for o in outbox],
        [o[4] for o in outbox],
        deleted,
    )
    if not _is_task(write):
        return plain
    settle = write.settle or (None, None, None, None, None)
    return (*plain, *settle, *([t[i] for t in write.issue] for i in range(7)))


def settle_future(
    future: asyncio.Future[HopResult], result: HopResult | None = None, *, exc: BaseException | None = None
) -> None:
    """Hand a waiting ``apply`` its result or error, unless it already has one."""
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        assert result is not None
        future.set_result(result)
