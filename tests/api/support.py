"""Definitions and small helpers shared by the API tests."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

ROLE = "arn:aws:iam::123456789012:role/statehop"

HELLO = {
    "StartAt": "Hello",
    "States": {
        "Hello": {
            "Type": "Pass",
            "Parameters": {"greeting.$": "States.Format('hello {}', $.who)"},
            "End": True,
        }
    },
}

#: Waits for SendTaskSuccess/Failure: the ``notify`` service hands the token to the test.
CALLBACK = {
    "StartAt": "Ask",
    "States": {
        "Ask": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {
                "FunctionName": "notify",
                "Payload": {"key.$": "$.key", "token.$": "$$.Task.Token"},
            },
            "End": True,
        }
    },
}

#: Fails the first time per key (no Retry), succeeds when redriven.
FLAKY = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Result": "prepared", "ResultPath": "$.step", "Next": "Work"},
        "Work": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:flaky",
            "End": True,
        },
    },
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def pass_machine(result: Any) -> str:
    return json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": result, "End": True}}})


def create(sfn: Any, definition: Any, prefix: str = "sm", **kw: Any) -> str:
    text = definition if isinstance(definition, str) else json.dumps(definition)
    return str(
        sfn.create_state_machine(name=unique(prefix), definition=text, roleArn=ROLE, **kw)["stateMachineArn"]
    )


def wait_done(sfn: Any, execution_arn: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll DescribeExecution until the execution leaves RUNNING (a bound, not a speed check)."""
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] not in ("RUNNING", "PENDING_REDRIVE"):
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"{execution_arn} still {described['status']} after {timeout}s")
        time.sleep(0.05)


def wait_status(sfn: Any, execution_arn: str, status: str, timeout: float = 60.0) -> dict[str, Any]:
    described = wait_done(sfn, execution_arn, timeout)
    assert described["status"] == status, described
    return described
