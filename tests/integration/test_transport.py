"""The transport contract, run against the in-memory transport and real RabbitMQ alike.

Each test gets a fresh prefix (queues never collide between runs) and deletes what it
declared. Timing is only used as a bound on waiting, never asserted on.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from runtime.hop import Hop
from runtime.transport import (
    DEAD_FROM,
    DEAD_REASON,
    Delivery,
    DeliveryStateError,
    Handler,
    Message,
    Topology,
    TopologyError,
    Transport,
    TransportUnavailable,
    UnroutableError,
    create_transport,
    dead_letter_info,
)
from runtime.transport.memory import MemoryBroker, MemoryTransport, topic_matches
from runtime.transport.rabbitmq import RabbitMQTransport

if TYPE_CHECKING:
    from tests.support.broker import TcpProxy, TransportFactory

# fixtures amqp_url, transport, transport_factory, broker_proxy; loaded as a plugin (not imported) so
# pytest can rewrite its asserts
pytest_plugins = ["tests.support.broker"]

WAIT = 15.0  # generous bound for a broker round trip on a loaded CI machine


async def wait_until(predicate: Callable[[], bool], timeout: float = WAIT) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


def msg(body: bytes, **headers: object) -> Message:
    return Message(body, dict(headers), message_id=body.decode())


async def collect(transport: Transport, queue: str, count: int) -> list[Delivery]:
    """Consume ``count`` messages from ``queue`` acking each; return the deliveries."""
    got: list[Delivery] = []

    async def handler(delivery: Delivery) -> None:
        got.append(delivery)
        await delivery.ack()

    consumer = await transport.consume(queue, handler)
    await wait_until(lambda: len(got) >= count)
    await consumer.cancel(timeout=WAIT)
    return got


# --------------------------------------------------------------------------- basics


async def test_publish_consume_ack(transport: Transport) -> None:
    for i in range(3):
        await transport.publish("hops", msg(f"m{i}".encode(), n=i, name="x"))
    got = await collect(transport, "hops", 3)
    assert sorted(d.message.body for d in got) == [b"m0", b"m1", b"m2"]
    first = next(d for d in got if d.message.body == b"m0")
    assert first.message.headers["n"] == 0
    assert first.message.headers["name"] == "x"
    assert first.message.message_id == "m0"
    assert first.message.content_type == "application/json"
    assert first.message.persistent
    assert not first.redelivered
    assert first.delivery_count == 0
    assert first.queue == "hops"
    assert await transport.queue_depth("hops") == 0


async def test_hop_round_trip_through_the_broker(transport: Transport) -> None:
    hop = Hop(
        "arn:aws:states:us-east-1:123456789012:execution:M:e1",
        "arn:aws:states:us-east-1:123456789012:stateMachine:M:3",
        "Fan out",
        {"items": [1, 2.5, "ü"], "nested": {"ok": True, "none": None}},
        branch="Fanout/1/Items/37",
        seq=2**40,
        attempt=3,
        kind="resume",
        deadline=1_900_000_000.123,
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        tracestate="rojo=00f067aa0ba902b7",
    )
    await transport.publish("hops", hop.to_message())
    [delivery] = await collect(transport, "hops", 1)
    assert Hop.from_message(delivery.message) == hop
    assert delivery.message.message_id == hop.message_id


async def test_transient_publish_for_express(transport: Transport) -> None:
    hop = Hop("arn:e", "arn:sm", "S", {"a": 1}, workflow_type="EXPRESS")
    message = hop.to_message()
    assert not message.persistent
    await transport.publish("hops", message)
    [delivery] = await collect(transport, "hops", 1)
    assert not delivery.message.persistent
    assert Hop.from_message(delivery.message) == hop


async def test_nack_requeues_and_marks_redelivered(transport: Transport) -> None:
    seen: list[tuple[bool, int]] = []

    async def handler(delivery: Delivery) -> None:
        seen.append((delivery.redelivered, delivery.delivery_count))
        if len(seen) == 1:
            await delivery.nack(requeue=True)
        else:
            await delivery.ack()

    await transport.publish("hops", msg(b"again"))
    consumer = await transport.consume("hops", handler)
    await wait_until(lambda: len(seen) == 2)
    await consumer.cancel(timeout=WAIT)
    assert seen == [(False, 0), (True, 1)]


async def test_settling_twice_is_an_error(transport: Transport) -> None:
    errors: list[Exception] = []

    async def handler(delivery: Delivery) -> None:
        await delivery.ack()
        try:
            await delivery.nack()
        except DeliveryStateError as exc:
            errors.append(exc)

    await transport.publish("hops", msg(b"once"))
    consumer = await transport.consume("hops", handler)
    await wait_until(lambda: len(errors) == 1)
    await consumer.cancel(timeout=WAIT)


# --------------------------------------------------------------------------- dead letters


async def test_dead_letter_records_reason_and_origin(transport: Transport) -> None:
    async def handler(delivery: Delivery) -> None:
        await delivery.dead_letter("States.Runtime: cannot decode hop")

    await transport.publish("hops", msg(b"bad", keep="me"))
    consumer = await transport.consume("hops", handler)
    [dead] = await collect(transport, "dead", 1)
    await consumer.cancel(timeout=WAIT)
    headers = dead.message.headers
    assert headers[DEAD_REASON] == "States.Runtime: cannot decode hop"
    assert headers[DEAD_FROM] == transport.topology.queue_name("hops")
    assert headers["keep"] == "me"
    assert dead.message.message_id == "bad"
    assert dead_letter_info(dead.message) == ("States.Runtime: cannot decode hop", headers[DEAD_FROM])
    assert await transport.queue_depth("hops") == 0


async def test_nack_without_requeue_dead_letters(transport: Transport) -> None:
    async def handler(delivery: Delivery) -> None:
        await delivery.nack(requeue=False)

    await transport.publish("hops", msg(b"rejected"))
    consumer = await transport.consume("hops", handler)
    [dead] = await collect(transport, "dead", 1)
    await consumer.cancel(timeout=WAIT)
    assert dead_letter_info(dead.message) == ("rejected", transport.topology.queue_name("hops"))


async def test_poison_message_ends_in_dead_letter_queue(transport: Transport) -> None:
    """A handler that always crashes: the delivery limit (3 here) stops the loop."""
    attempts: list[int] = []

    async def crashing(delivery: Delivery) -> None:
        attempts.append(delivery.delivery_count)
        raise RuntimeError("poison")

    await transport.publish("hops", msg(b"poison"))
    consumer = await transport.consume("hops", crashing)
    [dead] = await collect(transport, "dead", 1)
    await consumer.cancel(timeout=WAIT)
    limit = transport.topology.delivery_limit
    assert attempts == list(range(limit + 1))
    assert dead_letter_info(dead.message) == ("delivery_limit", transport.topology.queue_name("hops"))
    assert await transport.queue_depth("hops") == 0


# --------------------------------------------------------------------------- flow control


async def test_prefetch_is_honoured(transport: Transport) -> None:
    release = asyncio.Event()
    active = 0
    peak = 0
    done = 0

    async def handler(delivery: Delivery) -> None:
        nonlocal active, peak, done
        active += 1
        peak = max(peak, active)
        await release.wait()
        active -= 1
        done += 1
        await delivery.ack()

    await transport.publish_many(("hops", msg(f"p{i}".encode())) for i in range(8))
    consumer = await transport.consume("hops", handler, prefetch=2)
    await wait_until(lambda: active == 2)
    await asyncio.sleep(0.2)  # room for a third delivery to (wrongly) arrive
    assert active == 2
    assert consumer.in_flight == 2
    release.set()
    await wait_until(lambda: done == 8)
    await consumer.cancel(timeout=WAIT)
    assert peak == 2


async def test_graceful_stop_finishes_in_flight_handler(transport: Transport) -> None:
    started = asyncio.Event()
    finished: list[bytes] = []

    async def slow(delivery: Delivery) -> None:
        started.set()
        await asyncio.sleep(0.3)
        await delivery.ack()
        finished.append(delivery.message.body)

    await transport.publish_many(("hops", msg(f"s{i}".encode())) for i in range(3))
    await transport.consume("hops", slow, prefetch=1)
    await asyncio.wait_for(started.wait(), WAIT)
    await transport.stop_consuming(timeout=WAIT)
    assert finished == [b"s0"]
    # nothing else was taken: the other two wait in the queue for the next worker
    await wait_until_depth(transport, "hops", 2)


async def wait_until_depth(transport: Transport, queue: str, depth: int) -> None:
    async with asyncio.timeout(WAIT):
        while await transport.queue_depth(queue) != depth:
            await asyncio.sleep(0.05)


async def test_handler_may_settle_after_returning(transport: Transport) -> None:
    """Deferred acks (a batched store commit) keep the delivery in flight until settled."""
    parked: list[Delivery] = []

    async def handler(delivery: Delivery) -> None:
        parked.append(delivery)

    await transport.publish("hops", msg(b"later"))
    consumer = await transport.consume("hops", handler)
    await wait_until(lambda: len(parked) == 1)
    await asyncio.sleep(0.05)
    assert consumer.in_flight == 1
    await parked[0].ack()
    assert consumer.in_flight == 0
    await consumer.cancel(timeout=WAIT)


async def test_drain_waits_for_a_chain_of_hops(transport: Transport) -> None:
    hops: list[int] = []

    async def handler(delivery: Delivery) -> None:
        n = int(delivery.message.body)
        hops.append(n)
        if n < 20:
            await transport.publish("hops", Message(str(n + 1).encode(), message_id=f"c{n + 1}"))
        await delivery.ack()

    await transport.consume("hops", handler, prefetch=4)
    await transport.publish("hops", Message(b"0", message_id="c0"))
    await transport.drain(timeout=WAIT)
    assert hops == list(range(21))


# --------------------------------------------------------------------------- topology and confirms


async def test_topology_declared_twice_is_fine(transport_factory: TransportFactory) -> None:
    first = await transport_factory()
    await first.start()  # again on the same transport
    second = await transport_factory()  # and from another client with the same settings
    await second.ensure_queue("tasks.payments")
    await first.ensure_queue("tasks.payments")
    await second.publish("tasks.payments", msg(b"t1"))
    [got] = await collect(first, "tasks.payments", 1)
    assert got.message.body == b"t1"


async def test_conflicting_topology_is_a_clear_error(transport_factory: TransportFactory) -> None:
    first = await transport_factory()
    other = Topology(prefix=first.topology.prefix, queue_type="classic")
    second = await transport_factory(other, start=False)
    with pytest.raises(TopologyError, match="hops"):
        await second.start()


async def test_publish_is_confirmed_and_unroutable_raises(transport: Transport) -> None:
    await transport.publish_many(("replies", msg(f"r{i}".encode())) for i in range(200))
    # confirmed means enqueued: the count is exact right after the call returns
    assert await transport.queue_depth("replies") == 200
    with pytest.raises(UnroutableError, match=r"tasks\.nobody"):
        await transport.publish("tasks.nobody", msg(b"lost?"))
    await transport.ensure_queue(Topology.task_queue("nobody"))
    await transport.publish("tasks.nobody", msg(b"found"))
    assert await transport.queue_depth("tasks.nobody") == 1


async def test_queue_exists_answers_without_declaring(transport_factory: TransportFactory) -> None:
    first = await transport_factory()
    for fixed in (Topology.HOPS, Topology.REPLIES, Topology.DEAD):
        assert await first.queue_exists(fixed)
    for _ in range(2):  # asking twice declares nothing either
        assert not await first.queue_exists(Topology.task_queue("never"))
    with pytest.raises(UnroutableError):
        await first.publish(Topology.task_queue("never"), msg(b"lost?"))
    second = await transport_factory()  # another client (a service) declares its queue
    await second.ensure_queue(Topology.task_queue("other"))
    assert await first.queue_exists(Topology.task_queue("other"))
    with pytest.raises(ValueError):
        await first.queue_exists(".bad")


async def test_queue_checks_do_not_disturb_publishing_or_consuming(transport: Transport) -> None:
    """On RabbitMQ a passive check of a missing queue closes its channel (404): it must never be
    a channel that publishes, consumes or declares."""
    got: list[bytes] = []

    async def handler(delivery: Delivery) -> None:
        got.append(delivery.message.body)
        await delivery.ack()

    await transport.consume("hops", handler)
    sent: list[bytes] = []
    for i in range(10):
        assert not await transport.queue_exists(f"tasks.missing-{i}")
        assert await transport.queue_exists("hops")
        body = f"c{i}".encode()
        await transport.publish("hops", msg(body))  # confirmed
        await transport.publish("hops", Message(body + b"x", persistent=False))  # EXPRESS
        sent += [body, body + b"x"]
    answers = await asyncio.gather(
        *(transport.queue_exists(n) for n in ("hops", "tasks.absent", "replies", "tasks.gone") * 5),
        *(transport.publish("hops", msg(f"g{i}".encode())) for i in range(10)),
    )
    assert answers[:20] == [True, False, True, False] * 5
    sent += [f"g{i}".encode() for i in range(10)]
    await transport.ensure_queue(Topology.task_queue("after"))  # declaring still works
    assert await transport.queue_exists(Topology.task_queue("after"))
    await transport.publish("replies", msg(b"r"))
    await wait_until(lambda: len(got) >= len(sent))
    assert sorted(got) == sorted(sent)
    assert await transport.queue_depth("replies") == 1
    assert getattr(transport, "reconnects", 0) == 0


async def test_events_are_routed_by_topic(transport: Transport) -> None:
    await transport.bind_events("console", "execution.*.SUCCEEDED")
    await transport.bind_events("audit", "execution.#")
    await transport.publish_event("execution.M.SUCCEEDED", msg(b"e1"))
    await transport.publish_event("execution.M.FAILED", msg(b"e2"))
    await transport.publish_event("other.thing", msg(b"e3"))  # nobody listens: fine
    console = await collect(transport, "console", 1)
    audit = await collect(transport, "audit", 2)
    assert [d.message.body for d in console] == [b"e1"]
    assert sorted(d.message.body for d in audit) == [b"e1", b"e2"]
    await asyncio.sleep(0.1)
    assert await transport.queue_depth("console") == 0


async def test_two_consumers_share_a_queue(transport_factory: TransportFactory) -> None:
    a = await transport_factory()
    b = await transport_factory()
    got: dict[str, list[bytes]] = {"a": [], "b": []}

    def handler_for(name: str) -> Handler:
        async def handler(delivery: Delivery) -> None:
            got[name].append(delivery.message.body)
            await asyncio.sleep(0.01)
            await delivery.ack()

        return handler

    await a.consume("hops", handler_for("a"), prefetch=1)
    await b.consume("hops", handler_for("b"), prefetch=1)
    await a.publish_many(("hops", msg(f"w{i}".encode())) for i in range(20))
    await wait_until(lambda: len(got["a"]) + len(got["b"]) == 20)
    assert got["a"] and got["b"]
    assert sorted(got["a"] + got["b"]) == sorted(f"w{i}".encode() for i in range(20))


# --------------------------------------------------------------------------- memory only


def test_topic_matching() -> None:
    assert topic_matches("a.*.c", "a.b.c")
    assert not topic_matches("a.*.c", "a.b.b.c")
    assert topic_matches("a.#", "a")
    assert topic_matches("a.#", "a.b.c")
    assert topic_matches("#", "")
    assert topic_matches("#.c", "a.b.c")
    assert topic_matches("a.#.c", "a.c")
    assert not topic_matches("a.#.c", "a.b")
    assert topic_matches("execution.*.SUCCEEDED", "execution.M.SUCCEEDED")


async def test_memory_abort_redelivers_to_another_worker() -> None:
    """A worker killed mid-hop: its unsettled delivery goes to the survivor, redelivered."""
    broker = MemoryBroker()
    topology = Topology(prefix=unique_prefix())
    crashed, survivor = MemoryTransport(topology, broker), MemoryTransport(topology, broker)
    await crashed.start()
    await survivor.start()
    entered = asyncio.Event()

    async def hang(delivery: Delivery) -> None:
        entered.set()
        await asyncio.Event().wait()

    await crashed.consume("hops", hang)
    await crashed.publish("hops", msg(b"mid-hop"))
    await entered.wait()
    got: list[Delivery] = []

    async def ack(delivery: Delivery) -> None:
        got.append(delivery)
        await delivery.ack()

    await survivor.consume("hops", ack)
    await crashed.abort()
    await survivor.drain(timeout=WAIT)
    assert [(d.message.body, d.redelivered, d.delivery_count) for d in got] == [(b"mid-hop", True, 1)]
    await survivor.close()


async def test_memory_drain_ignores_queues_nobody_consumes() -> None:
    transport = MemoryTransport(Topology(prefix=unique_prefix()))
    await transport.start()
    await transport.ensure_queue("tasks.absent")
    await transport.publish("tasks.absent", msg(b"waiting"))
    await transport.drain(timeout=1.0)
    assert [m.body for m in transport.take("tasks.absent")] == [b"waiting"]
    await transport.close()


def test_factory_picks_the_transport_by_url() -> None:
    private_a, private_b = create_transport("memory://"), create_transport("memory://")
    assert isinstance(private_a, MemoryTransport) and isinstance(private_b, MemoryTransport)
    assert private_a.broker is not private_b.broker
    shared_a, shared_b = create_transport("memory://fleet"), create_transport("memory://fleet")
    assert isinstance(shared_a, MemoryTransport) and isinstance(shared_b, MemoryTransport)
    assert shared_a.broker is shared_b.broker
    rabbit = create_transport("amqp://guest:guest@127.0.0.1:5672/", Topology(prefix="x"), publish_timeout=1.0)
    assert isinstance(rabbit, RabbitMQTransport) and rabbit.publish_timeout == 1.0
    with pytest.raises(ValueError, match="unknown transport scheme"):
        create_transport("kafka://localhost")
    with pytest.raises(ValueError, match="needs a scheme"):
        create_transport("localhost:5672")


# --------------------------------------------------------------------------- rabbitmq only


@pytest.mark.integration
async def test_unreachable_broker_is_a_clear_error() -> None:
    transport = RabbitMQTransport("amqp://guest:secret@127.0.0.1:1/", connect_timeout=2.0)
    with pytest.raises(TransportUnavailable, match=r"guest:\*\*\*@127\.0\.0\.1:1") as info:
        await transport.start()
    assert "secret" not in str(info.value)


async def test_consumer_and_publisher_survive_a_broker_outage(broker_proxy: TcpProxy) -> None:
    transport = RabbitMQTransport(
        broker_proxy.url, Topology(prefix=unique_prefix()), reconnect_interval=0.2, publish_timeout=30
    )
    await transport.start()
    try:
        got: list[bytes] = []

        async def handler(delivery: Delivery) -> None:
            got.append(delivery.message.body)
            await delivery.ack()

        await transport.consume("hops", handler)
        await transport.publish("hops", msg(b"before"))
        await wait_until(lambda: got == [b"before"])
        await broker_proxy.cut()
        # published while the broker is unreachable: waits for the reconnect, is not lost
        late = asyncio.create_task(transport.publish("hops", msg(b"during")))
        await asyncio.sleep(1.0)
        assert not late.done()
        await broker_proxy.start()
        await asyncio.wait_for(late, WAIT)
        await transport.publish("hops", msg(b"after"))
        # at-least-once: an ack lost in the cut redelivers "before" (the engine dedupes by
        # message id); what must hold is that nothing is lost and the order is kept
        expected = [b"before", b"during", b"after"]
        await wait_until(lambda: set(expected) <= set(got), timeout=30)
        assert list(dict.fromkeys(got)) == expected, got
        assert transport.reconnects >= 1
    finally:
        await transport.delete_topology()
        await transport.close()


async def test_publish_gives_up_after_the_bounded_wait(broker_proxy: TcpProxy) -> None:
    transport = RabbitMQTransport(
        broker_proxy.url, Topology(prefix=unique_prefix()), reconnect_interval=0.2, publish_timeout=1.0
    )
    await transport.start()
    try:
        await broker_proxy.cut()
        with pytest.raises(TransportUnavailable, match="not confirmed within"):
            await transport.publish("hops", msg(b"doomed"))
        await broker_proxy.start()
        await asyncio.wait_for(_publish_when_back(transport), WAIT)
    finally:
        await transport.delete_topology()
        await transport.close()


async def _publish_when_back(transport: Transport) -> None:
    while True:
        try:
            await transport.publish("hops", msg(b"back"))
            return
        except TransportUnavailable:
            await asyncio.sleep(0.1)


def _force_close(connection_name: str) -> None:
    """Have RabbitMQ close one named client connection (CONNECTION_FORCED), as on a broker stop."""
    listing = subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "pid", "client_properties"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    pids = [line.split("\t", 1)[0] for line in listing.splitlines() if connection_name in line]
    assert pids, f"connection {connection_name} not found"
    for pid in pids:
        subprocess.run(
            ["rabbitmqctl", "close_connection", pid, "test: forced close"],
            capture_output=True,
            timeout=60,
            check=True,
        )


@pytest.mark.integration
@pytest.mark.slow
async def test_nothing_confirmed_is_lost_when_the_broker_forces_a_close(amqp_url: str) -> None:
    """Publishes keep going through a CONNECTION_FORCED close: every confirmed one arrives."""
    if shutil.which("rabbitmqctl") is None:
        pytest.fail("rabbitmqctl is needed to force-close a connection (it ships with rabbitmq-server)")
    prefix = unique_prefix()
    name = f"statehop-test-{prefix}"
    transport = RabbitMQTransport(
        amqp_url, Topology(prefix=prefix), connection_name=name, reconnect_interval=0.2, publish_timeout=30
    )
    await transport.start()
    try:
        received: set[bytes] = set()
        confirmed: list[bytes] = []

        async def handler(delivery: Delivery) -> None:
            received.add(delivery.message.body)
            await delivery.ack()

        await transport.consume("hops", handler, prefetch=16)
        stop = asyncio.Event()

        async def publisher() -> None:
            n = 0
            while not stop.is_set():
                body = f"n{n}".encode()
                await transport.publish("hops", msg(body))
                confirmed.append(body)
                n += 1

        task = asyncio.create_task(publisher())
        await wait_until(lambda: len(confirmed) >= 50)
        await asyncio.to_thread(_force_close, name)
        await wait_until(lambda: transport.reconnects >= 1, timeout=30)
        count = len(confirmed)
        await wait_until(lambda: len(confirmed) >= count + 50, timeout=30)
        stop.set()
        await asyncio.wait_for(task, WAIT)  # raised nothing: no CancelledError leaked out
        await wait_until(lambda: set(confirmed) <= received, timeout=30)
    finally:
        await transport.delete_topology()
        await transport.close()
