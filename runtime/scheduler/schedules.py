"""Schedules (EventBridge Scheduler style): start an execution with a fixed input on a
``cron(...)``, ``rate(...)`` or ``at(...)`` expression in a time zone.

A schedule is stored as an APScheduler job in the scheduler's job store (id
``schedule:<name>``, the definition in the job's kwargs), so no table of its own is needed and
the running scheduler picks a change up on its next poll. These functions write the job table
directly and need no running scheduler: the API and the CLI call them with a Store (or a
database URL).

Each firing starts an execution named ``<schedule>-<scheduled time UTC>``: firing the same
time twice (a crash, a leader change) starts it once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import pickle
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar

import sqlalchemy as sa
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.util import datetime_to_utc_timestamp
from sqlalchemy.engine import URL

from runtime.scheduler.errors import ScheduleAlreadyExists, ScheduleNotFound, ScheduleValidationError
from runtime.scheduler.expressions import next_fire_times, parse_schedule_expression, parse_timezone
from runtime.scheduler.jobstore import (
    FIRE_SCHEDULE,
    PICKLE_PROTOCOL,
    SCHEDULE_PREFIX,
    TABLE,
    TimerJobStore,
    ensure_table,
    is_memory,
    job_engine,
)
from runtime.store.arns import parse_state_machine_arn
from runtime.store.errors import InvalidArn

T = TypeVar("T")
ScheduleState = Literal["ENABLED", "DISABLED"]
STATES: tuple[ScheduleState, ...] = ("ENABLED", "DISABLED")
_NAME = re.compile(r"^[0-9A-Za-z_.\-]{1,64}$")
MAX_INPUT_BYTES = 256 * 1024
MAX_DESCRIPTION = 512
_UNSET: Any = object()


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

    def to_json(self) -> dict[str, Any]:
        """EventBridge Scheduler's GetSchedule shape (Target.Arn is the state machine)."""
        data: dict[str, Any] = {
            "Name": self.name,
            "ScheduleExpression": self.expression,
            "ScheduleExpressionTimezone": self.timezone,
            "State": self.state,
            "Description": self.description,
            "Target": {"Arn": self.state_machine_arn, "Input": self.input},
            "CreationDate": self.created.isoformat(),
            "LastModificationDate": self.updated.isoformat(),
        }
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
) -> Schedule:
    """Create a schedule; raises ScheduleAlreadyExists, ScheduleValidationError (and its
    ScheduleExpressionError, which names the faulty field)."""
    now = time.time()
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
) -> Schedule:
    """Change the given fields. A new expression or time zone restarts the timing (a rate
    counts from now); other changes keep the next run time."""
    changes = {
        k: v
        for k, v in {
            "expression": expression,
            "state_machine_arn": state_machine_arn,
            "input": input,
            "timezone": timezone,
            "state": state,
            "description": description,
        }.items()
        if v is not None
    }

    def change(
        definition: dict[str, Any], trigger: BaseTrigger, current: datetime | None, now: float
    ) -> tuple[dict[str, Any], BaseTrigger, datetime | None]:
        new = _definition(**{**definition, **changes, "updated": now})
        retime = new["expression"] != definition["expression"] or new["timezone"] != definition["timezone"]
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
        with store.engine.begin() as conn:
            result = conn.execute(store.jobs_t.delete().where(store.jobs_t.c.id == _job_id(name)))
        if result.rowcount == 0:
            raise ScheduleNotFound(f"schedule {name!r} does not exist")

    await _run(target, delete)


def preview_schedule(
    expression: str, timezone: str = "UTC", count: int = 5, *, now: datetime | None = None
) -> list[datetime]:
    """The next firing times of an expression (validates it too): for ``schedule create --dry-run``."""
    current = now or datetime.now(UTC)
    return next_fire_times(parse_schedule_expression(expression, timezone, now=current), count, now=current)


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
) -> dict[str, Any]:
    """Validate and normalise a definition (the job's kwargs)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ScheduleValidationError(f"invalid schedule name {name!r}: 1 to 64 of A-Z a-z 0-9 - _ .")
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
    }


def _trigger(definition: dict[str, Any], now: float) -> BaseTrigger:
    return parse_schedule_expression(
        definition["expression"], definition["timezone"], now=datetime.fromtimestamp(now, UTC)
    )


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
        raise ScheduleValidationError(f"{definition['expression']} never fires after now")
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
            dict(state["kwargs"]), state["trigger"], state["next_run_time"], time.time()
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
    "STATES",
    "Schedule",
    "ScheduleState",
    "create_schedule",
    "delete_schedule",
    "disable_schedule",
    "enable_schedule",
    "execution_name",
    "get_schedule",
    "list_schedules",
    "preview_schedule",
    "update_schedule",
]
