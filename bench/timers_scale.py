"""Timers at scale: 100,000 durable timers in the scheduler's job store.

What it measures, on real RabbitMQ + PostgreSQL, with the scheduler in its own process
(``python -m runtime.scheduler``, the production code path):

1. **Store**: publish N timer requests due in ``--horizon`` seconds on the ``timers`` queue;
   time until the scheduler has them all in the job store (queue -> batched upsert -> ack),
   and the scheduler's RSS before and after. The job store lives in the database, so the
   resident size must not grow with N.
2. **Insert**: N timer rows upserted straight into the job table in batches of 1,000 (the
   store half of step 1 without the broker).
3. **Fire**: those N rows are due in the past, as after an outage; a scheduler starts, and we
   time how fast it publishes them all (claim a batch, publish with confirms, delete), with its
   peak RSS while doing so.

    .venv/bin/python bench/timers_scale.py                 # 100,000 timers
    .venv/bin/python bench/timers_scale.py --count 20000   # quicker

A fresh database is created (and dropped) on ``--admin-url`` unless ``--database-url`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # `python bench/timers_scale.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from runtime.engine.timers import TIMERS_QUEUE, timer_request
from runtime.scheduler.jobstore import TimerJobStore, dispose_job_engine, job_engine, timer_row
from runtime.transport.base import Message, Topology
from runtime.transport.rabbitmq import RabbitMQTransport

ROOT = Path(__file__).resolve().parents[1]
DEST = "bench.fired"
BODY = b'{"note": "a Wait state resumes here", "n": 0}'


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """Resident (``VmRSS``) or peak resident (``VmHWM``) size of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not found for pid {pid}")


def hop_message(i: int) -> Message:
    return Message(BODY, headers={"x-sh-state": "Resume", "x-sh-seq": i}, message_id=f"bench-{i:08d}")


