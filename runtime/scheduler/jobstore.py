"""The persistent job store: APScheduler 3's SQLAlchemyJobStore in the store's own database.

Why a subclass and not the stock store:

- APScheduler removes (or advances) a job *before* it runs, so a crash between that commit and
  the job's publish would lose the timer. Here :meth:`TimerJobStore.get_due_jobs` *claims* due
  jobs instead (their ``next_run_time`` column moves ``lease`` seconds ahead, the pickled state
  keeps the real due time) and the scheduler's "after firing" update/removal is held back until
  the job reports success (:meth:`finish`). A crash at any point leaves the row in the table:
  it fires again when the lease runs out, late rather than never; the copy it may publish twice
  carries the same hop id and is dropped by the engine.
- Due jobs are claimed in bounded batches, and not at all while too many fired jobs are still
  publishing, so 100,000 due timers never sit in memory at once.
- Timer requests arrive in batches from the ``timers`` queue and are upserted in one statement
  (idempotent by key), not one ``add_job`` transaction each.

The job store uses a *sync* engine (psycopg / sqlite3) because APScheduler 3 calls it
synchronously; the role runs the bulk writes in a thread.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.triggers.date import DateTrigger
from apscheduler.util import datetime_to_utc_timestamp, utc_timestamp_to_datetime
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import StaticPool

from runtime.store.engine import is_memory_sqlite, normalize_url
from runtime.transport.base import Message

log = logging.getLogger("statehop.scheduler")

#: Table of the job store (next to the store's own tables, never touched by its migrations).
TABLE = "statehop_timer_jobs"
TIMER_PREFIX = "timer:"
SCHEDULE_PREFIX = "schedule:"
#: one attempt of one schedule firing (a flexible window's delayed start, a retry):
#: ``schedule-firing:<schedule>:<scheduled time>:<retry>``
FIRING_PREFIX = "schedule-firing:"
FIRE_TIMER = "runtime.scheduler.jobs:fire_timer"
FIRE_SCHEDULE = "runtime.scheduler.jobs:fire_schedule"
FIRE_SCHEDULE_ATTEMPT = "runtime.scheduler.jobs:fire_schedule_attempt"
PICKLE_PROTOCOL = pickle.HIGHEST_PROTOCOL
_ID_LENGTH = 191  # the stock table's id column


# ------------------------------------------------------------------------------- engines


def sync_url(url: str | URL) -> URL:
    """The sync-driver twin of a store URL: asyncpg -> psycopg, aiosqlite -> sqlite3."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    return parsed.set(drivername="sqlite")


def is_memory(url: str | URL) -> bool:
    return is_memory_sqlite(normalize_url(url))


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def job_engine(url: str | URL) -> Engine:
    """The process-wide sync engine for a store URL (shared, so an in-memory SQLite job store
    is the same database for the scheduler role and the API in ``statehop serve``)."""
    target = sync_url(url)
    key = target.render_as_string(hide_password=False)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _create_engine(target)
            _engines[key] = engine
        return engine


def dispose_job_engine(url: str | URL) -> None:
    """Close the pooled connections of a URL's engine (kept for in-memory SQLite: that would
    delete the database)."""
    if is_memory(url):
        return
    key = sync_url(url).render_as_string(hide_password=False)
    with _engines_lock:
        engine = _engines.pop(key, None)
    if engine is not None:
        engine.dispose()


