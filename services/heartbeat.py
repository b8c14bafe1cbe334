"""Heartbeats while a handler runs: automatic ones every HeartbeatSeconds/2, and on request.

A Task state with ``HeartbeatSeconds`` fails with ``States.HeartbeatTimeout`` when the engine
hears nothing for that long. :class:`Heartbeater` publishes ``heartbeat`` replies
(docs/task-contract.md) from a background task, so a long handler stays alive without doing
anything, and ``ctx.heartbeat()`` can ask for one more from any thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("statehop.sdk.heartbeat")

#: never beat more often than this, whatever HeartbeatSeconds says
MIN_INTERVAL = 0.05


def auto_interval(heartbeat_seconds: float | None) -> float | None:
    """The automatic heartbeat period for a task: half its HeartbeatSeconds."""
    if not heartbeat_seconds or heartbeat_seconds <= 0:
        return None
    return max(MIN_INTERVAL, heartbeat_seconds / 2.0)


class Heartbeater:
    """Sends heartbeats every ``interval`` seconds (None: only on request) until stopped."""

    def __init__(self, send: Callable[[], Awaitable[None]], interval: float | None) -> None:
        self._send = send
        self.interval = interval
        self.sent = 0
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def request(self) -> None:
        """Ask for a heartbeat now; safe from the event loop or from a handler's thread."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._wake.set()
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    def start(self) -> None:
        if self._task is None:
            self._task = self._loop.create_task(self._run(), name="statehop-heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def __aenter__(self) -> Heartbeater:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _run(self) -> None:
        while True:
            if self.interval is None:
                await self._wake.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            try:
                await self._send()
                self.sent += 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a lost beat is retried at the next period
                log.warning("heartbeat not sent: %s: %s", type(exc).__name__, exc)
