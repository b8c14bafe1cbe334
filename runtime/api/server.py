"""Serve an API app with uvicorn inside an already running event loop.

The API must share the loop of the engine and store it wraps, so it is not started with
``uvicorn.run`` (which owns a loop) but served as one more task of a role.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the role that runs it owns SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket (port 0: any free port; read it back with ``getsockname()``)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def serve(
    app: FastAPI,
    sock: socket.socket,
    stop: asyncio.Event,
    *,
    started: asyncio.Event | None = None,
    log_level: str = "warning",
) -> None:
    """Serve ``app`` on ``sock`` until ``stop`` is set, then finish open requests and return."""
    config = uvicorn.Config(app, log_level=log_level, lifespan="off", timeout_graceful_shutdown=10)
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                await task  # raises why it could not start
                return
            await asyncio.sleep(0.01)
        if started is not None:
            started.set()
        await stop.wait()
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
