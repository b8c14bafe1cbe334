"""Transports: the broker behind the hops, chosen by URL.

``memory://`` is a private in-process broker, ``memory://<name>`` a broker shared by every
transport of this process created with the same name, and ``amqp://`` / ``amqps://`` is
RabbitMQ. The engine depends only on :class:`Transport`.
"""

from __future__ import annotations

from typing import Any

from runtime.transport.base import (
    DEAD_FROM,
    DEAD_REASON,
    Consumer,
    Delivery,
    DeliveryStateError,
    Handler,
    Message,
    PublishRejected,
    Topology,
    TopologyError,
    Transport,
    TransportError,
    TransportUnavailable,
    UnroutableError,
    dead_letter_info,
)


def create_transport(url: str, topology: Topology | None = None, **options: Any) -> Transport:
    """Build (not start) the transport a URL names; ``options`` go to the RabbitMQ transport."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"transport URL needs a scheme (memory:// or amqp://), got {url!r}")
    scheme = scheme.lower()
    if scheme == "memory":
        from runtime.transport.memory import MemoryBroker, MemoryTransport, shared_broker

        if options:
            raise ValueError(f"memory transport takes no options, got {sorted(options)}")
        name = rest.strip("/")
        return MemoryTransport(topology, shared_broker(name) if name else MemoryBroker())
    if scheme in ("amqp", "amqps"):
        from runtime.transport.rabbitmq import RabbitMQTransport

        return RabbitMQTransport(url, topology, **options)
    raise ValueError(f"unknown transport scheme {scheme!r} in {url!r}: use memory:// or amqp://")


__all__ = [
    "DEAD_FROM",
    "DEAD_REASON",
    "Consumer",
    "Delivery",
    "DeliveryStateError",
    "Handler",
    "Message",
    "PublishRejected",
    "Topology",
    "TopologyError",
    "Transport",
    "TransportError",
    "TransportUnavailable",
    "UnroutableError",
    "create_transport",
    "dead_letter_info",
]
