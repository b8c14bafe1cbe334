"""Engine throughput: transitions/s and hop latency of real `statehop worker` processes,
beside the raw aio-pika hop ceiling measured in the same run.

For each workflow type (STANDARD, EXPRESS) and each worker count (1, 2) the script:

1. measures the raw hop ceiling with ``bench.hop_ceiling.measure`` in fresh processes: consume +
   republish + ack of an equal ~500-byte message with the full hop header set, no engine;
   STANDARD is compared with *persistent + publisher confirms*, EXPRESS with *transient*, same
   process count, same queue type, the same number of messages in flight (K in all);
2. starts N ``statehop worker`` subprocesses (the real console script, configured by
   ``STATEHOP_*`` variables) on RabbitMQ + a scratch PostgreSQL database, starts K executions of
   a 10-state machine (Pass/Choice in a loop; ``--task`` replaces one Pass with a Task answered
   by a service in this process) and lets them run;
3. counts transitions over a steady window and samples hop latency (see "How it measures");
4. prints one table: rates, ratio to the ceiling and to the target (EXPRESS >= 0.8x,
   STANDARD >= 0.6x), p50/p99 hop interval, worker and PostgreSQL CPU per hop, load average.

    .venv/bin/python bench/engine_throughput.py                      # ~2.5 min, K=64
    .venv/bin/python bench/engine_throughput.py --repeat 3 --seconds 10
    .venv/bin/python bench/engine_throughput.py --types EXPRESS --workers 2 --executions 128
    .venv/bin/python bench/engine_throughput.py --task               # variant with a Task state
    .venv/bin/python bench/engine_throughput.py --worker-command "python /tmp/w.py"  # a prototype

How it measures (nothing in the workers is instrumented; they are stock processes):

- A *tap*: a headers exchange bound to the engine's hop exchange (exchange-to-exchange
  binding, routing key ``hops``), and one exclusive queue of this process bound to it. RabbitMQ
  copies each routed hop to the tap; the tap reads ``x-sh-exec`` and ``x-sh-seq`` (one seq per
  hop) and stamps the arrival with this process's clock.
- Transitions/s: for a moment at the start and at the end of the window the tap is bound for
  *every* hop (``x-match: all-with-x``, no keys) until each execution has been seen; execution
  i did ``seq_end - seq_start`` hops in ``t_end - t_start``, and the rate is the sum over
  executions. Exact to about one hop per execution; in between only ``--sample`` executions
  are tapped, so the copy costs the broker and this process little.
  STANDARD is cross-checked against the history table (``*StateEntered`` events in the window).
- Hop latency: during the window the tap is bound to ``--sample`` executions only; a sample
  is the time from hop ``seq`` to hop ``seq+1`` of the same execution as the broker routed
  them, i.e. queueing + consume + engine + store commit + publish of the successor (for
  STANDARD the confirm, outbox delete and ack come after). With K hops circulating it is
  dominated by queueing (mean ~= K / rate, Little's law); ``--probe-seconds`` adds a K=1 run
  per type (1 worker) whose interval is the engine's own service time per hop.
- CPU: utime+stime of the worker processes (``/proc/<pid>/stat``) and of this database's
  PostgreSQL backends over the window, per hop; the ceiling reports its client CPU per hop.
  On a shared 2-core machine rates move with the neighbours' load; CPU per hop moves less
  (it still rises under heavy load: fewer events per loop turn), so both are printed, with a
  ``CPU ratio`` (ceiling client CPU / (worker + PostgreSQL CPU)) and the 1-minute load average.
- Runs broken by the shared machine (broker restarted, worker died, an execution ended or
  stopped moving) are re-run (``--retries``), not reported.

The scratch database (``statehop_bench_<hex>`` on the server of ``--database-url``) and every
queue/exchange under the run's prefixes are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/engine_throughput.py`
    sys.path.insert(0, str(ROOT))

import aiormq  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from bench.hop_ceiling import Ceiling, measure  # noqa: E402
from runtime.engine.clock import Clock  # noqa: E402
from runtime.engine.engine import BUILTIN_SERVICE, Engine  # noqa: E402
from runtime.engine.timers import TIMERS_QUEUE, QueueTimers  # noqa: E402
from runtime.hop import H_EXECUTION, H_SEQ  # noqa: E402
from runtime.store import Store  # noqa: E402
from runtime.store.engine import normalize_url  # noqa: E402
from runtime.transport.base import Topology  # noqa: E402
from runtime.transport.rabbitmq import RabbitMQTransport  # noqa: E402

DEFAULT_AMQP = os.environ.get("STATEHOP_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
DEFAULT_DB = os.environ.get("STATEHOP_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
TARGETS = {"EXPRESS": 0.8, "STANDARD": 0.6}
TASK_SERVICE = "bench-echo"
#: queues a worker declares on its own (the built-in integrations' service, the timer requests)
WORKER_QUEUES = (Topology.task_queue(BUILTIN_SERVICE), TIMERS_QUEUE)
CLK_TCK = os.sysconf("SC_CLK_TCK")
T = TypeVar("T")

# --------------------------------------------------------------------------- the machine


def machine_definition(task: bool = False, loops: int = 1_000_000) -> dict[str, Any]:
    """10 states: Init, then a loop of 8 transitions (Validate, Route, Gold|Standard, Price,
    Ship, Count, Again) until ``$.round`` reaches ``loops``, then Done.

    Paths, a Parameters template with an intrinsic and Choice rules on every loop, as a real
    machine has; ``task`` makes Ship a Task on the in-bench service (2 hops: enter, complete).
    """
    ship: dict[str, Any] = {
        "Type": "Pass",
        "Result": {"carrier": "dhl", "days": 2},
        "ResultPath": "$.shipping",
    }
    if task:
        ship = {
            "Type": "Task",
            "Resource": TASK_SERVICE,
            "Parameters": {"order.$": "$.order.id", "round.$": "$.round"},
            "ResultPath": "$.shipping",
        }
    ship["Next"] = "Count"
    return {
        "Comment": "engine_throughput: 10 states, a Pass/Choice loop",
        "StartAt": "Init",
        "States": {
            "Init": {
                "Type": "Pass",
                "Parameters": {"order.$": "$.order", "round": 0, "limit": loops},
                "Next": "Validate",
            },
            "Validate": {
                "Type": "Pass",
                "Result": {"ok": True},
                "ResultPath": "$.validated",
                "Next": "Route",
            },
            "Route": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.order.customer.tier", "StringEquals": "gold", "Next": "Gold"}],
                "Default": "Standard",
            },
            "Gold": {"Type": "Pass", "Result": 0.1, "ResultPath": "$.discount", "Next": "Price"},
            "Standard": {"Type": "Pass", "Result": 0, "ResultPath": "$.discount", "Next": "Price"},
            "Price": {
                "Type": "Pass",
                "Parameters": {
                    "order.$": "$.order",
                    "round.$": "$.round",
                    "limit.$": "$.limit",
                    "discount.$": "$.discount",
                    "lines.$": "States.ArrayLength($.order.lines)",
                },
                "Next": "Ship",
            },
            "Ship": ship,
            "Count": {
                "Type": "Pass",
                "Parameters": {
                    "order.$": "$.order",
                    "limit.$": "$.limit",
                    "shipping.$": "$.shipping",
                    "round.$": "States.MathAdd($.round, 1)",
                },
                "Next": "Again",
            },
            "Again": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.round", "NumericLessThanPath": "$.limit", "Next": "Validate"}],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }


def execution_input(i: int) -> dict[str, Any]:
    """A ~500-byte order, as in bench/hop_ceiling.py; every other one takes the Gold branch."""
    return {
        "order": {
            "id": f"ord-{i:06d}",
            "customer": {
                "id": f"c-{i:07d}",
                "tier": "gold" if i % 2 else "silver",
                "email": "someone@example.com",
            },
            "lines": [{"sku": f"sku-{j:04d}", "qty": j + 1, "price": 9.99 + j} for j in range(5)],
            "currency": "EUR",
        }
    }


#: per loop: states entered and hops (a Task state takes 2 hops: enter, complete)
STATES_PER_LOOP = 7
HOPS_PER_LOOP = {False: 7, True: 8}

# --------------------------------------------------------------------------- helpers


def load_average() -> float:
    return os.getloadavg()[0]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass
class Result:
    kind: str  # STANDARD | EXPRESS
    workers: int
    executions: int
    ceiling: float = float("nan")
    ceiling_cpu_us: float = float("nan")
    ceiling_load: float = float("nan")
    hops_per_s: float = float("nan")
    transitions_per_s: float = float("nan")
    history_per_s: float | None = None
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    mean_ms: float = float("nan")
    samples: int = 0
    worker_cpu_us: float = float("nan")
    pg_cpu_us: float = float("nan")
    bench_cpu_us: float = float("nan")
    load: float = float("nan")
    probe_p50_ms: float | None = None
    probe_p99_ms: float | None = None
    probe_hops_per_s: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.hops_per_s / self.ceiling if self.ceiling else float("nan")

    @property
    def cpu_ratio(self) -> float:
        """Ceiling client CPU per hop / (worker + PostgreSQL CPU per hop): the ratio if both were
        CPU-bound on the same cores; it moves much less with the neighbours' load."""
        spent = self.worker_cpu_us + max(self.pg_cpu_us, 0.0)
        return self.ceiling_cpu_us / spent if spent else float("nan")


