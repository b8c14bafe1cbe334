"""No JSONPath is parsed per transition: parse_machine compiles every path once.

A jsonpath-ng parse costs ~0.5 ms, so one per transition would cap a worker far below the
broker's hop rate. These tests count calls to jsonpath-ng's parser (plain and ``ext`` both go
through ``JsonPathParser.parse``) while executions run. The compile caches are cleared after
``parse_machine``, so a path compiled at run time is counted even if it was seen before: the
machine must carry everything it needs. Nothing here measures time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jsonpath_ng.parser import JsonPathParser

from runtime.asl.intrinsics import compile_intrinsic
from runtime.asl.paths import compile_path
from tests.scenarios import all_scenarios
from tests.support.driver import Driver, load_services

DEFINITION: dict[str, Any] = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {
            "Type": "Pass",
            "InputPath": "$.order",
            "Parameters": {
                "id.$": "$.id",
                "firstSku.$": "$.lines[0].sku",
                "bigLines.$": "$.lines[?(@.qty > 1)]",  # indefinite: jsonpath-ng's find
                "count.$": "States.ArrayLength($.lines)",
                "execution.$": "$$.Execution.Name",
                "constant": {"kind": "order", "tags": ["a", "b"]},
            },
            "ResultPath": "$.prepared",
            "Next": "Charge",
        },
        "Charge": {
            "Type": "Task",
            "Resource": "charge",
            "InputPath": "$.prepared",
            "Parameters": {"orderId.$": "$.id", "skus.$": "$.bigLines[*].sku"},
            "TimeoutSecondsPath": "$.count",
            "Credentials": {"RoleArn.$": "$.role"},
            "ResultSelector": {"status.$": "$.status", "attempt.$": "$$.State.RetryCount"},
            "ResultPath": "$.charge",
            "OutputPath": "$",
            "Next": "Loop",
        },
        "Loop": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.counter", "NumericGreaterThanEqualsPath": "$.limit", "Next": "Done"},
                {
                    "And": [
                        {"Variable": "$.charge.status", "StringEquals": "ok"},
                        {"Variable": "$.prepared.id", "IsPresent": True},
                    ],
                    "Next": "Increment",
                },
            ],
            "Default": "Done",
        },
        "Increment": {
            "Type": "Pass",
            "Parameters": {"value.$": "States.MathAdd($.counter, 1)"},
            "ResultPath": "$.step",
            "Next": "Count",
        },
        "Count": {
            "Type": "Pass",
            "InputPath": "$.step.value",
            "ResultPath": "$.counter",
            "Next": "Charge",
        },
        "Done": {"Type": "Succeed", "OutputPath": "$.charge"},
    },
}

INPUT = {
    "order": {"id": "o-1", "lines": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}]},
    "role": "arn:aws:iam::123456789012:role/charge",
    "counter": 0,
    "limit": 5,
}


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """A counter of jsonpath-ng parses, patched in for the test's duration."""
    counter = [0]
    original = JsonPathParser.parse

    def counted(self: Any, string: str, lexer: Any = None) -> Any:
        counter[0] += 1
        return original(self, string, lexer)

    monkeypatch.setattr(JsonPathParser, "parse", counted)
    yield counter


def _forget_compiled() -> None:
    compile_path.cache_clear()
    compile_intrinsic.cache_clear()


def test_the_counter_sees_a_parse(parses: list[int]) -> None:
    _forget_compiled()
    compile_path("$.a.path.nobody.else.uses")
    assert parses[0] == 1


def test_pass_task_choice_with_paths_parse_nothing_per_transition(parses: list[int]) -> None:
    driver = Driver(DEFINITION, {"charge": lambda payload: {"status": "ok", "skus": payload["skus"]}})
    _forget_compiled()
    parses[0] = 0
    for _ in range(3):
        result = driver.run(INPUT)
        assert result == {"status": "SUCCEEDED", "output": {"status": "ok", "attempt": 0}}
    assert len(driver.dispatched) == 3 * 6  # the loop really ran: six charges per execution
    assert parses[0] == 0


FORKS: dict[str, Any] = {
    "StartAt": "Fan",
    "States": {
        "Fan": {
            "Type": "Parallel",
            "Parameters": {"items.$": "$.items", "size.$": "$.size"},
            "Branches": [
                {
                    "StartAt": "Batches",
                    "States": {
                        "Batches": {
                            "Type": "Map",
                            "ItemsPath": "$.items",
                            "ItemSelector": {"value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index"},
                            "ItemBatcher": {
                                "MaxItemsPerBatchPath": "$.size",
                                "BatchInput": {"size.$": "$.size"},
                            },
                            "ItemProcessor": {
                                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                                "StartAt": "Sum",
                                "States": {
                                    "Sum": {
                                        "Type": "Pass",
                                        "Parameters": {
                                            "n.$": "States.ArrayLength($.Items)",
                                            "size.$": "$.BatchInput.size",
                                        },
                                        "End": True,
                                    }
                                },
                            },
                            "End": True,
                        }
                    },
                },
                {
                    "StartAt": "Boom",
                    "States": {
                        "Boom": {
                            "Type": "Task",
                            "Resource": "boom",
                            "Catch": [
                                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}
                            ],
                            "End": True,
                        },
                        "Caught": {"Type": "Pass", "OutputPath": "$.error.Error", "End": True},
                    },
                },
            ],
            "ResultSelector": {"batches.$": "$[0]", "caught.$": "$[1]"},
            "End": True,
        },
    },
}


def _boom(_payload: Any) -> Any:
    raise ValueError("boom")


def test_map_and_parallel_parse_nothing_per_transition(parses: list[int]) -> None:
    driver = Driver(FORKS, {"boom": _boom})
    _forget_compiled()
    parses[0] = 0
    result = driver.run({"items": [1, 2, 3, 4, 5], "size": 2})
    assert result == {
        "status": "SUCCEEDED",
        "output": {
            "batches": [{"n": 2, "size": 2}, {"n": 2, "size": 2}, {"n": 1, "size": 2}],
            "caught": "ValueError",
        },
    }
    assert parses[0] == 0


def test_no_scenario_parses_a_path_after_parse_machine(parses: list[int]) -> None:
    """Every state type and field the scenario tables cover, Map and Parallel included."""
    offenders = []
    for sc in all_scenarios():
        driver = Driver(sc.definition, load_services(sc.services))
        _forget_compiled()
        parses[0] = 0
        driver.run(sc.input)
        if parses[0]:
            offenders.append((sc.name, parses[0]))
    assert offenders == []
