"""services/sdk.py: a task runs in a span that is the child of the hop span that sent it, and
its log lines carry the execution and the trace."""

from __future__ import annotations

import asyncio
import logging

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from runtime import taskwire, telemetry
from runtime.hop import Hop
from runtime.transport.base import Delivery, Message, Topology
from runtime.transport.memory import MemoryTransport
from services.sdk import Service
from tests.telemetry.conftest import MACHINE_ARN, CapturedLogs, execution_record

log = logging.getLogger("payments")


class CardDeclined(Exception):
    pass


async def test_task_span_and_logs_in_the_service(spans: InMemorySpanExporter, logs: CapturedLogs) -> None:
    service = Service("payments-service")

    @service.task("charge")
    async def charge(payload: dict) -> dict:
        log.info("charging %s", payload["card"])
        return {"chargeId": "ch_1"}

    @service.task("decline")
    def decline(payload: dict) -> None:
        log.info("declining")
        raise CardDeclined("card declined")

    transport = MemoryTransport()
    await transport.start()
    replies: asyncio.Queue[Message] = asyncio.Queue()

    async def on_reply(delivery: Delivery) -> None:
        await replies.put(delivery.message)
        await delivery.ack()

    try:
        await transport.consume(Topology.REPLIES, on_reply)
        await service.attach(transport)
        record = execution_record()
        tp, ts = telemetry.execution_started(record)
        hop = Hop(record.arn, MACHINE_ARN, "Charge", {}, traceparent=tp, tracestate=ts)
        sent = {}
        for task in ("charge", "decline"):
            with telemetry.observe_hop(hop):
                message = taskwire.task_message(
                    {"card": "4242"},
                    execution_arn=record.arn,
                    state="Charge",
                    token=f"tok-{task}",
                    attempt=0,
                    resource=task,
                    reply_to=Topology.REPLIES,
                    traceparent=telemetry.current_traceparent(hop.traceparent),
                )
                sent[task] = message.headers["traceparent"]
            await transport.publish(Topology.task_queue(task), message)
        answers = {}
        for _ in range(2):
            reply = await asyncio.wait_for(replies.get(), 10)
            answers[reply.correlation_id] = reply.headers[taskwire.H_REPLY]
    finally:
        await transport.close()
    assert answers == {"tok-charge": "success", "tok-decline": "failure"}

    by_name = {s.name: s for s in spans.get_finished_spans() if s.name.startswith("task ")}
    for task in ("charge", "decline"):
        span = by_name[f"task {task}"]
        parent_span = int(sent[task].split("-")[2], 16)
        assert span.parent.span_id == parent_span  # the hop span that dispatched it
        assert span.context.trace_id == int(tp.split("-")[1], 16)
        assert span.attributes["statehop.execution_arn"] == record.arn
        assert span.attributes["statehop.state"] == "Charge"
        assert span.attributes["statehop.service"] == "payments-service"
    assert by_name["task decline"].status.status_code is StatusCode.ERROR
    assert by_name["task decline"].attributes["statehop.error"] == "CardDeclined"

    for message, task in (("charging 4242", "charge"), ("declining", "decline")):
        line = logs.find(message)  # the sync handler ran in a thread: the context went with it
        assert line["execution_arn"] == record.arn and line["state"] == "Charge"
        assert line["task"] == task
        assert line["trace_id"] == f"{by_name[f'task {task}'].context.trace_id:032x}"
        assert line["span_id"] == f"{by_name[f'task {task}'].context.span_id:016x}"
    run_time = telemetry.metrics.METRICS.task_run_time
    assert run_time.count("charge", "SUCCEEDED") == 1 and run_time.count("decline", "FAILED") == 1
