"""Dead letters of schedules: firings whose execution could not be started within the
schedule's RetryPolicy.

Every such firing is recorded in ``statehop_schedule_dead_letters``, a table beside the job
table in the store's database (created on first use, like the job table, never touched by
the store's migrations), one row per schedule and scheduled time. The API lists them
(``GET /v1/schedules/{name}/dead-letters``, ``statehop schedule dead-letters NAME``).

A schedule with a ``DeadLetterConfig`` (an SQS queue ARN, as in AWS) also gets each dead
letter published to the broker queue named after the ARN's last part, under the deployment's
queue prefix (``arn:aws:sqs:us-east-1:123456789012:nightly-dlq`` -> logical queue
``nightly-dlq``), declared if nobody did yet. The message body is the record as JSON; its
headers carry AWS's dead-letter attributes (``ERROR_CODE``, ``ERROR_MESSAGE``,
``EXHAUSTED_RETRY_CONDITION``, ``RETRY_ATTEMPTS``, ``SCHEDULED_TIME``, ``SCHEDULE_ARN``,
``TARGET_ARN``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from runtime.scheduler.jobstore import ensure_table
from runtime.transport.base import Message, Topology

DEAD_LETTER_TABLE = "statehop_schedule_dead_letters"
#: AWS's pattern for DeadLetterConfig.Arn (an SQS queue)
DEAD_LETTER_ARN = re.compile(r"^arn:aws(-[a-z]+)?:sqs:[a-z0-9\-]+:\d{12}:(?P<queue>[a-zA-Z0-9\-_]+)$")
DEAD_LETTER_ARN_FORM = "an SQS queue ARN, arn:aws:sqs:<region>:<12-digit account>:<queue name>"
#: StateHop's own logical queues: a dead letter must never land in one of them
RESERVED_QUEUES = frozenset({Topology.HOPS, Topology.REPLIES, Topology.DEAD, "timers"})

_metadata = sa.MetaData()
dead_letters_table = sa.Table(
    DEAD_LETTER_TABLE,
    _metadata,
    sa.Column("id", sa.String(191), primary_key=True),  # <schedule>:<scheduled time stamp>
    sa.Column("schedule", sa.String(64), nullable=False, index=True),
    sa.Column("scheduled_time", sa.Float, nullable=False),
    sa.Column("failed_time", sa.Float, nullable=False),
    sa.Column("record", sa.Text, nullable=False),
)


def dead_letter_queue(arn: str) -> str:
    """The logical broker queue of a DeadLetterConfig ARN (its last part)."""
    match = DEAD_LETTER_ARN.match(arn)
    if not match:
        raise ValueError(f"{arn!r} is not {DEAD_LETTER_ARN_FORM}")
    return match.group("queue")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One firing given up on: what was to be started, when, and why it failed."""

    schedule: str
    scheduled_time: datetime
    first_attempt: datetime
    failed_time: datetime
    #: retries made after the first attempt (AWS's RETRY_ATTEMPTS)
    retry_attempts: int
    error_code: str
    error_message: str
    #: MaximumRetryAttempts | MaximumEventAgeInSeconds; None when the error is not retried
    exhausted_condition: str | None
    target_arn: str
    input: str
    execution_name: str
    dead_letter_arn: str | None = None

    @property
    def id(self) -> str:
        return f"{self.schedule}:{self.scheduled_time.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "ScheduleName": self.schedule,
            "ScheduledTime": self.scheduled_time.isoformat(),
            "FirstAttemptTime": self.first_attempt.isoformat(),
            "FailedTime": self.failed_time.isoformat(),
            "RetryAttempts": self.retry_attempts,
            "ErrorCode": self.error_code,
            "ErrorMessage": self.error_message,
            "TargetArn": self.target_arn,
            "Input": self.input,
            "ExecutionName": self.execution_name,
        }
        if self.exhausted_condition is not None:
            data["ExhaustedRetryCondition"] = self.exhausted_condition
        if self.dead_letter_arn is not None:
            data["DeadLetterConfig"] = {"Arn": self.dead_letter_arn}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeadLetter:
        return cls(
            schedule=data["ScheduleName"],
            scheduled_time=datetime.fromisoformat(data["ScheduledTime"]),
            first_attempt=datetime.fromisoformat(data["FirstAttemptTime"]),
            failed_time=datetime.fromisoformat(data["FailedTime"]),
            retry_attempts=int(data["RetryAttempts"]),
            error_code=data["ErrorCode"],
            error_message=data["ErrorMessage"],
            exhausted_condition=data.get("ExhaustedRetryCondition"),
            target_arn=data["TargetArn"],
            input=data["Input"],
            execution_name=data["ExecutionName"],
            dead_letter_arn=(data.get("DeadLetterConfig") or {}).get("Arn"),
        )

    def attributes(self) -> dict[str, str]:
        """AWS's dead-letter message attributes, as message headers."""
        attrs = {
            "ERROR_CODE": self.error_code,
            "ERROR_MESSAGE": self.error_message,
            "RETRY_ATTEMPTS": str(self.retry_attempts),
            "SCHEDULED_TIME": self.scheduled_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "SCHEDULE_ARN": self.schedule,
            "TARGET_ARN": self.target_arn,
        }
        if self.exhausted_condition is not None:
            attrs["EXHAUSTED_RETRY_CONDITION"] = self.exhausted_condition
        return attrs

    def message(self) -> Message:
        """The message published to the DeadLetterConfig queue (id: the record's id, so a
        repeat is recognisable)."""
        return Message(
            body=json.dumps(self.to_json()).encode(),
            headers=self.attributes(),
            message_id=f"schedule-dead-letter:{self.id}",
            persistent=True,
        )


