"""The one context variable that says which hop, task or request the running code serves.

Log lines read it (execution_arn, state, trace_id, span_id); setting it costs one
``ContextVar.set``/``reset`` per hop, and the fields are only computed when a line is logged.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

from runtime.telemetry.tracing import current_ids, parse_traceparent


class LogScope(Protocol):
    def log_fields(self) -> dict[str, Any]: ...


current_scope: contextvars.ContextVar[LogScope | None] = contextvars.ContextVar(
    "statehop_log_scope", default=None
)


def trace_fields(traceparent: str | None) -> dict[str, str]:
    """``trace_id``/``span_id`` of the current span, else of ``traceparent``."""
    ids = current_ids()
    if ids is not None:
        return {"trace_id": ids[0], "span_id": ids[1]}
    parsed = parse_traceparent(traceparent)
    if parsed is None:
        return {}
    return {"trace_id": f"{parsed[0]:032x}", "span_id": f"{parsed[1]:016x}"}


def hop_fields(hop: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"execution_arn": hop.execution_arn, "state": hop.state}
    if hop.branch:
        fields["branch"] = hop.branch
    if hop.attempt:
        fields["attempt"] = hop.attempt
    fields.update(trace_fields(hop.traceparent))
    return fields


class HopBinding:
    """Log fields of a hop (no span of its own: trace ids come from the current span)."""

    __slots__ = ("hop",)

    def __init__(self, hop: Any) -> None:
        self.hop = hop

    def log_fields(self) -> dict[str, Any]:
        return hop_fields(self.hop)


class Bound:
    """Explicit fields, layered over the scope that was current when it was bound."""

    __slots__ = ("fields", "parent")

    def __init__(self, fields: Mapping[str, Any], parent: LogScope | None) -> None:
        self.fields = dict(fields)
        self.parent = parent

    def log_fields(self) -> dict[str, Any]:
        merged = self.parent.log_fields() if self.parent is not None else {}
        merged.update(self.fields)
        if "trace_id" not in merged:
            merged.update(trace_fields(None))
        return merged


@contextmanager
def bind_hop(hop: Any) -> Iterator[None]:
    """Every log line inside carries the hop's execution_arn, state, trace_id and span_id."""
    token = current_scope.set(HopBinding(hop))
    try:
        yield
    finally:
        current_scope.reset(token)


@contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Add fields to every log line inside (e.g. ``bind(execution_arn=arn)`` in an API call)."""
    token = current_scope.set(Bound(fields, current_scope.get()))
    try:
        yield
    finally:
        current_scope.reset(token)


def current_fields() -> dict[str, Any]:
    """The fields a log line written here would get."""
    scope = current_scope.get()
    if scope is None:
        return trace_fields(None)
    return scope.log_fields()


__all__ = [
    "Bound",
    "HopBinding",
    "LogScope",
    "bind",
    "bind_hop",
    "current_fields",
    "current_scope",
    "hop_fields",
]
