"""Measure what the hop hooks cost: ``python -m runtime.telemetry.bench``.

Prints microseconds per hop for :func:`runtime.telemetry.observe_hop` (+ ``annotate_hop``
and ``current_traceparent``, as the engine calls them) with tracing off, and with tracing on
exporting to a no-op exporter through the batch processor (the production setup). A figure
to read, never a test assertion.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from runtime import telemetry
from runtime.hop import Hop

ARN = "arn:aws:states:us-east-1:123456789012:execution:Bench:run-1"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:Bench"


class _Discard(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _per_hop(hop: Hop, n: int) -> float:
    """CPU µs per hop (process time: other processes on a busy machine do not count; the
    batch processor's export thread does)."""
    observe, annotate, current = telemetry.observe_hop, telemetry.annotate_hop, telemetry.current_traceparent
    start = time.process_time()
    for _ in range(n):
        with observe(hop):
            annotate(state_type="Task")
            current(hop.traceparent)
    return (time.process_time() - start) / n * 1e6


def _best(hop: Hop, n: int, repeat: int) -> float:
    _per_hop(hop, 1000)
    return min(_per_hop(hop, n) for _ in range(repeat))


def measure(n: int = 20_000, repeat: int = 5) -> dict[str, float]:
    """``{"off": µs, "on": µs}`` per hop, best of ``repeat`` runs of ``n`` hops."""
    telemetry.shutdown_tracing()
    tp, ts = telemetry.start_execution_trace(ARN)
    hop = Hop(ARN, MACHINE, "Charge", {"x": 1}, traceparent=tp, tracestate=ts)
    off = _best(hop, n, repeat)
    telemetry.setup_tracing("bench", exporter=_Discard(), install_global=False)
    on = _best(hop, n, repeat)
    telemetry.shutdown_tracing()
    return {"off": off, "on": on}


def main() -> None:
    result = measure()
    print(f"hop hooks, tracing off: {result['off']:.2f} µs/hop")
    print(f"hop hooks, tracing on (batch processor, discarding exporter): {result['on']:.2f} µs/hop")


if __name__ == "__main__":
    main()
