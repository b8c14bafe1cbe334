"""Executions: idempotent start, one recorded ending, redrive, listings newest first."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from runtime.store import tables as t
from runtime.store.arns import check_name, parse_state_machine_arn
from runtime.store.errors import (
    ExecutionAlreadyExists,
    ExecutionDoesNotExist,
    ExecutionNotRedrivable,
    ValidationError,
)
from runtime.store.pagination import decode_token, encode_token, page_size
from runtime.store.records import (
    Execution,
    ExecutionStatus,
    ExecutionSummary,
    Page,
    StartedExecution,
    StateMachineType,
)
from runtime.store.tx._base import AnyRow, now
from runtime.store.tx.machines import MachinesMixin

ex = t.executions
sm = t.state_machines

TERMINAL = frozenset(
    {ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT, ExecutionStatus.ABORTED}
)
_REDRIVABLE = frozenset({ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT, ExecutionStatus.ABORTED})

_SUMMARY_COLUMNS = (
    ex.c.id,
    ex.c.arn,
    sm.c.arn.label("state_machine_arn"),
    ex.c.name,
    ex.c.status,
    ex.c.start_date,
    ex.c.stop_date,
    ex.c.state_machine_version_arn,
    ex.c.state_machine_alias_arn,
    ex.c.map_run_arn,
    ex.c.redrive_count,
    ex.c.redrive_date,
)


#: built once (see tx/_base.py); values bound at execution
_GET_EXECUTION = (
    sa.select(ex, sm.c.arn.label("state_machine_arn"))
    .select_from(ex.join(sm, sm.c.id == ex.c.state_machine_id))
    .where(ex.c.arn == sa.bindparam("arn"))
)


def _execution(row: AnyRow) -> Execution:
    return Execution(
        arn=row.arn,
        state_machine_arn=row.state_machine_arn,
        name=row.name,
        type=StateMachineType(row.type),
        status=ExecutionStatus(row.status),
        input=row.input,
        output=row.output,
        error=row.error,
        cause=row.cause,
        start_date=row.start_date,
        stop_date=row.stop_date,
        revision_id=row.revision_id,
        state_machine_version_arn=row.state_machine_version_arn,
        state_machine_alias_arn=row.state_machine_alias_arn,
        trace_header=row.trace_header,
        redrive_count=row.redrive_count,
        redrive_date=row.redrive_date,
        map_run_arn=row.map_run_arn,
        parent_execution_arn=row.parent_execution_arn,
    )


def _summary(row: AnyRow) -> ExecutionSummary:
    return ExecutionSummary(
        arn=row.arn,
        state_machine_arn=row.state_machine_arn,
        name=row.name,
        status=ExecutionStatus(row.status),
        start_date=row.start_date,
        stop_date=row.stop_date,
        state_machine_version_arn=row.state_machine_version_arn,
        state_machine_alias_arn=row.state_machine_alias_arn,
        map_run_arn=row.map_run_arn,
        redrive_count=row.redrive_count,
        redrive_date=row.redrive_date,
    )


class ExecutionsMixin(MachinesMixin):
    async def create_execution(
        self,
        state_machine_arn: str,
        *,
        name: str | None = None,
        input: str = "{}",
        trace_header: str | None = None,
        parent_execution_arn: str | None = None,
        map_run_arn: str | None = None,
        type: StateMachineType | None = None,
        reuse_closed: bool = True,
        route_roll: float | None = None,
    ) -> StartedExecution:
        """Start an execution on a machine, version or alias ARN, pinned to that revision.

        Idempotent by name: the same name and input return the existing execution with
        ``created=False``; another input raises ExecutionAlreadyExists. ``reuse_closed=False``
        is AWS's stricter StartExecution rule (only a RUNNING execution is returned again).
        ``route_roll`` in [0, 100) picks an alias's version deterministically (tests).
        """
        name = check_name(name or str(uuid.uuid4()), "execution name")
        machine, revision_id, version_arn, alias_arn = await self._resolve_start(
            state_machine_arn, route_roll
        )
        arn = (
            self.arns.map_run_execution(map_run_arn, name)
            if map_run_arn
            else self.arns.execution(machine.name, name)
        )
        values: dict[str, Any] = {
            "arn": arn,
            "state_machine_id": machine.id,
            "revision_id": revision_id,
            "state_machine_version_arn": version_arn,
            "state_machine_alias_arn": alias_arn,
            "name": name,
            "type": StateMachineType(type or machine.type).value,
            "status": ExecutionStatus.RUNNING.value,
            "input": input,
            "start_date": now(),
            "trace_header": trace_header,
            "map_run_arn": map_run_arn,
            "parent_execution_arn": parent_execution_arn,
        }
        inserted = await self._first(
            self._insert(ex).values(**values).on_conflict_do_nothing().returning(ex.c.id)
        )
        if inserted is None:
            existing = await self.get_execution(arn)
            if existing.input != input:
                raise ExecutionAlreadyExists(f"Execution Already Exists: '{arn}' (with a different input)")
            if not reuse_closed and existing.status is not ExecutionStatus.RUNNING:
                raise ExecutionAlreadyExists(f"Execution Already Exists: '{arn}' (closed)")
            return StartedExecution(existing, created=False)
        execution = Execution(
            arn=arn,
            state_machine_arn=machine.arn,
            name=name,
            type=StateMachineType(values["type"]),
            status=ExecutionStatus.RUNNING,
            input=input,
            output=None,
            error=None,
            cause=None,
            start_date=values["start_date"],
            stop_date=None,
            revision_id=revision_id,
            state_machine_version_arn=version_arn,
            state_machine_alias_arn=alias_arn,
            trace_header=trace_header,
            map_run_arn=map_run_arn,
            parent_execution_arn=parent_execution_arn,
        )
        return StartedExecution(execution, created=True)

    async def get_execution(self, arn: str) -> Execution:
        row = (await self._conn.execute(_GET_EXECUTION, {"arn": arn})).first()
        if row is None:
            raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'")
        return _execution(row)

    async def list_executions(
        self,
        *,
        state_machine_arn: str | None = None,
        map_run_arn: str | None = None,
        status: ExecutionStatus | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> Page[ExecutionSummary]:
        """Executions of a machine (or of a version/alias ARN, or of a map run), newest first.

        A machine's listing leaves out distributed Map children, as AWS does; list those by
        ``map_run_arn``.
        """
        if (state_machine_arn is None) == (map_run_arn is None):
            raise ValidationError("Give exactly one of stateMachineArn and mapRunArn")
        limit = page_size(max_results)
        query = ("list_executions", state_machine_arn, map_run_arn, status and ExecutionStatus(status).value)
        after = decode_token(query, next_token)
        stmt = sa.select(*_SUMMARY_COLUMNS).select_from(ex.join(sm, sm.c.id == ex.c.state_machine_id))
        if state_machine_arn is not None:
            ref = parse_state_machine_arn(state_machine_arn)
            machine = await self._machine_row(ref.base_arn)
            if ref.version is not None:
                stmt = stmt.where(ex.c.state_machine_version_arn == state_machine_arn)
            elif ref.alias is not None:
                stmt = stmt.where(ex.c.state_machine_alias_arn == state_machine_arn)
            else:
                stmt = stmt.where(ex.c.state_machine_id == machine.id, ex.c.map_run_arn.is_(None))
        else:
            stmt = stmt.where(ex.c.map_run_arn == map_run_arn)
        if status is not None:
            stmt = stmt.where(ex.c.status == ExecutionStatus(status).value)
        if after is not None:
            stmt = stmt.where(ex.c.id < int(after))
        rows = (await self._conn.execute(stmt.order_by(ex.c.id.desc()).limit(limit + 1))).all()
        token = encode_token(query, rows[limit - 1].id) if len(rows) > limit else None
        return Page([_summary(r) for r in rows[:limit]], token)

    async def list_child_executions(
        self, parent_execution_arn: str, *, status: ExecutionStatus | None = None
    ) -> list[ExecutionSummary]:
        """Executions started by this one (nested ``.sync``), e.g. to abort them with it."""
        stmt = (
            sa.select(*_SUMMARY_COLUMNS)
            .select_from(ex.join(sm, sm.c.id == ex.c.state_machine_id))
            .where(ex.c.parent_execution_arn == parent_execution_arn)
        )
        if status is not None:
            stmt = stmt.where(ex.c.status == ExecutionStatus(status).value)
        return [_summary(r) for r in await self._conn.execute(stmt.order_by(ex.c.id))]

    async def finish_execution(
        self,
        arn: str,
        status: ExecutionStatus,
        *,
        output: str | None = None,
        error: str | None = None,
        cause: str | None = None,
    ) -> bool:
        """End a RUNNING execution; False (and no change) if it had already ended."""
        status = ExecutionStatus(status)
        if status not in TERMINAL:
            raise ValidationError(f"{status} is not a final execution status")
        result = await self._conn.execute(
            sa.update(ex)
            .where(ex.c.arn == arn, ex.c.status == ExecutionStatus.RUNNING.value)
            .values(status=status.value, output=output, error=error, cause=cause, stop_date=now())
        )
        if result.rowcount == 1:
            return True
        await self._execution_id(arn)  # raises ExecutionDoesNotExist for an unknown ARN
        return False

    async def set_redrive_point(self, arn: str, point: str | None) -> None:
        """Remember where RedriveExecution continues (the hop that ended the execution)."""
        await self._conn.execute(sa.update(ex).where(ex.c.arn == arn).values(redrive_point=point))

    async def set_parent_task_token(self, arn: str, token: str) -> None:
        await self._conn.execute(sa.update(ex).where(ex.c.arn == arn).values(parent_task_token=token))

    async def get_parent_task_token(self, arn: str) -> str | None:
        row = await self._first(sa.select(ex.c.parent_task_token).where(ex.c.arn == arn))
        return None if row is None else row.parent_task_token  # type: ignore[no-any-return]

    async def get_redrive_point(self, arn: str) -> str | None:
        row = await self._first(sa.select(ex.c.redrive_point).where(ex.c.arn == arn))
        if row is None:
            raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'")
        return row.redrive_point  # type: ignore[no-any-return]

    async def redrive_execution(self, arn: str, *, pending: bool = False) -> Execution:
        """Reopen a FAILED/TIMED_OUT/ABORTED standard execution: RUNNING, redrive_count + 1.

        ``pending=True`` parks it in PENDING_REDRIVE first; a later call without it moves it
        on to RUNNING (counting the redrive once).
        """
        await self._execution_id(arn, lock=True)
        execution = await self.get_execution(arn)
        values: dict[str, Any] = {"status": ExecutionStatus.RUNNING.value}
        if execution.status is ExecutionStatus.PENDING_REDRIVE:
            if pending:
                return execution
        elif execution.status in _REDRIVABLE and execution.type is StateMachineType.STANDARD:
            values.update(
                status=(ExecutionStatus.PENDING_REDRIVE if pending else ExecutionStatus.RUNNING).value,
                redrive_count=ex.c.redrive_count + 1,
                redrive_date=now(),
                stop_date=None,
                output=None,
                error=None,
                cause=None,
            )
        else:
            raise ExecutionNotRedrivable(f"Execution {arn} is {execution.status} and cannot be redriven")
        result = await self._conn.execute(
            sa.update(ex).where(ex.c.arn == arn, ex.c.status == execution.status.value).values(**values)
        )
        if result.rowcount != 1:
            raise ExecutionNotRedrivable(f"Execution {arn} changed while being redriven")
        return await self.get_execution(arn)
