"""Exactly-once plumbing: the applied-message ledger and the transactional outbox.

A worker handling a hop does, in one transaction: ``mark_applied(message_id)`` (False: a
redelivery, skip it), append the events, ``add_outbox`` the hops it emits; commits; publishes
with confirms; then ``delete_outbox``. A crash between commit and publish leaves outbox rows
that a relay (``pending_outbox``) publishes later; consumers dedupe by ``message_id``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from runtime.store import tables as t
from runtime.store.records import OutboxMessage, OutboxRow
from runtime.store.tx._base import TxBase, now

ob = t.outbox
ap = t.applied_messages

#: built once (see tx/_base.py); values bound at execution
_MARK_APPLIED = {
    "postgresql": postgresql.insert(ap).on_conflict_do_nothing(),
    "sqlite": sqlite.insert(ap).on_conflict_do_nothing(),
}
_ADD_OUTBOX = sa.insert(ob).returning(ob.c.id)


class DeliveryMixin(TxBase):
    async def mark_applied(self, message_id: str) -> bool:
        """Record a message as applied in this transaction; False if it already was.

        A concurrent transaction applying the same id waits on the unique key (PostgreSQL) or
        the write lock (SQLite) and then gets False: exactly one of them wins.
        """
        result = await self._conn.execute(
            _MARK_APPLIED[self._conn.dialect.name], {"message_id": message_id, "applied_date": now()}
        )
        return bool(result.rowcount == 1)

    async def is_applied(self, message_id: str) -> bool:
        return await self._first(sa.select(ap.c.message_id).where(ap.c.message_id == message_id)) is not None

    async def prune_applied(self, older_than: datetime) -> int:
        """Forget ids applied before ``older_than`` (longer ago than any redelivery can come)."""
        result = await self._conn.execute(sa.delete(ap).where(ap.c.applied_date < older_than))
        return int(result.rowcount)

    async def add_outbox(self, messages: Iterable[OutboxMessage | tuple[object, ...]]) -> list[int]:
        """Queue messages to publish once this transaction commits; returns their outbox ids."""
        batch = [m if isinstance(m, OutboxMessage) else OutboxMessage(*m) for m in messages]  # type: ignore[arg-type]
        if not batch:
            return []
        created = now()
        rows = [
            {
                "destination": m.destination,
                "routing_key": m.routing_key,
                "headers": orjson.dumps(dict(m.headers or {})).decode(),
                "body": bytes(m.body),
                "message_id": m.message_id,
                "creation_date": created,
            }
            for m in batch
        ]
        if len(rows) == 1:
            row = (await self._conn.execute(_ADD_OUTBOX, rows[0])).first()
            assert row is not None
            return [int(row.id)]
        result = await self._conn.execute(
            sa.insert(ob).returning(ob.c.id, sort_by_parameter_order=True), rows
        )
        return [int(r.id) for r in result]

    async def pending_outbox(self, limit: int = 100, older_than: datetime | None = None) -> list[OutboxRow]:
        """The oldest unpublished messages (only those created before ``older_than``, if given:
        younger rows are still being published by the worker that wrote them).

        On PostgreSQL the rows stay locked (``FOR UPDATE SKIP LOCKED``) until this transaction
        ends, so two relays never publish the same row; delete them in the same transaction.
        """
        stmt = sa.select(ob).order_by(ob.c.id).limit(limit)
        if older_than is not None:
            stmt = stmt.where(ob.c.creation_date < older_than)
        if self._postgres:
            stmt = stmt.with_for_update(skip_locked=True)
        rows = (await self._conn.execute(stmt)).all()
        return [
            OutboxRow(
                id=r.id,
                destination=r.destination,
                routing_key=r.routing_key,
                body=bytes(r.body),
                headers=orjson.loads(r.headers),
                message_id=r.message_id,
                creation_date=r.creation_date,
            )
            for r in rows
        ]

    async def delete_outbox(self, ids: Sequence[int]) -> int:
        """Remove published messages; returns how many were still there."""
        if not ids:
            return 0
        result = await self._conn.execute(sa.delete(ob).where(ob.c.id.in_(list(ids))))
        return int(result.rowcount)
