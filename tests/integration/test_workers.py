"""Faults in a fleet of real ``statehop worker`` processes on RabbitMQ + PostgreSQL.

Each test gets a queue prefix and a database of its own, starts worker subprocesses (the
console script, configured by STATEHOP_* variables), runs the task service in the test process
on the same broker, and starts executions through an engine that only publishes (it consumes
nothing). The faults: a worker SIGKILLed mid-run, a worker SIGTERMed mid-run, the broker
stopped and started mid-run, and poison messages on the hops queue.

What "exactly once" means here is read from the store afterwards, never from timing:

- every execution SUCCEEDED with the output its input determines;
- its history has ids 1..N with no gap, exactly one ExecutionStarted (first) and one
  ExecutionSucceeded (last), every state entered and exited exactly as often as the machine visits
  it (Map iterations: each index started and succeeded once, each item entered once);
- the outbox is empty, the dead-letter queue is empty, no hop/reply/task is left queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa

from runtime.engine.engine import BUILTIN_SERVICE, Engine
from runtime.engine.timers import QueueTimers
from runtime.hop import Hop
from runtime.store import Store, TransientStoreError
from runtime.store import tables as t
from runtime.transport import DEAD_FROM, DEAD_REASON, Delivery, Message, Topology, Transport, create_transport
from services.sdk import Service
from tests.support.db import create_postgres_database, drop_postgres_database, require_postgres
from tests.support.processes import WORKER_STOPPING, ProcessGroup, RoleConfig, new_prefix

# amqp_url: found, or started, or the test FAILS (never skips); a plugin so asserts are rewritten
pytest_plugins = ["tests.support.broker"]

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(170)]

# Bounds on waiting (never asserted as speeds). Each test stays under two minutes: every wait
# for executions is also bounded by TEST_BUDGET counted from the fixture's start.
TEST_BUDGET = 105.0
FINISH_TIMEOUT = 95.0
FAULT_AT = 35  # percent of the run's transitions applied when the fault is injected
OUTBOX_TIMEOUT = 20.0  # the relay runs every 5 s in each worker
SHUTDOWN_TIMEOUT = 15.0  # STATEHOP_SHUTDOWN_TIMEOUT given to the workers

# --------------------------------------------------------------------------- the machine

#: Pass, Task, Choice, Parallel (a Task branch and a Pass branch) and Map (Task then Pass per
#: item): 12 states, 6 + len(items) task round trips and ~20 + 3 * len(items) hops.
MACHINE: dict[str, Any] = {
    "Comment": "StateHop fleet test",
    "StartAt": "Init",
    "States": {
        "Init": {"Type": "Pass", "Parameters": {"id.$": "$.id", "items.$": "$.items"}, "Next": "Add"},
        "Add": {
            "Type": "Task",
            "Resource": "add",
            "Parameters": {"a.$": "$.id", "b": 1},
            "ResultPath": "$.sum",
            "Next": "Route",
        },
        "Route": {
            "Type": "Choice",
            "Default": "Big",
            "Choices": [{"Variable": "$.id", "NumericLessThan": 100, "Next": "Small"}],
        },
        "Small": {"Type": "Pass", "Result": "small", "ResultPath": "$.size", "Next": "Fan"},
        "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$.size", "Next": "Fan"},
        "Fan": {
            "Type": "Parallel",
            "ResultPath": "$.fan",
            "Next": "Each",
            "Branches": [
                {
                    "StartAt": "PDouble",
                    "States": {
                        "PDouble": {"Type": "Task", "Resource": "double", "InputPath": "$.sum", "End": True}
                    },
                },
                {
                    "StartAt": "PTag",
                    "States": {
                        "PTag": {
                            "Type": "Pass",
                            "Parameters": {"id.$": "$.id", "size.$": "$.size"},
                            "End": True,
                        }
                    },
                },
            ],
        },
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ResultPath": "$.mapped",
            "Next": "Done",
            "ItemProcessor": {
                "StartAt": "MDouble",
                "States": {
                    "MDouble": {"Type": "Task", "Resource": "double", "Next": "MWrap"},
                    "MWrap": {"Type": "Pass", "Parameters": {"v.$": "$"}, "End": True},
                },
            },
        },
        "Done": {
            "Type": "Pass",
            "End": True,
            "Parameters": {
                "id.$": "$.id",
                "sum.$": "$.sum",
                "size.$": "$.size",
                "fan.$": "$.fan",
                "mapped.$": "$.mapped",
            },
        },
    },
}


def machine_input(i: int) -> dict[str, Any]:
    """Execution ``i``: ids on both sides of the Choice, 3 or 4 distinct Map items."""
    return {"id": i, "items": [i * 10 + k for k in range(3 + i % 2)]}


def expected_output(i: int) -> dict[str, Any]:
    data = machine_input(i)
    size = "small" if i < 100 else "big"
    return {
        "id": i,
        "sum": i + 1,
        "size": size,
        "fan": [2 * (i + 1), {"id": i, "size": size}],
        "mapped": [{"v": 2 * x} for x in data["items"]],
    }


def expected_events(i: int) -> Counter[tuple[str, str]]:
    """(event type, state name or map index) -> how many times, for execution ``i``."""
    n = len(machine_input(i)["items"])
    visits = {
        ("Pass", "Init"): 1,
        ("Task", "Add"): 1,
        ("Choice", "Route"): 1,
        ("Pass", "Small" if i < 100 else "Big"): 1,
        ("Parallel", "Fan"): 1,
        ("Task", "PDouble"): 1,
        ("Pass", "PTag"): 1,
        ("Map", "Each"): 1,
        ("Task", "MDouble"): n,
        ("Pass", "MWrap"): n,
        ("Pass", "Done"): 1,
    }
    out: Counter[tuple[str, str]] = Counter()
    for (kind, name), count in visits.items():
        out[(f"{kind}StateEntered", name)] += count
        out[(f"{kind}StateExited", name)] += count
    tasks = 2 + n
    for kind in ("TaskScheduled", "TaskStarted", "TaskSucceeded"):
        out[(kind, "")] = tasks
    for kind in (
        "ExecutionStarted",
        "ExecutionSucceeded",
        "ParallelStateStarted",
        "ParallelStateSucceeded",
        "MapStateStarted",
        "MapStateSucceeded",
    ):
        out[(kind, "")] = 1
    for index in range(n):
        out[("MapIterationStarted", str(index))] = 1
        out[("MapIterationSucceeded", str(index))] = 1
    return out


def expected_transitions(i: int) -> int:
    """Hops execution ``i`` applies: one per state entry, Task completion and fork join."""
    return 13 + 3 * len(machine_input(i)["items"])


def expected_total(arns: dict[str, int]) -> int:
    return sum(expected_transitions(i) for i in arns.values())


# --------------------------------------------------------------------------- the service


async def add(payload: dict[str, Any]) -> int:
    return int(payload["a"]) + int(payload["b"])


async def double(payload: int) -> int:
    return payload * 2


TASK_QUEUES = ("tasks.add", "tasks.double", Topology.task_queue(BUILTIN_SERVICE))

# --------------------------------------------------------------------------- the fleet


@dataclass
class Fleet:
    prefix: str
    database_url: str
    store: Store
    transport: Transport
    starter: Engine
    group: ProcessGroup
    machine_arn: str
    deadline: float = 0.0
    began: float = 0.0

    def elapsed(self) -> float:
        return time.monotonic() - self.began

    def bound(self, timeout: float) -> float:
        """``timeout``, cut to what is left of the test's budget."""
        return max(0.0, min(timeout, self.deadline - time.monotonic()))

    async def applied_hops(self) -> int:
        """Transitions applied (one row per STANDARD hop id, written in the hop's transaction)."""
        async with self.store.engine.connect() as conn:
            query = sa.select(sa.func.count()).select_from(t.applied_messages)
            return int((await conn.execute(query)).scalar_one())

    @contextlib.asynccontextmanager
    async def timeline(self, every: float = 1.0) -> AsyncIterator[list[tuple[float, int]]]:
        """Samples (seconds since the test began, executions ended) while the block runs."""
        samples: list[tuple[float, int]] = []

        async def sample() -> None:
            while True:
                counts = await self.statuses()
                samples.append((time.monotonic() - self.began, sum(counts.values()) - counts["RUNNING"]))
                await asyncio.sleep(every)

        task = asyncio.create_task(sample())
        try:
            yield samples
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def start_executions(self, ids: range, concurrency: int = 25) -> dict[str, int]:
        """Start executions ``ids`` (input ``machine_input(i)``); returns arn -> i."""
        arns: dict[str, int] = {}
        sem = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with sem:
                execution = await self.starter.start_execution(self.machine_arn, machine_input(i), f"run-{i}")
                arns[execution.arn] = i

        await asyncio.gather(*(one(i) for i in ids))
        return arns

    async def statuses(self) -> Counter[str]:
        ex = t.executions
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(sa.select(ex.c.status, sa.func.count()).group_by(ex.c.status))).all()
        return Counter({str(status): int(count) for status, count in rows})

    async def wait_finished(self, total: int, timeout: float = FINISH_TIMEOUT) -> Counter[str]:
        """Until no execution is RUNNING (or fail with the counts and every worker's log)."""
        timeout = self.bound(timeout)
        deadline = time.monotonic() + timeout
        while True:
            counts = await self.statuses()
            if sum(counts.values()) == total and counts["RUNNING"] == 0:
                return counts
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"executions not finished after {timeout:.0f}s: {dict(counts)} "
                    f"(load average {os.getloadavg()})\n{self.group.tails()}"
                )
            await asyncio.sleep(0.25)

    async def wait_applied(self, count: int, timeout: float = FINISH_TIMEOUT) -> int:
        """Until ``count`` transitions were applied (the fault then hits a run well under way:
        hops travel breadth-first, so executions all end together near the end of a run)."""
        timeout = self.bound(timeout)
        deadline = time.monotonic() + timeout
        while (applied := await self.applied_hops()) < count:
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"{applied} of {count} transitions applied after {timeout:.0f}s "
                    f"(load average {os.getloadavg()})\n{self.group.tails()}"
                )
            await asyncio.sleep(0.05)
        return applied

    async def pending_outbox(self) -> int:
        """Outbox rows (counted directly: pending_outbox() skips rows a relay has locked)."""
        async with self.store.engine.connect() as conn:
            return int((await conn.execute(sa.select(sa.func.count()).select_from(t.outbox))).scalar_one())

    async def wait_outbox_empty(self, timeout: float = OUTBOX_TIMEOUT) -> int:
        """Rows a crashed worker left are relayed by the others; returns what is left at the end."""
        deadline = time.monotonic() + timeout
        while (left := await self.pending_outbox()) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        return left

    async def depth(self, queue: str) -> int:
        """Ready messages in a logical queue, retried across a reconnect."""
        for attempt in range(20):
            try:
                return await self.transport.queue_depth(queue)
            except Exception:
                if attempt == 19:
                    raise
                await asyncio.sleep(0.5)
        raise AssertionError("unreachable")

    async def queue_depths(self) -> dict[str, int]:
        queues = (Topology.HOPS, Topology.REPLIES, Topology.DEAD, *TASK_QUEUES)
        return {q: await self.depth(q) for q in queues}

    async def history(self, arn: str) -> list[Any]:
        events: list[Any] = []
        token = None
        async with self.store.transaction() as tx:
            while True:
                page = await tx.list_events(arn, max_results=1000, next_token=token)
                events.extend(page.items)
                token = page.next_token
                if not token:
                    return events


