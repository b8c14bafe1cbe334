"""The context object ``$$`` as AWS shapes it, built per hop from the execution record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


def iso(ts: float) -> str:
    """Epoch seconds to the ISO-8601 form AWS uses in ``$$`` (millisecond precision, Z)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class ExecutionInfo:
    """What ``$$.Execution`` and ``$$.StateMachine`` need; cached per execution."""

    arn: str
    name: str
    input: Any
    start_time: float
    role_arn: str
    state_machine_arn: str
    state_machine_name: str
    redrive_count: int = 0
    revision_id: str = ""  # the definition the execution runs (keys the machine cache)


def build_context(
    info: ExecutionInfo, state: str, entered: float, retry_count: int, token: str | None = None
) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "Execution": {
            "Id": info.arn,
            "Input": info.input,
            "Name": info.name,
            "RoleArn": info.role_arn,
            "StartTime": iso(info.start_time),
            "RedriveCount": info.redrive_count,
        },
        "State": {"Name": state, "EnteredTime": iso(entered), "RetryCount": retry_count},
        "StateMachine": {"Id": info.state_machine_arn, "Name": info.state_machine_name},
    }
    if token is not None:
        ctx["Task"] = {"Token": token}
    return ctx
