"""Built-in Task integrations (``arn:aws:states:::<service>:<action>``), run as a service.

They consume their own task queue like any other service, so a built-in behaves exactly like
a microservice: the engine publishes a task message and gets a reply.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from runtime import taskwire
from runtime.asl.errors import StatesError
from runtime.transport.base import Delivery, Topology, Transport

log = logging.getLogger("statehop.integrations")

Integration = Callable[[Any], Awaitable[Any]]


def _registry() -> dict[str, Integration]:
    from runtime.integrations.http import invoke

    return {"http:invoke": invoke}


class BuiltinService:
    """Consumes ``tasks.statehop-builtin`` and runs the integration the resource names."""

    def __init__(self, integrations: dict[str, Integration] | None = None) -> None:
        self.integrations = integrations if integrations is not None else _registry()

    async def attach(self, transport: Transport) -> None:
        from runtime.engine.engine import BUILTIN_SERVICE

        queue = Topology.task_queue(BUILTIN_SERVICE)
        await transport.ensure_queue(queue)

        async def handle(delivery: Delivery) -> None:
            msg = delivery.message
            token = str(msg.headers.get(taskwire.H_TOKEN, ""))
            resource = str(msg.headers.get(taskwire.H_RESOURCE, ""))
            action = resource.removeprefix("arn:aws:states:::").split(".", 1)[0]
            fn = self.integrations.get(action)
            try:
                if fn is None:
                    raise StatesError("States.Runtime", f"The integration '{resource}' is not supported")
                result = await fn(orjson.loads(msg.body) if msg.body else None)
                reply = taskwire.reply_message(
                    token, taskwire.SUCCESS, output=result, persistent=msg.persistent
                )
            except StatesError as err:
                reply = taskwire.reply_message(
                    token, taskwire.FAILURE, error=err.error, cause=err.cause, persistent=msg.persistent
                )
            except Exception as exc:
                log.warning("integration %s failed: %s", resource, exc)
                reply = taskwire.reply_message(
                    token,
                    taskwire.FAILURE,
                    error=type(exc).__name__,
                    cause=str(exc),
                    persistent=msg.persistent,
                )
            await transport.publish(msg.reply_to or Topology.REPLIES, reply)
            await delivery.ack()

        await transport.consume(queue, handle, prefetch=32)


def builtin_service() -> BuiltinService:
    return BuiltinService()
