"""JSONata states: Arguments, Output, Assign, Condition, Items, $states, and mixing languages."""

from __future__ import annotations

from tests.scenarios import Scenario
from tests.scenarios.build import failed, machine, ok, svc

S = Scenario
JA = {"QueryLanguage": "JSONata"}


def ja(states: dict, **top: object) -> dict:
    return machine(states, QueryLanguage="JSONata", **top)


SCENARIOS = [
    S(
        "jsonata-pass-output",
        ja(
            {
                "P": {
                    "Type": "Pass",
                    "Output": {"sum": "{% $states.input.a + $states.input.b %}", "lit": "x"},
                    "End": True,
                }
            }
        ),
        {"a": 1, "b": 2},
        ok({"sum": 3, "lit": "x"}),
    ),
    S(
        "jsonata-pass-default-output-is-input",
        ja({"P": {"Type": "Pass", "End": True}}),
        {"a": 1},
        ok({"a": 1}),
    ),
    S(
        "jsonata-task-arguments-and-output",
        ja(
            {
                "T": {
                    "Type": "Task",
                    "Resource": "add",
                    "Arguments": {"a": "{% $states.input.x %}", "b": 10},
                    "Output": {"r": "{% $states.result %}", "in": "{% $states.input.x %}"},
                    "End": True,
                }
            }
        ),
        {"x": 5},
        ok({"r": 15, "in": 5}),
        svc("add"),
    ),
    S(
        "jsonata-task-default-output-is-result",
        ja({"T": {"Type": "Task", "Resource": "double", "Arguments": "{% $states.input.n %}", "End": True}}),
        {"n": 4},
        ok(8),
        svc("double"),
    ),
    S(
        "jsonata-assign-and-read-variables",
        ja(
            {
                "A": {
                    "Type": "Pass",
                    "Assign": {"total": "{% $sum($states.input.xs) %}", "label": "t"},
                    "Next": "B",
                },
                "B": {"Type": "Pass", "Output": "{% $label & '=' & $string($total) %}", "End": True},
            }
        ),
        {"xs": [1, 2, 3]},
        ok("t=6"),
    ),
    S(
        "jsonata-assign-in-task-sees-result",
        ja(
            {
                "T": {
                    "Type": "Task",
                    "Resource": "double",
                    "Arguments": "{% 3 %}",
                    "Assign": {"d": "{% $states.result %}"},
                    "Output": "{% $states.input %}",
                    "Next": "B",
                },
                "B": {
                    "Type": "Pass",
                    "Output": {"d": "{% $d %}", "orig": "{% $states.input %}"},
                    "End": True,
                },
            }
        ),
        {"k": 1},
        ok({"d": 6, "orig": {"k": 1}}),
        svc("double"),
    ),
    S(
        "jsonata-choice-condition",
        ja(
            {
                "C": {
                    "Type": "Choice",
                    "Choices": [
                        {"Condition": "{% $states.input.n > 10 %}", "Next": "Big", "Output": {"size": "big"}},
                        {"Condition": "{% $states.input.n > 5 %}", "Next": "Mid", "Assign": {"m": True}},
                    ],
                    "Default": "Small",
                },
                "Big": {"Type": "Succeed"},
                "Mid": {"Type": "Pass", "Output": {"m": "{% $m %}"}, "End": True},
                "Small": {
                    "Type": "Fail",
                    "Error": "TooSmall",
                    "Cause": "{% 'n=' & $string($states.input.n) %}",
                },
            }
        ),
        {"n": 11},
        ok({"size": "big"}),
    ),
    S(
        "jsonata-choice-assign",
        ja(
            {
                "C": {
                    "Type": "Choice",
                    "Choices": [
                        {"Condition": "{% $states.input.n > 5 %}", "Next": "Mid", "Assign": {"m": True}}
                    ],
                    "Default": "F",
                },
                "Mid": {"Type": "Pass", "Output": {"m": "{% $m %}"}, "End": True},
                "F": {"Type": "Fail", "Error": "No"},
            }
        ),
        {"n": 7},
        ok({"m": True}),
    ),
    S(
        "jsonata-fail-expressions",
        ja(
            {
                "C": {
                    "Type": "Choice",
                    "Choices": [{"Condition": "{% $states.input.n > 5 %}", "Next": "S"}],
                    "Default": "F",
                },
                "S": {"Type": "Succeed"},
                "F": {
                    "Type": "Fail",
                    "Error": "{% 'E' & $string($states.input.n) %}",
                    "Cause": "{% 'n too small' %}",
                },
            }
        ),
        {"n": 2},
        failed("E2", "n too small"),
    ),
    S(
        "jsonata-condition-not-boolean",
        ja(
            {
                "C": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.n %}", "Next": "S"}]},
                "S": {"Type": "Succeed"},
            }
        ),
        {"n": 2},
        failed("States.QueryEvaluationError"),
    ),
    S(
        "jsonata-undefined-is-an-error",
        ja({"P": {"Type": "Pass", "Output": {"x": "{% $states.input.nope %}"}, "End": True}}),
        {},
        failed("States.QueryEvaluationError"),
    ),
    S(
        "jsonata-map-items-and-selector",
        ja(
            {
                "M": {
                    "Type": "Map",
                    "Items": "{% $states.input.xs %}",
                    "ItemSelector": {
                        "v": "{% $states.context.Map.Item.Value %}",
                        "i": "{% $states.context.Map.Item.Index %}",
                    },
                    "ItemProcessor": {
                        "StartAt": "D",
                        "States": {
                            "D": {
                                "Type": "Task",
                                "Resource": "double",
                                "Arguments": "{% $states.input.v %}",
                                "End": True,
                            }
                        },
                    },
                    "Output": "{% $states.result %}",
                    "End": True,
                }
            }
        ),
        {"xs": [1, 2, 3]},
        ok([2, 4, 6]),
        svc("double"),
    ),
    S(
        "jsonata-catch-error-output",
        ja(
            {
                "T": {
                    "Type": "Task",
                    "Resource": "boom",
                    "Catch": [
                        {
                            "ErrorEquals": ["States.ALL"],
                            "Next": "H",
                            "Output": {"err": "{% $states.errorOutput.Error %}", "in": "{% $states.input %}"},
                            "Assign": {"why": "{% $states.errorOutput.Cause %}"},
                        }
                    ],
                    "End": True,
                },
                "H": {
                    "Type": "Pass",
                    "Output": {"caught": "{% $states.input %}", "why": "{% $why %}"},
                    "End": True,
                },
            }
        ),
        {"k": 1},
        ok({"caught": {"err": "ValueError", "in": {"k": 1}}, "why": "boom"}),
        svc("boom"),
    ),
    S(
        "jsonata-catch-default-output-is-error",
        ja(
            {
                "T": {
                    "Type": "Task",
                    "Resource": "boom",
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}],
                    "End": True,
                },
                "H": {"Type": "Succeed"},
            }
        ),
        {},
        ok({"Error": "ValueError", "Cause": "boom"}),
        svc("boom"),
    ),
    S(
        "jsonata-wait-seconds-expression",
        ja(
            {
                "W": {"Type": "Wait", "Seconds": "{% $states.input.s * 60 %}", "Next": "D"},
                "D": {"Type": "Succeed"},
            }
        ),
        {"s": 2},
        ok({"s": 2}),
    ),
    S(
        "jsonata-parallel-arguments",
        ja(
            {
                "P": {
                    "Type": "Parallel",
                    "Arguments": {"v": "{% $states.input.a %}"},
                    "Branches": [
                        {
                            "StartAt": "JB1",
                            "States": {
                                "JB1": {"Type": "Pass", "Output": "{% $states.input.v + 1 %}", "End": True}
                            },
                        },
                        {"StartAt": "JB2", "States": {"JB2": {"Type": "Pass", "End": True}}},
                    ],
                    "Output": {"r": "{% $states.result %}"},
                    "End": True,
                }
            }
        ),
        {"a": 1},
        ok({"r": [2, {"v": 1}]}),
    ),
    S(
        "jsonata-aws-functions",
        ja(
            {
                "P": {
                    "Type": "Pass",
                    "Output": {
                        "parts": "{% $partition([1,2,3,4,5], 2) %}",
                        "range": "{% $range(0, 10, 5) %}",
                        "parsed": "{% $parse('{\"a\":1}') %}",
                        "hash": "{% $hash('abc', 'SHA-256') %}",
                    },
                    "End": True,
                }
            }
        ),
        {},
        ok(
            {
                "parts": [[1, 2], [3, 4], [5]],
                "range": [0, 5, 10],
                "parsed": {"a": 1},
                "hash": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            }
        ),
    ),
    S(
        "jsonata-state-inside-jsonpath-machine",
        machine(
            {
                "A": {"Type": "Pass", "Parameters": {"x.$": "$.v"}, "Next": "B"},
                "B": {"Type": "Pass", **JA, "Output": "{% $states.input.x * 2 %}", "End": True},
            }
        ),
        {"v": 21},
        ok(42),
    ),
    S(
        "jsonata-variables-shared-with-jsonpath",
        machine(
            {
                "A": {"Type": "Pass", **JA, "Assign": {"n": "{% $states.input.v + 1 %}"}, "Next": "B"},
                "B": {"Type": "Pass", "Parameters": {"n.$": "$n"}, "End": True},
            }
        ),
        {"v": 1},
        ok({"n": 2}),
    ),
    S(
        "jsonata-map-in-jsonpath-machine-children-default-to-jsonpath",
        machine(
            {
                "M": {
                    "Type": "Map",
                    **JA,
                    "Items": "{% $states.input.xs %}",
                    "ItemProcessor": {
                        "StartAt": "JP",
                        "States": {"JP": {"Type": "Pass", "Parameters": {"v.$": "$"}, "End": True}},
                    },
                    "End": True,
                }
            }
        ),
        {"xs": [1, 2]},
        ok([{"v": 1}, {"v": 2}]),
    ),
    S(
        "jsonata-undefined-cause-names-the-field",
        ja({"P": {"Type": "Pass", "Output": {"x": "{% $states.input.nope %}"}, "End": True}}),
        {},
        failed(
            "States.QueryEvaluationError",
            "The JSONata expression '$states.input.nope' specified for the field 'Output/x' returned nothing (undefined).",
        ),
    ),
]
