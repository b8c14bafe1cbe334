"""The Python worker SDK: write a Task service as plain functions.

    service = Service("payments")

    @service.task("charge-card")
    async def charge(payload): ...

    service.run("amqp://guest:guest@localhost/")   # or: python -m services.run module:service

A handler gets the task payload (and, if it takes a second argument, the task context: token,
attempt, deadline, ``heartbeat()``) and returns the result; an exception becomes the task's
error, named after the exception class as AWS Lambda names ``errorType``. Sync handlers run
in a thread so they never block the event loop.

Each task runs inside a span ``task <name>`` whose parent is the engine's hop span (from the
message's ``traceparent``), and every log line the handler writes carries execution_arn,
state, trace_id and span_id: call ``runtime.telemetry.setup("payments")`` once at start to
export spans (``OTEL_*`` variables) and render logs (docs/observability.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from runtime.transport.base import Transport

log = logging.getLogger("statehop.sdk")

#: ``handler(payload)`` or ``handler(payload, ctx)`` (a services.context.TaskContext), sync or async
TaskHandler = Callable[..., Any]


class Service:
    """A set of task handlers, each consuming its own ``tasks.<name>`` queue."""

    def __init__(self, name: str = "service", concurrency: int = 16) -> None:
        self.name = name
        self.concurrency = concurrency
        self.handlers: dict[str, TaskHandler] = {}

    def task(self, name: str) -> Callable[[TaskHandler], TaskHandler]:
        def register(fn: TaskHandler) -> TaskHandler:
            self.handlers[name] = fn
            return fn

        return register

    async def attach(self, transport: Transport, **options: Any) -> Any:
        """Start consuming on an already started transport (embedded runs, tests); returns the
        :class:`services.worker.Worker` (heartbeats, limits, deadlines, graceful stop)."""
        from services.worker import Worker

        worker = Worker(self, **options)
        await worker.attach(transport)
        return worker

    def run(self, url: str | None = None, **options: Any) -> int:
        """Serve until SIGTERM (``url`` defaults to STATEHOP_AMQP_URL); returns the exit code."""
        from services.run import run

        return run(self, url, **options)
