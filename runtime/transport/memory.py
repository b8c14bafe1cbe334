"""In-process transport: the embedded default and the engine's deterministic test double.

It honours the same contract as RabbitMQ (prefetch, manual ack, redelivery with the
``redelivered`` flag, a delivery limit, dead-lettering with a reason, topic events) so an
engine scenario means the same on both. State lives in a :class:`MemoryBroker`; each
:class:`MemoryTransport` is one client of it, like one AMQP connection, so several workers
can share a broker and :meth:`MemoryTransport.abort` can simulate a worker killed mid-hop
(its unsettled deliveries go back to their queues, redelivered).

Dispatch is synchronous on publish/settle and handlers run as tasks in creation order, so
runs are deterministic for a given sequence of publishes.

One visible difference: where RabbitMQ itself dead-letters (delivery limit, nack without
requeue) it records an ``x-death`` list, while this broker writes the ``x-sh-dead-reason``
and ``x-sh-dead-from`` headers; read either with :func:`runtime.transport.dead_letter_info`.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from runtime.transport.base import (
    DEAD_FROM,
    DEAD_REASON,
    Consumer,
    Delivery,
    Handler,
    Message,
    Topology,
    TopologyError,
    Transport,
    TransportError,
    UnroutableError,
    check_name,
    default_prefetch,
    log,
)

_brokers: weakref.WeakValueDictionary[str, MemoryBroker] = weakref.WeakValueDictionary()


def shared_broker(name: str) -> MemoryBroker:
    """The process-wide broker called ``name`` (``memory://name``), created on first use."""
    broker = _brokers.get(name)
    if broker is None:
        broker = MemoryBroker()
        _brokers[name] = broker
    return broker


@dataclass(slots=True)
class _Envelope:
    message: Message
    returns: int = 0
    redelivered: bool = False


class _Queue:
    __slots__ = ("arguments", "consumers", "delivery_limit", "name", "quorum", "ready", "rr")

    def __init__(self, name: str, arguments: dict[str, Any]) -> None:
        self.name = name  # broker (prefixed) name
        self.arguments = arguments
        self.quorum = arguments.get("x-queue-type") == "quorum"
        limit = arguments.get("x-delivery-limit")
        self.delivery_limit: int | None = limit if isinstance(limit, int) else None
        self.ready: deque[_Envelope] = deque()
        self.consumers: list[_MemoryConsumer] = []
        self.rr = 0


def topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching: ``*`` is exactly one word, ``#`` zero or more words."""
    return _match(tuple(pattern.split(".")), tuple(key.split(".")))


def _match(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return (head == "*" or head == words[0]) and _match(rest, words[1:])


class MemoryBroker:
    """Queues and bindings shared by the :class:`MemoryTransport` clients of one process."""

    def __init__(self) -> None:
        self.queues: dict[str, _Queue] = {}  # logical name -> queue
        self.topic_bindings: list[tuple[str, str]] = []  # (logical queue, pattern)
        #: unsettled deliveries + running handlers, over all consumers. Dispatch is
        #: synchronous, so a consumed queue holds ready messages only while this is > 0:
        #: the broker is idle exactly when it drops to 0.
        self.active = 0
        self.idle_event = asyncio.Event()
        self.idle_event.set()

    def busy(self, count: int) -> None:
        self.active += count
        self.idle_event.clear()

    def free(self) -> None:
        self.active -= 1
        if self.active == 0:
            self.idle_event.set()

    def declare(self, logical: str, topology: Topology) -> _Queue:
        arguments = topology.queue_arguments(logical)
        queue = self.queues.get(logical)
        if queue is None:
            queue = _Queue(topology.queue_name(logical), arguments)
            self.queues[logical] = queue
        elif queue.arguments != arguments:  # RabbitMQ answers PRECONDITION_FAILED here
            raise TopologyError(
                f"queue {queue.name!r} exists with arguments {queue.arguments}, not {arguments}"
            )
        return queue

    def route(self, logical: str) -> _Queue:
        queue = self.queues.get(logical)
        if queue is None:
            raise UnroutableError(f"no queue bound to {logical!r}: declare it with ensure_queue() first")
        return queue

    def enqueue(self, queue: _Queue, envelope: _Envelope, *, front: bool = False) -> None:
        if front:
            queue.ready.appendleft(envelope)
        else:
            queue.ready.append(envelope)
        self.dispatch(queue)

    def dispatch(self, queue: _Queue) -> None:
        """Hand ready messages to consumers with spare prefetch, round robin."""
        consumers = queue.consumers
        while queue.ready and consumers:
            count = len(consumers)
            for step in range(count):
                consumer = consumers[(queue.rr + step) % count]
                if consumer.unsettled < consumer.prefetch:
                    queue.rr = (queue.rr + step + 1) % count
                    consumer.deliver(queue.ready.popleft())
                    break
            else:
                break

    def dead_letter(self, queue: _Queue, message: Message, reason: str) -> None:
        dead = self.queues.get(Topology.DEAD)
        if dead is None:
            log.error("dead-letter queue missing; dropping message from %s: %s", queue.name, reason)
            return
        headers = dict(message.headers)
        headers[DEAD_REASON] = reason
        headers[DEAD_FROM] = queue.name
        copy = Message(
            message.body,
            headers,
            message.message_id,
            message.content_type,
            message.persistent,
            message.correlation_id,
            message.reply_to,
        )
        self.enqueue(dead, _Envelope(copy))

    def give_back(self, queue: _Queue, envelope: _Envelope) -> None:
        """A delivery came back unsettled: count it, dead-letter past the limit, else requeue."""
        envelope.returns += 1
        envelope.redelivered = True
        if queue.delivery_limit is not None and envelope.returns > queue.delivery_limit:
            self.dead_letter(queue, envelope.message, "delivery_limit")
            self.dispatch(queue)
        else:
            if queue.quorum:  # as RabbitMQ quorum queues do, so header readers see it too
                envelope.message.headers["x-delivery-count"] = envelope.returns
            self.enqueue(queue, envelope, front=True)

    def idle(self) -> bool:
        return self.active == 0


class _MemoryDelivery(Delivery):
    __slots__ = ("_consumer", "_envelope")

    def __init__(self, consumer: _MemoryConsumer, envelope: _Envelope, logical: str) -> None:
        super().__init__(envelope.message, logical, envelope.redelivered)
        self._consumer = consumer
        self._envelope = envelope

    @property
    def delivery_count(self) -> int:
        return self._envelope.returns

    async def ack(self) -> None:
        self._settle()
        self._consumer.settled_from(self)

    async def nack(self, requeue: bool = True) -> None:
        self._settle()
        consumer = self._consumer
        if requeue:
            consumer.broker.give_back(consumer.queue_obj, self._envelope)
        else:
            consumer.broker.dead_letter(consumer.queue_obj, self.message, "rejected")
        consumer.settled_from(self)

    async def dead_letter(self, reason: str) -> None:
        self._settle()
        consumer = self._consumer
        consumer.broker.dead_letter(consumer.queue_obj, self.message, reason)
        consumer.settled_from(self)


class _MemoryConsumer(Consumer):
    def __init__(
        self, transport: MemoryTransport, queue: str, queue_obj: _Queue, handler: Handler, prefetch: int
    ) -> None:
        self.transport = transport
        self.broker = transport.broker
        self.queue = queue
        self.queue_obj = queue_obj
        self.handler = handler
        self.prefetch = prefetch
        self.unsettled = 0
        self.running = 0
        self.deliveries: set[_MemoryDelivery] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.active = True
        self._quiet = asyncio.Event()
        self._quiet.set()

    @property
    def in_flight(self) -> int:
        return self.unsettled

    def deliver(self, envelope: _Envelope) -> None:
        delivery = _MemoryDelivery(self, envelope, self.queue)
        self.unsettled += 1
        self.running += 1
        self.broker.busy(2)
        self.deliveries.add(delivery)
        self._quiet.clear()
        task = asyncio.get_running_loop().create_task(self._run(delivery))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, delivery: _MemoryDelivery) -> None:
        try:
            await self.handler(delivery)
        except asyncio.CancelledError:
            if not delivery.settled:
                delivery._settle()
                self.broker.give_back(self.queue_obj, delivery._envelope)
                self.settled_from(delivery)
            raise
        except Exception:
            log.exception("handler for %s failed; message requeued", self.queue_obj.name)
            if not delivery.settled:
                await delivery.nack(requeue=True)
        finally:
            self.running -= 1
            self._check_quiet()
            self.broker.free()

    def settled(self) -> None:
        self.unsettled -= 1
        self._check_quiet()
        if self.active:
            self.broker.dispatch(self.queue_obj)
        self.broker.free()  # after dispatch: a requeued message keeps the broker busy

    def settled_from(self, delivery: _MemoryDelivery) -> None:
        self.deliveries.discard(delivery)
        self.settled()

    def _check_quiet(self) -> None:
        if self.unsettled == 0 and self.running == 0:
            self._quiet.set()

    def detach(self) -> None:
        self.active = False
        with contextlib.suppress(ValueError):
            self.queue_obj.consumers.remove(self)
        self.transport.consumers.discard(self)

    async def cancel(self, timeout: float | None = None) -> None:
        self.detach()
        try:
            async with asyncio.timeout(timeout):
                await self._quiet.wait()
        except TimeoutError:
            log.warning(
                "consumer of %s: %d deliveries still unsettled after %.1fs",
                self.queue_obj.name,
                self.unsettled,
                timeout,
            )
        finally:
            self.broker.dispatch(self.queue_obj)


class MemoryTransport(Transport):
    """One client of a :class:`MemoryBroker`; a private broker unless one is given."""

    def __init__(self, topology: Topology | None = None, broker: MemoryBroker | None = None) -> None:
        self.topology = topology or Topology()
        self.broker = broker or MemoryBroker()
        self.consumers: set[_MemoryConsumer] = set()
        self._started = False
        self._closed = False

    # -- topology
    async def start(self) -> None:
        if self._closed:
            raise TransportError("transport is closed")
        for logical in (Topology.HOPS, Topology.REPLIES, Topology.DEAD):
            self.broker.declare(logical, self.topology)
        self._started = True

    async def ensure_queue(self, name: str) -> None:
        self.broker.declare(check_name(name), self.topology)

    async def queue_exists(self, name: str) -> bool:
        return check_name(name) in self.broker.queues

    async def bind_events(self, queue: str, pattern: str) -> None:
        self.broker.declare(check_name(queue), self.topology)
        binding = (queue, pattern)
        if binding not in self.broker.topic_bindings:
            self.broker.topic_bindings.append(binding)

    async def delete_topology(self) -> None:
        for consumer in list(self.consumers):
            consumer.detach()
        self.broker.queues.clear()
        self.broker.topic_bindings.clear()

    # -- publishing
    async def publish(self, destination: str, message: Message, *, confirm: bool | None = None) -> None:
        self._publish(self.broker.route(destination), message)

    def _publish(self, queue: _Queue, message: Message) -> None:
        # copy the mutable part, as a broker would: the receiver never aliases the sender's dict
        copy = Message(
            message.body,
            dict(message.headers),
            message.message_id,
            message.content_type,
            message.persistent,
            message.correlation_id,
            message.reply_to,
        )
        self.broker.enqueue(queue, _Envelope(copy))

    async def publish_many(self, items: Iterable[tuple[str, Message]]) -> None:
        pairs = [(self.broker.route(d), m) for d, m in items]  # all routable, or none published
        for queue, message in pairs:
            self._publish(queue, message)

    async def publish_event(self, routing_key: str, message: Message) -> None:
        queues = self.broker.queues
        for logical, pattern in self.broker.topic_bindings:
            if logical in queues and topic_matches(pattern, routing_key):
                self._publish(queues[logical], message)

    # -- consuming
    async def consume(self, queue: str, handler: Handler, prefetch: int | None = None) -> Consumer:
        if self._closed:
            raise TransportError("transport is closed")
        queue_obj = self.broker.queues.get(queue)
        if queue_obj is None:
            raise TransportError(f"cannot consume {queue!r}: queue not declared")
        consumer = _MemoryConsumer(self, queue, queue_obj, handler, default_prefetch(self.topology, prefetch))
        queue_obj.consumers.append(consumer)
        self.consumers.add(consumer)
        self.broker.dispatch(queue_obj)
        return consumer

    async def stop_consuming(self, timeout: float | None = None) -> None:
        consumers = list(self.consumers)
        for consumer in consumers:
            consumer.detach()
        await asyncio.gather(*(c.cancel(timeout) for c in consumers))

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until consumed queues are empty and no handler runs or holds a delivery.

        Queues nobody consumes (``dead``, a Task queue without a service) are ignored, so a
        run that waits on an absent service returns instead of hanging.
        """
        broker = self.broker
        async with asyncio.timeout(timeout):
            while not broker.idle():
                await broker.idle_event.wait()

    async def queue_depth(self, queue: str) -> int:
        """Ready (undelivered) messages in a logical queue; 0 when it does not exist."""
        queue_obj = self.broker.queues.get(queue)
        return len(queue_obj.ready) if queue_obj else 0

    def take(self, queue: str) -> list[Message]:
        """Remove and return every ready message of a queue (for tests and `statehop run`)."""
        queue_obj = self.broker.queues.get(queue)
        if queue_obj is None:
            return []
        messages = [envelope.message for envelope in queue_obj.ready]
        queue_obj.ready.clear()
        return messages

    async def abort(self) -> None:
        """Simulate a crashed client: cancel handlers; unsettled deliveries are redelivered."""
        consumers = list(self.consumers)
        for consumer in consumers:
            consumer.detach()
        tasks = [t for c in consumers for t in c.tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for consumer in consumers:
            for delivery in list(consumer.deliveries):
                if not delivery.settled:  # handler returned without settling
                    delivery._settle()
                    self.broker.give_back(consumer.queue_obj, delivery._envelope)
                    consumer.settled_from(delivery)
        self._closed = True

    async def close(self) -> None:
        if self._closed:
            return
        await self.stop_consuming(timeout=30.0)
        self._closed = True