# --------------------------------------------------------------------------- the tap


class Tap:
    """Copies of routed hops, stamped on arrival: (time, execution ARN, seq)."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.source = f"{prefix}.hops"
        self.exchange = f"{prefix}.benchtap"
        self.records: list[tuple[float, str, int]] = []
        self._conn: Any = None
        self._ch: Any = None
        self.queue = ""

    async def start(self) -> None:
        self._conn = await aiormq.connect(self.url)
        self._ch = await self._conn.channel()
        await self._ch.exchange_declare(self.exchange, exchange_type="headers", auto_delete=False)
        await self._ch.exchange_bind(self.exchange, self.source, routing_key=Topology.HOPS)
        declared = await self._ch.queue_declare("", exclusive=True, auto_delete=True)
        self.queue = declared.queue
        await self._ch.basic_consume(self.queue, self._on_message, no_ack=True)

    async def _on_message(self, message: Any) -> None:
        headers = message.header.properties.headers or {}
        arn, seq = headers.get(H_EXECUTION), headers.get(H_SEQ)
        if isinstance(arn, str) and isinstance(seq, int):
            self.records.append((time.perf_counter(), arn, seq))

    @staticmethod
    def _args(arn: str | None) -> dict[str, Any]:
        return {"x-match": "all-with-x"} if arn is None else {"x-match": "all-with-x", H_EXECUTION: arn}

    async def bind(self, arn: str | None = None) -> None:
        await self._ch.queue_bind(self.queue, self.exchange, routing_key="", arguments=self._args(arn))

    async def unbind(self, arn: str | None = None) -> None:
        await self._ch.queue_unbind(self.queue, self.exchange, routing_key="", arguments=self._args(arn))

    async def snapshot(self, arns: set[str], timeout: float = 10.0) -> dict[str, tuple[float, int]]:
        """Bind for every hop until each execution was seen; its first (time, seq) after binding."""
        start = len(self.records)
        await self.bind()
        seen: dict[str, tuple[float, int]] = {}
        deadline = time.perf_counter() + timeout
        index = start
        while time.perf_counter() < deadline:
            await asyncio.sleep(0.01)
            for t, arn, seq in self.records[index:]:
                if arn in arns and arn not in seen:
                    seen[arn] = (t, seq)
            index = len(self.records)
            if len(seen) == len(arns):
                break
        await self.unbind()
        return seen

    async def close(self) -> None:
        if self._ch is not None:
            with contextlib.suppress(Exception):
                await self._ch.exchange_delete(self.exchange)
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()


def hop_intervals(
    records: list[tuple[float, str, int]], arns: set[str], t0: float, t1: float
) -> tuple[list[float], int]:
    """seq -> seq+1 intervals (seconds) of the sampled executions inside [t0, t1], and how many
    hops were published more than once (e.g. by the outbox relay)."""
    first: dict[tuple[str, int], float] = {}
    duplicates = 0
    for t, arn, seq in records:
        if arn in arns and t0 <= t <= t1 and isinstance(seq, int):
            if (arn, seq) in first:
                duplicates += 1  # a republished hop keeps its first stamp
            else:
                first[(arn, seq)] = t
    return [
        t - first[(arn, seq - 1)] for (arn, seq), t in first.items() if (arn, seq - 1) in first
    ], duplicates


# --------------------------------------------------------------------------- workers


class Workers:
    """N ``statehop worker`` subprocesses sharing one configuration."""

    def __init__(self, command: list[str], env: dict[str, str], count: int, logdir: Path, cwd: Path) -> None:
        self.command, self.env, self.count, self.logdir, self.cwd = command, env, count, logdir, cwd
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        for _ in range(self.count):
            log = (self.logdir / f"worker-{len(self.procs)}-{uuid.uuid4().hex[:6]}.log").open("wb")
            self.procs.append(
                subprocess.Popen(
                    self.command,
                    env=self.env,
                    cwd=self.cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            log.close()

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.procs)

    def check(self) -> None:
        for p in self.procs:
            if p.poll() is not None:
                logs = "\n".join(
                    f.read_text(errors="replace")[-3000:] for f in sorted(self.logdir.glob("worker-*.log"))
                )
                raise RuntimeError(f"worker {p.pid} exited with {p.returncode}:\n{logs}")

    def stop(self, timeout: float = 20.0) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs.clear()


def worker_command(spec: str | None) -> list[str]:
    if spec:
        return shlex.split(spec)
    script = Path(sys.executable).with_name("statehop")
    return [str(script), "worker"] if script.exists() else [sys.executable, "-m", "runtime.cli", "worker"]


async def consumer_count(url: str, queue: str) -> int:
    conn = await aiormq.connect(url)
    try:
        ch = await conn.channel()
        ok = await ch.queue_declare(queue, passive=True)
        return int(ok.consumer_count or 0)
    finally:
        await conn.close()


async def pg_backends(store: Store, database: str) -> list[int]:
    async with store.transaction() as tx:
        rows = await tx.connection.exec_driver_sql(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", (database,)
        )
        return [int(r[0]) for r in rows]


# --------------------------------------------------------------------------- one engine run


@dataclass
class Config:
    amqp_url: str
    database_url: str  # the scratch database
    database_name: str
    queue_type: str
    prefetch: int
    warmup: float
    seconds: float
    sample: int
    task: bool
    command: list[str]
    cwd: Path
    logdir: Path
    extra_env: dict[str, str]
    profile_dir: Path | None = None
    py_spy: str = "py-spy"


async def run_engine(
    cfg: Config, store: Store, kind: str, workers: int, executions: int, seconds: float
) -> dict[str, Any]:
    """Start workers, K executions; measure a window; tear everything down."""
    prefix = f"bench{uuid.uuid4().hex[:10]}"
    topology = Topology(prefix=prefix, queue_type=cfg.queue_type, hop_prefetch=cfg.prefetch)  # type: ignore[arg-type]
    transport = RabbitMQTransport(cfg.amqp_url, topology, connection_name="engine_throughput")
    await transport.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATEHOP_")}
    env.update(
        {
            "STATEHOP_AMQP_URL": cfg.amqp_url,
            "STATEHOP_DATABASE_URL": cfg.database_url,
            "STATEHOP_QUEUE_PREFIX": prefix,
            "STATEHOP_QUEUE_TYPE": cfg.queue_type,
            "STATEHOP_PREFETCH": str(cfg.prefetch),
            "STATEHOP_TOKEN_SECRET": "engine-throughput-bench",
            "STATEHOP_SHUTDOWN_TIMEOUT": "10",
            "PYTHONUNBUFFERED": "1",
            **cfg.extra_env,
        }
    )
    group = Workers(cfg.command, env, workers, cfg.logdir, cfg.cwd)
    tap = Tap(cfg.amqp_url, prefix)
    out: dict[str, Any] = {}
    try:
        if cfg.task:
            from services.sdk import Service

            service = Service("bench", concurrency=max(16, executions))

            @service.task(TASK_SERVICE)
            async def echo(payload: Any) -> Any:
                return {"ok": True, "echo": payload}

            await service.attach(transport)
        group.start()
        queue = topology.queue_name(Topology.HOPS)
        deadline = time.monotonic() + 60
        while await consumer_count(cfg.amqp_url, queue) < workers:
            group.check()
            if time.monotonic() > deadline:
                raise RuntimeError("workers did not start consuming within 60 s")
            await asyncio.sleep(0.1)
        await tap.start()
        engine = Engine(store, transport, QueueTimers(transport), clock=Clock())
        name = f"bench-{kind.lower()}-{'task' if cfg.task else 'pass'}"
        async with store.transaction() as tx:
            machine = await tx.create_state_machine(
                name,
                json.dumps(machine_definition(cfg.task)),
                "arn:aws:iam::123456789012:role/bench",
                type=kind,  # type: ignore[arg-type]
            )
        arns: set[str] = set()
        for i in range(executions):
            started = await engine.start_execution(machine.arn, execution_input(i), f"{prefix}-{i}")
            arns.add(started.arn)
        await asyncio.sleep(cfg.warmup)
        group.check()

        pg = await pg_backends(store, cfg.database_name)
        begin = await tap.snapshot(arns)
        cpu0, pg0, me0, wall0, pc0 = (
            group.cpu(),
            {pid: cpu_seconds(pid) for pid in pg},
            time.process_time(),
            time.time(),
            time.perf_counter(),
        )
        sampled = sorted(begin)[: cfg.sample]
        for arn in sampled:
            await tap.bind(arn)
        spies = (
            [
                subprocess.Popen(
                    [
                        cfg.py_spy,
                        "record",
                        "--pid",
                        str(pid),
                        "--duration",
                        str(int(seconds)),
                        "--rate",
                        "250",
                        "--nonblocking",
                        "--format",
                        "raw",
                        "--output",
                        str(cfg.profile_dir / f"{kind.lower()}-w{workers}-k{executions}-{n}.txt"),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for n, pid in enumerate(group.pids)
            ]
            if cfg.profile_dir is not None
            else []
        )
        t0 = time.perf_counter()
        await asyncio.sleep(seconds)
        t1 = time.perf_counter()
        for spy in spies:
            await asyncio.to_thread(spy.wait, 30)
        for arn in sampled:
            await tap.unbind(arn)
        end = await tap.snapshot(arns)
        cpu1, pg1, me1, wall1, pc1 = (
            group.cpu(),
            {pid: cpu_seconds(pid) for pid in pg},
            time.process_time(),
            time.time(),
            time.perf_counter(),
        )
        group.check()
        load = load_average()
        async with store.transaction() as tx:
            ended = (
                await tx.connection.exec_driver_sql(
                    "SELECT status, error, cause FROM executions WHERE name LIKE $1 AND status <> 'RUNNING'",
                    (f"{prefix}-%",),
                )
            ).all()
        if len(begin) < executions or len(end) < executions:
            # an execution whose hop did not move for 10 s: e.g. transient EXPRESS hops lost
            # in a broker restart (other work on this machine restarts it)
            raise RuntimeError(f"only {len(begin)}/{len(end)} of {executions} executions moved")
        if ended:  # e.g. "too many clients" from a PostgreSQL shared with other work
            raise RuntimeError(
                f"{len(ended)} of {executions} executions ended during the run "
                f"({ended[0].status}: {ended[0].error}: {str(ended[0].cause)[:300]})"
            )

        both = [a for a in arns if a in begin and a in end]
        hops = sum(end[a][1] - begin[a][1] for a in both)
        rate = sum((end[a][1] - begin[a][1]) / (end[a][0] - begin[a][0]) for a in both)
        intervals, duplicates = hop_intervals(tap.records, set(sampled), t0, t1)
        per_hop = rate * (pc1 - pc0) or float("nan")  # hops in the CPU-sampling window
        out = {
            "hops_per_s": rate,
            "hops": hops,
            "seen": (len(begin), len(end), len(arns)),
            "p50_ms": percentile(intervals, 0.5) * 1e3,
            "p99_ms": percentile(intervals, 0.99) * 1e3,
            "mean_ms": statistics.fmean(intervals) * 1e3 if intervals else float("nan"),
            "samples": len(intervals),
            "duplicates": duplicates,
            "worker_cpu_us": (cpu1 - cpu0) / per_hop * 1e6,
            # backends that closed during the window read 0 at the end: leave them out
            "pg_cpu_us": sum(max(0.0, pg1[p] - pg0[p]) for p in pg if pg1[p] > 0) / per_hop * 1e6,
            "bench_cpu_us": (me1 - me0) / per_hop * 1e6,
            "load": load,
        }
        if kind == "STANDARD":  # cross-check with the history: states entered in the window
            async with store.transaction() as tx:
                row = (
                    await tx.connection.exec_driver_sql(
                        "SELECT count(*) FROM history_events h JOIN executions e ON e.id = h.execution_id "
                        "WHERE e.name LIKE $1 AND h.type LIKE '%StateEntered' "
                        "AND h.timestamp >= to_timestamp($2) AND h.timestamp < to_timestamp($3)",
                        (f"{prefix}-%", wall0, wall1),
                    )
                ).first()
            out["history_per_s"] = int(row[0]) / (wall1 - wall0) if row else None
    finally:
        with contextlib.suppress(Exception):
            await tap.close()
        group.stop()
        with contextlib.suppress(Exception):
            for queue in WORKER_QUEUES:  # declared by the workers: let delete_topology see them
                await transport.ensure_queue(queue)
        with contextlib.suppress(Exception):
            await transport.delete_topology()
        with contextlib.suppress(Exception):
            await transport.close()
        # The rows share one scratch database: end this run's executions and drop its outbox
        # rows, or the next row's workers would relay them (outbox rows name the logical queue,
        # not the prefix) and go on running this run's executions beside their own.
        with contextlib.suppress(Exception):
            async with store.transaction() as tx:
                await tx.connection.exec_driver_sql(
                    "UPDATE executions SET status = 'ABORTED' WHERE name LIKE $1 AND status = 'RUNNING'",
                    (f"{prefix}-%",),
                )
                await tx.connection.exec_driver_sql("DELETE FROM outbox")
    return out


# --------------------------------------------------------------------------- the table


def fmt(value: float | None, spec: str = ",.0f") -> str:
    if value is None or value != value:
        return "-"
    return format(value, spec)


def print_table(results: list[Result], args: argparse.Namespace) -> None:
    print()
    print(
        f"engine throughput: K={args.executions} executions, {args.queue_type} queues, prefetch "
        f"{args.prefetch}, window {args.seconds:g}s, {os.cpu_count()} CPUs, "
        f"machine: 10 states{' incl. a Task' if args.task else ''} (Pass/Choice loop)"
    )
    head = (
        f"{'type':<9}{'wk':>3} {'ceiling/s':>10} {'engine hops/s':>14} {'trans/s':>9} {'ratio':>6} "
        f"{'target':>7} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/hop wk|pg|ceil':>22} "
        f"{'CPU ratio':>9} {'load':>5}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        target = TARGETS[r.kind]
        verdict = "ok" if r.ratio >= target else "MISS"
        cpu = f"{fmt(r.worker_cpu_us)}|{fmt(r.pg_cpu_us)}|{fmt(r.ceiling_cpu_us)}"
        print(
            f"{r.kind:<9}{r.workers:>3} {fmt(r.ceiling):>10} {fmt(r.hops_per_s):>14} "
            f"{fmt(r.transitions_per_s):>9} {fmt(r.ratio, '.2f'):>6} {f'{target:.1f} {verdict}':>7} "
            f"{fmt(r.p50_ms, '.1f'):>7} {fmt(r.p99_ms, '.1f'):>7} {cpu:>22} {fmt(r.cpu_ratio, '.2f'):>9} "
            f"{fmt(r.load, '.1f'):>5}"
        )
    extras = [r for r in results if r.history_per_s is not None or r.probe_p50_ms is not None]
    if extras:
        print()
        for r in extras:
            bits = []
            if r.history_per_s is not None:
                bits.append(
                    f"history StateEntered/s {fmt(r.history_per_s)} (tap: {fmt(r.transitions_per_s)})"
                )
            if r.probe_p50_ms is not None:
                bits.append(
                    f"K=1 probe: p50 {fmt(r.probe_p50_ms, '.2f')} ms, p99 {fmt(r.probe_p99_ms, '.2f')} ms, "
                    f"{fmt(r.probe_hops_per_s)} hops/s"
                )
            print(f"{r.kind:<9}{r.workers:>3}  " + "; ".join(bits))
    print()
    print(
        "ratio = engine hops/s / ceiling hops/s (STANDARD vs persistent+confirms, EXPRESS vs transient; "
        "same process count, queue type, K in flight). p50/p99 = hop-to-next-hop interval with K in flight.\n"
        "CPU ratio = ceiling client CPU/hop / (worker + PostgreSQL backend CPU/hop): steadier under load."
    )


# --------------------------------------------------------------------------- main


async def scratch_database(server_url: str) -> tuple[str, str, Any]:
    url = normalize_url(server_url)
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    name = f"statehop_bench_{uuid.uuid4().hex[:10]}"
    async with admin.connect() as conn:
        await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return name, make_url(url).set(database=name).render_as_string(hide_password=False), admin


async def retrying(retries: int, what: str, run: Callable[[], Awaitable[T]]) -> T:
    """Run again when the broker went away under us (other work on a shared machine restarts
    it) or a worker died: such a run measured nothing, and is not reported."""
    for attempt in range(retries + 1):
        try:
            return await run()
        except Exception as exc:
            if attempt == retries:
                raise
            print(f"  {what}: run failed ({type(exc).__name__}: {str(exc)[:200]}); again in 5 s", flush=True)
            await asyncio.sleep(5)
    raise AssertionError("unreachable")


async def measure_row(
    args: argparse.Namespace, cfg: Config, store: Store, kind: str, workers: int, probe: bool
) -> Result:
    """One row: the matching ceiling, then the engine, then (optionally) the K=1 probe."""
    r = Result(kind, workers, args.executions)
    if not args.no_ceiling:
        r.ceiling_load = load_average()
        ceiling: Ceiling = await retrying(
            args.retries,
            f"ceiling {kind} x{workers}",
            lambda: asyncio.to_thread(
                measure,
                args.amqp_url,
                kind == "STANDARD",
                workers,
                args.ceiling_seconds,
                inflight=max(1, args.executions // workers),
                queue_type=args.queue_type,
            ),
        )
        r.ceiling, r.ceiling_cpu_us = ceiling.hops_per_second, ceiling.cpu_us_per_hop
    m = await retrying(
        args.retries,
        f"engine {kind} x{workers}",
        lambda: run_engine(cfg, store, kind, workers, args.executions, args.seconds),
    )
    r.hops_per_s = m["hops_per_s"]
    r.transitions_per_s = m["hops_per_s"] * STATES_PER_LOOP / HOPS_PER_LOOP[args.task]
    r.history_per_s = m.get("history_per_s")
    for key in (
        "p50_ms",
        "p99_ms",
        "mean_ms",
        "samples",
        "worker_cpu_us",
        "pg_cpu_us",
        "bench_cpu_us",
        "load",
    ):
        setattr(r, key, m[key])
    if m["duplicates"]:
        r.notes.append(f"{m['duplicates']} hops of the sampled executions published twice")
    if probe:
        p = await retrying(
            args.retries, f"probe {kind}", lambda: run_engine(cfg, store, kind, 1, 1, args.probe_seconds)
        )
        r.probe_p50_ms, r.probe_p99_ms, r.probe_hops_per_s = p["p50_ms"], p["p99_ms"], p["hops_per_s"]
    return r


def progress_line(r: Result) -> str:
    line = (
        f"{r.kind} x{r.workers}: ceiling {fmt(r.ceiling)}/s (load {fmt(r.ceiling_load, '.1f')}), "
        f"engine {fmt(r.hops_per_s)} hops/s, ratio {fmt(r.ratio, '.2f')}, p50 {fmt(r.p50_ms, '.1f')} ms "
        f"p99 {fmt(r.p99_ms, '.1f')} ms (n={r.samples}), CPU/hop worker {fmt(r.worker_cpu_us)} us, "
        f"pg {fmt(r.pg_cpu_us)} us, ceiling {fmt(r.ceiling_cpu_us)} us, CPU ratio {fmt(r.cpu_ratio, '.2f')}, "
        f"tap {fmt(r.bench_cpu_us)} us, load {fmt(r.load, '.1f')}"
    )
    if r.probe_p50_ms is not None:
        line += f", probe p50 {fmt(r.probe_p50_ms, '.2f')} ms p99 {fmt(r.probe_p99_ms, '.2f')} ms"
    return line + (f" [{'; '.join(r.notes)}]" if r.notes else "")


async def amain(args: argparse.Namespace) -> list[Result]:
    kinds = [k.strip().upper() for k in args.types.split(",")]
    counts = [int(w) for w in args.workers.split(",")]
    name, db_url, admin = await scratch_database(args.database_url)
    results: list[Result] = []
    logdir = Path(tempfile.mkdtemp(prefix="engine_throughput-"))
    extra_env = dict(kv.split("=", 1) for kv in args.env)
    cfg = Config(
        args.amqp_url,
        db_url,
        name,
        args.queue_type,
        args.prefetch,
        args.warmup,
        args.seconds,
        args.sample,
        args.task,
        worker_command(args.worker_command),
        Path(args.worker_cwd or ROOT),
        logdir,
        extra_env,
    )
    if args.py_spy:
        cfg.profile_dir = Path(args.py_spy)
        cfg.profile_dir.mkdir(parents=True, exist_ok=True)
        cfg.py_spy = str(Path(sys.executable).with_name("py-spy"))
    print(f"scratch database {name}; worker logs in {logdir}; command: {' '.join(cfg.command)}", flush=True)
    store = Store(db_url, pool_size=4)
    try:
        await store.migrate()
        for rep in range(args.repeat):
            for kind in kinds:
                for workers in counts:
                    probe = args.probe_seconds > 0 and workers == min(counts)
                    r = await measure_row(args, cfg, store, kind, workers, probe)
                    results.append(r)
                    print(f"[{rep + 1}/{args.repeat}] {progress_line(r)}", flush=True)
    finally:
        await store.close()
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.dispose()
    return results


def summarize(results: list[Result]) -> list[Result]:
    """Median per (type, workers) over the repeats (the ratio is taken per run, then median)."""
    groups: dict[tuple[str, int], list[Result]] = {}
    for r in results:
        groups.setdefault((r.kind, r.workers), []).append(r)
    out = []
    for runs in groups.values():
        out.append(sorted(runs, key=lambda r: r.ratio)[len(runs) // 2])  # the median-ratio run, whole
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--amqp-url", default=DEFAULT_AMQP)
    parser.add_argument(
        "--database-url", default=DEFAULT_DB, help="PostgreSQL server; a scratch database is created on it"
    )
    parser.add_argument("--types", default="STANDARD,EXPRESS")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker process counts")
    parser.add_argument(
        "--executions", "-k", type=int, default=64, help="K concurrent executions (= hops in flight)"
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="measured window per run")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--ceiling-seconds", type=float, default=3.0)
    parser.add_argument("--no-ceiling", action="store_true", help="skip the ceiling (prototype comparisons)")
    parser.add_argument(
        "--probe-seconds", type=float, default=3.0, help="K=1 latency probe per type (0: off)"
    )
    parser.add_argument(
        "--queue-type",
        choices=["quorum", "classic"],
        default="classic",
        help="as STATEHOP_QUEUE_TYPE (workers) and for the ceiling; classic as in DESIGN.md's table",
    )
    parser.add_argument("--prefetch", type=int, default=64, help="as STATEHOP_PREFETCH")
    parser.add_argument("--sample", type=int, default=16, help="executions tapped for latency")
    parser.add_argument(
        "--task", action="store_true", help="Ship is a Task answered by a service in this process"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per row; the median-ratio run is shown")
    parser.add_argument("--worker-command", help="instead of `statehop worker` (e.g. a prototype tree)")
    parser.add_argument("--worker-cwd", help="working directory of the workers (default: the repository)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="extra worker env")
    parser.add_argument(
        "--retries", type=int, default=2, help="re-runs of a run the broker or a worker broke"
    )
    parser.add_argument("--json", metavar="FILE", help="also write every run as JSON")
    parser.add_argument(
        "--py-spy", metavar="DIR", help="profile each worker over the window (py-spy raw stacks into DIR)"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    results = asyncio.run(amain(args))
    print_table(summarize(results), args)
    loads = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"total {time.monotonic() - started:.0f} s; load average now {loads}")
    if args.json:
        rows = [asdict(r) | {"ratio": r.ratio, "cpu_ratio": r.cpu_ratio} for r in results]
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