def _create_engine(url: URL) -> Engine:
    if url.get_backend_name() == "postgresql":
        # no pre-ping (a round trip per checkout): a dead connection fails one call, is
        # discarded, and every caller here retries
        return sa.create_engine(url, pool_size=4, max_overflow=4)
    if is_memory_sqlite(url):
        return sa.create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    engine = sa.create_engine(url, connect_args={"timeout": 30.0, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def ensure_table(table: sa.Table, engine: Engine) -> None:
    """Create the job table unless it exists; tolerate another process creating it meanwhile."""
    try:
        table.create(engine, checkfirst=True)
    except sa.exc.DBAPIError:
        if not sa.inspect(engine).has_table(table.name, schema=table.schema):
            raise


# ------------------------------------------------------------------------------- rows


def timer_job_id(key: str) -> str:
    """Job id of a timer: ``timer:<key>``; a key too long for the id column is hashed."""
    job_id = TIMER_PREFIX + key
    if len(job_id) <= _ID_LENGTH:
        return job_id
    return f"{TIMER_PREFIX}sha256:{hashlib.sha256(key.encode()).hexdigest()}"


@dataclass(slots=True)
class JobRow:
    """One row of the job table, ready to upsert."""

    job_id: str
    next_run_time: float | None
    job_state: bytes


def timer_row(key: str, due: float, destination: str, message: Message) -> JobRow:
    """The job "publish ``message`` to ``destination`` at ``due``", in APScheduler's own
    serialized form (``Job.__getstate__`` version 1), with a date trigger and no misfire limit.

    Built directly rather than through ``Job(...)``: the same bytes, a tenth of the cost.
    """
    job_id = timer_job_id(key)
    run_date = datetime.fromtimestamp(due, UTC)
    state = {
        "version": 1,
        "id": job_id,
        "func": FIRE_TIMER,
        "trigger": DateTrigger(run_date=run_date, timezone=UTC),
        "executor": "default",
        "args": (
            destination,
            message.body,
            dict(message.headers),
            message.message_id or "",
            message.persistent,
        ),
        "kwargs": {},
        "name": f"timer {key}",
        "misfire_grace_time": None,
        "coalesce": True,
        "max_instances": 1,
        "next_run_time": run_date,
    }
    return JobRow(job_id, datetime_to_utc_timestamp(run_date), pickle.dumps(state, PICKLE_PROTOCOL))


# ------------------------------------------------------------------------------- the store


@dataclass(slots=True)
class Completion:
    """What the scheduler wanted to save after firing a claimed job, held until it succeeded.

    ``after`` is the job with its next run time, or None when it has no further run.
    """

    job_id: str
    original: bytes
    after: Job | None


class TimerJobStore(SQLAlchemyJobStore):  # type: ignore[misc]
    """SQLAlchemyJobStore with claim-then-finish firing, bounded batches and bulk upserts."""

    def __init__(
        self,
        engine: Engine,
        *,
        tablename: str = TABLE,
        batch_size: int = 500,
        lease: float = 15.0,
        max_in_flight: int = 2000,
        throttle_delay: float = 0.05,
    ) -> None:
        super().__init__(engine=engine, tablename=tablename, pickle_protocol=PICKLE_PROTOCOL)
        self.batch_size = batch_size
        self.lease = lease
        self.max_in_flight = max_in_flight
        self.throttle_delay = throttle_delay
        #: fired jobs still running; kept by the role from the scheduler's events
        self.in_flight = 0
        #: jobs this process fired and has not finished: never fired again by this process
        self.busy: set[str] = set()
        self._claimed: dict[str, bytes] = {}
        self._pending: dict[str, Completion] = {}
        self._throttled_until: float | None = None

    # -- lifecycle
    def start(self, scheduler: Any, alias: str) -> None:
        self._scheduler = scheduler
        self._alias = alias
        self._logger = logging.getLogger(f"apscheduler.jobstores.{alias}")
        ensure_table(self.jobs_t, self.engine)

    def shutdown(self) -> None:
        """The engine is shared (see :func:`job_engine`); its owner disposes of it."""

    # -- firing: claim, then finish
    def get_due_jobs(self, now: datetime) -> list[Job]:
        """Claim one batch of due jobs, or none while a batch's worth is still publishing."""
        self._claimed.clear()
        timestamp = datetime_to_utc_timestamp(now)
        if self.in_flight > 0 and self.in_flight + self.batch_size > self.max_in_flight:
            self._throttled_until = timestamp + self.throttle_delay
            return []
        self._throttled_until = None
        table = self.jobs_t
        due = sa.select(table.c.id).where(table.c.next_run_time <= timestamp).order_by(table.c.next_run_time)
        due = due.limit(self.batch_size)
        if self.engine.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        claim = (
            table.update()
            .where(table.c.id.in_(due.scalar_subquery()))
            .values(next_run_time=timestamp + self.lease)
            .returning(table.c.id, table.c.job_state)
        )
        with self.engine.begin() as conn:  # one round trip: select, claim and return a batch
            rows = conn.execute(claim).all()
        jobs: list[Job] = []
        broken: list[str] = []
        not_due: list[Job] = []
        for row in rows:
            if row.id in self.busy:
                continue  # still publishing or being finished here: its claim was just renewed
            try:
                job = self._reconstitute_job(row.job_state)
            except Exception:
                log.exception("cannot restore job %r: removing it", row.id)
                broken.append(row.id)
                continue
            if job.next_run_time is None or job.next_run_time > now:
                not_due.append(job)  # the column and the state disagree: trust the state
                continue
            jobs.append(job)
            self._claimed[row.id] = row.job_state
        if broken or not_due:
            with self.engine.begin() as conn:
                if broken:
                    conn.execute(table.delete().where(table.c.id.in_(broken)))
                for job in not_due:
                    conn.execute(
                        table.update()
                        .where(table.c.id == job.id)
                        .values(next_run_time=datetime_to_utc_timestamp(job.next_run_time))
                    )
        jobs.sort(key=lambda job: job.next_run_time)
        return jobs

    def get_next_run_time(self) -> datetime | None:
        if self._throttled_until is not None:  # due jobs wait for room: look again shortly
            throttled: datetime = utc_timestamp_to_datetime(self._throttled_until)
            return throttled
        nxt: datetime | None = super().get_next_run_time()
        return nxt

    def update_job(self, job: Job) -> None:
        original = self._claimed.pop(job.id, None)
        if original is None:
            super().update_job(job)
        else:
            self._pending[job.id] = Completion(job.id, original, job)
            self.busy.add(job.id)

    def remove_job(self, job_id: str) -> None:
        original = self._claimed.pop(job_id, None)
        if original is None:
            super().remove_job(job_id)
        else:
            self._pending[job_id] = Completion(job_id, original, None)
            self.busy.add(job_id)

    def take_completion(self, job_id: str) -> Completion | None:
        """The held-back update of a job that just succeeded (None if none is held)."""
        return self._pending.pop(job_id, None)

    def forget_completion(self, job_id: str) -> None:
        """A fired job failed: keep its row claimed; it fires again when the lease runs out."""
        self._pending.pop(job_id, None)
        self.busy.discard(job_id)

    def finished(self, completions: Sequence[Completion]) -> None:
        """:meth:`finish` committed: these jobs may be fired again (a schedule's next run)."""
        self.busy.difference_update(c.job_id for c in completions)

    def finish(self, completions: Sequence[Completion]) -> None:
        """Apply held-back updates in one transaction: a fired timer's row is deleted; a
        schedule moves to its next run unless it was edited meanwhile (compare-and-set)."""
        table = self.jobs_t
        timers = [c.job_id for c in completions if c.job_id.startswith(TIMER_PREFIX)]
        with self.engine.begin() as conn:
            for chunk in _chunks(timers, 500):
                conn.execute(table.delete().where(table.c.id.in_(chunk)))
            for c in completions:
                if c.job_id.startswith(TIMER_PREFIX):
                    continue
                same = sa.and_(table.c.id == c.job_id, table.c.job_state == c.original)
                if c.after is not None:
                    conn.execute(
                        table.update()
                        .where(same)
                        .values(
                            next_run_time=datetime_to_utc_timestamp(c.after.next_run_time),
                            job_state=pickle.dumps(c.after.__getstate__(), PICKLE_PROTOCOL),
                        )
                    )
                elif c.job_id.startswith(SCHEDULE_PREFIX):
                    state = pickle.loads(c.original)
                    if state["kwargs"].get("action_after_completion") == "DELETE":
                        # ActionAfterCompletion DELETE: gone after its last firing
                        conn.execute(table.delete().where(same))
                        continue
                    # NONE: a schedule stays listed after its last firing, as AWS keeps it
                    state["next_run_time"] = None
                    conn.execute(
                        table.update()
                        .where(same)
                        .values(next_run_time=None, job_state=pickle.dumps(state, PICKLE_PROTOCOL))
                    )
                else:
                    conn.execute(table.delete().where(same))

    # -- timer requests from the queue
    def apply_requests(self, puts: Iterable[JobRow], deletes: Iterable[str]) -> None:
        """Upsert timer jobs (idempotent by id) and delete cancelled ones, in one transaction."""
        table = self.jobs_t
        put_rows = [
            {"id": r.job_id, "next_run_time": r.next_run_time, "job_state": r.job_state} for r in puts
        ]
        delete_ids = list(deletes)
        with self.engine.begin() as conn:
            for chunk in _chunks(delete_ids, 500):
                conn.execute(table.delete().where(table.c.id.in_(chunk)))
            if put_rows:
                conn.execute(self._upsert(), put_rows)

    def insert_new(self, rows: Iterable[JobRow]) -> None:
        """Insert jobs whose id is not stored yet; an existing row is left as it is (so a
        firing handed over twice keeps its first due time and attempt)."""
        put_rows = [
            {"id": r.job_id, "next_run_time": r.next_run_time, "job_state": r.job_state} for r in rows
        ]
        if not put_rows:
            return
        stmt = self._insert().on_conflict_do_nothing(index_elements=[self.jobs_t.c.id])
        with self.engine.begin() as conn:
            conn.execute(stmt, put_rows)

    def _insert(self) -> Any:
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        else:  # pragma: no cover - the store only supports these two
            raise NotImplementedError(f"no upsert for {dialect}")
        return insert(self.jobs_t)

    def _upsert(self) -> Any:
        stmt = self._insert()
        return stmt.on_conflict_do_update(
            index_elements=[self.jobs_t.c.id],
            set_={"next_run_time": stmt.excluded.next_run_time, "job_state": stmt.excluded.job_state},
        )

    def count(self, prefix: str | None = None) -> int:
        """Jobs in the table (``prefix`` e.g. ``"timer:"``); for health checks and benchmarks."""
        stmt = sa.select(sa.func.count()).select_from(self.jobs_t)
        if prefix:
            stmt = stmt.where(self.jobs_t.c.id.startswith(prefix, autoescape=True))
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


__all__ = [
    "FIRE_SCHEDULE",
    "FIRE_SCHEDULE_ATTEMPT",
    "FIRE_TIMER",
    "FIRING_PREFIX",
    "SCHEDULE_PREFIX",
    "TABLE",
    "TIMER_PREFIX",
    "Completion",
    "JobRow",
    "TimerJobStore",
    "dispose_job_engine",
    "ensure_table",
    "is_memory",
    "job_engine",
    "sync_url",
    "timer_job_id",
    "timer_row",
]
