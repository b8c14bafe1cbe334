"""The Python worker SDK: write a Task service as plain functions.

    service = Service("payments")

    @service.task("charge-card")
    async def charge(payload): ...

    asyncio.run(service.run("amqp://guest:guest@localhost/"))

A handler gets the task payload and returns the result; an exception becomes the task's
error, named after the exception class as AWS Lambda names ``errorType``. Sync handlers run
in a thread so they never block the event loop.

Each task runs inside a span ``task <name>`` whose parent is the engine's hop span (from the
message's ``traceparent``), and every log line the handler writes carries execution_arn,
state, trace_id and span_id: call ``runtime.telemetry.setup("payments")`` once at start to
export spans (``OTEL_*`` variables) and render logs (docs/observability.md).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from runtime import taskwire
from runtime.telemetry.hooks import observe_task
from runtime.transport.base import Delivery, Topology, Transport

log = logging.getLogger("statehop.sdk")

TaskHandler = Callable[[Any], Any] | Callable[[Any], Awaitable[Any]]


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

    async def attach(self, transport: Transport) -> None:
        """Start consuming on an already started transport (used in embedded runs)."""
        for name, fn in self.handlers.items():
            queue = Topology.task_queue(name)
            await transport.ensure_queue(queue)
            await transport.consume(queue, self._consumer(transport, fn, name), prefetch=self.concurrency)

    def _consumer(
        self, transport: Transport, fn: TaskHandler, name: str | None = None
    ) -> Callable[[Delivery], Awaitable[None]]:
        task_name = str(name or getattr(fn, "__name__", "task"))

        async def handle(delivery: Delivery) -> None:
            msg = delivery.message
            token = str(msg.headers.get(taskwire.H_TOKEN) or msg.correlation_id or "")
            reply_to = msg.reply_to or Topology.REPLIES
            with observe_task(msg.headers, task_name, self.name) as observed:
                try:
                    payload = orjson.loads(msg.body) if msg.body else None
                    result = await call_handler(fn, payload)
                    reply = taskwire.reply_message(
                        token, taskwire.SUCCESS, output=result, persistent=msg.persistent
                    )
                except Exception as exc:
                    observed.failed(exc)
                    log.info("task %s failed: %s: %s", task_name, type(exc).__name__, exc)
                    reply = taskwire.reply_message(
                        token,
                        taskwire.FAILURE,
                        error=type(exc).__name__,
                        cause=str(exc),
                        persistent=msg.persistent,
                    )
                await transport.publish(reply_to, reply)
            await delivery.ack()

        return handle


async def call_handler(fn: TaskHandler, payload: Any) -> Any:
    if inspect.iscoroutinefunction(fn):
        return await fn(payload)
    result = await asyncio.to_thread(fn, payload)
    if inspect.isawaitable(result):
        return await result
    return result
