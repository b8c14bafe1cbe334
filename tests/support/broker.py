"""Broker fixtures: a reachable RabbitMQ URL, and a started transport of each kind.

Use from a test module with ``pytest_plugins = ["tests.support.broker"]`` (or from a
conftest). Finding RabbitMQ: ``STATEHOP_TEST_AMQP_URL``, else 127.0.0.1:5672, else start
``rabbitmq-server -detached`` when it is installed; otherwise the test FAILS with the reason.
It never skips: a missing broker must be visible, above all in CI.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

import pytest

from runtime.transport.base import Topology, Transport
from runtime.transport.memory import MemoryBroker, MemoryTransport
from runtime.transport.rabbitmq import RabbitMQTransport

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
START_TIMEOUT = 90.0


def _reachable(url: str, timeout: float = 1.0) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), timeout):
            return True
    except OSError:
        return False


def find_amqp_url() -> str:
    """Return a reachable broker URL, starting a local RabbitMQ if needed, or fail the test."""
    url = os.environ.get("STATEHOP_TEST_AMQP_URL")
    if url:
        if not _reachable(url):
            pytest.fail(f"STATEHOP_TEST_AMQP_URL={url} is set but nothing answers there")
        return url
    if _reachable(DEFAULT_AMQP_URL):
        return DEFAULT_AMQP_URL
    binary = shutil.which("rabbitmq-server")
    if binary is None:
        pytest.fail(
            "RabbitMQ is needed: nothing listens on 127.0.0.1:5672, STATEHOP_TEST_AMQP_URL is unset "
            "and rabbitmq-server is not installed (apt-get install rabbitmq-server)"
        )
    subprocess.run([binary, "-detached"], check=False, capture_output=True, timeout=60)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if _reachable(DEFAULT_AMQP_URL):
            return DEFAULT_AMQP_URL
        time.sleep(0.5)
    pytest.fail(f"started rabbitmq-server -detached but port 5672 did not open within {START_TIMEOUT:.0f}s")


@pytest.fixture(scope="session")
def amqp_url() -> str:
    return find_amqp_url()


def unique_prefix() -> str:
    """A name prefix no other test run uses, so parallel runs never share a queue."""
    return f"t{uuid.uuid4().hex[:12]}"


TransportFactory = Callable[..., Awaitable[Transport]]


@pytest.fixture(params=["memory", pytest.param("rabbitmq", marks=pytest.mark.integration)])
def transport_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def transport_factory(
    request: pytest.FixtureRequest, transport_kind: str
) -> AsyncIterator[TransportFactory]:
    """Make more started transports of the current kind on one shared broker and prefix.

    Every transport made is closed, and everything declared is deleted, at teardown.
    """
    made: list[Transport] = []
    prefix = unique_prefix()
    broker = MemoryBroker()
    url = request.getfixturevalue("amqp_url") if transport_kind == "rabbitmq" else ""

    async def make(topology: Topology | None = None, *, start: bool = True) -> Transport:
        topo = topology or Topology(prefix=prefix, delivery_limit=3)
        transport: Transport
        if transport_kind == "memory":
            transport = MemoryTransport(topo, broker)
        else:
            transport = RabbitMQTransport(
                url, topo, publish_timeout=15.0, connection_name=f"statehop-test-{topo.prefix}"
            )
        made.append(transport)
        if start:
            await transport.start()
        return transport

    yield make
    for transport in reversed(made):
        try:
            await transport.delete_topology()
        finally:
            await transport.close()


@pytest.fixture
async def transport(transport_factory: TransportFactory) -> Transport:
    """A started transport (memory, then RabbitMQ) with a unique prefix and delivery limit 3."""
    return await transport_factory()


class TcpProxy:
    """A TCP relay in front of the broker that a test can cut and restore.

    Simulates a broker outage (or a network partition) for one client without touching the
    shared RabbitMQ other tests and engineers use.
    """

    def __init__(self, target_url: str) -> None:
        parts = urlsplit(target_url)
        self.target_host = parts.hostname or "127.0.0.1"
        self.target_port = parts.port or 5672
        self._target_url = parts
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        netloc = self._target_url.netloc.rsplit("@", 1)
        creds = f"{netloc[0]}@" if len(netloc) == 2 else ""
        return f"{self._target_url.scheme}://{creds}127.0.0.1:{self.port}{self._target_url.path or '/'}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Drop every relayed connection and refuse new ones until :meth:`start`."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()


@pytest.fixture
async def broker_proxy(amqp_url: str) -> AsyncIterator[TcpProxy]:
    """A :class:`TcpProxy` to the test broker; ``proxy.url`` is what the client connects to."""
    proxy = TcpProxy(amqp_url)
    await proxy.start()
    yield proxy
    await proxy.cut()
