"""Task handlers for order_basic, the article's three-state order workflow.

There are no ResultPaths in that machine, so each task's result *replaces* the state data:
validate-order hands the order on to charge-card, and the Catch hands refund only
``{"Error": ..., "Cause": ...}``.

Input knobs: ``"card"`` containing ``decline`` -> CardDeclined (retried like any other task
error: the article retries every States.TaskFailed); ``"fail_times": n`` -> the first n charges
for that orderId raise PaymentGatewayTimeout; ``amount`` <= 0 or no orderId -> InvalidOrder.
"""

from __future__ import annotations

from typing import Any


class InvalidOrder(Exception):
    """The order cannot be processed as given."""


class CardDeclined(Exception):
    """The card issuer refused the charge."""


class PaymentGatewayTimeout(Exception):
    """The payment gateway did not answer in time."""


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
    """validate-order: check the order and pass it on (its result becomes charge-card's input)."""
    order_id = payload.get("orderId")
    if not isinstance(order_id, str) or not order_id:
        raise InvalidOrder("orderId is missing")
    amount = payload.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0:
        raise InvalidOrder(f"order {order_id}: amount must be a positive number, got {amount!r}")
    return {**payload, "validated": True}


def charge_card(payload: dict[str, Any]) -> dict[str, Any]:
    """charge-card: charge the order; its result is the execution's output."""
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
    return {
        "orderId": order_id,
        "amount": payload["amount"],
        "chargeId": f"ch-{order_id}",
        "status": "CHARGED",
    }


def refund(payload: dict[str, Any]) -> dict[str, Any]:
    """refund: receives only the caught error ({"Error", "Cause"}), not the order."""
    return {"refunded": True, "reason": payload.get("Error")}
