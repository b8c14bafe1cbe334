"""The engine: consumes hops, runs the pure interpreter, and turns outcomes into effects.

Any replica takes any hop: everything a hop needs is in its headers, its body and the store.
For a STANDARD execution a hop's effects (history events, next hops, task messages, timers)
are written in one store transaction together with the hop's deterministic message id; they
are published only after that commit, and the hop is acked last. A redelivered hop finds its
id already applied and is dropped, so each transition happens exactly once. EXPRESS hops skip
the per-transition writes (at-least-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
from sqlalchemy import exc as sa_exc

from runtime import taskwire, telemetry
from runtime.asl import interpreter
from runtime.asl.errors import StatesError, StatesNames
from runtime.asl.model import Machine, State, TaskState, parse_machine
from runtime.asl.outcomes import Delay, Dispatch, Fail, Fork, Next, Outcome, Retry, Succeed, Variables
from runtime.engine import events as ev
from runtime.engine.clock import Clock
from runtime.engine.context import ExecutionInfo, build_context
from runtime.engine.resources import SYNC, SYNC2, WAIT_FOR_TASK_TOKEN, ResourceMap, Target
from runtime.engine.step import TO_EVENT, TO_QUEUE, TO_TIMER, Outgoing, Step
from runtime.engine.timers import Timers
from runtime.hop import EXPRESS, STANDARD, Hop, HopDecodeError
from runtime.store import Store
from runtime.store.errors import ExecutionNotRedrivable, StoreError, TransientStoreError
from runtime.store.hopcommit import HopCommit, HopWrite
from runtime.store.records import ExecutionStatus, ForkItem, TaskToken, TaskTokenStatus
from runtime.transport.base import Delivery, Topology, Transport, TransportError, UnroutableError

log = logging.getLogger("statehop.engine")

#: Built-in integrations (http:invoke, sqs:sendMessage, ...) run as a service on this queue.
BUILTIN_SERVICE = "statehop-builtin"
START_EXECUTION = "states:startExecution"
#: Top-level hop seqs of redrive n start at n * GENERATION, so hops of an earlier run are
#: recognised (and dropped) after a redrive.
GENERATION = 1_000_000_000
CALLBACK_HEADER = "x-sh-callback"  # set on replies that come from SendTask* (not the service's own answer)


#: SQLSTATE classes/codes a retry can get past: connection exceptions (08), insufficient
#: resources such as too many connections (53), operator shutdown/restart (57P01-57P03),
#: serialization failure and deadlock (40001, 40P01).
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "53", "57P01", "57P02", "57P03", "40001", "40P01")


def is_transient(exc: BaseException) -> bool:
    """Errors of timing or connectivity that a later retry of the same hop can get past:
    a deadlock or serialization failure, a lost database or broker connection, a server
    at its connection limit, a pool timeout. Anything else is a bug or bad data and must not
    be retried forever."""
    if isinstance(exc, TransientStoreError | TransportError | ConnectionError | TimeoutError | OSError):
        return True
    if isinstance(exc, asyncpg.InterfaceError | asyncpg.PostgresConnectionError):  # the fast path's driver
        return True
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(_TRANSIENT_SQLSTATE_PREFIXES):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(
            getattr(exc.orig, "__cause__", None), "sqlstate", None
        )
        if isinstance(sqlstate, str) and sqlstate.startswith(_TRANSIENT_SQLSTATE_PREFIXES):
            return True
    return isinstance(
        exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError | sa_exc.DisconnectionError
    )


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


#: Hop kinds a quick path may take: they need the store only if their state does.
_QUICK_KINDS = frozenset({"enter", "retry", "resume", "complete"})


class NeedsStore(Exception):
    """Raised by :class:`QuickTx` when interpreting a hop turns out to need the store."""


class QuickTx:
    """The ``tx`` of a quick path. It records the writes the one-statement commit can make (a
    dispatched Task's token; an answered Task's settlement) and serves the one read it can
    answer (the answered token, read beforehand); any other use raises :class:`NeedsStore`
    and the hop takes a real transaction instead."""

    def __init__(self, token: TaskToken | None = None) -> None:
        self.token = token
        self.issued: list[tuple[str, str, str, int, str | None, str | None, str | None]] = []
        self.settled: tuple[str, str, str | None, str | None, str | None] | None = None

    def __getattr__(self, name: str) -> Any:
        raise NeedsStore(name)

    @property
    def wrote(self) -> bool:
        return bool(self.issued) or self.settled is not None

    async def create_task_token(
        self,
        execution_arn: str,
        state_name: str,
        *,
        branch_path: str = "",
        attempt: int = 0,
        info: str | None = None,
        token: str | None = None,
        activity_arn: str | None = None,
        input: str | None = None,
    ) -> str:
        if token is None:
            raise NeedsStore("create_task_token without a token")
        self.issued.append((token, state_name, branch_path, attempt, _details(info), activity_arn, input))
        return token

    async def get_task_token(self, token: str) -> TaskToken:
        if self.token is None or token != self.token.token:
            raise NeedsStore("get_task_token")
        return self.token

    async def complete_task_token(
        self,
        token: str,
        status: TaskTokenStatus,
        *,
        output: str | None = None,
        error: str | None = None,
        cause: str | None = None,
    ) -> bool:
        if self.token is None or token != self.token.token or self.settled is not None:
            raise NeedsStore("complete_task_token")
        self.settled = (token, TaskTokenStatus(status).value, output, error, cause)
        return True


def _details(details: Any) -> str | None:
    return details if details is None or isinstance(details, str) else _json(details)


def _outbox_args(out: Outgoing) -> tuple[str, str, str, bytes, str | None]:
    row = out.to_outbox()
    return row.destination, row.routing_key, _json(dict(row.headers or {})), bytes(row.body), row.message_id


def _split_branch(branch: str) -> tuple[str, int]:
    """``"P~3/0/M~7/3"`` -> (the join's key ``"P~3/0/M~7"``, the child's index 3)."""
    key, _, index = branch.rpartition("/")
    return key, int(index)


def _fork_state(key: str) -> tuple[str, str]:
    """Fork key ``"P/0/M~7"`` -> (parent branch ``"P/0"``, state ``"M"``)."""
    parent, _, state = key.rpartition("/")
    return parent, state.split("~", 1)[0]


class Engine:
    """A worker replica: hop and reply consumers plus the API's entry points."""

    def __init__(
        self,
        store: Store,
        transport: Transport,
        timers: Timers,
        *,
        clock: Clock | None = None,
        resources: ResourceMap | None = None,
        token_secret: str = "",
        region: str = "us-east-1",
        prefetch: int = 64,
        fast_path: bool = True,
        express_recheck_seconds: float = 2.0,
        express_max_seconds: float | None = 300.0,
    ) -> None:
        self.store = store
        self.transport = transport
        self.timers = timers
        self.clock = clock or Clock()
        self.resources = resources or ResourceMap()
        self.secret = (token_secret or uuid.uuid4().hex).encode()
        self.region = region
        self.prefetch = prefetch
        self._published: list[int] = []  # outbox rows published, deleted by the next transaction
        #: deliveries of one hop before a transient error is treated as fatal (below the
        #: queue's own delivery limit, so the reason is recorded and the execution fails)
        self.max_redeliveries = 8
        self._machines: OrderedDict[str, Machine] = OrderedDict()
        self._executions: OrderedDict[str, ExecutionInfo] = OrderedDict()
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._queues: set[str] = set()
        #: Hops that need only "running? new?" commit without a transaction of their own: one
        #: statement on PostgreSQL (runtime/store/hopcommit.py), one short transaction per
        #: event-loop turn on SQLite (runtime/store/sqlitehops.py); opened in start(). None:
        #: every hop takes a transaction.
        self.fast_path = fast_path
        self._committer: HopCommit | None = None
        #: EXPRESS executions seen RUNNING, and when (loop time): their pure hops (Pass, Choice,
        #: Wait...) run without the store until the next re-check.
        self.express_recheck_seconds = express_recheck_seconds
        #: An EXPRESS execution times out after this long even without TimeoutSeconds (AWS: 5
        #: minutes). Its hops are transient, so this durable timer is also what ends one whose
        #: hop a broker restart lost.
        self.express_max_seconds = express_max_seconds
        self._express_running: OrderedDict[str, float] = OrderedDict()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self.fast_path:
            self._committer = await self.store.hop_committer()
        await self.transport.ensure_queue(Topology.REPLIES)
        await self.transport.consume(Topology.HOPS, self._on_hop, prefetch=self.prefetch)
        await self.transport.consume(Topology.REPLIES, self._on_reply, prefetch=self.prefetch)
        await self.relay_outbox()

    # ------------------------------------------------------------------ caches

    def _remember(self, cache: OrderedDict[str, Any], key: str, value: Any, size: int = 2048) -> None:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > size:
            cache.popitem(last=False)

    async def _machine(self, tx: Any, execution_arn: str, revision_id: str) -> Machine:
        machine = self._machines.get(revision_id)
        if machine is None:
            sm = await tx.describe_state_machine_for_execution(execution_arn)
            machine = parse_machine(sm.definition)
            self._remember(self._machines, revision_id, machine, 256)
        return machine

    async def _execution(self, tx: Any, arn: str) -> tuple[ExecutionInfo, Any]:
        record = await tx.get_execution(arn)
        info = self._executions.get(arn)
        if info is None or info.redrive_count != record.redrive_count:
            sm_arn = record.state_machine_arn
            role = await self._role(tx, arn)
            info = ExecutionInfo(
                arn=arn,
                name=record.name,
                input=orjson.loads(record.input),
                start_time=record.start_date.timestamp(),
                role_arn=role,
                state_machine_arn=sm_arn,
                state_machine_name=sm_arn.rsplit(":", 1)[-1],
                redrive_count=record.redrive_count,
                revision_id=record.revision_id,
            )
            self._remember(self._executions, arn, info)
        return info, record

    async def _role(self, tx: Any, arn: str) -> str:
        sm = await tx.describe_state_machine_for_execution(arn)
        return str(sm.role_arn)

    # ------------------------------------------------------------------ starting and waiting

    async def start_execution(
        self,
        state_machine_arn: str,
        input: Any = None,
        name: str | None = None,
        trace_header: str | None = None,
    ) -> Any:
        """Create the execution (idempotent by name) and publish its first hop."""
        input = {} if input is None else input
        trace_header = trace_header or telemetry.current_traceparent()
        async with self.store.transaction() as tx:
            started = await tx.create_execution(
                state_machine_arn,
                name=name or str(uuid.uuid4()),
                input=_json(input),
                trace_header=trace_header,
            )
            if not started.created:
                return started.execution
            outgoing = Step(Hop(started.execution.arn, state_machine_arn, "", None), self.clock.now())
            await self._begin(tx, started.execution, input, outgoing, trace_header)
            rows = await self._stage(tx, outgoing, force=True)
        await self._flush(outgoing, rows)
        return started.execution

    async def _begin(self, tx: Any, execution: Any, input: Any, step: Step, trace_header: str | None) -> None:
        """ExecutionStarted, the first hop and the machine's timeout timer, onto ``step``."""
        sm = await tx.describe_state_machine_for_execution(execution.arn)
        machine = parse_machine(sm.definition)
        self._remember(self._machines, execution.revision_id, machine, 256)
        now = self.clock.now()
        limit: float | None = machine.timeout_seconds
        if str(execution.type) == EXPRESS and self.express_max_seconds:
            limit = min(limit or self.express_max_seconds, self.express_max_seconds)
        deadline = now + limit if limit else None
        traceparent, tracestate = telemetry.execution_started(execution)
        first = Hop(
            execution.arn,
            execution.state_machine_version_arn or execution.state_machine_arn,
            machine.start_at,
            {"input": input, "vars": {}},
            workflow_type=str(execution.type),
            deadline=deadline,
            traceparent=traceparent,
            tracestate=tracestate,
        )
        step.outgoing.append(Outgoing(TO_QUEUE, Topology.HOPS, first.to_message()))
        if deadline is not None:
            timeout_hop = Hop(
                first.execution_arn,
                first.state_machine_arn,
                machine.start_at,
                {},
                kind="exec-timeout",
                workflow_type=first.workflow_type,
                deadline=deadline,
                traceparent=traceparent,
                tracestate=tracestate,
            )
            message = timeout_hop.to_message()
            step.outgoing.append(Outgoing(TO_TIMER, Topology.HOPS, message, deadline, message.message_id))
        await tx.append_events(
            execution.arn,
            [ev.execution_started(input, sm.role_arn, execution.state_machine_version_arn)],
        )
        if str(execution.type) == STANDARD:
            step.publish_event(*telemetry.status_change(execution, "RUNNING"))

    async def wait(self, execution_arn: str, timeout: float | None = None) -> Any:
        """Wait until the execution ends (here or in another process); return its record."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            # Register before looking, so an ending between the two cannot be missed.
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.setdefault(execution_arn, []).append(future)
            try:
                async with self.store.transaction() as tx:
                    record = await tx.get_execution(execution_arn)
                if record.status != ExecutionStatus.RUNNING:
                    return record
                remaining = 1.0 if deadline is None else min(1.0, deadline - loop.time())
                if remaining <= 0:
                    raise TimeoutError(f"execution {execution_arn} still running")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(future, remaining)
            finally:
                waiters = self._waiters.get(execution_arn, [])
                if future in waiters:
                    waiters.remove(future)

    async def start_sync(
        self,
        state_machine_arn: str,
        input: Any = None,
        name: str | None = None,
        timeout: float | None = 300.0,
        trace_header: str | None = None,
    ) -> Any:
        """StartSyncExecution: start and answer with the ended execution (EXPRESS: 5 minutes)."""
        execution = await self.start_execution(state_machine_arn, input, name, trace_header)
        return await self.wait(execution.arn, timeout)

    async def stop_execution(self, execution_arn: str, error: str = "", cause: str = "") -> Any:
        """StopExecution: ABORTED once; pending tasks and joins are cancelled, and the
        top-level state they belonged to is kept as the redrive point."""
        aborted = False
        async with self.store.transaction() as tx:
            record = await tx.get_execution(execution_arn)
            if record.status == ExecutionStatus.RUNNING and await tx.finish_execution(
                execution_arn, ExecutionStatus.ABORTED, error=error, cause=cause
            ):
                await tx.append_events(execution_arn, [ev.execution_aborted(error, cause)])
                point = None
                for token in await tx.cancel_task_tokens(execution_arn):
                    task = await tx.get_task_token(token)
                    if not task.branch_path:
                        saved = orjson.loads(task.info)
                        point = {"state": task.state_name, "input": saved["input"], "vars": saved.get("vars")}
                for key in await tx.cancel_forks(execution_arn):
                    if "/" not in key:
                        saved = orjson.loads((await tx.get_fork(execution_arn, key)).info)
                        point = {
                            "state": _fork_state(key)[1],
                            "input": saved["input"],
                            "vars": saved.get("vars"),
                            "reuse_fork": key,
                        }
                if point is not None:
                    await tx.set_redrive_point(execution_arn, _json(point))
                aborted = True
            record = await tx.get_execution(execution_arn)
        if aborted:
            telemetry.execution_record_ended(record)
        self._notify(execution_arn)
        return record

    async def redrive_execution(self, execution_arn: str) -> Any:
        """RedriveExecution: continue a FAILED/TIMED_OUT/ABORTED execution where it stopped.

        The state that failed runs again with the input and variables it had; a Parallel or
        Map keeps the branches/items that had succeeded and runs only the others. Hops of the
        earlier run still in flight are dropped (their seq belongs to an older generation).
        """
        async with self.store.transaction() as tx:
            record = await tx.get_execution(execution_arn)
            if record.status not in (
                ExecutionStatus.FAILED,
                ExecutionStatus.TIMED_OUT,
                ExecutionStatus.ABORTED,
            ):
                raise ExecutionNotRedrivable(
                    f"Execution {execution_arn} is {record.status}; only FAILED, TIMED_OUT or ABORTED "
                    "executions can be redriven"
                )
            raw = await tx.get_redrive_point(execution_arn)
            if raw is None:
                raise ExecutionNotRedrivable(
                    f"Execution {execution_arn} has no recorded point to continue from (it ended before "
                    "any state could be resumed)"
                )
            point = orjson.loads(raw)
            record = await tx.redrive_execution(execution_arn)
            await tx.set_redrive_point(execution_arn, None)
            await tx.cancel_task_tokens(execution_arn)
            await tx.cancel_forks(execution_arn)
            machine = await self._machine(tx, execution_arn, record.revision_id)
            now = self.clock.now()
            deadline = now + machine.timeout_seconds if machine.timeout_seconds else None
            body: dict[str, Any] = {"input": point["input"], "vars": point.get("vars") or {}}
            traceparent, tracestate = telemetry.execution_trace(record)  # a new root span per redrive
            if point.get("reuse_fork"):
                body["reuse_fork"] = point["reuse_fork"]
            first = Hop(
                execution_arn,
                record.state_machine_version_arn or record.state_machine_arn,
                point["state"],
                body,
                seq=record.redrive_count * GENERATION,
                kind="enter",
                workflow_type=str(record.type),
                deadline=deadline,
                traceparent=traceparent,
                tracestate=tracestate,
            )
            step = Step(first, now)
            step.outgoing.append(Outgoing(TO_QUEUE, Topology.HOPS, first.to_message()))
            if deadline is not None:
                step.hop_to(point["state"], "exec-timeout", {}, seq=first.seq, due=deadline)
            await tx.append_events(
                execution_arn, [ev.simple("ExecutionRedriven", {"redriveCount": record.redrive_count})]
            )
            rows = await self._stage(tx, step, force=True)
        await self._flush(step, rows)
        return record

    async def _note_redrive_point(self, tx: Any, hop: Hop) -> None:
        """An aborted or timed-out execution: the first hop dropped afterwards tells where a
        redrive should continue (the top-level state it belonged to)."""
        if await tx.get_redrive_point(hop.execution_arn) is not None or hop.kind == "exec-timeout":
            return
        body = hop.body if isinstance(hop.body, Mapping) else {}
        point: dict[str, Any] | None = None
        if hop.branch:
            key = "/".join(hop.branch.split("/")[:1])
            fork = await tx.get_fork(hop.execution_arn, key)
            saved = orjson.loads(fork.info)
            point = {
                "state": _fork_state(key)[1],
                "input": saved["input"],
                "vars": saved.get("vars"),
                "reuse_fork": key,
            }
        elif hop.kind in ("enter", "retry"):
            point = {"state": hop.state, "input": body.get("input"), "vars": body.get("vars")}
        elif hop.kind == "complete" and "token" in body:
            saved = orjson.loads((await tx.get_task_token(body["token"])).info)
            point = {"state": hop.state, "input": saved["input"], "vars": saved.get("vars")}
        elif hop.kind == "complete" and "fork" in body:
            saved = orjson.loads((await tx.get_fork(hop.execution_arn, body["fork"])).info)
            point = {
                "state": hop.state,
                "input": saved["input"],
                "vars": saved.get("vars"),
                "reuse_fork": body["fork"],
            }
        elif hop.kind == "resume" and body.get("next"):
            point = {"state": body["next"], "input": body.get("output"), "vars": body.get("vars")}
        if point is not None:
            await tx.set_redrive_point(hop.execution_arn, _json(point))

    def _notify(self, execution_arn: str) -> None:
        self._express_running.pop(execution_arn, None)
        for future in self._waiters.pop(execution_arn, []):
            if not future.done():
                future.set_result(None)

    # ------------------------------------------------------------------ consuming hops

    async def _on_hop(self, delivery: Delivery) -> None:
        try:
            hop = Hop.from_message(delivery.message)
        except HopDecodeError as exc:
            log.error("dead-lettering a message that is not a hop: %s", exc)
            await delivery.dead_letter(f"not a hop: {exc}")
            return
        with telemetry.observe_hop(hop) as observed:
            try:
                step, rows = await self.process(hop)
                if step is None:
                    observed.skipped()
                else:
                    await self._flush(step, rows)
            except Exception as exc:
                observed.failed(exc)
                if is_transient(exc) and delivery.delivery_count + 1 < self.max_redeliveries:
                    # Nothing was applied (or the hop id makes a replay harmless): try again soon.
                    log.warning("hop %s of %s: %s; retrying", hop.state, hop.execution_arn, exc)
                    await asyncio.sleep(min(0.05 * 2**delivery.delivery_count, 2.0))
                    await delivery.nack(requeue=True)
                    return
                log.exception("hop %s/%s of %s failed", hop.state, hop.kind, hop.execution_arn)
                await delivery.dead_letter(f"{type(exc).__name__}: {exc}")
                await self._fail_execution(
                    hop,
                    StatesNames.RUNTIME,
                    f"Internal error while processing state '{hop.state}': {type(exc).__name__}: {exc}",
                )
                return
            await delivery.ack()

    async def _fail_execution(self, hop: Hop, error: str, cause: str) -> None:
        try:
            ended = False
            async with self.store.transaction() as tx:
                if await tx.finish_execution(
                    hop.execution_arn, ExecutionStatus.FAILED, error=error, cause=cause
                ):
                    await tx.append_events(hop.execution_arn, [ev.execution_failed(error, cause)])
                    ended = True
            if ended:
                telemetry.execution_ended(hop, "FAILED", (error, cause))
        except Exception:
            log.exception("could not record the failure of %s", hop.execution_arn)
        self._notify(hop.execution_arn)

    async def process(self, hop: Hop) -> tuple[Step | None, list[int]]:
        """Apply one hop; return what to publish once it is durable (and the outbox rows).

        The quick paths handle the hops that need nothing from the store but "still running?
        not applied yet?": EXPRESS hops of an execution recently seen running write nothing,
        and STANDARD hops commit without a transaction of their own (PostgreSQL: one statement;
        SQLite: one short transaction per event-loop turn). Anything else, or anything
        they cannot decide, takes the transaction of :meth:`process_in_transaction`.
        """
        if hop.kind in _QUICK_KINDS:
            if hop.workflow_type == EXPRESS:
                quick = await self._process_express(hop)
            elif self._committer is not None:
                quick = await self._process_fast(hop, self._committer)
            else:
                quick = None
            if quick is not None:
                return quick
        return await self.process_in_transaction(hop)

    async def _quick_step(self, hop: Hop, info: ExecutionInfo, tx: QuickTx) -> Step | None:
        """Interpret the hop against ``tx``; None if it turns out to need a transaction (a
        Parallel/Map, the end of a branch or of the execution, a nested execution...)."""
        machine = self._machines.get(info.revision_id)
        if machine is None:
            return None
        step = Step(hop, self.clock.now(), machine=machine)
        try:
            await self._dispatch_kind(tx, step, info, machine)
        except NeedsStore:
            return None
        return step

    async def _process_express(self, hop: Hop) -> tuple[Step | None, list[int]] | None:
        seen = self._express_running.get(hop.execution_arn)
        info = self._executions.get(hop.execution_arn)
        committer = self._committer
        loop = asyncio.get_running_loop()
        if seen is None or info is None or loop.time() - seen > self.express_recheck_seconds:
            if committer is None:  # no fast path: the transaction re-reads it
                return None
            # one indexed read instead of a transaction
            info = await self._load_execution(hop.execution_arn, committer)
            if info is None:
                return None
            self._remember(self._express_running, hop.execution_arn, loop.time())
        if not hop.branch and hop.seq // GENERATION != info.redrive_count:
            return None
        if committer is None:
            tx = QuickTx()
            step = await self._quick_step(hop, info, tx)
            if step is None or tx.wrote:  # a Task's token is stored even for EXPRESS
                return None
            return step, []
        # a Task's token (the one thing EXPRESS stores per hop) goes through the hop commit
        return await self._process_fast(hop, committer, info)

    async def _process_fast(
        self, hop: Hop, committer: HopCommit, info: ExecutionInfo | None = None
    ) -> tuple[Step | None, list[int]] | None:
        info = info or self._executions.get(hop.execution_arn)
        if info is None:
            info = await self._load_execution(hop.execution_arn, committer)
            if info is None:
                return None
        if not hop.branch and hop.seq // GENERATION != info.redrive_count:
            return None
        answered = None
        if hop.kind == "complete" and isinstance(hop.body, Mapping) and "token" in hop.body:
            row = await committer.load_token(str(hop.body["token"]))
            if row is None or row["status"] != TaskTokenStatus.PENDING.value:
                return None  # a late answer: the transaction logs and drops it
            answered = TaskToken(**{**row, "status": TaskTokenStatus(row["status"])})
        tx = QuickTx(answered)
        step = await self._quick_step(hop, info, tx)
        if step is None:
            return None
        durable = hop.workflow_type != EXPRESS
        if not durable and not tx.wrote:
            return step, []  # EXPRESS: nothing to write
        parts = hop.branch.split("/") if hop.branch else []
        result = await committer.apply(
            HopWrite(
                hop.execution_arn,
                info.redrive_count,
                ["/".join(parts[:end]) for end in range(1, len(parts), 2)],
                hop.message_id,
                [(e.type, _details(e.details), e.previous_event_id) for e in step.events],
                [_outbox_args(o) for o in step.outgoing] if durable else [],
                settle=tx.settled,
                issue=tx.issued,
            )
        )
        if not result.running:  # ended, redriven, or its join ended: the transaction decides
            self._executions.pop(hop.execution_arn, None)
            return None
        if not result.applied:
            log.debug("duplicate hop %s ignored", hop.message_id)
            return None, []
        return step, result.outbox_ids

    async def _load_execution(self, arn: str, committer: HopCommit) -> ExecutionInfo | None:
        """Cache a running execution's facts (and its machine) with one read; None if it is
        not running."""
        cached = self._executions.get(arn)
        row = await committer.load_execution(
            arn, with_definition=cached is None or cached.revision_id not in self._machines
        )
        if row is None or row.status != ExecutionStatus.RUNNING:
            return None
        if row.revision_id not in self._machines and row.definition is not None:
            self._remember(self._machines, row.revision_id, parse_machine(row.definition), 256)
        info = ExecutionInfo(
            arn=arn,
            name=row.name,
            input=orjson.loads(row.input),
            start_time=row.start_date.timestamp(),
            role_arn=row.role_arn,
            state_machine_arn=row.state_machine_arn,
            state_machine_name=row.state_machine_arn.rsplit(":", 1)[-1],
            redrive_count=row.redrive_count,
            revision_id=row.revision_id,
        )
        self._remember(self._executions, arn, info)
        return info

    async def process_in_transaction(self, hop: Hop) -> tuple[Step | None, list[int]]:
        """Apply one hop inside a store transaction; return what to publish after commit."""
        async with self.store.transaction() as tx:
            await self._forget_published(tx)
            durable = hop.workflow_type != EXPRESS
            if durable and not await tx.mark_applied(hop.message_id):
                log.debug("duplicate hop %s ignored", hop.message_id)
                return None, []
            info, record = await self._execution(tx, hop.execution_arn)
            if record.status != ExecutionStatus.RUNNING:
                log.info("hop %s of ended execution %s dropped", hop.state, hop.execution_arn)
                if record.status in (ExecutionStatus.ABORTED, ExecutionStatus.TIMED_OUT):
                    await self._note_redrive_point(tx, hop)
                return None, []
            if not hop.branch and hop.seq // GENERATION != record.redrive_count:
                log.info("hop %s from before redrive %d dropped", hop.state, record.redrive_count)
                return None, []
            if not durable:
                self._remember(self._express_running, hop.execution_arn, asyncio.get_running_loop().time())
            forks: dict[str, Any] = {}
            if hop.branch and await self._branch_cancelled(tx, hop, forks):
                return None, []
            machine = await self._machine(tx, hop.execution_arn, record.revision_id)
            step = Step(hop, self.clock.now(), machine=machine, forks=forks)
            await self._dispatch_kind(tx, step, info, machine)
            rows = await self._stage(tx, step)
        return step, rows

    async def _branch_cancelled(self, tx: Any, hop: Hop, forks: dict[str, Any]) -> bool:
        """A hop inside a Parallel/Map branch whose join already ended is dropped. The joins
        read are kept in ``forks``: the end of the branch needs its own again (same
        transaction, one statement less)."""
        parts = hop.branch.split("/")
        for end in range(1, len(parts), 2):
            key = "/".join(parts[:end])
            fork = forks[key] = await tx.get_fork(hop.execution_arn, key)
            if fork.status != "RUNNING":
                return True
        return False

    async def _dispatch_kind(self, tx: Any, step: Step, info: ExecutionInfo, machine: Machine) -> None:
        hop = step.hop
        kind = hop.kind
        if kind == "exec-timeout":
            await self._end_execution(
                tx, step, "TIMED_OUT", ("States.Timeout", "The execution timed out (TimeoutSeconds)")
            )
            return
        sub = machine.sub(hop.branch)
        state = sub.states[hop.state]
        telemetry.annotate_hop(state_type=state.type)
        body = hop.body or {}
        if kind in ("enter", "retry"):
            data, variables = body.get("input"), body.get("vars") or {}
            retries = tuple(body.get("retries") or ())
            if kind == "enter":
                step.event(ev.state_entered(state.type, state.name, data))
            token = self._token(hop) if isinstance(state, TaskState) else None
            ctx = build_context(info, state.name, step.now, sum(retries), token)
            outcome = interpreter.enter(sub, state.name, data, ctx, variables, now=step.now, retries=retries)
            await self._apply(tx, step, info, sub, state, data, variables, retries, outcome, token)
        elif kind == "complete":
            await self._complete(tx, step, info, sub, state, body)
        elif kind.startswith("hb"):
            await self._heartbeat_check(tx, step, body)
        elif kind == "resume":
            output, variables = body.get("output"), body.get("vars") or {}
            step.event(ev.state_exited(state.type, state.name, output))
            if body.get("next"):
                step.hop_to(body["next"], "enter", {"input": output, "vars": variables})
            else:
                await self._branch_end(tx, step, True, output, variables)
        else:
            raise ValueError(f"unknown hop kind {kind!r}")

    # ------------------------------------------------------------------ outcomes

    async def _apply(
        self,
        tx: Any,
        step: Step,
        info: ExecutionInfo,
        sub: Machine,
        state: State,
        data: Any,
        variables: Variables,
        retries: tuple[int, ...],
        outcome: Outcome,
        token: str | None,
    ) -> None:
        if isinstance(outcome, Next):
            step.event(ev.state_exited(state.type, state.name, outcome.output))
            step.hop_to(outcome.state, "enter", {"input": outcome.output, "vars": outcome.variables})
        elif isinstance(outcome, Succeed):
            step.event(ev.state_exited(state.type, state.name, outcome.output))
            await self._branch_end(tx, step, True, outcome.output, outcome.variables)
        elif isinstance(outcome, Fail):
            telemetry.annotate_hop(error=outcome.error, cause=outcome.cause)
            if not step.hop.branch:
                step.redrive_point = {"state": state.name, "input": data, "vars": variables}
                if (
                    step.hop.kind == "complete"
                    and isinstance(step.hop.body, Mapping)
                    and step.hop.body.get("fork")
                ):
                    step.redrive_point["reuse_fork"] = step.hop.body["fork"]
            await self._branch_end(tx, step, False, (outcome.error, outcome.cause), outcome.variables)
        elif isinstance(outcome, Retry):
            step.hop_to(
                state.name,
                "retry",
                {"input": outcome.input, "vars": outcome.variables, "retries": list(outcome.retries)},
                attempt=sum(outcome.retries),
                due=step.now + outcome.delay,
            )
        elif isinstance(outcome, Delay):
            then = outcome.then
            body = {
                "output": then.output,
                "vars": then.variables,
                "next": then.state if isinstance(then, Next) else None,
            }
            step.hop_to(state.name, "resume", body, due=outcome.until)
        elif isinstance(outcome, Dispatch):
            assert token is not None
            await self._send_task(tx, step, info, sub, state, data, variables, retries, outcome, token)
        elif isinstance(outcome, Fork):
            await self._fork(tx, step, info, sub, state, data, variables, retries, outcome)
        else:  # pragma: no cover
            raise TypeError(outcome)

    async def _branch_end(self, tx: Any, step: Step, ok: bool, result: Any, variables: Variables) -> None:
        hop = step.hop
        if not hop.branch:
            if ok:
                await self._end_execution(tx, step, "SUCCEEDED", result)
            else:
                await self._end_execution(tx, step, "FAILED", result)
            return
        key, index = _split_branch(hop.branch)
        fork = step.forks.get(key) or await tx.get_fork(hop.execution_arn, key)
        fork_info = orjson.loads(fork.info)
        if fork_info["kind"] == "map":
            parent_state = _fork_state(key)[1]
            step.event(
                ev.map_iteration("MapIterationSucceeded" if ok else "MapIterationFailed", parent_state, index)
            )
        error, cause = (None, None) if ok else result
        progress = await tx.record_branch_result(
            hop.execution_arn, key, index, ok, output=_json(result) if ok else None, error=error, cause=cause
        )
        if not progress.recorded:
            return
        await self._launch(step, key, fork_info, progress.start)
        if progress.complete:
            self._join_done(step, key, fork, fork_info, progress)

    def _join_done(
        self, step: Step, key: str, fork: Any, fork_info: Mapping[str, Any], progress: Any
    ) -> None:
        """The join ended (all done, first failure, or tolerance exceeded): resume the parent."""
        tolerant = fork.tolerated_failure_count is not None or fork.tolerated_failure_percentage is not None
        if progress.threshold_exceeded or (progress.failed and not tolerant):
            if tolerant:
                err = interpreter.exceeded_error()
                body: dict[str, Any] = {"fork": key, "error": err.error, "cause": err.cause}
            else:
                body = {"fork": key, "error": progress.error or "", "cause": progress.cause or ""}
        else:
            results = [
                orjson.loads(r.output)
                if r.ok and r.output is not None
                else {"Error": r.error, "Cause": r.cause}
                for r in progress.results or []
            ]
            body = {"fork": key, "result": results}
        parent_branch, parent_state = _fork_state(key)
        step.hop_to(
            parent_state,
            "complete",
            body,
            branch=parent_branch,
            seq=fork_info["seq"] + 1,
            attempt=sum(fork_info.get("retries") or ()),
        )

    async def _end_execution(self, tx: Any, step: Step, status: str, result: Any) -> None:
        arn = step.hop.execution_arn
        if status == "SUCCEEDED":
            done = await tx.finish_execution(arn, ExecutionStatus.SUCCEEDED, output=_json(result))
            event = ev.execution_succeeded(result)
        else:
            error, cause = result
            done = await tx.finish_execution(arn, ExecutionStatus(status), error=error, cause=cause)
            event = (
                ev.execution_timed_out(error, cause)
                if status == "TIMED_OUT"
                else ev.execution_failed(error, cause)
            )
        if done:
            # Through the step (after its StateExited), and even for EXPRESS: the ending is not a
            # transition, and DescribeExecution/StartSyncExecution need it.
            step.events.append(event)
            if step.redrive_point is not None:
                await tx.set_redrive_point(arn, _json(step.redrive_point))
            await self._answer_parent(tx, step, status, result)
            step.finished = (status, result)
            if step.durable:
                step.publish_event(*telemetry.status_change(await tx.get_execution(arn)))

    # ------------------------------------------------------------------ tasks

    def _token(self, hop: Hop) -> str:
        """Unguessable and bound to this execution, branch and hop: an HMAC of the hop's id."""
        return hmac.new(self.secret, f"task\x00{hop.message_id}".encode(), hashlib.sha256).hexdigest()[:48]

    async def _send_task(
        self,
        tx: Any,
        step: Step,
        info: ExecutionInfo,
        sub: Machine,
        state: State,
        data: Any,
        variables: Variables,
        retries: tuple[int, ...],
        d: Dispatch,
        token: str,
    ) -> None:
        hop = step.hop
        try:
            target = self.resources.resolve(d.resource, d.payload)
            if target.pattern in (SYNC, SYNC2) and target.name != START_EXECUTION:
                raise StatesError(StatesNames.RUNTIME, f"'{d.resource}' does not support the .sync pattern")
            child_result = None
            if target.name == START_EXECUTION:
                child_result = await self._start_child(tx, step, d, target, token)
            elif target.kind != "activity":  # a task message goes to a service queue
                await self._check_task_queue(d.resource, target)
        except StatesError as err:
            ctx = build_context(info, state.name, step.now, sum(retries), token)
            outcome = interpreter.complete(sub, state.name, data, ctx, variables, error=err, retries=retries)
            step.event(ev.task_failed(d.resource, err.error, err.cause))
            await self._apply(tx, step, info, sub, state, data, variables, retries, outcome, None)
            return
        if child_result is not None:  # startExecution without .sync answers at once
            ctx = build_context(info, state.name, step.now, sum(retries), token)
            step.event(ev.task_scheduled(d.resource, d.payload, self.region, None, None))
            step.event(ev.task_succeeded(d.resource, child_result))
            outcome = interpreter.complete(
                sub, state.name, data, ctx, variables, result=child_result, retries=retries
            )
            await self._apply(tx, step, info, sub, state, data, variables, retries, outcome, None)
            return
        payload = d.payload
        if target.payload_from is not None:
            payload = payload.get(target.payload_from, {}) if isinstance(payload, Mapping) else {}
        step.event(
            ev.task_scheduled(d.resource, d.payload, self.region, d.timeout_seconds, d.heartbeat_seconds)
        )
        step.event(ev.task_started(d.resource))
        attempt = sum(retries)
        task_info = {
            "seq": hop.seq,
            "input": data,
            "vars": variables,
            "retries": list(retries),
            "resource": d.resource,
            "pattern": target.pattern,
            "lambda_invoke": target.payload_from == "Payload",
            "heartbeat": d.heartbeat_seconds,
        }
        activity = target.kind == "activity"
        await tx.create_task_token(
            hop.execution_arn,
            state.name,
            branch_path=hop.branch,
            attempt=attempt,
            info=_json(task_info),
            token=token,
            activity_arn=d.resource if activity else None,
            input=_json(payload) if activity else None,
        )
        deadline = step.now + d.timeout_seconds if d.timeout_seconds else None
        if target.name != START_EXECUTION and not activity:
            self._task_message(step, state, target, d, payload, token, attempt, deadline)
        self._task_timers(step, state, d, token, attempt, deadline)

    def _task_message(
        self,
        step: Step,
        state: State,
        target: Target,
        d: Dispatch,
        payload: Any,
        token: str,
        attempt: int,
        deadline: float | None,
    ) -> None:
        hop = step.hop
        queue = self._task_queue(target)
        telemetry.metrics.task_scheduled(target.name)
        step.send(
            queue,
            taskwire.task_message(
                payload,
                execution_arn=hop.execution_arn,
                state=state.name,
                token=token,
                attempt=attempt,
                resource=d.resource if target.kind == "builtin" else target.name,
                reply_to=Topology.REPLIES,
                deadline=deadline,
                heartbeat=d.heartbeat_seconds,
                traceparent=telemetry.current_traceparent(hop.traceparent),
                persistent=hop.workflow_type != EXPRESS,
                pattern=target.pattern if target.pattern == WAIT_FOR_TASK_TOKEN else None,
            ),
        )

    def _task_timers(
        self, step: Step, state: State, d: Dispatch, token: str, attempt: int, deadline: float | None
    ) -> None:
        if deadline is not None:
            step.hop_to(
                state.name,
                "complete",
                {"token": token, "error": StatesNames.TIMEOUT, "cause": "Task timed out", "timed_out": True},
                due=deadline,
                attempt=attempt,
            )
        if d.heartbeat_seconds:
            step.hop_to(
                state.name,
                "hb",
                {"token": token, "n": 1},
                due=step.now + d.heartbeat_seconds,
                attempt=attempt,
                key_suffix="1",
            )

    async def _start_child(self, tx: Any, step: Step, d: Dispatch, target: Target, token: str) -> Any:
        """arn:aws:states:::states:startExecution[.sync[:2]]: start a nested execution in this
        hop's transaction. Without .sync the task answers at once; with it, the child answers
        this task's token when it ends (see _end_execution)."""
        params = d.payload if isinstance(d.payload, Mapping) else {}
        sm_arn = params.get("StateMachineArn")
        if not isinstance(sm_arn, str):
            raise StatesError(StatesNames.RUNTIME, "states:startExecution needs a StateMachineArn string")
        child_input = params.get("Input", {})
        if isinstance(child_input, str):
            try:
                child_input = orjson.loads(child_input)
            except orjson.JSONDecodeError:
                raise StatesError(
                    StatesNames.RUNTIME, "states:startExecution: Input is not valid JSON"
                ) from None
        try:
            started = await tx.create_execution(
                sm_arn,
                name=params.get("Name") or str(uuid.uuid4()),
                input=_json(child_input),
                parent_execution_arn=step.hop.execution_arn,
                trace_header=telemetry.current_traceparent(step.hop.traceparent),
            )
        except StoreError as exc:
            raise StatesError(
                f"StepFunctions.{getattr(exc, 'aws_code', type(exc).__name__)}", str(exc)
            ) from None
        child = started.execution
        if started.created:
            await self._begin(tx, child, child_input, step, step.hop.traceparent)
        if target.pattern in (SYNC, SYNC2):
            await tx.set_parent_task_token(child.arn, token)
            return None
        return {"ExecutionArn": child.arn, "StartDate": child.start_date.timestamp()}

    async def _answer_parent(self, tx: Any, step: Step, status: str, result: Any) -> None:
        """A nested .sync execution ended: answer the parent's task with DescribeExecution's shape."""
        arn = step.hop.execution_arn
        token = await tx.get_parent_task_token(arn)
        if token is None:
            return
        record = await tx.get_execution(arn)
        parent = await tx.get_task_token(token)
        saved = orjson.loads(parent.info)
        described: dict[str, Any] = {
            "ExecutionArn": arn,
            "StateMachineArn": record.state_machine_arn,
            "Name": record.name,
            "Status": status,
            "StartDate": record.start_date.timestamp(),
            "StopDate": step.now,
            "Input": record.input,
            "InputDetails": {"Included": True},
        }
        if status == "SUCCEEDED":
            output = _json(result)
            described["Output"] = orjson.loads(output) if saved.get("pattern") == SYNC2 else output
            described["OutputDetails"] = {"Included": True}
            answer: dict[str, Any] = {"token": token, "result": described}
        else:
            described["Error"], described["Cause"] = result
            answer = {"token": token, "error": "States.TaskFailed", "cause": _json(described)}
        hop = await self._answer_hop(tx, parent, answer)
        step.outgoing.append(Outgoing(TO_QUEUE, Topology.HOPS, hop.to_message()))

    async def claim_activity_task(
        self, activity_arn: str, worker_name: str | None = None, wait_seconds: float = 60.0
    ) -> tuple[str, str] | None:
        """GetActivityTask: long-poll for a task of this activity; (token, input JSON) or None."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while True:
            async with self.store.transaction() as tx:
                claimed = await tx.claim_activity_task(activity_arn, worker_name)
                if claimed is not None:
                    await tx.append_events(
                        claimed.execution_arn,
                        [ev.simple("ActivityStarted", {"workerName": worker_name or ""})],
                    )
                    return claimed.token, (await tx.activity_task_input(claimed.token)) or "{}"
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            await asyncio.sleep(min(0.5, remaining))

    async def _heartbeat_check(self, tx: Any, step: Step, body: Mapping[str, Any]) -> None:
        token = await tx.get_task_token(body["token"])
        if token.status != TaskTokenStatus.PENDING:
            return
        task_info = orjson.loads(token.info)
        interval = float(task_info["heartbeat"])
        last = (token.heartbeat_date or token.creation_date).timestamp()
        if last + interval > step.now:
            n = int(body.get("n", 1)) + 1
            step.hop_to(
                step.hop.state,
                "hb",
                {"token": body["token"], "n": n},
                seq=step.hop.seq,
                due=last + interval,
                attempt=step.hop.attempt,
                key_suffix=str(n),
            )
            return
        step.hop_to(
            step.hop.state,
            "complete",
            {
                "token": body["token"],
                "error": StatesNames.HEARTBEAT_TIMEOUT,
                "cause": f"No heartbeat received for {interval:g} seconds",
                "timed_out": True,
            },
            seq=task_info["seq"] + 1,
            attempt=step.hop.attempt,
        )

    async def _complete(
        self, tx: Any, step: Step, info: ExecutionInfo, sub: Machine, state: State, body: Mapping[str, Any]
    ) -> None:
        """A Task's answer, a timeout, or a Parallel/Map join: finish the state."""
        if "fork" in body:
            fork = await tx.get_fork(step.hop.execution_arn, body["fork"])
            saved = orjson.loads(fork.info)
            resource = None
        else:
            token = await tx.get_task_token(body["token"])
            if token.status != TaskTokenStatus.PENDING:
                log.info(
                    "late answer for task %s of %s ignored (task is %s)",
                    state.name,
                    step.hop.execution_arn,
                    token.status,
                )
                return
            saved = orjson.loads(token.info)
            resource = saved["resource"]
            telemetry.metrics.task_ended(
                resource,
                "SUCCEEDED"
                if "error" not in body
                else "HEARTBEAT_TIMED_OUT"
                if body["error"] == StatesNames.HEARTBEAT_TIMEOUT
                else "TIMED_OUT"
                if body.get("timed_out")
                else "FAILED",
                step.now - token.creation_date.timestamp(),
            )
            if "error" in body:
                status = TaskTokenStatus.TIMED_OUT if body.get("timed_out") else TaskTokenStatus.FAILED
                await tx.complete_task_token(
                    body["token"], status, error=body["error"], cause=body.get("cause", "")
                )
            else:
                await tx.complete_task_token(
                    body["token"], TaskTokenStatus.SUCCEEDED, output=_json(body.get("result"))
                )
        data, variables = saved["input"], saved.get("vars") or {}
        retries = tuple(saved.get("retries") or ())
        ctx = build_context(info, state.name, step.now, sum(retries))
        if "error" in body:
            telemetry.annotate_hop(error=body["error"], cause=body.get("cause", ""))
            err = StatesError(body["error"], body.get("cause", ""))
            if resource is not None:
                step.event(
                    ev.task_failed(resource, err.error, err.cause, timed_out=bool(body.get("timed_out")))
                )
            else:
                step.event(ev.simple(f"{state.type}StateFailed"))
            outcome = interpreter.complete(sub, state.name, data, ctx, variables, error=err, retries=retries)
        else:
            result = body.get("result")
            if resource is not None:
                if saved.get("lambda_invoke") and saved.get("pattern") != WAIT_FOR_TASK_TOKEN:
                    # lambda:invoke answers with Lambda's envelope; a callback's output is as sent
                    result = {"ExecutedVersion": "$LATEST", "Payload": result, "StatusCode": 200}
                step.event(ev.task_succeeded(resource, result))
            else:
                step.event(ev.simple(f"{state.type}StateSucceeded"))
            outcome = interpreter.complete(
                sub, state.name, data, ctx, variables, result=result, retries=retries
            )
        await self._apply(tx, step, info, sub, state, data, variables, retries, outcome, None)

    @staticmethod
    def _task_queue(target: Target) -> str:
        """The logical queue a task message for ``target`` goes to."""
        return Topology.task_queue(BUILTIN_SERVICE if target.kind == "builtin" else target.name)

    async def _check_task_queue(self, resource: str, target: Target) -> None:
        """Fail a Task whose service queue was never declared, instead of waiting forever.

        Services declare their own queues when they attach (services/worker.py, the built-in
        integrations in every worker); the engine never does. So a missing queue means no
        service for this resource ever ran: the Task fails with ``States.Runtime`` through the
        interpreter, like an unmapped resource in embedded mode (terminal, as every
        States.Runtime: Retry and Catch do not apply). A queue that exists with no consumer
        is a service that is down for now: the task waits there, durably. Positive answers
        are remembered per engine; negative ones are asked again every time (one round trip).
        """
        queue = self._task_queue(target)
        if queue in self._queues:
            return
        if await self.transport.queue_exists(queue):
            self._queues.add(queue)
            return
        raise StatesError(StatesNames.RUNTIME, self._missing_queue_cause(resource, target, queue))

    def _missing_queue_cause(
        self, resource: str, target: Target, queue: str, *, deleted: bool = False
    ) -> str:
        name = self.transport.topology.queue_name(queue)
        if target.kind == "builtin":
            return (
                f"The queue '{name}' of the built-in integrations does not exist, so nothing can run "
                f"the resource '{resource}': the built-in integrations run in every 'statehop worker' "
                "and 'statehop serve' process, which declare that queue when they start. Start one "
                "with the same queue prefix."
            )
        if deleted:
            what = f"The queue '{name}' of service '{target.name}' was deleted after the engine found it"
        else:
            what = (
                f"No service has ever attached to the queue '{name}' (resource '{resource}', "
                f"service '{target.name}')"
            )
        return (
            f"{what}, so the task cannot be delivered. Start a service that consumes '{name}' (it "
            "declares the queue when it attaches: services/worker.py, or any AMQP client following "
            "docs/task-contract.md), or map the resource to an existing service in the resource map "
            "(STATEHOP_RESOURCE_MAP or STATEHOP_RESOURCE_MAP_FILE)."
        )

    async def _task_unroutable(self, out: Outgoing) -> None:
        """A task message found no queue after all: its queue was deleted after
        :meth:`_check_task_queue` found it (or before the outbox relay republished it). Answer
        the task with a ``States.Runtime`` failure, as for a queue that never existed, so the
        execution ends instead of waiting and the outbox is not blocked by a message that can
        never be routed."""
        self._queues.discard(out.target)
        headers = out.message.headers
        token = str(headers.get(taskwire.H_TOKEN) or out.message.correlation_id or "")
        resource = str(headers.get(taskwire.H_RESOURCE, ""))  # built-ins: the resource; else the service
        kind = "builtin" if out.target == Topology.task_queue(BUILTIN_SERVICE) else "service"
        cause = self._missing_queue_cause(resource, Target(kind, resource), out.target, deleted=True)
        log.warning("task message for %s is unroutable; failing task %s: %s", out.target, token[:12], cause)
        reply = taskwire.reply_message(
            token, taskwire.FAILURE, error=StatesNames.RUNTIME, cause=cause, persistent=out.message.persistent
        )
        await self.transport.publish(Topology.REPLIES, reply)

    # ------------------------------------------------------------------ Parallel and Map

    async def _fork(
        self,
        tx: Any,
        step: Step,
        info: ExecutionInfo,
        sub: Machine,
        state: State,
        data: Any,
        variables: Variables,
        retries: tuple[int, ...],
        fork: Fork,
    ) -> None:
        hop = step.hop
        # One join per entry of the state (retries and loops enter it again): the hop's seq
        # tells entries apart; '~' and '/' cannot occur in AWS state names.
        key = f"{hop.branch}/{state.name}~{hop.seq}" if hop.branch else f"{state.name}~{hop.seq}"
        step.event(
            ev.simple("MapStateStarted", {"length": len(fork.inputs)})
            if fork.kind == "map"
            else ev.simple("ParallelStateStarted")
        )
        if not fork.inputs:  # nothing to fan out: the state completes at once with []
            step.event(ev.simple(f"{state.type}StateSucceeded"))
            ctx = build_context(info, state.name, step.now, sum(retries))
            outcome = interpreter.complete(sub, state.name, data, ctx, variables, result=[], retries=retries)
            await self._apply(tx, step, info, sub, state, data, variables, retries, outcome, None)
            return
        fork_info = {
            "seq": hop.seq,
            "input": data,
            "vars": variables,
            "retries": list(retries),
            "kind": fork.kind,
            "vars_in": fork.variables,
        }
        items = [_json(v) for v in fork.inputs]
        started = await tx.create_fork(
            hop.execution_arn,
            key,
            items,
            max_concurrency=fork.max_concurrency,
            tolerated_failure_count=fork.tolerated_failure_count,
            tolerated_failure_percentage=fork.tolerated_failure_percentage,
            info=_json(fork_info),
        )
        reuse = hop.body.get("reuse_fork") if isinstance(hop.body, Mapping) else None
        reused = await self._reusable(tx, hop.execution_arn, reuse, len(items)) if reuse else {}
        pending, launch = list(started.start), []
        while pending:  # a redrive keeps what succeeded before: record it, start the rest
            item = pending.pop(0)
            if item.index not in reused:
                launch.append(item)
                continue
            progress = await tx.record_branch_result(
                hop.execution_arn, key, item.index, True, output=reused[item.index]
            )
            pending.extend(progress.start)
            if progress.complete:
                fork_row = await tx.get_fork(hop.execution_arn, key)
                self._join_done(step, key, fork_row, fork_info, progress)
        await self._launch(step, key, fork_info, launch)

    async def _reusable(self, tx: Any, execution_arn: str, old_key: str, total: int) -> dict[int, str]:
        """Outputs of the items that succeeded in an earlier run of this join (redrive)."""
        try:
            results = await tx.fork_results(execution_arn, old_key)
        except StoreError:
            return {}
        return {r.index: r.output for r in results if r.ok and r.output is not None and r.index < total}

    async def _launch(
        self, step: Step, key: str, fork_info: Mapping[str, Any], items: list[ForkItem]
    ) -> None:
        """Start the children the join's window lets run: hop 0 of each child branch."""
        parent_state = _fork_state(key)[1]
        assert step.machine is not None
        for item in items:
            branch = f"{key}/{item.index}"
            if fork_info["kind"] == "map":
                step.event(ev.map_iteration("MapIterationStarted", parent_state, item.index))
            start_at = step.machine.sub(branch).start_at
            step.hop_to(
                start_at,
                "enter",
                {"input": orjson.loads(item.input), "vars": fork_info.get("vars_in") or {}},
                branch=branch,
                seq=0,
                attempt=0,
            )

    # ------------------------------------------------------------------ commit and publish

    async def _stage(self, tx: Any, step: Step, force: bool = False) -> list[int]:
        """Write the step's events and outbox rows in the hop's transaction (STANDARD)."""
        if step.events:
            await tx.append_events(step.hop.execution_arn, step.events)
        if (step.durable or force) and step.outgoing:
            return list(await tx.add_outbox([o.to_outbox() for o in step.outgoing]))
        return []

    async def _flush(self, step: Step, rows: list[int]) -> None:
        """After commit: publish messages and set timers. The outbox rows are deleted by the
        next transaction of this worker (no extra round trip per hop); if the worker dies
        first, the relay republishes them and the hop ids make that harmless."""
        await self._publish(step.outgoing)
        if self._committer is not None:
            self._committer.published(rows)
        else:
            self._published.extend(rows)
        if step.finished is not None:
            telemetry.execution_ended(step.hop, *step.finished)
            self._notify(step.hop.execution_arn)

    async def _publish(self, outgoing: list[Outgoing]) -> None:
        for out in outgoing:
            if out.destination == TO_TIMER:
                assert out.due is not None and out.key is not None
                await self.timers.schedule(out.key, out.due, out.target, out.message)
            elif out.destination == TO_EVENT:
                await self.transport.publish_event(out.target, out.message)
            else:
                # Task queues are declared by their services, never here: see _check_task_queue
                try:
                    await self.transport.publish(out.target, out.message)
                except UnroutableError:
                    if not out.target.startswith(Topology.task_queue("")):
                        raise
                    await self._task_unroutable(out)

    async def _forget_published(self, tx: Any) -> None:
        """Delete the outbox rows this worker has already published (piggybacked on ``tx``)."""
        if self._published:
            ids, self._published = self._published, []
            await tx.delete_outbox(ids)

    async def relay_outbox(self, limit: int = 500, orphan_age: float = 10.0) -> int:
        """Publish what a crashed worker committed but never published; returns the count.

        Only rows older than ``orphan_age`` seconds count as orphaned; the rows stay locked
        (PostgreSQL) while they are published and deleted, so two relays never share them.
        """
        cutoff = datetime.now(UTC) - timedelta(seconds=orphan_age)
        if self._committer is not None:
            await self._committer.flush_published()
        async with self.store.transaction() as tx:
            await self._forget_published(tx)
            rows = await tx.pending_outbox(limit, older_than=cutoff)
            if rows:
                await self._publish(
                    [
                        Outgoing.from_outbox(r.destination, r.routing_key, r.body, r.headers, r.message_id)
                        for r in rows
                    ]
                )
                await tx.delete_outbox([r.id for r in rows])
        return len(rows)

    # ------------------------------------------------------------------ task replies

    async def _on_reply(self, delivery: Delivery) -> None:
        msg = delivery.message
        token = str(msg.headers.get(taskwire.H_TOKEN) or msg.correlation_id or "")
        kind = msg.headers.get(taskwire.H_REPLY)
        try:
            await self.answer_task(
                token, str(kind), msg.body, callback=bool(msg.headers.get(CALLBACK_HEADER))
            )
        except Exception as exc:
            log.warning("reply for task token %s dropped: %s", token[:12], exc)
            await delivery.dead_letter(f"{type(exc).__name__}: {exc}")
            return
        await delivery.ack()

    async def answer_task(self, token: str, kind: str, body: bytes, *, callback: bool = False) -> bool:
        """Turn a service's answer (or SendTask*) into the state's ``complete`` hop.

        Returns False when the task is no longer waiting (late answer: ignored and logged).
        """
        if self._committer is not None and kind != taskwire.HEARTBEAT:
            # the token and its execution in one read instead of a transaction
            row = await self._committer.load_answer(token)
            if row is not None:
                answer = self._answer(token, kind, body, callback, row.status, row.info)
                if isinstance(answer, bool):
                    return answer
                hop = self._complete_hop(row, row, answer)
                await self.transport.publish(Topology.HOPS, hop.to_message())
                return True
        async with self.store.transaction() as tx:
            record = await tx.get_task_token(token)
            if kind == taskwire.HEARTBEAT and record.status == TaskTokenStatus.PENDING:
                await tx.heartbeat_task_token(token)
                return True
            answer = self._answer(token, kind, body, callback, record.status, record.info)
            if isinstance(answer, bool):
                return answer
            hop = self._complete_hop(record, await tx.get_execution(record.execution_arn), answer)
        await self.transport.publish(Topology.HOPS, hop.to_message())
        return True

    @staticmethod
    def _answer(
        token: str, kind: str, body: bytes, callback: bool, status: str, info: str | None
    ) -> dict[str, Any] | bool:
        """The ``complete`` hop's body for an answer, or whether it was taken without one."""
        if status != TaskTokenStatus.PENDING:
            log.info("answer for task token %s ignored: task is already %s", token[:12], status)
            return False
        saved = orjson.loads(info or "{}")
        if saved.get("pattern") == WAIT_FOR_TASK_TOKEN and kind == taskwire.SUCCESS and not callback:
            return True  # the service's own return value does not complete a callback task
        value = orjson.loads(body) if body else None
        answer: dict[str, Any] = {"token": token}
        if kind == taskwire.SUCCESS:
            answer["result"] = value
        elif kind == taskwire.FAILURE:
            answer["error"] = str((value or {}).get("error", ""))
            answer["cause"] = str((value or {}).get("cause", ""))
        else:
            raise ValueError(f"unknown reply kind {kind!r}")
        return answer

    async def _answer_hop(self, tx: Any, record: Any, answer: dict[str, Any]) -> Hop:
        return self._complete_hop(record, await tx.get_execution(record.execution_arn), answer)

    @staticmethod
    def _complete_hop(record: Any, execution: Any, answer: dict[str, Any]) -> Hop:
        """The ``complete`` hop a task answer becomes: same id whoever answers first."""
        saved = orjson.loads(record.info)
        traceparent, tracestate = telemetry.execution_trace(execution)
        return Hop(
            record.execution_arn,
            execution.state_machine_version_arn or execution.state_machine_arn,
            record.state_name,
            answer,
            record.branch_path,
            saved["seq"] + 1,
            record.attempt,
            "complete",
            STANDARD if str(execution.type) == STANDARD else EXPRESS,
            traceparent=traceparent,
            tracestate=tracestate,
        )


__all__ = ["BUILTIN_SERVICE", "Engine", "Target"]
