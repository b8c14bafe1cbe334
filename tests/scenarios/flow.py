"""Control flow: Choice, Wait, Succeed, Fail, and chains of states."""

from __future__ import annotations

from tests.scenarios import Scenario
from tests.scenarios.build import failed, machine, ok, one

S = Scenario

CHOICE = machine(
    {
        "C": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"},
                {
                    "And": [
                        {"Variable": "$.n", "NumericGreaterThanEquals": 0},
                        {"Variable": "$.kind", "StringMatches": "sm*ll"},
                    ],
                    "Next": "Small",
                },
                {"Not": {"Variable": "$.kind", "IsPresent": True}, "Next": "NoKind"},
            ],
            "Default": "Other",
        },
        "Big": {"Type": "Pass", "Result": "big", "End": True},
        "Small": {"Type": "Pass", "Result": "small", "End": True},
        "NoKind": {"Type": "Pass", "Result": "nokind", "End": True},
        "Other": {"Type": "Pass", "Result": "other", "End": True},
    }
)

SCENARIOS = [
    S("choice-first-match", CHOICE, {"n": 11, "kind": "small"}, ok("big")),
    S("choice-and-wildcard", CHOICE, {"n": 3, "kind": "smaaall"}, ok("small")),
    S("choice-not-is-present", CHOICE, {"n": -1}, ok("nokind")),
    S("choice-default", CHOICE, {"n": -1, "kind": "x"}, ok("other")),
    S(
        "choice-no-match-no-default",
        machine(
            {
                "C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "BooleanEquals": True, "Next": "T"}]},
                "T": {"Type": "Succeed"},
            }
        ),
        {"a": False},
        failed("States.NoChoiceMatched"),
    ),
    S(
        "choice-input-and-output-path",
        machine(
            {
                "C": {
                    "Type": "Choice",
                    "InputPath": "$.in",
                    "OutputPath": "$.v",
                    "Choices": [{"Variable": "$.v", "StringEquals": "x", "Next": "T"}],
                },
                "T": {"Type": "Succeed"},
            }
        ),
        {"in": {"v": "x"}},
        ok("x"),
    ),
    S(
        "choice-path-operand",
        machine(
            {
                "C": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.a", "NumericLessThanPath": "$.b", "Next": "T"}],
                    "Default": "F",
                },
                "T": {"Type": "Pass", "Result": True, "End": True},
                "F": {"Type": "Pass", "Result": False, "End": True},
            }
        ),
        {"a": 1, "b": 2},
        ok(True),
    ),
    S(
        "choice-assign-per-rule",
        machine(
            {
                "C": {
                    "Type": "Choice",
                    "Choices": [
                        {"Variable": "$.a", "IsString": True, "Assign": {"picked.$": "$.a"}, "Next": "T"}
                    ],
                },
                "T": {"Type": "Pass", "Parameters": {"p.$": "$picked"}, "End": True},
            }
        ),
        {"a": "z"},
        ok({"p": "z"}),
    ),
    S(
        "choice-loop-counter",
        machine(
            {
                "Init": {"Type": "Pass", "Result": {"i": 0}, "Next": "Check"},
                "Check": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.i", "NumericGreaterThanEquals": 3, "Next": "Done"}],
                    "Default": "Inc",
                },
                "Inc": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)"}, "Next": "Check"},
                "Done": {"Type": "Succeed"},
            }
        ),
        {},
        ok({"i": 3}),
    ),
    S(
        "wait-seconds",
        machine({"W": {"Type": "Wait", "Seconds": 3600, "Next": "D"}, "D": {"Type": "Succeed"}}),
        {"a": 1},
        ok({"a": 1}),
    ),
    S(
        "wait-seconds-path",
        machine({"W": {"Type": "Wait", "SecondsPath": "$.s", "Next": "D"}, "D": {"Type": "Succeed"}}),
        {"s": 5},
        ok({"s": 5}),
    ),
    S(
        "wait-seconds-path-not-integer",
        machine({"W": {"Type": "Wait", "SecondsPath": "$.s", "Next": "D"}, "D": {"Type": "Succeed"}}),
        {"s": "5"},
        failed("States.Runtime"),
    ),
    S(
        "wait-seconds-path-negative",
        machine({"W": {"Type": "Wait", "SecondsPath": "$.s", "Next": "D"}, "D": {"Type": "Succeed"}}),
        {"s": -1},
        failed("States.Runtime"),
    ),
    S(
        "wait-seconds-path-missing",
        machine({"W": {"Type": "Wait", "SecondsPath": "$.s", "Next": "D"}, "D": {"Type": "Succeed"}}),
        {},
        failed("States.Runtime"),
    ),
    S(
        "wait-timestamp-past",
        machine(
            {
                "W": {"Type": "Wait", "Timestamp": "2001-01-01T00:00:00Z", "Next": "D"},
                "D": {"Type": "Succeed"},
            }
        ),
        {},
        ok({}),
    ),
    S(
        "wait-timestamp-path",
        machine({"W": {"Type": "Wait", "TimestampPath": "$.t", "Next": "D"}, "D": {"Type": "Succeed"}}),
        {"t": "2023-11-15T00:00:00+02:00"},
        ok({"t": "2023-11-15T00:00:00+02:00"}),
    ),
    S(
        "wait-timestamp-path-invalid",
        machine({"W": {"Type": "Wait", "TimestampPath": "$.t", "Next": "D"}, "D": {"Type": "Succeed"}}),
        {"t": "tomorrow"},
        failed("States.Runtime"),
    ),
    S(
        "wait-over-a-year-fails",
        machine({"W": {"Type": "Wait", "TimestampPath": "$.t", "Next": "D"}, "D": {"Type": "Succeed"}}),
        {"t": "2099-01-01T00:00:00Z"},
        failed("States.Runtime"),
    ),
    S(
        "wait-output-path",
        machine({"W": {"Type": "Wait", "Seconds": 1, "OutputPath": "$.a", "End": True}}),
        {"a": [1]},
        ok([1]),
    ),
    S("succeed-output-path", one({"Type": "Succeed", "OutputPath": "$.r"}), {"r": 1}, ok(1)),
    S("succeed-input-path", one({"Type": "Succeed", "InputPath": "$.r"}), {"r": {"s": 1}}, ok({"s": 1})),
    S(
        "fail-static",
        one({"Type": "Fail", "Error": "MyError", "Cause": "because"}),
        {},
        failed("MyError", "because"),
    ),
    S("fail-no-error", one({"Type": "Fail"}), {}, {"status": "FAILED", "error": "", "cause": ""}),
    S(
        "fail-error-path",
        one({"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c"}),
        {"e": "E1", "c": "C1"},
        failed("E1", "C1"),
    ),
    S(
        "fail-cause-path-intrinsic",
        one({"Type": "Fail", "Error": "Bad", "CausePath": "States.Format('order {} failed', $.id)"}),
        {"id": 7},
        failed("Bad", "order 7 failed"),
    ),
    S(
        "fail-error-path-not-string",
        one({"Type": "Fail", "ErrorPath": "$.e"}),
        {"e": 1},
        failed("States.Runtime"),
    ),
    S(
        "chain-of-passes",
        machine(
            {
                "A": {"Type": "Pass", "Result": 1, "ResultPath": "$.a", "Next": "B"},
                "B": {"Type": "Pass", "Result": 2, "ResultPath": "$.b", "Next": "C"},
                "C": {"Type": "Pass", "Result": 3, "ResultPath": "$.c", "End": True},
            }
        ),
        {},
        ok({"a": 1, "b": 2, "c": 3}),
    ),
]
