"""A server-mode stack for integration tests: a PostgreSQL database of its own, a started
RabbitMQ transport under a unique prefix, and in-process timers on a virtual clock.

    async with server_stack(amqp_url) as (store, transport, timers):
        engine = Engine(store, transport, timers, clock=timers.clock, ...)

Everything is torn down afterwards: the timers, the queues and exchanges of the prefix, and
the database. PostgreSQL is found or started by ``require_postgres`` (never skipped).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from runtime.engine.clock import VirtualClock
from runtime.engine.timers import MemoryTimers
from runtime.store import Store
from runtime.transport import Topology, Transport, create_transport
from tests.support.db import create_postgres_database, drop_postgres_database, require_postgres


@contextlib.asynccontextmanager
async def server_stack(
    amqp_url: str, **transport_options: Any
) -> AsyncIterator[tuple[Store, Transport, MemoryTimers]]:
    admin = require_postgres()
    database_url = await create_postgres_database(admin)
    try:
        store = Store(database_url)
        try:
            await store.migrate()
            topology = Topology(prefix=f"t{uuid.uuid4().hex[:12]}")
            transport = create_transport(amqp_url, topology, **transport_options)
            await transport.start()
            try:
                timers = MemoryTimers(transport, VirtualClock())
                timers.start()
                try:
                    yield store, transport, timers
                finally:
                    await timers.stop()
            finally:
                try:
                    await transport.delete_topology()
                finally:
                    await transport.close()
        finally:
            await store.close()
    finally:
        await drop_postgres_database(admin, database_url)
