"""Task handlers for project_counts: one function per analytics database.

Each gets the new-user event ``{"user_id", "account_id", ...}`` and bumps that account's
active-project count (idempotently, keyed by user, in a real system). No account_id ->
MissingAccount. ``"throttle_times": n`` makes every database raise ThrottlingException on its
first n calls for that user (then succeed; 1000 means "always").
"""

from __future__ import annotations

from typing import Any


class MissingAccount(Exception):
    """The event does not say which account the user belongs to."""


class ThrottlingException(Exception):
    """The database throttled the write (DynamoDB's error name)."""


_FAILURES: dict[str, int] = {}


def _update(database: str, payload: dict[str, Any]) -> dict[str, Any]:
    if not payload.get("account_id"):
        raise MissingAccount(f"{database}: the event has no account_id")
    times = int(payload.get("throttle_times", 0))
    if times > 0:
        key = f"{database}:{payload.get('user_id')}"
        seen = _FAILURES.get(key, 0) + 1
        if seen <= times:
            _FAILURES[key] = seen
            raise ThrottlingException(f"{database}: rate exceeded (failure {seen} of {times})")
        _FAILURES.pop(key, None)
    return {
        "database": database,
        "account_id": payload["account_id"],
        "user_id": payload.get("user_id"),
        "updated": True,
    }


def update_product_analytics(payload: dict[str, Any]) -> dict[str, Any]:
    """update-product-analytics."""
    return _update("product-analytics", payload)


def update_sales_analytics(payload: dict[str, Any]) -> dict[str, Any]:
    """update-sales-analytics."""
    return _update("sales-analytics", payload)


def update_data_warehouse(payload: dict[str, Any]) -> dict[str, Any]:
    """update-data-warehouse."""
    return _update("data-warehouse", payload)
