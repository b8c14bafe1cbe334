"""The SDK's Worker through the engine (in-memory broker, wall-clock timers).

Heartbeats keep a HeartbeatSeconds task alive (and their absence fails it), a task over
TimeoutSeconds fails with States.Timeout and its late reply is ignored, exceptions become the
Error named after their class, the task context reaches the handler, the concurrency limits
hold, a graceful stop finishes in-flight tasks and takes no new ones, and the example order
service passes every case of examples/order/cases.json.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from runtime import taskwire
from runtime.store.records import TaskTokenStatus
from runtime.transport import Topology
from services import context as task_context
from services.context import TaskContext
from services.errors import TaskError
from services.examples.order_service import make_service
from services.sdk import Service
from services.worker import Worker, wants_context
from tests.services.harness import Runtime, runtime

ROOT = Path(__file__).resolve().parents[2]


def one_task(resource: str, **fields: Any) -> dict[str, Any]:
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": True, **fields}}}


@pytest.fixture
async def rt() -> AsyncIterator[Runtime]:
    async with runtime() as r:
        yield r


async def start_worker(rt: Runtime, service: Service, **options: Any) -> Worker:
    worker = Worker(service, **options)
    await worker.attach(rt.transport)
    return worker


# ------------------------------------------------------------------ errors and context


class InventoryLocked(Exception):
    pass


async def test_exception_becomes_error_named_after_its_class(rt: Runtime) -> None:
    service = Service("errors")

    @service.task("lock")
    def lock(payload: Any) -> Any:
        raise InventoryLocked(f"sku {payload['sku']} is locked")

    @service.task("explicit")
    async def explicit(payload: Any) -> Any:
        raise TaskError("Inventory.Unavailable", "warehouse offline")

    worker = await start_worker(rt, service)
    locked = await rt.run(one_task("lock"), {"sku": "mug"})
    assert (locked.status, locked.error, locked.cause) == ("FAILED", "InventoryLocked", "sku mug is locked")
    named = await rt.run(one_task("explicit"))
    assert (named.error, named.cause) == ("Inventory.Unavailable", "warehouse offline")
    await worker.stop()


async def test_task_context_reaches_handlers(rt: Runtime) -> None:
    service = Service("ctx")
    seen: dict[str, Any] = {}

    @service.task("inspect")
    async def inspect_task(payload: Any, ctx: TaskContext) -> Any:
        seen["ctx"] = ctx
        return {"attempt": ctx.attempt, "state": ctx.state}

    @service.task("flaky")
    def flaky(payload: Any, ctx: TaskContext) -> Any:  # sync: runs in a thread
        if ctx.attempt < 2:
            raise InventoryLocked(f"attempt {ctx.attempt}")
        return {"attempt": ctx.attempt, "thread": threading.current_thread().name}

    @service.task("current")
    def uses_current(payload: Any) -> Any:  # one parameter: the context variable still works
        return {"token": task_context.current().token}

    worker = await start_worker(rt, service)
    before = time.time()
    arn = await rt.start(
        await rt.create(one_task("inspect", TimeoutSeconds=30, HeartbeatSeconds=10, ResultPath="$.r")), {}
    )
    result = await rt.wait(arn)
    assert result.status == "SUCCEEDED", result
    ctx: TaskContext = seen["ctx"]
    assert ctx.execution_arn == arn and ctx.state == "T" and ctx.resource == "inspect"
    assert ctx.attempt == 0 and len(ctx.token) >= 32 and ctx.heartbeat_seconds == 10
    assert ctx.deadline is not None and before + 29 <= ctx.deadline <= time.time() + 31
    assert ctx.idempotency_key() == f"{ctx.token}:0"

    retry = {
        "Retry": [
            {"ErrorEquals": ["InventoryLocked"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 1.0}
        ]
    }
    retried = await rt.run(one_task("flaky", **retry))
    assert retried.status == "SUCCEEDED", retried
    assert retried.output["attempt"] == 2 and retried.output["thread"].startswith("statehop-ctx")

    current = await rt.run(one_task("current"))
    assert len(current.output["token"]) >= 32
    await worker.stop()


def test_wants_context() -> None:
    def one(p: Any) -> None: ...
    def two(p: Any, c: Any = None) -> None: ...
    def star(*a: Any) -> None: ...

    assert (wants_context(one), wants_context(two), wants_context(star)) == (False, True, True)
    with pytest.raises(LookupError):
        task_context.current()


# ------------------------------------------------------------------ heartbeats


def slow_service(seconds: float, tokens: list[str] | None = None) -> Service:
    service = Service("slow")

    @service.task("slow")
    async def slow(payload: Any, ctx: TaskContext) -> Any:
        if tokens is not None:
            tokens.append(ctx.token)
        await asyncio.sleep(seconds)
        return {"slept": seconds}

    return service


async def test_automatic_heartbeats_keep_a_heartbeat_task_alive(rt: Runtime) -> None:
    worker = await start_worker(rt, slow_service(2.5))
    result = await rt.run(one_task("slow", HeartbeatSeconds=1))
    assert result.status == "SUCCEEDED", result
    assert result.output == {"slept": 2.5}
    assert worker.heartbeats >= 3  # every 0.5 s for 2.5 s
    await worker.stop()


async def test_without_heartbeats_the_task_fails_with_heartbeat_timeout(rt: Runtime) -> None:
    worker = await start_worker(rt, slow_service(2.5), auto_heartbeat=False)
    result = await rt.run(one_task("slow", HeartbeatSeconds=1))
    assert (result.status, result.error) == ("FAILED", "States.HeartbeatTimeout")
    await worker.stop()


async def test_ctx_heartbeat_from_a_sync_handler_thread(rt: Runtime) -> None:
    service = Service("manual")

    @service.task("manual")
    def manual(payload: Any, ctx: TaskContext) -> Any:
        for _ in range(8):
            time.sleep(0.3)
            ctx.heartbeat()
        return "done"

    worker = await start_worker(rt, service, auto_heartbeat=False)
    result = await rt.run(one_task("manual", HeartbeatSeconds=1))
    assert result.status == "SUCCEEDED", result
    assert worker.heartbeats >= 4
    await worker.stop()


# ------------------------------------------------------------------ timeouts


async def test_task_over_timeout_fails_and_its_late_reply_is_ignored(
    rt: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="statehop.engine")
    tokens: list[str] = []
    worker = await start_worker(rt, slow_service(2.0, tokens))
    arn = await rt.start(await rt.create(one_task("slow", TimeoutSeconds=1)))
    result = await rt.wait(arn)
    assert (result.status, result.error) == ("FAILED", "States.Timeout")
    for _ in range(100):  # the handler goes on and answers late
        if worker.answered:
            break
        await asyncio.sleep(0.05)
    assert worker.answered == 1
    await rt.transport.drain(10)
    types = [t for t, _ in await rt.history(arn)]
    assert "TaskTimedOut" in types and "TaskSucceeded" not in types
    assert types.count("ExecutionFailed") == 1
    async with rt.store.transaction() as tx:
        assert (await tx.get_task_token(tokens[0])).status == TaskTokenStatus.TIMED_OUT
    assert any("ignored" in r.getMessage() for r in caplog.records)
    assert await rt.transport.queue_depth(Topology.DEAD) == 0
    await worker.stop()


async def test_cancel_at_deadline_stops_an_async_handler(rt: Runtime) -> None:
    cancelled = asyncio.Event()
    service = Service("cancel")

    @service.task("forever")
    async def forever(payload: Any) -> Any:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    worker = await start_worker(rt, service, cancel_at_deadline=True)
    result = await rt.run(one_task("forever", TimeoutSeconds=1))
    assert (result.status, result.error) == ("FAILED", "States.Timeout")
    await asyncio.wait_for(cancelled.wait(), 5)
    await worker.stop()


async def test_a_task_past_its_deadline_is_not_run(rt: Runtime) -> None:
    calls: list[Any] = []
    service = Service("late")
    service.task("late")(calls.append)
    worker = await start_worker(rt, service)
    message = taskwire.task_message(
        {"x": 1},
        execution_arn="arn:aws:states:us-east-1:123456789012:execution:m:e",
        state="T",
        token="tok-late",
        attempt=0,
        resource="late",
        reply_to=Topology.REPLIES,
        deadline=time.time() - 1,
    )
    await rt.transport.publish(Topology.task_queue("late"), message)
    await rt.transport.drain(5)
    assert calls == [] and worker.expired == 1 and worker.answered == 0
    await worker.stop()


# ------------------------------------------------------------------ concurrency


def counting_service(name: str, tasks: list[str], seconds: float = 0.2) -> tuple[Service, dict[str, int]]:
    service = Service(name)
    stats = {"now": 0, "max": 0}

    async def work(payload: Any) -> Any:
        stats["now"] += 1
        stats["max"] = max(stats["max"], stats["now"])
        await asyncio.sleep(seconds)
        stats["now"] -= 1
        return payload

    for task in tasks:
        service.task(task)(work)
    return service, stats


def fan_out(resource: str, name: str = "Each") -> dict[str, Any]:
    """A Map over $.items calling ``resource`` once per item (state names prefixed by ``name``)."""
    task = {f"{name}W": {"Type": "Task", "Resource": resource, "End": True}}
    each = {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {"StartAt": f"{name}W", "States": task}}
    return {"StartAt": name, "States": {name: {**each, "End": True}}}


async def test_service_concurrency_limit(rt: Runtime) -> None:
    service, stats = counting_service("limited", ["a", "b"])
    worker = await start_worker(rt, service, concurrency=2)
    both = {
        "Type": "Parallel",
        "Branches": [fan_out("a", "A"), fan_out("b", "B")],
        "End": True,
    }
    result = await rt.run({"StartAt": "P", "States": {"P": both}}, {"items": list(range(4))})
    assert result.status == "SUCCEEDED", result
    assert stats["max"] == 2  # 8 tasks on two queues, never more than 2 at once
    await worker.stop()


async def test_per_task_limit(rt: Runtime) -> None:
    service, stats = counting_service("per-task", ["one-at-a-time"], 0.1)
    worker = await start_worker(rt, service, concurrency=8, limits={"one-at-a-time": 1})
    result = await rt.run(fan_out("one-at-a-time"), {"items": list(range(5))})
    assert result.status == "SUCCEEDED" and result.output == list(range(5))
    assert stats["max"] == 1
    with pytest.raises(ValueError, match="limits"):
        Worker(service, limits={"unknown": 1})
    await worker.stop()


# ------------------------------------------------------------------ graceful stop


async def test_stop_finishes_in_flight_tasks_and_takes_no_new_ones(rt: Runtime) -> None:
    started = asyncio.Event()
    service = Service("graceful")

    @service.task("work")
    async def work(payload: Any) -> Any:
        started.set()
        await asyncio.sleep(1.0)
        return {"done": payload["n"]}

    worker = await start_worker(rt, service)
    machine = await rt.create(one_task("work"))
    first = await rt.start(machine, {"n": 1})
    await asyncio.wait_for(started.wait(), 10)
    await worker.stop(timeout=10)  # returns once the in-flight task answered
    assert worker.answered == 1 and worker.in_flight == 0
    assert (await rt.wait(first)).output == {"done": 1}

    second = await rt.start(machine, {"n": 2})
    await rt.transport.drain(5)
    assert await rt.transport.queue_depth(Topology.task_queue("work")) == 1  # left for another replica
    again = await start_worker(rt, service)  # a new replica picks it up
    assert (await rt.wait(second)).output == {"done": 2}
    await again.stop()


# ------------------------------------------------------------------ the example service


ORDER_CASES = json.loads((ROOT / "examples" / "order" / "cases.json").read_text())


async def test_order_service_passes_every_order_case() -> None:
    definition = (ROOT / "examples" / "order" / "machine.asl.json").read_text()
    async with runtime(time_skip=True) as rt:
        worker = await start_worker(rt, make_service())
        machine = await rt.create(definition, "order")
        for case in ORDER_CASES:
            result = (await rt.wait(await rt.start(machine, case["input"]))).to_json()
            expect = case["expect"]
            assert {k: v for k, v in result.items() if k in expect} == expect, case["name"]
        await worker.stop()
