"""The raw hop ceiling: what RabbitMQ + the Python client allow before any engine work.

A "hop" is consume + republish + ack of a ~500-byte JSON message carrying hop headers, with
K messages in flight. Persistent mode waits for the publisher confirm before acking, as the
engine must. Engine benchmarks are compared against these figures::

    from bench.hop_ceiling import measure_ceiling
    ceiling = measure_ceiling(url, persistent=True, processes=1, seconds=3.0)

``--via transport`` runs the same loop through :class:`RabbitMQTransport` to show what our
layer costs on top of raw aio-pika. Each measurement runs in fresh spawned processes (own
connection, own event loop), so uvloop on/off and 1 vs 2 processes are comparable.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from typing import Any, Literal

if __package__ in (None, ""):  # `python bench/hop_ceiling.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import aio_pika

from runtime.hop import Hop
from runtime.transport.base import Delivery, Message, Topology
from runtime.transport.rabbitmq import RabbitMQTransport

DEFAULT_URL = os.environ.get("STATEHOP_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
Via = Literal["aio-pika", "transport"]


def sample_message() -> Message:
    """A realistic hop: ~500-byte JSON document and the full header set."""
    body = {
        "order": {
            "id": "ord-000042",
            "customer": {"id": "c-1234567", "tier": "gold", "email": "someone@example.com"},
            "lines": [{"sku": f"sku-{i:04d}", "qty": i + 1, "price": 9.99 + i} for i in range(6)],
            "currency": "EUR",
        },
        "payment": {"status": "authorized", "reference": "pay_" + "x" * 24},
        "note": "n" * 40,
    }
    hop = Hop(
        "arn:aws:states:eu-west-1:123456789012:execution:Orders:7f3c6a1e-2f11-4c1b-9a8e-1d2b3c4d5e6f",
        "arn:aws:states:eu-west-1:123456789012:stateMachine:Orders:4",
        "Charge card",
        body,
        branch="",
        seq=1,
        kind="enter",
        deadline=time.time() + 3600,
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )
    return hop.to_message()


@dataclass(frozen=True)
class _Job:
    url: str
    queue: str
    prefix: str
    persistent: bool
    inflight: int
    seconds: float
    use_uvloop: bool
    via: Via
    queue_type: str


def _run_loop(job: _Job, main: Callable[[], Any]) -> Any:
    if job.use_uvloop:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(main())
    return asyncio.run(main())


async def _measure(job: _Job, barrier: Barrier, count: Callable[[], int]) -> tuple[float, int, float]:
    """Wait until every process is warm, then count hops for ``job.seconds``.

    Returns (hops/s, hops, client CPU seconds): CPU per hop is the figure that stays
    meaningful on a busy shared machine, where hops/s also measures the neighbours.
    """
    await asyncio.sleep(0.5)  # warm-up
    await asyncio.to_thread(barrier.wait)
    start_count, start, cpu = count(), time.perf_counter(), time.process_time()
    await asyncio.sleep(job.seconds)
    hops = count() - start_count
    return hops / (time.perf_counter() - start), hops, time.process_time() - cpu


async def _aio_pika_worker(job: _Job, barrier: Barrier) -> tuple[float, int, float]:
    sample = sample_message()
    connection = await aio_pika.connect(job.url)
    try:
        channel = await connection.channel(publisher_confirms=job.persistent)
        await channel.set_qos(prefetch_count=job.inflight * 2)
        queue = await channel.get_queue(job.queue, ensure=False)
        exchange = channel.default_exchange
        mode = aio_pika.DeliveryMode.PERSISTENT if job.persistent else aio_pika.DeliveryMode.NOT_PERSISTENT
        done = 0

        def make(seq: int) -> aio_pika.Message:
            headers = dict(sample.headers)
            headers["x-sh-seq"] = seq
            return aio_pika.Message(
                sample.body,
                headers=headers,
                content_type="application/json",
                delivery_mode=mode,
                message_id=uuid.uuid4().hex,
            )

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal done
            seq = message.headers.get("x-sh-seq", 0)
            await exchange.publish(make(seq + 1 if isinstance(seq, int) else 0), job.queue)
            await message.ack()
            done += 1

        for i in range(job.inflight):
            await exchange.publish(make(i), job.queue)
        await queue.consume(on_message)
        return await _measure(job, barrier, lambda: done)
    finally:
        await connection.close()


async def _transport_worker(job: _Job, barrier: Barrier) -> tuple[float, int, float]:
    sample = sample_message()
    topology = Topology(prefix=job.prefix, queue_type=job.queue_type)  # type: ignore[arg-type]
    transport = RabbitMQTransport(job.url, topology)
    await transport.start()
    done = 0
    sample.persistent = job.persistent

    def make(seq: int) -> Message:
        headers = dict(sample.headers)
        headers["x-sh-seq"] = seq
        return Message(sample.body, headers, uuid.uuid4().hex, sample.content_type, job.persistent)

    async def handler(delivery: Delivery) -> None:
        nonlocal done
        seq = delivery.message.headers.get("x-sh-seq", 0)
        await transport.publish("hops", make(seq + 1 if isinstance(seq, int) else 0))
        await delivery.ack()
        done += 1

    try:
        await transport.publish_many(("hops", make(i)) for i in range(job.inflight))
        await transport.consume("hops", handler, prefetch=job.inflight * 2)
        return await _measure(job, barrier, lambda: done)
    finally:
        await transport.close()


def _worker(job: _Job, barrier: Barrier, results: Any) -> None:
    work = _transport_worker if job.via == "transport" else _aio_pika_worker
    try:
        results.put(_run_loop(job, lambda: work(job, barrier)))
    except BaseException as exc:  # report instead of hanging the parent on the barrier
        barrier.abort()
        results.put(exc)
        raise


async def _declare(url: str, job: _Job) -> None:
    if job.via == "transport":
        transport = RabbitMQTransport(url, Topology(prefix=job.prefix, queue_type=job.queue_type))  # type: ignore[arg-type]
        await transport.start()
        await transport.close()
        return
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        await channel.declare_queue(job.queue, durable=True, arguments={"x-queue-type": job.queue_type})
    finally:
        await connection.close()


async def _cleanup(url: str, job: _Job) -> None:
    if job.via == "transport":
        transport = RabbitMQTransport(url, Topology(prefix=job.prefix, queue_type=job.queue_type))  # type: ignore[arg-type]
        await transport.start()
        await transport.delete_topology()
        await transport.close()
        return
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        await channel.queue_delete(job.queue)
    finally:
        await connection.close()


def uvloop_available() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class Ceiling:
    hops_per_second: float
    cpu_us_per_hop: float  # client CPU (all processes) per hop


def measure(
    url: str,
    persistent: bool,
    processes: int,
    seconds: float,
    *,
    inflight: int = 64,
    use_uvloop: bool = False,
    via: Via = "aio-pika",
    queue_type: str = "classic",
) -> Ceiling:
    """One measurement in fresh processes; see :func:`measure_ceiling`."""
    if use_uvloop and not uvloop_available():
        raise RuntimeError("uvloop is not installed (pip install uvloop)")
    prefix = f"bench{uuid.uuid4().hex[:10]}"
    job = _Job(url, f"{prefix}.hops", prefix, persistent, inflight, seconds, use_uvloop, via, queue_type)
    asyncio.run(_declare(url, job))
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(processes)
    results = ctx.Queue()
    workers = [
        ctx.Process(target=_worker, args=(job, barrier, results), daemon=True) for _ in range(processes)
    ]
    try:
        for worker in workers:
            worker.start()
        rate = hops = cpu = 0.0
        for _ in workers:
            result = results.get(timeout=seconds + 120)
            if isinstance(result, BaseException):
                raise RuntimeError(f"benchmark worker failed: {result!r}") from result
            rate, hops, cpu = rate + result[0], hops + result[1], cpu + result[2]
        for worker in workers:
            worker.join(timeout=30)
        return Ceiling(rate, cpu / hops * 1e6 if hops else float("nan"))
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
        try:
            asyncio.run(_cleanup(url, job))
        except Exception as exc:  # do not hide the measurement's own error behind this one
            print(f"warning: could not delete the queues of prefix {prefix}: {exc}", file=sys.stderr)


def measure_ceiling(
    url: str,
    persistent: bool,
    processes: int,
    seconds: float,
    *,
    inflight: int = 64,
    use_uvloop: bool = False,
    via: Via = "aio-pika",
    queue_type: str = "classic",
) -> float:
    """Hops per second (all processes together) of the consume + republish + ack loop.

    ``inflight`` messages circulate per process; ``persistent`` means delivery mode 2 and
    waiting for the publisher confirm before the ack.
    """
    return measure(
        url,
        persistent,
        processes,
        seconds,
        inflight=inflight,
        use_uvloop=use_uvloop,
        via=via,
        queue_type=queue_type,
    ).hops_per_second


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--seconds", type=float, default=3.0, help="measured time per row")
    parser.add_argument("--inflight", type=int, default=64, help="messages circulating per process (K)")
    parser.add_argument("--via", choices=["aio-pika", "transport", "both"], default="aio-pika")
    parser.add_argument("--queue-type", choices=["classic", "quorum"], default="classic")
    parser.add_argument("--processes", default="1,2", help="comma-separated process counts")
    parser.add_argument("--uvloop", choices=["auto", "on", "off"], default="auto")
    parser.add_argument("--repeat", type=int, default=1, help="runs per row; the median is shown")
    args = parser.parse_args(argv)

    loops = [False] if args.uvloop == "off" else [True] if args.uvloop == "on" else [False]
    if args.uvloop == "auto" and uvloop_available():
        loops = [False, True]
    vias: list[Via] = ["aio-pika", "transport"] if args.via == "both" else [args.via]
    counts = [int(p) for p in args.processes.split(",")]

    where = "default URL" if args.url == DEFAULT_URL else "custom URL"
    print(
        f"hop ceiling: {args.seconds:g}s per row, median of {args.repeat}, K={args.inflight} in flight "
        f"per process, {args.queue_type} queue, {os.cpu_count()} CPUs, {where}"
    )
    print(f"{'via':<10} {'mode':<20} {'procs':>5} {'loop':<8} {'hops/s':>8} {'client CPU/hop':>15}")
    for via in vias:
        for persistent in (False, True):
            for processes in counts:
                for use_uvloop in loops:
                    runs = [
                        measure(
                            args.url,
                            persistent,
                            processes,
                            args.seconds,
                            inflight=args.inflight,
                            use_uvloop=use_uvloop,
                            via=via,
                            queue_type=args.queue_type,
                        )
                        for _ in range(args.repeat)
                    ]
                    rate = statistics.median(r.hops_per_second for r in runs)
                    cpu = statistics.median(r.cpu_us_per_hop for r in runs)
                    mode = "persistent+confirms" if persistent else "transient"
                    loop = "uvloop" if use_uvloop else "asyncio"
                    print(
                        f"{via:<10} {mode:<20} {processes:>5} {loop:<8} {rate:>8,.0f} {cpu:>12,.0f} us",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
