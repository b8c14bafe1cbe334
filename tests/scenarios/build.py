"""Small builders so scenario tables stay readable."""

from __future__ import annotations

from typing import Any

SVC = "tests.scenarios.services"


def machine(states: dict[str, Any], start: str | None = None, **top: Any) -> dict[str, Any]:
    return {"StartAt": start or next(iter(states)), "States": states, **top}


def one(state: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A machine of one terminal state named S."""
    return machine(
        {"S": {**state, "End": True} if state["Type"] not in ("Succeed", "Fail") else state}, **top
    )


def ok(output: Any) -> dict[str, Any]:
    return {"status": "SUCCEEDED", "output": output}


def failed(error: str, cause: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"status": "FAILED", "error": error}
    if cause is not None:
        out["cause"] = cause
    return out


def svc(*names: str) -> dict[str, str]:
    return {n: f"{SVC}:{n}" for n in names}
