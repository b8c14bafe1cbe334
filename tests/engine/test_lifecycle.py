"""Engine features beyond one ASL state: redrive, nested executions (.sync), activities,
StopExecution, callbacks and task timeouts — on the embedded default."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from runtime.embedded import EmbeddedRuntime
from runtime.store import ExecutionNotRedrivable

CALLS: dict[str, int] = {}
BROKEN: set[str] = set()


def flaky_item(payload: Any) -> Any:
    """Fails for item values listed in BROKEN; counts calls per value."""
    key = str(payload)
    CALLS[key] = CALLS.get(key, 0) + 1
    if key in BROKEN:
        raise RuntimeError(f"item {key} broken")
    return payload * 10


def step_one(payload: Any) -> Any:
    CALLS["one"] = CALLS.get("one", 0) + 1
    return {"one": True}


def step_two(payload: Any) -> Any:
    CALLS["two"] = CALLS.get("two", 0) + 1
    if "two" in BROKEN:
        raise RuntimeError("two is broken")
    return {**payload, "two": True}


def notify(payload: Any) -> Any:
    return {"notified": payload}


SERVICES = {"flaky-item": flaky_item, "step-one": step_one, "step-two": step_two, "notify": notify}


@pytest.fixture(autouse=True)
def _reset() -> None:
    CALLS.clear()
    BROKEN.clear()


async def _history(rt: EmbeddedRuntime, arn: str) -> list[dict[str, Any]]:
    async with rt.store.transaction() as tx:
        page = await tx.list_events(arn, max_results=1000)
    return [e.to_aws() for e in page.items]


async def test_redrive_continues_from_the_failed_state_and_skips_what_succeeded() -> None:
    definition = {
        "StartAt": "One",
        "States": {
            "One": {"Type": "Task", "Resource": "step-one", "ResultPath": "$.one", "Next": "Two"},
            "Two": {
                "Type": "Task",
                "Resource": "step-two",
                "Parameters": {"r.$": "$$.Execution.RedriveCount"},
                "End": True,
            },
        },
    }
    BROKEN.add("two")
    async with EmbeddedRuntime(services=SERVICES, time_skip=True) as rt:
        arn = await rt.create_state_machine("redrive-linear", definition)
        first = await rt.run(arn, {})
        assert (first.status, first.error) == ("FAILED", "RuntimeError")
        BROKEN.clear()
        await rt.engine.redrive_execution(first.arn)
        record = await rt.engine.wait(first.arn, 30)
        assert record.status == "SUCCEEDED" and record.redrive_count == 1
        assert orjson.loads(record.output) == {"r": 1, "two": True}
        assert CALLS == {"one": 1, "two": 2}  # One is not run again
        types = [e["type"] for e in await _history(rt, first.arn)]
        assert types.count("ExecutionRedriven") == 1 and types[-1] == "ExecutionSucceeded"
        with pytest.raises(ExecutionNotRedrivable):
            await rt.engine.redrive_execution(first.arn)  # it succeeded


async def test_redrive_of_a_map_reruns_only_the_failed_items() -> None:
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "I",
                    "States": {"I": {"Type": "Task", "Resource": "flaky-item", "End": True}},
                },
                "End": True,
            }
        },
    }
    BROKEN.add("3")
    async with EmbeddedRuntime(services=SERVICES, time_skip=True) as rt:
        arn = await rt.create_state_machine("redrive-map", definition)
        first = await rt.run(arn, [1, 2, 3, 4])
        assert first.status == "FAILED"
        BROKEN.clear()
        await rt.engine.redrive_execution(first.arn)
        record = await rt.engine.wait(first.arn, 30)
        assert record.status == "SUCCEEDED"
        assert orjson.loads(record.output) == [10, 20, 30, 40]
        assert CALLS["3"] == 2
        # items whose success was recorded are not run again; item 4 was dispatched but its
        # answer came after the join had failed, so it is unsuccessful and runs again
        assert CALLS["1"] == 1 and CALLS["2"] == 1 and CALLS["4"] <= 2


async def test_nested_execution_sync2_returns_the_child_output_and_plain_start_returns_its_arn() -> None:
    child = {
        "StartAt": "C",
        "States": {
            "C": {"Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"}, "End": True}
        },
    }
    async with EmbeddedRuntime(services=SERVICES, time_skip=True) as rt:
        child_arn = await rt.create_state_machine("child", child)
        parent = {
            "StartAt": "Sync",
            "States": {
                "Sync": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::states:startExecution.sync:2",
                    "Parameters": {"StateMachineArn": child_arn, "Input": {"n.$": "$.n"}},
                    "ResultSelector": {"out.$": "$.Output", "status.$": "$.Status"},
                    "ResultPath": "$.sync",
                    "Next": "Fire",
                },
                "Fire": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::states:startExecution",
                    "Parameters": {"StateMachineArn": child_arn, "Input": {"n": 1}},
                    "ResultSelector": {"arn.$": "$.ExecutionArn"},
                    "ResultPath": "$.fired",
                    "End": True,
                },
            },
        }
        arn = await rt.create_state_machine("parent", parent)
        result = await rt.run(arn, {"n": 21}, timeout=30)
        assert result.status == "SUCCEEDED", result
        assert result.output["sync"] == {"out": {"doubled": 42}, "status": "SUCCEEDED"}
        fired = result.output["fired"]["arn"]
        assert ":execution:child:" in fired
        assert (await rt.engine.wait(fired, 30)).status == "SUCCEEDED"


async def test_nested_sync_failure_fails_the_parent_task_with_the_child_error_in_the_cause() -> None:
    child = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "ChildBroke", "Cause": "bad"}}}
    async with EmbeddedRuntime(services=SERVICES, time_skip=True) as rt:
        child_arn = await rt.create_state_machine("child-fails", child)
        parent = {
            "StartAt": "Sync",
            "States": {
                "Sync": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::states:startExecution.sync",
                    "Parameters": {"StateMachineArn": child_arn, "Input": {}},
                    "End": True,
                }
            },
        }
        arn = await rt.create_state_machine("parent-of-failing", parent)
        result = await rt.run(arn, {}, timeout=30)
        assert (result.status, result.error) == ("FAILED", "States.TaskFailed")
        assert orjson.loads(result.cause)["Error"] == "ChildBroke"


async def test_activity_task_is_claimed_by_a_worker_and_answered_with_its_token() -> None:
    activity = "arn:aws:states:us-east-1:123456789012:activity:review"
    definition = {
        "StartAt": "Review",
        "States": {
            "Review": {"Type": "Task", "Resource": activity, "Parameters": {"doc.$": "$.doc"}, "End": True}
        },
    }
    async with EmbeddedRuntime(services=SERVICES, time_skip=True) as rt:
        arn = await rt.create_state_machine("with-activity", definition)
        execution = await rt.engine.start_execution(arn, {"doc": "d-1"})
        claimed = await rt.engine.claim_activity_task(activity, "worker-a", wait_seconds=10)
        assert claimed is not None
        token, task_input = claimed
        assert orjson.loads(task_input) == {"doc": "d-1"}
        assert await rt.engine.claim_activity_task(activity, "worker-b", wait_seconds=0.2) is None
        assert await rt.engine.answer_task(token, "success", b'{"approved": true}', callback=True)
        record = await rt.engine.wait(execution.arn, 30)
        assert orjson.loads(record.output) == {"approved": True}
        assert "ActivityStarted" in [e["type"] for e in await _history(rt, execution.arn)]


async def test_callback_token_then_stop_then_redrive_resumes_the_waiting_task() -> None:
    definition = {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "notify", "Payload": {"token.$": "$$.Task.Token"}},
                "End": True,
            }
        },
    }
    async with EmbeddedRuntime(services=SERVICES, time_skip=False) as rt:
        arn = await rt.create_state_machine("callback", definition)
        execution = await rt.engine.start_execution(arn, {"q": 1})
        await asyncio.sleep(0.3)
        stopped = await rt.engine.stop_execution(execution.arn, "Stopped", "by test")
        assert stopped.status == "ABORTED"
        await rt.engine.redrive_execution(execution.arn)
        for _ in range(50):  # the redriven task publishes a new token; find it in the history
            events = await _history(rt, execution.arn)
            if sum(e["type"] == "TaskScheduled" for e in events) == 2:
                break
            await asyncio.sleep(0.1)
        params = [
            orjson.loads(e["taskScheduledEventDetails"]["parameters"])
            for e in events
            if e["type"] == "TaskScheduled"
        ]
        token = params[-1]["Payload"]["token"]
        assert token != params[0]["Payload"]["token"]
        assert not await rt.engine.answer_task(params[0]["Payload"]["token"], "success", b"{}", callback=True)
        assert await rt.engine.answer_task(token, "success", b'{"ok": 1}', callback=True)
        record = await rt.engine.wait(execution.arn, 30)
        assert record.status == "SUCCEEDED"
        assert orjson.loads(record.output) == {"ok": 1}  # a callback's output is as sent


async def test_task_timeout_fails_with_states_timeout_and_a_late_answer_is_ignored() -> None:
    definition = {
        "StartAt": "Slow",
        "States": {
            "Slow": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "TimeoutSeconds": 3600,
                "Parameters": {"FunctionName": "notify", "Payload": {"token.$": "$$.Task.Token"}},
                "End": True,
            }
        },
    }
    async with EmbeddedRuntime(services=SERVICES, time_skip=True) as rt:
        arn = await rt.create_state_machine("timeout", definition)
        result = await rt.run(arn, {}, timeout=30)
        assert (result.status, result.error) == ("FAILED", "States.Timeout")
        events = await _history(rt, result.arn)
        token = orjson.loads(
            next(e for e in events if e["type"] == "TaskScheduled")["taskScheduledEventDetails"]["parameters"]
        )["Payload"]["token"]
        assert not await rt.engine.answer_task(token, "success", b"{}", callback=True)
        assert "TaskTimedOut" in [e["type"] for e in events]
