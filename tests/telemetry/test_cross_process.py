"""One trace across processes: the engine side here, a service built on services/sdk.py in a
subprocess, RabbitMQ between them. The service exports its spans to a file; the spans of both
processes must form one trace (root "execution", "state" spans under it, the "task" span under
the hop span that dispatched it), and both processes' logs must carry that trace id.

Two tests:

- ``test_hooks_across_processes`` drives the hooks exactly where the engine calls them
  (docs/observability.md), so it holds whatever state the engine is in;
- ``test_engine_execution_is_one_trace`` runs a real execution through ``Engine``; it can only
  pass once the engine calls the hooks, and is an expected failure until then.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from runtime import taskwire, telemetry
from runtime.hop import Hop
from runtime.transport import Topology, Transport, create_transport
from runtime.transport.base import Delivery, Message
from tests.telemetry.conftest import MACHINE_ARN, CapturedLogs, execution_record

pytest_plugins = ["tests.support.broker"]
pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ServiceProcess:
    proc: subprocess.Popen[bytes]
    spans_file: Path
    logs_file: Path

    def spans(self) -> list[dict[str, Any]]:
        if not self.spans_file.exists():
            return []
        return [json.loads(line) for line in self.spans_file.read_text().splitlines() if line.strip()]

    def logs(self) -> list[dict[str, Any]]:
        if not self.logs_file.exists():
            return []
        return [json.loads(line) for line in self.logs_file.read_text().splitlines() if line.startswith("{")]

    async def wait_spans(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(spans := self.spans()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"service exported {len(spans)} span(s), expected {count}: {spans}")
            await asyncio.sleep(0.05)
        return spans


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def service_process(amqp_url: str, prefix: str, tmp_path: Path) -> Iterator[ServiceProcess]:
    spans_file, logs_file = tmp_path / "service-spans.jsonl", tmp_path / "service-logs.jsonl"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.telemetry.service_process",
            amqp_url,
            prefix,
            str(spans_file),
            str(logs_file),
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "ready" once it consumes (bounded by the test timeout)
        if line.strip() != b"ready":
            raise AssertionError(f"service process did not start: {line!r} {proc.stdout.read()!r}")
        yield ServiceProcess(proc, spans_file, logs_file)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()  # the service stops when its stdin closes
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest_asyncio.fixture
async def transport(amqp_url: str, prefix: str) -> AsyncIterator[Transport]:
    transport = create_transport(
        amqp_url, Topology(prefix=prefix), publish_timeout=15.0, connection_name="statehop-test-telemetry"
    )
    await transport.start()
    try:
        yield transport
    finally:
        try:
            await transport.delete_topology()
        finally:
            await transport.close()


def _ids(span: Any) -> tuple[str, str, str | None]:
    parent = f"{span.parent.span_id:016x}" if span.parent else None
    return f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}", parent


async def test_hooks_across_processes(
    spans: InMemorySpanExporter, logs: CapturedLogs, transport: Transport, service_process: ServiceProcess
) -> None:
    replies: asyncio.Queue[Message] = asyncio.Queue()

    async def on_reply(delivery: Delivery) -> None:
        await replies.put(delivery.message)
        await delivery.ack()

    await transport.consume(Topology.REPLIES, on_reply)
    record = execution_record(f"x-{uuid.uuid4().hex[:8]}")

    # Engine.start_execution
    tp, ts = telemetry.execution_started(record)
    first = Hop(record.arn, MACHINE_ARN, "Add", {"input": {"a": 2, "b": 3}}, traceparent=tp, tracestate=ts)

    # Engine._on_hop -> process -> _dispatch_kind -> _send_task -> _flush
    with telemetry.observe_hop(first):
        telemetry.annotate_hop(state_type="Task")
        message = taskwire.task_message(
            {"a": 2, "b": 3},
            execution_arn=record.arn,
            state="Add",
            token="token-1",
            attempt=0,
            resource="calc",
            reply_to=Topology.REPLIES,
            traceparent=telemetry.current_traceparent(first.traceparent),
        )
        telemetry.metrics.task_scheduled("calc")
        logging_line = "dispatching Add"
        telemetry.get_logger("statehop.engine").info(logging_line)
        await transport.publish(Topology.task_queue("calc"), message)

    reply = await asyncio.wait_for(replies.get(), 30)
    assert reply.headers[taskwire.H_REPLY] == taskwire.SUCCESS
    assert json.loads(reply.body) == {"sum": 5}

    # Engine.answer_task -> the complete hop carries the root context, recomputed from the record
    tp2, ts2 = telemetry.execution_trace(record)
    assert (tp2, ts2) == (tp, ts)
    complete = Hop(
        record.arn,
        MACHINE_ARN,
        "Add",
        {"result": {"sum": 5}},
        seq=1,
        kind="complete",
        traceparent=tp2,
        tracestate=ts2,
    )
    with telemetry.observe_hop(complete):
        telemetry.annotate_hop(state_type="Task")
    telemetry.execution_ended(complete, "SUCCEEDED", {"sum": 5})  # Engine._flush, after the commit

    (task_span,) = await service_process.wait_spans(1)
    local = {s.name: s for s in spans.get_finished_spans() if s.name != "state Add"}
    hop_spans = sorted(
        (s for s in spans.get_finished_spans() if s.name == "state Add"), key=lambda s: s.start_time
    )
    root = local[f"execution {record.name}"]
    trace_id, root_id, root_parent = _ids(root)
    assert root_parent is None
    for hop_span in hop_spans:
        assert _ids(hop_span)[0] == trace_id and _ids(hop_span)[2] == root_id
    # the task span, exported by the other process, hangs under the dispatching hop span
    assert task_span["name"] == "task calc"
    assert task_span["service"] == "calc-service"
    assert task_span["trace_id"] == trace_id
    assert task_span["parent_id"] == _ids(hop_spans[0])[1]
    assert task_span["attributes"]["statehop.execution_arn"] == record.arn
    # logs of both processes carry the trace id
    service_line = next(line for line in service_process.logs() if line["message"] == "adding 2 and 3")
    assert service_line["trace_id"] == trace_id
    assert service_line["span_id"] == task_span["span_id"]
    assert service_line["execution_arn"] == record.arn and service_line["state"] == "Add"
    engine_line = logs.find(logging_line)
    assert engine_line["trace_id"] == trace_id and engine_line["span_id"] == _ids(hop_spans[0])[1]


# ---------------------------------------------------------------------------- the real engine

MACHINE = {
    "StartAt": "Init",
    "States": {
        "Init": {"Type": "Pass", "Parameters": {"a.$": "$.a", "b": 3}, "Next": "Add"},
        "Add": {"Type": "Task", "Resource": "calc", "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}


async def test_engine_execution_is_one_trace(
    spans: InMemorySpanExporter, logs: CapturedLogs, transport: Transport, service_process: ServiceProcess
) -> None:
    from runtime.engine.clock import Clock
    from runtime.engine.engine import Engine
    from runtime.engine.timers import MemoryTimers
    from runtime.store import Store

    store = Store("sqlite+aiosqlite:///:memory:", region="eu-west-1", account="123456789012")
    await store.migrate()
    timers = MemoryTimers(transport, Clock())
    timers.start()
    try:
        engine = Engine(store, transport, timers, region="eu-west-1")
        await engine.start()
        async with store.transaction() as tx:
            machine = await tx.create_state_machine(
                "Calc", json.dumps(MACHINE), role_arn="arn:aws:iam::123456789012:role/statehop"
            )
        execution = await engine.start_execution(str(machine.arn), {"a": 2}, "traced-1")
        record = await engine.wait(execution.arn, 60)
        assert str(record.status).endswith("SUCCEEDED") and json.loads(record.output) == {"sum": 5}
        await transport.stop_consuming(10)
    finally:
        await timers.stop()
        await store.close()

    (task_span,) = await service_process.wait_spans(1)
    finished = spans.get_finished_spans()
    root = next(s for s in finished if s.name == "execution traced-1")
    trace_id, root_id, _ = _ids(root)
    states = [s for s in finished if s.name.startswith("state ")]
    assert {s.name for s in states} == {"state Init", "state Add", "state Done"}
    for span in states:
        assert _ids(span)[0] == trace_id and _ids(span)[2] == root_id
    dispatching = [
        s for s in states if s.name == "state Add" and s.attributes.get("statehop.hop_kind") == "enter"
    ]
    assert task_span["trace_id"] == trace_id
    assert task_span["parent_id"] == _ids(dispatching[0])[1]
    service_line = next(line for line in service_process.logs() if line["message"] == "adding 2 and 3")
    assert service_line["trace_id"] == trace_id
