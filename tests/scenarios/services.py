"""Task handlers the scenarios call, importable as ``tests.scenarios.services:<name>``.

Handlers are deterministic functions of their payload, so a scenario's expected result can be
written down; an exception's class name becomes the Error, as AWS Lambda names errorType.
"""

from __future__ import annotations

from typing import Any


class CardDeclined(Exception):
    pass


class Transient(Exception):
    pass


def echo(payload: Any) -> Any:
    return payload


def add(payload: dict[str, Any]) -> Any:
    return payload["a"] + payload["b"]


def double(payload: Any) -> Any:
    return payload * 2


def charge(payload: dict[str, Any]) -> Any:
    if payload.get("card") == "declined":
        raise CardDeclined(f"card {payload.get('card')} was declined")
    return {"charged": payload.get("amount", 0), "status": "ok"}


def flaky(payload: dict[str, Any]) -> Any:
    """Fails with Transient while ``retry`` (pass ``$$.State.RetryCount``) < ``fail_times``.

    Stateless, so it behaves the same whichever worker process runs each attempt.
    """
    if int(payload.get("retry", 0)) < int(payload.get("fail_times", 0)):
        raise Transient(f"attempt {int(payload.get('retry', 0)) + 1} failed")
    return {"attempts": int(payload.get("retry", 0)) + 1}


def boom(payload: Any) -> Any:
    raise ValueError("boom")


def fail_odd(payload: Any) -> Any:
    if isinstance(payload, int) and payload % 2:
        raise ValueError(f"{payload} is odd")
    return payload
