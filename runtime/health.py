"""Health endpoints for roles without an API: ``/healthz`` (the event loop answers) and
``/readyz`` (the role's own check), on ``STATEHOP_HEALTH_PORT``; what Kubernetes probes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from fastapi.responses import JSONResponse

log = logging.getLogger("statehop.health")

ReadyCheck = Callable[[], Awaitable[str | None]]  # None when ready, else the reason


def health_app(ready: ReadyCheck) -> FastAPI:
    app = FastAPI(title="statehop health", openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        try:
            reason = await asyncio.wait_for(ready(), timeout=5)
        except Exception as exc:  # any failure of the check means "not ready"
            reason = f"{type(exc).__name__}: {exc}"
        if reason is None:
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)

    return app


def start_health_server(
    port: int | None, host: str, ready: ReadyCheck, stop: asyncio.Event
) -> asyncio.Task[None] | None:
    """Serve the health app in this loop until ``stop``; None when no port is configured."""
    if port is None:
        return None
    from runtime.api.server import bind, serve

    sock = bind(host, port)
    log.info("health endpoints on http://%s:%d/healthz and /readyz", *sock.getsockname()[:2])
    return asyncio.create_task(serve(health_app(ready), sock, stop))
