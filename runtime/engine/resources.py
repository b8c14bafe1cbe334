"""Where a Task's ``Resource`` goes: a local service queue, an activity, or a built-in.

Definitions written for AWS run unchanged: a Lambda function ARN (or
``arn:aws:states:::lambda:invoke`` with ``FunctionName``) names a service of the same name, an
activity ARN names an activity, and a plain name is a service name. A resource map (a dict or a
JSON file) overrides the defaults: ``{"arn:aws:lambda:...:function:charge": "payments"}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runtime.asl.errors import StatesError, StatesNames

REQUEST_RESPONSE = "request-response"
WAIT_FOR_TASK_TOKEN = "waitForTaskToken"
SYNC = "sync"
SYNC2 = "sync:2"

_LAMBDA_FN = re.compile(r"^arn:aws[\w-]*:lambda:[\w-]*:\d*:function:([A-Za-z0-9_-]+)(?::[\w$-]+)?$")
_ACTIVITY = re.compile(r"^arn:aws[\w-]*:states:[\w-]*:\d*:activity:([A-Za-z0-9_.-]+)$")
_INTEGRATION = re.compile(
    r"^arn:aws[\w-]*:states:::([\w-]+):([\w:-]+?)(?:\.(waitForTaskToken|sync(?::2)?))?$"
)
_SERVICE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True, slots=True)
class Target:
    """A resolved Task resource."""

    kind: str  # "service" | "activity" | "builtin"
    name: str  # service name, activity name, or "<integration>:<action>" for built-ins
    pattern: str = REQUEST_RESPONSE
    payload_from: str | None = None  # lambda:invoke takes the service payload from "Payload"


def function_name(value: Any) -> str:
    """FunctionName of lambda:invoke may be a name, a function ARN or a partial ARN."""
    text = str(value)
    m = _LAMBDA_FN.match(text)
    if m:
        return m.group(1)
    return text.rsplit(":", 1)[-1] if ":function:" in text else text.split(":")[0]


class ResourceMap:
    """Resolves resources, honouring explicit overrides first."""

    def __init__(
        self, overrides: Mapping[str, str] | None = None, known_services: set[str] | None = None
    ) -> None:
        self.overrides = dict(overrides or {})
        #: When set (embedded runs), a service outside it fails the state instead of waiting
        #: forever for a consumer that does not exist.
        self.known_services = known_services

    def resolve(self, resource: str, payload: Any) -> Target:
        target = self._resolve(resource, payload)
        if (
            target.kind == "service"
            and self.known_services is not None
            and target.name not in self.known_services
        ):
            raise StatesError(
                StatesNames.RUNTIME,
                f"No service is mapped to the resource '{resource}' (service '{target.name}'): "
                "add it with --service NAME=module:function or --resource-map FILE",
            )
        return target

    def _resolve(self, resource: str, payload: Any) -> Target:
        if resource in self.overrides:
            return Target("service", self.overrides[resource])
        m = _LAMBDA_FN.match(resource)
        if m:
            return Target("service", self.overrides.get(m.group(1), m.group(1)))
        m = _ACTIVITY.match(resource)
        if m:
            return Target("activity", m.group(1))
        m = _INTEGRATION.match(resource)
        if m:
            service, action, pattern = m.group(1), m.group(2), m.group(3) or REQUEST_RESPONSE
            if service == "lambda" and action == "invoke":
                if not isinstance(payload, Mapping) or "FunctionName" not in payload:
                    raise StatesError(
                        StatesNames.RUNTIME,
                        "arn:aws:states:::lambda:invoke needs a FunctionName in its Parameters",
                    )
                name = function_name(payload["FunctionName"])
                return Target("service", self.overrides.get(name, name), pattern, payload_from="Payload")
            return Target("builtin", f"{service}:{action}", pattern)
        if _SERVICE_NAME.match(resource):
            return Target("service", resource)
        raise StatesError(
            StatesNames.RUNTIME,
            f"No service is mapped to the resource '{resource}': add it to the resource map "
            "(--service NAME=module:function or --resource-map FILE)",
        )
