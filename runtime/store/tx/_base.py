"""What every part of the unit of work shares: the connection, ARNs, dialect-aware helpers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeAlias

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from runtime.store import tables as t
from runtime.store.arns import Arns
from runtime.store.errors import ExecutionDoesNotExist, InvalidArn

JsonText = str | Mapping[str, Any] | None
AnyRow: TypeAlias = Row[*tuple[Any, ...]]


def now() -> datetime:
    return datetime.now(UTC)


def json_text(value: JsonText | list[Any]) -> str | None:
    """JSON text as given, or a mapping encoded once (compactly) here."""
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


#: Statements of the hot path, built once (building one costs more than running it on
#: SQLite); values are bound at execution.
_EXECUTION_ID = sa.select(t.executions.c.id).where(t.executions.c.arn == sa.bindparam("arn"))
_EXECUTION_ID_LOCKED = _EXECUTION_ID.with_for_update()


class TxBase:
    """State and helpers of one unit of work; the feature mixins build on it."""

    def __init__(self, conn: AsyncConnection, arns: Arns) -> None:
        self._conn = conn
        self.arns = arns
        self._postgres = conn.dialect.name == "postgresql"

    @property
    def connection(self) -> AsyncConnection:
        """The underlying connection, for the rare query the API does not offer."""
        return self._conn

    def _insert(self, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
        """A dialect INSERT, so ``on_conflict_do_nothing`` is available on both backends."""
        return postgresql.insert(table) if self._postgres else sqlite.insert(table)

    async def _first(self, stmt: sa.Executable) -> AnyRow | None:
        return (await self._conn.execute(stmt)).first()

    async def _execution_id(self, arn: str, *, lock: bool = False) -> int:
        """The surrogate id of an execution; ``lock`` takes its row lock (PostgreSQL)."""
        if not arn.startswith("arn:"):
            raise InvalidArn(f"Invalid execution ARN: {arn}")
        row = (
            await self._conn.execute(_EXECUTION_ID_LOCKED if lock else _EXECUTION_ID, {"arn": arn})
        ).first()
        if row is None:
            raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'")
        return int(row.id)
