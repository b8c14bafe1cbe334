"""Task tokens: what a ``.waitForTaskToken`` Task or an activity waits on, answered once."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from runtime.store import tables as t
from runtime.store.errors import TaskDoesNotExist, TaskTimedOut, ValidationError
from runtime.store.records import TaskToken, TaskTokenStatus
from runtime.store.tx._base import AnyRow, TxBase, json_text, now

tt = t.task_tokens
ex = t.executions


def _token(row: AnyRow) -> TaskToken:
    return TaskToken(
        token=row.token,
        execution_arn=row.execution_arn,
        state_name=row.state_name,
        branch_path=row.branch_path,
        attempt=row.attempt,
        info=row.info,
        status=TaskTokenStatus(row.status),
        output=row.output,
        error=row.error,
        cause=row.cause,
        creation_date=row.creation_date,
        heartbeat_date=row.heartbeat_date,
        completion_date=row.completion_date,
    )


class TokensMixin(TxBase):
    async def create_task_token(
        self,
        execution_arn: str,
        state_name: str,
        *,
        branch_path: str = "",
        attempt: int = 0,
        info: str | Mapping[str, Any] | None = None,
        token: str | None = None,
        activity_arn: str | None = None,
        input: str | None = None,
    ) -> str:
        """Store a PENDING token (a fresh random one unless given); idempotent for a given token.

        With ``activity_arn`` the token is also an activity task waiting for GetActivityTask,
        whose input is ``input`` (JSON text).
        """
        execution_id = await self._execution_id(execution_arn)
        token = token or secrets.token_urlsafe(32)
        await self._conn.execute(
            self._insert(tt)
            .values(
                token=token,
                execution_id=execution_id,
                state_name=state_name,
                branch_path=branch_path,
                attempt=attempt,
                info=json_text(info),
                activity_arn=activity_arn,
                input=input,
                status=TaskTokenStatus.PENDING.value,
                creation_date=now(),
            )
            .on_conflict_do_nothing()
        )
        return token

    async def get_task_token(self, token: str) -> TaskToken:
        row = await self._first(
            sa.select(tt, ex.c.arn.label("execution_arn"))
            .select_from(tt.join(ex, ex.c.id == tt.c.execution_id))
            .where(tt.c.token == token)
        )
        if row is None:
            raise TaskDoesNotExist("Task Does Not Exist: the task token is unknown")
        return _token(row)

    async def complete_task_token(
        self,
        token: str,
        status: TaskTokenStatus,
        *,
        output: str | None = None,
        error: str | None = None,
        cause: str | None = None,
    ) -> bool:
        """Settle a PENDING token; False (nothing changes) if it was already settled."""
        status = TaskTokenStatus(status)
        if status is TaskTokenStatus.PENDING:
            raise ValidationError("A token is completed with a final status, not PENDING")
        result = await self._conn.execute(
            sa.update(tt)
            .where(tt.c.token == token, tt.c.status == TaskTokenStatus.PENDING.value)
            .values(status=status.value, output=output, error=error, cause=cause, completion_date=now())
        )
        if result.rowcount == 1:
            return True
        await self.get_task_token(token)  # raises TaskDoesNotExist for an unknown token
        return False

    async def heartbeat_task_token(self, token: str) -> TaskToken:
        """SendTaskHeartbeat: note the beat; TaskTimedOut once the token is settled."""
        result = await self._conn.execute(
            sa.update(tt)
            .where(tt.c.token == token, tt.c.status == TaskTokenStatus.PENDING.value)
            .values(heartbeat_date=now())
        )
        record = await self.get_task_token(token)
        if result.rowcount != 1:
            raise TaskTimedOut(f"Task Timed Out: the token is {record.status}")
        return record

    async def cancel_task_tokens(self, execution_arn: str) -> list[str]:
        """Settle every PENDING token of an execution as CANCELLED (abort); returns them."""
        execution_id = await self._execution_id(execution_arn)
        pending = (
            (
                await self._conn.execute(
                    sa.select(tt.c.token).where(
                        tt.c.execution_id == execution_id, tt.c.status == TaskTokenStatus.PENDING.value
                    )
                )
            )
            .scalars()
            .all()
        )
        if pending:
            await self._conn.execute(
                sa.update(tt)
                .where(tt.c.token.in_(pending), tt.c.status == TaskTokenStatus.PENDING.value)
                .values(status=TaskTokenStatus.CANCELLED.value, completion_date=now())
            )
        return list(pending)

    async def claim_activity_task(
        self, activity_arn: str, worker_name: str | None = None
    ) -> TaskToken | None:
        """Hand the oldest unclaimed PENDING task of an activity to one worker (GetActivityTask).

        ``FOR UPDATE SKIP LOCKED`` on PostgreSQL lets concurrent pollers take different tasks;
        SQLite serialises writers anyway. Returns None when nothing is waiting.
        """
        pick = (
            sa.select(tt.c.token)
            .where(
                tt.c.activity_arn == activity_arn,
                tt.c.status == TaskTokenStatus.PENDING.value,
                tt.c.claimed_at.is_(None),
            )
            .order_by(tt.c.creation_date, tt.c.token)
            .limit(1)
        )
        if self._postgres:
            pick = pick.with_for_update(skip_locked=True)
        row = await self._first(pick)
        if row is None:
            return None
        await self._conn.execute(
            sa.update(tt)
            .where(tt.c.token == row.token, tt.c.claimed_at.is_(None))
            .values(claimed_by=worker_name or "", claimed_at=now())
        )
        return await self.get_task_token(row.token)

    async def activity_task_input(self, token: str) -> str | None:
        row = await self._first(sa.select(tt.c.input).where(tt.c.token == token))
        if row is None:
            raise TaskDoesNotExist("Task Does Not Exist: the task token is unknown")
        return row.input  # type: ignore[no-any-return]