def record_dead_letter(engine: Engine, letter: DeadLetter) -> None:
    """Store (or replace: one record per schedule and scheduled time) a dead letter."""
    ensure_table(dead_letters_table, engine)
    row = {
        "id": letter.id,
        "schedule": letter.schedule,
        "scheduled_time": letter.scheduled_time.timestamp(),
        "failed_time": letter.failed_time.timestamp(),
        "record": json.dumps(letter.to_json()),
    }
    with engine.begin() as conn:
        conn.execute(dead_letters_table.delete().where(dead_letters_table.c.id == letter.id))
        conn.execute(dead_letters_table.insert().values(**row))


def read_dead_letters(
    engine: Engine, schedule: str, limit: int, after: str | None
) -> tuple[list[DeadLetter], str | None]:
    """A page of a schedule's dead letters, oldest scheduled time first."""
    ensure_table(dead_letters_table, engine)
    table = dead_letters_table
    stmt = sa.select(table.c.id, table.c.record).where(table.c.schedule == schedule)
    if after:
        stmt = stmt.where(table.c.id > after)
    stmt = stmt.order_by(table.c.id).limit(limit + 1)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    page = [DeadLetter.from_json(json.loads(row.record)) for row in rows[:limit]]
    token = rows[limit - 1].id if len(rows) > limit else None
    return page, token


def delete_dead_letters(engine: Engine, schedule: str) -> int:
    """Remove a schedule's dead letters; returns how many there were."""
    ensure_table(dead_letters_table, engine)
    with engine.begin() as conn:
        result = conn.execute(dead_letters_table.delete().where(dead_letters_table.c.schedule == schedule))
    return int(result.rowcount or 0)


__all__ = [
    "DEAD_LETTER_ARN",
    "DEAD_LETTER_ARN_FORM",
    "DEAD_LETTER_TABLE",
    "RESERVED_QUEUES",
    "DeadLetter",
    "dead_letter_queue",
    "dead_letters_table",
    "delete_dead_letters",
    "read_dead_letters",
    "record_dead_letter",
]
