"""Schedules (EventBridge Scheduler style): start an execution with a fixed input on a
``cron(...)``, ``rate(...)`` or ``at(...)`` expression in a time zone.

A schedule is stored as an APScheduler job in the scheduler's job store (id
``schedule:<name>``, the definition in the job's kwargs), so no table of its own is needed and
the running scheduler picks a change up on its next poll. These functions write the job table
directly and need no running scheduler: the API and the CLI call them with a Store (or a
database URL).

Each firing starts an execution named ``<schedule>-<scheduled time UTC>``: firing the same
time twice (a crash, a leader change) starts it once.

Besides the expression, a schedule carries EventBridge Scheduler's StartDate and EndDate (no
firing outside them), FlexibleTimeWindow (a random delay in the window), ActionAfterCompletion
(DELETE: remove the schedule after its last firing), and its target's RetryPolicy and
DeadLetterConfig (see :mod:`runtime.scheduler.jobs` and :mod:`runtime.scheduler.deadletters`).
All of it lives in the job's kwargs, so it needs no table or migration of its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import pickle
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar

import sqlalchemy as sa
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.util import datetime_to_utc_timestamp
from sqlalchemy.engine import URL

from runtime.scheduler.deadletters import (
    DEAD_LETTER_ARN,
    DEAD_LETTER_ARN_FORM,
    RESERVED_QUEUES,
    DeadLetter,
    delete_dead_letters,
    read_dead_letters,
)
from runtime.scheduler.errors import ScheduleAlreadyExists, ScheduleNotFound, ScheduleValidationError
from runtime.scheduler.expressions import (
    bounded,
    expression_kind,
    next_fire_times,
    parse_schedule_expression,
    parse_timezone,
)
from runtime.scheduler.jobstore import (
    FIRE_SCHEDULE,
    FIRING_PREFIX,
    PICKLE_PROTOCOL,
    SCHEDULE_PREFIX,
    TABLE,
    TimerJobStore,
    ensure_table,
    is_memory,
    job_engine,
)
from runtime.scheduler.policy import (
    DEFAULT_MAX_EVENT_AGE,
    DEFAULT_RETRY_ATTEMPTS,
    MAX_EVENT_AGE_RANGE,
    RETRY_ATTEMPTS_RANGE,
    WINDOW_RANGE,
    RetryPolicy,
)
from runtime.store.arns import parse_state_machine_arn
from runtime.store.errors import InvalidArn

T = TypeVar("T")
ScheduleState = Literal["ENABLED", "DISABLED"]
STATES: tuple[ScheduleState, ...] = ("ENABLED", "DISABLED")
ActionAfterCompletion = Literal["NONE", "DELETE"]
ACTIONS: tuple[ActionAfterCompletion, ...] = ("NONE", "DELETE")
#: what StartDate and EndDate accept
DateInput = datetime | str | int | float
DATE_FORM = (
    "an ISO 8601 date and time such as 2026-12-31T23:59:59Z (UTC when it has no offset), or epoch seconds"
)
_NAME = re.compile(r"^[0-9A-Za-z_.\-]{1,64}$")
_EPOCH = re.compile(r"^-?\d+(\.\d+)?$")
MAX_INPUT_BYTES = 256 * 1024
MAX_DESCRIPTION = 512
_UNSET: Any = object()
#: the clock of the management functions (tests replace it)
_clock: Callable[[], float] = time.time


class HasUrl(Protocol):
    """A :class:`runtime.store.Store` (anything with the store's ``url``)."""

    @property
    def url(self) -> URL: ...


Target = HasUrl | str | URL


@dataclass(frozen=True, slots=True)
class Schedule:
    """A schedule as stored; ``next_run_time`` is None when disabled or a one-time schedule ran."""

    name: str
    expression: str
    timezone: str
    state_machine_arn: str
    input: str
    state: ScheduleState
    description: str
    created: datetime
    updated: datetime
    next_run_time: datetime | None
    start_date: datetime | None = None
    end_date: datetime | None = None
    #: FlexibleTimeWindow: None is Mode OFF, else MaximumWindowInMinutes of Mode FLEXIBLE
    flexible_window: int | None = None
    action_after_completion: ActionAfterCompletion = "NONE"
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    #: DeadLetterConfig.Arn (an SQS queue ARN naming the broker queue dead letters go to)
    dead_letter_arn: str | None = None

    def to_json(self) -> dict[str, Any]:
        """EventBridge Scheduler's GetSchedule shape (Target.Arn is the state machine)."""
        target: dict[str, Any] = {
            "Arn": self.state_machine_arn,
            "Input": self.input,
            "RetryPolicy": self.retry_policy.to_json(),
        }
        if self.dead_letter_arn is not None:
            target["DeadLetterConfig"] = {"Arn": self.dead_letter_arn}
        window: dict[str, Any] = {"Mode": "OFF"}
        if self.flexible_window is not None:
            window = {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": self.flexible_window}
        data: dict[str, Any] = {
            "Name": self.name,
            "ScheduleExpression": self.expression,
            "ScheduleExpressionTimezone": self.timezone,
            "State": self.state,
            "Description": self.description,
            "Target": target,
            "FlexibleTimeWindow": window,
            "ActionAfterCompletion": self.action_after_completion,
            "CreationDate": self.created.isoformat(),
            "LastModificationDate": self.updated.isoformat(),
        }
        if self.start_date is not None:
            data["StartDate"] = self.start_date.isoformat()
        if self.end_date is not None:
            data["EndDate"] = self.end_date.isoformat()
        if self.next_run_time is not None:
            data["NextInvocation"] = self.next_run_time.isoformat()
        return data


# ------------------------------------------------------------------------------- API


async def create_schedule(
    target: Target,
    name: str,
    expression: str,
    state_machine_arn: str,
    *,
    input: str = "{}",
    timezone: str = "UTC",
    state: ScheduleState = "ENABLED",
    description: str = "",
    start_date: DateInput | None = None,
    end_date: DateInput | None = None,
    flexible_window: int | None = None,
    action_after_completion: ActionAfterCompletion = "NONE",
    maximum_retry_attempts: int | None = None,
    maximum_event_age: int | None = None,
    dead_letter_arn: str | None = None,
) -> Schedule:
    """Create a schedule; raises ScheduleAlreadyExists, ScheduleValidationError (and its
    ScheduleExpressionError, which names the faulty field).

    ``start_date``/``end_date``: no firing before/after (ISO 8601 text, epoch seconds or an
    aware datetime; ignored by ``at()``, as in AWS). ``flexible_window``: minutes (1-1440) of
    Mode FLEXIBLE, None for OFF. ``action_after_completion``: DELETE removes the schedule after
    its last firing. ``maximum_retry_attempts`` (0-185, default 185) and ``maximum_event_age``
    (60-86400 s, default 86400): the target's RetryPolicy. ``dead_letter_arn``: the
    DeadLetterConfig queue (``arn:aws:sqs:<region>:<account>:<queue>``).
    """
    now = _clock()
    start, end = parse_date(start_date, "StartDate"), parse_date(end_date, "EndDate")
    _end_not_past(end, now)
    definition = _definition(
        name=name,
        expression=expression,
        timezone=timezone,
        state_machine_arn=state_machine_arn,
        input=input,
        state=state,
        description=description,
        created=now,
        updated=now,
        start_date=start,
        end_date=end,
        flexible_window=flexible_window,
        action_after_completion=action_after_completion,
        retry_attempts=DEFAULT_RETRY_ATTEMPTS if maximum_retry_attempts is None else maximum_retry_attempts,
        retry_max_age=DEFAULT_MAX_EVENT_AGE if maximum_event_age is None else maximum_event_age,
        dead_letter_arn=dead_letter_arn,
    )
    trigger = _trigger(definition, now)
    blob, next_ts = _state(definition, trigger, _first_run(definition, trigger, now, strict=True))
    store = _jobstore(target)

    def insert() -> None:
        table = store.jobs_t
        with store.engine.begin() as conn:
            try:
                conn.execute(table.insert().values(id=_job_id(name), next_run_time=next_ts, job_state=blob))
            except sa.exc.IntegrityError:
                raise ScheduleAlreadyExists(f"schedule {name!r} already exists") from None

    await _run(target, insert)
    return _schedule(pickle.loads(blob))


async def get_schedule(target: Target, name: str) -> Schedule:
    store = _jobstore(target)
    blob = await _run(target, lambda: _read(store, name))
    return _schedule(pickle.loads(blob))


async def list_schedules(
    target: Target,
    *,
    name_prefix: str | None = None,
    state: ScheduleState | None = None,
    limit: int = 100,
    next_token: str | None = None,
) -> tuple[list[Schedule], str | None]:
    """Schedules by name; ``next_token`` (the last name of a page) continues a listing."""
    if state is not None and state not in STATES:
        raise ScheduleValidationError(f"state must be ENABLED or DISABLED, not {state!r}")
    if not 1 <= limit <= 1000:
        raise ScheduleValidationError("limit must be 1 to 1000")
    store = _jobstore(target)
    prefix = SCHEDULE_PREFIX + (name_prefix or "")

    def read() -> list[bytes]:
        table = store.jobs_t
        stmt = sa.select(table.c.id, table.c.job_state).where(table.c.id.startswith(prefix, autoescape=True))
        if next_token:
            stmt = stmt.where(table.c.id > _job_id(next_token))
        with store.engine.connect() as conn:
            # SQLite's LIKE ignores case: check the prefix exactly here
            return [
                row.job_state for row in conn.execute(stmt.order_by(table.c.id)) if row.id.startswith(prefix)
            ]

    found: list[Schedule] = []
    for blob in await _run(target, read):
        schedule = _schedule(pickle.loads(blob))
        if state is None or schedule.state == state:
            found.append(schedule)
    page = found[:limit]
    token = page[-1].name if len(found) > limit else None
    return page, token


async def update_schedule(
    target: Target,
    name: str,
    *,
    expression: str | None = None,
    state_machine_arn: str | None = None,
    input: str | None = None,
    timezone: str | None = None,
    state: ScheduleState | None = None,
    description: str | None = None,
    start_date: DateInput | None = _UNSET,
    end_date: DateInput | None = _UNSET,
    flexible_window: int | None = _UNSET,
    action_after_completion: ActionAfterCompletion | None = None,
    maximum_retry_attempts: int | None = None,
    maximum_event_age: int | None = None,
    dead_letter_arn: str | None = _UNSET,
) -> Schedule:
    """Change the given fields (None: unchanged). For ``start_date``, ``end_date``,
    ``flexible_window`` and ``dead_letter_arn`` None removes the value (no bound, Mode OFF, no
    dead-letter queue); leave them out to keep them. A new expression, time zone, StartDate or
    EndDate restarts the timing (a rate counts from now, or from its StartDate); other changes
    keep the next run time. Enabling a disabled schedule resumes from now: the firings it
    missed while disabled do not run."""
    changes: dict[str, Any] = {
        k: v
        for k, v in {
            "expression": expression,
            "state_machine_arn": state_machine_arn,
            "input": input,
            "timezone": timezone,
            "state": state,
            "description": description,
            "action_after_completion": action_after_completion,
            "retry_attempts": maximum_retry_attempts,
            "retry_max_age": maximum_event_age,
        }.items()
        if v is not None
    }
    if start_date is not _UNSET:
        changes["start_date"] = parse_date(start_date, "StartDate")
    if end_date is not _UNSET:
        changes["end_date"] = parse_date(end_date, "EndDate")
        _end_not_past(changes["end_date"], _clock())
    if flexible_window is not _UNSET:
        changes["flexible_window"] = flexible_window
    if dead_letter_arn is not _UNSET:
        changes["dead_letter_arn"] = dead_letter_arn

    def change(
        definition: dict[str, Any], trigger: BaseTrigger, current: datetime | None, now: float
    ) -> tuple[dict[str, Any], BaseTrigger, datetime | None]:
        new = _definition(**{**definition, **changes, "updated": now})
        retime = any(
            new.get(key) != definition.get(key)
            for key in ("expression", "timezone", "start_date", "end_date")
        )
        if retime:
            trigger = _trigger(new, now)
        if new["state"] == "DISABLED":
            return new, trigger, None
        if retime:
            return new, trigger, _first_run(new, trigger, now, strict=True)
        if definition["state"] == "DISABLED":
            return new, trigger, _first_run(new, trigger, now, strict=False)
        return new, trigger, current

    return await _modify(target, name, change)


async def enable_schedule(target: Target, name: str) -> Schedule:
    """Resume firing from now on (a one-time schedule whose time has passed stays idle)."""
    return await update_schedule(target, name, state="ENABLED")


async def disable_schedule(target: Target, name: str) -> Schedule:
    """Stop firing; the definition is kept."""
    return await update_schedule(target, name, state="DISABLED")


async def delete_schedule(target: Target, name: str) -> None:
    store = _jobstore(target)

    def delete() -> None:
        table = store.jobs_t
        with store.engine.begin() as conn:
            result = conn.execute(table.delete().where(table.c.id == _job_id(name)))
            if result.rowcount == 0:
                raise ScheduleNotFound(f"schedule {name!r} does not exist")
            # its delayed starts and pending retries go with it
            firings = f"{FIRING_PREFIX}{name}:"
            conn.execute(table.delete().where(table.c.id.startswith(firings, autoescape=True)))

    await _run(target, delete)


async def list_dead_letters(
    target: Target, name: str, *, limit: int = 100, next_token: str | None = None
) -> tuple[list[DeadLetter], str | None]:
    """The firings of schedule ``name`` that were given up on (oldest scheduled time first),
    also after the schedule itself was deleted; ``next_token`` continues a listing."""
    _check_name(name)
    if not 1 <= limit <= 1000:
        raise ScheduleValidationError("limit must be 1 to 1000")
    store = _jobstore(target)
    return await _run(target, lambda: read_dead_letters(store.engine, name, limit, next_token))


async def purge_dead_letters(target: Target, name: str) -> int:
    """Forget the dead letters of schedule ``name``; returns how many there were."""
    _check_name(name)
    store = _jobstore(target)
    return await _run(target, lambda: delete_dead_letters(store.engine, name))


def preview_schedule(
    expression: str,
    timezone: str = "UTC",
    count: int = 5,
    *,
    now: datetime | None = None,
    start_date: DateInput | None = None,
    end_date: DateInput | None = None,
) -> list[datetime]:
    """The next firing times of an expression between optional StartDate and EndDate
    (validates them too): for ``schedule preview`` and ``schedule create --dry-run``."""
    current = now or datetime.now(UTC)
    start, end = parse_date(start_date, "StartDate"), parse_date(end_date, "EndDate")
    _check_dates(start, end)
    definition = {"expression": expression, "timezone": timezone, "start_date": start, "end_date": end}
    return next_fire_times(_trigger(definition, current.timestamp()), count, now=current)


def parse_date(value: DateInput | None, field: str) -> float | None:
    """A StartDate/EndDate as epoch seconds (None stays None); raises a validation error
    naming ``field`` and the accepted forms."""
    if value is None:
        return None
    when: datetime
    if isinstance(value, datetime):
        when = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ScheduleValidationError.of(field, f"{value!r} is not a time", DATE_FORM)
        when = _from_epoch(float(value), field, value)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if _EPOCH.match(text):
            when = _from_epoch(float(text), field, value)
        else:
            try:
                when = datetime.fromisoformat(text)
            except ValueError:
                raise ScheduleValidationError.of(
                    field, f"{value!r} is not a date and time", DATE_FORM
                ) from None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
    else:
        raise ScheduleValidationError.of(field, f"{value!r} is not a date and time", DATE_FORM)
    if not 1970 <= when.astimezone(UTC).year <= 2199:
        raise ScheduleValidationError.of(field, f"{value!r} is outside the years 1970-2199", DATE_FORM)
    return when.timestamp()


def execution_name(schedule_name: str, scheduled: datetime) -> str:
    """``<schedule>-<yyyymmddThhmmssZ>``, at most 80 characters (a long schedule name is cut
    and made unique with a hash), so each scheduled time has exactly one execution."""
    stamp = scheduled.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"{schedule_name}-{stamp}"
    if len(name) <= 80:
        return name
    digest = hashlib.sha256(schedule_name.encode()).hexdigest()[:8]
    return f"{schedule_name[: 80 - len(stamp) - 11]}-{digest}-{stamp}"


# ------------------------------------------------------------------------------- internals


def _job_id(name: str) -> str:
    return SCHEDULE_PREFIX + name


def _definition(
    *,
    name: str,
    expression: str,
    timezone: str,
    state_machine_arn: str,
    input: str,
    state: str,
    description: str,
    created: float,
    updated: float,
    start_date: float | None = None,
    end_date: float | None = None,
    flexible_window: int | None = None,
    action_after_completion: str = "NONE",
    retry_attempts: int = DEFAULT_RETRY_ATTEMPTS,
    retry_max_age: int = DEFAULT_MAX_EVENT_AGE,
    dead_letter_arn: str | None = None,
) -> dict[str, Any]:
    """Validate and normalise a definition (the job's kwargs). A definition stored before a
    field existed lacks its key; the defaults here are what it meant."""
    _check_name(name)
    if state not in STATES:
        raise ScheduleValidationError(f"state must be ENABLED or DISABLED, not {state!r}")
    try:
        parse_state_machine_arn(state_machine_arn)
    except (InvalidArn, AttributeError):
        raise ScheduleValidationError(
            f"target {state_machine_arn!r} is not a state machine ARN "
            "(arn:aws:states:<region>:<account>:stateMachine:<name>[:<version or alias>])"
        ) from None
    if not isinstance(input, str):
        raise ScheduleValidationError("input must be JSON text (a string)")
    if len(input.encode()) > MAX_INPUT_BYTES:
        raise ScheduleValidationError(f"input is larger than {MAX_INPUT_BYTES} bytes")
    try:
        json.loads(input)
    except json.JSONDecodeError as exc:
        raise ScheduleValidationError(
            f"input is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if len(description) > MAX_DESCRIPTION:
        raise ScheduleValidationError(f"description is longer than {MAX_DESCRIPTION} characters")
    parse_timezone(timezone)
    _check_dates(start_date, end_date)
    if flexible_window is not None and not _int_in(flexible_window, WINDOW_RANGE):
        raise ScheduleValidationError.of(
            "FlexibleTimeWindow.MaximumWindowInMinutes",
            f"{flexible_window!r} is not a whole number of minutes from 1 to 1440",
            '1 to 1440 with Mode FLEXIBLE, e.g. {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15}',
        )
    if action_after_completion not in ACTIONS:
        raise ScheduleValidationError.of(
            "ActionAfterCompletion", f"{action_after_completion!r} is not an action", "NONE or DELETE"
        )
    if not _int_in(retry_attempts, RETRY_ATTEMPTS_RANGE):
        raise ScheduleValidationError.of(
            "Target.RetryPolicy.MaximumRetryAttempts",
            f"{retry_attempts!r} is not a whole number from 0 to 185",
            "0 to 185 retries (default 185)",
        )
    if not _int_in(retry_max_age, MAX_EVENT_AGE_RANGE):
        raise ScheduleValidationError.of(
            "Target.RetryPolicy.MaximumEventAgeInSeconds",
            f"{retry_max_age!r} is not a whole number of seconds from 60 to 86400",
            "60 to 86400 seconds (default 86400)",
        )
    _check_dead_letter_arn(dead_letter_arn)
    return {
        "name": name,
        "expression": expression.strip(),
        "timezone": timezone or "UTC",
        "state_machine_arn": state_machine_arn,
        "input": input,
        "state": state,
        "description": description,
        "created": float(created),
        "updated": float(updated),
        "start_date": start_date,
        "end_date": end_date,
        "flexible_window": flexible_window,
        "action_after_completion": action_after_completion,
        "retry_attempts": retry_attempts,
        "retry_max_age": retry_max_age,
        "dead_letter_arn": dead_letter_arn,
    }


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ScheduleValidationError(f"invalid schedule name {name!r}: 1 to 64 of A-Z a-z 0-9 - _ .")


def _int_in(value: Any, bounds: tuple[int, int]) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and bounds[0] <= value <= bounds[1]


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def _from_epoch(seconds: float, field: str, original: Any) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise ScheduleValidationError.of(
            field, f"{original!r} is outside the years 1970-2199", DATE_FORM
        ) from None


def _check_dates(start: float | None, end: float | None) -> None:
    if start is not None and end is not None and end <= start:
        raise ScheduleValidationError.of(
            "EndDate",
            f"{_iso(end)} is not after StartDate {_iso(start)}",
            "an EndDate later than the StartDate",
        )


def _end_not_past(end: float | None, now: float) -> None:
    """A new EndDate must lie ahead (the schedule would never fire otherwise)."""
    if end is not None and end < now:
        raise ScheduleValidationError.of(
            "EndDate",
            f"{_iso(end)} is in the past (now {_iso(now)})",
            "an EndDate in the future, " + DATE_FORM,
        )


def _check_dead_letter_arn(arn: Any) -> None:
    if arn is None:
        return
    match = DEAD_LETTER_ARN.match(arn) if isinstance(arn, str) and len(arn) <= 1600 else None
    if match is None:
        raise ScheduleValidationError.of(
            "Target.DeadLetterConfig.Arn", f"{arn!r} is not an SQS queue ARN", DEAD_LETTER_ARN_FORM
        )
    if match.group("queue") in RESERVED_QUEUES:
        raise ScheduleValidationError.of(
            "Target.DeadLetterConfig.Arn",
            f"queue {match.group('queue')!r} is one of StateHop's own queues",
            "a queue name other than " + ", ".join(sorted(RESERVED_QUEUES)),
        )


def _trigger(definition: dict[str, Any], now: float) -> BaseTrigger:
    """The trigger of a definition: its expression limited to its StartDate and EndDate (a
    rate with a StartDate fires first at the StartDate)."""
    start = _utc(definition.get("start_date"))
    end = _utc(definition.get("end_date"))
    expression = definition["expression"]
    base = parse_schedule_expression(
        expression,
        definition["timezone"],
        now=datetime.fromtimestamp(now, UTC),
        start=start if expression_kind(expression) == "rate" else None,
    )
    return bounded(base, start, end)


def _utc(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


def _first_run(
    definition: dict[str, Any], trigger: BaseTrigger, now: float, *, strict: bool
) -> datetime | None:
    """Next run from now; ``strict`` refuses an expression that would never fire."""
    if definition["state"] == "DISABLED":
        return None
    current = datetime.fromtimestamp(now, UTC)
    nxt: datetime | None = trigger.get_next_fire_time(None, current)
    if isinstance(trigger, DateTrigger) and nxt is not None and nxt < current:
        if strict:
            raise ScheduleValidationError(
                f"{definition['expression']} is in the past ({nxt.isoformat()} in {definition['timezone']})"
            )
        return None
    if nxt is None and strict:
        bounds = ""
        if definition.get("start_date") is not None or definition.get("end_date") is not None:
            start, end = definition.get("start_date"), definition.get("end_date")
            bounds = (
                f" between StartDate {'(none)' if start is None else _iso(start)}"
                f" and EndDate {'(none)' if end is None else _iso(end)}"
            )
        raise ScheduleValidationError(f"{definition['expression']} never fires after now{bounds}")
    return nxt


def _state(
    definition: dict[str, Any], trigger: BaseTrigger, next_run: datetime | None
) -> tuple[bytes, float | None]:
    """The job's pickled state (APScheduler's Job format, version 1) and next_run_time column."""
    job_id = _job_id(definition["name"])
    state = {
        "version": 1,
        "id": job_id,
        "func": FIRE_SCHEDULE,
        "trigger": trigger,
        "executor": "default",
        "args": (),
        "kwargs": definition,
        "name": f"schedule {definition['name']}",
        "misfire_grace_time": None,
        "coalesce": True,
        "max_instances": 1,
        "next_run_time": next_run,
    }
    return pickle.dumps(state, PICKLE_PROTOCOL), datetime_to_utc_timestamp(next_run)


def _schedule(state: dict[str, Any]) -> Schedule:
    d = state["kwargs"]
    return Schedule(
        name=d["name"],
        expression=d["expression"],
        timezone=d["timezone"],
        state_machine_arn=d["state_machine_arn"],
        input=d["input"],
        state=d["state"],
        description=d["description"],
        created=datetime.fromtimestamp(d["created"], UTC),
        updated=datetime.fromtimestamp(d["updated"], UTC),
        next_run_time=state["next_run_time"],
        start_date=_utc(d.get("start_date")),
        end_date=_utc(d.get("end_date")),
        flexible_window=d.get("flexible_window"),
        action_after_completion=d.get("action_after_completion", "NONE"),
        retry_policy=RetryPolicy(
            d.get("retry_attempts", DEFAULT_RETRY_ATTEMPTS), d.get("retry_max_age", DEFAULT_MAX_EVENT_AGE)
        ),
        dead_letter_arn=d.get("dead_letter_arn"),
    )


def _read(store: TimerJobStore, name: str) -> bytes:
    table = store.jobs_t
    with store.engine.connect() as conn:
        blob = conn.execute(sa.select(table.c.job_state).where(table.c.id == _job_id(name))).scalar()
    if blob is None:
        raise ScheduleNotFound(f"schedule {name!r} does not exist")
    return bytes(blob)


Change = Callable[
    [dict[str, Any], BaseTrigger, datetime | None, float], tuple[dict[str, Any], BaseTrigger, datetime | None]
]


async def _modify(target: Target, name: str, change: Change) -> Schedule:
    """Read, change, write back only if nobody (a firing) changed the row meanwhile; retry."""
    store = _jobstore(target)

    def attempt() -> bytes | None:
        old = _read(store, name)
        state = pickle.loads(old)
        definition, trigger, next_run = change(
            dict(state["kwargs"]), state["trigger"], state["next_run_time"], _clock()
        )
        blob, next_ts = _state(definition, trigger, next_run)
        table = store.jobs_t
        with store.engine.begin() as conn:
            result = conn.execute(
                table.update()
                .where(table.c.id == _job_id(name), table.c.job_state == old)
                .values(next_run_time=next_ts, job_state=blob)
            )
        return blob if result.rowcount == 1 else None

    for _ in range(20):
        blob = await _run(target, attempt)
        if blob is not None:
            return _schedule(pickle.loads(blob))
        await asyncio.sleep(0.05)
    raise ScheduleValidationError(f"schedule {name!r} kept changing while being updated; try again")


def _jobstore(target: Target) -> TimerJobStore:
    return TimerJobStore(job_engine(_url(target)), tablename=TABLE)


def _url(target: Target) -> str | URL:
    url = getattr(target, "url", target)
    if not isinstance(url, str | URL):
        raise TypeError(f"expected a Store or a database URL, got {type(target).__name__}")
    return url


async def _run(target: Target, fn: Callable[[], T]) -> T:
    """Run blocking job-store work in a thread (in-memory SQLite: here, on its one connection)."""
    store = _jobstore(target)

    def work() -> T:
        ensure_table(store.jobs_t, store.engine)  # the API may run before any scheduler did
        return fn()

    if is_memory(_url(target)):
        return work()
    return await asyncio.to_thread(work)


__all__ = [
    "ACTIONS",
    "DATE_FORM",
    "STATES",
    "ActionAfterCompletion",
    "DateInput",
    "DeadLetter",
    "RetryPolicy",
    "Schedule",
    "ScheduleState",
    "create_schedule",
    "delete_schedule",
    "disable_schedule",
    "enable_schedule",
    "execution_name",
    "get_schedule",
    "list_dead_letters",
    "list_schedules",
    "parse_date",
    "preview_schedule",
    "purge_dead_letters",
    "update_schedule",
]