class Scheduler:
    """One scheduler replica in a subprocess, restarted like a supervisor would if it exits
    because the broker was unreachable (the shared test broker gets restarted)."""

    def __init__(self, amqp_url: str, database_url: str, prefix: str, log: Path) -> None:
        self.env = {
            **os.environ,
            "STATEHOP_AMQP_URL": amqp_url,
            "STATEHOP_DATABASE_URL": database_url,
            "STATEHOP_QUEUE_PREFIX": prefix,
            "PYTHONPATH": str(ROOT),
        }
        self.log = log
        self.restarts = 0
        self.proc = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        with open(self.log, "ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "runtime.scheduler", "--log-level", "WARNING"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def ready(self, timeout: float = 120.0) -> None:
        await until(lambda: "READY" in self.log.read_text(errors="replace"), timeout, self._check)

    def _check(self) -> None:
        if self.proc.poll() is None:
            return
        tail = self.log.read_text(errors="replace")[-3000:]
        if "TransportUnavailable" in tail and self.restarts < 10:
            self.restarts += 1
            print(f"        (scheduler exited: broker unreachable; restart {self.restarts})")
            self.proc = self._spawn()
            return
        raise RuntimeError(f"scheduler exited {self.proc.returncode}: {tail}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def until(
    done: Callable[[], bool], timeout: float, check: Callable[[], None] | None = None, every: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if check is not None:
            check()
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step did not finish in time")
        await asyncio.sleep(every)


async def count_rows(store: TimerJobStore) -> int:
    return await asyncio.to_thread(store.count, "timer:")


async def run(args: argparse.Namespace) -> None:
    n = args.count
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    database_url, drop = await database(args)
    transport = RabbitMQTransport(args.amqp_url, Topology(prefix=prefix), publish_timeout=60.0)
    await transport.start()
    await transport.ensure_queue(TIMERS_QUEUE)
    await transport.ensure_queue(DEST)
    store = TimerJobStore(job_engine(database_url))
    store.start(None, "default")
    scheduler: Scheduler | None = None
    print(f"timers_scale: {n:,} timers, PostgreSQL + RabbitMQ, prefix {prefix}")
    try:
        # 1. store: queue -> job store, RSS before and after
        scheduler = Scheduler(args.amqp_url, database_url, prefix, workdir / f"{prefix}-a.log")
        await scheduler.ready()
        await asyncio.sleep(1.0)
        rss_idle = rss_mib(scheduler.proc.pid)
        due = time.time() + args.horizon
        started = time.perf_counter()
        for first in range(0, n, 1000):
            await transport.publish_many(
                (TIMERS_QUEUE, timer_request(f"t{i:08d}", due + i * 1e-3, DEST, hop_message(i)))
                for i in range(first, min(n, first + 1000))
            )
        published = time.perf_counter() - started
        while await count_rows(store) < n:
            scheduler._check()
            await asyncio.sleep(0.2)
        stored = time.perf_counter() - started
        await asyncio.sleep(1.0)
        rss_stored = rss_mib(scheduler.proc.pid)
        peak_store = rss_mib(scheduler.proc.pid, "VmHWM")
        scheduler.stop()
        scheduler = None
        print(f"store   publish {n:,} requests: {published:6.1f} s  ({n / published:8,.0f}/s)")
        print(f"store   queue -> job store:    {stored:6.1f} s  ({n / stored:8,.0f}/s, acked after commit)")
        print(
            f"memory  scheduler RSS idle {rss_idle:.0f} MiB -> with {n:,} stored timers {rss_stored:.0f} MiB "
            f"(peak {peak_store:.0f} MiB)"
        )

        # 2. insert straight into the job table
        await asyncio.to_thread(store.remove_all_jobs)
        rows = [timer_row(f"p{i:08d}", time.time() - 60 + i * 1e-4, DEST, hop_message(i)) for i in range(n)]
        started = time.perf_counter()
        for first in range(0, n, 1000):
            await asyncio.to_thread(store.apply_requests, rows[first : first + 1000], [])
        inserted = time.perf_counter() - started
        del rows
        print(f"insert  {n:,} rows, batches of 1,000: {inserted:6.1f} s  ({n / inserted:8,.0f}/s)")

        # 3. fire: all due already (an outage is over); time until all are published and removed
        scheduler = Scheduler(args.amqp_url, database_url, prefix, workdir / f"{prefix}-b.log")
        await scheduler.ready()
        started = time.perf_counter()
        depth = 0
        while depth < n:
            scheduler._check()
            await asyncio.sleep(0.2)
            depth = await transport.queue_depth(DEST)
        fired = time.perf_counter() - started
        peak_fire = rss_mib(scheduler.proc.pid, "VmHWM")
        while await count_rows(store):
            scheduler._check()
            await asyncio.sleep(0.2)
        removed = time.perf_counter() - started
        rss_after = rss_mib(scheduler.proc.pid)
        print(
            f"fire    {n:,} past-due timers published: {fired:6.1f} s  ({n / fired:8,.0f}/s); "
            f"rows removed after {removed:.1f} s"
        )
        print(f"memory  scheduler peak RSS while firing {peak_fire:.0f} MiB, after {rss_after:.0f} MiB")
        print(f"check   destination queue holds {depth:,} messages (each timer once: {depth == n})")
    finally:
        if scheduler is not None:
            scheduler.stop()
        dispose_job_engine(database_url)
        try:
            await drop()
        finally:
            try:
                await transport.delete_topology()
            finally:
                await transport.close()


async def database(args: argparse.Namespace) -> tuple[str, Callable[[], object]]:
    """The database to use and how to clean it up afterwards."""
    if args.database_url:

        async def keep() -> None:
            return None

        return args.database_url, keep
    admin = make_url(args.admin_url).set(drivername="postgresql+asyncpg")
    name = f"statehop_bench_{uuid.uuid4().hex[:10]}"
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    await engine.dispose()

    async def drop_it() -> None:
        engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await engine.dispose()

    return admin.set(database=name).render_as_string(hide_password=False), drop_it


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument(
        "--horizon", type=float, default=600.0, help="seconds ahead the stored timers are due"
    )
    parser.add_argument(
        "--amqp-url", default=os.environ.get("STATEHOP_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    )
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("STATEHOP_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--database-url", help="use this (empty) database instead of a fresh one")
    parser.add_argument("--workdir", default="/tmp/statehop-bench", help="where scheduler logs go")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
