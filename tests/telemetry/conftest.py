"""Fixtures for the telemetry tests: an in-memory span exporter, fresh metrics, captured logs."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import structlog
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from runtime.store.records import Execution, ExecutionStatus, StateMachineType
from runtime.telemetry import metrics
from runtime.telemetry.logging import configure_logging
from runtime.telemetry.tracing import setup_tracing, shutdown_tracing

ACCOUNT = "123456789012"
MACHINE_ARN = f"arn:aws:states:eu-west-1:{ACCOUNT}:stateMachine:Orders"


def execution_record(
    name: str = "run-1",
    *,
    status: ExecutionStatus = ExecutionStatus.RUNNING,
    trace_header: str | None = None,
    started: datetime | None = None,
    stopped: datetime | None = None,
    output: str | None = None,
    error: str | None = None,
    cause: str | None = None,
    input: str = '{"order":42}',
    type: StateMachineType = StateMachineType.STANDARD,
    version_arn: str | None = None,
    redrive_count: int = 0,
) -> Execution:
    start = started or datetime.now(UTC) - timedelta(seconds=3)
    return Execution(
        arn=f"arn:aws:states:eu-west-1:{ACCOUNT}:execution:Orders:{name}",
        state_machine_arn=MACHINE_ARN,
        name=name,
        type=type,
        status=status,
        input=input,
        output=output,
        error=error,
        cause=cause,
        start_date=start,
        stop_date=stopped,
        revision_id="rev-1",
        state_machine_version_arn=version_arn,
        trace_header=trace_header,
        redrive_count=redrive_count,
    )


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on, every ended span kept in memory (synchronously exported)."""
    exporter = InMemorySpanExporter()
    setup_tracing("statehop-test", exporter=exporter, batch=False, install_global=False)
    yield exporter
    shutdown_tracing()


@pytest.fixture(autouse=True)
def fresh_metrics() -> Iterator[metrics.Metrics]:
    yield metrics.reset()
    metrics.reset()


@dataclass
class CapturedLogs:
    stream: io.StringIO = field(default_factory=io.StringIO)

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line.strip()]

    def find(self, message: str) -> dict[str, Any]:
        for line in self.lines():
            if message in str(line.get("message", "")):
                return line
        raise AssertionError(f"no log line with {message!r} in:\n{self.stream.getvalue()}")


@pytest.fixture
def logs() -> Iterator[CapturedLogs]:
    """JSON logs of this process captured; the root logger is restored afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    captured = CapturedLogs()
    configure_logging("json", "DEBUG", stream=captured.stream)
    yield captured
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()
