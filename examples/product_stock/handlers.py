"""Task handler for product_stock: the get-stock service.

It answers ``{"product", "stock"}`` (the article's example output). The product name drives
the behaviour, since MapValues keeps only product/colour/size/availability:

* ``Flaky-Tee``: raises StockServiceUnavailable on the first 2 calls, then answers (the default
  retry policy, 3 retries 1 s/2 s/4 s apart, rides it out). The count resets after a success.
* ``Ghost-Tee`` (or any unknown name): raises ProductNotFound every time; it is retried 3 times
  by the States.ALL retrier, then caught.
"""

from __future__ import annotations

from typing import Any


class ProductNotFound(Exception):
    """No stock record for this product."""


class StockServiceUnavailable(Exception):
    """The stock service is briefly unavailable."""


_STOCK = {"T-Shirt": 100, "Flaky-Tee": 7}
_FLAKY = {"Flaky-Tee": 2}
_FAILURES: dict[str, int] = {}


def get_stock(payload: dict[str, Any]) -> dict[str, Any]:
    """get-stock: {"product": name, ...} -> {"product": name, "stock": n}."""
    product = payload.get("product")
    times = _FLAKY.get(str(product), 0)
    if times:
        seen = _FAILURES.get(str(product), 0) + 1
        if seen <= times:
            _FAILURES[str(product)] = seen
            raise StockServiceUnavailable(f"stock service unavailable (failure {seen} of {times})")
        _FAILURES.pop(str(product), None)
    if product not in _STOCK:
        raise ProductNotFound(f"no stock record for {product!r}")
    return {"product": product, "stock": _STOCK[product]}
