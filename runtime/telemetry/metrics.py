"""Prometheus metrics, named after the AWS/States CloudWatch metrics where one exists.

``ExecutionsStarted`` becomes ``statehop_executions_started_total``, ``ExecutionTime``
``statehop_execution_time_seconds`` (Prometheus units: seconds, not CloudWatch's
milliseconds); each metric's HELP names its AWS counterpart. The ``StateMachineArn``
dimension is the ``state_machine_arn`` label (without a version qualifier). See
docs/observability.md for the table.

Each process serves its own ``/metrics`` (:func:`start_metrics_server` on
``STATEHOP_METRICS_PORT``, or :func:`metrics_router` inside the API app); Prometheus sums the
replicas. No dependency: the text exposition format is written here, and a hook is a dict
lookup and an addition (no lock: metrics are written from the event loop's thread; a scrape
from the server thread reads a snapshot).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger("statehop.telemetry")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ENV_PORT = "STATEHOP_METRICS_PORT"
ENV_ADDR = "STATEHOP_METRICS_ADDR"

#: hop processing: sub-millisecond to seconds
HOP_BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
#: executions, tasks, timers: milliseconds to a day
LONG_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
LONG_BUCKETS += (300.0, 900.0, 3600.0, 14400.0, 86400.0)

#: execution status -> counter attribute (AWS: ExecutionsSucceeded, ...)
_ENDED = {
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "ABORTED": "aborted",
    "TIMED_OUT": "timed_out",
}
#: task outcome -> counter attribute (AWS: LambdaFunctionsSucceeded / ActivitiesSucceeded, ...)
_TASK_ENDED = {
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "TIMED_OUT": "timed_out",
    "HEARTBEAT_TIMED_OUT": "heartbeat_timed_out",
}


def machine_label(state_machine_arn: str | None) -> str:
    """``arn:...:stateMachine:Orders:4`` -> ``arn:...:stateMachine:Orders`` (bounded series)."""
    if not state_machine_arn:
        return ""
    parts = state_machine_arn.split(":")
    if len(parts) > 7 and parts[5] == "stateMachine":
        return ":".join(parts[:7])
    return state_machine_arn


# ---------------------------------------------------------------------------- exposition format


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


def _labels(names: tuple[str, ...], values: tuple[str, ...], extra: str = "") -> str:
    parts = [f'{n}="{_escape_value(str(v))}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class Counter:
    """A counter with labels; ``inc(*label_values)``. ``name`` ends in ``_total``."""

    kind = "counter"

    def __init__(self, name: str, doc: str, labels: Iterable[str] = ()) -> None:
        self.name = name
        self.doc = doc
        self.labelnames = tuple(labels)
        self.values: dict[tuple[str, ...], float] = {}

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        values = self.values
        values[labels] = values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        return self.values.get(labels, 0.0)

    def lines(self) -> Iterator[str]:
        for labels, value in sorted(list(self.values.items())):
            yield f"{self.name}{_labels(self.labelnames, labels)} {_number(value)}"


_INF_LE = 'le="+Inf"'


class Histogram:
    """A histogram with labels; ``observe(value, *label_values)``; cumulative ``le`` buckets."""

    kind = "histogram"

    def __init__(
        self, name: str, doc: str, labels: Iterable[str] = (), buckets: Iterable[float] = HOP_BUCKETS
    ):
        self.name = name
        self.doc = doc
        self.labelnames = tuple(labels)
        self.bounds = tuple(sorted(buckets))
        self._size = len(self.bounds) + 2  # one count per bound, +Inf, then the sum
        #: label values -> [count per bucket (not cumulative)..., count above the last, sum]
        self.series: dict[tuple[str, ...], list[float]] = {}

    def observe(self, value: float, *labels: str) -> None:
        series = self.series.get(labels)
        if series is None:
            series = self.series[labels] = [0.0] * self._size
        series[bisect_left(self.bounds, value)] += 1
        series[-1] += value

    def count(self, *labels: str) -> int:
        series = self.series.get(labels)
        return int(sum(series[:-1])) if series else 0

    def lines(self) -> Iterator[str]:
        names = self.labelnames
        for labels, series in sorted(list(self.series.items())):
            snapshot = list(series)
            running = 0.0
            for bound, count in zip(self.bounds, snapshot, strict=False):
                running += count
                le = f'le="{_number(bound)}"'
                yield f"{self.name}_bucket{_labels(names, labels, le)} {_number(running)}"
            running += snapshot[len(self.bounds)]
            yield f"{self.name}_bucket{_labels(names, labels, _INF_LE)} {_number(running)}"
            yield f"{self.name}_sum{_labels(names, labels)} {_number(snapshot[-1])}"
            yield f"{self.name}_count{_labels(names, labels)} {_number(running)}"


class _Gauges:
    """Gauges read when scraped: queue depth and pending timers."""

    kind = "gauge"

    def __init__(self) -> None:
        self.depths: dict[str, float] = {}
        self.depth_sources: list[Callable[[], Mapping[str, float]]] = []
        self.timer_sources: list[Callable[[], float]] = []

    def render(self) -> Iterator[str]:
        depths = dict(self.depths)
        for source in list(self.depth_sources):
            try:
                depths.update(source())
            except Exception as exc:  # a broken callback must not break the scrape
                log.warning("queue depth callback failed: %s", exc)
        yield "# HELP statehop_queue_depth Messages ready in a queue (hops, replies, tasks.*, timers)"
        yield "# TYPE statehop_queue_depth gauge"
        for queue, value in sorted(depths.items()):
            yield f'statehop_queue_depth{{queue="{_escape_value(queue)}"}} {_number(float(value))}'
        pending = 0.0
        for timer_source in list(self.timer_sources):
            try:
                pending += float(timer_source())
            except Exception as exc:
                log.warning("timers pending callback failed: %s", exc)
        yield "# HELP statehop_timers_pending Timers not fired yet (Waits, retry back-off, timeouts)"
        yield "# TYPE statehop_timers_pending gauge"
        yield f"statehop_timers_pending {_number(pending)}"


class Metrics:
    """Every StateHop metric of this process."""

    def __init__(self) -> None:
        m = ("state_machine_arn",)
        t = ("resource",)
        self.started = Counter(
            "statehop_executions_started_total", "Executions started (AWS/States ExecutionsStarted)", m
        )
        self.succeeded = Counter(
            "statehop_executions_succeeded_total",
            "Executions that succeeded (AWS/States ExecutionsSucceeded)",
            m,
        )
        self.failed = Counter(
            "statehop_executions_failed_total", "Executions that failed (AWS/States ExecutionsFailed)", m
        )
        self.aborted = Counter(
            "statehop_executions_aborted_total", "Executions stopped (AWS/States ExecutionsAborted)", m
        )
        self.timed_out = Counter(
            "statehop_executions_timed_out_total",
            "Executions that timed out (AWS/States ExecutionsTimedOut)",
            m,
        )
        self.execution_time = Histogram(
            "statehop_execution_time_seconds",
            "Seconds from an execution's start to its end (AWS/States ExecutionTime, in seconds)",
            m,
            LONG_BUCKETS,
        )
        self.transitions = Counter(
            "statehop_state_transitions_total",
            "State transitions applied: hops that ran a state (AWS bills these as StateTransition)",
            ("state_type", "kind"),
        )
        self.hops = Counter(
            "statehop_hops_total",
            "Hops consumed, by result: applied, skipped (duplicate, ended, cancelled), error",
            ("result",),
        )
        self.hop_latency = Histogram(
            "statehop_hop_latency_seconds",
            "Seconds to process one hop (store transaction, publish, ack)",
            ("state_type",),
            HOP_BUCKETS,
        )
        self.tasks_scheduled = Counter(
            "statehop_tasks_scheduled_total",
            "Task messages sent to services (AWS/States LambdaFunctionsScheduled, ActivitiesScheduled)",
            t,
        )
        self.tasks_succeeded = Counter(
            "statehop_tasks_succeeded_total", "Tasks that succeeded (AWS/States LambdaFunctionsSucceeded)", t
        )
        self.tasks_failed = Counter(
            "statehop_tasks_failed_total", "Tasks that failed (AWS/States LambdaFunctionsFailed)", t
        )
        self.tasks_timed_out = Counter(
            "statehop_tasks_timed_out_total", "Tasks that timed out (AWS/States LambdaFunctionsTimedOut)", t
        )
        self.tasks_heartbeat_timed_out = Counter(
            "statehop_tasks_heartbeat_timed_out_total",
            "Tasks without a heartbeat in time (AWS/States ActivitiesHeartbeatTimedOut)",
            t,
        )
        self.task_time = Histogram(
            "statehop_task_time_seconds",
            "Seconds from a task's dispatch to its answer, engine side (AWS/States LambdaFunctionTime)",
            t,
            LONG_BUCKETS,
        )
        self.task_run_time = Histogram(
            "statehop_task_run_time_seconds",
            "Seconds a service handler ran, service side (AWS/States LambdaFunctionRunTime, ActivityRunTime)",
            ("task", "status"),
            LONG_BUCKETS,
        )
        self.task_schedule_time = Histogram(
            "statehop_task_schedule_time_seconds",
            "Seconds a task message waited before a service took it "
            "(AWS/States LambdaFunctionScheduleTime, ActivityScheduleTime)",
            ("task",),
            LONG_BUCKETS,
        )
        self.message_lag = Histogram(
            "statehop_message_lag_seconds",
            "Seconds a message waited in its queue before it was consumed",
            ("queue",),
            LONG_BUCKETS,
        )
        self.timer_lag = Histogram(
            "statehop_timer_lag_seconds", "Seconds a timer fired after its due time", (), LONG_BUCKETS
        )
        self.timers_fired = Counter("statehop_timers_fired_total", "Timers fired")
        self.gauges = _Gauges()
        self.families: list[Counter | Histogram] = [
            v for v in vars(self).values() if isinstance(v, Counter | Histogram)
        ]

    def render(self) -> bytes:
        lines: list[str] = []
        for family in self.families:
            lines.append(f"# HELP {family.name} {_escape_help(family.doc)}")
            lines.append(f"# TYPE {family.name} {family.kind}")
            lines.extend(family.lines())
        lines.extend(self.gauges.render())
        lines.append("")
        return "\n".join(lines).encode()


METRICS = Metrics()


def reset() -> Metrics:
    """Zero every metric (tests). Registered callbacks are dropped too."""
    global METRICS
    METRICS = Metrics()
    return METRICS


def render() -> bytes:
    """The Prometheus text exposition (format 0.0.4) of every metric."""
    return METRICS.render()


# ---------------------------------------------------------------------------- hooks


def execution_started(state_machine_arn: str) -> None:
    """ExecutionsStarted +1."""
    METRICS.started.inc(machine_label(state_machine_arn))


def execution_ended(status: str, duration: float | None, state_machine_arn: str = "") -> None:
    """Executions<Status> +1 and ExecutionTime (``duration`` in seconds; None: unknown)."""
    m = METRICS
    label = machine_label(state_machine_arn)
    attr = _ENDED.get(str(status))
    if attr is not None:
        getattr(m, attr).inc(label)
    if duration is not None and duration >= 0:
        m.execution_time.observe(duration, label)


def transition(state_type: str, kind: str = "enter") -> None:
    """One state transition applied (``kind``: enter, retry, complete, resume, hb, ...)."""
    METRICS.transitions.inc(state_type or "none", kind)


def hop_latency(seconds: float, state_type: str = "") -> None:
    METRICS.hop_latency.observe(seconds, state_type or "none")


def hop_result(result: str) -> None:
    """``applied``, ``skipped`` or ``error``."""
    METRICS.hops.inc(result)


def task_scheduled(resource: str) -> None:
    """A task message was dispatched to ``resource`` (the service name)."""
    METRICS.tasks_scheduled.inc(resource)


def task_ended(resource: str, status: str, seconds: float | None = None) -> None:
    """Engine side, when a task's answer (or its timeout) completes the state.

    ``status``: SUCCEEDED, FAILED, TIMED_OUT or HEARTBEAT_TIMED_OUT; ``seconds``: dispatch to
    answer (AWS LambdaFunctionTime).
    """
    m = METRICS
    attr = _TASK_ENDED.get(status)
    if attr is not None:
        getattr(m, f"tasks_{attr}").inc(resource)
    if seconds is not None and seconds >= 0:
        m.task_time.observe(seconds, resource)


def task_run_time(task: str, seconds: float, status: str = "SUCCEEDED") -> None:
    """Service side: how long the handler ran."""
    METRICS.task_run_time.observe(seconds, task, status)


def task_schedule_time(task: str, seconds: float) -> None:
    """Service side: how long the task message waited for the service."""
    if seconds >= 0:
        METRICS.task_schedule_time.observe(seconds, task)


def message_lag(queue: str, seconds: float) -> None:
    if seconds >= 0:
        METRICS.message_lag.observe(seconds, queue)


def timer_fired(lag_seconds: float | None = None) -> None:
    """A timer fired ``lag_seconds`` after it was due."""
    m = METRICS
    m.timers_fired.inc()
    if lag_seconds is not None:
        m.timer_lag.observe(max(0.0, lag_seconds))


def queue_depth(queue: str, depth: float) -> None:
    """Set a queue's depth (for pollers; see :func:`watch_queue_depths`)."""
    METRICS.gauges.depths[queue] = depth


