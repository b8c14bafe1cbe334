"""Durable timers end to end: 1,000 STANDARD executions waiting in a Wait state survive a
SIGKILL of the scheduler (issue "Durable timers", must-show 3).

Real RabbitMQ + PostgreSQL, two ``statehop worker`` processes and one ``statehop scheduler``
process (the console scripts, configured by STATEHOP_* variables; tests/support/processes.py).
The machine is ``Prepare (Pass) -> Sleep (Wait, TimestampPath) -> Done (Pass)``; execution i
waits until ``base + SPREAD * i / N`` (microsecond timestamps), so every due time is known
exactly. The run:

1. scheduler A and two workers start; 1,000 executions are started through an engine that only
   publishes (it consumes nothing);
2. once every execution has entered the Wait (1,000 ``WaitStateEntered`` events) and every
   timer is held by the scheduler side (a job row, or a request still on ``timers``), and
   before the first one is due, A is SIGKILLed;
3. scheduler B is spawned when the first timer comes due; while it starts and takes the lead,
   more come due, so some fire *late* (on B's takeover: "late rather than never") and the rest
   on time.

What is checked, from the store and the broker, never from timing alone:

- every execution SUCCEEDED with the output its input determines;
- every history is exactly ``ExecutionStarted, PassStateEntered/Exited (Prepare),
  WaitStateEntered/Exited (Sleep), PassStateEntered/Exited (Done), ExecutionSucceeded`` with
  ids 1..8: one WaitStateExited and one entry of Done per execution;
- none resumed before its due time: ``WaitStateExited`` is stamped at or after the due time,
  and a *tap* queue bound to the hops exchange received no resume hop before it (the tap's
  stamp is this process's arrival time: a little after the broker routed the hop);
- exactly-once transitions: 4 applied hop ids per execution, whatever the scheduler published
  twice (the tap counts copies; the engine drops them by message id);
- afterwards the job table, the outbox and every queue are empty, nothing dead-lettered.

Also here:

- a regression test for a defect found while writing this one (fixed): a timer's due time
  was truncated to the millisecond on its way to the scheduler, so the job store could fire a
  Wait up to 1 ms early; it is now rounded up;
- a regression test for a defect bench/waiting_executions.py ran into (since fixed): a
  PostgreSQL server at its connection limit failed executions instead of delaying them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from runtime.engine.clock import Clock
from runtime.engine.engine import BUILTIN_SERVICE, Engine
from runtime.engine.timers import TIMERS_QUEUE, MemoryTimers, QueueTimers, timer_request, unwrap_timer
from runtime.hop import H_EXECUTION, H_KIND, hop_message_id
from runtime.scheduler.jobstore import TABLE, TimerJobStore, dispose_job_engine, job_engine, timer_row
from runtime.store import Store
from runtime.store import tables as t
from runtime.store.records import ExecutionStatus
from runtime.transport import Message, Topology, Transport, create_transport
from runtime.transport.memory import MemoryBroker, MemoryTransport
from tests.support.db import create_postgres_database, drop_postgres_database, require_postgres
from tests.support.processes import ProcessGroup, RoleConfig, StatehopProcess, new_prefix

pytest_plugins = ["tests.support.broker"]

N = 1000
#: seconds from starting the executions to the first due time: room for starting 1,000
#: executions (Engine.start_execution, 50 at a time), 2,000 hops and storing 1,000 timers on a
#: busy 2-core machine (measured: ~36 s at load average 5-7)
LEAD = 60.0
#: due times are spread evenly over this many seconds
SPREAD = 12.0
#: scheduler B is spawned this long after the first due time; it takes a few seconds to start
#: and lead, so the timers due meanwhile fire late (on takeover) and the rest on time
DOWNTIME_AFTER_FIRST_DUE = 0.0
FINISH_TIMEOUT = 60.0
LEADER_LOG = "acquired leadership"

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

MACHINE: dict[str, Any] = {
    "Comment": "StateHop durable-timer test",
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Parameters": {"id.$": "$.id", "until.$": "$.until"}, "Next": "Sleep"},
        "Sleep": {"Type": "Wait", "TimestampPath": "$.until", "Next": "Done"},
        "Done": {
            "Type": "Pass",
            "Parameters": {"id.$": "$.id", "until.$": "$.until", "waited": True},
            "End": True,
        },
    },
}

#: (type, state name) of every event of one execution, in order (ids 1..8)
EXPECTED_HISTORY = [
    ("ExecutionStarted", None),
    ("PassStateEntered", "Prepare"),
    ("PassStateExited", "Prepare"),
    ("WaitStateEntered", "Sleep"),
    ("WaitStateExited", "Sleep"),
    ("PassStateEntered", "Done"),
    ("PassStateExited", "Done"),
    ("ExecutionSucceeded", None),
]
HOPS_PER_EXECUTION = 4  # enter Prepare, enter Sleep, resume Sleep, enter Done
RESUME_SEQ = 2  # Prepare is seq 0, Sleep's entry seq 1, its resume hop seq 2


def iso(epoch: float) -> str:
    """RFC 3339 with microseconds, as a TimestampPath takes it."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def resume_key(arn: str) -> str:
    """The timer key (= message id) of an execution's resume hop."""
    return hop_message_id(arn, "", RESUME_SEQ, "resume")


