"""The hooks the engine, the scheduler and the service SDK call: tracing, log binding and
metrics in one call each, so the hop path pays for one context manager.

    with telemetry.observe_hop(hop) as obs:      # Engine._on_hop
        ...
        telemetry.annotate_hop(state_type=state.type)   # anywhere inside (Engine._dispatch_kind)

See docs/observability.md for where each hook goes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from time import perf_counter
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from runtime import taskwire
from runtime.telemetry import metrics, tracing
from runtime.telemetry.context import current_scope, hop_fields, trace_fields

#: Optional task message header: epoch milliseconds when the engine dispatched the task; the
#: SDK turns it into TaskScheduleTime. Not sent by the engine yet (see docs/observability.md).
H_SENT = taskwire.H_SENT  # the task message contract owns the name


def _normal_kind(kind: str) -> str:
    return "hb" if kind.startswith("hb") else kind


class HopObservation:
    """One hop: its span (current while inside), its log fields, its latency and result."""

    __slots__ = ("_otel_token", "_token", "cause", "error", "hop", "result", "span", "state_type", "t0")

    def __init__(self, hop: Any) -> None:
        self.hop = hop
        self.span: Any = None
        self.state_type: str | None = None
        self.error: str | None = None
        self.cause: str | None = None
        self.result = "applied"
        self._otel_token: Any = None
        self._token: Any = None
        self.t0 = 0.0

    def __enter__(self) -> HopObservation:
        self.t0 = perf_counter()
        span = tracing.start_hop_span(self.hop) if tracing._state.tracer is not None else None
        if span is not None:
            self.span = span
            self._otel_token = otel_context.attach(trace.set_span_in_context(span))
        self._token = current_scope.set(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        current_scope.reset(self._token)
        elapsed = perf_counter() - self.t0
        if exc is not None and not isinstance(exc, GeneratorExit):
            self.result = "error"
        span = self.span
        if span is not None:
            if self.state_type:
                span.set_attribute("statehop.state_type", self.state_type)
            if self.result != "applied":
                span.set_attribute("statehop.hop_result", self.result)
            if exc is not None:
                tracing.record_error(span, type(exc).__name__, str(exc), exc=exc)
            elif self.error:
                tracing.record_error(span, self.error, self.cause)
            otel_context.detach(self._otel_token)
            span.end()
        m = metrics.METRICS
        state_type = self.state_type or "none"
        m.hops.inc(self.result)
        m.hop_latency.observe(elapsed, state_type)
        if self.result == "applied":
            m.transitions.inc(state_type, _normal_kind(self.hop.kind))

    # -- what the engine tells us along the way

    def annotate(
        self, state_type: str | None = None, error: str | None = None, cause: str | None = None
    ) -> None:
        if state_type is not None:
            self.state_type = state_type
        if error is not None:
            self.error = error
            self.cause = cause

    def skipped(self, reason: str = "skipped") -> None:
        """The hop changed nothing (duplicate, execution ended, branch cancelled)."""
        self.result = "skipped"
        if self.span is not None:
            self.span.set_attribute("statehop.skipped", reason)

    def failed(self, exc: BaseException) -> None:
        """Processing raised (the engine caught it and dead-lettered the hop)."""
        self.result = "error"
        tracing.record_error(self.span, type(exc).__name__, str(exc), exc=exc)

    def log_fields(self) -> dict[str, Any]:
        fields = hop_fields(self.hop)
        fields["hop_kind"] = self.hop.kind
        return fields


def observe_hop(hop: Any) -> HopObservation:
    """Context manager around one hop (``Engine._on_hop``): span ``state <Name>`` (child of
    the execution root, current inside), log fields, ``statehop_hop_latency_seconds``,
    ``statehop_hops_total`` and ``statehop_state_transitions_total``."""
    return HopObservation(hop)


def annotate_hop(state_type: str | None = None, error: str | None = None, cause: str | None = None) -> None:
    """Tell the current hop its state type (and the state's error): no-op outside a hop."""
    scope = current_scope.get()
    if type(scope) is HopObservation:
        scope.annotate(state_type, error, cause)


def current_hop() -> HopObservation | None:
    scope = current_scope.get()
    return scope if type(scope) is HopObservation else None


# ---------------------------------------------------------------------------- executions


def execution_started(execution: Any) -> tracing.TraceHeaders:
    """At StartExecution, once the record exists (``created``): counts ExecutionsStarted and
    returns the root ``(traceparent, tracestate)`` the first hop must carry."""
    metrics.execution_started(str(execution.state_machine_arn))
    return tracing.execution_trace(execution)


def execution_trace(execution: Any) -> tracing.TraceHeaders:
    """The root trace headers of an existing execution (for hops built outside a hop, e.g.
    ``Engine.answer_task`` or a redrive): recomputed from the record, identical everywhere."""
    return tracing.execution_trace(execution)


def _split_result(status: str, result: Any) -> tuple[str | None, str | None]:
    if status != "SUCCEEDED" and isinstance(result, tuple | list) and len(result) == 2:
        return (
            str(result[0]) if result[0] is not None else None,
            str(result[1]) if result[1] is not None else None,
        )
    return None, None


def execution_ended(
    hop: Any,
    status: str,
    result: Any = None,
    *,
    start_time: float | None = None,
    stop_time: float | None = None,
) -> None:
    """An execution ended while processing ``hop`` (call once, after the commit).

    ``result`` is ``Step.finished[1]``: the output, or ``(error, cause)``. Exports the root span
    ``execution <name>`` and counts Executions<Status> and ExecutionTime.
    """
    error, cause = _split_result(status, result)
    if start_time is None:
        start_time = tracing.execution_start_from_tracestate(hop.tracestate)
    stop = time.time() if stop_time is None else stop_time
    tracing.end_execution_span(
        hop.execution_arn,
        status,
        traceparent=hop.traceparent,
        tracestate=hop.tracestate,
        start_time=start_time,
        stop_time=stop,
        state_machine_arn=hop.state_machine_arn,
        error=error,
        cause=cause,
        attributes={"statehop.workflow_type": hop.workflow_type},
    )
    metrics.execution_ended(status, None if start_time is None else stop - start_time, hop.state_machine_arn)


def execution_record_ended(execution: Any) -> None:
    """Same as :func:`execution_ended` from an ended store record (``stop_execution``)."""
    status = str(execution.status).rsplit(".", 1)[-1]
    headers = tracing.execution_trace(execution)
    start = tracing.execution_start_from_tracestate(headers.tracestate)
    stop_date = getattr(execution, "stop_date", None)
    stop = stop_date.timestamp() if stop_date is not None else time.time()
    tracing.end_execution_span(
        execution.arn,
        status,
        traceparent=headers.traceparent,
        tracestate=headers.tracestate,
        start_time=start,
        stop_time=stop,
        state_machine_arn=str(execution.state_machine_arn),
        error=getattr(execution, "error", None),
        cause=getattr(execution, "cause", None),
        attributes={"statehop.workflow_type": str(getattr(execution, "type", "")).rsplit(".", 1)[-1]},
    )
    metrics.execution_ended(status, None if start is None else stop - start, str(execution.state_machine_arn))


# ---------------------------------------------------------------------------- tasks (service side)


class TaskObservation:
    """One task message handled by a service: span ``task <name>`` (child of the hop span that
    dispatched it), log fields, TaskRunTime (and TaskScheduleTime when the message says when
    it was sent)."""

    __slots__ = ("_otel_token", "_token", "error", "headers", "service", "span", "t0", "task")

    def __init__(self, headers: Mapping[str, Any], task: str, service: str = "") -> None:
        self.headers = headers
        self.task = task
        self.service = service
        self.span: Any = None
        self.error: str | None = None
        self._otel_token: Any = None
        self._token: Any = None
        self.t0 = 0.0

    def _header(self, name: str) -> Any:
        return self.headers.get(name) if self.headers else None

    def __enter__(self) -> TaskObservation:
        self.t0 = perf_counter()
        sent = self._header(H_SENT)
        if type(sent) is int:
            metrics.task_schedule_time(self.task, time.time() - sent / 1000)
        if tracing._state.tracer is not None:
            attrs: dict[str, Any] = {"statehop.task": self.task, "messaging.system": "rabbitmq"}
            if self.service:
                attrs["statehop.service"] = self.service
            for header, attr in (
                ("x-sh-exec", "statehop.execution_arn"),
                ("x-sh-state", "statehop.state"),
                ("x-sh-attempt", "statehop.attempt"),
                ("x-sh-resource", "statehop.resource"),
            ):
                value = self._header(header)
                if value is not None:
                    attrs[attr] = value
            tp, arn = self._header(tracing.TRACEPARENT), self._header("x-sh-exec")
            span = tracing.start_span(
                f"task {self.task}",
                traceparent=tp if isinstance(tp, str) else None,
                fallback_arn=arn if isinstance(arn, str) else None,
                kind=SpanKind.CONSUMER,
                attributes=attrs,
            )
            if span is not None:
                self.span = span
                self._otel_token = otel_context.attach(trace.set_span_in_context(span))
        self._token = current_scope.set(self)
        return self

    def failed(self, exc: BaseException, error: str | None = None) -> None:
        """The handler raised: the task fails with ``error`` (default: the exception's class)."""
        self.error = error or type(exc).__name__
        tracing.record_error(self.span, self.error, str(exc), exc=exc)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        current_scope.reset(self._token)
        if exc is not None and self.error is None:
            self.error = type(exc).__name__
            tracing.record_error(self.span, self.error, str(exc), exc=exc)
        if self.span is not None:
            otel_context.detach(self._otel_token)
            self.span.end()
        metrics.task_run_time(self.task, perf_counter() - self.t0, "FAILED" if self.error else "SUCCEEDED")

    def log_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"task": self.task}
        for header, key in (
            ("x-sh-exec", "execution_arn"),
            ("x-sh-state", "state"),
            ("x-sh-attempt", "attempt"),
        ):
            value = self._header(header)
            if value is not None:
                fields[key] = value
        tp = self._header(tracing.TRACEPARENT)
        fields.update(trace_fields(tp if isinstance(tp, str) else None))
        return fields


