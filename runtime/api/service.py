"""The API's core: one handler per Step Functions action, called by both front ends.

The AWS JSON protocol (runtime/api/protocol.py) and the REST view (runtime/api/rest.py) both
go through :func:`invoke`, so a request is validated, size-checked and answered the same way
whichever door it came in by. Handlers get an :class:`ApiContext` and the request members as
a dict, and return the response members; timestamps stay ``datetime`` until a front end
encodes them (epoch seconds for AWS, ISO 8601 for REST).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from runtime.api.config import ApiSettings
from runtime.api.errors import ApiError
from runtime.api.model import check_input, operation, payload_error
from runtime.config import Settings
from runtime.store import Store
from runtime.store.arns import Arns
from runtime.store.records import Execution

Params = Mapping[str, Any]
Result = dict[str, Any]
Handler = Callable[["ApiContext", Params], Awaitable[Result]]


class ApiEngine(Protocol):
    """What the API needs from the engine (runtime.engine.engine.Engine).

    ``start_sync``, ``redrive_execution``, ``claim_activity_task`` and ``update_map_run``
    are looked up with :meth:`ApiContext.engine_feature` / ``getattr``, so the API answers
    with a clear error (not a 500) while an engine lacks one of them.
    """

    async def start_execution(
        self,
        state_machine_arn: str,
        input: Any = None,
        name: str | None = None,
        trace_header: str | None = None,
    ) -> Execution: ...

    async def wait(self, execution_arn: str, timeout: float | None = None) -> Execution: ...

    async def stop_execution(self, execution_arn: str, error: str = "", cause: str = "") -> Execution: ...

    async def answer_task(self, token: str, kind: str, body: bytes, *, callback: bool = False) -> bool: ...


@dataclass(frozen=True)
class ApiContext:
    engine: ApiEngine
    store: Store
    settings: Settings
    api: ApiSettings

    @property
    def arns(self) -> Arns:
        return self.store.arns

    def engine_feature(self, name: str, action: str) -> Callable[..., Awaitable[Any]]:
        """An engine method the API relies on, or a clear error while the engine lacks it."""
        method = getattr(self.engine, name, None)
        if method is None:
            raise ApiError(
                "ValidationException",
                f"{action} is not available: this StateHop engine has no {name}() yet",
            )
        return method  # type: ignore[no-any-return]


def now() -> datetime:
    return datetime.now(UTC)


def parse_json(text: str | None, op_name: str, member: str, default: str = "{}") -> Any:
    """A JSON document member (input, output, ...), or the action's payload error."""
    try:
        return orjson.loads(default if text is None else text)
    except orjson.JSONDecodeError as exc:
        code = payload_error(operation(op_name), member)
        raise ApiError(code, f"Invalid {member}: not valid JSON: {exc}") from None


def tags_to_dict(tags: Any) -> dict[str, str]:
    return {str(t["key"]): str(t.get("value", "")) for t in tags or ()}


def tags_to_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in tags.items()]


def drop_none(values: Mapping[str, Any]) -> Result:
    """AWS leaves absent members out rather than sending null."""
    return {k: v for k, v in values.items() if v is not None}


_ACTIONS: dict[str, Handler] = {}


def actions() -> dict[str, Handler]:
    """Every implemented action by name (imports the handler modules once)."""
    if not _ACTIONS:
        from runtime.api import activities, definitions, executions, machines, teststate

        for module in (machines, executions, activities, definitions, teststate):
            _ACTIONS.update(module.ACTIONS)
    return _ACTIONS


async def invoke(ctx: ApiContext, action: str, params: Params) -> Result:
    """Validate ``params`` against the model, then run the action's handler."""
    op = operation(action)
    handler = actions().get(action)
    if handler is None:
        raise ApiError("UnknownOperationException", f"Operation {action} is not implemented by StateHop")
    check_input(op, params, ctx.settings.max_payload_bytes)
    return await handler(ctx, params)
