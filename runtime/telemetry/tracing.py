"""OpenTelemetry tracing: one trace per execution, a span per hop, per task and per timer.

An execution lives in many processes for as long as it runs, so its root span cannot be an
open span object somewhere. Instead the root's identity is *computed*:

- ``trace_id`` is the caller's trace (a ``traceparent`` or X-Ray ``traceHeader`` given to
  StartExecution) or else derived from the execution ARN; ``span_id`` is derived from the
  execution ARN (and the redrive count). Any process holding the execution record can
  recompute it: :func:`execution_trace`.
- Every hop carries that root context in ``traceparent`` (so hop spans are siblings under
  the root: a timeline of states), plus ``tracestate: statehop=s:<start ms>[;p:<caller span>]``
  so whoever ends the execution can export the root span with its true start and parent.
- The process that ends the execution (``Engine._flush``/``stop_execution``) exports the root
  span once, with the precomputed ids, the execution's start time and the stop time:
  :func:`end_execution_span`. Until then a trace viewer shows the hop spans under a parent it
  has not received yet.

Everything is a cheap no-op until :func:`setup_tracing` enabled an exporter.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import os
import time
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any, NamedTuple

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)

log = logging.getLogger("statehop.telemetry")

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
#: Our member of the W3C ``tracestate`` list: ``s:<execution start, epoch ms>;p:<caller span id>``.
VENDOR = "statehop"
INSTRUMENTATION = "statehop"

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)
_MAX_ATTR = 2048  # error causes can be long; traces need only their start


class TraceHeaders(NamedTuple):
    """The ``traceparent``/``tracestate`` pair a hop carries."""

    traceparent: str
    tracestate: str | None


class _State:
    __slots__ = ("enabled", "provider", "tracer")

    def __init__(self) -> None:
        self.enabled = False
        self.provider: TracerProvider | None = None
        self.tracer: trace.Tracer | None = None


_state = _State()
_forced_ids: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "statehop_forced_ids", default=None
)


class ExecutionIdGenerator(IdGenerator):
    """Random ids, except while the root span of an execution is exported with its own ids."""

    def __init__(self) -> None:
        self._random = RandomIdGenerator()

    def generate_span_id(self) -> int:
        forced = _forced_ids.get()
        return forced[1] if forced is not None else self._random.generate_span_id()

    def generate_trace_id(self) -> int:
        forced = _forced_ids.get()
        return forced[0] if forced is not None else self._random.generate_trace_id()


# ---------------------------------------------------------------------------- setup


def _env_flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() == "true"


def exporter_from_env(env: Mapping[str, str] | None = None) -> SpanExporter | None:
    """The span exporter OTEL_TRACES_EXPORTER asks for (``otlp``, ``console`` or ``none``).

    Unlike the OTel default (``otlp``), tracing stays off unless an exporter or an OTLP
    endpoint is configured, so a laptop without a collector does not log export errors.
    """
    env = os.environ if env is None else env
    if _env_flag(env, "OTEL_SDK_DISABLED"):
        return None
    name = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if not name:
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        name = "otlp" if endpoint else "none"
    name = name.split(",")[0].strip()
    if name in ("none", ""):
        return None
    if name == "console":
        return ConsoleSpanExporter()
    if name == "otlp":
        protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        if protocol and protocol != "http/protobuf":
            log.warning("OTEL_EXPORTER_OTLP_PROTOCOL=%s is not installed; using http/protobuf", protocol)
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()  # endpoint, headers, timeout from OTEL_EXPORTER_OTLP_* env vars
    log.warning("OTEL_TRACES_EXPORTER=%s is not supported (otlp, console, none): tracing off", name)
    return None


def setup_tracing(
    service_name: str | None = None,
    *,
    exporter: SpanExporter | None = None,
    batch: bool = True,
    env: Mapping[str, str] | None = None,
    install_global: bool = True,
) -> bool:
    """Enable tracing from the standard ``OTEL_*`` variables (or with ``exporter``).

    ``OTEL_SERVICE_NAME`` (else ``service_name``), ``OTEL_RESOURCE_ATTRIBUTES``,
    ``OTEL_TRACES_SAMPLER``/``_ARG`` and ``OTEL_BSP_*`` are honoured by the SDK. Calling it
    again replaces the previous setup (tests). ``install_global`` makes it OpenTelemetry's
    global provider too (once per process), so instrumented libraries (FastAPI, httpx, ...)
    put their spans in the same traces; tests that set up and shut down repeatedly pass False.
    Returns whether tracing is on.
    """
    env = os.environ if env is None else env
    shutdown_tracing()
    if exporter is None:
        exporter = exporter_from_env(env)
    if exporter is None:
        return False
    attributes: dict[str, Any] = {}
    if service_name and not env.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = service_name
    provider = TracerProvider(
        resource=Resource.create(attributes), id_generator=ExecutionIdGenerator(), shutdown_on_exit=True
    )
    provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
    _state.provider = provider
    _state.tracer = provider.get_tracer(INSTRUMENTATION)
    _state.enabled = True
    if install_global:
        _install_global(provider)
    return True


def _install_global(provider: TracerProvider) -> None:
    """Make ours the global provider once, so instrumented libraries join our traces."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return  # set already (by us earlier, or by the application): never override
    trace.set_tracer_provider(provider)