@pytest.fixture
async def fleet(amqp_url: str, tmp_path: Path) -> AsyncIterator[Fleet]:
    admin = require_postgres()
    database_url = await create_postgres_database(admin)
    prefix = new_prefix()
    store = Store(database_url)
    try:
        # Migrate once here: workers starting together would race on a fresh schema otherwise.
        await store.migrate()
        transport = create_transport(
            amqp_url,
            Topology(prefix=prefix),
            publish_timeout=60.0,
            connection_name=f"statehop-test-fleet-{prefix}",
        )
        await transport.start()
        try:
            for queue in TASK_QUEUES:  # declared here too, so delete_topology removes them
                await transport.ensure_queue(queue)
            service = Service("fleet", concurrency=64)
            service.task("add")(add)
            service.task("double")(double)
            await service.attach(transport)
            starter = Engine(store, transport, QueueTimers(transport))  # publishes only
            async with store.transaction() as tx:
                machine = await tx.create_state_machine(
                    "fleet", json.dumps(MACHINE), role_arn="arn:aws:iam::123456789012:role/statehop"
                )
            config = RoleConfig(amqp_url, database_url, prefix, shutdown_timeout=SHUTDOWN_TIMEOUT)
            group = ProcessGroup(config, tmp_path / "logs")
            try:
                now = time.monotonic()
                yield Fleet(
                    prefix,
                    database_url,
                    store,
                    transport,
                    starter,
                    group,
                    str(machine.arn),
                    deadline=now + TEST_BUDGET,
                    began=now,
                )
            finally:
                group.close()  # SIGKILL whatever still runs before its queues go away
        finally:
            try:
                await transport.delete_topology()
            finally:
                await transport.close()
    finally:
        await store.close()
        await drop_postgres_database(admin, database_url)


