"""Built-in Task integrations (``arn:aws:states:::<service>:<action>``), run as a service.

They consume their own task queue like any other service, so a built-in behaves exactly like
a microservice: the engine publishes a task message and gets a reply.

| resource | module |
|---|---|
| ``http:invoke`` | http.py (connections: connections.py) |
| ``sqs:sendMessage``, ``sns:publish``, ``dynamodb:getItem|putItem|updateItem|deleteItem``, | aws.py |
| ``aws-sdk:<service>:<action>`` | aws.py (boto3) |
| ``events:putEvents`` | events.py (StateHop's ``<prefix>.events`` exchange) |

Configuration (endpoints, connections): config.py, documented in docs/services.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson

from runtime import taskwire
from runtime.asl.errors import StatesError
from runtime.integrations.base import Call, Integration, parse_resource
from runtime.integrations.config import IntegrationConfig
from runtime.transport.base import Delivery, Topology, Transport

log = logging.getLogger("statehop.integrations")

AWS_SDK = "aws-sdk"


def _registry() -> dict[str, Integration]:
    from runtime.integrations import aws, events, http

    return {
        "http:invoke": http.invoke,
        "sqs:sendMessage": aws.sqs_send_message,
        "sns:publish": aws.sns_publish,
        "dynamodb:*": aws.dynamodb_call,
        "events:putEvents": events.put_events,
        f"{AWS_SDK}:*": aws.sdk_call,
    }


class BuiltinService:
    """Consumes ``tasks.statehop-builtin`` and runs the integration the resource names."""

    def __init__(
        self,
        integrations: Mapping[str, Integration] | None = None,
        config: IntegrationConfig | None = None,
        prefetch: int = 32,
    ) -> None:
        self.integrations = dict(integrations) if integrations is not None else _registry()
        self.config = config if config is not None else IntegrationConfig.from_env()
        self.prefetch = prefetch
        self.shared: dict[str, Any] = {}

    def lookup(self, action: str) -> Integration | None:
        """An exact action (``sqs:sendMessage``), else a wildcard (``aws-sdk:*``)."""
        found = self.integrations.get(action)
        if found is None and ":" in action:
            found = self.integrations.get(action.split(":", 1)[0] + ":*")
        return found

    async def run(self, resource: str, params: Any, call: Call) -> Any:
        """Run one integration call; raises StatesError for the task's failure."""
        fn = self.lookup(call.action)
        if fn is None:
            raise StatesError("States.Runtime", f"The integration '{resource}' is not supported")
        return await fn(params, call)

    async def attach(self, transport: Transport) -> None:
        from runtime.engine.engine import BUILTIN_SERVICE

        queue = Topology.task_queue(BUILTIN_SERVICE)
        await transport.ensure_queue(queue)

        async def handle(delivery: Delivery) -> None:
            msg = delivery.message
            headers = msg.headers
            token = str(headers.get(taskwire.H_TOKEN) or msg.correlation_id or "")
            resource = str(headers.get(taskwire.H_RESOURCE, ""))
            action, pattern = parse_resource(resource)
            call = Call(
                resource=resource,
                action=action,
                pattern=pattern,
                token=token,
                execution_arn=str(headers.get(taskwire.H_EXECUTION, "")),
                state=str(headers.get(taskwire.H_STATE, "")),
                traceparent=headers.get(taskwire.H_TRACEPARENT) or None,
                transport=transport,
                config=self.config,
                shared=self.shared,
            )
            try:
                params = orjson.loads(msg.body) if msg.body else None
                result = await self.run(resource, params, call)
                reply = taskwire.reply_message(
                    token, taskwire.SUCCESS, output=result, persistent=msg.persistent
                )
            except StatesError as err:
                log.info("integration %s failed: %s", resource, err.error)
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

        await transport.consume(queue, handle, prefetch=self.prefetch)


def builtin_service(config: IntegrationConfig | None = None) -> BuiltinService:
    return BuiltinService(config=config)


__all__ = ["BuiltinService", "Call", "Integration", "IntegrationConfig", "builtin_service"]
