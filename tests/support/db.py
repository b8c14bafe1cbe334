"""Database fixtures: every store test runs on SQLite (a temp file) AND PostgreSQL.

PostgreSQL is found at ``STATEHOP_TEST_DATABASE_URL`` (default
postgresql+asyncpg://postgres@127.0.0.1:5432/test); if it does not answer and the Debian
cluster tools are installed, it is started with ``pg_ctlcluster``; if it still does not
answer, the test FAILS with the reason. It never skips: a green run means both backends ran.
Each test gets a database of its own (``CREATE DATABASE statehop_test_<random>``), so
parallel runs and parallel test workers never see each other's rows.

Use from a test module with ``pytest_plugins = ["tests.support.db"]``.

Also runnable as ``python -m tests.support.db complete-fork URL EXECUTION_ARN KEY FIRST STEP COUNT``:
a separate process reporting fork results, for the multi-process join test.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from runtime.store import Store
from runtime.store.engine import normalize_url

T = TypeVar("T")

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgresql")


def postgres_admin_url() -> str:
    """The PostgreSQL server tests use (its database is only used to create per-test ones)."""
    raw = os.environ.get("STATEHOP_TEST_DATABASE_URL", DEFAULT_POSTGRES_URL)
    return normalize_url(raw).render_as_string(hide_password=False)


def run_in_thread(fn: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion on a private loop (callable while a loop is running)."""
    box: dict[str, Any] = {}

    def worker() -> None:
        try:
            box["value"] = asyncio.run(fn())  # type: ignore[arg-type]
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


async def _probe(url: str) -> str | None:
    """None if PostgreSQL answers ``SELECT 1`` at ``url``, else the error text."""
    engine = create_async_engine(url, connect_args={"timeout": 5})
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # any failure to connect is reported, not raised
        return f"{type(exc).__name__}: {exc}"
    finally:
        await engine.dispose()


def _start_local_postgres() -> str:
    """Try ``pg_ctlcluster <version> main start``; returns what was done (for the message)."""
    if shutil.which("pg_ctlcluster") is None or not Path("/etc/postgresql").is_dir():
        return "pg_ctlcluster is not installed, nothing to start"
    notes = []
    for version in sorted(os.listdir("/etc/postgresql")):
        done = subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        notes.append(f"pg_ctlcluster {version} main start -> {done.returncode} {done.stderr.strip()}")
    return "; ".join(notes)


_postgres_status: dict[str, str | None] = {}  # admin URL -> None (reachable) or why not
_postgres_lock = threading.Lock()


def require_postgres() -> str:
    """The admin URL of a reachable PostgreSQL, starting it if we can; pytest.fail otherwise.

    The verdict is remembered for the session, so an unreachable server costs one wait.
    """
    url = postgres_admin_url()
    with _postgres_lock:
        if url not in _postgres_status:
            error = run_in_thread(lambda: _probe(url))
            if error is not None:
                action = _start_local_postgres()
                deadline = time.monotonic() + 30
                while error is not None and time.monotonic() < deadline:
                    time.sleep(0.5)
                    error = run_in_thread(lambda: _probe(url))
                if error is not None:
                    error = f"{error}. Tried: {action}"
            _postgres_status[url] = error
        error = _postgres_status[url]
    if error is not None:
        ci = " (CI=true)" if os.environ.get("CI") == "true" else ""
        pytest.fail(
            f"PostgreSQL is required and unreachable at {url}: {error}. Set STATEHOP_TEST_DATABASE_URL "
            "to a server where the tests may create databases, or start one (pg_ctlcluster "
            f"--skip-systemctl-redirect <version> main start). Store tests never skip{ci}.",
            pytrace=False,
        )
    return url


async def create_postgres_database(admin_url: str) -> str:
    """A fresh, empty database on the server; returns its URL."""
    name = f"statehop_test_{uuid.uuid4().hex[:16]}"
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        await engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await engine.dispose()


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL database (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
        return
    admin = require_postgres()
    url = await create_postgres_database(admin)
    try:
        yield url
    finally:
        await drop_postgres_database(admin, url)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A Store on ``database_url``, migrated to head."""
    instance = Store(database_url)
    await instance.migrate()
    try:
        yield instance
    finally:
        await instance.close()


# --- a second process for the multi-process join test ---------------------------------------


async def _complete_fork(url: str, execution_arn: str, key: str, first: int, step: int, count: int) -> None:
    """Report results for items first, first+step, ... (each in its own transaction); print
    one line per item: ``index recorded complete started-indexes``."""
    async with Store(url) as store:
        for index in range(first, count, step):
            async with store.transaction() as tx:
                progress = await tx.record_branch_result(execution_arn, key, index, True, output=str(index))
            started = ",".join(str(item.index) for item in progress.start) or "-"
            print(index, int(progress.recorded), int(progress.complete), started, flush=True)


def main(argv: list[str]) -> int:
    if len(argv) == 7 and argv[0] == "complete-fork":
        _, url, arn, key, first, step, count = argv
        asyncio.run(_complete_fork(url, arn, key, int(first), int(step), int(count)))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
