"""The scheduler role on real RabbitMQ and PostgreSQL (and SQLite): durable timers, the
leader lock, and schedules.

The headline test puts 1,000 timer requests on the ``timers`` queue, runs a scheduler in a
subprocess, SIGKILLs it while most timers are pending, restarts it, and checks every timer
fired, none early, and reports how many fired twice (only a job that was publishing at the
kill can; the engine drops such a copy by its hop id). Timing is a bound on waiting, never
asserted on.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
import sqlalchemy as sa
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import STATE_PAUSED

from runtime.config import Settings
from runtime.engine.timers import TIMERS_QUEUE, timer_cancel, timer_request
from runtime.scheduler import (
    ScheduleAlreadyExists,
    ScheduleExpressionError,
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
    list_schedules,
    run_scheduler,
    update_schedule,
)
from runtime.scheduler.jobstore import TABLE, TimerJobStore, dispose_job_engine, job_engine, timer_row
from runtime.store import Store
from runtime.transport import DEAD_REASON, Delivery, Message, Topology, Transport
from runtime.transport.rabbitmq import RabbitMQTransport

pytest_plugins = ["tests.support.broker", "tests.support.db"]
pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::123456789012:role/statehop"
DEFINITION = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}'
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:nightly"
FAST = SchedulerOptions(lease=3.0, poll_interval=0.2, lock_retry=0.3, lock_check=0.3)


# ------------------------------------------------------------------------------- helpers


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database (the durability tests need PostgreSQL's advisory lock)."""
    from tests.support.db import create_postgres_database, drop_postgres_database, require_postgres

    admin = require_postgres()
    url = await create_postgres_database(admin)
    try:
        yield url
    finally:
        dispose_job_engine(url)
        await drop_postgres_database(admin, url)


@pytest.fixture
async def broker(amqp_url: str) -> AsyncIterator[Transport]:
    """A started RabbitMQ transport on a unique prefix; everything it declared is deleted after."""
    from tests.support.broker import unique_prefix

    transport = RabbitMQTransport(amqp_url, Topology(prefix=unique_prefix()), publish_timeout=15.0)
    await transport.start()
    await transport.ensure_queue(TIMERS_QUEUE)
    await transport.ensure_queue("fired")
    try:
        yield transport
    finally:
        try:
            await transport.delete_topology()
        finally:
            await transport.close()


