"""Retry and Catch: matching in order, back-off, States.ALL and its exceptions, error output."""

from __future__ import annotations

from tests.scenarios import Scenario
from tests.scenarios.build import failed, machine, ok, one, svc

S = Scenario
FLAKY = {
    "Type": "Task",
    "Resource": "flaky",
    "Parameters": {"retry.$": "$$.State.RetryCount", "fail_times.$": "$.fail_times"},
}

SCENARIOS = [
    S(
        "task-error-uncaught",
        one({"Type": "Task", "Resource": "boom"}),
        {},
        failed("ValueError", "boom"),
        svc("boom"),
    ),
    S(
        "retry-until-success",
        one({**FLAKY, "Retry": [{"ErrorEquals": ["Transient"], "MaxAttempts": 3}]}),
        {"fail_times": 2},
        ok({"attempts": 3}),
        svc("flaky"),
    ),
    S(
        "retry-exhausted",
        one({**FLAKY, "Retry": [{"ErrorEquals": ["Transient"], "MaxAttempts": 2}]}),
        {"fail_times": 5},
        failed("Transient", "attempt 3 failed"),
        svc("flaky"),
    ),
    S(
        "retry-max-attempts-zero",
        one({**FLAKY, "Retry": [{"ErrorEquals": ["Transient"], "MaxAttempts": 0}]}),
        {"fail_times": 1},
        failed("Transient"),
        svc("flaky"),
    ),
    S(
        "retry-states-all",
        one({**FLAKY, "Retry": [{"ErrorEquals": ["States.ALL"]}]}),
        {"fail_times": 1},
        ok({"attempts": 2}),
        svc("flaky"),
    ),
    S(
        "retry-task-failed-wildcard",
        one({**FLAKY, "Retry": [{"ErrorEquals": ["States.TaskFailed"]}]}),
        {"fail_times": 1},
        ok({"attempts": 2}),
        svc("flaky"),
    ),
    S(
        "retry-no-match-goes-to-catch",
        machine(
            {
                "T": {
                    **FLAKY,
                    "Retry": [{"ErrorEquals": ["Other"]}],
                    "Catch": [{"ErrorEquals": ["Transient"], "Next": "H"}],
                    "Next": "X",
                },
                "H": {"Type": "Pass", "End": True},
                "X": {"Type": "Succeed"},
            }
        ),
        {"fail_times": 1},
        ok({"Error": "Transient", "Cause": "attempt 1 failed"}),
        svc("flaky"),
    ),
    S(
        "retry-then-catch",
        machine(
            {
                "T": {
                    **FLAKY,
                    "Retry": [{"ErrorEquals": ["Transient"], "MaxAttempts": 1}],
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "H"}],
                    "Next": "X",
                },
                "H": {"Type": "Pass", "End": True},
                "X": {"Type": "Succeed"},
            }
        ),
        {"fail_times": 9},
        ok({"fail_times": 9, "err": {"Error": "Transient", "Cause": "attempt 2 failed"}}),
        svc("flaky"),
    ),
    S(
        "retriers-counted-separately",
        one(
            {
                **FLAKY,
                "Retry": [
                    {"ErrorEquals": ["Nope"], "MaxAttempts": 1},
                    {"ErrorEquals": ["Transient"], "MaxAttempts": 4},
                ],
            }
        ),
        {"fail_times": 3},
        ok({"attempts": 4}),
        svc("flaky"),
    ),
    S(
        "catch-in-order",
        machine(
            {
                "T": {
                    "Type": "Task",
                    "Resource": "charge",
                    "Catch": [
                        {"ErrorEquals": ["CardDeclined"], "Next": "Declined"},
                        {"ErrorEquals": ["States.ALL"], "Next": "Other"},
                    ],
                    "End": True,
                },
                "Declined": {"Type": "Pass", "Result": "declined", "End": True},
                "Other": {"Type": "Pass", "Result": "other", "End": True},
            }
        ),
        {"card": "declined"},
        ok("declined"),
        svc("charge"),
    ),
    S(
        "catch-result-path-null-keeps-input",
        machine(
            {
                "T": {
                    "Type": "Task",
                    "Resource": "boom",
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": "H"}],
                    "End": True,
                },
                "H": {"Type": "Succeed"},
            }
        ),
        {"keep": 1},
        ok({"keep": 1}),
        svc("boom"),
    ),
    S(
        "catch-assign",
        machine(
            {
                "T": {
                    "Type": "Task",
                    "Resource": "boom",
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"why.$": "$.Cause"}, "Next": "H"}],
                    "End": True,
                },
                "H": {"Type": "Pass", "Parameters": {"why.$": "$why"}, "End": True},
            }
        ),
        {},
        ok({"why": "boom"}),
        svc("boom"),
    ),
    S(
        "states-all-does-not-catch-runtime",
        machine(
            {
                "T": {
                    "Type": "Task",
                    "Resource": "echo",
                    "OutputPath": "$.missing",
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}],
                    "End": True,
                },
                "H": {"Type": "Succeed"},
            }
        ),
        {},
        failed("States.Runtime"),
        svc("echo"),
    ),
    S(
        "states-all-does-not-retry-runtime",
        one(
            {
                "Type": "Task",
                "Resource": "echo",
                "InputPath": "$.missing",
                "Retry": [{"ErrorEquals": ["States.ALL"]}],
            }
        ),
        {},
        failed("States.Runtime"),
        svc("echo"),
    ),
    S(
        "catch-result-path-match-failure",
        machine(
            {
                "T": {
                    "Type": "Task",
                    "Resource": "echo",
                    "ResultPath": "$.a.b",
                    "Catch": [{"ErrorEquals": ["States.ResultPathMatchFailure"], "Next": "H"}],
                    "End": True,
                },
                "H": {"Type": "Pass", "Parameters": {"e.$": "$.Error"}, "End": True},
            }
        ),
        {"a": 1},
        ok({"e": "States.ResultPathMatchFailure"}),
        svc("echo"),
    ),
    S(
        "unmapped-resource-fails-clearly",
        one({"Type": "Task", "Resource": "nobody"}),
        {},
        failed("States.Runtime"),
    ),
    S(
        "error-from-fail-state-in-parallel-is-catchable",
        machine(
            {
                "P": {
                    "Type": "Parallel",
                    "Branches": [
                        {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Branchy", "Cause": "c"}}}
                    ],
                    "Catch": [{"ErrorEquals": ["Branchy"], "Next": "H"}],
                    "End": True,
                },
                "H": {"Type": "Pass", "End": True},
            }
        ),
        {},
        ok({"Error": "Branchy", "Cause": "c"}),
    ),
    S(
        "retry-parallel",
        machine(
            {
                "P": {
                    "Type": "Parallel",
                    "Branches": [{"StartAt": "PT", "States": {"PT": {**FLAKY, "End": True}}}],
                    "Retry": [{"ErrorEquals": ["Transient"], "MaxAttempts": 1}],
                    "End": True,
                }
            }
        ),
        {"fail_times": 1},
        failed("Transient"),
        svc("flaky"),
    ),
]
