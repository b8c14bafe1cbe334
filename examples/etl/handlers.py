"""Task handlers for etl: extract-rows, transform-row (once per row) and load-warehouse.

extract-rows serves fixed sample data: table ``orders`` (3 good rows), ``orders_corrupt`` (one
row with an unparseable amount, which transform-row rejects with InvalidRow); any other table
raises TableNotFound. ``"busy_times": n`` in the input's ``warehouse`` object makes
load-warehouse raise WarehouseBusy on its first n calls for that table and date (then succeed;
1000 means "always").
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any


class TableNotFound(Exception):
    """No such table in the production database."""


class InvalidRow(Exception):
    """A row cannot be transformed."""


class WarehouseBusy(Exception):
    """The warehouse is running another load; try again later."""


_GOOD = [
    {"order_id": "o-1", "amount": "49.99", "currency": "usd", "placed_at": "2024-05-01T09:15:00Z"},
    {"order_id": "o-2", "amount": "5.00", "currency": "eur", "placed_at": "2024-05-01T11:40:00Z"},
    {"order_id": "o-3", "amount": "120.50", "currency": "usd", "placed_at": "2024-05-01T18:05:00Z"},
]
_TABLES = {
    "orders": _GOOD,
    "orders_corrupt": [
        *_GOOD[:2],
        {"order_id": "o-9", "amount": "n/a", "currency": "usd", "placed_at": "2024-05-01T20:00:00Z"},
    ],
}
_FAILURES: dict[str, int] = {}


def extract_rows(payload: dict[str, Any]) -> dict[str, Any]:
    """extract-rows: {"table", "date"} -> {"table", "date", "rows": [...]}."""
    table = payload["table"]
    if table not in _TABLES:
        raise TableNotFound(f"no table {table!r}")
    return {"table": table, "date": payload["date"], "rows": [dict(r) for r in _TABLES[table]]}


def transform_row(payload: dict[str, Any]) -> dict[str, Any]:
    """transform-row: amount in cents, currency upper-case, the day of the order."""
    try:
        cents = int(Decimal(payload["amount"]) * 100)
    except (InvalidOperation, KeyError, TypeError):
        raise InvalidRow(f"order {payload.get('order_id')}: bad amount {payload.get('amount')!r}") from None
    return {
        "order_id": payload["order_id"],
        "amount_cents": cents,
        "currency": str(payload["currency"]).upper(),
        "day": str(payload["placed_at"])[:10],
    }


def load_warehouse(payload: dict[str, Any]) -> dict[str, Any]:
    """load-warehouse: write the rows into the day's partition."""
    warehouse, table, date, rows = payload["warehouse"], payload["table"], payload["date"], payload["rows"]
    times = int(warehouse.get("busy_times", 0))
    if times > 0:
        key = f"{table}:{date}"
        seen = _FAILURES.get(key, 0) + 1
        if seen <= times:
            _FAILURES[key] = seen
            raise WarehouseBusy(f"warehouse busy (failure {seen} of {times})")
        _FAILURES.pop(key, None)
    return {
        "table": f"{warehouse['schema']}.{table}",
        "partition": date,
        "rows_loaded": len(rows),
        "order_ids": [r["order_id"] for r in rows],
    }
