"""Task handlers for the order example: one function per service the machine calls.

A handler signals a business error by raising; the workflow sees the exception's class name
as the error (like AWS Lambda's ``errorType``) and its message as the cause.

Behaviour is driven by the input, so every run is reproducible:

* ``"card"`` containing ``decline`` (e.g. ``"4000-decline"``): charge-card raises CardDeclined.
* ``"fail_times": n``: charge-card raises PaymentGatewayTimeout on its first n calls for that
  orderId, then succeeds (and forgets the count, so the same input behaves the same next run).
  Use a large n (e.g. 1000) for a gateway that never comes back.
* an item whose ``sku`` starts with ``sold-out``: reserve-inventory raises OutOfStock.
* a missing orderId/email, a non-positive amount or no items: validate-order raises InvalidOrder.
"""

from __future__ import annotations

from typing import Any


class InvalidOrder(Exception):
    """The order cannot be processed as given."""


class CardDeclined(Exception):
    """The card issuer refused the charge; retrying will not help."""


class PaymentGatewayTimeout(Exception):
    """The payment gateway did not answer in time; a retry usually helps."""


class OutOfStock(Exception):
    """An item cannot be reserved."""


# Failures so far per key, for the transient ("fail_times") errors. Per process.
_FAILURES: dict[str, int] = {}


def _fail_transiently(key: str, times: int, error: type[Exception], message: str) -> None:
    """Raise ``error`` on the first ``times`` calls for ``key``; reset once a call gets through."""
    if times <= 0:
        return
    seen = _FAILURES.get(key, 0) + 1
    if seen <= times:
        _FAILURES[key] = seen
        raise error(f"{message} (failure {seen} of {times})")
    _FAILURES.pop(key, None)


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


def charge_card(payload: dict[str, Any]) -> dict[str, Any]:
    """charge-card: charge the order's amount to its card."""
    order_id = payload["orderId"]
    card = str(payload.get("card", "4242-4242-4242-4242"))
    if "decline" in card:
        raise CardDeclined(f"card {card} was declined for order {order_id}")
    _fail_transiently(
        f"charge-card:{order_id}",
        int(payload.get("fail_times", 0)),
        PaymentGatewayTimeout,
        f"payment gateway timed out charging order {order_id}",
    )
    return {"chargeId": f"ch-{order_id}", "amount": payload["amount"]}


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
    """refund: give the money back (a no-op when nothing was charged) and tell the customer why."""
    return {
        "orderId": payload["orderId"],
        "status": "REFUNDED",
        "refunded": payload["amount"],
        "reason": payload["reason"],
        "notified": payload["email"],
    }