# --------------------------------------------------------------------------- the checks


def _details(event: Any) -> dict[str, Any]:
    return orjson.loads(event.details) if event.details else {}


def history_problems(i: int, events: list[Any]) -> list[str]:
    """Everything wrong with execution ``i``'s history (empty: exactly once, in AWS shape)."""
    problems: list[str] = []
    ids = [e.id for e in events]
    if ids != list(range(1, len(events) + 1)):
        problems.append(f"event ids not contiguous from 1: {ids}")
    if not events or events[0].type != "ExecutionStarted":
        problems.append(f"first event is {events[0].type if events else None}, not ExecutionStarted")
    if not events or events[-1].type != "ExecutionSucceeded":
        problems.append(f"last event is {events[-1].type if events else None}, not ExecutionSucceeded")
    seen: Counter[tuple[str, str]] = Counter()
    entered: dict[str, list[Any]] = {"MDouble": [], "MWrap": []}
    for event in events:
        details = _details(event)
        if event.type.startswith("MapIteration"):
            seen[(event.type, str(details.get("index")))] += 1
        elif event.type.endswith(("StateEntered", "StateExited")):
            seen[(event.type, str(details.get("name")))] += 1
            if event.type.endswith("StateEntered") and details.get("name") in entered:
                entered[details["name"]].append(orjson.loads(details["input"]))
        else:
            seen[(event.type, "")] += 1
    expect = expected_events(i)
    if seen != expect:
        extra = seen - expect
        missing = expect - seen
        problems.append(
            f"events differ from one visit per transition: extra {dict(extra)}, missing {dict(missing)}"
        )
    items = machine_input(i)["items"]
    if sorted(entered["MDouble"]) != sorted(items):
        problems.append(
            f"Map iterations entered MDouble with {entered['MDouble']}, expected each of {items} once"
        )
    if sorted(entered["MWrap"]) != sorted(2 * x for x in items):
        problems.append(f"Map iterations entered MWrap with {entered['MWrap']}")
    return problems


