"""The Step Functions API model (botocore's service-2.json) as the authority on inputs.

Every action, its members, their types, lengths, ranges and enums come from the same file
boto3 uses, so a request AWS would refuse with ValidationException is refused here too, and
an action added to the model shows up in :func:`operation_names` for the tests to notice.
Payload members (inputs, outputs, definitions) are measured against ``max_payload_bytes``
instead of AWS's 256 KiB, with the error code the action documents for them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from runtime.api.errors import ApiError

SERVICE_NAME = "stepfunctions"
TARGET_PREFIX = "AWSStepFunctions"
#: Shapes that carry user documents: limited by max_payload_bytes, not by the model's max.
PAYLOAD_SHAPES = frozenset({"SensitiveData", "SensitiveDataJobInput", "Definition"})
#: The error an action documents for an oversized or malformed payload member.
_PAYLOAD_ERRORS = {
    "input": "InvalidExecutionInput",
    "output": "InvalidOutput",
    "definition": "InvalidDefinition",
}


@functools.cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model(SERVICE_NAME)


def operation_names() -> list[str]:
    return list(service_model().operation_names)


def operation(name: str) -> OperationModel:
    try:
        return service_model().operation_model(name)
    except Exception:
        raise ApiError("UnknownOperationException", f"Unknown operation: {name}") from None


def payload_error(op: OperationModel, member: str) -> str:
    """The code for a bad payload member: the action's own error if it has one."""
    code = _PAYLOAD_ERRORS.get(member)
    documented = {shape.name for shape in op.error_shapes}
    return code if code is not None and code in documented else "ValidationException"


def check_input(op: OperationModel, params: Mapping[str, Any], max_payload_bytes: int) -> None:
    """Raise ValidationException (AWS's wording) or a payload error; nothing is changed."""
    shape = op.input_shape
    if shape is None:
        return
    problems: list[str] = []
    _check(shape, params, "", problems)
    if problems:
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        raise ApiError("ValidationException", f"{count} validation {noun} detected: " + "; ".join(problems))
    assert isinstance(shape, StructureShape)
    for member, member_shape in shape.members.items():
        value = params.get(member)
        if member_shape.name in PAYLOAD_SHAPES and isinstance(value, str):
            size = len(value.encode())
            if size > max_payload_bytes:
                raise ApiError(
                    payload_error(op, member),
                    f"The {member} is {size} bytes, more than the maximum of {max_payload_bytes} bytes "
                    "(STATEHOP_MAX_PAYLOAD_BYTES)",
                )


def _bad(value: Any, where: str, constraint: str) -> str:
    return f"Value '{_describe(value)}' at '{where}' failed to satisfy constraint: {constraint}"


def _describe(value: Any) -> str:
    text = "null" if value is None else str(value)
    return text if len(text) <= 64 else text[:61] + "..."


def _check(shape: Shape, value: Any, where: str, problems: list[str]) -> None:
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        if not isinstance(value, Mapping):
            problems.append(
                f"Value at '{where or '/'}' failed to satisfy constraint: Member must be an object"
            )
            return
        for name in shape.required_members:
            if value.get(name) is None:
                at = _join(where, name)
                problems.append(f"Value null at '{at}' failed to satisfy constraint: Member must not be null")
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _check(member, value[name], _join(where, name), problems)
        return
    meta = shape.metadata
    if kind == "list":
        assert isinstance(shape, ListShape)
        if not isinstance(value, list):
            problems.append(f"Value at '{where}' failed to satisfy constraint: Member must be a list")
            return
        _length(len(value), meta, value, where, problems)
        for i, item in enumerate(value):
            _check(shape.member, item, f"{where}.{i + 1}.member", problems)
    elif kind == "map":
        assert isinstance(shape, MapShape)
        if not isinstance(value, Mapping):
            problems.append(f"Value at '{where}' failed to satisfy constraint: Member must be a map")
            return
        for key, item in value.items():
            _check(shape.key, key, f"{where}.key", problems)
            _check(shape.value, item, f"{where}.{key}", problems)
    elif kind == "string":
        if not isinstance(value, str):
            problems.append(_bad(value, where, "Member must be a string"))
            return
        if shape.name not in PAYLOAD_SHAPES:
            _length(len(value), meta, value, where, problems)
        enum = getattr(shape, "enum", None)
        if enum and value not in enum:
            problems.append(
                f"Value '{_describe(value)}' at '{where}' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(enum)}]"
            )
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(_bad(value, where, "Member must be an integer"))
            return
        _range(value, meta, where, problems)
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(_bad(value, where, "Member must be a number"))
            return
        _range(value, meta, where, problems)
    elif kind == "boolean" and not isinstance(value, bool):
        problems.append(_bad(value, where, "Member must be a boolean"))


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _length(size: int, meta: Mapping[str, Any], value: Any, where: str, problems: list[str]) -> None:
    if "min" in meta and size < meta["min"]:
        problems.append(
            f"Value '{_describe(value)}' at '{where}' failed to satisfy constraint: "
            f"Member must have length greater than or equal to {meta['min']}"
        )
    if "max" in meta and size > meta["max"]:
        problems.append(
            f"Value '{_describe(value)}' at '{where}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {meta['max']}"
        )


def _range(value: float, meta: Mapping[str, Any], where: str, problems: list[str]) -> None:
    if "min" in meta and value < meta["min"]:
        problems.append(
            f"Value '{value}' at '{where}' failed to satisfy constraint: "
            f"Member must have value greater than or equal to {meta['min']}"
        )
    if "max" in meta and value > meta["max"]:
        problems.append(
            f"Value '{value}' at '{where}' failed to satisfy constraint: "
            f"Member must have value less than or equal to {meta['max']}"
        )
