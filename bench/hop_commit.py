"""The fast path's commit alone: one-statement hops (runtime/store/hopcommit.py) on PostgreSQL.

No broker and no engine: K running executions in a scratch database, and rounds in which each
of them commits one Pass-like hop (2 history events, 1 outbox row, the previous round's
outbox rows deleted) through :class:`HopCommitter`, all K submitted in the same event-loop
turn, so they go to PostgreSQL as one grouped ``fetchmany``. Prints hops/s, the client's CPU
per hop and the PostgreSQL backends' CPU per hop, per plan-cache mode and batch size:

    .venv/bin/python bench/hop_commit.py                       # K = 1, 8, 64; 3 plan modes
    .venv/bin/python bench/hop_commit.py --batch 64 --rounds 100

``plan_cache_mode`` is why the committer forces generic plans: left to choose (``auto``),
PostgreSQL may keep re-planning the CTE on every call, which costs several times the
server CPU of executing it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from runtime.store import Store  # noqa: E402
from runtime.store.hopcommit import HopCommitter, HopWrite, asyncpg_dsn  # noqa: E402
from tests.support.db import create_postgres_database, drop_postgres_database, postgres_admin_url  # noqa: E402

MODES = ("force_generic_plan", "auto", "force_custom_plan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(store: Store, arns: list[str], mode: str, rounds: int) -> dict[str, float]:
    committer = HopCommitter(asyncpg_dsn(store.url), pool_size=2)
    await committer.open()
    assert committer._pool is not None
    # the same pool settings as production, except the plan-cache mode under test
    await committer._pool.close()
    committer._pool = await asyncpg.create_pool(
        asyncpg_dsn(store.url),
        min_size=2,
        max_size=2,
        server_settings={"plan_cache_mode": mode, "application_name": "statehop-bench"},
    )
    pids = [
        int(r[0])
        for r in await committer._pool.fetch(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'statehop-bench'"
        )
    ]
    body = json.dumps({"input": {"order": "x" * 400}, "vars": {}}).encode()

    async def hop(arn: str) -> None:
        events = [
            ("PassStateExited", json.dumps({"name": "A", "output": {"order": "x" * 400}}), None),
            ("PassStateEntered", json.dumps({"name": "B", "input": {"order": "x" * 400}}), None),
        ]
        outbox = [("queue", "hops", json.dumps({"h": {"x-sh-exec": arn}, "m": {}}), body, str(uuid.uuid4()))]
        result = await committer.apply(HopWrite(arn, 0, [], str(uuid.uuid4()), events, outbox))
        assert result.applied
        committer.published(result.outbox_ids)

    for _ in range(3):  # warm up: prepare, fill caches, let auto mode settle
        await asyncio.gather(*(hop(a) for a in arns))
    wall0, client0, server0 = time.perf_counter(), time.process_time(), sum(map(cpu_seconds, pids))
    for _ in range(rounds):
        await asyncio.gather(*(hop(a) for a in arns))
    hops = rounds * len(arns)
    wall = time.perf_counter() - wall0
    client = time.process_time() - client0
    server = sum(map(cpu_seconds, pids)) - server0
    await committer.close()
    return {"hops_s": hops / wall, "client_us": client / hops * 1e6, "server_us": server / hops * 1e6}


async def amain(args: argparse.Namespace) -> None:
    admin = postgres_admin_url()
    url = await create_postgres_database(admin)
    try:
        store = Store(url)
        await store.migrate()
        async with store.transaction() as tx:
            definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
            sm = await tx.create_state_machine("bench", json.dumps(definition), "arn:aws:iam::1:role/r")
            arns = [
                (await tx.create_execution(sm.arn, name=f"e{i}")).execution.arn
                for i in range(max(args.batch))
            ]
        print(f"{'plan_cache_mode':<20} {'batch':>5} {'hops/s':>8} {'client us/hop':>14} {'PG us/hop':>10}")
        for mode in args.modes.split(","):
            for batch in args.batch:
                rounds = max(args.rounds, 2000 // batch)
                r = await measure(store, arns[:batch], mode, rounds)
                rate, client, server = r["hops_s"], r["client_us"], r["server_us"]
                print(f"{mode:<20} {batch:>5} {rate:>8,.0f} {client:>14,.0f} {server:>10,.0f}")
        await store.close()
        print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs")
    finally:
        await drop_postgres_database(admin, url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8, 64], help="hops per loop turn (K)")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--modes", default=",".join(MODES))
    asyncio.run(amain(parser.parse_args()))


if __name__ == "__main__":
    main()
