"""``arn:aws:states:::events:putEvents``: EventBridge's PutEvents onto StateHop's own bus.

Each entry becomes one message on the topic exchange ``<prefix>.events`` (the one execution
status events use), routing key ``event.<Source>.<DetailType>`` (e.g.
``event.com.shop.orders.Order Placed``), body the event as EventBridge delivers it to targets::

    {"version": "0", "id": "...", "detail-type": "...", "source": "...", "account": "...",
     "time": "2024-05-01T12:00:00Z", "region": "...", "resources": [...], "detail": {...}}

with headers ``x-sh-event-bus`` (EventBusName, default ``default``) and ``x-sh-exec``. As on
AWS, the execution ARN and the state machine ARN are appended to each entry's Resources.
Subscribe with ``transport.bind_events(queue, "event.com.shop.#")`` or a rule adapter.

The result is PutEvents' own: ``{"Entries": [{"EventId": ...}], "FailedEntryCount": 0}``; an
invalid entry is reported in place (``ErrorCode``, ``ErrorMessage``) and, as on AWS, any failed
entry fails the task with ``EventBridge.FailedEntry`` (cause: the response as JSON).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from runtime.asl.errors import StatesError
from runtime.engine.resources import REQUEST_RESPONSE, WAIT_FOR_TASK_TOKEN
from runtime.integrations.base import Call
from runtime.transport.base import Message

ROUTING_PREFIX = "event"
MAX_ENTRIES = 10
MAX_ROUTING_KEY = 255  # AMQP short string
H_EVENT_BUS = "x-sh-event-bus"


def routing_key(source: str, detail_type: str) -> str:
    key = f"{ROUTING_PREFIX}.{source}.{detail_type}"
    encoded = key.encode()
    if len(encoded) <= MAX_ROUTING_KEY:
        return key
    return encoded[:MAX_ROUTING_KEY].decode("utf-8", "ignore")


def _time(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        when = dt.datetime.fromtimestamp(value, dt.UTC)
    elif isinstance(value, str) and value:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
    else:
        when = dt.datetime.now(dt.UTC)
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _entry_error(entry: Any) -> tuple[str, str] | None:
    if not isinstance(entry, Mapping):
        return "InvalidArgument", "An entry must be an object"
    for name in ("Source", "DetailType", "Detail"):
        value = entry.get(name)
        if value is None or value == "":
            return "InvalidArgument", f"Parameter {name} is not valid. Reason: {name} is a required argument."
    if not isinstance(entry["Source"], str) or not isinstance(entry["DetailType"], str):
        return "InvalidArgument", "Source and DetailType must be strings"
    detail = entry["Detail"]
    if isinstance(detail, str):
        try:
            detail = orjson.loads(detail)
        except orjson.JSONDecodeError:
            return "MalformedDetail", "Detail is malformed."
    if not isinstance(detail, Mapping):
        return "MalformedDetail", "Detail is malformed: it must be a JSON object."
    resources = entry.get("Resources", [])
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        return "InvalidArgument", "Resources must be a list of strings"
    return None


async def put_events(params: Any, call: Call) -> dict[str, Any]:
    if call.pattern not in (REQUEST_RESPONSE, WAIT_FOR_TASK_TOKEN):
        raise StatesError("States.Runtime", f"'{call.resource}': the {call.pattern} pattern is not supported")
    if not isinstance(params, Mapping) or not isinstance(params.get("Entries"), list):
        raise StatesError("States.Runtime", "events:putEvents needs Parameters with a list of Entries")
    entries = params["Entries"]
    if not 1 <= len(entries) <= MAX_ENTRIES:
        raise StatesError(
            "States.Runtime", f"events:putEvents takes 1 to {MAX_ENTRIES} Entries, got {len(entries)}"
        )
    if call.transport is None:
        raise StatesError("States.Runtime", "events:putEvents has no transport to publish on")
    config = call.config
    extra = [arn for arn in (call.state_machine_arn, call.execution_arn) if arn]
    results: list[dict[str, Any]] = []
    failed = 0
    for entry in entries:
        problem = _entry_error(entry)
        if problem is not None:
            failed += 1
            results.append({"ErrorCode": problem[0], "ErrorMessage": problem[1]})
            continue
        detail = entry["Detail"]
        event_id = str(uuid.uuid4())
        event = {
            "version": "0",
            "id": event_id,
            "detail-type": entry["DetailType"],
            "source": entry["Source"],
            "account": config.account,
            "time": _time(entry.get("Time")),
            "region": config.region,
            "resources": [*entry.get("Resources", []), *extra],
            "detail": orjson.loads(detail) if isinstance(detail, str) else detail,
        }
        headers: dict[str, Any] = {H_EVENT_BUS: str(entry.get("EventBusName") or "default")}
        if call.execution_arn:
            headers["x-sh-exec"] = call.execution_arn
        if call.traceparent:
            headers["traceparent"] = call.traceparent
        await call.transport.publish_event(
            routing_key(entry["Source"], entry["DetailType"]),
            Message(body=orjson.dumps(event), headers=headers, message_id=event_id),
        )
        results.append({"EventId": event_id})
    response = {"Entries": results, "FailedEntryCount": failed}
    if failed:
        raise StatesError("EventBridge.FailedEntry", orjson.dumps(response).decode())
    return response
