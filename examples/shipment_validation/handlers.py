"""Task handler for shipment_validation: ship-val, called once per shipped line.

A line is ``{"prod": "R31", "dest-code": 9511, "quantity": 1344}``; ship-val answers the line
with ``"valid": true``, or raises InvalidQuantity for a quantity that is not a positive integer
and UnknownDestination for a dest-code that is not a 4-digit number.
"""

from __future__ import annotations

from typing import Any


class InvalidQuantity(Exception):
    """The quantity is not a positive whole number."""


class UnknownDestination(Exception):
    """The destination code is not a known 4-digit code."""


def ship_val(payload: dict[str, Any]) -> dict[str, Any]:
    """ship-val: validate one shipped line."""
    quantity = payload.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise InvalidQuantity(f"{payload.get('prod')}: quantity must be a positive integer, got {quantity!r}")
    dest = payload.get("dest-code")
    if isinstance(dest, bool) or not isinstance(dest, int) or not 1000 <= dest <= 9999:
        raise UnknownDestination(f"{payload.get('prod')}: unknown dest-code {dest!r}")
    return {**payload, "valid": True}
