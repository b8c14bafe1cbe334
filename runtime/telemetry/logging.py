"""Structured logs: structlog renders every line, stdlib ``logging`` included.

``json`` (production): one JSON object per line with ``timestamp``, ``level``, ``logger``,
``message`` and, inside a hop or a task, ``execution_arn``, ``state``, ``trace_id`` and
``span_id`` (the same ids the trace has, so a log search by trace id and a trace viewer agree).
``console`` (development): the same fields, aligned and coloured on a terminal.

The per-hop binding is :func:`runtime.telemetry.context.bind_hop` (re-exported here): one
context variable, read only when a line is written.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import orjson
import structlog
from structlog.typing import Processor

from runtime.telemetry.context import bind, bind_hop, current_scope, trace_fields

FORMATS = ("json", "console")
_HANDLER_NAME = "statehop-structlog"


def add_scope_fields(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the current hop/task/bound fields (explicit values win)."""
    scope = current_scope.get()
    fields = scope.log_fields() if scope is not None else trace_fields(None)
    for key, value in fields.items():
        event_dict.setdefault(key, value)
    return event_dict


def _dumps(obj: Any, **_: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def _level(value: str | int | None) -> int:
    if value is None:
        return logging.INFO
    if isinstance(value, int):
        return value
    number = logging.getLevelName(value.strip().upper())
    return number if isinstance(number, int) else logging.INFO


def configure_logging(
    fmt: str | None = None,
    level: str | int | None = None,
    *,
    stream: TextIO | None = None,
    service: str | None = None,
) -> logging.Handler:
    """Route stdlib logging and structlog through one renderer on ``stream`` (stderr).

    ``fmt``: ``json`` or ``console`` (default ``STATEHOP_LOG_FORMAT``, else console);
    ``level``: default ``STATEHOP_LOG_LEVEL``, else INFO. Replaces plain stream handlers on
    the root logger (e.g. ``logging.basicConfig``'s); other handlers (pytest's) stay.
    """
    fmt = (fmt or os.environ.get("STATEHOP_LOG_FORMAT") or "console").strip().lower()
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {FORMATS}, not {fmt!r}")
    numeric = _level(level if level is not None else os.environ.get("STATEHOP_LOG_LEVEL"))
    shared: list[Processor] = [
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.contextvars.merge_contextvars,
        add_scope_fields,
        structlog.processors.StackInfoRenderer(),
    ]
    if service:
        static = {"service": service}

        def add_service(_l: Any, _m: str, ed: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
            for key, value in static.items():
                ed.setdefault(key, value)
            return ed

        shared.append(add_service)
    final: list[Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if fmt == "json":
        final += [
            structlog.processors.dict_tracebacks,
            structlog.processors.EventRenamer("message"),
            structlog.processors.JSONRenderer(serializer=_dumps),
        ]
    else:
        out = stream or sys.stderr
        final.append(structlog.dev.ConsoleRenderer(colors=bool(getattr(out, "isatty", lambda: False)())))
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processors=final))
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == _HANDLER_NAME or type(old) is logging.StreamHandler:
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    return handler


def get_logger(name: str | None = None) -> Any:
    """A structlog logger (``log.info("hop applied", outcome="Next")``)."""
    return structlog.stdlib.get_logger(name)


__all__ = ["FORMATS", "add_scope_fields", "bind", "bind_hop", "configure_logging", "get_logger"]
