"""Run ``statehop`` role processes (``statehop worker`` ...) from integration tests.

Each process is the real console script with its configuration in ``STATEHOP_*`` environment
variables (a unique queue prefix and the test database), its stdout/stderr in a log file of
its own, and helpers to wait for a log line, SIGTERM it (graceful stop) or SIGKILL it (crash).

    async with ProcessGroup(RoleConfig(amqp_url, database_url, new_prefix()), tmp_path) as group:
        a = await group.start_worker()          # returns once it logged "worker consuming"
        a.kill()                                # SIGKILL: no cleanup at all
        b = await group.start_worker()
        b.terminate(); assert await b.wait_exit(30) == 0

Every process a group started is SIGKILLed (and reaped) when the group closes, whatever
happened in the test, so a failing test never leaves workers consuming behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

#: Logged by runtime.roles.run_worker once its consumers are subscribed.
WORKER_READY = "worker consuming"
#: Logged by run_worker when SIGTERM/SIGINT arrives.
WORKER_STOPPING = "SIGTERM: no new hops"

DEFAULT_READY_TIMEOUT = 45.0
LOG_TAIL = 4000


def new_prefix() -> str:
    """A queue prefix no other test (or test run) uses, so parallel runs never share a queue."""
    return f"t{uuid.uuid4().hex[:12]}"


def statehop_command() -> list[str]:
    """The ``statehop`` console script of this interpreter's environment (else ``-m runtime.cli``)."""
    script = Path(sys.executable).with_name("statehop")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "runtime.cli"]


@dataclass(frozen=True)
class RoleConfig:
    """What every role process of one test shares: broker, database, prefix, token secret."""

    amqp_url: str
    database_url: str
    queue_prefix: str
    token_secret: str = "statehop-test-secret"
    resource_map: dict[str, str] = field(default_factory=dict)
    shutdown_timeout: float = 20.0
    extra: dict[str, str] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        """This process's environment without any inherited STATEHOP_*, plus this config."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("STATEHOP_")}
        env.update(
            {
                "STATEHOP_AMQP_URL": self.amqp_url,
                "STATEHOP_DATABASE_URL": self.database_url,
                "STATEHOP_QUEUE_PREFIX": self.queue_prefix,
                "STATEHOP_TOKEN_SECRET": self.token_secret,
                "STATEHOP_RESOURCE_MAP": json.dumps(self.resource_map),
                "STATEHOP_SHUTDOWN_TIMEOUT": str(self.shutdown_timeout),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra)
        return env


class StatehopProcess:
    """One ``statehop <role>`` subprocess whose output goes to ``log_path``."""

    def __init__(
        self, role: str, name: str, env: dict[str, str], log_path: Path, cwd: Path | None = None
    ) -> None:
        self.role = role
        self.name = name
        self.env = env
        self.log_path = log_path
        self.cwd = cwd or Path(__file__).resolve().parents[2]
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self) -> None:
        if self.proc is not None:
            raise RuntimeError(f"{self.name} was started already")
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [*statehop_command(), self.role],
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a ^C in the test terminal reaches pytest only
            )
        self.started_at = time.monotonic()

    # -- state

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError(f"{self.name} is not started")
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, chars: int = LOG_TAIL) -> str:
        return (
            f"--- {self.name} ({self.role}, pid {self.proc.pid if self.proc else '-'}, "
            f"exit {self.returncode}) log tail ---\n{self.log()[-chars:]}"
        )

    def count(self, text: str) -> int:
        return self.log().count(text)

    # -- waiting

    async def wait_for_log(self, text: str, timeout: float, *, occurrences: int = 1) -> None:
        """Until ``text`` appears in the log ``occurrences`` times; fails if the process exits first."""
        deadline = time.monotonic() + timeout
        while True:
            if self.count(text) >= occurrences:
                return
            if not self.alive:
                raise AssertionError(
                    f"{self.name} exited ({self.returncode}) before logging {text!r}\n{self.tail()}"
                )
            if time.monotonic() >= deadline:
                raise AssertionError(f"{self.name} did not log {text!r} within {timeout:.0f}s\n{self.tail()}")
            await asyncio.sleep(0.05)

    async def wait_ready(self, timeout: float = DEFAULT_READY_TIMEOUT) -> None:
        await self.wait_for_log(WORKER_READY, timeout)

    async def wait_exit(self, timeout: float) -> int:
        """The exit code; AssertionError if it is still running after ``timeout``."""
        deadline = time.monotonic() + timeout
        while (code := self.returncode) is None:
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"{self.name} still running {timeout:.0f}s after being asked to stop\n{self.tail()}"
                )
            await asyncio.sleep(0.05)
        return code

    # -- signals

    def send(self, sig: signal.Signals) -> None:
        if self.alive:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        """SIGTERM: the graceful stop (no new hops, finish the ones in flight, exit 0)."""
        self.send(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: a crash, nothing runs in the process after this."""
        self.send(signal.SIGKILL)

    def stop(self, wait: float = 10.0) -> None:
        """Cleanup for finally blocks: SIGKILL if still running and reap the process."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL cannot be ignored; bound anyway
            self.proc.wait(wait)


class ProcessGroup:
    """Starts role processes of one test; kills every one of them on close."""

    def __init__(self, config: RoleConfig, log_dir: Path) -> None:
        self.config = config
        self.log_dir = log_dir
        self.processes: list[StatehopProcess] = []
        log_dir.mkdir(parents=True, exist_ok=True)

    def spawn(self, role: str, name: str | None = None, env: dict[str, str] | None = None) -> StatehopProcess:
        name = name or f"{role}-{len(self.processes) + 1}"
        environment = self.config.environment()
        environment.update(env or {})
        process = StatehopProcess(role, name, environment, self.log_dir / f"{name}.log")
        self.processes.append(process)
        process.start()
        return process

    async def start_worker(
        self, name: str | None = None, *, ready: bool = True, timeout: float = DEFAULT_READY_TIMEOUT
    ) -> StatehopProcess:
        """A ``statehop worker``; by default returns once it is consuming."""
        worker = self.spawn("worker", name)
        if ready:
            await worker.wait_ready(timeout)
        return worker

    async def start_workers(
        self, count: int, *, timeout: float = DEFAULT_READY_TIMEOUT
    ) -> list[StatehopProcess]:
        """``count`` workers started together (ready in parallel)."""
        workers = [self.spawn("worker") for _ in range(count)]
        await asyncio.gather(*(w.wait_ready(timeout) for w in workers))
        return workers

    def tails(self) -> str:
        """Every process's log tail, for assertion messages."""
        return "\n".join(p.tail() for p in self.processes)

    def close(self) -> None:
        for process in self.processes:
            process.stop()

    async def __aenter__(self) -> ProcessGroup:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


__all__ = [
    "DEFAULT_READY_TIMEOUT",
    "WORKER_READY",
    "WORKER_STOPPING",
    "ProcessGroup",
    "RoleConfig",
    "StatehopProcess",
    "new_prefix",
    "statehop_command",
]
