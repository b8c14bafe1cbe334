"""One hop's unit of work: the events it records and the messages and timers it emits.

A :class:`Step` collects effects while the interpreter's outcome is applied; ``commit`` writes
them in the hop's store transaction (history events + an outbox row per message and timer for
STANDARD), and the engine publishes them only after that transaction commits. EXPRESS steps
write nothing per transition and publish directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from runtime.hop import EXPRESS, Hop
from runtime.store.records import NewEvent, OutboxMessage
from runtime.transport.base import Message

#: OutboxMessage.destination values: where a row goes once the transaction committed.
TO_QUEUE = "queue"
TO_TIMER = "timer"
TO_EVENT = "event"


@dataclass(slots=True)
class Outgoing:
    """A message to publish (or a timer to set) after commit."""

    destination: str  # TO_QUEUE | TO_TIMER | TO_EVENT
    target: str  # logical queue, or routing key for events
    message: Message
    due: float | None = None  # timers only
    key: str | None = None  # timers only: id for cancel/dedupe

    def to_outbox(self) -> OutboxMessage:
        headers = dict(self.message.headers)
        meta = {
            "reply_to": self.message.reply_to,
            "correlation_id": self.message.correlation_id,
            "persistent": self.message.persistent,
            "due": self.due,
            "key": self.key,
        }
        return OutboxMessage(
            self.destination,
            self.target,
            self.message.body,
            {"h": headers, "m": meta},
            self.message.message_id,
        )

    @classmethod
    def from_outbox(
        cls, destination: str, routing_key: str, body: bytes, headers: dict[str, Any], message_id: str | None
    ) -> Outgoing:
        meta = headers.get("m", {})
        message = Message(
            body=body,
            headers=dict(headers.get("h", {})),
            message_id=message_id,
            reply_to=meta.get("reply_to"),
            correlation_id=meta.get("correlation_id"),
            persistent=bool(meta.get("persistent", True)),
        )
        return cls(destination, routing_key, message, meta.get("due"), meta.get("key"))


@dataclass(slots=True)
class Step:
    hop: Hop
    now: float
    events: list[NewEvent] = field(default_factory=list)
    outgoing: list[Outgoing] = field(default_factory=list)
    cancel_timers: list[str] = field(default_factory=list)
    finished: tuple[str, Any] | None = None  # (status, output-or-(error, cause)) at top level
    machine: Any = None  # the execution's compiled top-level Machine
    redrive_point: dict[str, Any] | None = None  # where a redrive continues, if this step fails
    forks: dict[str, Any] = field(default_factory=dict)  # joins this hop's transaction read, by key

    @property
    def durable(self) -> bool:
        return self.hop.workflow_type != EXPRESS

    def event(self, event: NewEvent) -> None:
        if self.durable:
            self.events.append(event)

    def hop_to(
        self,
        state: str,
        kind: str,
        body: Any,
        *,
        branch: str | None = None,
        seq: int | None = None,
        attempt: int = 0,
        due: float | None = None,
        key_suffix: str = "",
    ) -> Hop:
        """Emit the next hop of this execution (optionally as a timer due at ``due``)."""
        hop = Hop(
            execution_arn=self.hop.execution_arn,
            state_machine_arn=self.hop.state_machine_arn,
            state=state,
            body=body,
            branch=self.hop.branch if branch is None else branch,
            seq=self.hop.seq + 1 if seq is None else seq,
            attempt=attempt,
            kind=kind + key_suffix,
            workflow_type=self.hop.workflow_type,
            deadline=self.hop.deadline,
            traceparent=self.hop.traceparent,
            tracestate=self.hop.tracestate,
        )
        message = hop.to_message()
        if due is not None and due > self.now:
            self.outgoing.append(Outgoing(TO_TIMER, "hops", message, due, message.message_id))
        else:
            self.outgoing.append(Outgoing(TO_QUEUE, "hops", message))
        return hop

    def send(self, queue: str, message: Message) -> None:
        self.outgoing.append(Outgoing(TO_QUEUE, queue, message))

    def publish_event(self, routing_key: str, detail: Any) -> None:
        self.outgoing.append(Outgoing(TO_EVENT, routing_key, Message(body=orjson.dumps(detail))))