async def check_fleet_run(fleet: Fleet, arns: dict[str, int], extra_transitions: int = 0) -> None:
    """The exactly-once proof from the store and the broker (see the module docstring)."""
    wrong: list[str] = []
    applied = await fleet.applied_hops()
    if applied != expected_total(arns) + extra_transitions:
        wrong.append(f"{applied} transitions applied, expected {expected_total(arns) + extra_transitions}")
    async with fleet.store.transaction() as tx:
        records = {arn: await tx.get_execution(arn) for arn in arns}
    for arn, i in sorted(arns.items(), key=lambda kv: kv[1]):
        record = records[arn]
        if str(record.status) != "SUCCEEDED":
            wrong.append(f"run-{i}: {record.status} {record.error}: {record.cause}")
            continue
        output = orjson.loads(record.output) if record.output is not None else None
        if output != expected_output(i):
            wrong.append(f"run-{i}: output {output} != {expected_output(i)}")
        wrong.extend(f"run-{i}: {p}" for p in history_problems(i, await fleet.history(arn)))
    assert not wrong, f"{len(wrong)} problem(s):\n" + "\n".join(wrong[:40])
    left = await fleet.wait_outbox_empty()
    assert left == 0, f"{left} outbox row(s) never published\n{fleet.group.tails()}"
    depths = await fleet.queue_depths()
    assert depths == dict.fromkeys(depths, 0), f"messages left on queues: {depths}"


def summary(samples: list[tuple[float, int]], marks: dict[str, float]) -> str:
    """A compact timeline for the test output: ended executions every few seconds, and events."""
    points = [f"{at:.0f}s:{done}" for at, done in samples[::5]]
    if samples:
        points.append(f"{samples[-1][0]:.0f}s:{samples[-1][1]}")
    events = ", ".join(f"{name} at {at:.1f}s" for name, at in marks.items())
    return f"{events}\n  ended executions over time: {' '.join(points)}"


