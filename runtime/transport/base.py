"""The transport contract: what the engine needs from a message broker, and nothing more.

Two implementations honour it: :mod:`runtime.transport.memory` (one asyncio process, the
embedded default and the engine's unit-test double) and :mod:`runtime.transport.rabbitmq`
(aio-pika, the production path). The engine only ever sees this module, so a scenario that
passes on one transport means the same thing on the other.

Queues are addressed by *logical* names (``"hops"``, ``"replies"``, ``"tasks.payments"``,
``"dead"``); :class:`Topology` maps them to broker names under a configurable prefix.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from runtime.asl.errors import StateHopError

log = logging.getLogger("statehop.transport")

#: Header the transport adds when a handler (or the broker) dead-letters a message.
DEAD_REASON = "x-sh-dead-reason"
#: Header naming the (broker) queue a dead-lettered message came from.
DEAD_FROM = "x-sh-dead-from"

QueueType = Literal["quorum", "classic"]


# --------------------------------------------------------------------------- errors


class TransportError(StateHopError):
    """Root of the broker-side failures; the engine can catch this one class."""


class TransportUnavailable(TransportError):
    """The broker stayed unreachable longer than the bounded publish/connect wait."""


class UnroutableError(TransportError):
    """A publish matched no queue (e.g. a Task service queue nobody declared).

    Raised instead of letting the broker drop the message silently.
    """


class PublishRejected(TransportError):
    """The broker refused a message (publisher-confirm nack, e.g. a full queue)."""


class TopologyError(TransportError):
    """Declaring a queue/exchange failed, typically because one exists with other arguments."""


class DeliveryStateError(TransportError):
    """A delivery was settled twice (ack after nack, ...): a bug in the handler."""


# --------------------------------------------------------------------------- messages


@dataclass(slots=True)
class Message:
    """A broker-neutral message: bytes plus the few AMQP properties StateHop uses.

    ``persistent=False`` is the EXPRESS fast path: non-persistent delivery mode and, unless
    the publisher asks otherwise, no wait for a publisher confirm.
    """

    body: bytes
    headers: dict[str, Any] = field(default_factory=dict)
    message_id: str | None = None
    content_type: str | None = "application/json"
    persistent: bool = True
    correlation_id: str | None = None
    reply_to: str | None = None


Handler = Callable[["Delivery"], Awaitable[None]]


class Delivery(abc.ABC):
    """One message handed to a consumer; exactly one of ack/nack/dead_letter settles it.

    A handler may settle the delivery after it returns (e.g. once a batched store commit is
    done): the delivery counts as in flight until it is settled. A handler that raises before
    settling gets ``nack(requeue=True)``, so a message that keeps crashing its consumer ends
    in the dead-letter queue through the delivery limit rather than looping forever.
    """

    __slots__ = ("_settled", "message", "queue", "redelivered")

    def __init__(self, message: Message, queue: str, redelivered: bool) -> None:
        self.message = message
        #: logical queue name the message was consumed from
        self.queue = queue
        #: True when the broker delivered this message before (not acked then)
        self.redelivered = redelivered
        self._settled = False

    @property
    def settled(self) -> bool:
        return self._settled

    @property
    @abc.abstractmethod
    def delivery_count(self) -> int:
        """How many earlier deliveries of this message were returned (0 on first delivery)."""

    def _settle(self) -> None:
        if self._settled:
            raise DeliveryStateError(f"delivery from {self.queue!r} is already settled")
        self._settled = True

    @abc.abstractmethod
    async def ack(self) -> None:
        """Done with the message: the broker forgets it."""

    @abc.abstractmethod
    async def nack(self, requeue: bool = True) -> None:
        """Give the message back (``requeue=True``) or drop it to the dead-letter exchange."""

    @abc.abstractmethod
    async def dead_letter(self, reason: str) -> None:
        """Move the message to the ``dead`` queue with ``x-sh-dead-reason``, then ack it."""


class Consumer(abc.ABC):
    """Handle on one running consumer."""

    queue: str
    prefetch: int

    @property
    @abc.abstractmethod
    def in_flight(self) -> int:
        """Deliveries handed out and not yet settled."""

    @abc.abstractmethod
    async def cancel(self, timeout: float | None = None) -> None:
        """Stop taking deliveries, then wait (bounded) for in-flight ones to be settled."""


def dead_letter_info(message: Message) -> tuple[str, str]:
    """Return ``(reason, from_queue)`` of a message found on the dead-letter queue.

    Works for both paths: our explicit :meth:`Delivery.dead_letter` (``x-sh-dead-*``
    headers) and the broker's own dead-lettering (delivery limit, rejection), which records
    an ``x-death`` list instead.
    """
    headers = message.headers
    if DEAD_REASON in headers:
        return str(headers[DEAD_REASON]), str(headers.get(DEAD_FROM, ""))
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], Mapping):
        first = deaths[0]
        return str(first.get("reason", "")), str(first.get("queue", ""))
    return "", ""


# --------------------------------------------------------------------------- topology


@dataclass(frozen=True, slots=True)
class Topology:
    """Names and queue arguments, shared by both transports so they route alike.

    Every queue is bound to the direct exchange ``<prefix>.hops`` with its logical name as
    routing key, so publishing to ``"tasks.payments"`` reaches ``<prefix>.tasks.payments``.
    """

    prefix: str = "statehop"
    queue_type: QueueType = "quorum"
    #: quorum queues only: deliveries after which the broker dead-letters a message
    delivery_limit: int = 10
    hop_prefetch: int = 64

    HOPS = "hops"
    REPLIES = "replies"
    DEAD = "dead"

    def __post_init__(self) -> None:
        if self.queue_type not in ("quorum", "classic"):
            raise ValueError(f"queue_type must be 'quorum' or 'classic', not {self.queue_type!r}")
        if self.delivery_limit < 1 or self.hop_prefetch < 1:
            raise ValueError("delivery_limit and hop_prefetch must be >= 1")

    @property
    def exchange(self) -> str:
        """The direct exchange every hop, task and reply is published to."""
        return f"{self.prefix}.hops"

    @property
    def events_exchange(self) -> str:
        """Topic exchange for execution status events."""
        return f"{self.prefix}.events"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.prefix}.dlx"

    def queue_name(self, logical: str) -> str:
        """Broker name of a logical queue (``"hops"`` -> ``"statehop.hops"``)."""
        return f"{self.prefix}.{logical}"

    @staticmethod
    def task_queue(service: str) -> str:
        """Logical name of the queue a Task service consumes."""
        return f"tasks.{service}"

    def queue_arguments(self, logical: str) -> dict[str, Any]:
        """x-arguments of a work queue: quorum + delivery limit + dead-lettering to ``dead``."""
        if logical == self.DEAD:
            return {"x-queue-type": self.queue_type}
        args: dict[str, Any] = {
            "x-queue-type": self.queue_type,
            "x-dead-letter-exchange": self.dead_letter_exchange,
            "x-dead-letter-routing-key": self.DEAD,
        }
        if self.queue_type == "quorum":
            args["x-delivery-limit"] = self.delivery_limit
            # the broker keeps a message until the dead-letter queue confirmed it, so a crash
            # while dead-lettering cannot lose it (needs reject-publish overflow)
            args["x-dead-letter-strategy"] = "at-least-once"
            args["x-overflow"] = "reject-publish"
        return args


# --------------------------------------------------------------------------- the contract


class Transport(abc.ABC):
    """What the engine, the workers and the adapters need from a broker."""

    topology: Topology

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect and declare the fixed topology; safe to call on an existing topology."""

    @abc.abstractmethod
    async def ensure_queue(self, name: str) -> None:
        """Declare a work queue on demand (e.g. ``tasks.<service>``) and bind it; idempotent."""

    @abc.abstractmethod
    async def queue_exists(self, name: str) -> bool:
        """Whether the logical queue ``name`` exists on the broker (declared by anyone).

        Never declares anything and never disturbs the publishing or consuming channels. A
        queue that exists with no consumer counts as existing. The answer is not cached: a
        caller that wants to remember positive answers does so itself.
        """

    @abc.abstractmethod
    async def bind_events(self, queue: str, pattern: str) -> None:
        """Subscribe ``queue`` (declared on demand) to the events exchange with a topic pattern."""

    @abc.abstractmethod
    async def publish(self, destination: str, message: Message, *, confirm: bool | None = None) -> None:
        """Publish to a logical queue; returns once the broker confirmed it.

        ``confirm`` defaults to ``message.persistent``: persistent messages wait for the
        publisher confirm, transient (EXPRESS) ones return once written. Raises
        :class:`UnroutableError` when no queue is bound to ``destination``.
        """

    async def publish_many(self, items: Iterable[tuple[str, Message]]) -> None:
        """Publish several messages with their confirms awaited concurrently (pipelined).

        Not atomic: on failure some messages may be out already; raises the first error.
        """
        for destination, message in items:
            await self.publish(destination, message)

    @abc.abstractmethod
    async def publish_event(self, routing_key: str, message: Message) -> None:
        """Publish an execution status event on the topic exchange (no subscriber is fine)."""

    @abc.abstractmethod
    async def consume(self, queue: str, handler: Handler, prefetch: int | None = None) -> Consumer:
        """Start consuming a logical queue with manual acks and at most ``prefetch`` unsettled."""

    @abc.abstractmethod
    async def stop_consuming(self, timeout: float | None = None) -> None:
        """Graceful stop: no new deliveries; in-flight ones are finished and settled."""

    @abc.abstractmethod
    async def drain(self, timeout: float | None = None) -> None:
        """Wait until every consumed queue is empty and nothing is in flight.

        Raises ``TimeoutError`` after ``timeout`` seconds.
        """

    @abc.abstractmethod
    async def queue_depth(self, queue: str) -> int:
        """Ready (not yet delivered) messages in a logical queue."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop consuming (gracefully) and disconnect."""

    @abc.abstractmethod
    async def delete_topology(self) -> None:
        """Delete every queue and exchange this transport declared (tests, teardown tools)."""

    async def __aenter__(self) -> Transport:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def default_prefetch(topology: Topology, prefetch: int | None) -> int:
    """Resolve a consumer's prefetch, rejecting nonsense early with a clear message."""
    value = topology.hop_prefetch if prefetch is None else prefetch
    if value < 1:
        raise ValueError(f"prefetch must be >= 1, got {value}")
    return value


def check_name(name: str) -> str:
    """Logical queue names are dotted words; reject ones that would collide or confuse."""
    if not name or name.startswith(".") or name.endswith(".") or len(name) > 200:
        raise ValueError(f"invalid logical queue name {name!r}")
    return name


__all__ = [
    "DEAD_FROM",
    "DEAD_REASON",
    "Consumer",
    "Delivery",
    "DeliveryStateError",
    "Handler",
    "Message",
    "PublishRejected",
    "QueueType",
    "Topology",
    "TopologyError",
    "Transport",
    "TransportError",
    "TransportUnavailable",
    "UnroutableError",
    "check_name",
    "dead_letter_info",
    "default_prefetch",
    "log",
]
