"""Structured logs: stdlib and structlog lines carry the hop's execution, state and trace ids."""

from __future__ import annotations

import io
import logging

import structlog
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from runtime import telemetry
from runtime.hop import Hop
from runtime.telemetry import tracing
from runtime.telemetry.logging import configure_logging
from tests.telemetry.conftest import MACHINE_ARN, CapturedLogs, execution_record


def _hop() -> Hop:
    record = execution_record()
    tp, ts = telemetry.execution_trace(record)
    return Hop(
        record.arn, MACHINE_ARN, "Charge", {}, branch="Fan~1/0", attempt=2, traceparent=tp, tracestate=ts
    )


def test_lines_inside_a_hop_carry_its_fields_and_span(
    spans: InMemorySpanExporter, logs: CapturedLogs
) -> None:
    hop = _hop()
    with telemetry.observe_hop(hop):
        logging.getLogger("statehop.engine").info("applied %s", "Next")
        telemetry.get_logger("statehop.engine").warning("structlog line", outcome="Next")
    logging.getLogger("statehop.engine").info("after the hop")
    (span,) = spans.get_finished_spans()
    trace_id, span_id = f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"
    for message in ("applied Next", "structlog line"):
        line = logs.find(message)
        assert line["execution_arn"] == hop.execution_arn
        assert line["state"] == "Charge"
        assert line["branch"] == "Fan~1/0" and line["attempt"] == 2
        assert (line["trace_id"], line["span_id"]) == (trace_id, span_id)
        assert line["logger"] == "statehop.engine"
        assert {"timestamp", "level"} <= set(line)
    assert logs.find("structlog line")["outcome"] == "Next"
    after = logs.find("after the hop")
    assert "execution_arn" not in after and "trace_id" not in after


def test_without_tracing_logs_still_carry_the_executions_trace_id(logs: CapturedLogs) -> None:
    tracing.shutdown_tracing()
    hop = _hop()
    with telemetry.bind_hop(hop):
        logging.getLogger("x").info("bound")
    line = logs.find("bound")
    assert line["trace_id"] == hop.traceparent.split("-")[1]
    assert line["execution_arn"] == hop.execution_arn


def test_bind_layers_fields(logs: CapturedLogs) -> None:
    with telemetry.bind(request_id="r1"), telemetry.bind(execution_arn="arn:e"):
        logging.getLogger("api").info("nested")
    line = logs.find("nested")
    assert (line["request_id"], line["execution_arn"]) == ("r1", "arn:e")


def test_exceptions_render_as_structured_tracebacks(logs: CapturedLogs) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("x").exception("failed")
    line = logs.find("failed")
    assert line["exception"][0]["exc_type"] == "ValueError"


def test_console_format_for_development() -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    try:
        configure_logging("console", "INFO", stream=stream, service="statehop-worker")
        with telemetry.bind(execution_arn="arn:e", state="A"):
            logging.getLogger("statehop.engine").info("hello")
        logging.getLogger("statehop.engine").debug("hidden")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        structlog.reset_defaults()
    text = stream.getvalue()
    assert "hello" in text and "execution_arn=arn:e" in text and "service=statehop-worker" in text
    assert "hidden" not in text and "\x1b[" not in text  # no colours off a terminal


def test_configure_replaces_basic_config_handler(logs: CapturedLogs) -> None:
    root = logging.getLogger()
    plain = logging.StreamHandler(io.StringIO())
    root.addHandler(plain)
    configure_logging("json", "INFO", stream=logs.stream)
    assert plain not in root.handlers
    assert sum(h.get_name() == "statehop-structlog" for h in root.handlers) == 1