# --------------------------------------------------------------------------- the tap


@dataclass
class Tap:
    """An exclusive queue bound to the hops exchange for ``hops`` and ``timers``: RabbitMQ
    copies every hop and timer request to it, and we stamp each arrival with this clock."""

    url: str
    exchange: str
    queue_name: str
    resumes: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    requests: Counter[str] = field(default_factory=Counter)
    other: Counter[str] = field(default_factory=Counter)
    connection: Any = None

    async def start(self) -> None:
        self.connection = await aio_pika.connect_robust(self.url)
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=1000)
        queue = await channel.declare_queue(self.queue_name, exclusive=True, auto_delete=True)
        await queue.bind(self.exchange, routing_key=Topology.HOPS)
        await queue.bind(self.exchange, routing_key=TIMERS_QUEUE)
        await queue.consume(self._on_message, no_ack=True)

    async def _on_message(self, message: Any) -> None:
        arrived = time.time()
        headers = message.headers or {}
        if message.routing_key == TIMERS_QUEUE:
            self.requests[str(headers.get("x-sh-timer-key"))] += 1
        elif headers.get(H_KIND) == "resume":
            self.resumes[str(headers.get(H_EXECUTION))].append(arrived)
        else:
            self.other[str(headers.get(H_KIND))] += 1

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()


# --------------------------------------------------------------------------- the fleet


