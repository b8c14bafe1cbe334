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
from typing import Any

import orjson

from runtime import taskwire
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
from runtime.store.records import ExecutionStatus, ForkItem, TaskTokenStatus
from runtime.transport.base import Delivery, Topology, Transport, TransportError

log = logging.getLogger("statehop.engine")

#: Built-in integrations (http:invoke, sqs:sendMessage, ...) run as a service on this queue.
BUILTIN_SERVICE = "statehop-builtin"
CALLBACK_HEADER = "x-sh-callback"  # set on replies that come from SendTask* (not the service's own answer)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _split_branch(branch: str) -> tuple[str, str, int]:
    """``"P/0/M/3"`` -> (fork key ``"P/0/M"``, parent branch ``"P/0"``, index 3)."""
    key, _, index = branch.rpartition("/")
    parent, _, _state = key.rpartition("/")
    return key, parent, int(index)


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
    ) -> None:
        self.store = store
        self.transport = transport
        self.timers = timers
        self.clock = clock or Clock()
        self.resources = resources or ResourceMap()
        self.secret = (token_secret or uuid.uuid4().hex).encode()
        self.region = region
        self.prefetch = prefetch
        self._machines: OrderedDict[str, Machine] = OrderedDict()
        self._executions: OrderedDict[str, ExecutionInfo] = OrderedDict()
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._queues: set[str] = set()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
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
        name = name or str(uuid.uuid4())
        async with self.store.transaction() as tx:
            started = await tx.create_execution(
                state_machine_arn, name=name, input=_json(input), trace_header=trace_header
            )
            execution = started.execution
            if not started.created:
                return execution
            sm = await tx.describe_state_machine_for_execution(execution.arn)
            machine = parse_machine(sm.definition)
            self._remember(self._machines, execution.revision_id, machine, 256)
            wtype = str(execution.type)
            now = self.clock.now()
            deadline = now + machine.timeout_seconds if machine.timeout_seconds else None
            first = Hop(
                execution.arn,
                execution.state_machine_version_arn or execution.state_machine_arn,
                machine.start_at,
                {"input": input, "vars": {}},
                workflow_type=wtype,
                deadline=deadline,
                traceparent=trace_header,
            )
            step = Step(first, now)
            step.outgoing.append(Outgoing(TO_QUEUE, Topology.HOPS, first.to_message()))
            if deadline is not None:
                step.hop_to(machine.start_at, "exec-timeout", {}, seq=0, due=deadline)
            await tx.append_events(
                execution.arn, [ev.execution_started(input, sm.role_arn, execution.state_machine_version_arn)]
            )
            rows = await self._stage(tx, step, force=True)
        await self._flush(step, rows)
        return execution

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

    async def stop_execution(self, execution_arn: str, error: str = "", cause: str = "") -> Any:
        async with self.store.transaction() as tx:
            record = await tx.get_execution(execution_arn)
            if record.status == ExecutionStatus.RUNNING:
                done = await tx.finish_execution(
                    execution_arn, ExecutionStatus.ABORTED, error=error, cause=cause
                )
                if done:
                    await tx.append_events(execution_arn, [ev.execution_aborted(error, cause)])
            record = await tx.get_execution(execution_arn)
        self._notify(execution_arn)
        return record

    def _notify(self, execution_arn: str) -> None:
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
        try:
            step, rows = await self.process(hop)
        except TransportError:
            await delivery.nack(requeue=True)
            return
        except Exception as exc:
            log.exception("hop %s/%s of %s failed", hop.state, hop.kind, hop.execution_arn)
            await delivery.dead_letter(f"{type(exc).__name__}: {exc}")
            await self._fail_execution(
                hop,
                StatesNames.RUNTIME,
                f"Internal error while processing state '{hop.state}': {type(exc).__name__}: {exc}",
            )
            return
        if step is not None:
            await self._flush(step, rows)
        await delivery.ack()

    async def _fail_execution(self, hop: Hop, error: str, cause: str) -> None:
        try:
            async with self.store.transaction() as tx:
                if await tx.finish_execution(
                    hop.execution_arn, ExecutionStatus.FAILED, error=error, cause=cause
                ):
                    await tx.append_events(hop.execution_arn, [ev.execution_failed(error, cause)])
        except Exception:
            log.exception("could not record the failure of %s", hop.execution_arn)
        self._notify(hop.execution_arn)

    async def process(self, hop: Hop) -> tuple[Step | None, list[int]]:
        """Apply one hop inside a store transaction; return what to publish after commit."""
        async with self.store.transaction() as tx:
            durable = hop.workflow_type != EXPRESS
            if durable and not await tx.mark_applied(hop.message_id):
                log.debug("duplicate hop %s ignored", hop.message_id)
                return None, []
            info, record = await self._execution(tx, hop.execution_arn)
            if record.status != ExecutionStatus.RUNNING:
                log.info("hop %s of ended execution %s dropped", hop.state, hop.execution_arn)
                return None, []
            if hop.branch and await self._branch_cancelled(tx, hop):
                return None, []
            machine = await self._machine(tx, hop.execution_arn, record.revision_id)
            step = Step(hop, self.clock.now(), machine=machine)
            await self._dispatch_kind(tx, step, info, machine)
            rows = await self._stage(tx, step)
        return step, rows

    async def _branch_cancelled(self, tx: Any, hop: Hop) -> bool:
        """A hop inside a Parallel/Map branch whose join already ended is dropped."""
        parts = hop.branch.split("/")
        for end in range(1, len(parts), 2):
            key = "/".join(parts[:end])
            fork = await tx.get_fork(hop.execution_arn, key)
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
        key, _, index = _split_branch(hop.branch)
        fork = await tx.get_fork(hop.execution_arn, key)
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
        if not progress.complete:
            return
        tolerant = fork.tolerated_failure_count is not None or fork.tolerated_failure_percentage is not None
        if progress.threshold_exceeded or (progress.failed and not tolerant):
            if tolerant:
                err = interpreter.exceeded_error()
                body = {"fork": key, "error": err.error, "cause": err.cause}
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
            # The final event is written even for EXPRESS: it is not a transition, and
            # DescribeExecution/StartSyncExecution need the ending.
            await tx.append_events(arn, [event])
            step.finished = (status, result)
            step.publish_event(
                f"execution.{status.lower()}",
                {"executionArn": arn, "stateMachineArn": step.hop.state_machine_arn, "status": status},
            )

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
            if target.kind == "activity":
                raise StatesError(
                    StatesNames.RUNTIME,
                    f"Activity '{target.name}': activities need the API role (GetActivityTask)",
                )
            if target.pattern in (SYNC, SYNC2) and target.kind != "builtin":
                raise StatesError(StatesNames.RUNTIME, f"'{d.resource}' does not support the .sync pattern")
        except StatesError as err:
            ctx = build_context(info, state.name, step.now, sum(retries), token)
            outcome = interpreter.complete(sub, state.name, data, ctx, variables, error=err, retries=retries)
            step.event(ev.task_failed(d.resource, err.error, err.cause))
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
        await tx.create_task_token(
            hop.execution_arn,
            state.name,
            branch_path=hop.branch,
            attempt=attempt,
            info=_json(task_info),
            token=token,
        )
        queue = Topology.task_queue(BUILTIN_SERVICE if target.kind == "builtin" else target.name)
        deadline = step.now + d.timeout_seconds if d.timeout_seconds else None
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
                traceparent=hop.traceparent,
                persistent=hop.workflow_type != EXPRESS,
            ),
        )
        if target.pattern == WAIT_FOR_TASK_TOKEN:
            self._mark_callback(step)
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

    def _mark_callback(self, step: Step) -> None:
        step.outgoing[-1].message.headers["x-sh-pattern"] = WAIT_FOR_TASK_TOKEN

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
                if saved.get("lambda_invoke"):
                    result = {"ExecutedVersion": "$LATEST", "Payload": result, "StatusCode": 200}
                step.event(ev.task_succeeded(resource, result))
            else:
                step.event(ev.simple(f"{state.type}StateSucceeded"))
            outcome = interpreter.complete(
                sub, state.name, data, ctx, variables, result=result, retries=retries
            )
        await self._apply(tx, step, info, sub, state, data, variables, retries, outcome, None)

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
        await self._launch(step, key, fork_info, started.start)

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
        """After commit: publish messages, set timers, then forget the outbox rows."""
        await self._publish(step.outgoing)
        if rows:
            async with self.store.transaction() as tx:
                await tx.delete_outbox(rows)
        if step.finished is not None:
            self._notify(step.hop.execution_arn)

    async def _publish(self, outgoing: list[Outgoing]) -> None:
        for out in outgoing:
            if out.destination == TO_TIMER:
                assert out.due is not None and out.key is not None
                await self.timers.schedule(out.key, out.due, out.target, out.message)
            elif out.destination == TO_EVENT:
                await self.transport.publish_event(out.target, out.message)
            else:
                if out.target not in self._queues and out.target != Topology.HOPS:
                    await self.transport.ensure_queue(out.target)
                    self._queues.add(out.target)
                await self.transport.publish(out.target, out.message)

    async def relay_outbox(self, limit: int = 500) -> int:
        """Publish what a crashed worker committed but never published; returns the count."""
        async with self.store.transaction() as tx:
            rows = await tx.pending_outbox(limit)
        if not rows:
            return 0
        await self._publish(
            [
                Outgoing.from_outbox(r.destination, r.routing_key, r.body, r.headers, r.message_id)
                for r in rows
            ]
        )
        async with self.store.transaction() as tx:
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
        async with self.store.transaction() as tx:
            record = await tx.get_task_token(token)
            if record.status != TaskTokenStatus.PENDING:
                log.info("answer for task token %s ignored: task is already %s", token[:12], record.status)
                return False
            saved = orjson.loads(record.info)
            if kind == taskwire.HEARTBEAT:
                await tx.heartbeat_task_token(token)
                return True
            if saved.get("pattern") == WAIT_FOR_TASK_TOKEN and kind == taskwire.SUCCESS and not callback:
                return True  # the service's own return value does not complete a callback task
            execution = await tx.get_execution(record.execution_arn)
        value = orjson.loads(body) if body else None
        answer: dict[str, Any] = {"token": token}
        if kind == taskwire.SUCCESS:
            answer["result"] = value
        elif kind == taskwire.FAILURE:
            answer["error"] = str((value or {}).get("error", ""))
            answer["cause"] = str((value or {}).get("cause", ""))
        else:
            raise ValueError(f"unknown reply kind {kind!r}")
        hop = Hop(
            record.execution_arn,
            execution.state_machine_version_arn or execution.state_machine_arn,
            record.state_name,
            answer,
            record.branch_path,
            saved["seq"] + 1,
            record.attempt,
            "complete",
            STANDARD if str(execution.type) == STANDARD else EXPRESS,
        )
        await self.transport.publish(Topology.HOPS, hop.to_message())
        return True


__all__ = ["BUILTIN_SERVICE", "Engine", "Target"]
