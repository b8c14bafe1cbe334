"""The functions stored jobs run, and how they find the running scheduler's transport.

A job store persists a job as "module:function + plain arguments", so these are module-level
coroutines taking bytes, dicts and strings. What they need at run time (the transport to
publish on, the execution starter, the job store, the random source, the scheduled time) is
not pickled: the executor puts it in context variables when it starts the job's task, so two
schedulers in one process (tests, ``statehop serve``) never share a global.

A schedule firing (``fire_schedule``, at the scheduled time) starts its execution at once, or,
with a flexible time window, hands the start over to a one-time *firing* job
(``schedule-firing:<name>:<time>:<retry>``, :func:`fire_schedule_attempt`) due a random delay
later. A start that fails becomes another firing job due after a back-off, within the
schedule's RetryPolicy; when that is exhausted the firing is dead-lettered
(:mod:`runtime.scheduler.deadletters`). The schedule's own job moves on to its next time
either way, so a failing firing never holds up the next one.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import pickle
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.job import Job
from apscheduler.triggers.date import DateTrigger
from apscheduler.util import datetime_to_utc_timestamp

from runtime import telemetry
from runtime.scheduler.deadletters import DeadLetter, dead_letter_queue, record_dead_letter
from runtime.scheduler.errors import SchedulerError
from runtime.scheduler.jobstore import (
    FIRE_SCHEDULE_ATTEMPT,
    FIRING_PREFIX,
    PICKLE_PROTOCOL,
    JobRow,
    TimerJobStore,
)
from runtime.scheduler.policy import (
    DEFAULT_MAX_EVENT_AGE,
    DEFAULT_RETRY_ATTEMPTS,
    RetryPolicy,
    flexible_delay,
    next_retry,
)
from runtime.store.errors import ExecutionAlreadyExists
from runtime.transport.base import Message, Transport, UnroutableError

T = TypeVar("T")

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
    #: where a schedule firing stores its delayed attempts and dead letters
    jobstore: TimerJobStore | None = None
    #: the random source of flexible windows and retry jitter (seeded in tests)
    rng: random.Random = field(default_factory=random.Random)
    #: run blocking database work in a thread (not for in-memory SQLite: one connection)
    offload: bool = True
    clock: Callable[[], float] = time.time


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
    """A schedule's scheduled time came: start its execution, named after the schedule and
    the scheduled time, so a firing repeated after a crash or by two schedulers starts it only
    once. With a flexible time window the start is handed to a firing job due a random delay
    in the window later; a failed start is retried within the schedule's RetryPolicy
    (:func:`fire_schedule_attempt`), then dead-lettered.

    Raises only when even that could not be stored (the database is down): the firing is then
    retried after the lease, late rather than never.
    """
    bindings = _schedule_bindings()
    when = scheduled_time()
    window = definition.get("flexible_window")
    if window:
        delay = flexible_delay(int(window), bindings.rng)
        row = firing_row(definition, when, 0, when.timestamp() + delay, None)
        await _db(bindings, _store(bindings).insert_new, [row])
        log.info(
            "schedule %s: the firing of %s starts %.0f s into its %s-minute window",
            definition["name"],
            when.isoformat(),
            delay,
            window,
        )
        return
    await _attempt(bindings, definition, when, 0, bindings.clock())


async def fire_schedule_attempt(
    definition: dict[str, Any], scheduled: float, retry: int = 0, first_attempt: float | None = None
) -> None:
    """One delayed attempt of a schedule firing (flexible window, or retry number ``retry``).

    ``definition`` is the schedule as it was when it fired; ``scheduled`` the scheduled time
    (epoch seconds), which names the execution; ``first_attempt`` when the first attempt was
    made (None: this is the first), from which ``MaximumEventAgeInSeconds`` counts.
    """
    bindings = _schedule_bindings()
    when = datetime.fromtimestamp(scheduled, UTC)
    first = bindings.clock() if first_attempt is None else first_attempt
    await _attempt(bindings, definition, when, retry, first)


def firing_row(
    definition: dict[str, Any], scheduled: datetime, retry: int, due: float, first_attempt: float | None
) -> JobRow:
    """The one-time job "attempt to start this firing at ``due``", in APScheduler's format."""
    stamp = scheduled.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    job_id = f"{FIRING_PREFIX}{definition['name']}:{stamp}:{retry}"
    run_date = datetime.fromtimestamp(due, UTC)
    state = {
        "version": 1,
        "id": job_id,
        "func": FIRE_SCHEDULE_ATTEMPT,
        "trigger": DateTrigger(run_date=run_date, timezone=UTC),
        "executor": "default",
        "args": (),
        "kwargs": {
            "definition": dict(definition),
            "scheduled": scheduled.timestamp(),
            "retry": retry,
            "first_attempt": first_attempt,
        },
        "name": f"schedule {definition['name']} at {stamp}, retry {retry}",
        "misfire_grace_time": None,
        "coalesce": True,
        "max_instances": 1,
        "next_run_time": run_date,
    }
    return JobRow(job_id, datetime_to_utc_timestamp(run_date), pickle.dumps(state, PICKLE_PROTOCOL))