class Collector:
    """Consumes the destination queue: how often each message id arrived, and any early one."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.early: list[tuple[str, float]] = []

    async def handler(self, delivery: Delivery) -> None:
        message = delivery.message
        due = json.loads(message.body)["due"]
        late = time.time() - due
        if late < -0.01:
            self.early.append((str(message.message_id), late))
        self.counts[str(message.message_id)] += 1
        await delivery.ack()

    @property
    def distinct(self) -> int:
        return len(self.counts)

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.counts.values())


def hop(key: str, due: float) -> Message:
    return Message(json.dumps({"key": key, "due": due}).encode(), message_id=f"hop-{key}")


async def put_timers(transport: Transport, keys: list[str], first: float, last: float) -> dict[str, float]:
    """Timer requests spread evenly over [first, last] seconds from now; returns key -> due."""
    now = time.time()
    step = (last - first) / max(1, len(keys) - 1)
    due = {key: now + first + i * step for i, key in enumerate(keys)}
    await transport.publish_many(
        (TIMERS_QUEUE, timer_request(k, d, "fired", hop(k, d))) for k, d in due.items()
    )
    return due


async def timer_rows(url: str) -> int:
    return await asyncio.to_thread(TimerJobStore(job_engine(url)).count, "timer:")


async def timer_ids(url: str) -> set[str]:
    def read() -> set[str]:
        with job_engine(url).connect() as conn:
            return set(conn.execute(sa.text(f"SELECT id FROM {TABLE}")).scalars())

    return await asyncio.to_thread(read)


class Replica:
    """``python -m runtime.scheduler`` in a subprocess, its stdout and stderr in one log file."""

    def __init__(self, name: str, tmp: Path, amqp_url: str, database_url: str, prefix: str) -> None:
        self.name = name
        self.log_path = tmp / f"{name}.log"
        self.env = {
            **os.environ,
            "STATEHOP_AMQP_URL": amqp_url,
            "STATEHOP_DATABASE_URL": database_url,
            "STATEHOP_QUEUE_PREFIX": prefix,
            "STATEHOP_SHUTDOWN_TIMEOUT": "5",
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONUNBUFFERED": "1",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Replica:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "runtime.scheduler",
                    "--lease",
                    "3",
                    "--poll-interval",
                    "0.25",
                    "--lock-retry",
                    "0.5",
                    "--lock-check",
                    "1",
                ],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def wait_for(self, text: str, timeout: float = 30.0) -> None:
        def seen() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.log[-3000:]}")
            return text in self.log

        try:
            await wait_until(seen, timeout, f"{text!r} in {self.name}'s log")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- {self.name} log ---\n{self.log[-3000:]}") from None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def replicas(tmp_path: Path) -> Any:
    made: list[Replica] = []

    def make(name: str, amqp_url: str, database_url: str, prefix: str) -> Replica:
        replica = Replica(name, tmp_path, amqp_url, database_url, prefix)
        made.append(replica)
        return replica

    yield make
    for replica in made:
        replica.cleanup()


# ------------------------------------------------------------------------------- durability


@pytest.mark.slow
async def test_1000_timers_survive_sigkill_of_the_scheduler(
    broker: Transport, pg_url: str, amqp_url: str, replicas: Any
) -> None:
    prefix = broker.topology.prefix
    collector = Collector()
    await broker.consume("fired", collector.handler, prefetch=500)
    a = replicas("scheduler-a", amqp_url, pg_url, prefix).start()
    await a.wait_for("READY")
    await a.wait_for("acquired leadership")
    keys = [f"t{i:04d}" for i in range(1000)]
    await put_timers(broker, keys, 3.0, 8.0)

    # SIGKILL while most timers are pending and some are being published
    await wait_until(lambda: collector.distinct >= 100, 30.0, "the first timers to fire")
    a.kill()
    fired_before_kill = collector.distinct
    rows_at_kill = {f"hop-{job_id.removeprefix('timer:')}" for job_id in await timer_ids(pg_url)}

    b = replicas("scheduler-b", amqp_url, pg_url, prefix).start()
    await b.wait_for("acquired leadership")
    await wait_until(lambda: collector.distinct == len(keys), 40.0, "every timer to fire")
    await asyncio.sleep(1.0)  # let any late duplicate arrive before counting

    missing = sorted(f"hop-{k}" for k in keys if f"hop-{k}" not in collector.counts)
    twice = {k for k, n in collector.counts.items() if n > 1}
    print(
        f"\nSIGKILL test: fired before the kill {fired_before_kill}/1000, job rows left at the kill "
        f"{len(rows_at_kill)}, fired twice {len(twice)} (extra copies {collector.duplicates}), "
        f"fired early {len(collector.early)}"
    )
    assert fired_before_kill < len(keys), "the kill must happen while timers are pending"
    assert missing == []
    assert collector.distinct == len(keys)
    assert collector.early == [], "a timer fired before its due time"
    # a timer fires twice only if the killed leader had published it but not yet deleted its
    # row (publish, then remove): one it had finished never fires again
    assert twice <= rows_at_kill, f"finished timers fired again: {sorted(twice - rows_at_kill)[:5]}"
    assert max(collector.counts.values()) <= 2
    # the job table empties once B has fired and removed everything
    deadline = time.monotonic() + 10
    while await timer_rows(pg_url) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert await timer_rows(pg_url) == 0
    assert await broker.queue_depth(TIMERS_QUEUE) == 0
    assert b.terminate() == 0


@pytest.mark.slow
async def test_standby_takes_over_when_the_leader_is_killed(
    broker: Transport, pg_url: str, amqp_url: str, replicas: Any
) -> None:
    prefix = broker.topology.prefix
    collector = Collector()
    await broker.consume("fired", collector.handler, prefetch=500)
    one = replicas("scheduler-1", amqp_url, pg_url, prefix).start()
    two = replicas("scheduler-2", amqp_url, pg_url, prefix).start()
    await one.wait_for("READY")
    await two.wait_for("READY")
    leaders = [r for r in (one, two) if "acquired leadership" in r.log]
    assert len(leaders) == 1, "exactly one of two schedulers leads"
    a = leaders[0]
    b = two if a is one else one
    assert "as standby" in b.log

    early = await put_timers(broker, [f"e{i:03d}" for i in range(200)], 1.5, 2.5)
    late = await put_timers(broker, [f"l{i:03d}" for i in range(200)], 5.0, 6.0)
    await wait_until(lambda: collector.distinct == 200, 20.0, "the first 200 timers")
    assert collector.duplicates == 0, "two schedulers fired the same timers: the lock did not hold"
    assert "acquired leadership" not in b.log, "the standby fired while the leader was alive"
    deadline = time.monotonic() + 10
    while await timer_rows(pg_url) > len(late) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)  # fired jobs finished: nothing is in flight at the kill

    a.kill()
    await b.wait_for("acquired leadership", timeout=10.0)
    await wait_until(lambda: collector.distinct == 400, 30.0, "the timers due after the kill")
    await asyncio.sleep(0.5)
    assert set(collector.counts) == {f"hop-{k}" for k in [*early, *late]}
    assert collector.duplicates == 0
    assert collector.early == []
    assert b.terminate() == 0


# ------------------------------------------------------------------------------- in-process


@pytest.fixture
async def make_scheduler(amqp_url: str) -> AsyncIterator[Callable[..., Any]]:
    """Start TimerSchedulers in this process (each with its own connection); stopped after."""
    made: list[tuple[TimerScheduler, Transport]] = []

    async def make(
        database_url: str, prefix: str, options: SchedulerOptions = FAST, starter: Any = None
    ) -> TimerScheduler:
        transport = RabbitMQTransport(amqp_url, Topology(prefix=prefix), publish_timeout=15.0)
        await transport.start()
        scheduler = TimerScheduler(transport, database_url, starter=starter, options=options)
        made.append((scheduler, transport))
        await scheduler.start()
        return scheduler

    yield make
    for scheduler, transport in made:
        await scheduler.stop(timeout=5.0)
        await transport.close()


async def test_timers_fire_cancel_replace_and_publish_past_due_at_once(
    broker: Transport, database_url: str, make_scheduler: Callable[..., Any]
) -> None:
    collector = Collector()
    await broker.consume("fired", collector.handler)
    scheduler = await make_scheduler(database_url, broker.topology.prefix)
    await scheduler.wait_leader(5.0)
    now = time.time()
    await broker.publish(TIMERS_QUEUE, timer_request("a", now + 1.0, "fired", hop("a", now + 1.0)))
    await broker.publish(TIMERS_QUEUE, timer_request("b", now + 1.0, "fired", hop("b", now + 1.0)))
    await broker.publish(TIMERS_QUEUE, timer_cancel("b"))
    # the same key again (a redelivered worker hop): one job, the latest due time
    await broker.publish(TIMERS_QUEUE, timer_request("c", now + 30, "fired", hop("c", now + 30)))
    await broker.publish(TIMERS_QUEUE, timer_request("c", now + 1.2, "fired", hop("c", now + 1.2)))
    await broker.publish(TIMERS_QUEUE, timer_request("past", now - 60, "fired", hop("past", now - 60)))
    # a destination nobody declared yet is declared rather than dropped
    await broker.publish(TIMERS_QUEUE, timer_request("new", now + 0.5, "fresh.queue", hop("new", now)))
    await broker.publish(TIMERS_QUEUE, Message(b"{}", headers={"x-sh-timer-key": "broken"}))

    await wait_until(lambda: "hop-past" in collector.counts, 5.0, "the past-due timer")
    assert "hop-a" not in collector.counts  # published at once, not after the others
    await wait_until(lambda: {"hop-a", "hop-c"} <= set(collector.counts), 10.0, "timers a and c")
    await wait_until(lambda: scheduler.stats.fired >= 3, 5.0, "three fired jobs")
    await asyncio.sleep(0.5)
    assert collector.counts == Counter({"hop-a": 1, "hop-c": 1, "hop-past": 1})
    assert collector.early == []
    assert scheduler.stats.published_at_once == 1
    assert scheduler.stats.rejected == 1
    assert await broker.queue_depth("fresh.queue") == 1
    await wait_until(lambda: scheduler.jobstore.count() == 0, 5.0, "fired jobs to be removed")
    dead = await broker.queue_depth(Topology.DEAD)
    assert dead == 1, "the malformed request goes to the dead-letter queue with a reason"
    got: list[Message] = []

    async def take(delivery: Delivery) -> None:
        got.append(delivery.message)
        await delivery.ack()

    await broker.consume(Topology.DEAD, take)
    await wait_until(lambda: bool(got), 5.0, "the dead letter")
    assert "not a valid timer request" in str(got[0].headers[DEAD_REASON])
    await broker.ensure_queue("fresh.queue")  # so the fixture deletes it


async def test_graceful_handover_and_standby_stores_jobs(
    broker: Transport, pg_url: str, make_scheduler: Callable[..., Any]
) -> None:
    collector = Collector()
    await broker.consume("fired", collector.handler, prefetch=500)
    prefix = broker.topology.prefix
    a = await make_scheduler(pg_url, prefix)
    b = await make_scheduler(pg_url, prefix)
    assert a.is_leader and not b.is_leader
    keys = [f"k{i:03d}" for i in range(300)]
    await put_timers(broker, keys[:150], 1.0, 1.5)
    await put_timers(broker, keys[150:], 4.0, 4.5)
    await wait_until(lambda: collector.distinct == 150, 15.0, "the first timers")
    await wait_until(lambda: a.stats.fired == 150, 5.0, "the leader's fired count")
    assert b.stats.stored > 0, "a standby stores the requests it consumes"
    assert b.stats.fired == 0
    await a.stop(timeout=5.0)  # SIGTERM path: releases the lock
    await b.wait_leader(5.0)
    await wait_until(lambda: collector.distinct == 300, 15.0, "the rest, fired by the new leader")
    await asyncio.sleep(0.3)
    assert collector.duplicates == 0 and collector.early == []
    assert b.stats.fired == 150


async def test_leader_that_loses_its_lock_connection_pauses_then_recovers(
    broker: Transport, pg_url: str, make_scheduler: Callable[..., Any]
) -> None:
    scheduler = await make_scheduler(pg_url, broker.topology.prefix)
    assert scheduler.is_leader
    from tests.support.db import require_postgres

    pid = scheduler.lock._conn.get_server_pid()
    admin = await asyncpg.connect(require_postgres().replace("postgresql+asyncpg", "postgresql"))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    await wait_until(lambda: not scheduler.is_leader, 5.0, "leadership to be dropped")
    assert scheduler.scheduler.state == STATE_PAUSED  # nothing fires without the lock
    await scheduler.wait_leader(5.0)  # nobody else holds it: taken again on a new connection
    assert scheduler.stats.leadership_changes == 3


async def test_sqlite_file_lock_allows_one_leader(
    broker: Transport, tmp_path: Path, make_scheduler: Callable[..., Any]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    try:
        a = await make_scheduler(url, broker.topology.prefix)
        b = await make_scheduler(url, broker.topology.prefix)
        assert a.is_leader and not b.is_leader
        await a.stop(timeout=5.0)
        await b.wait_leader(5.0)
    finally:
        dispose_job_engine(url)


# ------------------------------------------------------------------------------- the job store


async def test_claimed_jobs_fire_again_after_a_crash_and_finish_removes_them(database_url: str) -> None:
    """The mechanism behind "late rather than never", without a broker."""
    store = TimerJobStore(job_engine(database_url), lease=5.0)
    try:
        store.start(None, "default")
        past = time.time() - 1
        rows = [timer_row(f"k{i}", past, "hops", Message(b"{}", message_id=f"m{i}")) for i in range(3)]
        await asyncio.to_thread(store.apply_requests, rows, [])
        now = datetime.now(UTC)
        jobs = store.get_due_jobs(now)
        assert sorted(j.id for j in jobs) == ["timer:k0", "timer:k1", "timer:k2"]
        assert jobs[0].args[0] == "hops" and jobs[0].misfire_grace_time is None and jobs[0].coalesce
        for job in jobs:  # what APScheduler does next for a date trigger: remove it
            store.remove_job(job.id)
        assert store.count() == 3, "nothing is removed before the publish succeeded"
        assert store.get_due_jobs(now) == [], "claimed: not due again within the lease"
        later = now + timedelta(seconds=6)
        assert store.get_due_jobs(later) == [], "this process never fires a job it has not finished"
        # the process dies here; another one looks after the lease
        survivor = TimerJobStore(job_engine(database_url), lease=5.0)
        survivor.start(None, "default")
        again = survivor.get_due_jobs(later + timedelta(seconds=6))
        assert sorted(j.id for j in again) == ["timer:k0", "timer:k1", "timer:k2"]
        for job in again:
            survivor.remove_job(job.id)
        completions = [survivor.take_completion(j.id) for j in again]
        await asyncio.to_thread(survivor.finish, [c for c in completions if c is not None])
        assert survivor.count() == 0
        # and the row is a stock APScheduler job
        await asyncio.to_thread(store.apply_requests, rows[:1], [])
        stock = SQLAlchemyJobStore(engine=job_engine(database_url), tablename=TABLE)
        stock._scheduler, stock._alias = None, "default"
        job = stock.lookup_job("timer:k0")
        assert job is not None and job.func.__name__ == "fire_timer" and job.args[3] == "m0"
    finally:
        dispose_job_engine(database_url)


# ------------------------------------------------------------------------------- schedules


async def test_schedule_management(database_url: str) -> None:
    try:
        made = await create_schedule(
            database_url,
            "nightly",
            "cron(0 2 * * ? *)",
            MACHINE,
            input='{"report": "daily"}',
            timezone="Europe/Paris",
            description="the nightly report",
        )
        assert made.state == "ENABLED" and made.next_run_time is not None
        assert made.next_run_time.astimezone(ZoneInfo("Europe/Paris")).hour == 2
        assert await get_schedule(database_url, "nightly") == made
        assert made.to_json()["Target"] == {
            "Arn": MACHINE,
            "Input": '{"report": "daily"}',
            "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400},  # AWS's defaults
        }
        with pytest.raises(ScheduleAlreadyExists):
            await create_schedule(database_url, "nightly", "rate(1 hour)", MACHINE)

        for name in ("hourly", "hourly.b", "Hourly-C"):
            await create_schedule(database_url, name, "rate(1 hour)", MACHINE, state="DISABLED")
        names = [s.name for s in (await list_schedules(database_url))[0]]
        assert sorted(names) == sorted(
            ["nightly", "hourly", "hourly.b", "Hourly-C"]
        )  # in the database's order
        assert [s.name for s in (await list_schedules(database_url, name_prefix="hourly"))[0]] == [
            "hourly",
            "hourly.b",
        ]
        assert [s.name for s in (await list_schedules(database_url, state="ENABLED"))[0]] == ["nightly"]
        page, token = await list_schedules(database_url, limit=2)
        rest, end = await list_schedules(database_url, limit=2, next_token=token)
        assert token is not None and end is None
        assert [s.name for s in page + rest] == names

        same_time = await update_schedule(database_url, "nightly", input='{"report": "weekly"}')
        assert same_time.next_run_time == made.next_run_time and same_time.input == '{"report": "weekly"}'
        assert same_time.updated >= made.updated and same_time.created == made.created
        moved = await update_schedule(database_url, "nightly", expression="cron(30 4 * * ? *)")
        assert moved.next_run_time != made.next_run_time and moved.next_run_time is not None
        assert moved.next_run_time.minute == 30

        off = await disable_schedule(database_url, "nightly")
        assert off.state == "DISABLED" and off.next_run_time is None
        on = await enable_schedule(database_url, "hourly")
        assert on.state == "ENABLED" and on.next_run_time is not None
        assert on.next_run_time > datetime.now(UTC)

        with pytest.raises(ScheduleExpressionError) as caught:
            await update_schedule(database_url, "hourly", expression="cron(0 0 ? * 9 *)")
        assert caught.value.field == "day-of-week"
        assert (await get_schedule(database_url, "hourly")).expression == "rate(1 hour)"  # unchanged

        await delete_schedule(database_url, "nightly")
        with pytest.raises(ScheduleNotFound):
            await get_schedule(database_url, "nightly")
        with pytest.raises(ScheduleNotFound):
            await delete_schedule(database_url, "nightly")
        with pytest.raises(ScheduleNotFound):
            await enable_schedule(database_url, "nightly")
    finally:
        dispose_job_engine(database_url)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"name": "has space"}, "invalid schedule name"),
        ({"name": "x" * 65}, "invalid schedule name"),
        ({"state_machine_arn": "arn:aws:lambda:us-east-1:1:function:f"}, "not a state machine ARN"),
        ({"input": "{nope"}, "not valid JSON"),
        ({"timezone": "Mars/Base"}, "unknown time zone"),
        ({"state": "PAUSED"}, "ENABLED or DISABLED"),
        ({"expression": "at(2020-01-01T00:00:00)"}, "is in the past"),
        ({"expression": "cron(0 0 31 2 ? *)"}, "never fires"),
        ({"description": "d" * 513}, "description"),
    ],
)
async def test_schedule_validation(tmp_path: Path, kwargs: dict[str, Any], words: str) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    args: dict[str, Any] = {
        "name": "ok",
        "expression": "rate(1 hour)",
        "state_machine_arn": MACHINE,
        **kwargs,
    }
    try:
        with pytest.raises(ScheduleValidationError, match=words):
            await create_schedule(
                url, args.pop("name"), args.pop("expression"), args.pop("state_machine_arn"), **args
            )
        assert (await list_schedules(url))[0] == []
    finally:
        dispose_job_engine(url)


async def test_schedule_fires_and_starts_one_execution(broker: Transport, pg_url: str, amqp_url: str) -> None:
    prefix = broker.topology.prefix
    settings = Settings(amqp_url=amqp_url, database_url=pg_url, queue_prefix=prefix, shutdown_timeout=5)
    stop, ready = asyncio.Event(), asyncio.Event()
    role = asyncio.create_task(run_scheduler(settings, ready, options=FAST, stop=stop))
    try:
        await asyncio.wait_for(ready.wait(), 20)
        async with Store(pg_url) as store:
            async with store.transaction() as tx:
                machine = (await tx.create_state_machine("nightly", DEFINITION, ROLE)).arn
            when = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
            made = await create_schedule(
                store, "once", f"at({when:%Y-%m-%dT%H:%M:%S})", machine, input='{"n": 1}'
            )
            assert made.next_run_time == when
            name = execution_name("once", when)

            async def executions() -> list[Any]:
                async with store.transaction(readonly=True) as tx:
                    return list((await tx.list_executions(state_machine_arn=machine)).items)

            deadline = time.monotonic() + 20
            while not await executions() and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            found = await executions()
            assert [e.name for e in found] == [name]
            async with store.transaction(readonly=True) as tx:
                execution = await tx.get_execution(found[0].arn)
            assert json.loads(execution.input) == {"n": 1}
            # a one-time schedule stays listed once it ran, with nothing left to run
            deadline = time.monotonic() + 5
            while (
                await get_schedule(store, "once")
            ).next_run_time is not None and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert (await get_schedule(store, "once")).next_run_time is None
            # a repeated firing of the same time is the same execution (idempotent by name)
            from runtime.roles import components

            async with components(settings, in_process_timers=False) as c:
                await c.engine.start_execution(machine, {"n": 1}, name)
            assert [e.name for e in await executions()] == [name]
            assert await broker.queue_depth(Topology.HOPS) == 1  # its first hop, published once
    finally:
        stop.set()
        assert await asyncio.wait_for(role, 30) == 0


def test_job_state_is_plain_data() -> None:
    """A stored timer holds only module:function and plain values (bytes, dict, str)."""
    row = timer_row("k", time.time() + 60, "hops", Message(b'{"x": 1}', headers={"h": "v"}, message_id="m"))
    state = pickle.loads(row.job_state)
    assert state["func"] == "runtime.scheduler.jobs:fire_timer"
    assert state["args"] == ("hops", b'{"x": 1}', {"h": "v"}, "m", True)
    assert state["misfire_grace_time"] is None and state["coalesce"] is True
