"""The scheduler role: durable timers and schedules on APScheduler 3.

Flow: a worker's ``QueueTimers`` publishes a timer request on the ``timers`` queue -> every
scheduler replica consumes it and upserts a date-triggered job into the shared job store
(acking only after the commit) -> the one replica holding the leader lock fires due jobs:
it publishes the wrapped hop, and only then deletes the job. A cancel request deletes the job;
a request already due is published at once. Schedules (``schedule:*`` jobs) fire the same way
and start executions. See docs/scheduler.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC
from typing import Any, TypeVar

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from runtime.config import Settings
from runtime.engine.timers import H_TIMER_CANCEL, H_TIMER_KEY, TIMERS_QUEUE, unwrap_timer
from runtime.scheduler.jobs import BindingExecutor, Bindings, ExecutionStarter, publish_due
from runtime.scheduler.jobstore import (
    TABLE,
    Completion,
    JobRow,
    TimerJobStore,
    dispose_job_engine,
    ensure_table,
    is_memory,
    job_engine,
    timer_job_id,
    timer_row,
)
from runtime.scheduler.leader import LeaderLock, leader_lock
from runtime.transport.base import Consumer, Delivery, Transport

log = logging.getLogger("statehop.scheduler")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SchedulerOptions:
    """Tuning of the scheduler role; each can be set as ``STATEHOP_SCHEDULER_<NAME>``."""

    #: seconds a fired job stays claimed; if its publish has not succeeded by then (crash,
    #: broker outage) it fires again
    lease: float = 15.0
    #: the leader looks for due jobs at least this often (jobs added by standbys, schedules
    #: edited through the API)
    poll_interval: float = 1.0
    #: a standby tries to take the leader lock this often
    lock_retry: float = 3.0
    #: the leader checks its lock connection this often
    lock_check: float = 3.0
    #: due jobs claimed per pass
    batch_size: int = 500
    #: fired jobs publishing at once; more due jobs wait in the store
    max_in_flight: int = 2000
    #: unsettled timer requests per scheduler (also the store's write batch)
    prefetch: int = 512
    table: str = TABLE

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> SchedulerOptions:
        source = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = source.get(f"STATEHOP_SCHEDULER_{f.name.upper()}")
            if raw is not None:
                kind = type(getattr(cls(), f.name))
                values[f.name] = kind(raw)
        values.update(overrides)
        return cls(**values)


@dataclass(slots=True)
class SchedulerStats:
    """Counters for health endpoints, logs and tests."""

    stored: int = 0
    cancelled: int = 0
    published_at_once: int = 0
    fired: int = 0
    failed: int = 0
    rejected: int = 0
    leader_since: float | None = None
    leadership_changes: int = 0


@dataclass(slots=True)
class _Request:
    job_id: str
    row: JobRow | None  # None: delete the job
    delivery: Delivery | None  # None: nothing to ack (a past-due request, acked already)


class TimerScheduler:
    """One scheduler replica: consumes timer requests, stores jobs, fires them while leader."""

    def __init__(
        self,
        transport: Transport,
        database_url: str,
        *,
        starter: ExecutionStarter | None = None,
        options: SchedulerOptions | None = None,
        lock: LeaderLock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """``rng``: the random source of schedules' flexible windows and retry jitter (a seeded
        one makes them reproducible in tests)."""
        self.options = options or SchedulerOptions()
        self.transport = transport
        self.database_url = database_url
        self.engine = job_engine(database_url)
        opts = self.options
        self.jobstore = TimerJobStore(
            self.engine,
            tablename=opts.table,
            batch_size=opts.batch_size,
            lease=opts.lease,
            max_in_flight=opts.max_in_flight,
        )
        # in-memory SQLite has one connection: use it from the event loop only
        self._offload = not is_memory(database_url)
        bindings = Bindings(
            transport, starter, jobstore=self.jobstore, rng=rng or random.Random(), offload=self._offload
        )
        self.scheduler = AsyncIOScheduler(
            timezone=UTC,
            jobstores={"default": self.jobstore},
            executors={"default": BindingExecutor(bindings)},
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
        self.lock = lock or leader_lock(database_url, opts.table)
        self.is_leader = False
        self.stats = SchedulerStats()
        self._incoming: list[_Request] = []
        self._completions: list[Completion] = []
        self._incoming_wake = asyncio.Event()
        self._completion_wake = asyncio.Event()
        self._leadership = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._consumer: Consumer | None = None
        self._stopping = False
        self._stopped = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start paused, consume ``timers``, and take the lead if nobody holds it."""
        await self._db(ensure_table, self.jobstore.jobs_t, self.engine)
        self.scheduler.add_listener(
            self._on_event, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED
        )
        self.scheduler.start(paused=True)
        self._tasks = [
            asyncio.create_task(self._store_loop(), name="statehop-scheduler-store"),
            asyncio.create_task(self._completion_loop(), name="statehop-scheduler-finish"),
        ]
        await self._try_lead()
        self._tasks += [
            asyncio.create_task(self._leader_loop(), name="statehop-scheduler-leader"),
            asyncio.create_task(self._poll_loop(), name="statehop-scheduler-poll"),
        ]
        self._consumer = await self.transport.consume(
            TIMERS_QUEUE, self._on_request, prefetch=self.options.prefetch
        )
        log.info(
            "scheduler consuming %s as %s",
            self.transport.topology.queue_name(TIMERS_QUEUE),
            "leader" if self.is_leader else "standby",
        )

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop taking requests, store the ones in hand, let fired jobs finish, let go of the lock."""
        if self._stopped:
            return
        self._stopped = self._stopping = True
        deadline = time.monotonic() + timeout
        if self._consumer is not None:
            await self._consumer.cancel(timeout=max(0.1, deadline - time.monotonic()))
        await self._until(lambda: not self._incoming, deadline)
        if self.is_leader:
            self.scheduler.pause()
        await self._until(lambda: self.jobstore.in_flight <= 0, deadline)
        await self._until(lambda: not self._completions, deadline)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for request in self._incoming:  # the database stayed down: the broker keeps them
            if request.delivery is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(request.delivery.nack(requeue=True), 2.0)
        self._incoming.clear()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler shuts down in a loop callback
        self.is_leader = False
        await self.lock.release()

    async def wait_leader(self, timeout: float | None = None) -> None:
        """Return once this replica leads (tests, health checks)."""
        await asyncio.wait_for(self._leadership.wait(), timeout)

    @staticmethod
    async def _until(done: Callable[[], bool], deadline: float) -> None:
        while not done() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        if self._offload:
            return await asyncio.to_thread(fn, *args)
        return fn(*args)

    # ------------------------------------------------------------------ timer requests

    async def _on_request(self, delivery: Delivery) -> None:
        """Queue a request for the next batched commit; it is acked after that commit."""
        message = delivery.message
        try:
            key = str(message.headers[H_TIMER_KEY])
            if message.headers.get(H_TIMER_CANCEL):
                self.stats.cancelled += 1
                request = _Request(timer_job_id(key), None, delivery)
            else:
                key, due, destination, inner = unwrap_timer(message)
                if due <= time.time():
                    # publish, then ack at once: a crash in between repeats only this one
                    await publish_due(self.transport, destination, inner, due)
                    await _settle([delivery])
                    self.stats.published_at_once += 1
                    request = _Request(timer_job_id(key), None, None)  # and drop an older copy
                else:
                    request = _Request(timer_job_id(key), timer_row(key, due, destination, inner), delivery)
        except (KeyError, ValueError, TypeError) as exc:
            self.stats.rejected += 1
            await delivery.dead_letter(f"not a valid timer request: {type(exc).__name__}: {exc}")
            return
        self._incoming.append(request)
        self._incoming_wake.set()

    async def _store_loop(self) -> None:
        while True:
            await self._incoming_wake.wait()
            self._incoming_wake.clear()
            while self._incoming:
                size = max(1, self.options.prefetch)
                batch = self._incoming[:size]
                puts: dict[str, JobRow] = {}
                deletes: set[str] = set()
                for request in batch:  # in arrival order: the last word on a key wins
                    if request.row is None:
                        puts.pop(request.job_id, None)
                        deletes.add(request.job_id)
                    else:
                        deletes.discard(request.job_id)
                        puts[request.job_id] = request.row
                try:
                    await self._db(self.jobstore.apply_requests, list(puts.values()), list(deletes))
                except Exception as exc:
                    # no nack: redelivering would spend the delivery limit during an outage
                    log.warning("cannot store %d timer request(s), retrying: %s", len(batch), exc)
                    await asyncio.sleep(1.0)
                    continue
                del self._incoming[: len(batch)]
                await _settle([r.delivery for r in batch if r.delivery is not None])
                self.stats.stored += len(puts)
                if puts and self.is_leader:
                    self._wake_for(min(row.next_run_time or 0.0 for row in puts.values()))

    # ------------------------------------------------------------------ firing

    def _on_event(self, event: JobEvent) -> None:
        store = self.jobstore
        if event.code == EVENT_JOB_SUBMITTED:
            store.in_flight += 1
            return
        store.in_flight -= 1
        if event.code == EVENT_JOB_EXECUTED:
            self.stats.fired += 1
            completion = store.take_completion(event.job_id)
            if completion is not None:
                self._completions.append(completion)
                self._completion_wake.set()
        else:
            self.stats.failed += 1
            store.forget_completion(event.job_id)

    async def _completion_loop(self) -> None:
        while True:
            await self._completion_wake.wait()
            self._completion_wake.clear()
            while self._completions:
                batch = self._completions[:1000]
                try:
                    await self._db(self.jobstore.finish, batch)
                    self.jobstore.finished(batch)
                except Exception as exc:
                    log.warning("cannot record %d fired job(s), retrying: %s", len(batch), exc)
                    await asyncio.sleep(1.0)
                    continue
                del self._completions[: len(batch)]

    def _wake_for(self, due: float) -> None:
        """Wake the scheduler only if ``due`` comes before its planned wake-up: a wake-up is
        two queries on the event loop, too many to spend on every stored batch."""
        handle = getattr(self.scheduler, "_timeout", None)  # AsyncIOScheduler's TimerHandle (3.x)
        loop = asyncio.get_running_loop()
        if handle is None or handle.cancelled() or loop.time() + (due - time.time()) < handle.when() - 0.01:
            self.scheduler.wakeup()

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.poll_interval)
            if self.is_leader:
                self.scheduler.wakeup()

    # ------------------------------------------------------------------ leadership

    async def _try_lead(self) -> None:
        if self._stopping or not await self.lock.try_acquire():
            return
        self.is_leader = True
        self.stats.leader_since = time.time()
        self.stats.leadership_changes += 1
        self._leadership.set()
        log.info("scheduler acquired leadership: firing due jobs")
        self.scheduler.resume()

    def _lose(self) -> None:
        self.is_leader = False
        self.stats.leader_since = None
        self.stats.leadership_changes += 1
        self._leadership.clear()
        if self.scheduler.running:
            self.scheduler.pause()
        log.warning("scheduler lost leadership: firing paused")

    async def _leader_loop(self) -> None:
        while True:
            if self.is_leader:
                await asyncio.sleep(self.options.lock_check)
                if not await self.lock.still_held():
                    self._lose()
            else:
                await asyncio.sleep(self.options.lock_retry)
                await self._try_lead()


async def _settle(deliveries: list[Delivery], timeout: float = 5.0) -> None:
    """Ack concurrently, bounded: an ack on a channel whose connection just died can wait
    forever, and must not stall the requests behind it (the broker redelivers those, and
    storing a request twice is an idempotent upsert)."""
    if not deliveries:
        return
    tasks = [asyncio.ensure_future(d.ack()) for d in deliveries]
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    failed = sum(1 for t in done if not t.cancelled() and t.exception() is not None) + len(pending)
    if failed:
        log.warning("%d timer request ack(s) failed or hung; the broker will redeliver them", failed)


def _stop_event() -> asyncio.Event:
    """Set on SIGTERM/SIGINT, unless the host process handles SIGTERM already (``statehop
    serve`` runs this role as a task and cancels it): taking its handler over would leave
    the host deaf to SIGTERM."""
    stop = asyncio.Event()
    if signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None):
        return stop
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    return stop


def _quiet_apscheduler() -> None:
    """APScheduler logs two INFO lines per job run: far too many for timers."""
    for name in ("apscheduler.executors", "apscheduler.scheduler", "apscheduler.jobstores"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


async def run_scheduler(
    settings: Settings,
    ready: asyncio.Event | None = None,
    *,
    options: SchedulerOptions | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Run one scheduler replica until SIGTERM (or ``stop``); then finish what is in hand, exit 0.

    Every replica stores timer requests; the one holding the leader lock fires them.
    """
    from runtime.health import start_health_server
    from runtime.roles import components, store_answers

    opts = options or SchedulerOptions.from_env()
    _quiet_apscheduler()
    stop_event = stop or _stop_event()
    try:
        async with components(settings, in_process_timers=False) as c:
            service = TimerScheduler(c.transport, settings.database_url, starter=c.engine, options=opts)
            await service.start()

            async def scheduler_ready() -> str | None:  # leader or standby: both are ready
                return "stopping" if stop_event.is_set() else await store_answers(c.store)

            health = start_health_server(settings.health_port, settings.api_host, scheduler_ready, stop_event)
            try:
                if ready is not None:
                    ready.set()
                await stop_event.wait()
                log.info("scheduler stopping: storing requests in hand, finishing fired jobs")
            finally:  # also when cancelled (statehop serve): never leave the lock or tasks behind
                await service.stop(timeout=settings.shutdown_timeout)
                if health is not None:
                    await health
    finally:
        dispose_job_engine(settings.database_url)
    return 0


__all__ = ["SchedulerOptions", "SchedulerStats", "TimerScheduler", "run_scheduler"]