def shutdown_tracing() -> None:
    """Flush and stop the current setup (role shutdown, tests)."""
    provider = _state.provider
    _state.enabled = False
    _state.tracer = None
    _state.provider = None
    if provider is not None:
        provider.shutdown()


def force_flush(timeout_ms: int = 5000) -> bool:
    """Export the spans ended so far (before a process exits, in tests)."""
    provider = _state.provider
    return provider.force_flush(timeout_ms) if provider is not None else True


def tracing_enabled() -> bool:
    return _state.enabled


# ---------------------------------------------------------------------------- W3C helpers


def format_traceparent(trace_id: int, span_id: int, sampled: bool = True) -> str:
    return f"00-{trace_id:032x}-{span_id:016x}-{'01' if sampled else '00'}"


def parse_traceparent(value: str | None) -> tuple[int, int, int] | None:
    """``(trace_id, span_id, flags)`` of a W3C traceparent, or None when it is not valid."""
    if not value or len(value) < 55:
        return None
    parts = value.split("-")
    if len(parts) < 4 or len(parts[0]) != 2 or parts[0] == "ff":
        return None
    version, trace_hex, span_hex, flags_hex = parts[0], parts[1], parts[2], parts[3]
    if len(trace_hex) != 32 or len(span_hex) != 16 or len(flags_hex) != 2:
        return None
    if version == "00" and len(parts) != 4:
        return None
    try:
        trace_id, span_id, flags = int(trace_hex, 16), int(span_hex, 16), int(flags_hex, 16)
    except ValueError:
        return None
    if not trace_id or not span_id:
        return None
    return trace_id, span_id, flags


def parse_trace_header(value: str | None) -> tuple[int, int | None, bool] | None:
    """A StartExecution ``traceHeader``: W3C traceparent or AWS X-Ray
    (``Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1``).

    Returns ``(trace_id, parent span id or None, sampled)`` or None.
    """
    if not value:
        return None
    value = value.strip()
    parsed = parse_traceparent(value)
    if parsed is not None:
        return parsed[0], parsed[1], bool(parsed[2] & 1)
    fields: dict[str, str] = {}
    for part in value.split(";"):
        key, sep, val = part.partition("=")
        if sep:
            fields[key.strip().lower()] = val.strip()
    root = fields.get("root", "")
    pieces = root.split("-")
    if len(pieces) != 3 or pieces[0] != "1" or len(pieces[1]) != 8 or len(pieces[2]) != 24:
        return None
    try:
        trace_id = int(pieces[1] + pieces[2], 16)
        parent = int(fields["parent"], 16) if len(fields.get("parent", "")) == 16 else None
    except ValueError:
        return None
    if not trace_id:
        return None
    return trace_id, parent or None, fields.get("sampled", "1") != "0"


def _vendor_state(tracestate: str | None) -> dict[str, str]:
    """Our ``statehop=`` member of a tracestate header, as ``{"s": ..., "p": ...}``."""
    if not tracestate:
        return {}
    for member in tracestate.split(","):
        key, sep, value = member.strip().partition("=")
        if sep and key == VENDOR:
            out: dict[str, str] = {}
            for item in value.split(";"):
                k, sep2, v = item.partition(":")
                if sep2:
                    out[k] = v
            return out
    return {}


def execution_start_from_tracestate(tracestate: str | None) -> float | None:
    """The execution's start (epoch seconds) that :func:`start_execution_trace` recorded."""
    raw = _vendor_state(tracestate).get("s")
    try:
        return int(raw) / 1000 if raw else None
    except ValueError:
        return None


# ---------------------------------------------------------------------------- the execution root


def _digest(execution_arn: str, redrive_count: int) -> bytes:
    return hashlib.sha256(f"statehop-root\x00{execution_arn}\x00{redrive_count}".encode()).digest()


