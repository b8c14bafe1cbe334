"""Task handlers for product_info: the two product APIs the Parallel state calls.

GetInfo1 returns the product's details, GetInfo2 its stock (the two outputs shown in the
article). A product missing from the catalogue raises ProductNotFound; an input without a
"product" field raises MissingProduct (not caught by the machine).
"""

from __future__ import annotations

from typing import Any


class ProductNotFound(Exception):
    """The product is not in the catalogue."""


class MissingProduct(Exception):
    """The request did not say which product."""


_DETAILS = {
    "T-Shirt": {"color": "green", "size": "large"},
    "Hoodie": {"color": "grey", "size": "medium"},
}
_STOCK = {"T-Shirt": 100, "Hoodie": 0}


def _product(payload: dict[str, Any]) -> str:
    product = payload.get("product")
    if not product:
        raise MissingProduct("the input has no 'product'")
    if product not in _DETAILS:
        raise ProductNotFound(f"no product named {product!r}")
    return str(product)


def get_info1(payload: dict[str, Any]) -> dict[str, Any]:
    """GetInfo1: {"product", "color", "size"}."""
    product = _product(payload)
    return {"product": product, **_DETAILS[product]}


def get_info2(payload: dict[str, Any]) -> dict[str, Any]:
    """GetInfo2: {"product", "stock"}."""
    product = _product(payload)
    return {"product": product, "stock": _STOCK[product]}
