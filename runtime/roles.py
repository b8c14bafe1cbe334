"""Server roles built from one :class:`~runtime.config.Settings`: worker, scheduler, api, serve.

Each role is an async function that runs until SIGTERM/SIGINT, then stops taking new work,
finishes what is in flight and returns (exit code 0). ``serve`` runs every role in one process;
with no URLs configured it is the embedded default (in-memory broker, SQLite in memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass

from runtime import telemetry
from runtime.config import Settings
from runtime.engine.clock import Clock
from runtime.engine.engine import Engine
from runtime.engine.resources import ResourceMap
from runtime.engine.timers import MemoryTimers, QueueTimers, Timers
from runtime.health import start_health_server
from runtime.integrations import builtin_service
from runtime.store import Store
from runtime.transport import Topology, Transport, create_transport

log = logging.getLogger("statehop.roles")


@dataclass
class Components:
    settings: Settings
    store: Store
    transport: Transport
    timers: Timers
    engine: Engine


def topology(settings: Settings) -> Topology:
    return Topology(
        prefix=settings.queue_prefix, queue_type=settings.queue_type, hop_prefetch=settings.prefetch
    )


@contextlib.asynccontextmanager
async def components(
    settings: Settings, *, in_process_timers: bool | None = None
) -> AsyncIterator[Components]:
    """Open store and transport, migrate the schema, and build the engine (not yet consuming)."""
    store = Store(
        settings.database_url,
        region=settings.region,
        account=settings.account,
        pool_size=settings.db_pool_size,
    )
    try:
        await store.migrate()
        transport = create_transport(settings.amqp_url, topology(settings))
        await transport.start()
        try:
            local = settings.embedded if in_process_timers is None else in_process_timers
            timers: Timers
            if local:
                memory = MemoryTimers(transport, Clock())
                memory.start()
                timers = memory
            else:
                timers = QueueTimers(transport)
            engine = Engine(
                store,
                transport,
                timers,
                resources=ResourceMap(settings.resources()),
                token_secret=settings.token_secret,
                region=settings.region,
                prefetch=settings.prefetch,
                fast_path=settings.fast_path,
                express_max_seconds=settings.express_max_seconds,
            )
            try:
                yield Components(settings, store, transport, timers, engine)
            finally:
                if isinstance(timers, MemoryTimers):
                    await timers.stop()
        finally:
            await transport.close()
    finally:
        await store.close()


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def store_answers(store: Store) -> str | None:
    async with store.transaction(readonly=True) as tx:
        await tx.connection.exec_driver_sql("SELECT 1")
    return None


async def run_worker(settings: Settings, ready: asyncio.Event | None = None) -> int:
    """Consume hops and task replies until SIGTERM; then drain in-flight hops and exit 0."""
    async with components(settings, in_process_timers=False) as c:
        stop = _stop_event()
        await builtin_service().attach(c.transport)
        await c.engine.start()

        async def worker_ready() -> str | None:
            if stop.is_set():
                return "draining after SIGTERM"
            return await store_answers(c.store)

        health = start_health_server(settings.health_port, settings.api_host, worker_ready, stop)
        relay = asyncio.create_task(_relay_outbox(c.engine, stop))
        depths = asyncio.create_task(
            telemetry.metrics.watch_queue_depths(
                c.transport, [Topology.HOPS, Topology.REPLIES, Topology.DEAD]
            )
        )
        log.info("worker consuming %s", c.transport.topology.queue_name(Topology.HOPS))
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("SIGTERM: no new hops; finishing the ones in flight")
        await c.transport.stop_consuming(timeout=settings.shutdown_timeout)
        for task in (relay, depths):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if health is not None:
            await health
    return 0


async def _relay_outbox(engine: Engine, stop: asyncio.Event, every: float = 5.0) -> None:
    """Publish outbox rows left by a worker that crashed between commit and publish."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        try:
            await engine.relay_outbox()
        except Exception:
            log.exception("outbox relay failed")


def _api_task(c: Components, stop: asyncio.Event, started: asyncio.Event | None = None) -> asyncio.Task[None]:
    """Serve the Step Functions API + REST view on settings.api_host:api_port in this loop."""
    from runtime.api import create_app
    from runtime.api.server import bind, serve

    app = create_app(c.engine, c.store, c.settings)
    sock = bind(c.settings.api_host, c.settings.api_port)
    log.info("API listening on http://%s:%d", *sock.getsockname()[:2])
    return asyncio.create_task(serve(app, sock, stop, started=started))


async def run_api(settings: Settings, ready: asyncio.Event | None = None) -> int:
    """The API role: AWS JSON 1.0 protocol, REST view, health. Starts executions and answers
    callbacks through the store and the broker; the hops themselves run on workers."""
    async with components(settings, in_process_timers=False) as c:
        stop = _stop_event()
        server = _api_task(c, stop, ready)
        await stop.wait()
        await server
    return 0


async def run_serve(settings: Settings, ready: asyncio.Event | None = None) -> int:
    """Every role in one process. Embedded (no URLs): in-memory broker, in-process timers."""
    async with components(settings) as c:
        stop = _stop_event()
        await builtin_service().attach(c.transport)
        await c.engine.start()
        background = [asyncio.create_task(_relay_outbox(c.engine, stop))]
        if not settings.embedded:
            from runtime.scheduler.role import run_scheduler

            background.append(asyncio.create_task(run_scheduler(settings, stop=stop)))
        api = _api_task(c, stop, ready)
        await stop.wait()
        await api  # finishes open requests once stop is set
        await c.transport.stop_consuming(timeout=settings.shutdown_timeout)
        for task in background:
            task.cancel()
        for task in background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return 0
