"""Activities: named task queues a worker polls (CreateActivity is idempotent by name)."""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from runtime.store import tables as t
from runtime.store.arns import check_name
from runtime.store.errors import ActivityDoesNotExist
from runtime.store.pagination import decode_token, encode_token, page_size
from runtime.store.records import Activity, Page
from runtime.store.tx._base import AnyRow, now
from runtime.store.tx.tags import TagsMixin

act = t.activities


def _activity(row: AnyRow) -> Activity:
    return Activity(arn=row.arn, name=row.name, creation_date=row.creation_date)


class ActivitiesMixin(TagsMixin):
    async def create_activity(self, name: str, *, tags: Mapping[str, str] | None = None) -> Activity:
        """Create the activity, or return the one of that name (tags are added either way)."""
        check_name(name, "activity name")
        arn = self.arns.activity(name)
        await self._conn.execute(
            self._insert(act).values(arn=arn, name=name, creation_date=now()).on_conflict_do_nothing()
        )
        if tags:
            await self.tag_resource(arn, tags)
        return await self.describe_activity(arn)

    async def describe_activity(self, arn: str) -> Activity:
        row = await self._first(sa.select(act).where(act.c.arn == arn))
        if row is None:
            raise ActivityDoesNotExist(f"Activity Does Not Exist: '{arn}'")
        return _activity(row)

    async def list_activities(
        self, *, max_results: int | None = None, next_token: str | None = None
    ) -> Page[Activity]:
        """Activities in creation order."""
        limit = page_size(max_results)
        query = ("list_activities",)
        after = decode_token(query, next_token)
        stmt = sa.select(act)
        if after is not None:
            stmt = stmt.where(act.c.id > int(after))
        rows = (await self._conn.execute(stmt.order_by(act.c.id).limit(limit + 1))).all()
        token = encode_token(query, rows[limit - 1].id) if len(rows) > limit else None
        return Page([_activity(r) for r in rows[:limit]], token)

    async def delete_activity(self, arn: str) -> None:
        """Delete the activity and its tags (idempotent, as in AWS)."""
        await self._conn.execute(sa.delete(t.tags).where(t.tags.c.resource_arn == arn))
        await self._conn.execute(sa.delete(act).where(act.c.arn == arn))
