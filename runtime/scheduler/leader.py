"""The leader lock: only one scheduler fires jobs at a time.

PostgreSQL: a session advisory lock held on a connection of its own. The server releases it
when that session ends, so a SIGKILLed leader hands over as soon as its socket closes; a leader
that cannot reach its connection any more must assume it lost the lock and stop firing.
SQLite: an exclusive ``flock`` on a file beside the database (one host; the lock dies with the
process). In-memory SQLite: there is only this process, it always leads.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
from typing import IO, Any

import asyncpg
from sqlalchemy.engine import URL

from runtime.scheduler.jobstore import TABLE, is_memory
from runtime.store.engine import normalize_url

log = logging.getLogger("statehop.scheduler")


def lock_key(name: str = TABLE) -> int:
    """A stable signed 64-bit advisory-lock key for a job table."""
    digest = hashlib.sha256(f"statehop.scheduler:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class LeaderLock(abc.ABC):
    """Try to become leader; check we still are; let go."""

    @abc.abstractmethod
    async def try_acquire(self) -> bool:
        """True if this process holds the lock now (never blocks for long)."""

    @abc.abstractmethod
    async def still_held(self) -> bool:
        """False once the lock may have been lost (connection gone)."""

    @abc.abstractmethod
    async def release(self) -> None:
        """Give the lock up (idempotent)."""


class PostgresAdvisoryLock(LeaderLock):
    """``pg_try_advisory_lock`` on a dedicated asyncpg connection."""

    def __init__(self, url: str | URL, key: int | None = None, *, timeout: float = 5.0) -> None:
        parsed = normalize_url(url).set(drivername="postgresql")
        self.dsn = parsed.render_as_string(hide_password=False)
        self.key = lock_key() if key is None else key
        self.timeout = timeout
        self._conn: Any = None

    async def _connection(self) -> Any:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self.dsn, timeout=self.timeout)
        return self._conn

    async def try_acquire(self) -> bool:
        try:
            conn = await self._connection()
            return bool(
                await conn.fetchval("SELECT pg_try_advisory_lock($1)", self.key, timeout=self.timeout)
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.warning("leader lock: cannot reach PostgreSQL: %s", exc)
            await self._drop()
            return False

    async def still_held(self) -> bool:
        conn = self._conn
        if conn is None or conn.is_closed():
            return False
        try:
            # the lock lives as long as this session: a round trip proves the session does
            return bool(await conn.fetchval("SELECT 1", timeout=self.timeout) == 1)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.warning("leader lock: connection lost (%s)", exc)
            await self._drop()
            return False

    async def release(self) -> None:
        conn = self._conn
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await conn.fetchval("SELECT pg_advisory_unlock($1)", self.key, timeout=self.timeout)
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), self.timeout)
            if not conn.is_closed():
                conn.terminate()


class FileLock(LeaderLock):
    """An exclusive, non-blocking ``flock`` on ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    async def try_acquire(self) -> bool:
        if self._file is not None:
            return True
        handle = open(self.path, "ab")  # noqa: SIM115 - held open as long as we lead
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    async def still_held(self) -> bool:
        return self._file is not None

    async def release(self) -> None:
        handle, self._file = self._file, None
        if handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()


class AlwaysLeader(LeaderLock):
    """In-memory SQLite: no other process can share the job store."""

    async def try_acquire(self) -> bool:
        return True

    async def still_held(self) -> bool:
        return True

    async def release(self) -> None:
        return None


def leader_lock(url: str | URL, table: str = TABLE) -> LeaderLock:
    """The right lock for the store URL the job store lives in."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "postgresql":
        return PostgresAdvisoryLock(parsed, lock_key(table))
    if is_memory(parsed):
        return AlwaysLeader()
    database = os.path.abspath(str(parsed.database))
    return FileLock(f"{database}.{table}.lock")


__all__ = ["AlwaysLeader", "FileLock", "LeaderLock", "PostgresAdvisoryLock", "leader_lock", "lock_key"]