# --------------------------------------------------------------------------- a. SIGKILL


async def test_sigkill_one_of_two_workers_mid_run(fleet: Fleet) -> None:
    """Two competing workers, 200 executions; one worker is SIGKILLed while hops are in flight
    and a replacement starts. Every execution finishes once, with nothing lost or repeated."""
    total = 200
    marks: dict[str, float] = {}
    first, second = await fleet.group.start_workers(2)
    marks["workers ready"] = fleet.elapsed()
    async with fleet.timeline() as samples:
        arns = await fleet.start_executions(range(total))
        marks["started"] = fleet.elapsed()
        applied = await fleet.wait_applied(expected_total(arns) * FAULT_AT // 100)
        counts = await fleet.statuses()
        assert counts["RUNNING"] > 0, f"every execution ended before the kill: raise the count {dict(counts)}"
        first.kill()
        marks[f"SIGKILL ({applied} transitions, {total - counts['RUNNING']} ended)"] = fleet.elapsed()
        assert await first.wait_exit(10) == -9
        orphans = await fleet.pending_outbox()  # committed, not yet published (+ rows in flight)
        replacement = await fleet.group.start_worker("replacement")
        marks["replacement ready"] = fleet.elapsed()
        await fleet.wait_finished(total)
        marks["all ended"] = fleet.elapsed()
    assert second.alive and replacement.alive, fleet.group.tails()
    hops = await fleet.applied_hops()
    await check_fleet_run(fleet, arns)
    print(
        f"\n[sigkill] {total} executions, {hops} transitions, {orphans} outbox rows right after the kill; "
        f"{summary(samples, marks)}"
    )


# --------------------------------------------------------------------------- b. SIGTERM


async def test_sigterm_drains_in_flight_hops_and_exits_zero(fleet: Fleet) -> None:
    """SIGTERM mid-run: the worker stops consuming, finishes what it holds and exits 0; the other
    worker finishes every execution, each exactly once."""
    total = 80
    marks: dict[str, float] = {}
    stopping, staying = await fleet.group.start_workers(2)
    async with fleet.timeline() as samples:
        arns = await fleet.start_executions(range(total))
        applied = await fleet.wait_applied(expected_total(arns) * FAULT_AT // 100)
        counts = await fleet.statuses()
        assert counts["RUNNING"] > 0, f"every execution ended before SIGTERM: raise the count {dict(counts)}"
        sent = time.monotonic()
        stopping.terminate()
        marks[f"SIGTERM ({applied} transitions, {total - counts['RUNNING']} ended)"] = sent - fleet.began
        code = await stopping.wait_exit(SHUTDOWN_TIMEOUT + 15)
        marks[f"worker exited {code}"] = fleet.elapsed()
        await fleet.wait_finished(total)
        marks["all ended"] = fleet.elapsed()
    assert code == 0, f"exit code {code} after SIGTERM\n{stopping.tail()}"
    assert stopping.count(WORKER_STOPPING) == 1, stopping.tail()
    assert "unsettled after" not in stopping.log(), f"in-flight hops were abandoned\n{stopping.tail()}"
    assert "Traceback" not in stopping.log(), stopping.tail()
    assert staying.alive, staying.tail()
    await check_fleet_run(fleet, arns)
    print(f"\n[sigterm] {total} executions; {summary(samples, marks)}")


# --------------------------------------------------------------------------- c. broker restart


def _rabbitmqctl(*args: str, timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("rabbitmqctl")
    if binary is None:
        pytest.fail(
            "the broker-restart test needs rabbitmqctl on PATH (apt-get install rabbitmq-server); "
            "it restarts the local broker with stop_app/start_app"
        )
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout, check=False)


async def _broker_app(action: str) -> None:
    done = await asyncio.to_thread(_rabbitmqctl, action)
    if done.returncode != 0:
        output = done.stderr.strip() or done.stdout.strip()
        pytest.fail(f"rabbitmqctl {action} failed ({done.returncode}): {output}")


async def _dlx_supervisor_down() -> bool:
    """RabbitMQ 3.10 can come back from start_app without ``rabbit_fifo_dlx_sup``: when quorum
    queues are deleted (by other tests) while the node recovers, their dead-letter workers crash,
    the supervisor reaches its restart intensity and stays down. Until the app restarts again,
    every declare of a quorum queue with at-least-once dead-lettering fails with 541
    INTERNAL_ERROR, for every user of the broker."""
    done = await asyncio.to_thread(_rabbitmqctl, "eval", "whereis(rabbit_fifo_dlx_sup).")
    return done.returncode == 0 and done.stdout.strip().endswith("undefined")


async def _start_broker_app() -> int:
    """start_app, repeated while the node comes back broken (above); returns the repairs made.

    The broker is shared, so this test must never leave it worse than it found it.
    """
    await _broker_app("start_app")
    for repairs in range(4):
        await asyncio.sleep(3.0)  # the supervisor, if it dies, dies within a second or two
        if not await _dlx_supervisor_down():
            return repairs
        if repairs == 3:
            break
        await _broker_app("stop_app")
        await _broker_app("start_app")
    pytest.fail(
        "RabbitMQ came back from start_app without rabbit_fifo_dlx_sup four times in a row; "
        "repair it with: rabbitmqctl stop_app && rabbitmqctl start_app"
    )


async def test_broker_restart_mid_run(fleet: Fleet, amqp_url: str) -> None:
    """rabbitmqctl stop_app / start_app while executions are in flight: after the broker is
    back every execution finishes, each transition applied exactly once.

    This restarts the local (shared) broker for ~5 s: other clients see their connections drop.
    """
    if "127.0.0.1" not in amqp_url and "localhost" not in amqp_url:
        pytest.fail(
            f"the broker-restart test restarts the local RabbitMQ with rabbitmqctl, but the test "
            f"broker is {amqp_url}: point STATEHOP_TEST_AMQP_URL at the local broker"
        )
    total = 80
    marks: dict[str, float] = {}
    workers = await fleet.group.start_workers(2)
    async with fleet.timeline() as samples:
        arns = await fleet.start_executions(range(total))
        applied = await fleet.wait_applied(expected_total(arns) * FAULT_AT // 100)
        counts = await fleet.statuses()
        assert counts["RUNNING"] > 0, f"all ended before the restart: raise the count {dict(counts)}"
        marks[f"stop_app ({applied} transitions, {total - counts['RUNNING']} ended)"] = fleet.elapsed()
        try:
            await _broker_app("stop_app")
            marks["stopped"] = fleet.elapsed()
            await asyncio.sleep(3.0)
        finally:
            marks["start_app"] = fleet.elapsed()
            repairs = await _start_broker_app()
        marks["started (and checked)"] = fleet.elapsed()
        await fleet.wait_finished(total)
        marks["all ended"] = fleet.elapsed()
    for worker in workers:
        assert worker.alive, worker.tail()
        # the outage really reached the workers: their connections dropped and came back
        assert worker.count("reconnected to RabbitMQ") >= 1, worker.tail()
    await check_fleet_run(fleet, arns)
    print(f"\n[broker restart] {total} executions; broker repairs {repairs}; {summary(samples, marks)}")


# --------------------------------------------------------------------------- d. poison


async def collect(transport: Transport, queue: str, count: int, timeout: float = 20.0) -> list[Delivery]:
    got: list[Delivery] = []

    async def handler(delivery: Delivery) -> None:
        got.append(delivery)
        await delivery.ack()

    consumer = await transport.consume(queue, handler)
    try:
        async with asyncio.timeout(timeout):
            while len(got) < count:
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"{len(got)} of {count} messages came on {queue} in {timeout:.0f}s") from None
    finally:
        await consumer.cancel(timeout=5)
    return got


async def test_poison_hops_are_dead_lettered_without_crash_loop(fleet: Fleet) -> None:
    """Hops with bad headers, and a hop naming a state the machine lacks, end in the dead-letter
    queue with a reason; the worker keeps running and keeps serving good executions."""
    worker = await fleet.group.start_worker()
    # an execution that exists, whose first hop names a state that does not
    async with fleet.store.transaction() as tx:
        started = await tx.create_execution(fleet.machine_arn, name="poisoned", input="{}")
    victim = started.execution.arn
    base = Hop(victim, fleet.machine_arn, "Init").to_message().headers
    poison = [
        Message(b"{}", {**base, "x-sh-seq": "not-a-number"}, message_id="poison-bad-seq"),
        Message(b"{}", {}, message_id="poison-no-headers"),
        Message(b"{not json", dict(base), message_id="poison-bad-body"),
        Hop(victim, fleet.machine_arn, "NoSuchState", {"input": {}, "vars": {}}).to_message(),
    ]
    for message in poison:
        await fleet.transport.publish(Topology.HOPS, message)

    dead = await collect(fleet.transport, Topology.DEAD, len(poison))
    reasons = {d.message.message_id: str(d.message.headers.get(DEAD_REASON, "")) for d in dead}
    assert set(reasons) == {m.message_id for m in poison}
    assert "x-sh-seq" in reasons["poison-bad-seq"], reasons
    assert "no headers" in reasons["poison-no-headers"], reasons
    assert "JSON" in reasons["poison-bad-body"], reasons
    assert "NoSuchState" in reasons[poison[3].message_id], reasons
    for d in dead:
        assert d.message.headers.get(DEAD_FROM) == f"{fleet.prefix}.hops", d.message.headers

    # the execution behind the bad state fails with a clear error instead of hanging (the worker
    # dead-letters first, then records the failure)
    deadline = time.monotonic() + 15
    while True:
        async with fleet.store.transaction() as tx:
            record = await tx.get_execution(victim)
        if str(record.status) != "RUNNING" or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert str(record.status) == "FAILED", record
    assert record.error == "States.Runtime" and "NoSuchState" in (record.cause or ""), record

    # no crash loop: each poison message was handled once, the worker is alive and still works
    await asyncio.sleep(2.0)  # room for a redelivery loop to show itself
    log = worker.log()
    assert worker.alive, worker.tail()
    assert log.count("dead-lettering a message that is not a hop") == 3, worker.tail()
    assert log.count("hop NoSuchState/enter of") == 1, worker.tail()
    assert await fleet.depth(Topology.HOPS) == 0
    assert await fleet.depth(Topology.DEAD) == 0  # we consumed all of them, and nothing new came
    arns = await fleet.start_executions(range(5))
    await fleet.wait_finished(6)
    await check_fleet_run(fleet, arns)


# --------------------------------------------------------------------------- transient store errors
# A transient store failure (TransientStoreError = PostgreSQL deadlock/serialization failure,
# and likewise a lost database connection or a pool timeout) must not fail the execution: the
# hop is requeued and retried; only a hop that keeps failing is dead-lettered.


class _DeadlockOnce(Store):
    """A store whose next ``fail_next`` transactions are refused as PostgreSQL refuses a
    deadlock victim (rolled back, TransientStoreError: "run the transaction again")."""

    fail_next = 0

    @contextlib.asynccontextmanager
    async def transaction(self, *, readonly: bool = False) -> AsyncIterator[Any]:
        async with super().transaction(readonly=readonly) as tx:
            if self.fail_next > 0:
                self.fail_next -= 1
                raise TransientStoreError("retry the transaction: deadlock detected (injected by the test)")
            yield tx


async def test_transient_store_error_is_retried_not_fatal(fleet: Fleet) -> None:
    store = _DeadlockOnce(fleet.database_url)
    try:
        engine = Engine(store, fleet.transport, QueueTimers(fleet.transport))
        await engine.start()
        store.fail_next = 1  # the first hop's transaction meets a deadlock once
        arns = await fleet.start_executions(range(1))
        await fleet.wait_finished(1, timeout=30)
        async with fleet.store.transaction() as tx:
            record = await tx.get_execution(next(iter(arns)))
        dead = await fleet.depth(Topology.DEAD)
        assert (str(record.status), record.error, dead) == ("SUCCEEDED", None, 0), (
            f"a transient store error ended the execution {record.status} {record.error}: {record.cause} "
            f"and dead-lettered {dead} hop(s); expected the hop to be requeued and retried"
        )
    finally:
        await store.close()


async def test_worker_health_endpoints_follow_its_life(fleet: Fleet) -> None:
    """STATEHOP_HEALTH_PORT: /healthz answers, /readyz is 200 while consuming; the process
    exits 0 on SIGTERM (what the Kubernetes probes and terminationGracePeriod rely on)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    worker = fleet.group.spawn(
        "worker", env={"STATEHOP_HEALTH_PORT": str(port), "STATEHOP_API_HOST": "127.0.0.1"}
    )
    await worker.wait_ready()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        for _ in range(50):
            try:
                live = await client.get("/healthz")
                break
            except httpx.ConnectError:
                await asyncio.sleep(0.1)
        assert live.status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ok"}
    worker.terminate()
    assert await worker.wait_exit(30) == 0
