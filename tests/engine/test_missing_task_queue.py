"""A Task whose service queue was never declared fails at once; one whose service is only down
waits (issue #4: "an unmapped resource fails the state with a clear error, never a hang").

Server mode has no list of known services (``ResourceMap(known_services=None)``), so the
engine asks the broker whether the task queue exists before it commits the dispatch. Services
declare their own queues when they attach; the engine never declares one. Every test runs on
the in-memory transport and on real RabbitMQ (unique queue prefix, deleted afterwards).

A missing queue is ``States.Runtime``, the error the embedded mode already gives an unmapped
resource. As on AWS, ``States.Runtime`` is terminal: neither ``States.ALL`` nor an explicit
``States.Runtime`` Retry/Catch handles it (runtime/asl/interpreter.py ``_handle_error``), so
the execution fails with the cause that says what to start or map.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest

from runtime.engine.clock import Clock
from runtime.engine.engine import BUILTIN_SERVICE, Engine
from runtime.engine.resources import ResourceMap
from runtime.engine.timers import MemoryTimers
from runtime.store import Store
from runtime.transport import Topology, Transport, create_transport
from runtime.transport.memory import MemoryTransport
from services.sdk import Service
from services.worker import Worker
from tests.services.harness import Runtime, runtime

#: bound on waiting for an execution that must end by itself; a hang fails the test with
#: TimeoutError long before this on a healthy machine (the tasks here have no TimeoutSeconds)
WAIT = 20.0


@pytest.fixture(params=["memory", pytest.param("rabbitmq", marks=pytest.mark.integration)])
async def rt(request: pytest.FixtureRequest) -> AsyncIterator[Runtime]:
    url = "memory://" if request.param == "memory" else request.getfixturevalue("amqp_url")
    async with runtime(url) as r:
        yield r


def one_task(resource: str, **fields: Any) -> dict[str, Any]:
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": True, **fields}}}


def echo_service(name: str, calls: list[Any] | None = None) -> Service:
    service = Service(f"svc-{name}")

    @service.task(name)
    def echo(payload: Any) -> Any:
        if calls is not None:
            calls.append(payload)
        return {"echo": payload}

    return service


async def attach(rt: Runtime, service: Service, transport: Transport | None = None) -> Worker:
    worker = Worker(service, concurrency=4)
    await worker.attach(transport or rt.transport)
    return worker


async def poll(predicate: Any, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def status(rt: Runtime, arn: str) -> str:
    async with rt.store.transaction() as tx:
        return str((await tx.get_execution(arn)).status)


def assert_missing_queue_cause(rt: Runtime, cause: str | None, service: str, resource: str | None) -> None:
    assert cause is not None
    assert f"'{rt.topology.prefix}.tasks.{service}'" in cause, cause  # the broker's queue name
    assert f"service '{service}'" in cause, cause
    if resource is not None:
        assert f"resource '{resource}'" in cause, cause
    assert "Start a service" in cause and "resource map" in cause, cause  # the two fixes


# ------------------------------------------------------------------ (a) never declared: fails at once


@pytest.mark.parametrize(
    "resource",
    [
        "nobody-home",
        "arn:aws:lambda:us-east-1:123456789012:function:nobody-home",
        "arn:aws:states:::lambda:invoke",
        "arn:aws:states:::lambda:invoke.waitForTaskToken",
    ],
)
async def test_task_for_a_never_declared_queue_fails_at_once(rt: Runtime, resource: str) -> None:
    fields: dict[str, Any] = {}
    if resource.startswith("arn:aws:states:::lambda:invoke"):
        fields["Parameters"] = {"FunctionName": "nobody-home", "Payload": {"x": 1}}
    if resource.endswith("waitForTaskToken"):
        fields["Parameters"]["Payload"] = {"token.$": "$$.Task.Token"}
    started = time.monotonic()
    result = await rt.run(one_task(resource, **fields), {"x": 1}, timeout=WAIT)
    elapsed = time.monotonic() - started
    assert (result.status, result.error) == ("FAILED", "States.Runtime"), result
    assert_missing_queue_cause(rt, result.cause, "nobody-home", resource)
    assert elapsed < WAIT / 2, f"took {elapsed:.1f}s: not 'at once'"
    history = await rt.history(result.arn)
    failed = [d for t, d in history if t == "TaskFailed"]
    assert len(failed) == 1 and failed[0]["error"] == "States.Runtime"
    assert "TaskScheduled" not in [t for t, _ in history]  # nothing was dispatched
    # the check declares nothing: the queue is still missing, so a publish is refused
    assert not await rt.transport.queue_exists(Topology.task_queue("nobody-home"))


@pytest.mark.parametrize("errors", [["States.ALL"], ["States.Runtime"]])
async def test_missing_queue_is_terminal_like_every_states_runtime(rt: Runtime, errors: list[str]) -> None:
    """Retry and Catch apply through the interpreter exactly as for any other error: for
    States.Runtime that means neither catches it (AWS: "A States.Runtime error isn't
    retriable, and will always cause the execution to fail")."""
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "nobody-home",
                "Retry": [{"ErrorEquals": errors, "IntervalSeconds": 1, "MaxAttempts": 3}],
                "Catch": [{"ErrorEquals": errors, "ResultPath": "$.error", "Next": "Handled"}],
                "End": True,
            },
            "Handled": {"Type": "Pass", "End": True},
        },
    }
    result = await rt.run(definition, {}, timeout=WAIT)
    assert (result.status, result.error) == ("FAILED", "States.Runtime"), result
    assert_missing_queue_cause(rt, result.cause, "nobody-home", "nobody-home")
    types = [t for t, _ in await rt.history(result.arn)]
    assert types.count("TaskFailed") == 1  # no retry
    assert "PassStateEntered" not in types  # not caught


