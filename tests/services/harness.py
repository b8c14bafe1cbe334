"""An engine wired as runtime.embedded wires it, with the edges the service tests need.

Differences from :class:`runtime.embedded.EmbeddedRuntime`: any transport URL with a queue
prefix of its own (RabbitMQ tests never share queues), the wall clock by default (heartbeats
and timeouts are real seconds), no Python handlers attached (services are attached by the
test, through :class:`services.worker.Worker`, a Node.js process, ...), and the built-in
integrations with an explicit :class:`IntegrationConfig`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from runtime.embedded import RunResult
from runtime.engine.clock import Clock, VirtualClock
from runtime.engine.engine import Engine
from runtime.engine.resources import ResourceMap
from runtime.engine.timers import MemoryTimers
from runtime.integrations import BuiltinService, IntegrationConfig
from runtime.store import Store
from runtime.transport import Topology, Transport, create_transport

RUN_TIMEOUT = 60.0  # a bound on waiting for an execution, never asserted as a speed


@dataclass
class Runtime:
    store: Store
    transport: Transport
    timers: MemoryTimers
    engine: Engine
    builtin: BuiltinService
    topology: Topology
    amqp_url: str

    async def create(self, definition: Mapping[str, Any] | str, name: str | None = None) -> str:
        text = definition if isinstance(definition, str) else json.dumps(definition)
        async with self.store.transaction() as tx:
            machine = await tx.create_state_machine(
                name or f"sm-{uuid.uuid4().hex[:8]}", text, role_arn="arn:aws:iam::123456789012:role/t"
            )
        return str(machine.arn)

    async def start(self, arn: str, data: Any = None) -> str:
        execution = await self.engine.start_execution(arn, data)
        return str(execution.arn)

    async def wait(self, execution_arn: str, timeout: float = RUN_TIMEOUT) -> RunResult:
        record = await self.engine.wait(execution_arn, timeout)
        output = orjson.loads(record.output) if record.output is not None else None
        return RunResult(record.arn, str(record.status), output, record.error, record.cause)

    async def run(
        self, definition: Mapping[str, Any] | str, data: Any = None, timeout: float = RUN_TIMEOUT
    ) -> RunResult:
        return await self.wait(await self.start(await self.create(definition), data), timeout)

    async def history(self, execution_arn: str) -> list[tuple[str, dict[str, Any]]]:
        async with self.store.transaction() as tx:
            page = await tx.list_events(execution_arn, max_results=1000)
        return [(e.type, e.details_dict() or {}) for e in page.items]

    async def new_transport(self) -> Transport:
        """Another client on the same broker and prefix (a service 'in another process')."""
        if self.amqp_url.startswith("memory"):
            return self.transport
        transport = create_transport(self.amqp_url, self.topology, publish_timeout=15.0)
        await transport.start()
        return transport


@asynccontextmanager
async def runtime(
    amqp_url: str = "memory://",
    *,
    time_skip: bool = False,
    known_services: set[str] | None = None,
    integrations: IntegrationConfig | None = None,
    database_url: str = "sqlite+aiosqlite:///:memory:",
) -> AsyncIterator[Runtime]:
    """Store + transport + timers + engine + built-ins; RabbitMQ queues are deleted afterwards."""
    topology = Topology(prefix=f"t{uuid.uuid4().hex[:12]}")
    store = Store(database_url)
    await store.migrate()
    try:
        options: dict[str, Any] = {} if amqp_url.startswith("memory") else {"publish_timeout": 15.0}
        transport = create_transport(amqp_url, topology, **options)
        await transport.start()
        try:
            clock: Clock = VirtualClock() if time_skip else Clock()
            timers = MemoryTimers(transport, clock)
            timers.start()
            try:
                engine = Engine(
                    store,
                    transport,
                    timers,
                    clock=clock,
                    resources=ResourceMap({}, known_services=known_services),
                )
                builtin = BuiltinService(config=integrations or IntegrationConfig())
                await builtin.attach(transport)
                await engine.start()
                yield Runtime(store, transport, timers, engine, builtin, topology, amqp_url)
            finally:
                await timers.stop()
        finally:
            try:
                if not amqp_url.startswith("memory"):
                    await transport.delete_topology()
            finally:
                await transport.close()
    finally:
        await store.close()
