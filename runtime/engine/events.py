"""History events shaped as AWS GetExecutionHistory shapes them (types and detail fields)."""

from __future__ import annotations

from typing import Any

import orjson

from runtime.store.records import NewEvent


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _data(key: str, value: Any) -> dict[str, Any]:
    return {key: _json(value), f"{key}Details": {"truncated": False}}


def execution_started(input: Any, role_arn: str, version_arn: str | None = None) -> NewEvent:
    details: dict[str, Any] = {**_data("input", input), "roleArn": role_arn}
    if version_arn:
        details["stateMachineVersionArn"] = version_arn
    return NewEvent("ExecutionStarted", details, 0)


def state_entered(state_type: str, name: str, input: Any) -> NewEvent:
    return NewEvent(f"{state_type}StateEntered", {"name": name, **_data("input", input)})


def state_exited(state_type: str, name: str, output: Any) -> NewEvent:
    return NewEvent(f"{state_type}StateExited", {"name": name, **_data("output", output)})


def _resource(resource: str) -> dict[str, str]:
    """AWS splits a Task resource into resourceType and resource (``lambda`` / ``invoke``)."""
    if resource.startswith("arn:aws:states:::"):
        service, _, action = resource[len("arn:aws:states:::") :].partition(":")
        return {"resourceType": service, "resource": action}
    if ":lambda:" in resource:
        return {"resourceType": "lambda", "resource": resource}
    if ":activity:" in resource:
        return {"resourceType": "activity", "resource": resource}
    return {"resourceType": "service", "resource": resource}


def task_scheduled(
    resource: str, parameters: Any, region: str, timeout: float | None, heartbeat: float | None
) -> NewEvent:
    details: dict[str, Any] = {**_resource(resource), "region": region, "parameters": _json(parameters)}
    if timeout is not None:
        details["timeoutInSeconds"] = int(timeout)
    if heartbeat is not None:
        details["heartbeatInSeconds"] = int(heartbeat)
    return NewEvent("TaskScheduled", details)


def task_started(resource: str) -> NewEvent:
    return NewEvent("TaskStarted", _resource(resource))


def task_succeeded(resource: str, output: Any) -> NewEvent:
    return NewEvent("TaskSucceeded", {**_resource(resource), **_data("output", output)})


def task_failed(resource: str, error: str, cause: str, timed_out: bool = False) -> NewEvent:
    return NewEvent(
        "TaskTimedOut" if timed_out else "TaskFailed", {**_resource(resource), "error": error, "cause": cause}
    )


def simple(event_type: str, details: dict[str, Any] | None = None) -> NewEvent:
    return NewEvent(event_type, details)


def map_iteration(event_type: str, state: str, index: int) -> NewEvent:
    return NewEvent(event_type, {"name": state, "index": index})


def execution_succeeded(output: Any) -> NewEvent:
    return NewEvent("ExecutionSucceeded", _data("output", output))


def execution_failed(error: str, cause: str) -> NewEvent:
    return NewEvent("ExecutionFailed", {"error": error, "cause": cause})


def execution_timed_out(error: str = "States.Timeout", cause: str = "") -> NewEvent:
    return NewEvent("ExecutionTimedOut", {"error": error, "cause": cause})


def execution_aborted(error: str = "", cause: str = "") -> NewEvent:
    return NewEvent("ExecutionAborted", {"error": error, "cause": cause})
