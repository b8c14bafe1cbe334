"""Run a Task service as a process: ``python -m services.run module:service``.

    python -m services.run services.examples.order_service:service --url amqp://guest:guest@rabbitmq/

or from code, ``raise SystemExit(run(service))``. The broker URL and queue names come from the
same settings as the engine (``STATEHOP_AMQP_URL``, ``STATEHOP_QUEUE_PREFIX``,
``STATEHOP_QUEUE_TYPE``, ``STATEHOP_SHUTDOWN_TIMEOUT``); flags override them. On SIGTERM or
SIGINT the service stops consuming, finishes the tasks in flight and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from runtime.transport import Topology, create_transport
from services.sdk import Service
from services.worker import Worker

log = logging.getLogger("statehop.sdk.run")

READY = "statehop service ready"


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT (where the platform lets us install handlers)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


def settings_topology(prefix: str | None = None, queue_type: str | None = None) -> Topology:
    """The queue names and arguments the engine uses (runtime/config.py settings)."""
    from runtime.config import Settings
    from runtime.roles import topology

    settings = Settings()  # type: ignore[call-arg]  # values come from the environment
    updates: dict[str, Any] = {}
    if prefix:
        updates["queue_prefix"] = prefix
    if queue_type:
        updates["queue_type"] = queue_type
    return topology(settings.model_copy(update=updates))


async def serve(
    service: Service,
    url: str,
    *,
    topology: Topology | None = None,
    concurrency: int | None = None,
    limits: Mapping[str, int] | None = None,
    shutdown_timeout: float = 30.0,
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
    **worker_options: Any,
) -> int:
    """Consume the service's task queues until ``stop`` (default: SIGTERM/SIGINT); exit code."""
    stop = stop if stop is not None else stop_on_signals()
    transport = create_transport(url, topology or settings_topology())
    await transport.start()
    try:
        worker = Worker(service, concurrency=concurrency, limits=limits, **worker_options)
        await worker.attach(transport)
        log.info("%s: %s consuming %s", READY, service.name, ", ".join(worker.queues))
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("stopping %s: no new tasks; finishing %d in flight", service.name, worker.in_flight)
        await worker.stop(shutdown_timeout)
    finally:
        await transport.close()
    log.info("%s stopped", service.name)
    return 0


def run(service: Service, url: str | None = None, **options: Any) -> int:
    """Blocking entry point: serve ``service`` until SIGTERM; returns the exit code (0)."""
    url = url or os.environ.get("STATEHOP_AMQP_URL")
    if not url:
        raise SystemExit("set STATEHOP_AMQP_URL (amqp://user:pass@host/vhost) or pass --url")
    if "shutdown_timeout" not in options and os.environ.get("STATEHOP_SHUTDOWN_TIMEOUT"):
        options["shutdown_timeout"] = float(os.environ["STATEHOP_SHUTDOWN_TIMEOUT"])
    _configure_logging()
    return asyncio.run(serve(service, url, **options))


def load_service(target: str) -> Service:
    """Import ``module:attribute``: a :class:`Service`, or a callable returning one."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise SystemExit(f"{target!r}: expected module:service")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SystemExit(f"{target!r}: cannot import {module_name!r}: {exc}") from None
    value = getattr(module, attr, None)
    if callable(value) and not isinstance(value, Service):
        value = value()
    if not isinstance(value, Service):
        raise SystemExit(f"{target!r} is not a services.sdk.Service (got {type(value).__name__})")
    return value


def _limits(specs: Sequence[str]) -> dict[str, int]:
    out = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not sep or not value.isdigit():
            raise SystemExit(f"--limit {spec!r}: expected TASK=N")
        out[name] = int(value)
    return out


def _configure_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=os.environ.get("STATEHOP_LOG_LEVEL", "INFO").upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )


def main(argv: Sequence[str] | None = None, *, loader: Callable[[str], Service] = load_service) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.run", description=__doc__.split("\n")[0])
    parser.add_argument("service", help="module:attribute naming a services.sdk.Service")
    parser.add_argument("--url", help="broker URL (default: $STATEHOP_AMQP_URL)")
    parser.add_argument("--prefix", help="queue prefix (default: $STATEHOP_QUEUE_PREFIX or statehop)")
    parser.add_argument("--queue-type", choices=["quorum", "classic"], help="must match the engine's")
    parser.add_argument("--concurrency", type=int, help="tasks run at once (default: the service's)")
    parser.add_argument("--limit", action="append", default=[], metavar="TASK=N", help="per-task limit")
    parser.add_argument("--shutdown-timeout", type=float, help="seconds to finish in-flight tasks")
    parser.add_argument("--no-auto-heartbeat", action="store_true", help="only heartbeat on ctx.heartbeat()")
    parser.add_argument("--cancel-at-deadline", action="store_true", help="cancel async handlers at deadline")
    args = parser.parse_args(argv)
    service = loader(args.service)
    options: dict[str, Any] = {
        "topology": settings_topology(args.prefix, args.queue_type),
        "concurrency": args.concurrency,
        "limits": _limits(args.limit),
        "auto_heartbeat": not args.no_auto_heartbeat,
        "cancel_at_deadline": args.cancel_at_deadline,
    }
    if args.shutdown_timeout is not None:
        options["shutdown_timeout"] = args.shutdown_timeout
    return run(service, args.url, **options)


if __name__ == "__main__":
    raise SystemExit(main())
