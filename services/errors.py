"""How a handler's exception becomes the task's Error and Cause."""

from __future__ import annotations


class TaskError(Exception):
    """Raise to fail a task with an explicit Error name (any other exception is named
    after its class, as AWS Lambda names ``errorType``)."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(cause or error)
        self.error = error
        self.cause = cause


def describe(exc: BaseException) -> tuple[str, str]:
    """``(error, cause)`` for a failure reply."""
    if isinstance(exc, TaskError):
        return exc.error, exc.cause
    return type(exc).__name__, str(exc)