def root_ids(execution_arn: str, redrive_count: int = 0) -> tuple[int, int]:
    """``(trace_id, span_id)`` an execution gets when no caller trace is given.

    The trace id depends on the ARN only (a redrive stays in the same trace); each redrive
    gets a root span of its own.
    """
    trace_id = int.from_bytes(_digest(execution_arn, 0)[:16], "big") or 1
    span_id = int.from_bytes(_digest(execution_arn, redrive_count)[16:24], "big") or 1
    return trace_id, span_id


def _sample_root(trace_id: int) -> bool:
    """The configured sampler's decision for a root without a parent (deterministic per id)."""
    provider = _state.provider
    if provider is None:
        return True  # not tracing here: let the processes that do trace record it
    result = provider.sampler.should_sample(None, trace_id, "execution", SpanKind.INTERNAL)
    return bool(result.decision.is_sampled())  # type: ignore[no-untyped-call]


def start_execution_trace(
    execution_arn: str,
    *,
    trace_header: str | None = None,
    start_time: float | None = None,
    redrive_count: int = 0,
) -> TraceHeaders:
    """The root trace context of an execution, for its first hop (and every later one).

    Deterministic: the same arguments give the same headers in any process.
    """
    trace_id, span_id = root_ids(execution_arn, redrive_count)
    caller = parse_trace_header(trace_header)
    parent = None
    if caller is not None:
        trace_id, parent, sampled = caller
    else:
        sampled = _sample_root(trace_id)
    state = f"{VENDOR}=s:{round((start_time if start_time is not None else time.time()) * 1000)}"
    if parent is not None:
        state += f";p:{parent:016x}"
    return TraceHeaders(format_traceparent(trace_id, span_id, sampled), state)


def execution_trace(execution: Any) -> TraceHeaders:
    """:func:`start_execution_trace` from a store ``Execution`` record (arn, trace_header,
    start_date, redrive_count, redrive_date): what every hop of it carries."""
    redrives = int(getattr(execution, "redrive_count", 0) or 0)
    started = getattr(execution, "redrive_date", None) if redrives else None
    started = started or getattr(execution, "start_date", None)
    return start_execution_trace(
        execution.arn,
        trace_header=getattr(execution, "trace_header", None),
        start_time=started.timestamp() if started is not None else None,
        redrive_count=redrives,
    )


