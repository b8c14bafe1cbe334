"""Every role in one process: the embedded default behind ``statehop run`` and the tests.

It wires the production pieces together (engine, store, transport, timers, task services);
only the edges differ: an in-memory transport, an in-memory SQLite store, in-process timers
(optionally time-skipping) and Python handlers as services.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import orjson

from runtime.config import EMBEDDED_AMQP, EMBEDDED_DATABASE
from runtime.engine.clock import Clock, VirtualClock
from runtime.engine.engine import BUILTIN_SERVICE, Engine
from runtime.engine.resources import ResourceMap
from runtime.engine.timers import MemoryTimers
from runtime.integrations import builtin_service
from runtime.store import Store
from runtime.transport import create_transport
from services.sdk import Service, TaskHandler


class HandlerSpecError(ValueError):
    """A ``NAME=module:function`` service spec that does not load."""


def load_handler(target: str) -> TaskHandler:
    """Import ``module:function`` (or ``module.function``)."""
    module_name, sep, attr = target.partition(":")
    if not sep:
        module_name, _, attr = target.rpartition(".")
    if not module_name or not attr:
        raise HandlerSpecError(f"{target!r}: expected module:function")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`: handlers live in the user's project
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise HandlerSpecError(f"{target!r}: cannot import module {module_name!r}: {exc}") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise HandlerSpecError(f"{target!r}: module {module_name!r} has no function {attr!r}")
    return fn  # type: ignore[no-any-return]


def parse_service_specs(specs: list[str]) -> dict[str, TaskHandler]:
    out: dict[str, TaskHandler] = {}
    for spec in specs:
        name, sep, target = spec.partition("=")
        if not sep or not name or not target:
            raise HandlerSpecError(f"--service {spec!r}: expected NAME=module:function")
        out[name] = load_handler(target)
    return out


@dataclass(frozen=True)
class RunResult:
    """The end of an execution as ``statehop run --format json`` prints it."""

    arn: str
    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.status == "SUCCEEDED":
            return {"status": self.status, "output": self.output}
        return {"status": self.status, "error": self.error or "", "cause": self.cause or ""}


class EmbeddedRuntime:
    """Async context manager that runs engine + services + timers in this process."""

    def __init__(
        self,
        *,
        services: Mapping[str, TaskHandler] | None = None,
        resource_map: Mapping[str, str] | None = None,
        time_skip: bool = False,
        database_url: str = EMBEDDED_DATABASE,
        amqp_url: str = EMBEDDED_AMQP,
        region: str = "us-east-1",
        account: str = "123456789012",
    ) -> None:
        self.handlers = dict(services or {})
        self.resource_map = dict(resource_map or {})
        self.clock: Clock = VirtualClock() if time_skip else Clock()
        self.database_url = database_url
        self.amqp_url = amqp_url
        self.region = region
        self.account = account
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> EmbeddedRuntime:
        self.store = Store(
            self.database_url, region=self.region, account=self.account, sqlite_synchronous="OFF"
        )
        self._stack.push_async_callback(self.store.close)
        await self.store.migrate()
        self.transport = create_transport(self.amqp_url)
        await self.transport.start()
        self._stack.push_async_callback(self.transport.close)
        self.timers = MemoryTimers(self.transport, self.clock)
        self.timers.start()
        self._stack.push_async_callback(self.timers.stop)
        known = set(self.handlers) | {BUILTIN_SERVICE}
        self.engine = Engine(
            self.store,
            self.transport,
            self.timers,
            clock=self.clock,
            resources=ResourceMap(self.resource_map, known_services=known),
            region=self.region,
        )
        if self.handlers:
            service = Service("embedded")
            for name, fn in self.handlers.items():
                service.task(name)(fn)
            worker = await service.attach(self.transport)
            self._stack.push_async_callback(worker.stop)
        await builtin_service().attach(self.transport)
        await self.engine.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def create_state_machine(
        self, name: str, definition: str | Mapping[str, Any], type: str = "STANDARD"
    ) -> str:
        text = definition if isinstance(definition, str) else json.dumps(definition)
        async with self.store.transaction() as tx:
            machine = await tx.create_state_machine(
                name, text, role_arn=f"arn:aws:iam::{self.account}:role/statehop", type=type
            )
        return str(machine.arn)

    async def run(
        self, state_machine_arn: str, input: Any = None, name: str | None = None, timeout: float | None = None
    ) -> RunResult:
        execution = await self.engine.start_execution(state_machine_arn, input, name)
        record = await self.engine.wait(execution.arn, timeout)
        output = orjson.loads(record.output) if record.output is not None else None
        return RunResult(record.arn, str(record.status), output, record.error, record.cause)


async def run_definition(
    definition: str | Mapping[str, Any],
    input: Any = None,
    *,
    services: Mapping[str, TaskHandler] | None = None,
    resource_map: Mapping[str, str] | None = None,
    time_skip: bool = False,
    name: str = "statehop-run",
    execution_type: str = "STANDARD",
    timeout: float | None = None,
    before: Callable[[EmbeddedRuntime], Any] | None = None,
) -> RunResult:
    """Run one execution of ``definition`` to its end, in-process."""
    async with EmbeddedRuntime(services=services, resource_map=resource_map, time_skip=time_skip) as rt:
        if before is not None:
            await before(rt)
        arn = await rt.create_state_machine(name, definition, execution_type)
        return await rt.run(arn, input, timeout=timeout)
