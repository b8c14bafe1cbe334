"""A Task service in a process of its own, for the cross-process tracing tests.

    python -m tests.telemetry.service_process AMQP_URL PREFIX SPANS_FILE LOGS_FILE

Built on services/sdk.py like any Python service: tasks ``calc`` (adds) and ``decline``
(raises). It exports its spans as JSON lines to SPANS_FILE (synchronously, so a span is on
disk when it ends), writes JSON logs to LOGS_FILE, prints ``ready`` once consuming, and runs
until its standard input closes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from runtime import telemetry
from runtime.transport import Topology, create_transport
from services.sdk import Service

log = logging.getLogger("calc-service")


class CardDeclined(Exception):
    pass


class JsonLinesExporter(SpanExporter):
    """One JSON object per span: what the test needs to rebuild the trace."""

    def __init__(self, path: str) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with open(self.path, "a") as out:
            for span in spans:
                ctx = span.get_span_context()
                out.write(
                    json.dumps(
                        {
                            "name": span.name,
                            "trace_id": f"{ctx.trace_id:032x}",
                            "span_id": f"{ctx.span_id:016x}",
                            "parent_id": f"{span.parent.span_id:016x}" if span.parent else None,
                            "attributes": dict(span.attributes or {}),
                            "status": span.status.status_code.name,
                            "service": span.resource.attributes.get("service.name"),
                        }
                    )
                    + "\n"
                )
        return SpanExportResult.SUCCESS


service = Service("calc-service")


@service.task("calc")
async def calc(payload: dict[str, int]) -> dict[str, int]:
    log.info("adding %s and %s", payload["a"], payload["b"])
    return {"sum": payload["a"] + payload["b"]}


@service.task("decline")
def decline(payload: object) -> None:  # a sync handler: runs in a thread, keeps the context
    log.info("declining")
    raise CardDeclined("card declined")


async def main(amqp_url: str, prefix: str, spans_file: str, logs_file: str) -> None:
    with open(logs_file, "a", buffering=1) as logs:
        telemetry.configure_logging("json", "INFO", stream=logs, service="calc-service")
        telemetry.setup_tracing("calc-service", exporter=JsonLinesExporter(spans_file), batch=False)
        transport = create_transport(amqp_url, Topology(prefix=prefix), connection_name="statehop-test-calc")
        await transport.start()
        try:
            await service.attach(transport)
            print("ready", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until stdin closes
        finally:
            await transport.close()
            telemetry.shutdown_tracing()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