@dataclass
class Run:
    prefix: str
    database_url: str
    store: Store
    transport: Transport
    starter: Engine
    group: ProcessGroup
    machine_arn: str
    tap: Tap

    async def scalar(self, query: str | sa.Executable) -> int:
        stmt = sa.text(query) if isinstance(query, str) else query
        async with self.store.engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def events_of_type(self, event_type: str) -> int:
        ev = t.history_events
        return await self.scalar(sa.select(sa.func.count()).select_from(ev).where(ev.c.type == event_type))

    async def job_ids(self) -> set[str]:
        async with self.store.engine.connect() as conn:
            exists = (await conn.execute(sa.text(f"SELECT to_regclass('{TABLE}')"))).scalar_one()
            if exists is None:
                return set()
            return set((await conn.execute(sa.text(f"SELECT id FROM {TABLE}"))).scalars())

    async def outbox(self) -> int:
        return await self.scalar(sa.select(sa.func.count()).select_from(t.outbox))

    async def statuses(self) -> Counter[str]:
        ex = t.executions
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(sa.select(ex.c.status, sa.func.count()).group_by(ex.c.status))).all()
        return Counter({str(status): int(count) for status, count in rows})

    async def depth(self, queue: str) -> int:
        for attempt in range(20):  # across a reconnect (the shared broker may be restarted)
            try:
                return await self.transport.queue_depth(queue)
            except Exception:
                if attempt == 19:
                    raise
                await asyncio.sleep(0.5)
        raise AssertionError("unreachable")

    async def start_executions(self, dues: list[float], concurrency: int = 50) -> dict[str, int]:
        """Start execution i waiting until ``dues[i]``; returns arn -> i."""
        arns: dict[str, int] = {}
        sem = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with sem:
                execution = await self.starter.start_execution(
                    self.machine_arn, {"id": i, "until": iso(dues[i])}, f"wait-{i:04d}"
                )
                arns[execution.arn] = i

        await asyncio.gather(*(one(i) for i in range(len(dues))))
        return arns

    async def until(self, what: str, check: Any, timeout: float, every: float = 0.25) -> Any:
        """Poll ``check()`` (async, returns a truthy value when done) within ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            value = await check()
            if value:
                return value
            for process in self.group.processes:
                if process.role == "worker" and not process.alive:
                    raise AssertionError(f"{process.name} died while waiting for {what}\n{process.tail()}")
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"{what}: not reached within {timeout:.0f}s (load average {os.getloadavg()})\n"
                    f"{self.group.tails()}"
                )
            await asyncio.sleep(every)


@pytest.fixture
async def run(amqp_url: str, tmp_path: Path) -> AsyncIterator[Run]:
    admin = require_postgres()
    database_url = await create_postgres_database(admin)
    prefix = new_prefix()
    store = Store(database_url, pool_size=5)
    try:
        await store.migrate()  # once here: three processes starting together would race on it
        transport = create_transport(
            amqp_url, Topology(prefix=prefix), publish_timeout=60.0, connection_name=f"statehop-test-{prefix}"
        )
        await transport.start()
        try:
            # declared here too, so delete_topology removes what the roles declare
            for queue in (TIMERS_QUEUE, Topology.task_queue(BUILTIN_SERVICE)):
                await transport.ensure_queue(queue)
            starter = Engine(store, transport, QueueTimers(transport))  # publishes only
            async with store.transaction() as tx:
                machine = await tx.create_state_machine(
                    "waiting", json.dumps(MACHINE), role_arn="arn:aws:iam::123456789012:role/statehop"
                )
            tap = Tap(amqp_url, transport.topology.exchange, f"{prefix}.tap")
            await tap.start()
            # STATEHOP_PREFETCH bounds the hops a worker runs at once, hence its database
            # connections (a worker's pool may open 20; the server is shared, max_connections 100)
            config = RoleConfig(amqp_url, database_url, prefix, extra={"STATEHOP_PREFETCH": "16"})
            group = ProcessGroup(config, tmp_path / "logs")
            try:
                yield Run(prefix, database_url, store, transport, starter, group, str(machine.arn), tap)
            finally:
                group.close()  # SIGKILL whatever still runs before its queues go away
                await tap.close()
        finally:
            try:
                await transport.delete_topology()
            finally:
                await transport.close()
    finally:
        await store.close()
        await drop_postgres_database(admin, database_url)


async def start_scheduler(run: Run, name: str, timeout: float = 45.0) -> StatehopProcess:
    """``statehop scheduler`` (default options); returns once it holds the leader lock."""
    scheduler = run.group.spawn("scheduler", name)
    await scheduler.wait_for_log(LEADER_LOG, timeout)
    return scheduler


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"min {ordered[0]:.3f}s p50 {statistics.median(ordered):.3f}s p99 {p99:.3f}s max {ordered[-1]:.3f}s"
    )


# --------------------------------------------------------------------------- the test


async def test_1000_waiting_executions_survive_sigkill_of_the_scheduler(run: Run) -> None:
    began = time.monotonic()
    marks: dict[str, float] = {}

    def mark(name: str) -> None:
        marks[name] = time.monotonic() - began

    scheduler_a, *workers = await asyncio.gather(
        start_scheduler(run, "scheduler-a"),
        run.group.start_worker("worker-1"),
        run.group.start_worker("worker-2"),
    )
    mark("scheduler A leads, 2 workers consuming")

    base = time.time() + LEAD
    dues = [base + SPREAD * i / N + 0.000_437 for i in range(N)]  # sub-millisecond due times
    arns = await run.start_executions(dues)
    assert len(arns) == N
    due_of = {arn: dues[i] for arn, i in arns.items()}
    mark(f"{N} executions started")

    # 1. every execution waits, every timer is held on the scheduler side
    async def all_waiting() -> bool:
        return await run.events_of_type("WaitStateEntered") == N

    await run.until(f"{N} WaitStateEntered events", all_waiting, LEAD)
    mark("all entered the Wait")

    async def timers_held() -> tuple[set[str], int] | None:
        """(job ids, requests queued) once every timer request reached the scheduler side
        (outbox rows may linger after their publish: a worker deletes them later). Rows are
        read first: a request stored between the two reads is missed, never counted twice."""
        ids = await run.job_ids()
        ready = await run.depth(TIMERS_QUEUE)
        return (ids, ready) if len(ids) + ready >= N else None

    job_ids_at_kill, queued_at_kill = await run.until("timers stored or queued", timers_held, 30.0)
    rows_at_kill = len(job_ids_at_kill)
    assert time.time() < dues[0] - 0.5, (
        f"the executions took too long to reach the Wait: the first timer is due in "
        f"{dues[0] - time.time():.1f}s, before the scheduler could be killed; raise LEAD ({LEAD}s)"
    )
    assert await run.events_of_type("WaitStateExited") == 0, "an execution resumed before any timer was due"
    assert sum(len(v) for v in run.tap.resumes.values()) == 0, "a resume hop was published before any was due"
    # the job table holds each execution's resume timer (keyed by the resume hop's id), or the
    # request is still on the queue
    expected_jobs = {f"timer:{resume_key(arn)}" for arn in arns}
    assert job_ids_at_kill <= expected_jobs, sorted(job_ids_at_kill - expected_jobs)[:5]
    assert len(job_ids_at_kill) + queued_at_kill == N

    # 2. SIGKILL the scheduler while all 1,000 wait
    scheduler_a.kill()
    killed_at = time.time()
    assert await scheduler_a.wait_exit(10) == -9
    mark(f"SIGKILL scheduler A ({rows_at_kill} job rows, {queued_at_kill} requests queued)")

    # 3. the new scheduler is spawned when the first timer comes due: those due before it leads
    # fire late, on takeover
    await asyncio.sleep(max(0.0, dues[0] + DOWNTIME_AFTER_FIRST_DUE - time.time()))
    spawned_at = time.time()
    scheduler_b = await start_scheduler(run, "scheduler-b")
    leading_at = time.time()
    mark("scheduler B leads")
    due_while_down = sum(1 for d in dues if d < leading_at)

    async def all_ended() -> Counter[str] | None:
        counts = await run.statuses()
        return counts if counts["RUNNING"] == 0 and sum(counts.values()) == N else None

    await run.until("every execution ended", all_ended, FINISH_TIMEOUT + max(0.0, dues[-1] - time.time()))
    mark("all ended")
    await asyncio.sleep(1.5)  # room for a late duplicate to reach the tap and the workers

    # --------------------------------------------------------------- the checks
    wrong: list[str] = []
    counts = await run.statuses()
    if counts != Counter({"SUCCEEDED": N}):
        wrong.append(f"statuses {dict(counts)}")

    ex, ev = t.executions, t.history_events
    async with run.store.engine.connect() as conn:
        records = {
            r.arn: r
            for r in (await conn.execute(sa.select(ex.c.id, ex.c.arn, ex.c.status, ex.c.output))).all()
        }
        rows = (
            await conn.execute(
                sa.select(
                    ev.c.execution_id,
                    ev.c.event_id,
                    ev.c.previous_event_id,
                    ev.c.timestamp,
                    ev.c.type,
                    ev.c.details,
                ).order_by(ev.c.execution_id, ev.c.event_id)
            )
        ).all()
    histories: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        histories[row.execution_id].append(row)

    resumed_late: list[float] = []  # WaitStateExited - due, seconds
    for arn, i in sorted(arns.items(), key=lambda kv: kv[1]):
        record = records[arn]
        name = f"wait-{i:04d}"
        expected_output = {"id": i, "until": iso(dues[i]), "waited": True}
        if str(record.status) != "SUCCEEDED" or orjson.loads(record.output or "null") != expected_output:
            wrong.append(f"{name}: {record.status} output {record.output}")
        events = histories[record.id]
        ids = [e.event_id for e in events]
        if ids != list(range(1, len(events) + 1)) or [e.previous_event_id for e in events][1:] != ids[:-1]:
            wrong.append(f"{name}: event ids not contiguous: {ids}")
        shape = [(e.type, (orjson.loads(e.details) if e.details else {}).get("name")) for e in events]
        if shape != EXPECTED_HISTORY:
            wrong.append(f"{name}: history {shape}")
            continue
        entered, exited, done = events[3].timestamp, events[4].timestamp, events[5].timestamp
        late = exited.timestamp() - dues[i]
        resumed_late.append(late)
        if late < 0:
            wrong.append(f"{name}: resumed {-late:.6f}s BEFORE its due time {iso(dues[i])}")
        if entered.timestamp() >= killed_at:
            wrong.append(f"{name}: entered the Wait after the kill")
        if not (entered <= exited <= done):
            wrong.append(f"{name}: timestamps out of order {entered} {exited} {done}")

    applied = await run.scalar(sa.select(sa.func.count()).select_from(t.applied_messages))
    if applied != HOPS_PER_EXECUTION * N:
        wrong.append(f"{applied} hop ids applied, expected exactly {HOPS_PER_EXECUTION * N}")

    # the broker's view: every resume hop published at least once, none reached the tap early
    fired_early = {
        arn: min(times) - due_of[arn] for arn, times in run.tap.resumes.items() if min(times) < due_of[arn]
    }
    never_fired = [arn for arn in arns if arn not in run.tap.resumes]
    copies = Counter(len(times) for times in run.tap.resumes.values())
    if fired_early:
        wrong.append(
            f"{len(fired_early)} resume hop(s) at the tap before due: {list(fired_early.values())[:5]}"
        )
    if never_fired:
        wrong.append(f"{len(never_fired)} resume hop(s) never seen by the tap (was the broker restarted?)")
    fire_lag = [min(times) - due_of[arn] for arn, times in run.tap.resumes.items()]
    lag_down = [
        min(run.tap.resumes[a]) - due_of[a] for a in arns if a in run.tap.resumes and due_of[a] < leading_at
    ]
    lag_up = [
        min(run.tap.resumes[a]) - due_of[a] for a in arns if a in run.tap.resumes and due_of[a] >= leading_at
    ]

    async def outbox_empty() -> bool:  # published rows are deleted by a later transaction
        return await run.outbox() == 0  # of their worker, or by its relay (every 5 s)

    with contextlib.suppress(AssertionError):
        await run.until("the outbox to empty", outbox_empty, 20.0)
    left = {
        "job rows": len(await run.job_ids()),
        "outbox": await run.outbox(),
        **{q: await run.depth(q) for q in (TIMERS_QUEUE, Topology.HOPS, Topology.REPLIES, Topology.DEAD)},
    }
    if any(left.values()):
        wrong.append(f"left behind: {left}")
    for process in [scheduler_b, *workers]:
        if not process.alive:
            wrong.append(f"{process.name} exited {process.returncode}\n{process.tail()}")
        elif "Traceback" in process.log():
            wrong.append(f"{process.name} logged a traceback\n{process.tail()}")

    report = (
        f"\n[waiting executions] {N} executions, due times over {SPREAD:.0f}s from +{LEAD:.0f}s; "
        + ", ".join(f"{name} at {at:.1f}s" for name, at in marks.items())
        + f"\n  scheduler down {leading_at - killed_at:.1f}s (B spawned {spawned_at - killed_at:.1f}s "
        f"after the kill, leading {leading_at - spawned_at:.1f}s later); "
        f"{due_while_down} timers came due meanwhile"
        f"\n  resume hop reached the tap - due: all {spread(fire_lag)}"
        f"\n      due while no scheduler ran ({len(lag_down)}): {spread(lag_down)}"
        f"\n      due after the takeover ({len(lag_up)}): {spread(lag_up)}"
        f"\n  WaitStateExited - due (history): {spread(resumed_late)}"
        f"\n  resume hops per execution seen by the tap: {dict(sorted(copies.items()))} "
        f"(copies are dropped by hop id: {applied} hop ids applied); "
        f"timer requests per key: {dict(Counter(run.tap.requests.values()))}"
    )
    print(report)
    assert not wrong, f"{len(wrong)} problem(s):\n" + "\n".join(wrong[:40]) + report
    assert len(run.tap.requests) == N, f"{len(run.tap.requests)} distinct timer requests seen, expected {N}"

    scheduler_b.terminate()
    assert await scheduler_b.wait_exit(30) == 0, scheduler_b.tail()


# --------------------------------------------------------------------------- due-time rounding


def test_timer_due_time_is_never_before_the_wait(tmp_path: Path) -> None:
    """A Wait due at ...00.000437: its job must not be due at ...00.0002 (before the Wait)."""
    wait_due = datetime(2030, 1, 1, tzinfo=UTC).timestamp() + 0.000_437
    request = timer_request("k", wait_due, Topology.HOPS, Message(b"{}", message_id="k"))
    key, due, destination, inner = unwrap_timer(request)
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    store = TimerJobStore(job_engine(url))
    try:
        store.start(None, "default")
        store.apply_requests([timer_row(key, due, destination, inner)], [])
        before_the_wait = datetime.fromtimestamp(wait_due - 0.000_2, UTC)
        claimed = [job.id for job in store.get_due_jobs(before_the_wait)]
    finally:
        dispose_job_engine(url)
    # milliseconds on the wire: the stored due time is rounded up, never before the Wait
    assert wait_due <= due < wait_due + 0.001 and claimed == [], (
        f"the Wait is due at {wait_due!r}; the scheduler stores {due!r} and claims {claimed} "
        f"{wait_due - due:.6f}s before it"
    )


# --------------------------------------------------------------------------- regression


async def test_store_at_its_connection_limit_is_retried_not_fatal() -> None:
    """Regression, against a real refusal: PostgreSQL refuses the worker's connections for ~2 s
    with SQLSTATE 53300 (too_many_connections; here a role CONNECTION LIMIT, the same error as
    "sorry, too many clients already"). The hop must be retried like a lost connection or a
    deadlock, and the execution SUCCEED once a connection is free; nothing dead-lettered.

    Found by bench/waiting_executions.py on the shared server at 65f4303: 156 of 10,000
    executions FAILED with States.Runtime "DBAPIError: ... sorry, too many clients already" and 25
    stayed RUNNING with their hop dead-lettered (recording the failure could not connect either).
    Fixed in 0d3e4e0 (runtime/engine/engine.py is_transient: SQLSTATE classes 08, 53, 57P0x),
    table-tested with constructed errors in tests/engine/test_transient_errors.py; this test
    checks the error a real server sends."""
    admin = require_postgres()
    url = await create_postgres_database(admin)
    role = f"statehop_t_{uuid.uuid4().hex[:12]}"
    server = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    owner = Store(url)  # superuser: not subject to connection limits
    limited: Store | None = None
    blocker: Any = None
    transport = MemoryTransport(Topology(prefix="bug53300"), MemoryBroker())
    try:
        await owner.migrate()
        async with server.connect() as conn:
            # 2: the worker's hop-commit pool keeps one connection open (runtime/store/hopcommit.py);
            # the other is the one the blocker below takes from the worker's SQLAlchemy pool
            await conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 2')
        async with owner.engine.connect() as conn:
            for grant in ("USAGE ON SCHEMA public", "ALL ON ALL TABLES IN SCHEMA public"):
                await conn.exec_driver_sql(f'GRANT {grant} TO "{role}"')
            await conn.exec_driver_sql(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
            await conn.commit()
        async with owner.transaction() as tx:
            machine = await tx.create_state_machine(
                "one-pass",
                '{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}',
                role_arn="arn:aws:iam::123456789012:role/statehop",
            )
        await transport.start()
        limited_url = make_url(url).set(username=role)
        limited = Store(limited_url, pool_size=1)
        worker = Engine(limited, transport, MemoryTimers(transport, Clock()))
        await worker.start()
        await limited.engine.dispose()  # no pooled connection left: the next hop must connect
        blocker = await asyncpg.connect(
            user=role, host=limited_url.host, port=limited_url.port or 5432, database=limited_url.database
        )  # the role's last free connection: the worker's connects now fail with SQLSTATE 53300
        starter = Engine(owner, transport, MemoryTimers(transport, Clock()))  # publishes only
        execution = await starter.start_execution(str(machine.arn), {"n": 1}, "refused")
        await asyncio.sleep(2.0)  # the worker meets "too many connections" meanwhile
        await blocker.close()
        blocker = None
        deadline = time.monotonic() + 15.0
        while True:
            async with owner.transaction() as tx:
                record = await tx.get_execution(execution.arn)
            if record.status != ExecutionStatus.RUNNING or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        dead = await transport.queue_depth(Topology.DEAD)
        assert (str(record.status), dead) == ("SUCCEEDED", 0), (
            f"after the store refused connections for 2 s (SQLSTATE 53300) the execution is "
            f"{record.status} ({record.error}: {(record.cause or '')[:160]}) and {dead} hop(s) were "
            "dead-lettered; expected the hop to be retried like any transient store error"
        )
    finally:
        if blocker is not None:
            await blocker.close()
        await transport.close()
        if limited is not None:
            await limited.close()
        await owner.close()
        await drop_postgres_database(admin, url)
        async with server.connect() as conn:
            await conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        await server.dispose()