async def test_a_service_attaching_later_is_found_by_the_next_execution(rt: Runtime) -> None:
    """A negative answer is never cached: once a service attached, dispatch goes through."""
    machine = await rt.create(one_task("late-comer"))
    first = await rt.wait(await rt.start(machine, {"n": 1}), WAIT)
    assert (first.status, first.error) == ("FAILED", "States.Runtime")
    worker = await attach(rt, echo_service("late-comer"))
    second = await rt.wait(await rt.start(machine, {"n": 2}), WAIT)
    assert (second.status, second.output) == ("SUCCEEDED", {"echo": {"n": 2}})
    await worker.stop()


# ------------------------------------------------------------------ (b) declared, no consumer: waits


async def test_task_for_a_service_that_is_down_waits_and_completes_when_it_attaches(rt: Runtime) -> None:
    calls: list[Any] = []
    queue = Topology.task_queue("sometimes-down")
    other = await rt.new_transport()  # the service "in another process"
    try:
        first = await attach(rt, echo_service("sometimes-down", calls), other)
        await first.stop()  # the service went down: its queue stays, with no consumer
        assert await rt.transport.queue_exists(queue)

        arn = await rt.start(await rt.create(one_task("sometimes-down")), {"n": 7})

        async def queued() -> bool:
            return await rt.transport.queue_depth(queue) == 1

        await poll(queued, "the task message to wait in its queue")
        await asyncio.sleep(0.3)  # and it keeps waiting: no failure, no timeout
        assert await status(rt, arn) == "RUNNING"
        assert calls == []

        second = await attach(rt, echo_service("sometimes-down", calls), other)  # back up
        result = await rt.wait(arn, WAIT)
        assert (result.status, result.output) == ("SUCCEEDED", {"echo": {"n": 7}})
        assert calls == [{"n": 7}]
        await second.stop()
    finally:
        if other is not rt.transport:
            await rt.transport.ensure_queue(queue)  # declared by rt too, so its teardown deletes it
            await other.close()


# ------------------------------------------------------------------ (c) the normal path


async def test_task_for_an_attached_service_runs_as_before(rt: Runtime) -> None:
    calls: list[Any] = []
    worker = await attach(rt, echo_service("present", calls))
    machine = await rt.create(one_task("present", Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}]))
    for n in range(3):
        result = await rt.wait(await rt.start(machine, {"n": n}), WAIT)
        assert (result.status, result.output) == ("SUCCEEDED", {"echo": {"n": n}})
    assert calls == [{"n": 0}, {"n": 1}, {"n": 2}]
    await worker.stop()


