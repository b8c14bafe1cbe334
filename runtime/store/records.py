"""What the store hands back and takes in: frozen values, never live ORM objects.

Records are plain dataclasses so they can cross task and process boundaries, be compared in
tests and be serialised by the API layer without a session in sight. Payloads (definitions,
inputs, outputs, event details) stay JSON *text*: the store never re-encodes a 1 MB document
it does not need to look into.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, NamedTuple, TypeVar

import orjson

T = TypeVar("T")


class StateMachineType(StrEnum):
    STANDARD = "STANDARD"
    EXPRESS = "EXPRESS"


class StateMachineStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DELETING = "DELETING"


class ExecutionStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"
    PENDING_REDRIVE = "PENDING_REDRIVE"


class ForkStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class TaskTokenStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    CANCELLED = "CANCELLED"


class MapRunStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    ABORTED = "ABORTED"


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing; pass ``next_token`` back to get the next one (None: the end)."""

    items: list[T]
    next_token: str | None = None


# --- state machines, versions, aliases, activities ------------------------------------------


@dataclass(frozen=True, slots=True)
class StateMachine:
    """A machine at its current revision, or (``version`` set) a published version of it."""

    arn: str
    name: str
    type: StateMachineType
    status: StateMachineStatus
    definition: str
    role_arn: str
    logging_configuration: str | None
    tracing_configuration: str | None
    description: str | None
    revision_id: str
    creation_date: datetime
    version: int | None = None


@dataclass(frozen=True, slots=True)
class StateMachineSummary:
    arn: str
    name: str
    type: StateMachineType
    creation_date: datetime


@dataclass(frozen=True, slots=True)
class StateMachineVersion:
    arn: str
    state_machine_arn: str
    version: int
    revision_id: str
    description: str | None
    creation_date: datetime


class RoutingEntry(NamedTuple):
    """One line of an alias's routing configuration: a version ARN and its weight (0-100)."""

    version_arn: str
    weight: int


@dataclass(frozen=True, slots=True)
class StateMachineAlias:
    arn: str
    name: str
    state_machine_arn: str
    description: str | None
    routing: tuple[RoutingEntry, ...]
    creation_date: datetime
    update_date: datetime


@dataclass(frozen=True, slots=True)
class Activity:
    arn: str
    name: str
    creation_date: datetime


# --- executions and history ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Execution:
    arn: str
    state_machine_arn: str
    name: str
    type: StateMachineType
    status: ExecutionStatus
    input: str
    output: str | None
    error: str | None
    cause: str | None
    start_date: datetime
    stop_date: datetime | None
    revision_id: str
    state_machine_version_arn: str | None = None
    state_machine_alias_arn: str | None = None
    trace_header: str | None = None
    redrive_count: int = 0
    redrive_date: datetime | None = None
    map_run_arn: str | None = None
    parent_execution_arn: str | None = None


@dataclass(frozen=True, slots=True)
class ExecutionSummary:
    """A listing row: no input/output, which may be megabytes each."""

    arn: str
    state_machine_arn: str
    name: str
    status: ExecutionStatus
    start_date: datetime
    stop_date: datetime | None
    state_machine_version_arn: str | None
    state_machine_alias_arn: str | None
    map_run_arn: str | None
    redrive_count: int
    redrive_date: datetime | None


@dataclass(frozen=True, slots=True)
class StartedExecution:
    """The result of ``create_execution``: ``created`` is False for an idempotent repeat."""

    execution: Execution
    created: bool


Details = Mapping[str, Any] | str | None


class NewEvent(NamedTuple):
    """An event to append. ``previous_event_id``: None means "the event just before this one";
    a negative number ``-k`` means "k events before this one" (refer back inside a batch);
    zero or more is an absolute id."""

    type: str
    details: Details = None
    previous_event_id: int | None = None


EXECUTION_DATA_KEYS = frozenset({"input", "output", "inputDetails", "outputDetails"})


