"""EventBridge Scheduler features of schedules on SQLite and PostgreSQL (RabbitMQ for the
end-to-end ones): StartDate/EndDate, FlexibleTimeWindow, State, ActionAfterCompletion, and the
target's RetryPolicy and DeadLetterConfig.

The firing functions are driven directly with a fake execution starter, a fake clock and a
seeded random source, so every delay is asserted exactly; the end-to-end tests run the
scheduler role and bound their waits without asserting on timing.
"""

from __future__ import annotations

import asyncio
import json
import pickle
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from runtime.config import Settings
from runtime.engine.timers import TIMERS_QUEUE
from runtime.scheduler import (
    ScheduleNotFound,
    SchedulerOptions,
    ScheduleValidationError,
    TimerScheduler,
    create_schedule,
    delete_schedule,
    disable_schedule,
    enable_schedule,
    execution_name,
    get_schedule,
    jobs,
    list_dead_letters,
    list_schedules,
    purge_dead_letters,
    run_scheduler,
    schedules,
    update_schedule,
)
from runtime.scheduler.jobs import Bindings, fire_schedule, fire_schedule_attempt
from runtime.scheduler.jobstore import (
    FIRING_PREFIX,
    TABLE,
    Completion,
    TimerJobStore,
    dispose_job_engine,
    job_engine,
)
from runtime.scheduler.policy import retry_delay
from runtime.store import Store
from runtime.store.errors import ExecutionAlreadyExists, StateMachineDoesNotExist, TransientStoreError
from runtime.transport import Topology, Transport
from runtime.transport.memory import MemoryTransport
from runtime.transport.rabbitmq import RabbitMQTransport

pytest_plugins = ["tests.support.broker", "tests.support.db"]
pytestmark = pytest.mark.integration

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:nightly"
DLQ = "arn:aws:sqs:us-east-1:123456789012:nightly-dlq"
ROLE = "arn:aws:iam::123456789012:role/statehop"
DEFINITION = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}'
FAST = SchedulerOptions(lease=3.0, poll_interval=0.2, lock_retry=0.3, lock_check=0.3)
T0 = 1_780_000_000.0  # 2026-05-28T20:26:40Z: the fake clock's start
SCHEDULED = datetime(2026, 5, 28, 20, 0, tzinfo=UTC)


# ------------------------------------------------------------------------------- helpers


class FakeStarter:
    """Records start_execution calls; raises the queued errors first."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls: list[tuple[str, Any, str | None]] = []
        self.times: list[float] = []

    async def start_execution(
        self, state_machine_arn: str, input: Any = None, name: str | None = None
    ) -> Any:
        self.calls.append((state_machine_arn, input, name))
        self.times.append(time.time())
        if self.errors:
            raise self.errors.pop(0)
        return name


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@contextmanager
def running(bindings: Bindings, scheduled: datetime) -> Iterator[None]:
    """What the scheduler's executor does around a job: bind the live objects and the time."""
    bound = jobs._bindings.set(bindings)
    at = jobs._scheduled_at.set(scheduled)
    try:
        yield
    finally:
        jobs._scheduled_at.reset(at)
        jobs._bindings.reset(bound)


def definition(**changes: Any) -> dict[str, Any]:
    """A stored definition (the schedule job's kwargs), as create_schedule writes it."""
    return {
        **schedules._definition(
            name="nightly",
            expression="cron(0 20 * * ? *)",
            timezone="UTC",
            state_machine_arn=MACHINE,
            input='{"n": 1}',
            state="ENABLED",
            description="",
            created=T0,
            updated=T0,
        ),
        **changes,
    }


def firings(url: str) -> list[dict[str, Any]]:
    """The pending firing jobs: id, due time and kwargs."""
    with job_engine(url).connect() as conn:
        rows = conn.execute(
            sa.text(f"SELECT id, next_run_time, job_state FROM {TABLE} WHERE id LIKE :p ORDER BY id"),
            {"p": FIRING_PREFIX + "%"},
        ).all()
    return [{"id": r.id, "due": r.next_run_time, **pickle.loads(r.job_state)["kwargs"]} for r in rows]


