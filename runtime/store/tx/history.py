"""Execution history, shaped like GetExecutionHistory: ids 1, 2, 3... per execution.

Ids come from a counter on the execution row bumped with ``UPDATE ... RETURNING``: on
PostgreSQL that statement takes the row lock, so concurrent appenders queue on it until the
first commits and never see the same counter; on SQLite ``BEGIN IMMEDIATE`` already holds
the database write lock. Either way a batch gets a contiguous, unique range.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from runtime.store import tables as t
from runtime.store.errors import ExecutionDoesNotExist, InvalidArn
from runtime.store.pagination import decode_token, encode_token, page_size
from runtime.store.records import EXECUTION_DATA_KEYS, HistoryEvent, NewEvent, Page
from runtime.store.tx._base import TxBase, json_text, now

ex = t.executions
ev = t.history_events

#: built once (see tx/_base.py); values bound at execution
_BUMP_COUNTER = (
    sa.update(ex)
    .where(ex.c.arn == sa.bindparam("b_arn"))
    .values(event_count=ex.c.event_count + sa.bindparam("b_count", type_=sa.Integer))
    .returning(ex.c.id, ex.c.event_count)
)
_INSERT_EVENTS = sa.insert(ev)


def _strip_data(details: str | None) -> str | None:
    """includeExecutionData=false: drop input/output (and their details) from the event."""
    if details is None:
        return None
    data = orjson.loads(details)
    if not isinstance(data, dict) or EXECUTION_DATA_KEYS.isdisjoint(data):
        return details
    return orjson.dumps({k: v for k, v in data.items() if k not in EXECUTION_DATA_KEYS}).decode()


class HistoryMixin(TxBase):
    async def append_events(
        self,
        execution_arn: str,
        events: Iterable[NewEvent | tuple[Any, ...]],
        *,
        timestamp: datetime | None = None,
    ) -> list[int]:
        """Append events in order; returns their ids (contiguous, unique under concurrency)."""
        batch = [e if isinstance(e, NewEvent) else NewEvent(*e) for e in events]
        if not batch:
            return []
        if not execution_arn.startswith("arn:"):
            raise InvalidArn(f"Invalid execution ARN: {execution_arn}")
        row = (
            await self._conn.execute(_BUMP_COUNTER, {"b_arn": execution_arn, "b_count": len(batch)})
        ).first()
        if row is None:
            raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{execution_arn}'")
        first = int(row.event_count) - len(batch) + 1
        stamp = timestamp or now()
        rows = []
        for offset, event in enumerate(batch):
            event_id = first + offset
            previous = event.previous_event_id
            if previous is None:
                previous = event_id - 1
            elif previous < 0:
                previous = max(event_id + previous, 0)
            rows.append(
                {
                    "execution_id": row.id,
                    "event_id": event_id,
                    "previous_event_id": previous,
                    "timestamp": stamp,
                    "type": event.type,
                    "details": json_text(event.details),
                }
            )
        await self._conn.execute(_INSERT_EVENTS, rows)
        return [r["event_id"] for r in rows]

    async def list_events(
        self,
        execution_arn: str,
        *,
        reverse: bool = False,
        max_results: int | None = None,
        next_token: str | None = None,
        include_data: bool = True,
    ) -> Page[HistoryEvent]:
        """A page of history, oldest first (``reverse``: newest first)."""
        limit = page_size(max_results)
        query = ("list_events", execution_arn, reverse, include_data)
        after = decode_token(query, next_token)
        execution_id = await self._execution_id(execution_arn)
        stmt = sa.select(ev).where(ev.c.execution_id == execution_id)
        if after is not None:
            stmt = stmt.where(ev.c.event_id < int(after) if reverse else ev.c.event_id > int(after))
        stmt = stmt.order_by(ev.c.event_id.desc() if reverse else ev.c.event_id).limit(limit + 1)
        rows = (await self._conn.execute(stmt)).all()
        items = [
            HistoryEvent(
                id=r.event_id,
                previous_event_id=r.previous_event_id,
                timestamp=r.timestamp,
                type=r.type,
                details=r.details if include_data else _strip_data(r.details),
            )
            for r in rows[:limit]
        ]
        token = encode_token(query, rows[limit - 1].event_id) if len(rows) > limit else None
        return Page(items, token)

    async def event_count(self, execution_arn: str) -> int:
        """The id of the last event (0: none yet)."""
        row = await self._first(sa.select(ex.c.event_count).where(ex.c.arn == execution_arn))
        if row is None:
            raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{execution_arn}'")
        return int(row.event_count)
