"""A service for the process tests: ``python -m services.run tests.services.slow_service:service``.

Its task prints ``started <token>`` on stdout, works ``seconds`` (default 2) and answers
``{"done": n}``, so a test can SIGTERM the process while a task is in flight.
"""

from __future__ import annotations

import asyncio
from typing import Any

from services.context import TaskContext
from services.sdk import Service

service = Service("slow-proc", concurrency=4)


@service.task("slow-proc")
async def slow(payload: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    print(f"started {ctx.token}", flush=True)
    await asyncio.sleep(float(payload.get("seconds", 2)))
    return {"done": payload["n"]}