@pytest.fixture
async def bound(database_url: str) -> AsyncIterator[Callable[..., Bindings]]:
    """Bindings over a fresh database and a memory transport; the engine is disposed after."""
    transport = MemoryTransport()
    await transport.start()

    def make(starter: FakeStarter, rng: random.Random | None = None, clock: Clock | None = None) -> Bindings:
        store = TimerJobStore(job_engine(database_url))
        store.jobs_t.create(store.engine, checkfirst=True)
        return Bindings(
            transport, starter, jobstore=store, rng=rng or random.Random(1), clock=clock or Clock()
        )

    yield make
    dispose_job_engine(database_url)


# ------------------------------------------------------------------------------- firing: off window


async def test_a_firing_starts_its_execution_at_once(
    bound: Callable[..., Bindings], database_url: str
) -> None:
    starter = FakeStarter()
    with running(bound(starter), SCHEDULED):
        await fire_schedule(**definition())
    assert starter.calls == [(MACHINE, {"n": 1}, execution_name("nightly", SCHEDULED))]
    assert await asyncio.to_thread(firings, database_url) == []


async def test_a_failed_start_is_retried_with_back_off_then_dead_lettered(
    bound: Callable[..., Bindings], database_url: str
) -> None:
    """MaximumRetryAttempts 2: the first attempt and two retries fail (the machine is gone);
    each retry is a firing job due after the seeded back-off; then a dead letter is recorded
    and published to the DeadLetterConfig queue with AWS's attributes."""
    gone = StateMachineDoesNotExist(f"State Machine Does Not Exist: '{MACHINE}'")
    starter = FakeStarter(gone, gone, gone)
    clock = Clock()
    bindings = bound(starter, random.Random(7), clock)
    expected_rng = random.Random(7)
    d = definition(retry_attempts=2, dead_letter_arn=DLQ)
    with running(bindings, SCHEDULED):
        await fire_schedule(**d)
    pending = await asyncio.to_thread(firings, database_url)
    assert [p["id"] for p in pending] == [f"{FIRING_PREFIX}nightly:20260528T200000Z:1"]
    assert pending[0]["due"] == pytest.approx(T0 + retry_delay(1, expected_rng), abs=1e-6)
    assert pending[0]["retry"] == 1 and pending[0]["first_attempt"] == T0
    assert pending[0]["scheduled"] == SCHEDULED.timestamp()

    for retry in (1, 2):
        job = (await asyncio.to_thread(firings, database_url))[-1]
        clock.now = job["due"]
        with running(bindings, datetime.fromtimestamp(job["due"], UTC)):
            await fire_schedule_attempt(
                job["definition"], job["scheduled"], job["retry"], job["first_attempt"]
            )
        if retry == 1:
            latest = (await asyncio.to_thread(firings, database_url))[-1]
            assert latest["id"].endswith(":2")
            assert latest["due"] == pytest.approx(clock.now + retry_delay(2, expected_rng), abs=1e-6)
    name = execution_name("nightly", SCHEDULED)
    assert [c[2] for c in starter.calls] == [name, name, name]  # one execution name throughout

    letters, token = await list_dead_letters(database_url, "nightly")
    assert token is None and len(letters) == 1
    letter = letters[0]
    assert letter.retry_attempts == 2 and letter.exhausted_condition == "MaximumRetryAttempts"
    assert letter.error_code == "StateMachineDoesNotExist" and "Does Not Exist" in letter.error_message
    assert letter.scheduled_time == SCHEDULED and letter.execution_name == name
    assert letter.first_attempt == datetime.fromtimestamp(T0, UTC)
    assert letter.target_arn == MACHINE and letter.input == '{"n": 1}'
    transport = bindings.transport
    assert isinstance(transport, MemoryTransport)
    [message] = transport.take("nightly-dlq")
    assert message.headers["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert message.headers["RETRY_ATTEMPTS"] == "2"
    assert message.headers["ERROR_CODE"] == "StateMachineDoesNotExist"
    assert message.headers["SCHEDULED_TIME"] == "2026-05-28T20:00:00Z"
    assert json.loads(message.body)["ExecutionName"] == name

    assert await purge_dead_letters(database_url, "nightly") == 1
    assert (await list_dead_letters(database_url, "nightly"))[0] == []


async def test_a_retry_that_succeeds_leaves_no_dead_letter(
    bound: Callable[..., Bindings], database_url: str
) -> None:
    starter = FakeStarter(TransientStoreError("database restarting"))
    bindings = bound(starter)
    with running(bindings, SCHEDULED):
        await fire_schedule(**definition(retry_attempts=1))
    [job] = await asyncio.to_thread(firings, database_url)
    with running(bindings, SCHEDULED):
        await fire_schedule_attempt(job["definition"], job["scheduled"], job["retry"], job["first_attempt"])
    assert len(starter.calls) == 2
    assert (await list_dead_letters(database_url, "nightly"))[0] == []


async def test_no_retry_past_the_maximum_event_age(bound: Callable[..., Bindings], database_url: str) -> None:
    """MaximumEventAgeInSeconds 60: a retry that would start more than 60 s after the first
    attempt is not made; the dead letter says why. Without a DeadLetterConfig it is only
    recorded."""
    starter = FakeStarter(RuntimeError("boom"), RuntimeError("boom"))
    clock = Clock()
    bindings = bound(starter, random.Random(3), clock)
    with running(bindings, SCHEDULED):
        await fire_schedule(**definition(retry_max_age=60))
    [job] = await asyncio.to_thread(firings, database_url)
    clock.now = T0 + 59.9  # the retry ran late: any back-off ends beyond the age
    with running(bindings, SCHEDULED):
        await fire_schedule_attempt(job["definition"], job["scheduled"], job["retry"], job["first_attempt"])
    [letter] = (await list_dead_letters(database_url, "nightly"))[0]
    assert letter.exhausted_condition == "MaximumEventAgeInSeconds" and letter.retry_attempts == 1
    assert letter.error_code == "RuntimeError" and letter.dead_letter_arn is None
    assert letter.failed_time == datetime.fromtimestamp(T0 + 59.9, UTC)


async def test_zero_retries_dead_letters_at_once(bound: Callable[..., Bindings], database_url: str) -> None:
    starter = FakeStarter(StateMachineDoesNotExist("gone"))
    with running(bound(starter), SCHEDULED):
        await fire_schedule(**definition(retry_attempts=0))
    assert await asyncio.to_thread(firings, database_url) == []
    [letter] = (await list_dead_letters(database_url, "nightly"))[0]
    assert letter.retry_attempts == 0 and letter.exhausted_condition == "MaximumRetryAttempts"


async def test_an_existing_execution_of_that_time_counts_as_started(
    bound: Callable[..., Bindings], database_url: str
) -> None:
    starter = FakeStarter(ExecutionAlreadyExists("exists with another input"))
    with running(bound(starter), SCHEDULED):
        await fire_schedule(**definition(retry_attempts=0))
    assert len(starter.calls) == 1
    assert await asyncio.to_thread(firings, database_url) == []
    assert (await list_dead_letters(database_url, "nightly"))[0] == []


# ------------------------------------------------------------------------------- firing: flexible window


async def test_a_flexible_window_delays_the_start_by_the_seeded_random_amount(
    bound: Callable[..., Bindings], database_url: str
) -> None:
    starter = FakeStarter()
    bindings = bound(starter, random.Random(2026))
    with running(bindings, SCHEDULED):
        await fire_schedule(**definition(flexible_window=15))
    assert starter.calls == []  # not started at the scheduled time
    [job] = await asyncio.to_thread(firings, database_url)
    delay = random.Random(2026).random() * 15 * 60
    assert job["due"] == pytest.approx(SCHEDULED.timestamp() + delay, abs=1e-6)
    assert 0 <= job["due"] - SCHEDULED.timestamp() < 900
    assert job["retry"] == 0 and job["first_attempt"] is None

    # the same scheduled time fired again (a crash, a new leader): the first delay stays
    with running(bound(starter, random.Random(99)), SCHEDULED):
        await fire_schedule(**definition(flexible_window=15))
    assert [j["due"] for j in await asyncio.to_thread(firings, database_url)] == [job["due"]]

    with running(bindings, datetime.fromtimestamp(job["due"], UTC)):
        await fire_schedule_attempt(job["definition"], job["scheduled"], job["retry"], job["first_attempt"])
    # named after the scheduled time, not the delayed one
    assert starter.calls == [(MACHINE, {"n": 1}, execution_name("nightly", SCHEDULED))]


# ------------------------------------------------------------------------------- ActionAfterCompletion


@pytest.mark.parametrize("action", ["NONE", "DELETE"])
async def test_action_after_completion(database_url: str, action: str) -> None:
    """After a one-time schedule's firing is recorded: NONE keeps it (no next run), DELETE
    removes it. An edit that raced the firing wins (compare-and-set)."""
    try:
        when = datetime.now(UTC) + timedelta(hours=1)
        expression = f"at({when:%Y-%m-%dT%H:%M:%S})"
        for name in ("once", "edited"):
            await create_schedule(database_url, name, expression, MACHINE, action_after_completion=action)
        store = TimerJobStore(job_engine(database_url))

        def blob(name: str) -> bytes:
            with store.engine.connect() as conn:
                return bytes(
                    conn.execute(
                        sa.text(f"SELECT job_state FROM {TABLE} WHERE id = :i"), {"i": f"schedule:{name}"}
                    ).scalar_one()
                )

        fired = await asyncio.to_thread(blob, "once")
        raced = await asyncio.to_thread(blob, "edited")
        await update_schedule(database_url, "edited", description="changed while firing")
        await asyncio.to_thread(
            store.finish,
            [Completion("schedule:once", fired, None), Completion("schedule:edited", raced, None)],
        )
        if action == "DELETE":
            with pytest.raises(ScheduleNotFound):
                await get_schedule(database_url, "once")
        else:
            kept = await get_schedule(database_url, "once")
            assert kept.next_run_time is None and kept.action_after_completion == "NONE"
        survivor = await get_schedule(database_url, "edited")
        assert survivor.next_run_time is not None and survivor.description == "changed while firing"
    finally:
        dispose_job_engine(database_url)


# ------------------------------------------------------------------------------- management


async def test_every_field_is_stored_shown_and_survives_a_restart(database_url: str) -> None:
    try:
        made = await create_schedule(
            database_url,
            "nightly",
            "cron(0 9 15W * ? *)",
            MACHINE,
            timezone="Europe/Paris",
            start_date="2030-01-01T00:00:00Z",
            end_date="2030-12-31T23:59:59Z",
            flexible_window=15,
            action_after_completion="DELETE",
            maximum_retry_attempts=3,
            maximum_event_age=600,
            dead_letter_arn=DLQ,
        )
        # 15 January 2030 is a Tuesday
        assert made.next_run_time == datetime(2030, 1, 15, 8, tzinfo=UTC)
        dispose_job_engine(database_url)  # a new process: nothing held in memory
        got = await get_schedule(database_url, "nightly")
        assert got == made
        data = got.to_json()
        assert data["StartDate"] == "2030-01-01T00:00:00+00:00"
        assert data["EndDate"] == "2030-12-31T23:59:59+00:00"
        assert data["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15}
        assert data["ActionAfterCompletion"] == "DELETE"
        assert data["Target"]["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 600}
        assert data["Target"]["DeadLetterConfig"] == {"Arn": DLQ}
        assert data["NextInvocation"] == "2030-01-15T09:00:00+01:00"
        [listed] = (await list_schedules(database_url))[0]
        assert listed.to_json() == data

        # update: only what is given; None removes dates and the queue, and OFFs the window
        changed = await update_schedule(
            database_url,
            "nightly",
            end_date=None,
            flexible_window=None,
            dead_letter_arn=None,
            maximum_event_age=60,
        )
        assert (
            changed.end_date is None and changed.flexible_window is None and changed.dead_letter_arn is None
        )
        assert changed.retry_policy.maximum_retry_attempts == 3  # kept
        assert changed.retry_policy.maximum_event_age_seconds == 60
        assert changed.start_date == made.start_date and changed.action_after_completion == "DELETE"
        assert "EndDate" not in changed.to_json() and changed.to_json()["FlexibleTimeWindow"] == {
            "Mode": "OFF"
        }
        # a new StartDate retimes: the first firing moves into it
        moved = await update_schedule(database_url, "nightly", start_date="2031-06-01T00:00:00Z")
        assert moved.next_run_time == datetime(2031, 6, 16, 7, tzinfo=UTC)  # 15 June 2031 is a Sunday

        # definitions stored before these fields existed read with AWS's defaults
        old = await create_schedule(database_url, "legacy", "rate(1 hour)", MACHINE)
        legacy = old.to_json()
        assert legacy["FlexibleTimeWindow"] == {"Mode": "OFF"} and legacy["ActionAfterCompletion"] == "NONE"
        assert legacy["Target"]["RetryPolicy"] == {
            "MaximumRetryAttempts": 185,
            "MaximumEventAgeInSeconds": 86400,
        }
        assert "StartDate" not in legacy and "DeadLetterConfig" not in legacy["Target"]
    finally:
        dispose_job_engine(database_url)


async def test_old_definitions_without_the_new_keys_still_load_and_fire(database_url: str) -> None:
    """A schedule stored by an earlier StateHop (kwargs without the new keys) reads back with
    the defaults and can be updated."""
    try:
        await create_schedule(database_url, "old", "rate(1 hour)", MACHINE)
        store = TimerJobStore(job_engine(database_url))

        def strip() -> None:
            with store.engine.begin() as conn:
                blob = conn.execute(
                    sa.text(f"SELECT job_state FROM {TABLE} WHERE id = 'schedule:old'")
                ).scalar_one()
                state = pickle.loads(blob)
                for key in ("start_date", "end_date", "flexible_window", "action_after_completion",
                            "retry_attempts", "retry_max_age", "dead_letter_arn"):  # fmt: skip
                    del state["kwargs"][key]
                conn.execute(
                    sa.text(f"UPDATE {TABLE} SET job_state = :b WHERE id = 'schedule:old'"),
                    {"b": pickle.dumps(state)},
                )

        await asyncio.to_thread(strip)
        old = await get_schedule(database_url, "old")
        assert old.retry_policy.maximum_retry_attempts == 185 and old.flexible_window is None
        assert (await update_schedule(database_url, "old", flexible_window=5)).flexible_window == 5
    finally:
        dispose_job_engine(database_url)


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"end_date": "2020-01-01T00:00:00Z"}, "EndDate", "is in the past"),
        (
            {"start_date": "2031-01-01T00:00:00Z", "end_date": "2030-01-01T00:00:00Z"},
            "EndDate",
            "not after StartDate",
        ),
        ({"start_date": "soon"}, "StartDate", "not a date and time"),
        ({"flexible_window": 0}, "FlexibleTimeWindow.MaximumWindowInMinutes", "from 1 to 1440"),
        ({"flexible_window": 1441}, "FlexibleTimeWindow.MaximumWindowInMinutes", "from 1 to 1440"),
        ({"flexible_window": 1.5}, "FlexibleTimeWindow.MaximumWindowInMinutes", "from 1 to 1440"),
        ({"action_after_completion": "ARCHIVE"}, "ActionAfterCompletion", "NONE or DELETE"),
        ({"maximum_retry_attempts": -1}, "Target.RetryPolicy.MaximumRetryAttempts", "0 to 185"),
        ({"maximum_retry_attempts": 186}, "Target.RetryPolicy.MaximumRetryAttempts", "0 to 185"),
        ({"maximum_event_age": 59}, "Target.RetryPolicy.MaximumEventAgeInSeconds", "60 to 86400"),
        ({"maximum_event_age": 86401}, "Target.RetryPolicy.MaximumEventAgeInSeconds", "60 to 86400"),
        (
            {"dead_letter_arn": "arn:aws:sns:us-east-1:123456789012:topic"},
            "Target.DeadLetterConfig.Arn",
            "SQS",
        ),
        ({"dead_letter_arn": "arn:aws:sqs:us-east-1:1234:q"}, "Target.DeadLetterConfig.Arn", "12-digit"),
        (
            {"dead_letter_arn": "arn:aws:sqs:us-east-1:123456789012:timers"},
            "Target.DeadLetterConfig.Arn",
            "own queues",
        ),
    ],
)
async def test_new_fields_are_validated(
    tmp_path: Path, kwargs: dict[str, Any], field: str, words: str
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    try:
        with pytest.raises(ScheduleValidationError) as caught:
            await create_schedule(url, "bad", "rate(1 hour)", MACHINE, **kwargs)
        assert caught.value.field == field
        assert words in str(caught.value) and "expected" in str(caught.value)
        assert (await list_schedules(url))[0] == []
        # the same through an update: nothing changes
        await create_schedule(url, "ok", "rate(1 hour)", MACHINE)
        with pytest.raises(ScheduleValidationError) as again:
            await update_schedule(url, "ok", **kwargs)
        assert again.value.field == field
        assert (await get_schedule(url, "ok")).to_json()["Target"]["RetryPolicy"][
            "MaximumRetryAttempts"
        ] == 185
    finally:
        dispose_job_engine(url)


async def test_a_schedule_that_never_fires_within_its_dates_is_refused(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    try:
        with pytest.raises(ScheduleValidationError, match="never fires after now between StartDate"):
            await create_schedule(
                url,
                "x",
                "cron(0 2 * * ? *)",
                MACHINE,
                start_date="2030-01-01T03:00:00Z",
                end_date="2030-01-01T04:00:00Z",
            )
    finally:
        dispose_job_engine(url)


async def test_enabling_resumes_from_now_without_a_backlog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Disabled at 10:05, enabled at 15:10: the next firing of an hourly schedule is 16:00;
    the five hours in between never fire (a disabled schedule has no next run at all)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    clock = Clock(datetime(2030, 1, 1, 10, 5, tzinfo=UTC).timestamp())
    monkeypatch.setattr(schedules, "_clock", clock)
    try:
        made = await create_schedule(url, "hourly", "cron(0 * * * ? *)", MACHINE)
        assert made.next_run_time == datetime(2030, 1, 1, 11, tzinfo=UTC)
        off = await disable_schedule(url, "hourly")
        assert off.next_run_time is None
        with job_engine(url).connect() as conn:  # nothing the leader could claim
            assert conn.execute(sa.text(f"SELECT next_run_time FROM {TABLE}")).scalar_one() is None
        clock.now = datetime(2030, 1, 1, 15, 10, tzinfo=UTC).timestamp()
        on = await enable_schedule(url, "hourly")
        assert on.state == "ENABLED" and on.next_run_time == datetime(2030, 1, 1, 16, tzinfo=UTC)
        # a rate keeps its grid and also skips what it missed
        await create_schedule(url, "rate", "rate(2 hours)", MACHINE)  # 17:10, 19:10, ...
        await disable_schedule(url, "rate")
        clock.now = datetime(2030, 1, 2, 8, 0, tzinfo=UTC).timestamp()
        assert (await enable_schedule(url, "rate")).next_run_time == datetime(2030, 1, 2, 9, 10, tzinfo=UTC)
    finally:
        dispose_job_engine(url)


async def test_deleting_a_schedule_drops_its_pending_firings(
    bound: Callable[..., Bindings], database_url: str
) -> None:
    await create_schedule(database_url, "nightly", "cron(0 20 * * ? *)", MACHINE, flexible_window=30)
    await create_schedule(database_url, "nightly2", "cron(0 20 * * ? *)", MACHINE, flexible_window=30)
    with running(bound(FakeStarter()), SCHEDULED):
        await fire_schedule(**definition(flexible_window=30))
        await fire_schedule(**definition(name="nightly2", flexible_window=30))
    assert len(await asyncio.to_thread(firings, database_url)) == 2
    await delete_schedule(database_url, "nightly")
    assert [f["id"].split(":")[1] for f in await asyncio.to_thread(firings, database_url)] == ["nightly2"]


# ------------------------------------------------------------------------------- end to end


@pytest.fixture
async def broker(amqp_url: str) -> AsyncIterator[Transport]:
    from tests.support.broker import unique_prefix

    transport = RabbitMQTransport(amqp_url, Topology(prefix=unique_prefix()), publish_timeout=15.0)
    await transport.start()
    await transport.ensure_queue(TIMERS_QUEUE)  # declared by the schedulers: deleted after, with ours
    try:
        yield transport
    finally:
        try:
            await transport.delete_topology()
        finally:
            await transport.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    from tests.support.db import create_postgres_database, drop_postgres_database, require_postgres

    admin = require_postgres()
    url = await create_postgres_database(admin)
    try:
        yield url
    finally:
        dispose_job_engine(url)
        await drop_postgres_database(admin, url)


async def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.1)


def soon(seconds: float) -> tuple[datetime, str]:
    when = (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)
    return when, f"at({when:%Y-%m-%dT%H:%M:%S})"


async def test_flexible_window_and_delete_after_completion_through_the_scheduler(
    broker: Transport, pg_url: str, amqp_url: str
) -> None:
    """A one-time FLEXIBLE schedule with ActionAfterCompletion DELETE, in a running scheduler
    whose random source always answers 0.05: its execution starts 3 s (5 % of one minute)
    after the scheduled time, not before, and the schedule is gone once it fired."""

    class Fixed(random.Random):
        def random(self) -> float:
            return 0.05

    starter = FakeStarter()
    transport = RabbitMQTransport(amqp_url, Topology(prefix=broker.topology.prefix), publish_timeout=15.0)
    await transport.start()
    scheduler = TimerScheduler(transport, pg_url, starter=starter, options=FAST, rng=Fixed(0))
    await scheduler.start()
    try:
        await scheduler.wait_leader(5.0)
        when, expression = soon(2)
        await create_schedule(
            pg_url, "flex", expression, MACHINE, flexible_window=1, action_after_completion="DELETE"
        )

        async def started() -> bool:
            return bool(starter.calls)

        await wait_for(started, 20, "the delayed start")
        assert starter.calls == [(MACHINE, {}, execution_name("flex", when))]
        assert starter.times[0] >= when.timestamp() + 3.0 - 0.05

        async def gone() -> bool:
            try:
                await get_schedule(pg_url, "flex")
            except ScheduleNotFound:
                return True
            return False

        await wait_for(gone, 10, "the schedule to delete itself")
        assert await asyncio.to_thread(firings, pg_url) == []
    finally:
        await scheduler.stop(timeout=5.0)
        await transport.close()


async def test_retry_until_the_machine_exists_then_dead_letter_another(
    broker: Transport, pg_url: str, amqp_url: str
) -> None:
    """Real engine and store: a schedule whose state machine does not exist yet fails and is
    retried; once the machine is created a retry starts the execution (named after the
    scheduled time). A second schedule with one retry and a DeadLetterConfig ends as a dead
    letter, listed and published to its queue on the broker."""
    prefix = broker.topology.prefix
    settings = Settings(amqp_url=amqp_url, database_url=pg_url, queue_prefix=prefix, shutdown_timeout=5)
    stop, ready = asyncio.Event(), asyncio.Event()
    role = asyncio.create_task(run_scheduler(settings, ready, options=FAST, stop=stop))
    try:
        await asyncio.wait_for(ready.wait(), 20)
        async with Store(pg_url) as store:
            async with store.transaction() as tx:
                other = (await tx.create_state_machine("other", DEFINITION, ROLE)).arn
            later = other.replace(":stateMachine:other", ":stateMachine:later")
            missing = other.replace(":stateMachine:other", ":stateMachine:missing")
            when, expression = soon(2)
            await create_schedule(
                store, "later", expression, later, maximum_retry_attempts=20, maximum_event_age=600
            )
            await create_schedule(
                store,
                "doomed",
                expression,
                missing,
                maximum_retry_attempts=1,
                dead_letter_arn="arn:aws:sqs:us-east-1:123456789012:doomed-dlq",
            )

            async def retrying() -> bool:
                ids = [f["id"] for f in await asyncio.to_thread(firings, pg_url)]
                return any(i.startswith(f"{FIRING_PREFIX}later:") for i in ids)

            await wait_for(retrying, 20, "the first failure of 'later' to schedule a retry")
            async with store.transaction() as tx:
                await tx.create_state_machine("later", DEFINITION, ROLE)

            async def executions() -> list[Any]:
                async with store.transaction(readonly=True) as tx:
                    return list((await tx.list_executions(state_machine_arn=later)).items)

            found = await wait_for(executions, 30, "a retry to start the execution")
            assert [e.name for e in found] == [execution_name("later", when)]

            async def dead() -> list[Any]:
                return (await list_dead_letters(store, "doomed"))[0]

            [letter] = await wait_for(dead, 30, "the dead letter of 'doomed'")
            assert letter.retry_attempts == 1 and letter.exhausted_condition == "MaximumRetryAttempts"
            assert letter.error_code == "StateMachineDoesNotExist" and letter.target_arn == missing
            assert (await list_dead_letters(store, "later"))[0] == []

            async def published() -> int:
                return await broker.queue_depth("doomed-dlq")

            assert await wait_for(published, 10, "the dead letter on the broker") == 1
    finally:
        await broker.ensure_queue("doomed-dlq")  # declared by the scheduler: so the fixture deletes it
        stop.set()
        assert await asyncio.wait_for(role, 30) == 0
