"""Task handler for order_bundling: bundle-orders.

In production it would look up every order the customer placed during the wait; here the
orders come in the input: ``{"customer_id": "c-42", "orders": [{"order_id": "o-1", "items": 2}]}``.
No orders -> NothingToBundle (caught by the machine); no ``orders`` list at all ->
InvalidBundleRequest (not caught).
"""

from __future__ import annotations

from typing import Any


class NothingToBundle(Exception):
    """The customer has no open orders to dispatch."""


class InvalidBundleRequest(Exception):
    """The request has no orders list."""


def bundle_orders(payload: dict[str, Any]) -> dict[str, Any]:
    """bundle-orders: one bundle for all the customer's orders."""
    customer = payload.get("customer_id")
    orders = payload.get("orders")
    if not customer or not isinstance(orders, list):
        raise InvalidBundleRequest("need a customer_id and an orders list")
    if not orders:
        raise NothingToBundle(f"customer {customer} has no orders to dispatch")
    return {
        "bundle_id": f"b-{customer}-{len(orders)}",
        "order_ids": [o["order_id"] for o in orders],
        "items": sum(int(o.get("items", 1)) for o in orders),
    }