def retry_policy_of(definition: dict[str, Any]) -> RetryPolicy:
    return RetryPolicy(
        int(definition.get("retry_attempts", DEFAULT_RETRY_ATTEMPTS)),
        int(definition.get("retry_max_age", DEFAULT_MAX_EVENT_AGE)),
    )


def _schedule_bindings() -> Bindings:
    bindings = current_bindings()
    if bindings.starter is None:
        raise SchedulerError("this scheduler has no execution starter; schedules cannot fire")
    return bindings


def _store(bindings: Bindings) -> TimerJobStore:
    if bindings.jobstore is None:
        raise SchedulerError("this scheduler has no job store bound; schedule firings cannot be stored")
    return bindings.jobstore


async def _db(bindings: Bindings, fn: Callable[..., T], *args: Any) -> T:
    if bindings.offload:
        return await asyncio.to_thread(fn, *args)
    return fn(*args)


async def _attempt(
    bindings: Bindings, definition: dict[str, Any], when: datetime, retry: int, first_attempt: float
) -> None:
    """Try to start the execution of the firing at ``when``; on failure, store the next
    attempt or the dead letter."""
    from runtime.scheduler.schedules import execution_name

    name = str(definition["name"])
    execution = execution_name(name, when)
    try:
        data = json.loads(definition.get("input") or "{}")
    except json.JSONDecodeError as exc:  # cannot succeed on another attempt
        await _dead_letter(
            bindings, definition, when, retry, first_attempt, "InvalidExecutionInput", f"{exc}", None
        )
        return
    assert bindings.starter is not None
    try:
        await bindings.starter.start_execution(str(definition["state_machine_arn"]), data, execution)
    except ExecutionAlreadyExists:
        # that name exists with another input: an earlier attempt of this firing started it
        log.info("schedule %s: execution %s exists already; the firing is done", name, execution)
        return
    except Exception as exc:
        await _failed(bindings, definition, when, retry, first_attempt, exc)
        return
    if retry:
        log.info("schedule %s started execution %s (retry %d)", name, execution, retry)
    else:
        log.info("schedule %s started execution %s", name, execution)


async def _failed(
    bindings: Bindings,
    definition: dict[str, Any],
    when: datetime,
    retry: int,
    first_attempt: float,
    exc: Exception,
) -> None:
    name = str(definition["name"])
    code = str(getattr(exc, "aws_code", "") or type(exc).__name__)
    policy = retry_policy_of(definition)
    due, condition = next_retry(policy, retry, first_attempt, bindings.clock(), bindings.rng)
    if due is None:
        await _dead_letter(bindings, definition, when, retry, first_attempt, code, str(exc), condition)
        return
    row = firing_row(definition, when, retry + 1, due, first_attempt)
    await _db(bindings, _store(bindings).insert_new, [row])
    log.warning(
        "schedule %s: starting the firing of %s failed (%s: %s); retry %d of %d in %.1f s",
        name,
        when.isoformat(),
        code,
        exc,
        retry + 1,
        policy.maximum_retry_attempts,
        due - bindings.clock(),
    )


async def _dead_letter(
    bindings: Bindings,
    definition: dict[str, Any],
    when: datetime,
    retry: int,
    first_attempt: float,
    code: str,
    message: str,
    condition: str | None,
) -> None:
    """Record the firing as failed for good, and publish it to the schedule's DeadLetterConfig
    queue if it has one. Raises if either fails, so the firing's job comes back after the
    lease and the record is not lost (both are idempotent by schedule and time)."""
    from runtime.scheduler.schedules import execution_name

    name = str(definition["name"])
    letter = DeadLetter(
        schedule=name,
        scheduled_time=when.astimezone(UTC),
        first_attempt=datetime.fromtimestamp(first_attempt, UTC),
        failed_time=datetime.fromtimestamp(bindings.clock(), UTC),
        retry_attempts=retry,
        error_code=code,
        error_message=message[:4096],
        exhausted_condition=condition,
        target_arn=str(definition["state_machine_arn"]),
        input=str(definition.get("input") or "{}"),
        execution_name=execution_name(name, when),
        dead_letter_arn=definition.get("dead_letter_arn") or None,
    )
    await _db(bindings, record_dead_letter, _store(bindings).engine, letter)
    log.error(
        "schedule %s: gave up on the firing of %s after %d retries (%s): %s: %s",
        name,
        when.isoformat(),
        retry,
        condition or "not retried",
        code,
        message,
    )
    if letter.dead_letter_arn:
        queue = dead_letter_queue(letter.dead_letter_arn)
        message_out = letter.message()
        try:
            await bindings.transport.publish(queue, message_out)
        except UnroutableError:
            await bindings.transport.ensure_queue(queue)
            await bindings.transport.publish(queue, message_out)


__all__ = [
    "BindingExecutor",
    "Bindings",
    "ExecutionStarter",
    "current_bindings",
    "fire_schedule",
    "fire_schedule_attempt",
    "fire_timer",
    "firing_row",
    "publish_due",
    "scheduled_time",
]
