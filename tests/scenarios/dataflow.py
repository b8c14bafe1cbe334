"""Input and output processing: InputPath -> Parameters -> ResultSelector -> ResultPath -> OutputPath,
payload templates, the context object, and variables (JSONPath)."""

from __future__ import annotations

from tests.scenarios import Scenario
from tests.scenarios.build import failed, machine, ok, one, svc

S = Scenario
PASS = {"Type": "Pass"}

SCENARIOS = [
    S("pass-identity", one(PASS), {"a": 1}, ok({"a": 1})),
    S("pass-result", one({**PASS, "Result": {"x": 1}}), {"a": 1}, ok({"x": 1})),
    S(
        "pass-result-path",
        one({**PASS, "Result": "hi", "ResultPath": "$.greeting"}),
        {"a": 1},
        ok({"a": 1, "greeting": "hi"}),
    ),
    S(
        "pass-result-path-nested-create",
        one({**PASS, "Result": 5, "ResultPath": "$.x.y.z"}),
        {},
        ok({"x": {"y": {"z": 5}}}),
    ),
    S(
        "pass-result-path-null-discards",
        one({**PASS, "Result": 5, "ResultPath": None}),
        {"a": 1},
        ok({"a": 1}),
    ),
    S(
        "pass-result-path-overwrites",
        one({**PASS, "Result": 2, "ResultPath": "$.a"}),
        {"a": 1, "b": 2},
        ok({"a": 2, "b": 2}),
    ),
    S(
        "pass-result-path-into-array-index",
        one({**PASS, "Result": "x", "ResultPath": "$.a[1]"}),
        {"a": [1, 2]},
        ok({"a": [1, "x"]}),
    ),
    S(
        "pass-result-path-through-scalar-fails",
        one({**PASS, "Result": 1, "ResultPath": "$.a.b"}),
        {"a": 3},
        failed("States.ResultPathMatchFailure"),
    ),
    S("pass-input-path", one({**PASS, "InputPath": "$.a"}), {"a": {"b": 1}}, ok({"b": 1})),
    S("pass-input-path-null-gives-empty", one({**PASS, "InputPath": None}), {"a": 1}, ok({})),
    S("pass-output-path", one({**PASS, "OutputPath": "$.a.b"}), {"a": {"b": [1, 2]}}, ok([1, 2])),
    S("pass-output-path-null-gives-empty", one({**PASS, "OutputPath": None}), {"a": 1}, ok({})),
    S(
        "pass-input-path-missing",
        one({**PASS, "InputPath": "$.nope"}),
        {"a": 1},
        failed("States.Runtime", "Invalid path '$.nope' : No results for path: $['nope']"),
    ),
    S(
        "pass-output-path-missing",
        one({**PASS, "OutputPath": "$.a.zz"}),
        {"a": {}},
        failed("States.Runtime", "Invalid path '$.a.zz' : No results for path: $['a']['zz']"),
    ),
    S(
        "pass-parameters",
        one({**PASS, "Parameters": {"x.$": "$.a", "lit": "$.a", "n": {"y.$": "$.b[0]"}}}),
        {"a": 1, "b": [7]},
        ok({"x": 1, "lit": "$.a", "n": {"y": 7}}),
    ),
    S(
        "pass-parameters-array-of-templates",
        one({**PASS, "Parameters": {"l": [{"v.$": "$.a"}, 2]}}),
        {"a": "z"},
        ok({"l": [{"v": "z"}, 2]}),
    ),
    S(
        "pass-parameters-missing-path",
        one({**PASS, "Parameters": {"missing.$": "$.nope.deep"}}),
        {"other": 1},
        failed(
            "States.Runtime",
            "The JSONPath '$.nope.deep' specified for the field 'missing.$' could not be found in the input "
            "'{\"other\":1}'",
        ),
    ),
    S(
        "pass-parameters-then-result-path",
        one({**PASS, "InputPath": "$.in", "Parameters": {"v.$": "$.x"}, "ResultPath": "$.out"}),
        {"in": {"x": 3}, "keep": True},
        ok({"in": {"x": 3}, "keep": True, "out": {"v": 3}}),
    ),
    S(
        "pass-hyphen-and-bracket",
        one({**PASS, "Parameters": {"a.$": "$.my-field", "b.$": "$['with space']"}}),
        {"my-field": 1, "with space": 2},
        ok({"a": 1, "b": 2}),
    ),
    S(
        "pass-filter-expression",
        one({**PASS, "Parameters": {"big.$": "$.items[?(@.n > 1)].n"}}),
        {"items": [{"n": 1}, {"n": 2}, {"n": 3}]},
        ok({"big": [2, 3]}),
    ),
    S(
        "pass-wildcard",
        one({**PASS, "Parameters": {"ids.$": "$.items[*].id"}}),
        {"items": [{"id": "a"}, {"id": "b"}]},
        ok({"ids": ["a", "b"]}),
    ),
    S(
        "pass-slice",
        one({**PASS, "Parameters": {"last.$": "$.v[-2:]"}}),
        {"v": [1, 2, 3]},
        ok({"last": [2, 3]}),
    ),
    S(
        "pass-context-object",
        one(
            {
                **PASS,
                "Parameters": {
                    "state.$": "$$.State.Name",
                    "input.$": "$$.Execution.Input",
                    "retry.$": "$$.State.RetryCount",
                    "redrives.$": "$$.Execution.RedriveCount",
                },
            }
        ),
        {"k": 1},
        ok({"state": "S", "input": {"k": 1}, "retry": 0, "redrives": 0}),
    ),
    S("pass-context-missing", one({**PASS, "Parameters": {"x.$": "$$.Nope"}}), {}, failed("States.Runtime")),
    S(
        "task-parameters-result-selector-result-path-output-path",
        one(
            {
                "Type": "Task",
                "Resource": "add",
                "InputPath": "$.nums",
                "Parameters": {"a.$": "$.x", "b.$": "$.y"},
                "ResultSelector": {"sum.$": "$"},
                "ResultPath": "$.nums.result",
                "OutputPath": "$.nums",
            }
        ),
        {"nums": {"x": 2, "y": 3}, "other": 0},
        ok({"x": 2, "y": 3, "result": {"sum": 5}}),
        svc("add"),
    ),
    S(
        "task-result-replaces-input-by-default",
        one({"Type": "Task", "Resource": "double"}),
        21,
        ok(42),
        svc("double"),
    ),
    S(
        "task-result-path-null",
        one({"Type": "Task", "Resource": "double", "ResultPath": None}),
        21,
        ok(21),
        svc("double"),
    ),
    S(
        "task-result-selector-missing-path",
        one({"Type": "Task", "Resource": "echo", "ResultSelector": {"v.$": "$.nope"}}),
        {"a": 1},
        failed("States.Runtime"),
        svc("echo"),
    ),
    S(
        "task-token-in-context-is-absent-for-request-response",
        one({"Type": "Task", "Resource": "echo", "Parameters": {"s.$": "$$.State.Name"}}),
        {},
        ok({"s": "S"}),
        svc("echo"),
    ),
    # variables (JSONPath)
    S(
        "assign-then-read",
        machine(
            {
                "A": {"Type": "Pass", "Assign": {"x.$": "$.v", "lit": 5}, "Next": "B"},
                "B": {"Type": "Pass", "Parameters": {"x.$": "$x", "lit.$": "$lit"}, "End": True},
            }
        ),
        {"v": 9},
        ok({"x": 9, "lit": 5}),
    ),
    S(
        "assign-uses-result-in-task",
        machine(
            {
                "T": {
                    "Type": "Task",
                    "Resource": "double",
                    "Assign": {"r.$": "$"},
                    "ResultPath": None,
                    "Next": "B",
                },
                "B": {"Type": "Pass", "Parameters": {"r.$": "$r"}, "End": True},
            }
        ),
        4,
        ok({"r": 8}),
        svc("double"),
    ),
    S(
        "assign-sees-old-values",
        machine(
            {
                "A": {"Type": "Pass", "Assign": {"a": 1, "b": 1}, "Next": "B"},
                "B": {"Type": "Pass", "Assign": {"a": 2, "b.$": "$a"}, "Next": "C"},
                "C": {"Type": "Pass", "Parameters": {"a.$": "$a", "b.$": "$b"}, "End": True},
            }
        ),
        {},
        ok({"a": 2, "b": 1}),
    ),
    S(
        "variable-field-path",
        machine(
            {
                "A": {"Type": "Pass", "Assign": {"cfg": {"limits": {"max": 3}}}, "Next": "B"},
                "B": {"Type": "Pass", "Parameters": {"m.$": "$cfg.limits.max"}, "End": True},
            }
        ),
        {},
        ok({"m": 3}),
    ),
    S("variable-undefined", one({**PASS, "Parameters": {"m.$": "$nope"}}), {}, failed("States.Runtime")),
    S(
        "variables-visible-in-branches",
        machine(
            {
                "A": {"Type": "Pass", "Assign": {"k": "outer"}, "Next": "P"},
                "P": {
                    "Type": "Parallel",
                    "End": True,
                    "Branches": [
                        {
                            "StartAt": "PB",
                            "States": {"PB": {"Type": "Pass", "Parameters": {"k.$": "$k"}, "End": True}},
                        }
                    ],
                },
            }
        ),
        {},
        ok([{"k": "outer"}]),
    ),
    S(
        "branch-assignments-stay-in-branch",
        machine(
            {
                "P": {
                    "Type": "Parallel",
                    "Next": "After",
                    "Branches": [
                        {
                            "StartAt": "PB",
                            "States": {"PB": {"Type": "Pass", "Assign": {"inner": 1}, "End": True}},
                        }
                    ],
                },
                "After": {"Type": "Pass", "Parameters": {"i.$": "$inner"}, "End": True},
            }
        ),
        {},
        failed("States.Runtime"),
    ),
]
