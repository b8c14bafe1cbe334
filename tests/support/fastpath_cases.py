"""The machines both fast paths (PostgreSQL: tests/integration/test_fast_path.py; SQLite:
tests/engine/test_sqlite_fast_path.py) are proven on: each runs fast and transactional, and
the two histories must match.

``HISTORY_CASES``: (definition, input, final status, the fewest hops that must take the fast
path, whether events are ordered). Init, 5 x (Inc, More?), Nap and its resume, Now and its
resume, A1, B1, M1 of each item, and Call dispatched 3 times and answered 3 times (2 failures
retried, 1 success) are quick. The Parallel branches interleave as they please, so for LOOP
only the multiset of events compares. In FAILING_MAP, Check runs for items 1..3 (one at a
time); the third fails the Map, which is caught.
"""

from __future__ import annotations

from typing import Any

LOOP: dict[str, Any] = {
    "StartAt": "Init",
    "States": {
        "Init": {"Type": "Pass", "Parameters": {"n": 0, "items.$": "$.items"}, "Next": "Inc"},
        "Inc": {
            "Type": "Pass",
            "Parameters": {"n.$": "States.MathAdd($.n, 1)", "items.$": "$.items"},
            "Next": "More?",
        },
        "More?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.n", "NumericLessThan": 5, "Next": "Inc"}],
            "Default": "Nap",
        },
        "Nap": {"Type": "Wait", "Seconds": 30, "Next": "Now"},
        "Now": {"Type": "Wait", "Seconds": 0, "Next": "Fan"},
        "Fan": {
            "Type": "Parallel",
            "ResultPath": "$.par",
            "Branches": [
                {
                    "StartAt": "A1",
                    "States": {
                        "A1": {"Type": "Pass", "Result": 1, "Next": "A2"},
                        "A2": {"Type": "Pass", "End": True},
                    },
                },
                {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Result": "b", "End": True}}},
            ],
            "Next": "Each",
        },
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": 1,
            "ResultPath": "$.mapped",
            "ItemProcessor": {
                "StartAt": "M1",
                "States": {
                    "M1": {"Type": "Pass", "Parameters": {"v.$": "$"}, "Next": "M2"},
                    "M2": {"Type": "Pass", "End": True},
                },
            },
            "Next": "Call",
        },
        "Call": {
            "Type": "Task",
            "Resource": "flaky",
            "Parameters": {"key.$": "$$.Execution.Name"},
            "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 5, "MaxAttempts": 3}],
            "ResultPath": "$.called",
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}

SEQUENTIAL = {
    "StartAt": "Init",
    "States": {k: v for k, v in LOOP["States"].items() if k not in ("Fan", "Each")}
    | {"Now": {"Type": "Wait", "Seconds": 0, "Next": "Call"}},
}

FAILING_MAP = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": 1,
            "ItemProcessor": {
                "StartAt": "Check",
                "States": {
                    "Check": {
                        "Type": "Choice",
                        "Choices": [{"Variable": "$", "NumericEquals": 3, "Next": "Boom"}],
                        "Default": "Fine",
                    },
                    "Boom": {"Type": "Fail", "Error": "Three", "Cause": "no threes"},
                    "Fine": {"Type": "Pass", "End": True},
                },
            },
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
            "End": True,
        },
        "Caught": {"Type": "Pass", "End": True},
    },
}


HISTORY_CASES = [
    (LOOP, {"items": [1, 2, 3, 4, 5]}, "SUCCEEDED", 27, False),
    (SEQUENTIAL, {"items": []}, "SUCCEEDED", 21, True),
    (FAILING_MAP, {"items": [1, 2, 3, 4, 5, 6]}, "SUCCEEDED", 3, True),
]
HISTORY_IDS = ["loop-wait-parallel-map-retry", "sequential", "map-failure-caught"]

PARKED = {
    "StartAt": "W",
    "States": {"W": {"Type": "Wait", "Seconds": 3600, "Next": "P"}, "P": {"Type": "Pass", "End": True}},
}


def counter_loop(limit: int) -> dict[str, Any]:
    """Pass/Choice only: count to ``limit`` (2 * limit + 1 hops), nothing that needs the store
    but the end."""
    return {
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Result": {"n": 0}, "Next": "Inc"},
            "Inc": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "More?"},
            "More?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericLessThan": limit, "Next": "Inc"}],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }
