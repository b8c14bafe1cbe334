"""Activity task queue columns on task tokens; an execution's redrive point and, for a
nested execution started with .sync, the parent's task token.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("task_tokens") as batch:
        batch.add_column(sa.Column("activity_arn", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("input", sa.Text(), nullable=True))
        batch.add_column(sa.Column("claimed_by", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("claimed_at", UTC_DATETIME, nullable=True))
    op.create_index(
        "ix_task_tokens_activity_queue",
        "task_tokens",
        ["activity_arn", "status", "claimed_at", "creation_date"],
    )
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("redrive_point", sa.Text(), nullable=True))
        batch.add_column(sa.Column("parent_task_token", sa.String(length=1024), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("parent_task_token")
        batch.drop_column("redrive_point")
    op.drop_index("ix_task_tokens_activity_queue", table_name="task_tokens")
    with op.batch_alter_table("task_tokens") as batch:
        batch.drop_column("claimed_at")
        batch.drop_column("claimed_by")
        batch.drop_column("input")
        batch.drop_column("activity_arn")
