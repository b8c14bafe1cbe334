"""Execution status change events in EventBridge's shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runtime.store.records import ExecutionStatus, StateMachineType
from runtime.telemetry.events import MAX_PAYLOAD, routing_key, status_change, status_change_event
from tests.telemetry.conftest import ACCOUNT, MACHINE_ARN, execution_record

START = datetime(2024, 2, 26, 19, 42, 21, 984000, tzinfo=UTC)


def test_running_event_has_awss_envelope_and_detail() -> None:
    record = execution_record(started=START, version_arn=MACHINE_ARN + ":4")
    event = status_change_event(record, "RUNNING")
    assert event["version"] == "0"
    assert event["detail-type"] == "Step Functions Execution Status Change"
    assert event["source"] == "aws.states"
    assert (event["account"], event["region"]) == (ACCOUNT, "eu-west-1")
    assert event["time"] == "2024-02-26T19:42:21Z"
    assert event["resources"] == [record.arn]
    assert event["detail"] == {
        "executionArn": record.arn,
        "stateMachineArn": MACHINE_ARN,
        "name": "run-1",
        "status": "RUNNING",
        "startDate": 1708976541984,
        "stopDate": None,
        "input": '{"order":42}',
        "output": None,
        "inputDetails": {"included": True},
        "outputDetails": None,
        "stateMachineVersionArn": MACHINE_ARN + ":4",
        "stateMachineAliasArn": None,
        "redriveCount": 0,
        "redriveDate": None,
        "redriveStatus": "NOT_REDRIVABLE",
        "redriveStatusReason": "Execution is RUNNING and cannot be redriven",
        "error": None,
        "cause": None,
    }


def test_terminal_events() -> None:
    stop = START + timedelta(seconds=2, milliseconds=608)
    ok = execution_record(started=START, stopped=stop, status=ExecutionStatus.SUCCEEDED, output='"Hello"')
    event = status_change_event(ok)  # the record's own status (an enum)
    detail = event["detail"]
    assert (detail["status"], detail["output"], detail["outputDetails"]) == (
        "SUCCEEDED",
        '"Hello"',
        {"included": True},
    )
    assert detail["stopDate"] == 1708976544592 and event["time"] == "2024-02-26T19:42:24Z"
    assert detail["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven"
    failed = execution_record(
        started=START, stopped=stop, status=ExecutionStatus.FAILED, error="E", cause="c"
    )
    detail = status_change_event(failed)["detail"]
    assert (detail["error"], detail["cause"], detail["output"]) == ("E", "c", None)
    assert (detail["redriveStatus"], detail["redriveStatusReason"]) == ("REDRIVABLE", None)
    # the engine may build it from a RUNNING record it just ended, with overrides
    detail = status_change_event(
        execution_record(started=START), "TIMED_OUT", error="States.Timeout", stop_date=stop
    )["detail"]
    assert (detail["status"], detail["error"], detail["stopDate"]) == (
        "TIMED_OUT",
        "States.Timeout",
        1708976544592,
    )
    express = execution_record(status=ExecutionStatus.ABORTED, type=StateMachineType.EXPRESS)
    assert status_change_event(express)["detail"]["redriveStatus"] == "NOT_REDRIVABLE"


def test_large_payloads_are_left_out_as_aws_does() -> None:
    big = '"' + "x" * MAX_PAYLOAD + '"'
    record = execution_record(status=ExecutionStatus.SUCCEEDED, output=big, stopped=datetime.now(UTC))
    detail = status_change_event(record)["detail"]
    assert detail["output"] is None and detail["outputDetails"] == {"included": False}
    assert detail["input"] == '{"order":42}'
    half = '"' + "y" * (MAX_PAYLOAD // 2 + 10) + '"'
    record = execution_record(
        status=ExecutionStatus.SUCCEEDED, input=half, output=half, stopped=datetime.now(UTC)
    )
    detail = status_change_event(record)["detail"]
    assert detail["input"] is None and detail["inputDetails"] == {"included": False}  # input goes first
    assert detail["output"] == half


def test_ids_routing_keys_and_bad_status() -> None:
    record = execution_record(status=ExecutionStatus.FAILED, stopped=datetime.now(UTC))
    assert status_change_event(record)["id"] == status_change_event(record)["id"]  # a re-publish dedupes
    assert status_change_event(record)["id"] != status_change_event(record, "RUNNING")["id"]
    key, event = status_change(record)
    assert key == "execution.failed" and event["detail"]["status"] == "FAILED"
    assert routing_key("TIMED_OUT") == "execution.timed_out"
    with pytest.raises(ValueError):
        status_change_event(record, "PENDING_REDRIVE")


def test_a_describe_execution_mapping_works_too() -> None:
    event = status_change_event(
        {
            "executionArn": "arn:aws:states:us-east-1:1:execution:M:n",
            "stateMachineArn": "arn:sm",
            "status": "RUNNING",
            "startDate": START,
            "input": "{}",
        }
    )
    assert event["detail"]["name"] == "n" and event["region"] == "us-east-1"
