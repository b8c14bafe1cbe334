"""Metrics: the hooks, the Prometheus text format and the /metrics endpoints."""

from __future__ import annotations

import asyncio
import re
import urllib.request

import httpx
import pytest
from fastapi import FastAPI

from runtime import telemetry
from runtime.hop import Hop
from runtime.telemetry import metrics
from runtime.transport.base import Message
from runtime.transport.memory import MemoryTransport
from tests.telemetry.conftest import MACHINE_ARN

#: every metric the engine, scheduler and services report, by its Prometheus family name
NAMES = [
    "statehop_executions_started_total",
    "statehop_executions_succeeded_total",
    "statehop_executions_failed_total",
    "statehop_executions_aborted_total",
    "statehop_executions_timed_out_total",
    "statehop_execution_time_seconds",
    "statehop_state_transitions_total",
    "statehop_hops_total",
    "statehop_hop_latency_seconds",
    "statehop_tasks_scheduled_total",
    "statehop_tasks_succeeded_total",
    "statehop_tasks_failed_total",
    "statehop_tasks_timed_out_total",
    "statehop_tasks_heartbeat_timed_out_total",
    "statehop_task_time_seconds",
    "statehop_task_run_time_seconds",
    "statehop_task_schedule_time_seconds",
    "statehop_message_lag_seconds",
    "statehop_timer_lag_seconds",
    "statehop_timers_fired_total",
    "statehop_queue_depth",
    "statehop_timers_pending",
]
#: AWS/States CloudWatch names each HELP text cites
AWS_NAMES = [
    "ExecutionsStarted",
    "ExecutionsSucceeded",
    "ExecutionsFailed",
    "ExecutionsAborted",
    "ExecutionsTimedOut",
    "ExecutionTime",
    "LambdaFunctionRunTime",
    "ActivityRunTime",
    "LambdaFunctionScheduleTime",
    "LambdaFunctionTime",
]
_LABELS = r'(\{([a-zA-Z_]\w*="([^"\\]|\\.)*",?)*\})?'
_SAMPLE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*" + _LABELS + r" (-?[0-9.]+(e[+-]?[0-9]+)?|[+-]Inf|NaN)$")


def _samples(text: str) -> dict[str, float]:
    """Parse the exposition strictly: every line is a comment or a well-formed sample."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        assert _SAMPLE.match(line), f"malformed sample line: {line!r}"
        key, _, value = line.rpartition(" ")
        out[key] = float(value)
    return out


def _exercise() -> None:
    version = MACHINE_ARN + ":3"
    metrics.execution_started(version)
    metrics.execution_started(MACHINE_ARN)
    metrics.execution_ended("SUCCEEDED", 1.5, version)
    metrics.execution_ended("TIMED_OUT", 700.0, MACHINE_ARN)
    metrics.execution_ended("ABORTED", None, MACHINE_ARN)
    metrics.task_scheduled("payments")
    metrics.task_ended("payments", "HEARTBEAT_TIMED_OUT", 30.0)
    metrics.task_run_time("charge", 0.02, "FAILED")
    metrics.task_schedule_time("charge", 0.3)
    metrics.message_lag("hops", 0.001)
    metrics.timer_fired(2.0)
    metrics.queue_depth("hops", 7)
    metrics.register_queue_depth(lambda: {"tasks.payments": 3})
    metrics.register_timers_pending(lambda: 5)
    with telemetry.observe_hop(Hop("arn:e", MACHINE_ARN, "A", {}, kind="hb2")):
        telemetry.annotate_hop(state_type="Task")


def test_named_metrics_and_values() -> None:
    _exercise()
    text = metrics.render().decode()
    for name in NAMES:
        assert f"# TYPE {name} " in text, name
    for aws in AWS_NAMES:
        assert aws in text, aws
    samples = _samples(text)
    m = f'state_machine_arn="{MACHINE_ARN}"'
    assert samples[f"statehop_executions_started_total{{{m}}}"] == 2  # the version folds into the machine
    assert samples[f"statehop_executions_succeeded_total{{{m}}}"] == 1
    assert samples[f"statehop_executions_timed_out_total{{{m}}}"] == 1
    assert samples[f"statehop_executions_aborted_total{{{m}}}"] == 1
    assert samples[f'statehop_execution_time_seconds_bucket{{{m},le="1.0"}}'] == 0
    assert samples[f'statehop_execution_time_seconds_bucket{{{m},le="2.5"}}'] == 1  # cumulative
    assert samples[f'statehop_execution_time_seconds_bucket{{{m},le="900.0"}}'] == 2
    assert samples[f'statehop_execution_time_seconds_bucket{{{m},le="+Inf"}}'] == 2
    assert samples[f"statehop_execution_time_seconds_count{{{m}}}"] == 2
    assert samples[f"statehop_execution_time_seconds_sum{{{m}}}"] == 701.5
    assert samples['statehop_tasks_heartbeat_timed_out_total{resource="payments"}'] == 1
    assert samples['statehop_task_run_time_seconds_count{task="charge",status="FAILED"}'] == 1
    assert samples['statehop_state_transitions_total{state_type="Task",kind="hb"}'] == 1
    assert samples['statehop_hops_total{result="applied"}'] == 1
    assert samples['statehop_hop_latency_seconds_count{state_type="Task"}'] == 1
    assert samples['statehop_queue_depth{queue="hops"}'] == 7
    assert samples['statehop_queue_depth{queue="tasks.payments"}'] == 3
    assert samples["statehop_timers_pending"] == 5
    assert samples["statehop_timers_fired_total"] == 1


def test_label_values_are_escaped_and_callbacks_cannot_break_a_scrape() -> None:
    metrics.task_scheduled('we"ird\\name\n')
    metrics.register_queue_depth(lambda: 1 / 0)  # type: ignore[arg-type,return-value]
    text = metrics.render().decode()
    assert 'statehop_tasks_scheduled_total{resource="we\\"ird\\\\name\\n"} 1.0' in text
    _samples(text)


def test_standalone_server_serves_metrics() -> None:
    _exercise()
    server = metrics.start_metrics_server(0, "127.0.0.1")
    assert server is not None
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            body = response.read().decode()
        assert "statehop_executions_started_total" in body
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{url}/nope", timeout=10)
    finally:
        server.shutdown()
        server.server_close()


def test_no_port_no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(metrics.ENV_PORT, raising=False)
    assert metrics.start_metrics_server() is None


async def _get(app: object, path: str = "/metrics") -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path)


async def test_fastapi_router_and_asgi_app() -> None:
    _exercise()
    app = FastAPI()
    app.include_router(metrics.metrics_router())
    response = await _get(app)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "statehop_hop_latency_seconds_bucket" in response.text
    response = await _get(metrics.metrics_asgi_app)
    assert response.status_code == 200 and "statehop_queue_depth" in response.text


async def test_queue_depth_poller() -> None:
    transport = MemoryTransport()
    await transport.start()
    try:
        await transport.publish("hops", Message(b"{}"))
        await transport.publish("hops", Message(b"{}"))
        task = asyncio.create_task(metrics.watch_queue_depths(transport, ["hops", "replies"], interval=0.01))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        await transport.close()
    samples = _samples(metrics.render().decode())
    assert samples['statehop_queue_depth{queue="hops"}'] == 2
    assert samples['statehop_queue_depth{queue="replies"}'] == 0
