"""How many hop transactions per second the store sustains.

One "hop transaction" is what a STANDARD worker commits per state transition:
``mark_applied(message_id)`` + ``append_events`` (2 events, ~300 B of details each) +
``add_outbox`` (1 message, ~500 B body), in one transaction. Also measured: the same with every
writer on one execution (they queue on its row lock), and Map join completions
(``record_branch_result`` with a window of 100, one per transaction).

    .venv/bin/python bench/store_tx.py                       # SQLite (FULL, NORMAL) + PostgreSQL
    .venv/bin/python bench/store_tx.py --seconds 5 --concurrency 1 8
    .venv/bin/python bench/store_tx.py --url postgresql://postgres@127.0.0.1:5432/test

A PostgreSQL URL is used to create a scratch database (dropped afterwards); a SQLite one is
a fresh file in a temp directory unless given. Prints one line per (backend, scenario).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from runtime.store import OutboxMessage, Store
from runtime.store.engine import SqliteSynchronous, normalize_url

DETAILS = {
    "name": "Transform",
    "input": '{"order":{"id":"o-123","lines":[' + '{"sku":"A","qty":1},' * 10 + "{}]}}",
}
BODY = b'{"order":{"id":"o-123","total":42.5,"lines":[' + b'{"sku":"A","qty":1},' * 20 + b"{}]}}"
HEADERS = {"x-execution-arn": "arn:aws:states:us-east-1:123456789012:execution:m:e", "x-seq": 7}


async def _measure(
    store: Store, seconds: float, concurrency: int, step: Callable[[Store, int], Awaitable[None]]
) -> float:
    """Run ``step(store, worker)`` in ``concurrency`` loops for ``seconds``; returns ops/s."""
    deadline = time.perf_counter() + seconds
    counts = [0] * concurrency

    async def loop(worker: int) -> None:
        while time.perf_counter() < deadline:
            await step(store, worker)
            counts[worker] += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop(w) for w in range(concurrency)))
    return sum(counts) / (time.perf_counter() - started)


async def bench_url(
    url: str, label: str, seconds: float, concurrencies: list[int], sync: SqliteSynchronous
) -> None:
    async with Store(url, sqlite_synchronous=sync, pool_size=max(concurrencies) + 2) as store:
        await store.migrate()
        width = max(concurrencies)
        async with store.transaction() as tx:
            machine = await tx.create_state_machine(
                "bench", '{"StartAt":"A","States":{}}', "arn:aws:iam::1:role/r"
            )
            executions = [
                (await tx.create_execution(machine.arn, name=f"e{w}")).execution.arn for w in range(width)
            ]
            await tx.create_fork(executions[0], "/Map", ["{}"] * 50_000, max_concurrency=100)
        next_item = [0]

        async def hop(s: Store, worker: int) -> None:
            message_id = uuid.uuid4().hex
            async with s.transaction() as tx:
                if not await tx.mark_applied(message_id):
                    return
                await tx.append_events(
                    executions[worker], [("TaskStateEntered", DETAILS), ("TaskScheduled", DETAILS)]
                )
                await tx.add_outbox([OutboxMessage("statehop", "hop", BODY, HEADERS, message_id)])

        async def hot_hop(s: Store, worker: int) -> None:
            message_id = uuid.uuid4().hex
            async with s.transaction() as tx:
                await tx.mark_applied(message_id)
                await tx.append_events(
                    executions[0], [("TaskStateEntered", DETAILS), ("TaskScheduled", DETAILS)]
                )
                await tx.add_outbox([OutboxMessage("statehop", "hop", BODY, HEADERS, message_id)])

        async def join(s: Store, worker: int) -> None:
            index = next_item[0]
            next_item[0] += 1
            async with s.transaction() as tx:
                await tx.record_branch_result(executions[0], "/Map", index, True, output="{}")

        def report(what: str, concurrency: int, rate: float) -> None:
            print(f"{label:<20} {what:<30} concurrency {concurrency:>2}: {rate:8.0f} tx/s", flush=True)

        for concurrency in concurrencies:
            report(
                "hop tx (own execution each)", concurrency, await _measure(store, seconds, concurrency, hop)
            )
        for concurrency in [c for c in concurrencies if c > 1]:
            report(
                "hop tx (one hot execution)",
                concurrency,
                await _measure(store, seconds, concurrency, hot_hop),
            )
        for concurrency in concurrencies:
            report(
                "join completion (one fork)", concurrency, await _measure(store, seconds, concurrency, join)
            )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--url", action="append", help="database URL(s); default: SQLite + local PostgreSQL")
    args = parser.parse_args()
    urls = args.url or [
        "sqlite://",
        os.environ.get("STATEHOP_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"),
    ]
    for raw in urls:
        url = normalize_url(raw)
        if url.get_backend_name() == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                for sync in ("FULL", "NORMAL"):
                    path = url.database or str(Path(tmp) / f"bench-{sync}.db")
                    await bench_url(
                        str(url.set(database=path)),
                        f"sqlite sync={sync}",
                        args.seconds,
                        args.concurrency,
                        sync,
                    )
            continue
        admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
        name = f"statehop_bench_{uuid.uuid4().hex[:8]}"
        try:
            async with admin.connect() as conn:
                await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            scratch = make_url(url).set(database=name).render_as_string(hide_password=False)
            await bench_url(scratch, "postgresql", args.seconds, args.concurrency, "FULL")
        finally:
            async with admin.connect() as conn:
                await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
