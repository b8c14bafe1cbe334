"""The tracing hooks in isolation: root context, hop/task/timer spans, propagation, sampling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from runtime import taskwire, telemetry
from runtime.hop import Hop
from runtime.telemetry import tracing
from runtime.transport.base import Message
from tests.telemetry.conftest import MACHINE_ARN, execution_record

CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _hop(record, state: str = "Charge", kind: str = "enter", seq: int = 0, **kw) -> Hop:
    tp, ts = telemetry.execution_trace(record)
    return Hop(
        record.arn, MACHINE_ARN, state, {"input": {}}, kind=kind, seq=seq, traceparent=tp, tracestate=ts, **kw
    )


def _by_name(exporter: InMemorySpanExporter) -> dict[str, list]:
    out: dict[str, list] = {}
    for span in exporter.get_finished_spans():
        out.setdefault(span.name, []).append(span)
    return out


# ---------------------------------------------------------------------------- W3C and X-Ray parsing


def test_traceparent_round_trip_and_rejects() -> None:
    assert tracing.parse_traceparent(CALLER) == (
        0x4BF92F3577B34DA6A3CE929D0E0E4736,
        0x00F067AA0BA902B7,
        1,
    )
    assert tracing.format_traceparent(*tracing.parse_traceparent(CALLER)[:2], True) == CALLER
    for bad in (
        None,
        "",
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # zero span id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # forbidden version
        "00-4bf92f3577b34da6a3ce929d0e0e473x-00f067aa0ba902b7-01",
        CALLER + "-extra",  # version 00 has exactly four fields
    ):
        assert tracing.parse_traceparent(bad) is None, bad


def test_xray_trace_header_is_understood() -> None:
    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    assert tracing.parse_trace_header(header) == (
        0x5759E988BD862E3FE1BE46A994272793,
        0x53995C3F42CD8AD8,
        True,
    )
    assert tracing.parse_trace_header("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0") == (
        0x5759E988BD862E3FE1BE46A994272793,
        None,
        False,
    )
    assert tracing.parse_trace_header("Root=nonsense") is None


# ---------------------------------------------------------------------------- the root context


def test_root_context_is_deterministic_and_recomputable() -> None:
    record = execution_record()
    first = telemetry.execution_trace(record)
    again = telemetry.start_execution_trace(
        record.arn, start_time=record.start_date.timestamp(), trace_header=None
    )
    assert first == again  # any process holding the record computes the same root
    trace_id, span_id, flags = tracing.parse_traceparent(first.traceparent)
    assert (trace_id, span_id) == tracing.root_ids(record.arn)
    assert flags == 1
    assert first.tracestate == f"statehop=s:{round(record.start_date.timestamp() * 1000)}"
    other = telemetry.execution_trace(execution_record("run-2"))
    assert tracing.parse_traceparent(other.traceparent)[0] != trace_id


def test_callers_trace_header_is_the_roots_parent() -> None:
    record = execution_record(trace_header=CALLER)
    headers = telemetry.execution_trace(record)
    trace_id, span_id, _ = tracing.parse_traceparent(headers.traceparent)
    assert trace_id == 0x4BF92F3577B34DA6A3CE929D0E0E4736  # joins the caller's trace
    assert span_id == tracing.root_ids(record.arn)[1]
    assert headers.tracestate.endswith(";p:00f067aa0ba902b7")


def test_a_redrive_gets_its_own_root_span_in_the_same_trace() -> None:
    first = tracing.root_ids("arn:x", 0)
    again = tracing.root_ids("arn:x", 1)
    assert first[0] == again[0] and first[1] != again[1]


# ---------------------------------------------------------------------------- one trace per execution


def test_an_execution_is_one_trace_root_hops_task_timer(spans: InMemorySpanExporter) -> None:
    record = execution_record(trace_header=CALLER)
    tp, ts = telemetry.execution_started(record)
    enter = Hop(
        record.arn,
        MACHINE_ARN,
        "Charge",
        {"input": {}},
        traceparent=tp,
        tracestate=ts,
        attempt=1,
        branch="Fan~3/1",
    )
    with telemetry.observe_hop(enter):
        telemetry.annotate_hop(state_type="Task")
        task_tp = telemetry.current_traceparent(enter.traceparent)
        task = taskwire.task_message(
            {},
            execution_arn=record.arn,
            state="Charge",
            token="t0k",
            attempt=1,
            resource="payments",
            reply_to="replies",
            traceparent=task_tp,
        )
    # the service (same code as services/sdk.py runs)
    with telemetry.observe_task(task.headers, "payments", "payments-service"):
        pass
    # a Wait's timer fires in the scheduler
    timer_hop = Message(b"{}", _hop(record, "Pause", "resume", 3).to_message().headers, "m1")
    with telemetry.observe_timer(timer_hop, "hops", due=datetime.now(UTC).timestamp() - 0.5):
        pass
    complete = _hop(record, "Charge", "complete", 1)
    with telemetry.observe_hop(complete):
        telemetry.annotate_hop(state_type="Task", error="CardDeclined", cause="card declined")
    telemetry.execution_ended(complete, "FAILED", ("CardDeclined", "card declined"))

    by_name = _by_name(spans)
    assert set(by_name) == {"execution run-1", "state Charge", "task payments", "timer Pause"}
    root = by_name["execution run-1"][0]
    trace_id = 0x4BF92F3577B34DA6A3CE929D0E0E4736
    assert {s.context.trace_id for s in spans.get_finished_spans()} == {trace_id}
    assert root.context.span_id == tracing.root_ids(record.arn)[1]
    assert root.parent.span_id == 0x00F067AA0BA902B7  # the caller's span
    assert root.status.status_code is StatusCode.ERROR
    assert root.attributes["statehop.error"] == "CardDeclined"
    assert root.start_time == pytest.approx(record.start_date.timestamp() * 1e9, abs=1e6)
    hop_enter, hop_complete = sorted(by_name["state Charge"], key=lambda s: s.start_time)
    for hop_span in (hop_enter, hop_complete):
        assert hop_span.parent.span_id == root.context.span_id
        assert hop_span.attributes["statehop.execution_arn"] == record.arn
        assert hop_span.attributes["statehop.state_machine_arn"] == MACHINE_ARN
        assert hop_span.attributes["statehop.state"] == "Charge"
        assert hop_span.attributes["statehop.state_type"] == "Task"
    assert hop_enter.attributes["statehop.attempt"] == 1
    assert hop_enter.attributes["statehop.branch"] == "Fan~3/1"
    assert hop_complete.attributes["statehop.hop_kind"] == "complete"
    assert hop_complete.attributes["statehop.error"] == "CardDeclined"
    assert hop_complete.status.status_code is StatusCode.ERROR
    task_span = by_name["task payments"][0]
    assert task_span.parent.span_id == hop_enter.context.span_id  # child of the dispatching hop
    assert task_span.attributes["statehop.execution_arn"] == record.arn
    timer = by_name["timer Pause"][0]
    assert timer.parent.span_id == root.context.span_id
    assert timer.attributes["statehop.timer.lag_seconds"] >= 0.5
    assert telemetry.metrics.METRICS.timers_fired.value() == 1


def test_a_hop_without_traceparent_lands_in_its_executions_trace(spans: InMemorySpanExporter) -> None:
    arn = execution_record().arn
    with telemetry.observe_hop(Hop(arn, MACHINE_ARN, "Done", {})):
        pass
    (span,) = spans.get_finished_spans()
    trace_id, root_span = tracing.root_ids(arn)
    assert span.context.trace_id == trace_id and span.parent.span_id == root_span


def test_exceptions_and_failures_mark_the_hop_span(spans: InMemorySpanExporter) -> None:
    hop = _hop(execution_record())
    with pytest.raises(RuntimeError), telemetry.observe_hop(hop):
        raise RuntimeError("store down")
    with telemetry.observe_hop(hop) as obs:
        obs.failed(ValueError("bad state"))
    with telemetry.observe_hop(hop) as obs:
        obs.skipped("duplicate")
    raised, failed, skipped = spans.get_finished_spans()
    assert raised.status.status_code is StatusCode.ERROR and raised.events[0].name == "exception"
    assert failed.attributes["statehop.error"] == "ValueError"
    assert skipped.attributes["statehop.skipped"] == "duplicate"
    hops = telemetry.metrics.METRICS.hops
    assert (hops.value("error"), hops.value("skipped"), hops.value("applied")) == (2, 1, 0)


def test_not_sampled_caller_means_no_spans(spans: InMemorySpanExporter) -> None:
    record = execution_record(trace_header=CALLER[:-2] + "00")
    hop = _hop(record)
    assert hop.traceparent.endswith("-00")
    with telemetry.observe_hop(hop):
        assert telemetry.current_traceparent().endswith("-00")  # the decision travels on
    telemetry.execution_ended(hop, "SUCCEEDED", {})
    assert spans.get_finished_spans() == ()


def test_stop_execution_ends_the_root_from_the_record(spans: InMemorySpanExporter) -> None:
    start = datetime.now(UTC) - timedelta(seconds=10)
    record = execution_record(
        status="ABORTED",
        started=start,
        stopped=start + timedelta(seconds=4),
        error="Stopped",
        cause="by hand",
    )
    telemetry.execution_record_ended(record)
    (root,) = spans.get_finished_spans()
    assert root.name == "execution run-1"
    assert root.context.span_id == tracing.root_ids(record.arn)[1]
    assert (root.end_time - root.start_time) / 1e9 == pytest.approx(4.0, abs=0.01)
    assert root.attributes["statehop.status"] == "ABORTED"
    assert telemetry.metrics.METRICS.aborted.value(MACHINE_ARN) == 1


# ---------------------------------------------------------------------------- propagation


def test_inject_and_extract_amqp_headers(spans: InMemorySpanExporter) -> None:
    tracer = trace.get_tracer("test", tracer_provider=tracing._state.provider)
    with tracer.start_as_current_span("publisher") as span:
        headers = telemetry.inject({"x-sh-exec": "arn"})
    ctx = telemetry.extract(headers)
    remote = trace.get_current_span(ctx).get_span_context()
    assert remote.is_remote
    assert (remote.trace_id, remote.span_id) == (
        span.get_span_context().trace_id,
        span.get_span_context().span_id,
    )
    assert not trace.get_current_span(telemetry.extract({})).get_span_context().is_valid
    assert telemetry.inject({}) == {}  # no current span: nothing written


def test_tracing_off_is_a_no_op() -> None:
    tracing.shutdown_tracing()
    hop = _hop(execution_record())
    with telemetry.observe_hop(hop) as obs:
        assert obs.span is None
        assert telemetry.current_traceparent("fallback") == "fallback"
    telemetry.execution_ended(hop, "SUCCEEDED", {})  # no provider: nothing to export, no error
    assert telemetry.metrics.METRICS.succeeded.value(MACHINE_ARN) == 1


@pytest.mark.parametrize(
    ("env", "kind"),
    [
        ({}, None),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"}, None),
        ({"OTEL_TRACES_EXPORTER": "console"}, "ConsoleSpanExporter"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318"}, "OTLPSpanExporter"),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, "OTLPSpanExporter"),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, None),
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, None),
    ],
)
def test_exporter_from_environment(env: dict[str, str], kind: str | None) -> None:
    exporter = tracing.exporter_from_env(env)
    assert (type(exporter).__name__ if exporter is not None else None) == kind
    if exporter is not None:
        exporter.shutdown()


def test_setup_reads_service_name_and_sampler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    exporter = InMemorySpanExporter()
    try:
        assert tracing.setup_tracing("statehop-worker", exporter=exporter, batch=False, install_global=False)
        assert tracing._state.provider.resource.attributes["service.name"] == "statehop-worker"
        record = execution_record()
        hop = _hop(record)
        assert hop.traceparent.endswith("-00")  # the sampler decided at the root
        with telemetry.observe_hop(hop):
            pass
        assert exporter.get_finished_spans() == ()
    finally:
        tracing.shutdown_tracing()


def test_task_failed_marks_the_current_task(spans: InMemorySpanExporter) -> None:
    headers = {"x-sh-exec": "arn:e", "x-sh-state": "S", "traceparent": CALLER}
    with telemetry.observe_task(headers, "charge"):
        telemetry.task_failed("Card.Declined", "no funds", ValueError("no funds"))
    telemetry.task_failed("ignored outside a task")
    (span,) = spans.get_finished_spans()
    assert span.parent.span_id == 0x00F067AA0BA902B7
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes["statehop.error"], span.attributes["statehop.cause"]) == (
        "Card.Declined",
        "no funds",
    )
    assert telemetry.metrics.METRICS.task_run_time.count("charge", "FAILED") == 1
