"""Runs a :class:`services.sdk.Service` on a transport with the SDK's production features.

- task context: ``def handler(payload, ctx)`` gets a :class:`~services.context.TaskContext`
  (token, attempt, deadline, execution ARN, state); one-parameter handlers still work and
  can call :func:`services.context.current`;
- heartbeats: automatic ones every HeartbeatSeconds/2 while the handler runs, plus
  ``ctx.heartbeat()`` from async code or from the thread running a sync handler;
- a concurrency limit for the whole service (``concurrency``) and per task (``limits``);
  sync handlers run in a thread pool of the same size, never on the event loop;
- graceful stop: :meth:`Worker.stop` takes no new tasks, gives back the ones not started,
  finishes the ones in flight (bounded) and returns;
- a task whose deadline has already passed when it arrives is acked without running: the
  engine has failed it with ``States.Timeout`` and would ignore the answer.

Exceptions become the task's error, named after the class (or :class:`~services.errors.TaskError`'s
explicit name). The wire format is docs/task-contract.md; nothing here is needed to take part.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from runtime import taskwire
from runtime.telemetry.hooks import observe_task, task_failed
from runtime.transport.base import Consumer, Delivery, Message, Topology, Transport
from services import context as task_context
from services.context import TaskContext
from services.errors import describe
from services.heartbeat import Heartbeater, auto_interval
from services.sdk import Service, TaskHandler

log = logging.getLogger("statehop.sdk.worker")

#: error and cause of the failure reply when ``cancel_at_deadline`` stops a handler
DEADLINE_ERROR = "States.Timeout"


def wants_context(fn: Callable[..., Any]) -> bool:
    """True when ``fn`` takes a second positional parameter (the task context)."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    positional = 0
    for param in signature.parameters.values():
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            return True
        if param.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            positional += 1
    return positional >= 2


