"""Timers: "publish this hop at that time". Wait states, retry back-off, task timeouts and
heartbeats, and the machine's TimeoutSeconds are all timers, never sleeps in a worker.

The port has two implementations: :class:`MemoryTimers` here (embedded runs and tests, with
optional time-skipping) and the APScheduler-backed scheduler role for servers. A timer is keyed
by the message id of the hop it will publish, so scheduling it twice is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
from typing import Protocol

from runtime import telemetry
from runtime.engine.clock import Clock, VirtualClock
from runtime.transport.base import Message, Transport


class Timers(Protocol):
    async def schedule(self, key: str, at: float, destination: str, message: Message) -> None: ...

    async def cancel(self, key: str) -> None: ...


class MemoryTimers:
    """Timers in this process. With a :class:`VirtualClock`, a due time is reached as soon as
    the transport is idle (nothing queued, nothing in flight): a week-long Wait takes
    milliseconds and timers still fire in due-time order."""

    def __init__(self, transport: Transport, clock: Clock) -> None:
        self.transport = transport
        self.clock = clock
        self._heap: list[tuple[float, int, str]] = []
        self._jobs: dict[str, tuple[float, str, Message]] = {}
        self._counter = itertools.count()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        return len(self._jobs)

    async def schedule(self, key: str, at: float, destination: str, message: Message) -> None:
        if key in self._jobs:
            return
        self._jobs[key] = (at, destination, message)
        heapq.heappush(self._heap, (at, next(self._counter), key))
        self._wake.set()

    async def cancel(self, key: str) -> None:
        self._jobs.pop(key, None)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="statehop-timers")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            while self._heap and self._heap[0][2] not in self._jobs:
                heapq.heappop(self._heap)
            if not self._heap:
                self._wake.clear()
                await self._wake.wait()
                continue
            at, _, key = self._heap[0]
            if isinstance(self.clock, VirtualClock):
                await self.transport.drain()
                if self._heap and self._heap[0][2] == key:
                    self.clock.advance_to(at)
            else:
                delay = at - self.clock.now()
                if delay > 0:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=min(delay, 60.0))
                    continue
            if not self._heap or self._heap[0][2] != key:
                continue  # an earlier timer arrived meanwhile
            heapq.heappop(self._heap)
            job = self._jobs.pop(key, None)
            if job is not None:
                with telemetry.observe_timer(job[2], job[1], due=at):
                    await self.transport.publish(job[1], job[2])


# ---------------------------------------------------------------- timer requests over the broker

TIMERS_QUEUE = "timers"
H_DUE = "x-sh-due"  # epoch milliseconds
H_TIMER_KEY = "x-sh-timer-key"
H_TIMER_DEST = "x-sh-timer-dest"
H_TIMER_CANCEL = "x-sh-timer-cancel"
H_INNER_HEADERS = "x-sh-timer-headers"
H_INNER_ID = "x-sh-timer-message-id"
H_INNER_PERSISTENT = "x-sh-timer-persistent"


def timer_request(key: str, at: float, destination: str, message: Message) -> Message:
    """Wrap "publish ``message`` to ``destination`` at ``at``" as a message for the scheduler."""
    return Message(
        body=message.body,
        headers={
            H_DUE: math.ceil(at * 1000),  # never before the due time
            H_TIMER_KEY: key,
            H_TIMER_DEST: destination,
            H_INNER_HEADERS: dict(message.headers),
            H_INNER_ID: message.message_id or "",
            H_INNER_PERSISTENT: message.persistent,
        },
        message_id=f"timer-{key}",
        persistent=True,
    )


def timer_cancel(key: str) -> Message:
    return Message(
        body=b"", headers={H_TIMER_KEY: key, H_TIMER_CANCEL: True}, message_id=f"timer-cancel-{key}"
    )


def unwrap_timer(message: Message) -> tuple[str, float, str, Message]:
    """(key, due epoch seconds, destination, the message to publish when due)."""
    headers = message.headers
    inner = Message(
        body=message.body,
        headers=dict(headers.get(H_INNER_HEADERS) or {}),
        message_id=str(headers.get(H_INNER_ID) or "") or None,
        persistent=bool(headers.get(H_INNER_PERSISTENT, True)),
    )
    return str(headers[H_TIMER_KEY]), int(headers[H_DUE]) / 1000, str(headers[H_TIMER_DEST]), inner


class QueueTimers:
    """Timers of a worker in server mode: each becomes a durable request on the ``timers``
    queue, which the scheduler role stores in its persistent job store and fires when due.
    Nothing waits in the worker's memory."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._declared = False

    async def _queue(self) -> str:
        if not self._declared:  # the scheduler may start later: requests wait in the queue
            await self.transport.ensure_queue(TIMERS_QUEUE)
            self._declared = True
        return TIMERS_QUEUE

    async def schedule(self, key: str, at: float, destination: str, message: Message) -> None:
        await self.transport.publish(await self._queue(), timer_request(key, at, destination, message))

    async def cancel(self, key: str) -> None:
        await self.transport.publish(await self._queue(), timer_cancel(key))
