"""The task context a handler gets: who is asking, by when, and a way to send heartbeats.

A handler that takes two positional parameters, ``def handler(payload, ctx)``, gets a
:class:`TaskContext`; a one-parameter handler can still reach it with :func:`current`
(a context variable, also set inside the thread that runs a sync handler).
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime import taskwire

#: header the engine sets on ``.waitForTaskToken`` tasks (docs/task-contract.md)
H_PATTERN = taskwire.H_PATTERN

_current: contextvars.ContextVar[TaskContext | None] = contextvars.ContextVar(
    "statehop_task_context", default=None
)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass(slots=True)
class TaskContext:
    """One task message as a handler sees it (everything but the payload)."""

    token: str
    attempt: int = 0
    execution_arn: str = ""
    state: str = ""
    resource: str = ""
    #: epoch seconds by which the engine wants an answer (None: no TimeoutSeconds)
    deadline: float | None = None
    #: HeartbeatSeconds of the Task state (None: the engine expects no heartbeats)
    heartbeat_seconds: float | None = None
    #: "waitForTaskToken" when the handler's return value does not complete the task
    pattern: str | None = None
    traceparent: str | None = None
    message_id: str | None = None
    redelivered: bool = False
    _beat: Callable[[], None] | None = field(default=None, repr=False)

    @classmethod
    def from_headers(
        cls,
        headers: Mapping[str, Any],
        *,
        correlation_id: str | None = None,
        message_id: str | None = None,
        redelivered: bool = False,
    ) -> TaskContext:
        """Read the task message headers of docs/task-contract.md."""
        deadline_ms = _number(headers.get(taskwire.H_DEADLINE))
        heartbeat = _number(headers.get(taskwire.H_HEARTBEAT))
        attempt = _number(headers.get(taskwire.H_ATTEMPT))
        return cls(
            token=str(headers.get(taskwire.H_TOKEN) or correlation_id or ""),
            attempt=int(attempt or 0),
            execution_arn=str(headers.get(taskwire.H_EXECUTION, "")),
            state=str(headers.get(taskwire.H_STATE, "")),
            resource=str(headers.get(taskwire.H_RESOURCE, "")),
            deadline=deadline_ms / 1000.0 if deadline_ms is not None else None,
            heartbeat_seconds=heartbeat if heartbeat else None,
            pattern=str(headers[H_PATTERN]) if headers.get(H_PATTERN) else None,
            traceparent=str(headers[taskwire.H_TRACEPARENT]) if headers.get(taskwire.H_TRACEPARENT) else None,
            message_id=message_id,
            redelivered=redelivered,
        )

    def remaining(self, now: float | None = None) -> float | None:
        """Seconds left before the deadline (negative once past it); None without a deadline."""
        if self.deadline is None:
            return None
        return self.deadline - (time.time() if now is None else now)

    @property
    def expired(self) -> bool:
        left = self.remaining()
        return left is not None and left <= 0

    def heartbeat(self) -> None:
        """Tell the engine the task is alive (SendTaskHeartbeat). Thread-safe, never blocks.

        Beats requested faster than they can be published are coalesced into one.
        """
        if self._beat is not None:
            self._beat()

    def idempotency_key(self) -> str:
        """Token + attempt: the same for a redelivered message, new for each Retry attempt."""
        return f"{self.token}:{self.attempt}"


def current() -> TaskContext:
    """The context of the task this code runs for; raises outside a handler."""
    ctx = _current.get()
    if ctx is None:
        raise LookupError("services.context.current() called outside a task handler")
    return ctx


def activate(ctx: TaskContext | None) -> contextvars.Token[TaskContext | None]:
    return _current.set(ctx)


def deactivate(token: contextvars.Token[TaskContext | None]) -> None:
    _current.reset(token)
