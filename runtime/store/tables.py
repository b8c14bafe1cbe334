"""The schema, as SQLAlchemy Core tables (the migration in ``migrations/`` creates the same).

Core rather than ORM: every operation is one or two statements on known columns, and the hot
path (append events + mark applied + outbox) must not pay for an identity map. Payloads are
TEXT (exact JSON text round-trips; a definition must come back byte for byte), integer
surrogate keys keep the big tables (history, fork items) narrow, and every listing has an
index that ends in the column it pages on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: 64-bit identity on PostgreSQL; INTEGER PRIMARY KEY AUTOINCREMENT on SQLite (ids are never
#: reused: keyset pages and outbox ids rely on it).
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes in and out; SQLite stores them naive, PostgreSQL as timestamptz."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _fk(column: str, ondelete: str = "CASCADE") -> sa.ForeignKey:
    return sa.ForeignKey(column, ondelete=ondelete)


state_machines = sa.Table(
    "state_machines",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("arn", sa.String(256), nullable=False, unique=True),
    sa.Column("name", sa.String(80), nullable=False, unique=True),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("revision_id", sa.String(36), nullable=False),
    sa.Column("last_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("creation_date", UtcDateTime, nullable=False),
    sqlite_autoincrement=True,
)

state_machine_revisions = sa.Table(
    "state_machine_revisions",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("state_machine_id", Id, _fk("state_machines.id"), nullable=False, index=True),
    sa.Column("revision_id", sa.String(36), nullable=False, unique=True),
    sa.Column("definition", sa.Text, nullable=False),
    sa.Column("role_arn", sa.Text, nullable=False),
    sa.Column("logging_configuration", sa.Text),
    sa.Column("tracing_configuration", sa.Text),
    sa.Column("description", sa.Text),
    sa.Column("creation_date", UtcDateTime, nullable=False),
    sqlite_autoincrement=True,
)

state_machine_versions = sa.Table(
    "state_machine_versions",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("state_machine_id", Id, _fk("state_machines.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("arn", sa.String(256), nullable=False, unique=True),
    sa.Column("revision_id", sa.String(36), _fk("state_machine_revisions.revision_id"), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("creation_date", UtcDateTime, nullable=False),
    sa.UniqueConstraint("state_machine_id", "version"),
    sa.UniqueConstraint("state_machine_id", "revision_id"),
    sqlite_autoincrement=True,
)

state_machine_aliases = sa.Table(
    "state_machine_aliases",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("state_machine_id", Id, _fk("state_machines.id"), nullable=False),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("arn", sa.String(256), nullable=False, unique=True),
    sa.Column("description", sa.Text),
    sa.Column("routing", sa.Text, nullable=False),
    sa.Column("creation_date", UtcDateTime, nullable=False),
    sa.Column("update_date", UtcDateTime, nullable=False),
    sa.UniqueConstraint("state_machine_id", "name"),
    sqlite_autoincrement=True,
)

activities = sa.Table(
    "activities",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("arn", sa.String(256), nullable=False, unique=True),
    sa.Column("name", sa.String(80), nullable=False, unique=True),
    sa.Column("creation_date", UtcDateTime, nullable=False),
    sqlite_autoincrement=True,
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("resource_arn", sa.String(256), primary_key=True),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
    sqlite_with_rowid=False,
)

executions = sa.Table(
    "executions",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("arn", sa.String(1024), nullable=False, unique=True),
    sa.Column("state_machine_id", Id, _fk("state_machines.id"), nullable=False),
    sa.Column("revision_id", sa.String(36), nullable=False),
    sa.Column("state_machine_version_arn", sa.String(256)),
    sa.Column("state_machine_alias_arn", sa.String(256)),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("input", sa.Text, nullable=False),
    sa.Column("output", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("cause", sa.Text),
    sa.Column("start_date", UtcDateTime, nullable=False),
    sa.Column("stop_date", UtcDateTime),
    sa.Column("trace_header", sa.Text),
    sa.Column("redrive_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("redrive_date", UtcDateTime),
    sa.Column("map_run_arn", sa.String(1024)),
    sa.Column("parent_execution_arn", sa.String(1024), index=True),
    # History counter: append_events bumps it with UPDATE ... RETURNING (the row lock).
    sa.Column("event_count", sa.Integer, nullable=False, server_default="0"),
    # Where RedriveExecution continues: the hop that ended the execution (JSON), if known.
    sa.Column("redrive_point", sa.Text),
    # A nested execution started by a .sync Task answers this token of its parent when it ends.
    sa.Column("parent_task_token", sa.String(1024)),
    sa.Index(None, "state_machine_id", "id"),
    sa.Index(None, "state_machine_id", "status", "id"),
    sa.Index(None, "state_machine_version_arn", "id"),
    sa.Index(None, "state_machine_alias_arn", "id"),
    sa.Index(None, "map_run_arn", "id"),
    sqlite_autoincrement=True,
)

history_events = sa.Table(
    "history_events",
    metadata,
    sa.Column("execution_id", Id, _fk("executions.id"), primary_key=True),
    sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("previous_event_id", sa.Integer, nullable=False),
    sa.Column("timestamp", UtcDateTime, nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("details", sa.Text),
)

applied_messages = sa.Table(
    "applied_messages",
    metadata,
    sa.Column("message_id", sa.String(512), primary_key=True),
    sa.Column("applied_date", UtcDateTime, nullable=False, index=True),
    sqlite_with_rowid=False,
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("destination", sa.String(256), nullable=False),
    sa.Column("routing_key", sa.String(256), nullable=False),
    sa.Column("headers", sa.Text, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("message_id", sa.String(512)),
    sa.Column("creation_date", UtcDateTime, nullable=False),
    sqlite_autoincrement=True,
)

forks = sa.Table(
    "forks",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("execution_id", Id, _fk("executions.id"), nullable=False),
    sa.Column("fork_key", sa.String(1024), nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("max_concurrency", sa.Integer, nullable=False),
    sa.Column("tolerated_failure_count", sa.Integer),
    sa.Column("tolerated_failure_percentage", sa.Float),
    sa.Column("next_index", sa.Integer, nullable=False),
    sa.Column("succeeded", sa.Integer, nullable=False, server_default="0"),
    sa.Column("failed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("info", sa.Text),
    sa.Column("creation_date", UtcDateTime, nullable=False),
    sa.UniqueConstraint("execution_id", "fork_key"),
    sqlite_autoincrement=True,
)

fork_items = sa.Table(
    "fork_items",
    metadata,
    sa.Column("fork_id", Id, _fk("forks.id"), primary_key=True),
    sa.Column("idx", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("input", sa.Text, nullable=False),
    sa.Column("ok", sa.Boolean),  # NULL: no result yet
    sa.Column("output", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("cause", sa.Text),
    sa.Column("finish_date", UtcDateTime),
)

task_tokens = sa.Table(
    "task_tokens",
    metadata,
    sa.Column("token", sa.String(1024), primary_key=True),
    sa.Column("execution_id", Id, _fk("executions.id"), nullable=False),
    sa.Column("state_name", sa.String(256), nullable=False),
    sa.Column("branch_path", sa.Text, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("info", sa.Text),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("output", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("cause", sa.Text),
    sa.Column("creation_date", UtcDateTime, nullable=False),
    sa.Column("heartbeat_date", UtcDateTime),
    sa.Column("completion_date", UtcDateTime),
    # Activity tasks wait here for GetActivityTask (claimed with FOR UPDATE SKIP LOCKED).
    sa.Column("activity_arn", sa.String(256)),
    sa.Column("input", sa.Text),
    sa.Column("claimed_by", sa.String(256)),
    sa.Column("claimed_at", UtcDateTime),
    sa.Index(None, "execution_id", "status"),
    sa.Index("ix_task_tokens_activity_queue", "activity_arn", "status", "claimed_at", "creation_date"),
)

map_runs = sa.Table(
    "map_runs",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("arn", sa.String(1024), nullable=False, unique=True),
    sa.Column("execution_id", Id, _fk("executions.id"), nullable=False),
    sa.Column("label", sa.String(256), nullable=False),
    sa.Column("fork_key", sa.String(1024)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("max_concurrency", sa.Integer, nullable=False),
    sa.Column("tolerated_failure_percentage", sa.Float, nullable=False),
    sa.Column("tolerated_failure_count", sa.Integer, nullable=False),
    sa.Column("start_date", UtcDateTime, nullable=False),
    sa.Column("stop_date", UtcDateTime),
    sa.Column("redrive_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("redrive_date", UtcDateTime),
    sa.Index(None, "execution_id", "id"),
    sqlite_autoincrement=True,
)
