"""STANDARD hops of the embedded runtime (EmbeddedRuntime: in-memory transport, SQLite store).

No broker and no server: everything runs in this process, as ``statehop run`` and the tests
run it, with ``time_skip`` (so only the engine's own work is timed). Two questions:

(a) the 10-state Pass/Choice loop of ``bench/engine_throughput.py`` (``machine_definition``
    with a small ``--loops``), K executions at once: hops/s, the process's CPU per hop, and
    SQL statements and transactions per hop, counted with SQLAlchemy events on the store's
    engine (``before_cursor_execute``: every statement the store sends through SQLAlchemy,
    BEGIN included; ``commit``: transactions), plus what the SQLite fast path runs on the
    sqlite3 connection itself, which those events do not see (``SqliteHopCommitter``'s
    ``sql_statements`` and ``batches``). The counts cover the whole run, so the executions'
    start transactions and ``wait``'s reads are in them (a few per execution);
(b) the 10,000-item Map with MaxConcurrency 10 of ``tests/engine/test_map_window.py``: wall
    time, hops/s, statements per hop.

    .venv/bin/python bench/embedded_hops.py                    # K = 1, 16, 64; loops 10; the Map
    .venv/bin/python bench/embedded_hops.py -k 64 --loops 20 --repeat 3
    .venv/bin/python bench/embedded_hops.py --no-map           # the loop only
    .venv/bin/python bench/embedded_hops.py --database-url sqlite:////tmp/x.db   # a file

Hops are counted from the history afterwards (one ``*StateEntered`` event per hop here: no
Task, no Retry), outside the timed window. ``--repeat`` reruns each row on a fresh runtime and
prints every run, so the spread on a shared machine is visible.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/embedded_hops.py`
    sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402

from bench.engine_throughput import execution_input, machine_definition  # noqa: E402
from runtime.config import EMBEDDED_DATABASE  # noqa: E402
from runtime.embedded import EmbeddedRuntime  # noqa: E402

MAP_WINDOW = 10


def map_definition(window: int = MAP_WINDOW) -> dict[str, Any]:
    """tests/engine/test_map_window.py's machine."""
    return {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "MaxConcurrency": window,
                "ItemSelector": {"i.$": "$$.Map.Item.Index"},
                "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}},
                "ResultSelector": {"count.$": "States.ArrayLength($)"},
                "End": True,
            }
        },
    }


@dataclass
class Counter:
    """SQL statements and commits the store's engine sends, from SQLAlchemy's events."""

    statements: int = 0
    commits: int = 0

    def attach(self, rt: EmbeddedRuntime) -> None:
        sync_engine = rt.store.engine.sync_engine

        def on_statement(*_: Any) -> None:
            self.statements += 1

        def on_commit(*_: Any) -> None:
            self.commits += 1

        event.listen(sync_engine, "before_cursor_execute", on_statement)
        event.listen(sync_engine, "commit", on_commit)


@dataclass
class Run:
    what: str
    executions: int
    hops: int
    seconds: float
    cpu: float
    statements: int  # through SQLAlchemy
    raw: int  # run by the SQLite fast path on the sqlite3 connection itself
    commits: int

    def line(self) -> str:
        return (
            f"{self.what:<26} {self.executions:>4} {self.hops:>7,} {self.seconds:>8.2f} "
            f"{self.hops / self.seconds:>8,.0f} {self.cpu / self.hops * 1e6:>8,.0f} "
            f"{self.statements / self.hops:>8.2f} {self.raw / self.hops:>8.2f} "
            f"{self.commits / self.hops:>7.2f}"
        )


HEADER = (
    f"{'scenario':<26} {'K':>4} {'hops':>7} {'wall s':>8} {'hops/s':>8} {'CPU µs':>8} "
    f"{'SA st/h':>8} {'raw st/h':>8} {'tx/hop':>7}"
)


def _raw(committer: Any) -> tuple[int, int]:
    """SQL statements and transactions the SQLite fast path ran on the sqlite3 connection
    itself (runtime/store/sqlitehops.py), where SQLAlchemy's events do not see them."""
    return (getattr(committer, "sql_statements", 0), getattr(committer, "batches", 0))


async def count_hops(rt: EmbeddedRuntime, arns: list[str]) -> int:
    """``*StateEntered`` events of these executions: one per hop of these machines."""
    hops = 0
    async with rt.store.transaction(readonly=True) as tx:
        for arn in arns:
            token = None
            while True:
                page = await tx.list_events(arn, max_results=1000, next_token=token, include_data=False)
                hops += sum(1 for e in page.items if e.type.endswith("StateEntered"))
                token = page.next_token
                if token is None:
                    break
    return hops


async def run_once(
    what: str, database_url: str, definition: dict[str, Any], inputs: list[Any], timeout: float
) -> Run:
    async with EmbeddedRuntime(time_skip=True, database_url=database_url) as rt:
        arn = await rt.create_state_machine("bench", definition)
        counter = Counter()
        counter.attach(rt)
        committer = rt.engine._committer
        raw0 = _raw(committer)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        started = await asyncio.gather(*(rt.engine.start_execution(arn, data) for data in inputs))
        records = await asyncio.gather(*(rt.engine.wait(e.arn, timeout) for e in started))
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        raw = [b - a for a, b in zip(raw0, _raw(committer), strict=True)]
        bad = [r for r in records if str(r.status) != "SUCCEEDED"]
        if bad:
            first = bad[0]
            ended = f"{first.status}: {first.error} {first.cause}"
            raise SystemExit(f"{what}: {len(bad)} executions did not succeed, e.g. {ended}")
        hops = await count_hops(rt, [r.arn for r in records])
    return Run(what, len(inputs), hops, wall, cpu, counter.statements, raw[0], counter.commits + raw[1])


def fresh_url(url: str, tmp: Path, n: int) -> str:
    """A file URL gets a new file per run (so runs do not see each other's rows)."""
    if url.endswith(":memory:") or url.rstrip("/") in ("sqlite:", "sqlite+aiosqlite:"):
        return url
    path = Path(url.split("///", 1)[1])
    name = f"{path.stem}-{n}{path.suffix or '.db'}"
    return f"sqlite+aiosqlite:///{tmp / name}"


async def amain(args: argparse.Namespace) -> None:
    import tempfile

    print(f"database {args.database_url}; loops {args.loops} ({7 * args.loops + 2} hops per execution)")
    print(HEADER, flush=True)
    runs = 0
    with tempfile.TemporaryDirectory() as tmp:
        for k in args.executions:
            for _ in range(args.repeat):
                runs += 1
                url = fresh_url(args.database_url, Path(tmp), runs)
                run = await run_once(
                    f"loop x{args.loops}",
                    url,
                    machine_definition(loops=args.loops),
                    [execution_input(i) for i in range(k)],
                    args.timeout,
                )
                print(run.line(), flush=True)
        if args.map_items:
            for _ in range(args.repeat):
                runs += 1
                url = fresh_url(args.database_url, Path(tmp), runs)
                run = await run_once(
                    f"map {args.map_items:,} items, window {MAP_WINDOW}",
                    url,
                    map_definition(),
                    [list(range(args.map_items))],
                    args.timeout,
                )
                print(run.line(), flush=True)
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", "--executions", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--loops", type=int, default=10, help="rounds of the loop per execution")
    parser.add_argument("--map-items", type=int, default=10_000, help="0: skip the Map")
    parser.add_argument("--no-map", dest="map_items", action="store_const", const=0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--database-url", default=EMBEDDED_DATABASE, help="default: in-memory SQLite")
    asyncio.run(amain(parser.parse_args()))


if __name__ == "__main__":
    main()
