"""Execution status change events, shaped as AWS sends them to EventBridge.

``detail-type: "Step Functions Execution Status Change"``, ``source: "aws.states"``, and a
``detail`` with DescribeExecution's fields, so EventBridge rules and consumers written for AWS
match them unchanged. The engine publishes them on the ``<prefix>.events`` topic exchange
with routing key ``execution.<status in lower case>`` (``execution.succeeded``,
``execution.timed_out``). AWS emits them for STANDARD workflows only.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

DETAIL_TYPE = "Step Functions Execution Status Change"
SOURCE = "aws.states"
STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
#: AWS leaves input/output out of an event beyond this many bytes (EventBridge's quota).
MAX_PAYLOAD = 248 * 1024
_NAMESPACE = uuid.UUID("5f0a4e1c-3a52-4e0e-9d0c-2a8f4d6b7c11")


def routing_key(status: str) -> str:
    """``SUCCEEDED`` -> ``execution.succeeded``."""
    return f"execution.{str(status).lower()}"


def _get(record: Any, *names: str) -> Any:
    for name in names:
        if isinstance(record, Mapping):
            if name in record:
                return record[name]
        elif hasattr(record, name):
            return getattr(record, name)
    return None


def _epoch_ms(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp() * 1000)
    return int(float(value) * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _redrive(status: str, workflow_type: str | None) -> tuple[str, str | None]:
    if workflow_type == "EXPRESS":
        return "NOT_REDRIVABLE", "Execution is EXPRESS and cannot be redriven"
    if status in ("FAILED", "TIMED_OUT", "ABORTED"):
        return "REDRIVABLE", None
    return "NOT_REDRIVABLE", f"Execution is {status} and cannot be redriven"


def status_change_event(
    execution: Any,
    status: str | None = None,
    *,
    output: Any = None,
    error: str | None = None,
    cause: str | None = None,
    stop_date: Any = None,
    region: str | None = None,
    account: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """The EventBridge event for ``execution`` entering ``status``.

    ``execution`` is a store ``Execution`` record (or a DescribeExecution-shaped mapping);
    ``status`` defaults to its own. Keyword arguments override the record's output, error,
    cause and stop date (the engine may build the event before re-reading the record).
    ``output`` is JSON *text*, as in the record. Input and output above 248 KiB are left
    out with ``inputDetails``/``outputDetails.included`` false, as AWS does.

    The event ``id`` is derived from (execution ARN, status, redrive count): a publish
    repeated after a crash carries the same id, so consumers can drop the duplicate.
    """
    arn = str(_get(execution, "arn", "executionArn"))
    status = str(status or _get(execution, "status"))
    if "." in status:  # an enum's repr
        status = status.rsplit(".", 1)[-1]
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, not {status!r}")
    parts = arn.split(":")
    region = region or (parts[3] if len(parts) > 4 else "")
    account = account or (parts[4] if len(parts) > 4 else "")
    start_ms = _epoch_ms(_get(execution, "start_date", "startDate"))
    terminal = status != "RUNNING"
    stop_ms = _epoch_ms(stop_date if stop_date is not None else _get(execution, "stop_date", "stopDate"))
    if terminal and stop_ms is None:
        stop_ms = int(datetime.now(UTC).timestamp() * 1000)
    if not terminal:
        stop_ms = None
    input_text = _get(execution, "input")
    if output is None:
        output = _get(execution, "output")
    if error is None:
        error = _get(execution, "error")
    if cause is None:
        cause = _get(execution, "cause")
    out_text = output if status == "SUCCEEDED" else None
    out_included = out_text is None or len(out_text.encode()) <= MAX_PAYLOAD
    in_size = len(input_text.encode()) if isinstance(input_text, str) else 0
    out_size = len(out_text.encode()) if isinstance(out_text, str) and out_included else 0
    in_included = input_text is None or in_size + out_size <= MAX_PAYLOAD
    workflow_type = _get(execution, "type")
    workflow_type = str(workflow_type).rsplit(".", 1)[-1] if workflow_type is not None else None
    redrive_count = int(_get(execution, "redrive_count", "redriveCount") or 0)
    redrive_status, redrive_reason = _redrive(status, workflow_type)
    detail: dict[str, Any] = {
        "executionArn": arn,
        "stateMachineArn": _get(execution, "state_machine_arn", "stateMachineArn"),
        "name": _get(execution, "name") or arn.rsplit(":", 1)[-1],
        "status": status,
        "startDate": start_ms,
        "stopDate": stop_ms,
        "input": input_text if in_included else None,
        "output": out_text if out_included else None,
        "inputDetails": {"included": in_included},
        "outputDetails": {"included": out_included} if out_text is not None else None,
        "stateMachineVersionArn": _get(execution, "state_machine_version_arn", "stateMachineVersionArn"),
        "stateMachineAliasArn": _get(execution, "state_machine_alias_arn", "stateMachineAliasArn"),
        "redriveCount": redrive_count,
        "redriveDate": _epoch_ms(_get(execution, "redrive_date", "redriveDate")),
        "redriveStatus": redrive_status,
        "redriveStatusReason": redrive_reason,
        "error": error if status != "SUCCEEDED" and error else None,
        "cause": cause if status != "SUCCEEDED" and cause else None,
    }
    when = stop_ms if terminal else start_ms
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid5(_NAMESPACE, f"{arn}\x00{status}\x00{redrive_count}")),
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "account": account,
        "time": _iso(when if when is not None else int(datetime.now(UTC).timestamp() * 1000)),
        "region": region,
        "resources": [arn],
        "detail": detail,
    }


def status_change(execution: Any, status: str | None = None, **overrides: Any) -> tuple[str, dict[str, Any]]:
    """``(routing_key, event)``: what ``Step.publish_event(*status_change(...))`` wants."""
    event = status_change_event(execution, status, **overrides)
    return routing_key(event["detail"]["status"]), event


__all__ = [
    "DETAIL_TYPE",
    "MAX_PAYLOAD",
    "SOURCE",
    "STATUSES",
    "routing_key",
    "status_change",
    "status_change_event",
]
