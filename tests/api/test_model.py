"""Input checks from botocore's model, the error table, and the wire encoding (no server)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from runtime.api.errors import ERRORS, ApiError, to_api_error
from runtime.api.model import check_input, operation, service_model
from runtime.api.protocol import aws_json
from runtime.asl.errors import DefinitionError, Problem
from runtime.store import errors as store_errors

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:m"


def _code(action: str, params: dict[str, object], limit: int = 1024 * 1024) -> str:
    with pytest.raises(ApiError) as info:
        check_input(operation(action), params, limit)
    return info.value.code


def test_every_error_shape_of_the_model_has_a_status() -> None:
    shapes = {
        name for name, shape in service_model()._shape_resolver._shape_map.items() if shape.get("exception")
    }
    assert shapes <= set(ERRORS)


def test_every_store_error_maps_to_a_known_code() -> None:
    for cls in vars(store_errors).values():
        if (
            isinstance(cls, type)
            and issubclass(cls, store_errors.StoreError)
            and cls.aws_code != "InternalError"
        ):
            assert cls.aws_code in ERRORS, cls


def test_model_checks() -> None:
    check_input(operation("StartExecution"), {"stateMachineArn": ARN, "input": "{}"}, 1024)
    assert _code("StartExecution", {}) == "ValidationException"
    assert _code("ListExecutions", {"stateMachineArn": ARN, "statusFilter": "DONE"}) == "ValidationException"
    assert _code("ListExecutions", {"stateMachineArn": ARN, "maxResults": 1001}) == "ValidationException"
    assert _code("ListExecutions", {"stateMachineArn": ARN, "maxResults": "10"}) == "ValidationException"
    assert _code("StartExecution", {"stateMachineArn": ARN, "name": "x" * 81}) == "ValidationException"
    assert (
        _code("CreateStateMachineAlias", {"name": "a", "routingConfiguration": [{"weight": 1}]})
        == "ValidationException"
    )
    big = "x" * 2048
    assert _code("StartExecution", {"stateMachineArn": ARN, "input": big}, 1024) == "InvalidExecutionInput"
    assert _code("SendTaskSuccess", {"taskToken": "t", "output": big}, 1024) == "InvalidOutput"
    assert (
        _code("UpdateStateMachine", {"stateMachineArn": ARN, "definition": big}, 1024) == "InvalidDefinition"
    )
    assert _code("ValidateStateMachineDefinition", {"definition": big}, 1024) == "ValidationException"
    # above AWS's own 256 KiB when the configured limit allows it
    check_input(operation("StartExecution"), {"stateMachineArn": ARN, "input": "x" * 300_000}, 1024 * 1024)
    assert _code("Frobnicate", {}) == "UnknownOperationException"


def test_errors_become_aws_codes() -> None:
    assert to_api_error(store_errors.ExecutionDoesNotExist("x")).code == "ExecutionDoesNotExist"
    assert to_api_error(store_errors.TransientStoreError("x")).status == 503
    definition = to_api_error(
        DefinitionError([Problem("/States/A/Next", "MISSING_TRANSITION_TARGET", "Missing 'Next' target: B")])
    )
    assert definition.code == "InvalidDefinition"
    assert definition.message == (
        "Invalid State Machine Definition: "
        "'MISSING_TRANSITION_TARGET: Missing 'Next' target: B at /States/A/Next'"
    )
    unexpected = to_api_error(RuntimeError("boom"))
    assert (unexpected.code, unexpected.status) == ("InternalFailure", 500)
    assert ApiError("ExecutionDoesNotExist", "m").body() == {
        "__type": "ExecutionDoesNotExist",
        "message": "m",
    }
    assert ApiError("ExecutionDoesNotExist", "m").rest_status == 404


def test_timestamps_are_epoch_seconds_on_the_aws_door() -> None:
    stamp = datetime(2024, 1, 2, 3, 4, 5, 678900, tzinfo=UTC)
    assert orjson.loads(aws_json({"startDate": stamp})) == {"startDate": 1704164645.679}
