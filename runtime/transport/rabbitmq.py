"""RabbitMQ transport (aio-pika robust connection), the production path.

Why it looks like this:

- ``connect_robust``: channels, topology and consumers are restored after a broker restart.
- Publishes go straight to the underlying aiormq channel (no ``aio_pika.Message`` per hop)
  with ``mandatory`` set, so an unroutable message raises instead of vanishing; a publish
  that meets a dropped connection waits for the reconnect and retries until
  ``publish_timeout``, then raises :class:`TransportUnavailable`. A retry can duplicate a
  message; hop message ids are deterministic so the engine recognises the copy.
- One channel per consumer, because AMQP prefetch is per channel and aio-pika restores a
  channel's QoS with its consumers.
- Quorum queues with a delivery limit and a dead-letter exchange: a message that keeps
  crashing consumers ends in ``<prefix>.dead`` instead of looping.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar, cast

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
)
from aiormq.abc import AbstractChannel as RawChannel
from aiormq.abc import DeliveredMessage
from pamqp.commands import Basic

from runtime.transport.base import (
    DEAD_FROM,
    DEAD_REASON,
    Consumer,
    Delivery,
    Handler,
    Message,
    PublishRejected,
    Topology,
    TopologyError,
    Transport,
    TransportError,
    TransportUnavailable,
    UnroutableError,
    check_name,
    default_prefetch,
    log,
)

#: Failures that mean "the connection/channel is gone for now", worth a retry after reconnect.
_RETRYABLE: tuple[type[BaseException], ...] = (
    aiormq.exceptions.AMQPConnectionError,
    aiormq.exceptions.ChannelInvalidStateError,
    aiormq.exceptions.ChannelClosed,
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
)
#: Settling on a channel aiormq already closed raises a plain RuntimeError subclass too.
_SETTLE_LOST: tuple[type[BaseException], ...] = (*_RETRYABLE, RuntimeError)
_CONNECT_FAILED: tuple[type[BaseException], ...] = (*_RETRYABLE, aiormq.exceptions.AMQPError)
_RETRYABLE_OR_CANCELLED: tuple[type[BaseException], ...] = (*_RETRYABLE, asyncio.CancelledError)

T = TypeVar("T")


def _cancelled_for_real() -> bool:
    """aiormq fails pending operations with ``CancelledError`` when the broker closes the
    connection (e.g. CONNECTION_FORCED on shutdown): that is a lost connection to retry, unless
    our own task is being cancelled."""
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0


def _properties(message: Message, persistent: bool) -> Basic.Properties:
    return Basic.Properties(
        content_type=message.content_type,
        delivery_mode=2 if persistent else 1,
        headers=message.headers,
        message_id=message.message_id,
        correlation_id=message.correlation_id,
        reply_to=message.reply_to,
    )


class _RabbitDelivery(Delivery):
    __slots__ = ("_channel", "_consumer", "_tag")

    def __init__(self, consumer: _RabbitConsumer, raw: DeliveredMessage) -> None:
        props = raw.header.properties
        message = Message(
            raw.body,
            props.headers or {},
            props.message_id,
            props.content_type,
            props.delivery_mode == 2,
            props.correlation_id,
            props.reply_to,
        )
        super().__init__(message, consumer.queue, bool(raw.redelivered))
        self._consumer = consumer
        self._channel = raw.channel  # acks must go to the channel that delivered it
        self._tag = raw.delivery_tag or 0

    @property
    def delivery_count(self) -> int:
        count = self.message.headers.get("x-delivery-count", 0)
        return count if isinstance(count, int) else 0

    async def ack(self) -> None:
        self._settle()
        try:
            await self._channel.basic_ack(self._tag, wait=False)
        except _SETTLE_LOST as exc:
            self._lost("ack", exc)
        finally:
            self._consumer.settled()

    async def nack(self, requeue: bool = True) -> None:
        self._settle()
        try:
            await self._channel.basic_nack(self._tag, requeue=requeue, wait=False)
        except _SETTLE_LOST as exc:
            self._lost("nack", exc)
        finally:
            self._consumer.settled()

    def _lost(self, action: str, exc: BaseException) -> None:
        # the channel that delivered it is gone: the broker requeues the message and
        # redelivers it (redelivered=True); deterministic hop ids make that harmless
        log.warning("%s of a delivery from %s lost (%s); it will be redelivered", action, self.queue, exc)

    async def dead_letter(self, reason: str) -> None:
        if self.settled:
            self._settle()  # raises DeliveryStateError
        headers = dict(self.message.headers)
        headers[DEAD_REASON] = reason
        headers[DEAD_FROM] = self._consumer.broker_queue
        dead = Message(
            self.message.body,
            headers,
            self.message.message_id,
            self.message.content_type,
            True,
            self.message.correlation_id,
            self.message.reply_to,
        )
        transport = self._consumer.transport
        await transport._send(transport.topology.dead_letter_exchange, Topology.DEAD, dead, confirm=True)
        await self.ack()


class _RabbitConsumer(Consumer):
    """Consumes on the raw aiormq channel (one task per delivery, no aio-pika wrapper
    objects: that is a third of the client's CPU per hop), and subscribes again whenever
    the robust channel reopens after a reconnect."""

    def __init__(
        self,
        transport: RabbitMQTransport,
        queue: str,
        handler: Handler,
        prefetch: int,
        channel: AbstractRobustChannel,
    ) -> None:
        self.transport = transport
        self.queue = queue
        self.broker_queue = transport.topology.queue_name(queue)
        self.handler = handler
        self.prefetch = prefetch
        self.channel = channel
        self.tag = f"statehop.{queue}.{uuid.uuid4().hex[:12]}"
        self._raw: aiormq.Channel | None = None
        self._in_flight = 0
        self._running = 0
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._cancelled = False
        self._retry: asyncio.Task[None] | None = None

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def subscribe(self) -> None:
        raw = cast(aiormq.Channel, await self.channel.get_underlay_channel())
        if self.tag in raw.consumers:
            return
        raw.on_consumer_cancel_callbacks.add(self._on_broker_cancel)
        await raw.basic_consume(self.broker_queue, self.on_message, consumer_tag=self.tag)
        self._raw = raw

    async def on_reopen(self, _channel: Any) -> None:
        """Robust channel reopened (after a reconnect): its old consumers are gone."""
        if self._cancelled:
            return
        try:
            await self.subscribe()
        except Exception as exc:  # e.g. the queue is not back yet: keep trying in the background
            log.warning("consuming %s again after reconnect failed (%s); retrying", self.broker_queue, exc)
            self._schedule_resubscribe()

    def _schedule_resubscribe(self) -> None:
        if self._retry is None or self._retry.done():
            self._retry = asyncio.get_running_loop().create_task(self._resubscribe())

    def _on_broker_cancel(self, frame: Basic.Cancel) -> None:
        if frame.consumer_tag != self.tag or self._cancelled:
            return
        log.error("broker cancelled the consumer of %s (queue deleted?); retrying", self.broker_queue)
        self._schedule_resubscribe()

    async def _resubscribe(self) -> None:
        while not self._cancelled:
            await asyncio.sleep(self.transport.reconnect_interval)
            try:
                self.transport._queues.pop(self.queue, None)  # the cached declaration may be stale
                await self.transport._declare_queue(self.queue)
                await self.subscribe()
                return
            except Exception as exc:
                log.warning("re-subscribing to %s failed: %s", self.broker_queue, exc)

    async def on_message(self, raw: DeliveredMessage) -> None:
        self._in_flight += 1
        self._running += 1
        self._quiet.clear()
        delivery = _RabbitDelivery(self, raw)
        try:
            await self.handler(delivery)
        except asyncio.CancelledError:
            if not delivery.settled:
                await delivery.nack(requeue=True)
            raise
        except Exception:
            log.exception("handler for %s failed; message requeued", self.broker_queue)
            if not delivery.settled:
                await delivery.nack(requeue=True)
        finally:
            self._running -= 1
            if self._in_flight == 0 and self._running == 0:
                self._quiet.set()

    def settled(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0 and self._running == 0:
            self._quiet.set()

    @property
    def busy(self) -> bool:
        return not self._quiet.is_set()

    async def cancel(self, timeout: float | None = None) -> None:
        if self._cancelled:
            return
        self._cancelled = True
        self.transport.consumers.discard(self)
        self.channel.reopen_callbacks.discard(self.on_reopen)
        if self._retry is not None:
            self._retry.cancel()
        raw = self._raw
        if raw is not None and not raw.is_closed:
            with contextlib.suppress(*_SETTLE_LOST):
                await raw.basic_cancel(self.tag, timeout=5)
        await asyncio.sleep(0)  # deliveries that arrived before CancelOk start their handlers
        try:
            async with asyncio.timeout(timeout):
                await self._quiet.wait()
        except TimeoutError:
            log.warning(
                "consumer of %s: %d deliveries unsettled after %.1fs; the broker will requeue them",
                self.broker_queue,
                self._in_flight,
                timeout,
            )
        with contextlib.suppress(*_SETTLE_LOST):
            await self.channel.close()


class RabbitMQTransport(Transport):
    """The contract over RabbitMQ; one robust connection per transport."""

    def __init__(
        self,
        url: str,
        topology: Topology | None = None,
        *,
        publish_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        reconnect_interval: float = 1.0,
        connection_name: str = "statehop",
    ) -> None:
        self.url = url
        self.topology = topology or Topology()
        self.publish_timeout = publish_timeout
        self.connect_timeout = connect_timeout
        self.reconnect_interval = reconnect_interval
        self.connection_name = connection_name
        self.consumers: set[_RabbitConsumer] = set()
        self._connection: AbstractRobustConnection | None = None
        self._confirm: AbstractRobustChannel | None = None
        self._fast: AbstractRobustChannel | None = None
        self._admin: AbstractRobustChannel | None = None
        #: raw channel for passive queue checks only (a check of a missing queue closes it)
        self._probe: RawChannel | None = None
        self._probe_lock = asyncio.Lock()
        self._queues: dict[str, AbstractQueue] = {}  # logical -> declared queue (this connection)
        self._declared: list[str] = []  # logical names ever declared, for delete_topology
        self._exchanges: list[str] = []
        self._start_lock = asyncio.Lock()
        #: how many times the connection was re-established (health checks, metrics, tests)
        self.reconnects = 0

    # -- connection and topology
    async def start(self) -> None:
        async with self._start_lock:
            if self._connection is None:
                try:
                    self._connection = await aio_pika.connect_robust(
                        self.url,
                        timeout=self.connect_timeout,
                        reconnect_interval=self.reconnect_interval,
                        client_properties={"connection_name": self.connection_name},
                    )
                except _CONNECT_FAILED as exc:
                    raise TransportUnavailable(
                        f"cannot connect to RabbitMQ at {_safe(self.url)}: {exc}"
                    ) from exc
                self._connection.reconnect_callbacks.add(self._on_reconnect)
                self._confirm = self._connection.channel(publisher_confirms=True)
                self._fast = self._connection.channel(publisher_confirms=False)
                self._admin = self._connection.channel(publisher_confirms=False)
                for channel in (self._confirm, self._fast, self._admin):
                    await channel.initialize(timeout=self.connect_timeout)
            await self._with_retry("declaring the topology", self._declare_topology)

    async def _with_retry(self, what: str, operation: Callable[[], Awaitable[T]]) -> T:
        """Run a broker operation, retrying across a reconnect for up to ``publish_timeout``.

        Startup and declarations meet broker restarts too (a worker starting while RabbitMQ
        rolls over); a TopologyError is not retried, it will not fix itself.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.publish_timeout
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    return await operation()
            except _RETRYABLE_OR_CANCELLED as exc:
                if isinstance(exc, asyncio.CancelledError) and _cancelled_for_real():
                    raise
                if loop.time() >= deadline:
                    raise TransportUnavailable(
                        f"{what} did not succeed within {self.publish_timeout:.0f}s: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                log.info("%s failed (%s: %s); retrying after reconnect", what, type(exc).__name__, exc)
                await asyncio.sleep(min(0.2, max(0.0, deadline - loop.time())))

    def _on_reconnect(self, *_: Any) -> None:
        self.reconnects += 1
        log.warning("reconnected to RabbitMQ (%d reconnects so far)", self.reconnects)

    async def _declare_topology(self) -> None:
        topo = self.topology
        admin = self._channel(self._admin)
        try:
            hops = await admin.declare_exchange(topo.exchange, aio_pika.ExchangeType.DIRECT, durable=True)
            await admin.declare_exchange(topo.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True)
            dlx = await admin.declare_exchange(
                topo.dead_letter_exchange, aio_pika.ExchangeType.DIRECT, durable=True
            )
        except aiormq.exceptions.ChannelPreconditionFailed as exc:
            raise TopologyError(f"an exchange exists with other settings: {exc}") from exc
        for name in (topo.exchange, topo.events_exchange, topo.dead_letter_exchange):
            if name not in self._exchanges:
                self._exchanges.append(name)
        await self._declare_queue(Topology.HOPS, hops)
        await self._declare_queue(Topology.REPLIES, hops)
        await self._declare_queue(Topology.DEAD, dlx)

    async def _declare_queue(self, logical: str, exchange: Any = None) -> AbstractQueue:
        queue = self._queues.get(logical)
        if queue is not None:
            return queue
        admin = self._channel(self._admin)
        name = self.topology.queue_name(logical)
        try:
            queue = await admin.declare_queue(
                name, durable=True, arguments=self.topology.queue_arguments(logical)
            )
            await queue.bind(exchange or self.topology.exchange, routing_key=logical)
        except aiormq.exceptions.ChannelPreconditionFailed as exc:
            raise TopologyError(
                f"queue {name!r} exists with other arguments (queue type, delivery limit or dead-letter"
                f" settings); delete it or use another prefix: {exc}"
            ) from exc
        self._queues[logical] = queue
        if logical not in self._declared:
            self._declared.append(logical)
        return queue

    async def ensure_queue(self, name: str) -> None:
        check_name(name)
        await self._with_retry(f"declaring queue {name!r}", lambda: self._declare_queue(name))

    async def queue_exists(self, name: str) -> bool:
        """A passive declare on a private raw channel, never on a publishing, consuming or admin
        one: the broker answers a check of a missing queue by closing the channel (404
        NOT_FOUND). The probe channel is kept while answers are positive (one round trip per
        check) and reopened after a negative one (two more). Nothing is registered with the
        robust connection, so nothing is replayed on reconnect."""
        check_name(name)
        broker_name = self.topology.queue_name(name)

        async def probe() -> bool:
            async with self._probe_lock:
                channel = await self._probe_channel()
                try:
                    await channel.queue_declare(broker_name, passive=True, timeout=self.connect_timeout)
                except aiormq.exceptions.ChannelNotFoundEntity:
                    self._probe = None  # closed by the broker
                    return False
                except Exception:
                    self._probe = None  # in an unknown state: the next check opens a fresh one
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(channel.close(), 1.0)
                    raise
                except asyncio.CancelledError:
                    # cancelled (or timed out) mid-check: drop the channel, it goes with the
                    # connection; awaiting its close here could block a cancellation
                    self._probe = None
                    raise
                return True

        return await self._with_retry(f"checking queue {name!r}", probe)

    async def _probe_channel(self) -> RawChannel:
        channel = self._probe
        if channel is not None and not channel.is_closed:
            return channel
        connection = self._connection
        if connection is None:
            raise TransportError("transport not started: await start() first")
        underlay = connection.transport
        if underlay is None or underlay.connection.is_closed:
            raise aiormq.exceptions.ChannelInvalidStateError("not connected (reconnecting)")  # retried
        channel = await underlay.connection.channel(publisher_confirms=False, timeout=self.connect_timeout)
        self._probe = channel
        return channel

    async def bind_events(self, queue: str, pattern: str) -> None:
        check_name(queue)

        async def bind() -> None:
            amqp_queue = await self._declare_queue(queue)
            await amqp_queue.bind(self.topology.events_exchange, routing_key=pattern)

        await self._with_retry(f"binding {queue!r} to events", bind)

    async def delete_topology(self) -> None:
        await self.stop_consuming(timeout=5.0)
        queues = [self.topology.queue_name(logical) for logical in self._declared]
        if self._connection is not None:
            await self._delete(self._channel(self._admin), queues)
        elif queues or self._exchanges:  # closed already: a short-lived connection does it
            connection = await aio_pika.connect(self.url, timeout=self.connect_timeout)
            try:
                await self._delete(await connection.channel(), queues)
            finally:
                await connection.close()
        self._declared.clear()
        self._queues.clear()
        self._exchanges.clear()

    async def _delete(self, admin: AbstractChannel, queues: list[str]) -> None:
        for name in queues:
            with contextlib.suppress(*_RETRYABLE):
                await admin.queue_delete(name)
        for name in self._exchanges:
            with contextlib.suppress(*_RETRYABLE):
                await admin.exchange_delete(name)

    def _channel(self, channel: AbstractRobustChannel | None) -> AbstractRobustChannel:
        if channel is None:
            raise TransportError("transport not started: await start() first")
        return channel

    # -- publishing
    async def publish(self, destination: str, message: Message, *, confirm: bool | None = None) -> None:
        await self._send(
            self.topology.exchange,
            destination,
            message,
            message.persistent if confirm is None else confirm,
        )

    async def publish_many(self, items: Iterable[tuple[str, Message]]) -> None:
        """All publishes go out at once; their confirms are awaited together."""
        exchange = self.topology.exchange
        results = await asyncio.gather(
            *(self._send(exchange, d, m, m.persistent) for d, m in items), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def publish_event(self, routing_key: str, message: Message) -> None:
        await self._send(
            self.topology.events_exchange, routing_key, message, message.persistent, mandatory=False
        )

    async def _send(
        self, exchange: str, routing_key: str, message: Message, confirm: bool, *, mandatory: bool = True
    ) -> None:
        channel = self._channel(self._confirm if confirm else self._fast)
        properties = _properties(message, message.persistent)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.publish_timeout
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    raw = cast(aiormq.Channel, await channel.get_underlay_channel())
                    result = await raw.basic_publish(
                        message.body,
                        exchange=exchange,
                        routing_key=routing_key,
                        properties=properties,
                        mandatory=mandatory,
                        # a confirmed publish awaits the broker anyway; waiting for the
                        # socket drain too costs an extra await per hop
                        wait=not confirm,
                    )
            except aiormq.exceptions.DeliveryError as exc:
                raise PublishRejected(f"broker refused message for {routing_key!r}: {exc}") from exc
            except _RETRYABLE_OR_CANCELLED as exc:
                if isinstance(exc, asyncio.CancelledError) and _cancelled_for_real():
                    raise
                if loop.time() >= deadline:
                    raise TransportUnavailable(
                        f"publish to {routing_key!r} not confirmed within {self.publish_timeout:.0f}s: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                log.info(
                    "publish to %s failed (%s: %s); retrying after reconnect",
                    routing_key,
                    type(exc).__name__,
                    exc,
                )
                await asyncio.sleep(min(0.1, max(0.0, deadline - loop.time())))
                continue
            if isinstance(result, DeliveredMessage):
                raise UnroutableError(
                    f"no queue bound to {routing_key!r} on {exchange!r}: declare it with ensure_queue() first"
                )
            return

    # -- consuming
    async def consume(self, queue: str, handler: Handler, prefetch: int | None = None) -> Consumer:
        connection = self._connection
        if connection is None:
            raise TransportError("transport not started: await start() first")
        count = default_prefetch(self.topology, prefetch)
        await self.ensure_queue(queue)
        channel = connection.channel(publisher_confirms=False)
        consumer = _RabbitConsumer(self, queue, handler, count, channel)

        async def setup() -> None:
            if not channel.is_initialized:
                await channel.initialize(timeout=self.connect_timeout)
            await channel.set_qos(prefetch_count=count)  # the robust channel restores it on reopen
            await consumer.subscribe()

        await self._with_retry(f"consuming {queue!r}", setup)
        channel.reopen_callbacks.add(consumer.on_reopen)
        self.consumers.add(consumer)
        return consumer

    async def stop_consuming(self, timeout: float | None = None) -> None:
        consumers = list(self.consumers)
        await asyncio.gather(*(c.cancel(timeout) for c in consumers))

    async def drain(self, timeout: float | None = None, poll: float = 0.05) -> None:
        """Best effort across processes: consumed queues report 0 ready and we hold nothing.

        Unacked messages held by *other* processes are not visible here; idle must hold for
        two polls in a row.
        """
        quiet_polls = 0
        async with asyncio.timeout(timeout):
            while quiet_polls < 2:
                await asyncio.sleep(poll)
                busy = any(c.busy for c in self.consumers)
                if not busy:
                    for logical in {c.queue for c in self.consumers}:
                        if await self.queue_depth(logical):
                            busy = True
                            break
                quiet_polls = 0 if busy else quiet_polls + 1

    async def queue_depth(self, queue: str) -> int:
        """Ready messages in a logical queue (a passive declare on the raw channel, so nothing
        is registered for restore on every poll)."""
        raw = await self._channel(self._admin).get_underlay_channel()
        ok = await raw.queue_declare(self.topology.queue_name(queue), passive=True)
        return int(ok.message_count or 0)

    async def close(self) -> None:
        connection = self._connection
        if connection is None:
            return
        await self.stop_consuming(timeout=30.0)
        self._connection = None
        self._confirm = self._fast = self._admin = None
        self._probe = None  # closed with the connection
        self._queues.clear()
        await connection.close()


def _safe(url: str) -> str:
    """URL without its password, for error messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return url