def end_execution_span(
    execution_arn: str,
    status: str,
    *,
    traceparent: str | None = None,
    tracestate: str | None = None,
    start_time: float | None = None,
    stop_time: float | None = None,
    state_machine_arn: str | None = None,
    error: str | None = None,
    cause: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> None:
    """Export the execution's root span ``execution <name>`` (call once, when it ended).

    ``traceparent``/``tracestate`` are a hop's (the root context); without them the root is
    recomputed from the ARN (no caller trace). The start comes from ``start_time``, else
    from the tracestate, else the span has no duration.
    """
    tracer = _state.tracer
    if tracer is None:
        return
    parsed = parse_traceparent(traceparent)
    if parsed is None:
        trace_id, span_id = root_ids(execution_arn)
        sampled = _sample_root(trace_id)
    else:
        trace_id, span_id, flags = parsed
        sampled = bool(flags & 1)
    if not sampled:
        return
    vendor = _vendor_state(tracestate)
    if start_time is None:
        start_time = execution_start_from_tracestate(tracestate)
    stop = time.time() if stop_time is None else stop_time
    start = stop if start_time is None else min(start_time, stop)
    parent_ctx = otel_context.Context()
    if vendor.get("p"):
        try:
            parent_span = int(vendor["p"], 16)
        except ValueError:
            parent_span = 0
        if parent_span:
            remote = SpanContext(trace_id, parent_span, is_remote=True, trace_flags=_SAMPLED)
            parent_ctx = trace.set_span_in_context(NonRecordingSpan(remote), parent_ctx)
    attrs: dict[str, Any] = {
        "statehop.execution_arn": execution_arn,
        "statehop.execution_name": execution_arn.rsplit(":", 1)[-1],
        "statehop.status": status,
    }
    if state_machine_arn:
        attrs["statehop.state_machine_arn"] = state_machine_arn
    if error:
        attrs["statehop.error"] = error[:_MAX_ATTR]
    if cause:
        attrs["statehop.cause"] = cause[:_MAX_ATTR]
    if attributes:
        attrs.update(attributes)
    token = _forced_ids.set((trace_id, span_id))
    try:
        span = tracer.start_span(
            f"execution {attrs['statehop.execution_name']}",
            context=parent_ctx,
            kind=SpanKind.INTERNAL,
            attributes=attrs,
            start_time=int(start * 1e9),
        )
    finally:
        _forced_ids.reset(token)
    if status in ("FAILED", "TIMED_OUT"):
        span.set_status(Status(StatusCode.ERROR, f"{error or status}: {cause or ''}"[:_MAX_ATTR]))
    span.end(end_time=int(stop * 1e9))


# ---------------------------------------------------------------------------- propagation


def remote_context(
    traceparent: str | None, tracestate: str | None = None, *, _parse_state: bool = False
) -> otel_context.Context | None:
    """An OTel Context whose current span is the remote parent in ``traceparent``."""
    parsed = parse_traceparent(traceparent)
    if parsed is None:
        return None
    trace_id, span_id, flags = parsed
    # tracestate is not parsed on the hop path: StateHop's own member travels in the hop's
    # header, and child spans need only the parent's ids and flags.
    state = TraceState.from_header([tracestate]) if tracestate and _parse_state else None
    remote = SpanContext(
        trace_id, span_id, is_remote=True, trace_flags=TraceFlags(flags & 0xFF), trace_state=state
    )
    return trace.set_span_in_context(NonRecordingSpan(remote))


def extract(headers: Mapping[str, Any] | None) -> otel_context.Context:
    """The trace context carried in AMQP headers (``traceparent``/``tracestate``).

    Returns an empty Context when there is none, so a span started with it is a new root.
    """
    if headers:
        tp = headers.get(TRACEPARENT)
        ts = headers.get(TRACESTATE)
        ctx = remote_context(
            tp if isinstance(tp, str) else None, ts if isinstance(ts, str) else None, _parse_state=True
        )
        if ctx is not None:
            return ctx
    return otel_context.Context()


def inject(
    headers: MutableMapping[str, Any], context: otel_context.Context | None = None
) -> MutableMapping[str, Any]:
    """Write the current (or ``context``'s) span into AMQP headers as W3C trace context.

    Leaves the headers unchanged when there is no valid span. Returns ``headers``.
    """
    span_ctx = trace.get_current_span(context).get_span_context()
    if span_ctx.is_valid:
        headers[TRACEPARENT] = format_traceparent(
            span_ctx.trace_id, span_ctx.span_id, span_ctx.trace_flags.sampled
        )
        if span_ctx.trace_state:
            headers[TRACESTATE] = span_ctx.trace_state.to_header()
        else:
            headers.pop(TRACESTATE, None)
    return headers


def current_traceparent(default: str | None = None) -> str | None:
    """The current span's traceparent (inside a hop: the hop span), else ``default``.

    The engine passes this to a task message so the service's span is the hop span's child.
    """
    if _state.tracer is None:
        return default
    span_ctx = trace.get_current_span().get_span_context()
    if not span_ctx.is_valid:
        return default
    return format_traceparent(span_ctx.trace_id, span_ctx.span_id, span_ctx.trace_flags.sampled)


def current_ids() -> tuple[str, str] | None:
    """``(trace_id, span_id)`` hex of the current span, for logs."""
    span_ctx = trace.get_current_span().get_span_context()
    if not span_ctx.is_valid:
        return None
    return f"{span_ctx.trace_id:032x}", f"{span_ctx.span_id:016x}"


# ---------------------------------------------------------------------------- spans


def start_span(
    name: str,
    *,
    traceparent: str | None = None,
    tracestate: str | None = None,
    fallback_arn: str | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
) -> Span | None:
    """Start a span whose parent is the remote ``traceparent`` (None when tracing is off).

    Without a traceparent, ``fallback_arn`` makes the span a child of that execution's
    computed root, so a message missing its header still lands in the right trace.
    """
    tracer = _state.tracer
    if tracer is None:
        return None
    ctx = remote_context(traceparent, tracestate)
    if ctx is None and fallback_arn:
        trace_id, span_id = root_ids(fallback_arn)
        ctx = remote_context(format_traceparent(trace_id, span_id, _sample_root(trace_id)))
    return tracer.start_span(name, context=ctx or otel_context.Context(), kind=kind, attributes=attributes)


def hop_attributes(hop: Any, state_type: str | None = None) -> dict[str, Any]:
    """The attributes of a hop span (few: each one costs the SDK about a microsecond)."""
    attrs: dict[str, Any] = {
        "statehop.execution_arn": hop.execution_arn,
        "statehop.state_machine_arn": hop.state_machine_arn,
        "statehop.state": hop.state,
        "statehop.branch": hop.branch,
        "statehop.attempt": hop.attempt,
        "statehop.hop_kind": hop.kind,
    }
    if state_type:
        attrs["statehop.state_type"] = state_type
    return attrs


def start_hop_span(hop: Any, state_type: str | None = None) -> Span | None:
    """The span ``state <Name>`` of one hop, child of the execution root (None when off)."""
    if _state.tracer is None:
        return None
    return start_span(
        f"state {hop.state}",
        traceparent=hop.traceparent,
        tracestate=hop.tracestate,
        fallback_arn=hop.execution_arn,
        kind=SpanKind.CONSUMER,
        attributes=hop_attributes(hop, state_type),
    )


def record_error(
    span: Span | None, error: str | None, cause: str | None = None, *, exc: BaseException | None = None
) -> None:
    """Mark a span failed with ASL's error name and cause (and the exception, if any)."""
    if span is None or not span.is_recording():
        return
    if exc is not None:
        span.record_exception(exc)
    if error:
        span.set_attribute("statehop.error", error[:_MAX_ATTR])
    if cause:
        span.set_attribute("statehop.cause", cause[:_MAX_ATTR])
    span.set_status(Status(StatusCode.ERROR, (error or (type(exc).__name__ if exc else "error"))[:_MAX_ATTR]))


@contextmanager
def activate(span: Span | None) -> Iterator[Span | None]:
    """Make ``span`` current (log lines and child spans see it); end it on exit."""
    if span is None:
        yield None
        return
    token = otel_context.attach(trace.set_span_in_context(span))
    try:
        yield span
    except BaseException as exc:
        record_error(span, type(exc).__name__, str(exc), exc=exc)
        raise
    finally:
        otel_context.detach(token)
        span.end()


def hop_span(hop: Any, state_type: str | None = None) -> Any:
    """Context manager: the hop's span, current while the hop is processed.

    The engine normally uses :func:`runtime.telemetry.observe_hop` (span + log binding +
    metrics in one); this is the tracing part alone.
    """
    return activate(start_hop_span(hop, state_type))


def timer_span(message: Any, destination: str, due: float | None = None) -> Any:
    """Context manager for the scheduler (or in-process timers) firing a timer.

    ``timer <state>``, child of the execution root carried by the wrapped hop.
    """
    if _state.tracer is None:
        return activate(None)
    headers = getattr(message, "headers", None) or {}
    tp = headers.get(TRACEPARENT)
    ts = headers.get(TRACESTATE)
    arn = headers.get("x-sh-exec")
    attrs: dict[str, Any] = {"statehop.timer.destination": destination}
    if isinstance(arn, str):
        attrs["statehop.execution_arn"] = arn
    for header, attr in (
        ("x-sh-state", "statehop.state"),
        ("x-sh-kind", "statehop.hop_kind"),
        ("x-sh-branch", "statehop.branch"),
    ):
        value = headers.get(header)
        if isinstance(value, str):
            attrs[attr] = value
    if getattr(message, "message_id", None):
        attrs["messaging.message.id"] = message.message_id
    if due is not None:
        attrs["statehop.timer.due"] = due
        attrs["statehop.timer.lag_seconds"] = max(0.0, time.time() - due)
    state = headers.get("x-sh-state")
    span = start_span(
        f"timer {state}" if isinstance(state, str) else "timer",
        traceparent=tp if isinstance(tp, str) else None,
        tracestate=ts if isinstance(ts, str) else None,
        fallback_arn=arn if isinstance(arn, str) else None,
        kind=SpanKind.PRODUCER,
        attributes=attrs,
    )
    return activate(span)


def span_ids(span: Span | None) -> tuple[str, str] | None:
    if span is None:
        return None
    ctx = span.get_span_context()
    return (f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}") if ctx.is_valid else None


__all__ = [
    "TRACEPARENT",
    "TRACESTATE",
    "ExecutionIdGenerator",
    "ReadableSpan",
    "TraceHeaders",
    "activate",
    "current_ids",
    "current_traceparent",
    "end_execution_span",
    "execution_start_from_tracestate",
    "execution_trace",
    "exporter_from_env",
    "extract",
    "force_flush",
    "format_traceparent",
    "hop_attributes",
    "hop_span",
    "inject",
    "parse_trace_header",
    "parse_traceparent",
    "record_error",
    "remote_context",
    "root_ids",
    "setup_tracing",
    "shutdown_tracing",
    "span_ids",
    "start_execution_trace",
    "start_hop_span",
    "start_span",
    "timer_span",
    "tracing_enabled",
]
