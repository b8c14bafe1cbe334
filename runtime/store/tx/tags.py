"""Tags on state machines and activities (TagResource, UntagResource, ListTagsForResource)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sqlalchemy as sa

from runtime.store import tables as t
from runtime.store.errors import ResourceNotFound, TooManyTags
from runtime.store.tx._base import TxBase

MAX_TAGS = 50


class TagsMixin(TxBase):
    async def _check_taggable(self, arn: str) -> None:
        machine = sa.select(t.state_machines.c.id).where(t.state_machines.c.arn == arn)
        activity = sa.select(t.activities.c.id).where(t.activities.c.arn == arn)
        if await self._first(machine) is None and await self._first(activity) is None:
            raise ResourceNotFound(f"Resource not found: '{arn}'")

    async def tag_resource(self, arn: str, tags: Mapping[str, str]) -> None:
        """Add or overwrite tags; at most 50 per resource, keys 1-128 and values 0-256 chars."""
        await self._check_taggable(arn)
        for key, value in tags.items():
            if not 1 <= len(key) <= 128 or len(value) > 256:
                raise TooManyTags(f"Tag {key!r} exceeds AWS's key/value length limits")
        existing = await self._tags(arn)
        if len(existing.keys() | tags.keys()) > MAX_TAGS:
            raise TooManyTags(f"Too many tags on {arn}: at most {MAX_TAGS}")
        if tags:
            await self._conn.execute(
                sa.delete(t.tags).where(t.tags.c.resource_arn == arn, t.tags.c.key.in_(list(tags)))
            )
            await self._conn.execute(
                sa.insert(t.tags), [{"resource_arn": arn, "key": k, "value": v} for k, v in tags.items()]
            )

    async def untag_resource(self, arn: str, keys: Iterable[str]) -> None:
        await self._check_taggable(arn)
        keys = list(keys)
        if keys:
            await self._conn.execute(
                sa.delete(t.tags).where(t.tags.c.resource_arn == arn, t.tags.c.key.in_(keys))
            )

    async def list_tags(self, arn: str) -> dict[str, str]:
        """Tags of a state machine or activity, by key."""
        await self._check_taggable(arn)
        return await self._tags(arn)

    async def _tags(self, arn: str) -> dict[str, str]:
        rows = await self._conn.execute(
            sa.select(t.tags.c.key, t.tags.c.value).where(t.tags.c.resource_arn == arn).order_by(t.tags.c.key)
        )
        return {row.key: row.value for row in rows}