class Worker:
    """Consumes every ``tasks.<name>`` queue of a service and answers on ``reply_to``."""

    def __init__(
        self,
        service: Service,
        *,
        concurrency: int | None = None,
        limits: Mapping[str, int] | None = None,
        auto_heartbeat: bool = True,
        cancel_at_deadline: bool = False,
    ) -> None:
        self.service = service
        self.concurrency = max(1, concurrency or service.concurrency)
        self.limits = dict(limits or {})
        unknown = set(self.limits) - set(service.handlers)
        if unknown:
            raise ValueError(f"limits name tasks the service does not have: {sorted(unknown)}")
        self.auto_heartbeat = auto_heartbeat
        self.cancel_at_deadline = cancel_at_deadline
        #: tasks running now / replies sent / tasks dropped because their deadline had passed
        self.in_flight = 0
        self.answered = 0
        self.expired = 0
        self.heartbeats = 0
        self._slots = asyncio.Semaphore(self.concurrency)
        self._stopping = asyncio.Event()
        self._consumers: list[Consumer] = []
        self._executor = ThreadPoolExecutor(
            max_workers=self.concurrency, thread_name_prefix=f"statehop-{service.name}"
        )
        self._wants: dict[str, bool] = {}

    @property
    def queues(self) -> list[str]:
        return [Topology.task_queue(name) for name in self.service.handlers]

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def attach(self, transport: Transport) -> None:
        """Declare and consume the service's task queues on a started transport."""
        if not self.service.handlers:
            raise ValueError(f"service {self.service.name!r} has no tasks: register one with @service.task")
        for name, fn in self.service.handlers.items():
            queue = Topology.task_queue(name)
            await transport.ensure_queue(queue)
            self._wants[name] = wants_context(fn)
            prefetch = max(1, min(self.limits.get(name, self.concurrency), self.concurrency))
            consumer = await transport.consume(queue, self._handler(transport, name, fn), prefetch=prefetch)
            self._consumers.append(consumer)

    async def stop(self, timeout: float | None = 30.0) -> None:
        """Stop taking tasks; finish the ones in flight (waiting at most ``timeout`` seconds).

        Tasks delivered but not started are given back to the queue for another replica.
        """
        self._stopping.set()
        consumers, self._consumers = self._consumers, []
        await asyncio.gather(*(c.cancel(timeout) for c in consumers))
        self._executor.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ one task

    def _handler(
        self, transport: Transport, name: str, fn: TaskHandler
    ) -> Callable[[Delivery], Awaitable[None]]:
        async def handle(delivery: Delivery) -> None:
            msg = delivery.message
            ctx = TaskContext.from_headers(
                msg.headers,
                correlation_id=msg.correlation_id,
                message_id=msg.message_id,
                redelivered=delivery.redelivered,
            )
            if not ctx.token:
                await delivery.dead_letter("task message without x-sh-token or correlation_id")
                return
            if self.stopping:
                await delivery.nack(requeue=True)
                return
            if ctx.expired:
                self.expired += 1
                log.info(
                    "task %s of %s dropped: its deadline passed before it started", name, ctx.execution_arn
                )
                await delivery.ack()
                return
            if not await self._acquire():
                await delivery.nack(requeue=True)
                return
            self.in_flight += 1
            try:
                with observe_task(msg.headers, name, self.service.name):
                    reply = await self._run(transport, name, fn, msg, ctx)
            finally:
                self.in_flight -= 1
                self._slots.release()
            await transport.publish(msg.reply_to or Topology.REPLIES, reply)
            self.answered += 1
            await delivery.ack()

        return handle

    async def _acquire(self) -> bool:
        """Take a concurrency slot, or give up (False) when a stop begins while waiting."""
        if self.stopping:
            return False
        if not self._slots.locked():
            await self._slots.acquire()
            return True
        acquire = asyncio.ensure_future(self._slots.acquire())
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({acquire, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not acquire.done():
                acquire.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await acquire
        got = acquire.done() and not acquire.cancelled() and acquire.exception() is None
        if got and self.stopping:
            self._slots.release()
            return False
        return got

    async def _run(
        self, transport: Transport, name: str, fn: TaskHandler, msg: Message, ctx: TaskContext
    ) -> Message:
        reply_to = msg.reply_to or Topology.REPLIES

        async def beat() -> None:
            await transport.publish(
                reply_to, taskwire.reply_message(ctx.token, taskwire.HEARTBEAT, persistent=msg.persistent)
            )
            self.heartbeats += 1

        interval = auto_interval(ctx.heartbeat_seconds) if self.auto_heartbeat else None
        heartbeater = Heartbeater(beat, interval)
        ctx._beat = heartbeater.request
        heartbeater.start()
        try:
            payload = orjson.loads(msg.body) if msg.body else None
            result = await self._call_until_deadline(name, fn, payload, ctx)
            return taskwire.reply_message(
                ctx.token, taskwire.SUCCESS, output=result, persistent=msg.persistent
            )
        except _DeadlinePassed:
            log.info("task %s of %s cancelled at its deadline", name, ctx.execution_arn)
            return taskwire.reply_message(
                ctx.token,
                taskwire.FAILURE,
                error=DEADLINE_ERROR,
                cause=f"Task '{name}' did not finish before its deadline (TimeoutSeconds)",
                persistent=msg.persistent,
            )
        except Exception as exc:
            error, cause = describe(exc)
            task_failed(error, cause, exc)
            log.info("task %s of %s failed: %s: %s", name, ctx.execution_arn, error, cause)
            return taskwire.reply_message(
                ctx.token, taskwire.FAILURE, error=error, cause=cause, persistent=msg.persistent
            )
        finally:
            ctx._beat = None
            await heartbeater.stop()

    async def _call_until_deadline(self, name: str, fn: TaskHandler, payload: Any, ctx: TaskContext) -> Any:
        remaining = ctx.remaining()
        if not self.cancel_at_deadline or remaining is None:
            return await self._call(name, fn, payload, ctx)
        loop = asyncio.get_running_loop()
        timeout = asyncio.timeout_at(loop.time() + max(0.0, remaining))
        try:
            async with timeout:
                return await self._call(name, fn, payload, ctx)
        except TimeoutError:
            if timeout.expired():
                raise _DeadlinePassed from None
            raise

    async def _call(self, name: str, fn: TaskHandler, payload: Any, ctx: TaskContext) -> Any:
        args: tuple[Any, ...] = (payload, ctx) if self._wants.get(name) else (payload,)
        token = task_context.activate(ctx)
        try:
            if inspect.iscoroutinefunction(fn):
                return await fn(*args)
            run = contextvars.copy_context().run
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(self._executor, functools.partial(run, fn, *args))
            if inspect.isawaitable(result):
                result = await result
            return result
        finally:
            task_context.deactivate(token)


class _DeadlinePassed(Exception):
    pass


async def attach(service: Service, transport: Transport, **options: Any) -> Worker:
    """Start a :class:`Worker` for ``service`` on ``transport``; ``options`` go to Worker."""
    worker = Worker(service, **options)
    await worker.attach(transport)
    return worker