def details_key(event_type: str) -> str:
    """The name of the ``<type>EventDetails`` member AWS uses for an event type."""
    if event_type.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if event_type.endswith("StateExited"):
        return "stateExitedEventDetails"
    return event_type[:1].lower() + event_type[1:] + "EventDetails"


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    id: int
    previous_event_id: int
    timestamp: datetime
    type: str
    details: str | None  # JSON text of the <type>EventDetails object

    def details_dict(self) -> dict[str, Any] | None:
        return None if self.details is None else dict(orjson.loads(self.details))

    def to_aws(self, include_data: bool = True) -> dict[str, Any]:
        """The event as GetExecutionHistory shapes it (timestamp left as a datetime)."""
        event: dict[str, Any] = {
            "id": self.id,
            "previousEventId": self.previous_event_id,
            "timestamp": self.timestamp,
            "type": self.type,
        }
        details = self.details_dict()
        if details is not None:
            if not include_data:
                details = {k: v for k, v in details.items() if k not in EXECUTION_DATA_KEYS}
            event[details_key(self.type)] = details
        return event


# --- exactly-once delivery ---------------------------------------------------------------------


class OutboxMessage(NamedTuple):
    """A message to publish after commit: exchange (``destination``), routing key, payload."""

    destination: str
    routing_key: str
    body: bytes
    headers: Mapping[str, Any] | None = None
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    destination: str
    routing_key: str
    body: bytes
    headers: dict[str, Any]
    message_id: str | None
    creation_date: datetime


# --- fan-out / join ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ForkItem:
    """An item (Map) or branch (Parallel) to start: its index and its input JSON text."""

    index: int
    input: str


@dataclass(frozen=True, slots=True)
class BranchResult:
    """One item's ending: ``output`` when ``ok``, else ``error`` and ``cause``."""

    index: int
    ok: bool
    output: str | None = None
    error: str | None = None
    cause: str | None = None


@dataclass(frozen=True, slots=True)
class Fork:
    execution_arn: str
    key: str
    total: int
    max_concurrency: int  # 0: no limit
    tolerated_failure_count: int | None
    tolerated_failure_percentage: float | None
    next_index: int  # items [0, next_index) have been released to run
    succeeded: int
    failed: int
    status: ForkStatus
    info: str | None
    creation_date: datetime

    @property
    def running(self) -> int:
        return self.next_index - self.succeeded - self.failed


@dataclass(frozen=True, slots=True)
class ForkStarted:
    """``create_fork``'s answer: the items to start now (the first window)."""

    fork: Fork
    start: list[ForkItem]
    created: bool


@dataclass(frozen=True, slots=True)
class JoinProgress:
    """What ``record_branch_result`` tells the engine to do next.

    ``recorded`` is False for a duplicate (that index already had its result): do nothing;
    ``recorded_indexes`` lists the indexes this call recorded (a batch may mix new and old).
    ``start`` lists items the sliding window now lets run. ``complete`` is True in exactly one
    call per fork: the one that ended the join, either with every item done (``results`` in
    index order) or with the failure threshold exceeded (``threshold_exceeded``; ``error`` and
    ``cause`` are the failure that tipped it).
    """

    recorded: bool
    start: list[ForkItem]
    complete: bool
    threshold_exceeded: bool
    status: ForkStatus
    succeeded: int
    failed: int
    total: int
    results: list[BranchResult] | None = None
    error: str | None = None
    cause: str | None = None
    recorded_indexes: tuple[int, ...] = ()


# --- task tokens and map runs ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskToken:
    token: str
    execution_arn: str
    state_name: str
    branch_path: str
    attempt: int
    info: str | None  # JSON text: whatever the engine needs to resume the hop
    status: TaskTokenStatus
    output: str | None
    error: str | None
    cause: str | None
    creation_date: datetime
    heartbeat_date: datetime | None
    completion_date: datetime | None


@dataclass(frozen=True, slots=True)
class MapRunCounts:
    """``itemCounts`` / ``executionCounts`` of DescribeMapRun."""

    pending: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    timed_out: int = 0
    aborted: int = 0
    total: int = 0
    results_written: int = 0
    failures_not_redrivable: int = 0
    pending_redrive: int = 0


@dataclass(frozen=True, slots=True)
class MapRun:
    arn: str
    execution_arn: str
    state_machine_arn: str
    label: str
    status: MapRunStatus
    start_date: datetime
    stop_date: datetime | None
    max_concurrency: int
    tolerated_failure_percentage: float
    tolerated_failure_count: int
    fork_key: str | None
    item_counts: MapRunCounts
    execution_counts: MapRunCounts
    redrive_count: int = 0
    redrive_date: datetime | None = None


@dataclass(frozen=True, slots=True)
class MapRunSummary:
    arn: str
    execution_arn: str
    state_machine_arn: str
    start_date: datetime
    stop_date: datetime | None
