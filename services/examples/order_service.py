"""The services behind examples/order, written with the SDK, runnable as a process.

    STATEHOP_AMQP_URL=amqp://guest:guest@localhost/ python -m services.examples.order_service
    python -m services.run services.examples.order_service:service --url amqp://...

It consumes ``tasks.validate-order``, ``tasks.charge-card``, ``tasks.reserve-inventory``,
``tasks.send-confirmation`` and ``tasks.refund`` and behaves as examples/order/handlers.py
describes (same inputs, same outputs), with two differences that matter once several replicas
share the queues:

* charge-card's ``"fail_times": n`` counts the task's retry attempt (``ctx.attempt``), not
  calls seen by this process, so any replica fails the same attempts;
* charge-card remembers charges by order id, so a redelivered task message (at-least-once)
  returns the first charge instead of charging twice.

``--only a,b`` / ``--skip a,b`` run a subset (e.g. when reserve-inventory is the Node.js
service in services/examples/node-inventory).
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from services.context import TaskContext
from services.sdk import Service

TASKS = ("validate-order", "charge-card", "reserve-inventory", "send-confirmation", "refund")


class InvalidOrder(Exception):
    """The order cannot be processed as given."""


class CardDeclined(Exception):
    """The card issuer refused the charge; retrying will not help."""


class PaymentGatewayTimeout(Exception):
    """The payment gateway did not answer in time; a retry usually helps."""


class OutOfStock(Exception):
    """An item cannot be reserved."""


_charges: dict[str, dict[str, Any]] = {}
_charges_lock = threading.Lock()


def validate_order(payload: dict[str, Any]) -> dict[str, Any]:
    """validate-order: raise InvalidOrder unless the order is complete and sane."""
    order_id = payload.get("orderId")
    if not isinstance(order_id, str) or not order_id:
        raise InvalidOrder("orderId is missing")
    amount = payload.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0:
        raise InvalidOrder(f"order {order_id}: amount must be a positive number, got {amount!r}")
    items = payload.get("items")
    if not isinstance(items, list) or not items:
        raise InvalidOrder(f"order {order_id}: no items")
    for item in items:
        if (
            not isinstance(item, dict)
            or not item.get("sku")
            or not isinstance(item.get("qty"), int)
            or item["qty"] <= 0
        ):
            raise InvalidOrder(f"order {order_id}: bad item {item!r}")
    email = payload.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise InvalidOrder(f"order {order_id}: a contact email is required")
    return {"valid": True}


def charge_card(payload: dict[str, Any], ctx: TaskContext | None = None) -> dict[str, Any]:
    """charge-card: charge the order's amount; fails attempts below ``fail_times``."""
    order_id = payload["orderId"]
    card = str(payload.get("card", "4242-4242-4242-4242"))
    if "decline" in card:
        raise CardDeclined(f"card {card} was declined for order {order_id}")
    attempt = ctx.attempt if ctx is not None else 0
    fail_times = int(payload.get("fail_times", 0))
    if attempt < fail_times:
        raise PaymentGatewayTimeout(
            f"payment gateway timed out charging order {order_id} (failure {attempt + 1} of {fail_times})"
        )
    with _charges_lock:  # idempotent: a redelivered task returns the first charge
        charge = _charges.setdefault(order_id, {"chargeId": f"ch-{order_id}", "amount": payload["amount"]})
    return dict(charge)


def reserve_inventory(payload: dict[str, Any]) -> dict[str, Any]:
    """reserve-inventory: reserve one line of the order ({"orderId", "sku", "qty"})."""
    order_id, sku, qty = payload["orderId"], payload["sku"], payload["qty"]
    if str(sku).startswith("sold-out"):
        raise OutOfStock(f"{sku} is out of stock (order {order_id})")
    return {"sku": sku, "qty": qty, "reservationId": f"res-{order_id}-{sku}"}


def send_confirmation(payload: dict[str, Any]) -> dict[str, Any]:
    """send-confirmation: email the customer that the order is on its way."""
    return {"sentTo": payload["email"], "orderId": payload["orderId"]}


def refund(payload: dict[str, Any]) -> dict[str, Any]:
    """refund: give the money back and tell the customer why."""
    return {
        "orderId": payload["orderId"],
        "status": "REFUNDED",
        "refunded": payload["amount"],
        "reason": payload["reason"],
        "notified": payload["email"],
    }


HANDLERS = {
    "validate-order": validate_order,
    "charge-card": charge_card,
    "reserve-inventory": reserve_inventory,
    "send-confirmation": send_confirmation,
    "refund": refund,
}


def make_service(tasks: Iterable[str] | None = None, concurrency: int = 16) -> Service:
    """A Service with the given tasks of the order workflow (all of them by default)."""
    names = list(TASKS if tasks is None else tasks)
    unknown = sorted(set(names) - set(HANDLERS))
    if unknown:
        raise ValueError(f"unknown order tasks {unknown}; choose from {list(TASKS)}")
    service = Service("order", concurrency=concurrency)
    for name in names:
        service.task(name)(HANDLERS[name])
    return service


service = make_service()


def main(argv: Sequence[str] | None = None) -> int:
    from services.run import run, settings_topology

    parser = argparse.ArgumentParser(description="the examples/order services")
    parser.add_argument("--url", help="broker URL (default: $STATEHOP_AMQP_URL)")
    parser.add_argument("--prefix", help="queue prefix (default: $STATEHOP_QUEUE_PREFIX or statehop)")
    parser.add_argument("--only", help="comma-separated tasks to run")
    parser.add_argument("--skip", help="comma-separated tasks not to run")
    args = parser.parse_args(argv)
    names = [n for n in (args.only.split(",") if args.only else TASKS) if n]
    skip = set(args.skip.split(",")) if args.skip else set()
    return run(
        make_service([n for n in names if n not in skip]), args.url, topology=settings_topology(args.prefix)
    )


if __name__ == "__main__":
    raise SystemExit(main())
