"""Services on real RabbitMQ: a Node.js service with nothing but amqplib, the SDK runner as a
process (graceful SIGTERM), heartbeats across connections, and events:putEvents on the topic
exchange. Each test has a queue prefix of its own; its queues are deleted afterwards.

The Node.js test runs ``npm ci`` (amqplib from the npm registry) in a temporary copy of
services/examples/node-inventory; it FAILS, never skips, when node/npm or RabbitMQ is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from runtime.transport import Delivery, Topology
from services.examples.order_service import make_service
from services.run import READY
from services.worker import Worker
from tests.services.harness import Runtime, runtime

# amqp_url: found, or started, or the test FAILS (never skips)
pytest_plugins = ["tests.support.broker"]

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
NODE_SERVICE = ROOT / "services" / "examples" / "node-inventory"
ORDER = ROOT / "examples" / "order"
CASES = {case["name"]: case for case in json.loads((ORDER / "cases.json").read_text())}
HAPPY = next(c for name, c in CASES.items() if name.startswith("happy path"))
OUT_OF_STOCK = next(c for name, c in CASES.items() if name.startswith("out of stock"))


class Process:
    """A child process whose stdout/stderr lines are collected as they arrive."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str) -> None:
        self.proc = proc
        self.name = name
        self.lines: list[str] = []
        self._new = asyncio.Event()
        assert proc.stdout is not None and proc.stderr is not None
        self._readers = [
            asyncio.create_task(self._read(proc.stdout)),
            asyncio.create_task(self._read(proc.stderr)),
        ]

    @classmethod
    async def start(cls, name: str, *argv: str, env: dict[str, str], cwd: Path) -> Process:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=str(cwd),
            env={**os.environ, **env},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc, name)

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.lines.append(line.decode(errors="replace").rstrip())
            self._new.set()

    async def wait_for(self, text: str, timeout: float = 60.0) -> str:
        async with asyncio.timeout(timeout):
            while True:
                for line in self.lines:
                    if text in line:
                        return line
                if self.proc.returncode is not None:
                    await asyncio.sleep(0.1)  # let the readers drain
                    for line in self.lines:
                        if text in line:
                            return line
                    pytest.fail(
                        f"{self.name} exited ({self.proc.returncode}) before {text!r}:\n{self.output}"
                    )
                self._new.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._new.wait(), 0.5)

    @property
    def output(self) -> str:
        return "\n".join(self.lines[-60:])

    async def terminate(self, timeout: float = 30.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def close(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        for reader in self._readers:
            reader.cancel()


@pytest.fixture
async def rt(amqp_url: str) -> AsyncIterator[Runtime]:
    async with runtime(amqp_url) as r:
        yield r


# ------------------------------------------------------------------ the Node.js service


@pytest.fixture(scope="session")
def node_inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """services/examples/node-inventory with its locked dependencies installed (npm ci)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("the Node.js service test needs node and npm on PATH (Node.js 18+)")
    target = tmp_path_factory.mktemp("node-inventory")
    for name in ("package.json", "package-lock.json", "index.js"):
        shutil.copy(NODE_SERVICE / name, target / name)
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=target,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"npm ci failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return target


async def test_order_workflow_with_a_node_service_on_rabbitmq(
    rt: Runtime, amqp_url: str, node_inventory: Path
) -> None:
    node = await Process.start(
        "node-inventory",
        shutil.which("node") or "node",
        "index.js",
        env={"STATEHOP_AMQP_URL": amqp_url, "STATEHOP_QUEUE_PREFIX": rt.topology.prefix},
        cwd=node_inventory,
    )
    services = await rt.new_transport()
    worker = Worker(make_service(["validate-order", "charge-card", "send-confirmation", "refund"]))
    try:
        await node.wait_for("ready: consuming")
        await worker.attach(services)
        machine = await rt.create((ORDER / "machine.asl.json").read_text(), "order")
        for case in (HAPPY, OUT_OF_STOCK):
            result = (await rt.wait(await rt.start(machine, case["input"]))).to_json()
            assert result == case["expect"], f"{case['name']}\n{node.output}"
        assert worker.answered >= 6  # the Python tasks; reserve-inventory was Node's
        assert await node.terminate() == 0, node.output
        assert "SIGTERM" in node.output and "stopped" in node.output
    finally:
        await node.close()
        await worker.stop(5)
        await services.close()


# ------------------------------------------------------------------ the SDK runner as a process


async def test_runner_process_finishes_in_flight_task_on_sigterm(rt: Runtime, amqp_url: str) -> None:
    proc = await Process.start(
        "services.run",
        sys.executable,
        "-m",
        "services.run",
        "tests.services.slow_service:service",
        "--url",
        amqp_url,
        "--prefix",
        rt.topology.prefix,
        "--shutdown-timeout",
        "30",
        env={"PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    try:
        await proc.wait_for(READY)
        machine = await rt.create(
            {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "slow-proc", "End": True}}}
        )
        first = await rt.start(machine, {"n": 1, "seconds": 2})
        await proc.wait_for("started ")
        assert await proc.terminate() == 0, proc.output  # waits for the in-flight task, then exits 0
        assert (await rt.wait(first)).output == {"done": 1}
        assert "finishing 1 in flight" in proc.output

        second = await rt.start(machine, {"n": 2, "seconds": 0})
        queue = Topology.task_queue("slow-proc")
        for _ in range(100):
            if await rt.transport.queue_depth(queue) == 1:
                break
            await asyncio.sleep(0.1)
        assert await rt.transport.queue_depth(queue) == 1  # nobody consumes it any more
        async with rt.store.transaction() as tx:
            assert str((await tx.get_execution(second)).status) == "RUNNING"
    finally:
        await proc.close()


# ------------------------------------------------------------------ heartbeats across connections


async def test_heartbeats_over_rabbitmq(rt: Runtime) -> None:
    services = await rt.new_transport()
    service = make_service(["validate-order"])

    @service.task("slow-rabbit")
    async def slow(payload: Any) -> Any:
        await asyncio.sleep(2.5)
        return "ok"

    worker = Worker(service)
    await worker.attach(services)
    try:
        task = {
            "Type": "Task",
            "Resource": "slow-rabbit",
            "HeartbeatSeconds": 1,
            "TimeoutSeconds": 20,
            "End": True,
        }
        result = await rt.run({"StartAt": "T", "States": {"T": task}})
        assert (result.status, result.output) == ("SUCCEEDED", "ok")
        assert worker.heartbeats >= 3
    finally:
        await worker.stop(5)
        await services.close()


# ------------------------------------------------------------------ events:putEvents on the exchange


async def test_put_events_routes_on_the_topic_exchange(rt: Runtime) -> None:
    received: list[tuple[dict[str, Any], dict[str, Any]]] = []
    got = asyncio.Event()

    async def collect(delivery: Delivery) -> None:
        received.append((orjson.loads(delivery.message.body), dict(delivery.message.headers)))
        got.set()
        await delivery.ack()

    await rt.transport.bind_events("orders-events", "event.com.shop.#")
    await rt.transport.consume("orders-events", collect, prefetch=10)
    entries = [
        {"Source": "com.shop.orders", "DetailType": "Order Placed", "Detail": {"orderId": "o-1"}},
        {"Source": "org.elsewhere", "DetailType": "Ignored", "Detail": {}},
    ]
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::events:putEvents",
        "Parameters": {"Entries": entries},
    }
    result = await rt.run({"StartAt": "T", "States": {"T": {**task, "End": True}}})
    assert result.status == "SUCCEEDED" and result.output["FailedEntryCount"] == 0
    await asyncio.wait_for(got.wait(), 10)
    await asyncio.sleep(0.3)  # the second event must not arrive
    assert [(e["source"], e["detail-type"], e["detail"]) for e, _ in received] == [
        ("com.shop.orders", "Order Placed", {"orderId": "o-1"})
    ]
    assert received[0][1]["x-sh-event-bus"] == "default"
