"""Task handlers for retry_strategies: the HelloWorld and AlertDevOps Lambda functions.

HelloWorld answers ``{"message": "Hello, <name>!"}``. To make it fail, give the input
``"error"`` (HandledError, CriticalError or ServiceUnavailable) and ``"fail_times": n``: the
first n calls for that ``"id"`` raise that error, later calls succeed (and the count resets,
so the same input behaves the same on the next run; use a large n such as 1000 for "always").

AlertDevOps receives what the Catch hands it, ``{"Error": ..., "Cause": ...}``.
"""

from __future__ import annotations

from typing import Any


class HandledError(Exception):
    """A known, transient failure: retried twice, quickly."""


class CriticalError(Exception):
    """A failure that retrying cannot fix: straight to AlertDevOps."""


class ServiceUnavailable(Exception):
    """Any other failure: retried up to 5 times, 5 s apart and doubling."""


_ERRORS: dict[str, type[Exception]] = {
    "HandledError": HandledError,
    "CriticalError": CriticalError,
    "ServiceUnavailable": ServiceUnavailable,
}
_FAILURES: dict[str, int] = {}


def hello_world(payload: dict[str, Any]) -> dict[str, Any]:
    """HelloWorld: greet, or fail as the input asks."""
    error = payload.get("error")
    times = int(payload.get("fail_times", 0))
    if error and times > 0:
        key = str(payload.get("id", "default"))
        seen = _FAILURES.get(key, 0) + 1
        if seen <= times:
            _FAILURES[key] = seen
            raise _ERRORS[error](f"HelloWorld failed on purpose (failure {seen} of {times})")
        _FAILURES.pop(key, None)
    return {"message": f"Hello, {payload.get('name', 'World')}!"}


def alert_devops(payload: dict[str, Any]) -> dict[str, Any]:
    """AlertDevOps: page whoever is on call about the error."""
    return {"alerted": "devops", "error": payload.get("Error")}
