"""What a built-in integration gets: its parameters and a :class:`Call` describing the task."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from runtime.engine.resources import REQUEST_RESPONSE
from runtime.integrations.config import IntegrationConfig
from runtime.transport.base import Transport

ARN_PREFIX = "arn:aws:states:::"


@dataclass
class Call:
    """One built-in task: the resource it was dispatched for and where it runs."""

    resource: str
    action: str  # "sqs:sendMessage", "aws-sdk:dynamodb:getItem", ...
    pattern: str = REQUEST_RESPONSE  # or "waitForTaskToken" / "sync" / "sync:2"
    token: str = ""
    execution_arn: str = ""
    state: str = ""
    traceparent: str | None = None
    transport: Transport | None = None
    config: IntegrationConfig = field(default_factory=IntegrationConfig)
    #: state shared by every call of one BuiltinService (AWS clients, ...)
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def state_machine_arn(self) -> str:
        """``...:execution:<machine>:<name>`` -> ``...:stateMachine:<machine>`` ("" if unknown)."""
        head, sep, rest = self.execution_arn.partition(":execution:")
        if not sep:
            return ""
        return f"{head}:stateMachine:{rest.split(':', 1)[0]}"


Integration = Callable[[Any, Call], Awaitable[Any]]


def parse_resource(resource: str) -> tuple[str, str]:
    """``arn:aws:states:::sqs:sendMessage.waitForTaskToken`` -> ("sqs:sendMessage", "waitForTaskToken")."""
    text = resource.removeprefix(ARN_PREFIX) if resource.startswith("arn:") else resource
    if text.startswith("arn:"):  # another partition: arn:aws-cn:states:::...
        text = text.split(":::", 1)[-1]
    action, _, pattern = text.partition(".")
    return action, pattern or REQUEST_RESPONSE