def register_queue_depth(source: Callable[[], Mapping[str, float]]) -> None:
    """A callback read at every scrape: ``{queue: ready messages}`` (must not block)."""
    METRICS.gauges.depth_sources.append(source)


def register_timers_pending(source: Callable[[], float]) -> None:
    """A callback read at every scrape: timers not fired yet (e.g. ``lambda: timers.pending``)."""
    METRICS.gauges.timer_sources.append(source)


async def watch_queue_depths(transport: Any, queues: Iterable[str], interval: float = 15.0) -> None:
    """Poll ``transport.queue_depth`` for each logical queue every ``interval`` seconds.

    Run it as a task in a role (``asyncio.create_task(...)``) and cancel it on shutdown.
    """
    names = list(queues)
    while True:
        for queue in names:
            try:
                queue_depth(queue, await transport.queue_depth(queue))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("queue depth of %s unavailable: %s", queue, exc)
        await asyncio.sleep(interval)


# ---------------------------------------------------------------------------- serving /metrics


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] not in ("/metrics", "/"):
            self.send_error(404)
            return
        body = render()
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # scrapes are not news
        return


def start_metrics_server(port: int | None = None, addr: str | None = None) -> ThreadingHTTPServer | None:
    """Serve ``GET /metrics`` on ``port`` (default ``STATEHOP_METRICS_PORT``; 0: any free port)
    in a daemon thread. Returns the server (``.server_port``; ``.shutdown()`` stops it), or
    None when no port is configured."""
    if port is None:
        raw = os.environ.get(ENV_PORT, "").strip()
        if not raw:
            return None
        port = int(raw)
    addr = addr or os.environ.get(ENV_ADDR) or "0.0.0.0"
    server = ThreadingHTTPServer((addr, port), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="statehop-metrics", daemon=True)
    thread.start()
    log.info("metrics on http://%s:%d/metrics", addr, server.server_port)
    return server


def metrics_router() -> Any:
    """A FastAPI router with ``GET /metrics`` (include it in the API app)."""
    from fastapi import APIRouter, Response

    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(render(), media_type=CONTENT_TYPE)

    return router


async def metrics_asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A bare ASGI app answering with the exposition (mount it at ``/metrics``)."""
    if scope["type"] != "http":
        return
    body = render()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", CONTENT_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


__all__ = [
    "CONTENT_TYPE",
    "ENV_PORT",
    "METRICS",
    "Counter",
    "Histogram",
    "Metrics",
    "execution_ended",
    "execution_started",
    "hop_latency",
    "hop_result",
    "machine_label",
    "message_lag",
    "metrics_asgi_app",
    "metrics_router",
    "queue_depth",
    "register_queue_depth",
    "register_timers_pending",
    "render",
    "reset",
    "start_metrics_server",
    "task_ended",
    "task_run_time",
    "task_schedule_time",
    "task_scheduled",
    "timer_fired",
    "transition",
    "watch_queue_depths",
]
