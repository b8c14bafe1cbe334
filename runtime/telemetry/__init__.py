"""Observability: one OpenTelemetry trace per execution, logs joined by execution and trace
id, Prometheus metrics named after AWS/States, and EventBridge-shaped status change events.

A role process calls :func:`setup` once at start (and ``shutdown()`` on exit); the engine,
the scheduler and the service SDK call the hooks re-exported here. Everything is a cheap
no-op until configured. See docs/observability.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.telemetry import metrics
from runtime.telemetry.context import bind, bind_hop, current_fields
from runtime.telemetry.events import routing_key, status_change, status_change_event
from runtime.telemetry.hooks import (
    HopObservation,
    annotate_hop,
    current_hop,
    execution_ended,
    execution_record_ended,
    execution_started,
    execution_trace,
    observe_hop,
    observe_task,
    observe_timer,
    task_failed,
)
from runtime.telemetry.logging import configure_logging, get_logger
from runtime.telemetry.tracing import (
    TraceHeaders,
    current_traceparent,
    end_execution_span,
    extract,
    force_flush,
    hop_span,
    inject,
    setup_tracing,
    shutdown_tracing,
    start_execution_trace,
    timer_span,
    tracing_enabled,
)


@dataclass
class Telemetry:
    """What :func:`setup` turned on; ``shutdown()`` flushes spans and stops the metrics server."""

    tracing: bool
    metrics_server: Any = None

    def shutdown(self) -> None:
        if self.metrics_server is not None:
            self.metrics_server.shutdown()
            self.metrics_server = None
        shutdown_tracing()


def setup(
    role: str = "statehop",
    *,
    log_format: str | None = None,
    log_level: str | int | None = None,
    metrics_port: int | None = None,
    configure_logs: bool = True,
) -> Telemetry:
    """Configure logs (``STATEHOP_LOG_FORMAT``/``_LEVEL``), tracing (``OTEL_*``) and the
    ``/metrics`` server (``STATEHOP_METRICS_PORT``) for one process; ``role`` names the service
    (``statehop-worker``) unless ``OTEL_SERVICE_NAME`` is set."""
    service = role if role.startswith("statehop") else f"statehop-{role}"
    if configure_logs:
        configure_logging(log_format, log_level, service=service)
    enabled = setup_tracing(service)
    server = metrics.start_metrics_server(metrics_port)
    return Telemetry(enabled, server)


__all__ = [
    "HopObservation",
    "Telemetry",
    "TraceHeaders",
    "annotate_hop",
    "bind",
    "bind_hop",
    "configure_logging",
    "current_fields",
    "current_hop",
    "current_traceparent",
    "end_execution_span",
    "execution_ended",
    "execution_record_ended",
    "execution_started",
    "execution_trace",
    "extract",
    "force_flush",
    "get_logger",
    "hop_span",
    "inject",
    "metrics",
    "observe_hop",
    "observe_task",
    "observe_timer",
    "routing_key",
    "setup",
    "setup_tracing",
    "shutdown_tracing",
    "start_execution_trace",
    "status_change",
    "status_change_event",
    "task_failed",
    "timer_span",
    "tracing_enabled",
]
