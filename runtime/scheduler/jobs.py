"""The functions stored jobs run, and how they find the running scheduler's transport.

A job store persists a job as "module:function + plain arguments", so these are module-level
coroutines taking bytes, dicts and strings. What they need at run time (the transport to
publish on, the execution starter, the scheduled time) is not pickled: the executor puts it in
context variables when it starts the job's task, so two schedulers in one process (tests,
``statehop serve``) never share a global.
"""

from __future__ import annotations

import contextvars
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.job import Job

from runtime import telemetry
from runtime.scheduler.errors import SchedulerError
from runtime.store.errors import StoreError, TransientStoreError
from runtime.transport.base import Message, Transport, UnroutableError

log = logging.getLogger("statehop.scheduler")


class ExecutionStarter(Protocol):
    """What a schedule needs from the engine: :meth:`runtime.engine.engine.Engine.start_execution`."""

    async def start_execution(
        self, state_machine_arn: str, input: Any = None, name: str | None = None
    ) -> Any: ...


@dataclass(slots=True)
class Bindings:
    """The live objects a firing job uses; one per running scheduler."""

    transport: Transport
    starter: ExecutionStarter | None = None


_bindings: contextvars.ContextVar[Bindings] = contextvars.ContextVar("statehop_scheduler_bindings")
_scheduled_at: contextvars.ContextVar[datetime] = contextvars.ContextVar("statehop_scheduled_at")


class BindingExecutor(AsyncIOExecutor):  # type: ignore[misc]
    """AsyncIOExecutor that hands each job its scheduler's :class:`Bindings` and the time it
    was scheduled for (a task copies the context it was created in)."""

    def __init__(self, bindings: Bindings) -> None:
        super().__init__()
        self.bindings = bindings

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        bound = _bindings.set(self.bindings)
        scheduled = _scheduled_at.set(run_times[-1])
        try:
            super()._do_submit_job(job, run_times)
        finally:
            _scheduled_at.reset(scheduled)
            _bindings.reset(bound)


def current_bindings() -> Bindings:
    try:
        return _bindings.get()
    except LookupError:
        raise SchedulerError("a scheduler job ran outside a StateHop scheduler (no bindings)") from None


def scheduled_time() -> datetime:
    """The run time the executing job was scheduled for."""
    try:
        return _scheduled_at.get()
    except LookupError:
        raise SchedulerError("no scheduled time: not inside a scheduler job") from None


async def fire_timer(
    destination: str, body: bytes, headers: dict[str, Any], message_id: str, persistent: bool = True
) -> None:
    """Publish a due timer's message (its hop id makes a second publish harmless).

    A destination no queue is bound to yet (a Task service not started) is declared first, so
    the message waits there instead of being dropped.
    """
    message = Message(body=body, headers=dict(headers), message_id=message_id or None, persistent=persistent)
    due = _scheduled_at.get(None)
    await publish_due(
        current_bindings().transport, destination, message, None if due is None else due.timestamp()
    )


async def publish_due(
    transport: Transport, destination: str, message: Message, due: float | None = None
) -> None:
    """Publish a due timer's message (span ``timer <state>``, lag metric), declaring a
    destination nobody declared yet."""
    with telemetry.observe_timer(message, destination, due):
        try:
            await transport.publish(destination, message)
        except UnroutableError:
            log.warning("timer destination %r had no queue; declaring it", destination)
            await transport.ensure_queue(destination)
            await transport.publish(destination, message)


async def fire_schedule(**definition: Any) -> None:
    """Start the execution of a schedule firing, named after the schedule and the scheduled
    time, so a firing repeated after a crash or by two schedulers starts it only once.

    Errors that another attempt cannot fix (machine deleted, bad input) are logged and the
    firing counts as done; others propagate, and the firing is retried after the lease.
    """
    from runtime.scheduler.schedules import execution_name

    starter = current_bindings().starter
    if starter is None:
        raise SchedulerError("this scheduler has no execution starter; schedules cannot fire")
    name = str(definition["name"])
    when = scheduled_time()
    execution = execution_name(name, when)
    try:
        data = json.loads(definition.get("input") or "{}")
    except json.JSONDecodeError as exc:
        log.error("schedule %s: input is not JSON (%s); skipping the firing at %s", name, exc, when)
        return
    try:
        await starter.start_execution(str(definition["state_machine_arn"]), data, execution)
    except TransientStoreError:
        raise
    except StoreError as exc:
        log.error(
            "schedule %s: cannot start %s on %s: %s: %s",
            name,
            execution,
            definition["state_machine_arn"],
            type(exc).__name__,
            exc,
        )
        return
    log.info("schedule %s started execution %s", name, execution)


__all__ = [
    "BindingExecutor",
    "Bindings",
    "ExecutionStarter",
    "current_bindings",
    "fire_schedule",
    "fire_timer",
    "publish_due",
    "scheduled_time",
]
