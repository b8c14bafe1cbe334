"""The task message contract between the engine and services, in any language.

A Task state hands work to a service by publishing a *task message* to the service's queue
(``<prefix>.tasks.<service>``); the service answers with a *reply message* on the queue named
in ``reply_to``. Documented in docs/task-contract.md; this module is its single source.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from runtime.transport.base import Message

# task message headers (the body is the task payload as JSON)
H_EXECUTION = "x-sh-exec"
H_STATE = "x-sh-state"
H_TOKEN = "x-sh-token"
H_ATTEMPT = "x-sh-attempt"
H_DEADLINE = "x-sh-deadline"  # epoch milliseconds by which the task must answer (absent: none)
H_HEARTBEAT = "x-sh-heartbeat"  # seconds between heartbeats the engine expects (absent: none)
H_RESOURCE = "x-sh-resource"
H_SENT = "x-sh-sent"  # epoch milliseconds when the engine dispatched the task (TaskScheduleTime)
H_PATTERN = "x-sh-pattern"  # "waitForTaskToken": the service's own answer does not complete the task
H_TRACEPARENT = "traceparent"
# reply message header
H_REPLY = "x-sh-reply"  # "success" | "failure" | "heartbeat"

SUCCESS = "success"
FAILURE = "failure"
HEARTBEAT = "heartbeat"


def task_message(
    payload: Any,
    *,
    execution_arn: str,
    state: str,
    token: str,
    attempt: int,
    resource: str,
    reply_to: str,
    deadline: float | None = None,
    heartbeat: float | None = None,
    traceparent: str | None = None,
    persistent: bool = True,
    pattern: str | None = None,
) -> Message:
    headers: dict[str, Any] = {
        H_EXECUTION: execution_arn,
        H_STATE: state,
        H_TOKEN: token,
        H_ATTEMPT: attempt,
        H_RESOURCE: resource,
    }
    if deadline is not None:
        headers[H_DEADLINE] = int(deadline * 1000)
    if heartbeat is not None:
        headers[H_HEARTBEAT] = int(heartbeat)
    if traceparent:
        headers[H_TRACEPARENT] = traceparent
    if pattern:
        headers[H_PATTERN] = pattern
    headers[H_SENT] = int(time.time() * 1000)
    return Message(
        body=orjson.dumps(payload),
        headers=headers,
        message_id=f"task-{token}-{attempt}",
        correlation_id=token,
        reply_to=reply_to,
        persistent=persistent,
    )


def reply_message(
    token: str, kind: str, *, output: Any = None, error: str = "", cause: str = "", persistent: bool = True
) -> Message:
    if kind == SUCCESS:
        body = orjson.dumps(output)
    elif kind == FAILURE:
        body = orjson.dumps({"error": error, "cause": cause})
    elif kind == HEARTBEAT:
        body = b"{}"
    else:
        raise ValueError(f"reply kind must be success, failure or heartbeat, not {kind!r}")
    return Message(
        body=body, headers={H_TOKEN: token, H_REPLY: kind}, correlation_id=token, persistent=persistent
    )
