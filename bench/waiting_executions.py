"""Waiting executions at scale: N STANDARD executions parked in a long Wait state.

Question: can a StateHop fleet hold 100,000 executions waiting (a 1-hour Wait) without any
per-execution state in process memory? And what does each waiting execution cost?

Setup, on real RabbitMQ + PostgreSQL (a dedicated database, dropped at the end): ``--workers``
``statehop worker`` processes and one ``statehop scheduler`` process (the console scripts,
started with tests/support/processes.py, default options), and the machine

    Sleep (Wait, Seconds = --wait-seconds, 3600 by default) -> Done (Pass)

(``--pass-first`` puts a Pass state before the Wait, as in the integration test).

How the executions are started (``--start``):

- ``batch`` (default): what ``Engine.start_execution`` does, ``--batch`` executions per store
  transaction: ``create_execution`` + the engine's own ``Engine._begin`` (ExecutionStarted
  event, first hop) + one outbox row per message; after the commit the first hops are
  published together (publisher confirms awaited together) and the outbox rows deleted, as
  ``Engine._flush`` does. ``--writers`` batches are in flight at once. The workers then take
  each first hop like any other: enter the Wait, write the timer request through the outbox,
  publish it on ``timers``; the scheduler stores it as a job row.
- ``api``: ``Engine.start_execution`` itself, ``--concurrency`` at a time (one transaction,
  one confirmed publish and one outbox delete per execution): the public path, slower.

Either way the starter holds back while more than ``--max-backlog`` hops wait in the hops
queue, so the broker never holds more than that: the rate measured is the fleet's.

What it prints:

- the rate at which executions entered the Wait (``WaitStateEntered`` events over time) and
  at which the scheduler stored their timers (job rows), overall and over the middle 80 %;
- resident memory (``VmRSS`` from /proc/<pid>/status; peak = ``VmHWM``) of every worker and
  of the scheduler: before (idle, fleet ready), during (at 25/50/75 % waiting, and the
  highest sample), after (all N waiting, timers stored, the fleet idle), and the slope in
  bytes per waiting execution: ~0 means nothing about a waiting execution stays in memory;
- database rows and bytes per waiting execution, table by table (exact ``count(*)`` and
  ``pg_total_relation_size``), and what the broker holds for them afterwards (nothing).

    .venv/bin/python bench/waiting_executions.py                      # 100,000 executions
    .venv/bin/python bench/waiting_executions.py --count 10000        # quicker
    .venv/bin/python bench/waiting_executions.py --count 2000 --start api

The scratch database ``statehop_bench_<hex>`` (on the server of ``--admin-url``) and every
queue/exchange under the run's prefix are deleted at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/waiting_executions.py`
    sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from runtime.engine.engine import BUILTIN_SERVICE, Engine  # noqa: E402
from runtime.engine.step import TO_EVENT, TO_QUEUE, Step  # noqa: E402
from runtime.engine.timers import TIMERS_QUEUE, QueueTimers  # noqa: E402
from runtime.hop import Hop  # noqa: E402
from runtime.scheduler.jobstore import TABLE as JOB_TABLE  # noqa: E402
from runtime.store import Store  # noqa: E402
from runtime.store import tables as t  # noqa: E402
from runtime.transport import Topology, Transport, create_transport  # noqa: E402
from tests.support.processes import ProcessGroup, RoleConfig, StatehopProcess  # noqa: E402

MIB = 1024 * 1024
ROLE_ARN = "arn:aws:iam::123456789012:role/statehop"


def machine(wait_seconds: int, pass_first: bool) -> dict[str, Any]:
    states: dict[str, Any] = {
        "Sleep": {"Type": "Wait", "Seconds": wait_seconds, "Next": "Done"},
        "Done": {"Type": "Pass", "End": True},
    }
    if pass_first:
        states = {"Prepare": {"Type": "Pass", "Next": "Sleep"}, **states}
    return {
        "Comment": "bench/waiting_executions.py",
        "StartAt": "Prepare" if pass_first else "Sleep",
        "States": states,
    }


# --------------------------------------------------------------------------- memory


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in bytes (psutil is not installed: /proc/<pid>/status)."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    return out


@dataclass
class MemoryWatch:
    """Samples VmRSS of the fleet every ``every`` seconds while the run goes on."""

    processes: list[StatehopProcess]
    every: float = 1.0
    samples: list[tuple[float, dict[str, int]]] = field(default_factory=list)

    def now(self) -> dict[str, int]:
        return {p.name: proc_status(p.pid)["VmRSS"] for p in self.processes if p.alive}

    def peaks(self) -> dict[str, int]:
        return {p.name: proc_status(p.pid)["VmHWM"] for p in self.processes if p.alive}

    def highest(self) -> dict[str, int]:
        top: dict[str, int] = {}
        for _, sample in self.samples:
            for name, rss in sample.items():
                top[name] = max(top.get(name, 0), rss)
        return top

    async def run(self) -> None:
        while True:
            self.samples.append((time.monotonic(), self.now()))
            await asyncio.sleep(self.every)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (/proc/<pid>/stat), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mib(value: float) -> str:
    return f"{value / MIB:.1f}"


# --------------------------------------------------------------------------- the run


@dataclass
class Bench:
    args: argparse.Namespace
    store: Store
    transport: Transport
    engine: Engine
    machine_arn: str
    group: ProcessGroup
    started: int = 0
    progress: list[tuple[float, int, int, int]] = field(default_factory=list)  # (t, started, waiting, jobs)

    async def scalar(self, query: str | sa.Executable) -> int:
        stmt = sa.text(query) if isinstance(query, str) else query
        async with self.store.engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one() or 0)

    async def waiting(self) -> int:
        ev = t.history_events
        stmt = sa.select(sa.func.count()).select_from(ev).where(ev.c.type == "WaitStateEntered")
        return await self.scalar(stmt)

    async def job_rows(self) -> int:
        if await self.scalar(f"SELECT count(*) FROM pg_tables WHERE tablename = '{JOB_TABLE}'") == 0:
            return 0
        return await self.scalar(f"SELECT count(*) FROM {JOB_TABLE} WHERE id LIKE 'timer:%'")

    async def depth(self, queue: str) -> int:
        for attempt in range(40):  # across a reconnect (the shared broker may be restarted)
            try:
                return await self.transport.queue_depth(queue)
            except Exception:
                if attempt == 39:
                    raise
                await asyncio.sleep(0.5)
        raise AssertionError("unreachable")

    def check_fleet(self) -> None:
        for process in self.group.processes:
            if not process.alive:
                raise RuntimeError(f"{process.name} exited {process.returncode}\n{process.tail()}")

    async def check_failures(self) -> None:
        """Fail loudly: an execution that ended, or a dead-lettered hop, spoils the figures."""
        ended = await self.scalar("SELECT count(*) FROM executions WHERE status <> 'RUNNING'")
        dead = await self.depth(Topology.DEAD)
        if ended or dead:
            causes = ""
            async with self.store.engine.connect() as conn:
                rows = await conn.execute(
                    sa.text(
                        "SELECT status, error, left(cause, 300), count(*) FROM executions "
                        "WHERE status <> 'RUNNING' GROUP BY 1, 2, 3"
                    )
                )
                causes = "\n".join(str(tuple(r)) for r in rows)
            raise RuntimeError(
                f"{ended} execution(s) ended and {dead} hop(s) dead-lettered while waiting:\n{causes}\n"
                + "\n".join(p.tail(1500) for p in self.group.processes)
            )

    # -- starting

    async def backpressure(self) -> None:
        while await self.depth(Topology.HOPS) > self.args.max_backlog:
            self.check_fleet()
            await asyncio.sleep(0.2)
        if self.started and self.started % 10_000 < self.args.batch:
            await self.check_failures()

    async def start_batch(self, first: int, count: int) -> None:
        """``count`` executions in one transaction, as Engine.start_execution starts one."""
        steps: list[Step] = []
        async with self.store.transaction() as tx:
            for i in range(first, first + count):
                data = {"id": i}
                started = await tx.create_execution(
                    self.machine_arn, name=f"w-{i:07d}", input=orjson.dumps(data).decode()
                )
                step = Step(Hop(started.execution.arn, self.machine_arn, "", None), self.engine.clock.now())
                await self.engine._begin(tx, started.execution, data, step, None)
                steps.append(step)
            outgoing = [o for step in steps for o in step.outgoing]
            rows = await tx.add_outbox([o.to_outbox() for o in outgoing])
        await self.transport.publish_many(
            (o.target, o.message) for o in outgoing if o.destination == TO_QUEUE
        )
        await asyncio.gather(
            *(
                self.transport.publish_event(o.target, o.message)
                for o in outgoing
                if o.destination == TO_EVENT
            )
        )
        async with self.store.transaction() as tx:
            await tx.delete_outbox(rows)
        self.started += count

    async def start_batches(self) -> None:
        n, size = self.args.count, self.args.batch
        chunks = iter(range(0, n, size))
        lock = asyncio.Lock()

        async def writer() -> None:
            while True:
                async with lock:
                    await self.backpressure()
                    first = next(chunks, None)
                if first is None:
                    return
                await self.start_batch(first, min(size, n - first))

        await asyncio.gather(*(writer() for _ in range(self.args.writers)))

    async def start_api(self) -> None:
        n = self.args.count
        sem = asyncio.Semaphore(self.args.concurrency)

        async def one(i: int) -> None:
            async with sem:
                if i % 500 == 0:
                    await self.backpressure()
                await self.engine.start_execution(self.machine_arn, {"id": i}, f"w-{i:07d}")
                self.started += 1

        for first in range(0, n, 5000):  # bounded number of pending coroutines
            await asyncio.gather(*(one(i) for i in range(first, min(n, first + 5000))))

    # -- watching

    async def watch(self, began: float, every: float = 2.0) -> None:
        while True:
            self.progress.append(
                (time.monotonic() - began, self.started, await self.waiting(), await self.job_rows())
            )
            await asyncio.sleep(every)


def rate(progress: list[tuple[float, int, int, int]], column: int, n: int) -> tuple[float, float, float]:
    """(seconds until ``n`` reached, overall rate, rate between 10 % and 90 % of ``n``)."""
    done_at = next((p[0] for p in progress if p[column] >= n), progress[-1][0])

    def reached(fraction: float) -> float:
        return next(p[0] for p in progress if p[column] >= fraction * n)

    low, high = reached(0.1), reached(0.9)
    middle = 0.8 * n / (high - low) if high > low else float("nan")
    return done_at, n / done_at, middle


async def table_sizes(store: Store, tables: list[str]) -> dict[str, tuple[int, int]]:
    """table -> (rows, bytes incl. indexes and TOAST); exact counts."""
    out: dict[str, tuple[int, int]] = {}
    async with store.engine.connect() as conn:
        for name in tables:
            exists = (await conn.execute(sa.text(f"SELECT to_regclass('{name}')"))).scalar_one()
            if exists is None:
                continue
            rows = (await conn.execute(sa.text(f'SELECT count(*) FROM "{name}"'))).scalar_one()
            size = (await conn.execute(sa.text(f"SELECT pg_total_relation_size('{name}')"))).scalar_one()
            out[name] = (int(rows), int(size))
    return out


async def run(args: argparse.Namespace) -> None:
    n = args.count
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="statehop-bench-waiting-"))
    admin = make_url(args.admin_url).set(drivername="postgresql+asyncpg")
    db_name = f"statehop_bench_{uuid.uuid4().hex[:10]}"
    admin_engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    async with admin_engine.connect() as conn:
        await conn.exec_driver_sql(f'CREATE DATABASE "{db_name}"')
    database_url = admin.set(database=db_name).render_as_string(hide_password=False)
    store = Store(database_url, pool_size=4)
    transport = create_transport(args.amqp_url, Topology(prefix=prefix), publish_timeout=120.0)
    group: ProcessGroup | None = None
    watcher: list[asyncio.Task[None]] = []
    print(
        f"waiting_executions: {n:,} STANDARD executions into a {args.wait_seconds}s Wait, "
        f"{args.workers} workers (prefetch {args.prefetch}) + 1 scheduler, start={args.start}, "
        "PostgreSQL + RabbitMQ, "
        f"prefix {prefix}, database {db_name}, logs in {workdir}",
        flush=True,
    )
    try:
        await store.migrate()
        await transport.start()
        for queue in (TIMERS_QUEUE, Topology.task_queue(BUILTIN_SERVICE)):  # deleted with the topology
            await transport.ensure_queue(queue)
        engine = Engine(store, transport, QueueTimers(transport))  # publishes only
        async with store.transaction() as tx:
            sm = await tx.create_state_machine(
                "waiting", json.dumps(machine(args.wait_seconds, args.pass_first)), role_arn=ROLE_ARN
            )
        config = RoleConfig(
            args.amqp_url,
            database_url,
            prefix,
            # a worker logs nothing per hop at INFO; STATEHOP_PREFETCH (default 64) bounds the
            # hops a worker runs at once, hence its database connections (its pool may open 20):
            # the PostgreSQL server is shared (max_connections 100)
            extra={"STATEHOP_LOG_LEVEL": "INFO", "STATEHOP_PREFETCH": str(args.prefetch)},
        )
        group = ProcessGroup(config, workdir)
        scheduler = group.spawn("scheduler", "scheduler")
        workers = [group.spawn("worker", f"worker-{k + 1}") for k in range(args.workers)]
        await asyncio.gather(
            scheduler.wait_for_log("acquired leadership", 120), *(w.wait_ready(120) for w in workers)
        )
        bench = Bench(args, store, transport, engine, str(sm.arn), group)
        memory = MemoryWatch([*workers, scheduler])
        await asyncio.sleep(3.0)  # settle after start-up
        before = memory.now()
        cpu_before = {p.name: cpu_seconds(p.pid) for p in memory.processes}
        cpu_self = time.process_time()
        db_before = await table_sizes(store, [JOB_TABLE, *t.metadata.tables])

        began = time.monotonic()
        watcher = [asyncio.create_task(memory.run()), asyncio.create_task(bench.watch(began))]
        if args.start == "batch":
            await bench.start_batches()
        else:
            await bench.start_api()
        started_in = time.monotonic() - began
        print(f"started {n:,} executions in {started_in:.1f}s ({n / started_in:,.0f}/s)", flush=True)

        marks: dict[float, dict[str, int]] = {}
        deadline = time.monotonic() + args.timeout
        while True:
            waiting, jobs = await bench.waiting(), await bench.job_rows()
            for fraction in (0.25, 0.5, 0.75):
                if fraction not in marks and waiting >= fraction * n:
                    marks[fraction] = memory.now()
            if waiting >= n and jobs >= n:
                break
            bench.check_fleet()
            await bench.check_failures()
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"not all waiting after {args.timeout:.0f}s: {waiting} waiting, {jobs} stored"
                )
            await asyncio.sleep(0.5)
        all_in = time.monotonic() - began
        cpu = {p.name: cpu_seconds(p.pid) - cpu_before[p.name] for p in memory.processes}
        cpu["starter"] = time.process_time() - cpu_self
        bench.progress.append((all_in, bench.started, n, n))
        await bench.check_failures()
        await asyncio.sleep(5.0)  # the fleet goes idle: what stays resident now is per-process
        for _ in range(40):  # published outbox rows go with a worker's next transaction or relay
            if not await bench.scalar("SELECT count(*) FROM outbox"):
                break
            await asyncio.sleep(0.5)
        after = memory.now()
        peaks = memory.peaks()
        highest = memory.highest()
        for task in watcher:
            task.cancel()
        db_after = await table_sizes(store, [JOB_TABLE, *t.metadata.tables])
        async with store.engine.connect() as conn:
            db_total = (
                await conn.execute(sa.text("SELECT pg_database_size(current_database())"))
            ).scalar_one()
        broker = {q: await bench.depth(q) for q in (Topology.HOPS, TIMERS_QUEUE, Topology.DEAD)}
        outbox = db_after.get("outbox", (0, 0))[0]
        statuses = await bench.scalar("SELECT count(*) FROM executions WHERE status = 'RUNNING'")

        # ------------------------------------------------------------------ report
        wait_done, wait_rate, wait_mid = rate(bench.progress, 2, n)
        job_done, job_rate, job_mid = rate(bench.progress, 3, n)
        print(
            f"\nentered the Wait: {n:,} in {wait_done:.1f}s: {wait_rate:,.0f}/s overall, "
            f"{wait_mid:,.0f}/s from 10 % to 90 %"
        )
        print(
            f"timers stored:    {n:,} job rows after {job_done:.1f}s: {job_rate:,.0f}/s overall, "
            f"{job_mid:,.0f}/s from 10 % to 90 %"
        )
        print(f"afterwards:       {statuses:,} RUNNING, outbox {outbox}, broker queues {broker}")
        print(
            "CPU per execution: "
            + ", ".join(f"{name} {seconds / n * 1000:.2f} ms" for name, seconds in cpu.items())
            + f" (all in {all_in:.0f}s)"
        )
        print(
            "\nresident memory, MiB (VmRSS at the first 25/50/75 % waiting; highest of the 1 s samples;"
            " peak = VmHWM over the process's life). 'growth' = (after - at 25 %) / the 75 % of the"
            " executions that came after: the memory a waiting execution leaves in the process"
        )
        names = list(before)
        header = f"{'process':<12}{'before':>9}{'25 %':>9}{'50 %':>9}{'75 %':>9}{'highest':>9}{'after':>9}"
        print(header + f"{'peak':>9}{'after-before':>14}{'growth B/exec':>15}")
        for name in names:
            cells = [before[name], *(marks.get(f, {}).get(name, 0) for f in (0.25, 0.5, 0.75))]
            cells += [highest.get(name, 0), after.get(name, 0), peaks.get(name, 0)]
            delta = after.get(name, 0) - before[name]
            growth = (after.get(name, 0) - marks.get(0.25, {}).get(name, 0)) / (0.75 * n)
            print(f"{name:<12}" + "".join(f"{mib(c):>9}" for c in cells) + f"{mib(delta):>14}{growth:>15.1f}")
        print("\ndatabase per waiting execution (rows and bytes incl. indexes, after - before)")
        print(f"{'table':<26}{'rows':>10}{'rows/exec':>11}{'MiB':>9}{'bytes/exec':>12}")
        total_bytes = 0
        for name, (rows, size) in sorted(db_after.items()):
            rows0, size0 = db_before.get(name, (0, 0))
            if rows == rows0 and size == size0:
                continue
            total_bytes += size - size0
            print(
                f"{name:<26}{rows - rows0:>10,}{(rows - rows0) / n:>11.2f}{mib(size - size0):>9}"
                f"{(size - size0) / n:>12,.0f}"
            )
        print(f"{'all tables':<26}{'':>10}{'':>11}{mib(total_bytes):>9}{total_bytes / n:>12,.0f}")
        print(f"database size now {mib(db_total)} MiB")
        if args.json:
            Path(args.json).write_text(
                json.dumps(
                    {
                        "count": n,
                        "started_in": started_in,
                        "wait": [wait_done, wait_rate, wait_mid],
                        "jobs": [job_done, job_rate, job_mid],
                        "before": before,
                        "marks": {str(k): v for k, v in marks.items()},
                        "highest": highest,
                        "after": after,
                        "peaks": peaks,
                        "db_before": db_before,
                        "db_after": db_after,
                        "broker": broker,
                        "cpu": cpu,
                        "progress": bench.progress,
                        "load": os.getloadavg(),
                    },
                    indent=1,
                )
            )
        print(f"load average at the end {os.getloadavg()}", flush=True)
    finally:
        for task in watcher:
            task.cancel()
        if group is not None:
            for process in group.processes:
                process.terminate()
            with contextlib.suppress(AssertionError):
                await asyncio.gather(*(p.wait_exit(30) for p in group.processes))
            group.close()
        try:
            await transport.delete_topology()
        except Exception as exc:  # the database still goes
            print(f"could not delete the topology of {prefix}: {exc}", file=sys.stderr)
        with contextlib.suppress(Exception):
            await transport.close()
        await store.close()
        async with admin_engine.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        await admin_engine.dispose()
        print(f"dropped database {db_name}; deleted the queues of {prefix}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=100_000, help="executions (default 100,000)")
    parser.add_argument("--wait-seconds", type=int, default=3600, help="the Wait's Seconds")
    parser.add_argument("--pass-first", action="store_true", help="Prepare (Pass) -> Sleep -> Done")
    parser.add_argument("--workers", type=int, default=2, help="statehop worker processes")
    parser.add_argument("--prefetch", type=int, default=16, help="STATEHOP_PREFETCH of the workers")
    parser.add_argument("--start", choices=["batch", "api"], default="batch")
    parser.add_argument("--batch", type=int, default=500, help="executions per start transaction (batch)")
    parser.add_argument("--writers", type=int, default=2, help="start transactions in flight (batch)")
    parser.add_argument("--concurrency", type=int, default=32, help="start_execution calls at once (api)")
    parser.add_argument("--max-backlog", type=int, default=5000, help="hops allowed to wait in the queue")
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up after this many seconds")
    parser.add_argument(
        "--amqp-url", default=os.environ.get("STATEHOP_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    )
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("STATEHOP_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="server where the scratch database is created",
    )
    parser.add_argument("--workdir", help="where the role processes' logs go (default: a temp dir)")
    parser.add_argument("--json", help="also write the figures to this file")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
