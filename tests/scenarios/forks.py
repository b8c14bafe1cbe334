"""Parallel and Map: results in order, failures, ItemSelector, batching, tolerance."""

from __future__ import annotations

from tests.scenarios import Scenario
from tests.scenarios.build import failed, machine, ok, one, svc

S = Scenario


_names = iter(f"B{i}" for i in range(10_000))


def branch(state: dict) -> dict:
    """A one-state branch; state names are unique across the definition, as AWS requires."""
    name = next(_names)
    terminal = state["Type"] in ("Succeed", "Fail")
    return {"StartAt": name, "States": {name: state if terminal else {**state, "End": True}}}


DOUBLE = {"Type": "Task", "Resource": "double"}

SCENARIOS = [
    S(
        "parallel-results-in-order",
        one(
            {
                "Type": "Parallel",
                "Branches": [
                    branch({"Type": "Pass", "Result": 1}),
                    branch({"Type": "Pass", "Result": 2}),
                    branch({"Type": "Pass", "InputPath": "$.x"}),
                ],
            }
        ),
        {"x": 3},
        ok([1, 2, 3]),
    ),
    S(
        "parallel-result-selector-and-path",
        one(
            {
                "Type": "Parallel",
                "Branches": [
                    branch({"Type": "Pass", "Result": "a"}),
                    branch({"Type": "Pass", "Result": "b"}),
                ],
                "ResultSelector": {"first.$": "$[0]"},
                "ResultPath": "$.out",
            }
        ),
        {"in": 1},
        ok({"in": 1, "out": {"first": "a"}}),
    ),
    S(
        "parallel-one-branch-fails",
        one(
            {
                "Type": "Parallel",
                "Branches": [branch({"Type": "Pass"}), branch({"Type": "Fail", "Error": "E", "Cause": "c"})],
            }
        ),
        {},
        failed("E", "c"),
    ),
    S(
        "parallel-nested",
        one(
            {
                "Type": "Parallel",
                "Branches": [
                    branch({"Type": "Parallel", "Branches": [branch({"Type": "Pass", "Result": "deep"})]})
                ],
            }
        ),
        {},
        ok([["deep"]]),
    ),
    S(
        "parallel-parameters",
        one({"Type": "Parallel", "Parameters": {"v.$": "$.a"}, "Branches": [branch({"Type": "Pass"})]}),
        {"a": 1},
        ok([{"v": 1}]),
    ),
    S("map-basic", one({"Type": "Map", "Iterator": branch(DOUBLE)}), [1, 2, 3], ok([2, 4, 6]), svc("double")),
    S(
        "map-items-path-item-processor",
        one({"Type": "Map", "ItemsPath": "$.xs", "ItemProcessor": branch(DOUBLE), "ResultPath": "$.ys"}),
        {"xs": [5, 6]},
        ok({"xs": [5, 6], "ys": [10, 12]}),
        svc("double"),
    ),
    S("map-empty", one({"Type": "Map", "Iterator": branch(DOUBLE)}), [], ok([]), svc("double")),
    S(
        "map-item-selector-context",
        one(
            {
                "Type": "Map",
                "ItemsPath": "$.xs",
                "ItemSelector": {"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value", "tag.$": "$.tag"},
                "ItemProcessor": branch({"Type": "Pass"}),
            }
        ),
        {"xs": ["a", "b"], "tag": "t"},
        ok([{"i": 0, "v": "a", "tag": "t"}, {"i": 1, "v": "b", "tag": "t"}]),
    ),
    S(
        "map-legacy-parameters",
        one(
            {"Type": "Map", "Parameters": {"x.$": "$$.Map.Item.Value"}, "Iterator": branch({"Type": "Pass"})}
        ),
        [1],
        ok([{"x": 1}]),
    ),
    S(
        "map-items-not-array",
        one({"Type": "Map", "ItemsPath": "$.xs", "Iterator": branch({"Type": "Pass"})}),
        {"xs": {"a": 1}},
        failed("States.Runtime"),
    ),
    S(
        "map-one-item-fails",
        one({"Type": "Map", "Iterator": branch({"Type": "Task", "Resource": "fail_odd"})}),
        [2, 3, 4],
        failed("ValueError", "3 is odd"),
        svc("fail_odd"),
    ),
    S(
        "map-max-concurrency",
        one({"Type": "Map", "MaxConcurrency": 2, "Iterator": branch(DOUBLE)}),
        list(range(10)),
        ok([i * 2 for i in range(10)]),
        svc("double"),
    ),
    S(
        "map-batcher",
        one(
            {
                "Type": "Map",
                "ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"b": 1}},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "BP",
                    "States": {"BP": {"Type": "Pass", "End": True}},
                },
            }
        ),
        [1, 2, 3],
        ok([{"Items": [1, 2], "BatchInput": {"b": 1}}, {"Items": [3], "BatchInput": {"b": 1}}]),
    ),
    S(
        "map-tolerated-count-within",
        one(
            {
                "Type": "Map",
                "ToleratedFailureCount": 1,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "BT1",
                    "States": {"BT1": {"Type": "Task", "Resource": "fail_odd", "End": True}},
                },
            }
        ),
        [2, 3, 4],
        ok([2, {"Error": "ValueError", "Cause": "3 is odd"}, 4]),
        svc("fail_odd"),
    ),
    S(
        "map-tolerated-count-exceeded",
        one(
            {
                "Type": "Map",
                "ToleratedFailureCount": 1,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "BT2",
                    "States": {"BT2": {"Type": "Task", "Resource": "fail_odd", "End": True}},
                },
            }
        ),
        [1, 3, 4],
        failed("States.ExceedToleratedFailureThreshold"),
        svc("fail_odd"),
    ),
    S(
        "map-tolerated-percentage",
        one(
            {
                "Type": "Map",
                "ToleratedFailurePercentage": 50,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "BT3",
                    "States": {"BT3": {"Type": "Task", "Resource": "fail_odd", "End": True}},
                },
            }
        ),
        [1, 2, 3, 4],
        ok(
            [{"Error": "ValueError", "Cause": "1 is odd"}, 2, {"Error": "ValueError", "Cause": "3 is odd"}, 4]
        ),
        svc("fail_odd"),
    ),
    S(
        "map-nested-in-parallel",
        one({"Type": "Parallel", "Branches": [branch({"Type": "Map", "Iterator": branch(DOUBLE)})]}),
        [1, 2],
        ok([[2, 4]]),
        svc("double"),
    ),
    S(
        "map-catch",
        machine(
            {
                "M": {
                    "Type": "Map",
                    "ItemsPath": "$.xs",
                    "Iterator": branch({"Type": "Task", "Resource": "fail_odd"}),
                    "Catch": [{"ErrorEquals": ["ValueError"], "ResultPath": "$.e", "Next": "H"}],
                    "End": True,
                },
                "H": {"Type": "Pass", "OutputPath": "$.e.Error", "End": True},
            }
        ),
        {"xs": [1]},
        ok("ValueError"),
        svc("fail_odd"),
    ),
]
