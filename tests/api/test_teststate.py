"""TestState: one state through the pure interpreter, called with boto3."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.harness import ApiServer

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:charge"


@pytest.fixture(scope="module")
def sfn(embedded_server: ApiServer) -> Any:
    return embedded_server.client()


def _test(sfn: Any, state: dict[str, Any], data: Any = None, **kw: Any) -> dict[str, Any]:
    result: dict[str, Any] = sfn.test_state(definition=json.dumps(state), input=json.dumps(data or {}), **kw)
    return result


def test_pass_state_with_inspection(sfn: Any) -> None:
    state = {
        "Type": "Pass",
        "InputPath": "$.order",
        "Parameters": {"id.$": "$.id"},
        "ResultPath": "$.copy",
        "Next": "Charge",
    }
    result = _test(sfn, state, {"order": {"id": 7}}, inspectionLevel="DEBUG")
    assert result["status"] == "SUCCEEDED" and result["nextState"] == "Charge"
    assert json.loads(result["output"]) == {
        "order": {"id": 7},
        "copy": {"id": 7},
    }  # ResultPath: on the raw input
    inspection = result["inspectionData"]
    assert json.loads(inspection["input"]) == {"order": {"id": 7}}
    assert json.loads(inspection["afterInputPath"]) == {"id": 7}
    assert json.loads(inspection["afterParameters"]) == {"id": 7}
    assert json.loads(inspection["afterResultPath"]) == {"order": {"id": 7}, "copy": {"id": 7}}
    assert "inspectionData" not in _test(sfn, state, {"order": {"id": 7}})  # INFO: the output only


def test_choice_fail_and_wait(sfn: Any) -> None:
    choice = {
        "Type": "Choice",
        "Choices": [{"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"}],
        "Default": "Small",
    }
    assert _test(sfn, choice, {"n": 11})["nextState"] == "Big"
    assert _test(sfn, choice, {"n": 1})["nextState"] == "Small"
    failed = _test(sfn, {"Type": "Fail", "Error": "Oops", "Cause": "because"})
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "Oops", "because")
    waited = _test(sfn, {"Type": "Wait", "Seconds": 3600, "Next": "After"}, {"a": 1})
    assert waited["status"] == "SUCCEEDED" and waited["nextState"] == "After"  # tested without waiting


def test_task_with_mocked_result_error_retry_and_catch(sfn: Any) -> None:
    task = {
        "Type": "Task",
        "Resource": LAMBDA,
        "Parameters": {"amount.$": "$.amount"},
        "ResultSelector": {"charged.$": "$.total"},
        "ResultPath": "$.payment",
        "Retry": [{"ErrorEquals": ["Card.Declined"], "MaxAttempts": 2, "IntervalSeconds": 3}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Refund", "ResultPath": "$.error"}],
        "Next": "Ship",
    }
    ok = _test(sfn, task, {"amount": 5}, mock={"result": json.dumps({"total": 5})}, inspectionLevel="DEBUG")
    assert ok["status"] == "SUCCEEDED" and ok["nextState"] == "Ship"
    assert json.loads(ok["output"]) == {"amount": 5, "payment": {"charged": 5}}
    assert json.loads(ok["inspectionData"]["afterParameters"]) == {"amount": 5}
    assert json.loads(ok["inspectionData"]["result"]) == {"total": 5}
    assert json.loads(ok["inspectionData"]["afterResultSelector"]) == {"charged": 5}

    declined = {"errorOutput": {"error": "Card.Declined", "cause": "insufficient funds"}}
    retriable = _test(sfn, task, {"amount": 5}, mock=declined, inspectionLevel="DEBUG")
    assert (retriable["status"], retriable["error"]) == ("RETRIABLE", "Card.Declined")
    assert retriable["inspectionData"]["errorDetails"] == {"retryIndex": 0, "retryBackoffIntervalSeconds": 3}

    spent = _test(
        sfn,
        task,
        {"amount": 5},
        mock=declined,
        stateConfiguration={"retrierRetryCount": 2},
        inspectionLevel="DEBUG",
    )
    assert (spent["status"], spent["nextState"]) == ("CAUGHT_ERROR", "Refund")
    assert json.loads(spent["output"])["error"] == {"Error": "Card.Declined", "Cause": "insufficient funds"}
    assert spent["inspectionData"]["errorDetails"] == {"catchIndex": 0}

    bare = {k: v for k, v in task.items() if k not in ("Retry", "Catch")}
    failed = _test(sfn, bare, {"amount": 5}, mock={"errorOutput": {"error": "Boom", "cause": "x"}})
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "Boom", "x")

    with pytest.raises(sfn.exceptions.ClientError) as info:  # no mock: StateHop calls no service here
        _test(sfn, bare, {"amount": 5})
    assert info.value.response["Error"]["Code"] == "ValidationException"


def test_state_of_a_whole_machine_and_variables(sfn: Any) -> None:
    machine = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Pass", "Assign": {"seen.$": "$.x"}, "End": True},
        },
    }
    result = sfn.test_state(
        definition=json.dumps(machine),
        stateName="B",
        input='{"x": 3}',
        variables='{"old": 1}',
        inspectionLevel="DEBUG",
    )
    assert result["status"] == "SUCCEEDED" and "nextState" not in result
    assert json.loads(result["inspectionData"]["variables"]) == {"old": 1, "seen": 3}


def test_invalid_definitions_and_inputs(sfn: Any) -> None:
    with pytest.raises(sfn.exceptions.InvalidDefinition):
        _test(sfn, {"Type": "Nope"})
    with pytest.raises(sfn.exceptions.InvalidDefinition):
        sfn.test_state(definition="{oops")
    with pytest.raises(sfn.exceptions.InvalidExecutionInput):
        sfn.test_state(definition=json.dumps({"Type": "Pass", "End": True}), input="{oops")
