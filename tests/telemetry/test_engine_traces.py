"""What the engine produces once it calls the telemetry hooks, on the embedded runtime (no broker):
one trace per execution with every state span under the root, task spans under the hop that
dispatched them, timer spans for Waits and retries, the AWS-named metrics, and status change
events on the events exchange.

An expected failure while ``runtime/engine/engine.py`` does not call the hooks yet.
"""

from __future__ import annotations

import orjson
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from runtime.embedded import EmbeddedRuntime
from runtime.telemetry import metrics, tracing

MACHINE = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Result": [1, 2], "ResultPath": "$.items", "Next": "Flaky"},
        "Flaky": {
            "Type": "Task",
            "Resource": "flaky",
            "Retry": [{"ErrorEquals": ["Hiccup"], "IntervalSeconds": 5, "MaxAttempts": 2}],
            "ResultPath": "$.flaky",
            "Next": "Pause",
        },
        "Pause": {"Type": "Wait", "Seconds": 60, "Next": "Fan"},
        "Fan": {
            "Type": "Parallel",
            "ResultPath": "$.fan",
            "Next": "Each",
            "Branches": [
                {
                    "StartAt": "Double",
                    "States": {"Double": {"Type": "Task", "Resource": "double", "End": True}},
                },
                {"StartAt": "Noop", "States": {"Noop": {"Type": "Pass", "End": True}}},
            ],
        },
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ResultPath": "$.each",
            "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}},
            "End": True,
        },
    },
}

_calls = {"flaky": 0}


def flaky(payload: object) -> str:
    _calls["flaky"] += 1
    if _calls["flaky"] % 2 == 1:  # each execution: the first try fails, the retry succeeds
        raise type("Hiccup", (Exception,), {})("first call fails")
    return "ok"


def double(payload: object) -> object:
    return payload


async def test_one_trace_per_execution_with_every_span(spans: InMemorySpanExporter) -> None:
    _calls["flaky"] = 0
    async with EmbeddedRuntime(services={"flaky": flaky, "double": double}, time_skip=True) as rt:
        await rt.transport.bind_events("test.events", "execution.#")
        arn = await rt.create_state_machine("Traced", MACHINE)
        first = await rt.run(arn, {}, name="one", timeout=30)
        second = await rt.run(arn, {}, name="two", timeout=30)
        events = [orjson.loads(m.body) for m in rt.transport.take("test.events")]
    assert (first.status, second.status) == ("SUCCEEDED", "SUCCEEDED")
    tracing.force_flush()
    finished = spans.get_finished_spans()
    for result in (first, second):
        trace_id, root_id = tracing.root_ids(result.arn)
        mine = [s for s in finished if s.context.trace_id == trace_id]
        roots = [s for s in mine if s.name.startswith("execution ")]
        assert len(roots) == 1 and roots[0].context.span_id == root_id
        assert roots[0].attributes["statehop.status"] == "SUCCEEDED"
        states = [s for s in mine if s.name.startswith("state ")]
        assert {s.name for s in states} >= {
            "state Prepare",
            "state Flaky",
            "state Pause",
            "state Fan",
            "state Double",
            "state Noop",
            "state Each",
            "state Item",
        }
        for span in states + [s for s in mine if s.name.startswith("timer ")]:
            assert span.parent.span_id == root_id, span.name
        by_id = {s.context.span_id: s for s in states}
        tasks = [s for s in mine if s.name.startswith("task ")]
        assert sorted(s.name for s in tasks) == ["task double", "task flaky", "task flaky"]
        for task in tasks:
            dispatching = by_id[task.parent.span_id]  # the hop span that sent the task
            assert dispatching.name == f"state {task.name.split()[1].capitalize()}"
        assert any(s.name == "timer Pause" for s in mine)  # the Wait fired as a timer
        retried = [
            s for s in states if s.name == "state Flaky" and s.attributes["statehop.hop_kind"] == "retry"
        ]
        assert retried and retried[0].attributes["statehop.attempt"] == 1
        assert {s.attributes.get("statehop.state_type") for s in states} >= {
            "Pass",
            "Task",
            "Wait",
            "Parallel",
            "Map",
        }
        assert len({s.context.trace_id for s in mine}) == 1

    m = metrics.METRICS
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:Traced"
    assert m.started.value(machine) == 2 and m.succeeded.value(machine) == 2
    assert m.execution_time.count(machine) == 2
    assert m.transitions.value("Wait", "enter") == 2 and m.transitions.value("Wait", "resume") == 2
    assert m.tasks_scheduled.value("flaky") == 4 and m.tasks_failed.value("flaky") == 2

    statuses = [(e["detail"]["name"], e["detail"]["status"]) for e in events]
    assert statuses == [("one", "RUNNING"), ("one", "SUCCEEDED"), ("two", "RUNNING"), ("two", "SUCCEEDED")]
    done = events[1]
    assert done["detail-type"] == "Step Functions Execution Status Change" and done["source"] == "aws.states"
    assert orjson.loads(done["detail"]["output"])["flaky"] == "ok"