def observe_task(headers: Mapping[str, Any], task: str, service: str = "") -> TaskObservation:
    """Context manager around one task in a service (``services/sdk.py``)."""
    return TaskObservation(headers, task, service)


def task_failed(error: str, cause: str | None = None, exc: BaseException | None = None) -> None:
    """Mark the current task failed (for code that catches the handler's exception deeper than
    :func:`observe_task`, e.g. ``services/worker.py``): no-op outside a task."""
    scope = current_scope.get()
    if type(scope) is TaskObservation:
        scope.error = error
        tracing.record_error(scope.span, error, cause, exc=exc)


# ---------------------------------------------------------------------------- timers


class TimerObservation:
    """A timer firing (scheduler role or in-process timers): span ``timer <state>``, log fields,
    ``statehop_timers_fired_total`` and ``statehop_timer_lag_seconds``."""

    __slots__ = ("_cm", "_token", "destination", "due", "message")

    def __init__(self, message: Any, destination: str, due: float | None) -> None:
        self.message = message
        self.destination = destination
        self.due = due
        self._cm: Any = None
        self._token: Any = None

    def __enter__(self) -> TimerObservation:
        metrics.timer_fired(None if self.due is None else time.time() - self.due)
        self._cm = tracing.timer_span(self.message, self.destination, self.due)
        self._cm.__enter__()
        self._token = current_scope.set(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        current_scope.reset(self._token)
        self._cm.__exit__(exc_type, exc, tb)

    def log_fields(self) -> dict[str, Any]:
        headers = getattr(self.message, "headers", None) or {}
        fields: dict[str, Any] = {"timer": self.destination}
        for header, key in (
            ("x-sh-exec", "execution_arn"),
            ("x-sh-state", "state"),
            ("x-sh-kind", "hop_kind"),
        ):
            value = headers.get(header)
            if value is not None:
                fields[key] = value
        tp = headers.get(tracing.TRACEPARENT)
        fields.update(trace_fields(tp if isinstance(tp, str) else None))
        return fields


def observe_timer(message: Any, destination: str, due: float | None = None) -> TimerObservation:
    """Context manager around publishing a due timer's message (``due``: epoch seconds)."""
    return TimerObservation(message, destination, due)


__all__ = [
    "H_SENT",
    "HopObservation",
    "TaskObservation",
    "TimerObservation",
    "annotate_hop",
    "current_hop",
    "execution_ended",
    "execution_record_ended",
    "execution_started",
    "execution_trace",
    "observe_hop",
    "observe_task",
    "observe_timer",
    "task_failed",
]
