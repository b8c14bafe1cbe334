"""A runtime and its API served by uvicorn on 127.0.0.1, in a thread with its own loop.

boto3 and the AWS CLI are synchronous clients of a real HTTP server, so the server (engine,
store, transport, API) runs on an event loop in a background thread and the tests call it
over TCP like any client would. ``call`` runs a coroutine on the server's loop for the rare
setup the API has no action for.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
from botocore.config import Config

from runtime.api import ApiSettings, create_app
from runtime.api.server import bind, serve
from runtime.api.service import ApiEngine
from runtime.config import Settings
from runtime.embedded import EmbeddedRuntime
from runtime.integrations import builtin_service
from runtime.roles import components
from runtime.store import Store
from services.sdk import Service
from tests.api.services import SERVICES
from tests.support.db import create_postgres_database, drop_postgres_database

T = TypeVar("T")

ACCESS_KEY = "AKIDSTATEHOPTEST"
SECRET_KEY = "statehop-test-secret"
BEARER_TOKEN = "statehop-test-token"
REGION = "us-east-1"
START_TIMEOUT = 90.0

API_SETTINGS = ApiSettings(
    auth=frozenset({"sigv4", "bearer"}),
    access_keys={ACCESS_KEY: SECRET_KEY},
    tokens=frozenset({BEARER_TOKEN}),
    activity_poll_seconds=5.0,
    sync_timeout_seconds=60.0,
)


@dataclass
class Opened:
    engine: ApiEngine
    store: Store
    settings: Settings


RuntimeFactory = Callable[[], contextlib.AbstractAsyncContextManager[Opened]]


@contextlib.asynccontextmanager
async def embedded_runtime() -> AsyncIterator[Opened]:
    """The embedded default: in-memory broker, SQLite in memory, in-process timers."""
    async with EmbeddedRuntime(services=SERVICES) as rt:
        yield Opened(rt.engine, rt.store, Settings(amqp_url="memory://"))


def broker_runtime(amqp_url: str, admin_database_url: str) -> RuntimeFactory:
    """RabbitMQ (a unique queue prefix, deleted after) + PostgreSQL (a database of its own)."""

    @contextlib.asynccontextmanager
    async def open_runtime() -> AsyncIterator[Opened]:
        database_url = await create_postgres_database(admin_database_url)
        try:
            settings = Settings(
                amqp_url=amqp_url,
                database_url=database_url,
                queue_prefix=f"t{uuid.uuid4().hex[:12]}",
                token_secret="api-tests",
            )
            async with components(settings, in_process_timers=True) as c:
                try:
                    service = Service("api-tests")
                    for name, fn in SERVICES.items():
                        service.task(name)(fn)
                    await service.attach(c.transport)
                    await builtin_service().attach(c.transport)
                    await c.engine.start()
                    yield Opened(c.engine, c.store, settings)
                finally:
                    await c.transport.delete_topology()
        finally:
            await drop_postgres_database(admin_database_url, database_url)

    return open_runtime


class ApiServer:
    """Start with :meth:`start`, stop with :meth:`stop`; ``url`` is the endpoint."""

    def __init__(self, runtime: RuntimeFactory, api_settings: ApiSettings = API_SETTINGS) -> None:
        self.runtime = runtime
        self.api_settings = api_settings
        self.url = ""
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="statehop-api-test", daemon=True)
        self.opened: Opened | None = None

    def start(self) -> ApiServer:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise TimeoutError(f"the API server did not start within {START_TIMEOUT:.0f}s")
        if self._error is not None:
            raise RuntimeError(f"the API server failed to start: {self._error!r}") from self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    def call(self, fn: Callable[[Opened], Awaitable[T]], timeout: float = 60.0) -> T:
        """Run ``fn(opened)`` on the server's loop and return its result."""
        assert self._loop is not None and self.opened is not None
        opened = self.opened

        async def run() -> T:
            return await fn(opened)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def client(
        self,
        access_key: str = ACCESS_KEY,
        secret_key: str = SECRET_KEY,
        **config: Any,
    ) -> Any:
        """A boto3 Step Functions client for this server (no retries, no host prefix)."""
        options: dict[str, Any] = {
            "retries": {"max_attempts": 1, "mode": "standard"},
            "read_timeout": 70,
            "inject_host_prefix": False,
        }
        options.update(config)
        return boto3.session.Session().client(
            "stepfunctions",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(**options),
        )

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with self.runtime() as opened:
            self.opened = opened
            app = create_app(opened.engine, opened.store, opened.settings, api_settings=self.api_settings)
            sock = bind("127.0.0.1", 0)
            self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
            started = asyncio.Event()
            server = asyncio.create_task(serve(app, sock, self._stop, started=started))
            waiter = asyncio.create_task(started.wait())
            await asyncio.wait({server, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if server.done():
                waiter.cancel()
                await server  # raises why uvicorn could not start
            self._ready.set()
            await server


__all__ = [
    "ACCESS_KEY",
    "BEARER_TOKEN",
    "SECRET_KEY",
    "ApiServer",
    "broker_runtime",
    "embedded_runtime",
]
