"""Initial schema: machines, revisions, versions, aliases, activities, tags, executions,
history, applied messages, outbox, forks and their items, task tokens, map runs.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Written out in full (not create_all on the live models) so that this revision keeps
creating exactly this schema whatever the models become later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "activities",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("arn", sa.String(length=256), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("creation_date", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
        sa.UniqueConstraint("arn", name=op.f("uq_activities_arn")),
        sa.UniqueConstraint("name", name=op.f("uq_activities_name")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "applied_messages",
        sa.Column("message_id", sa.String(length=512), nullable=False),
        sa.Column("applied_date", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_applied_messages")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        op.f("ix_applied_messages_applied_date"), "applied_messages", ["applied_date"], unique=False
    )
    op.create_table(
        "outbox",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("destination", sa.String(length=256), nullable=False),
        sa.Column("routing_key", sa.String(length=256), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("message_id", sa.String(length=512), nullable=True),
        sa.Column("creation_date", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "state_machines",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("arn", sa.String(length=256), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revision_id", sa.String(length=36), nullable=False),
        sa.Column("last_version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("creation_date", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_state_machines")),
        sa.UniqueConstraint("arn", name=op.f("uq_state_machines_arn")),
        sa.UniqueConstraint("name", name=op.f("uq_state_machines_name")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "tags",
        sa.Column("resource_arn", sa.String(length=256), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("resource_arn", "key", name=op.f("pk_tags")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "executions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("arn", sa.String(length=1024), nullable=False),
        sa.Column("state_machine_id", ID, nullable=False),
        sa.Column("revision_id", sa.String(length=36), nullable=False),
        sa.Column("state_machine_version_arn", sa.String(length=256), nullable=True),
        sa.Column("state_machine_alias_arn", sa.String(length=256), nullable=True),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("input", sa.Text(), nullable=False),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("cause", sa.Text(), nullable=True),
        sa.Column("start_date", UTC_DATETIME, nullable=False),
        sa.Column("stop_date", UTC_DATETIME, nullable=True),
        sa.Column("trace_header", sa.Text(), nullable=True),
        sa.Column("redrive_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("redrive_date", UTC_DATETIME, nullable=True),
        sa.Column("map_run_arn", sa.String(length=1024), nullable=True),
        sa.Column("parent_execution_arn", sa.String(length=1024), nullable=True),
        sa.Column("event_count", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["state_machine_id"],
            ["state_machines.id"],
            name=op.f("fk_executions_state_machine_id_state_machines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_executions")),
        sa.UniqueConstraint("arn", name=op.f("uq_executions_arn")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_executions_map_run_arn_id"), "executions", ["map_run_arn", "id"], unique=False)
    op.create_index(
        op.f("ix_executions_parent_execution_arn"), "executions", ["parent_execution_arn"], unique=False
    )
    op.create_index(
        op.f("ix_executions_state_machine_alias_arn_id"),
        "executions",
        ["state_machine_alias_arn", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_executions_state_machine_id_id"), "executions", ["state_machine_id", "id"], unique=False
    )
    op.create_index(
        op.f("ix_executions_state_machine_id_status_id"),
        "executions",
        ["state_machine_id", "status", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_executions_state_machine_version_arn_id"),
        "executions",
        ["state_machine_version_arn", "id"],
        unique=False,
    )
    op.create_table(
        "state_machine_aliases",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("state_machine_id", ID, nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("arn", sa.String(length=256), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("routing", sa.Text(), nullable=False),
        sa.Column("creation_date", UTC_DATETIME, nullable=False),
        sa.Column("update_date", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["state_machine_id"],
            ["state_machines.id"],
            name=op.f("fk_state_machine_aliases_state_machine_id_state_machines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_state_machine_aliases")),
        sa.UniqueConstraint("arn", name=op.f("uq_state_machine_aliases_arn")),
        sa.UniqueConstraint(
            "state_machine_id", "name", name=op.f("uq_state_machine_aliases_state_machine_id_name")
        ),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "state_machine_revisions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("state_machine_id", ID, nullable=False),
        sa.Column("revision_id", sa.String(length=36), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("role_arn", sa.Text(), nullable=False),
        sa.Column("logging_configuration", sa.Text(), nullable=True),
        sa.Column("tracing_configuration", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("creation_date", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["state_machine_id"],
            ["state_machines.id"],
            name=op.f("fk_state_machine_revisions_state_machine_id_state_machines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_state_machine_revisions")),
        sa.UniqueConstraint("revision_id", name=op.f("uq_state_machine_revisions_revision_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_state_machine_revisions_state_machine_id"),
        "state_machine_revisions",
        ["state_machine_id"],
        unique=False,
    )
    op.create_table(
        "forks",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("execution_id", ID, nullable=False),
        sa.Column("fork_key", sa.String(length=1024), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("max_concurrency", sa.Integer(), nullable=False),
        sa.Column("tolerated_failure_count", sa.Integer(), nullable=True),
        sa.Column("tolerated_failure_percentage", sa.Float(), nullable=True),
        sa.Column("next_index", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("info", sa.Text(), nullable=True),
        sa.Column("creation_date", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name=op.f("fk_forks_execution_id_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forks")),
        sa.UniqueConstraint("execution_id", "fork_key", name=op.f("uq_forks_execution_id_fork_key")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "history_events",
        sa.Column("execution_id", ID, nullable=False),
        sa.Column("event_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("previous_event_id", sa.Integer(), nullable=False),
        sa.Column("timestamp", UTC_DATETIME, nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name=op.f("fk_history_events_execution_id_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("execution_id", "event_id", name=op.f("pk_history_events")),
    )
    op.create_table(
        "map_runs",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("arn", sa.String(length=1024), nullable=False),
        sa.Column("execution_id", ID, nullable=False),
        sa.Column("label", sa.String(length=256), nullable=False),
        sa.Column("fork_key", sa.String(length=1024), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("max_concurrency", sa.Integer(), nullable=False),
        sa.Column("tolerated_failure_percentage", sa.Float(), nullable=False),
        sa.Column("tolerated_failure_count", sa.Integer(), nullable=False),
        sa.Column("start_date", UTC_DATETIME, nullable=False),
        sa.Column("stop_date", UTC_DATETIME, nullable=True),
        sa.Column("redrive_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("redrive_date", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name=op.f("fk_map_runs_execution_id_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_map_runs")),
        sa.UniqueConstraint("arn", name=op.f("uq_map_runs_arn")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_map_runs_execution_id_id"), "map_runs", ["execution_id", "id"], unique=False)
    op.create_table(
        "state_machine_versions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("state_machine_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("arn", sa.String(length=256), nullable=False),
        sa.Column("revision_id", sa.String(length=36), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("creation_date", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["state_machine_revisions.revision_id"],
            name=op.f("fk_state_machine_versions_revision_id_state_machine_revisions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["state_machine_id"],
            ["state_machines.id"],
            name=op.f("fk_state_machine_versions_state_machine_id_state_machines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_state_machine_versions")),
        sa.UniqueConstraint("arn", name=op.f("uq_state_machine_versions_arn")),
        sa.UniqueConstraint(
            "state_machine_id",
            "revision_id",
            name=op.f("uq_state_machine_versions_state_machine_id_revision_id"),
        ),
        sa.UniqueConstraint(
            "state_machine_id", "version", name=op.f("uq_state_machine_versions_state_machine_id_version")
        ),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "task_tokens",
        sa.Column("token", sa.String(length=1024), nullable=False),
        sa.Column("execution_id", ID, nullable=False),
        sa.Column("state_name", sa.String(length=256), nullable=False),
        sa.Column("branch_path", sa.Text(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("info", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("cause", sa.Text(), nullable=True),
        sa.Column("creation_date", UTC_DATETIME, nullable=False),
        sa.Column("heartbeat_date", UTC_DATETIME, nullable=True),
        sa.Column("completion_date", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name=op.f("fk_task_tokens_execution_id_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_task_tokens")),
    )
    op.create_index(
        op.f("ix_task_tokens_execution_id_status"), "task_tokens", ["execution_id", "status"], unique=False
    )
    op.create_table(
        "fork_items",
        sa.Column("fork_id", ID, nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("input", sa.Text(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("cause", sa.Text(), nullable=True),
        sa.Column("finish_date", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["fork_id"], ["forks.id"], name=op.f("fk_fork_items_fork_id_forks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("fork_id", "idx", name=op.f("pk_fork_items")),
    )


def downgrade() -> None:
    op.drop_table("fork_items")
    op.drop_index(op.f("ix_task_tokens_execution_id_status"), table_name="task_tokens")
    op.drop_table("task_tokens")
    op.drop_table("state_machine_versions")
    op.drop_index(op.f("ix_map_runs_execution_id_id"), table_name="map_runs")
    op.drop_table("map_runs")
    op.drop_table("history_events")
    op.drop_table("forks")
    op.drop_index(op.f("ix_state_machine_revisions_state_machine_id"), table_name="state_machine_revisions")
    op.drop_table("state_machine_revisions")
    op.drop_table("state_machine_aliases")
    op.drop_index(op.f("ix_executions_state_machine_version_arn_id"), table_name="executions")
    op.drop_index(op.f("ix_executions_state_machine_id_status_id"), table_name="executions")
    op.drop_index(op.f("ix_executions_state_machine_id_id"), table_name="executions")
    op.drop_index(op.f("ix_executions_state_machine_alias_arn_id"), table_name="executions")
    op.drop_index(op.f("ix_executions_parent_execution_arn"), table_name="executions")
    op.drop_index(op.f("ix_executions_map_run_arn_id"), table_name="executions")
    op.drop_table("executions")
    op.drop_table("tags")
    op.drop_table("state_machines")
    op.drop_table("outbox")
    op.drop_index(op.f("ix_applied_messages_applied_date"), table_name="applied_messages")
    op.drop_table("applied_messages")
    op.drop_table("activities")