async def test_builtin_integrations_are_dispatched_when_the_worker_runs_them(rt: Runtime) -> None:
    """The harness attaches the built-in service as every worker does (runtime/roles.py)."""
    definition = one_task(
        "arn:aws:states:::events:putEvents",
        Parameters={"Entries": [{"Source": "tests", "DetailType": "t", "Detail": {"a": 1}}]},
    )
    result = await rt.run(definition, {}, timeout=WAIT)
    assert result.status == "SUCCEEDED", result
    assert result.output["FailedEntryCount"] == 0


# ------------------------------------------------------------------ a queue deleted after the check


async def delete_queue(rt: Runtime, logical: str) -> None:
    if isinstance(rt.transport, MemoryTransport):
        del rt.transport.broker.queues[logical]
        return
    connection = await aio_pika.connect(rt.amqp_url)
    try:
        channel = await connection.channel()
        await channel.queue_delete(rt.topology.queue_name(logical))
    finally:
        await connection.close()


async def test_a_queue_deleted_after_dispatch_checks_fails_the_task_instead_of_blocking(rt: Runtime) -> None:
    """The engine remembers a queue it found; if an operator deletes the queue later, the
    publish is unroutable: the task fails with the same cause, and nothing is left waiting."""
    queue = Topology.task_queue("deleted-later")
    worker = await attach(rt, echo_service("deleted-later"))
    machine = await rt.create(one_task("deleted-later"))
    ok = await rt.wait(await rt.start(machine, {"n": 1}), WAIT)
    assert ok.status == "SUCCEEDED"
    await worker.stop()
    await delete_queue(rt, queue)
    assert not await rt.transport.queue_exists(queue)

    failed = await rt.wait(await rt.start(machine, {"n": 2}), WAIT)
    assert (failed.status, failed.error) == ("FAILED", "States.Runtime"), failed
    assert_missing_queue_cause(rt, failed.cause, "deleted-later", None)
    assert "was deleted after the engine found it" in (failed.cause or "")
    # dispatched (the queue was known), then failed by the unroutable publish's answer
    types = [t for t, _ in await rt.history(failed.arn)]
    assert types[types.index("TaskScheduled") :].count("TaskFailed") == 1
    # the outbox relay republishing that message is harmless (a late failure, ignored)
    await rt.engine.relay_outbox(orphan_age=0)
    third = await rt.wait(await rt.start(machine, {"n": 3}), WAIT)  # re-checked: fails at dispatch
    assert (third.status, third.error) == ("FAILED", "States.Runtime")
    assert "TaskScheduled" not in [t for t, _ in await rt.history(third.arn)]


# ------------------------------------------------------------------ no built-in service in this deployment


async def test_builtin_resource_without_the_builtin_service_fails_clearly() -> None:
    store = Store("sqlite+aiosqlite:///:memory:")
    await store.migrate()
    transport = create_transport("memory://", Topology(prefix="nobuiltin"))
    await transport.start()
    timers = MemoryTimers(transport, Clock())
    timers.start()
    engine = Engine(store, transport, timers, resources=ResourceMap({}))
    await engine.start()  # no BuiltinService attached: e.g. an API-only process
    try:
        async with store.transaction() as tx:
            machine = await tx.create_state_machine(
                "nobuiltin",
                '{"StartAt": "T", "States": {"T": {"Type": "Task", '
                '"Resource": "arn:aws:states:::http:invoke", '
                '"Parameters": {"ApiEndpoint": "http://127.0.0.1:9/", "Method": "GET"}, "End": true}}}',
                role_arn="arn:aws:iam::123456789012:role/t",
            )
        execution = await engine.start_execution(machine.arn, {})
        record = await engine.wait(execution.arn, WAIT)
        assert (str(record.status), record.error) == ("FAILED", "States.Runtime")
        assert f"'nobuiltin.tasks.{BUILTIN_SERVICE}'" in record.cause, record.cause
        assert "arn:aws:states:::http:invoke" in record.cause and "statehop worker" in record.cause
    finally:
        await timers.stop()
        await transport.close()
        await store.close()
