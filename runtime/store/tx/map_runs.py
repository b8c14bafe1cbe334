"""Distributed Map runs, for ListMapRuns / DescribeMapRun / UpdateMapRun.

A map run keeps no counters of its own: item counts are read from the fork that joins it
(the one place completions are counted, under its row lock), execution counts from its child
executions. Nothing to keep in step, nothing to drift.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from runtime.store import tables as t
from runtime.store.errors import ExecutionDoesNotExist, ForkDoesNotExist, ResourceNotFound, ValidationError
from runtime.store.pagination import decode_token, encode_token, page_size
from runtime.store.records import (
    ExecutionStatus,
    ForkItem,
    ForkStatus,
    MapRun,
    MapRunCounts,
    MapRunStatus,
    MapRunSummary,
    Page,
)
from runtime.store.tx._base import AnyRow, now
from runtime.store.tx.forks import ForksMixin

mr = t.map_runs
ex = t.executions
sm = t.state_machines

_FINAL = frozenset({MapRunStatus.SUCCEEDED, MapRunStatus.FAILED, MapRunStatus.ABORTED})


class MapRunsMixin(ForksMixin):
    async def _map_run_row(self, arn: str) -> AnyRow:
        row = await self._first(
            sa.select(mr, ex.c.arn.label("execution_arn"), sm.c.arn.label("state_machine_arn"))
            .select_from(mr.join(ex, ex.c.id == mr.c.execution_id).join(sm, sm.c.id == ex.c.state_machine_id))
            .where(mr.c.arn == arn)
        )
        if row is None:
            raise ResourceNotFound(f"Resource not found: '{arn}'")
        return row

    async def create_map_run(
        self,
        execution_arn: str,
        label: str,
        *,
        fork_key: str | None = None,
        max_concurrency: int = 0,
        tolerated_failure_percentage: float = 0.0,
        tolerated_failure_count: int = 0,
        run_id: str | None = None,
    ) -> MapRun:
        """Record a distributed Map run (``run_id`` makes a replay idempotent); counts come from
        the fork ``fork_key`` when given."""
        row = await self._first(
            sa.select(ex.c.id, sm.c.name)
            .select_from(ex.join(sm, sm.c.id == ex.c.state_machine_id))
            .where(ex.c.arn == execution_arn)
        )
        if row is None:
            raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{execution_arn}'")
        arn = self.arns.map_run(row.name, label, run_id or str(uuid.uuid4()))
        await self._conn.execute(
            self._insert(mr)
            .values(
                arn=arn,
                execution_id=row.id,
                label=label,
                fork_key=fork_key,
                status=MapRunStatus.RUNNING.value,
                max_concurrency=max_concurrency,
                tolerated_failure_percentage=tolerated_failure_percentage,
                tolerated_failure_count=tolerated_failure_count,
                start_date=now(),
            )
            .on_conflict_do_nothing()
        )
        return await self.get_map_run(arn)

    async def get_map_run(self, arn: str) -> MapRun:
        row = await self._map_run_row(arn)
        status = MapRunStatus(row.status)
        items = await self._item_counts(row, status)
        executions = await self._execution_counts(arn, items)
        return MapRun(
            arn=row.arn,
            execution_arn=row.execution_arn,
            state_machine_arn=row.state_machine_arn,
            label=row.label,
            status=status,
            start_date=row.start_date,
            stop_date=row.stop_date,
            max_concurrency=row.max_concurrency,
            tolerated_failure_percentage=row.tolerated_failure_percentage,
            tolerated_failure_count=row.tolerated_failure_count,
            fork_key=row.fork_key,
            item_counts=items,
            execution_counts=executions,
            redrive_count=row.redrive_count,
            redrive_date=row.redrive_date,
        )

    async def _item_counts(self, row: AnyRow, status: MapRunStatus) -> MapRunCounts:
        if row.fork_key is None:
            return MapRunCounts()
        try:
            fork = await self.get_fork(row.execution_arn, row.fork_key)
        except ForkDoesNotExist:
            return MapRunCounts()
        running, pending, aborted = fork.running, fork.total - fork.next_index, 0
        stopped = status in (MapRunStatus.FAILED, MapRunStatus.ABORTED) or fork.status in (
            ForkStatus.FAILED,
            ForkStatus.CANCELLED,
        )
        if stopped:
            running, pending, aborted = 0, 0, running + pending
        return MapRunCounts(
            pending=pending,
            running=running,
            succeeded=fork.succeeded,
            failed=fork.failed,
            aborted=aborted,
            total=fork.total,
        )

    async def _execution_counts(self, arn: str, items: MapRunCounts) -> MapRunCounts:
        rows = (
            await self._conn.execute(
                sa.select(ex.c.status, sa.func.count()).where(ex.c.map_run_arn == arn).group_by(ex.c.status)
            )
        ).all()
        if not rows:
            return items  # children not recorded (e.g. EXPRESS): one execution per item
        by_status = {ExecutionStatus(status): int(count) for status, count in rows}
        started = sum(by_status.values())
        return MapRunCounts(
            pending=max(0, items.total - started),
            running=by_status.get(ExecutionStatus.RUNNING, 0),
            succeeded=by_status.get(ExecutionStatus.SUCCEEDED, 0),
            failed=by_status.get(ExecutionStatus.FAILED, 0),
            timed_out=by_status.get(ExecutionStatus.TIMED_OUT, 0),
            aborted=by_status.get(ExecutionStatus.ABORTED, 0),
            total=max(started, items.total),
            pending_redrive=by_status.get(ExecutionStatus.PENDING_REDRIVE, 0),
        )

    async def list_map_runs(
        self, execution_arn: str, *, max_results: int | None = None, next_token: str | None = None
    ) -> Page[MapRunSummary]:
        """Map runs of an execution, newest first."""
        execution_id = await self._execution_id(execution_arn)
        limit = page_size(max_results)
        query = ("list_map_runs", execution_arn)
        after = decode_token(query, next_token)
        stmt = (
            sa.select(mr.c.id, mr.c.arn, mr.c.start_date, mr.c.stop_date, sm.c.arn.label("state_machine_arn"))
            .select_from(mr.join(ex, ex.c.id == mr.c.execution_id).join(sm, sm.c.id == ex.c.state_machine_id))
            .where(mr.c.execution_id == execution_id)
        )
        if after is not None:
            stmt = stmt.where(mr.c.id < int(after))
        rows = (await self._conn.execute(stmt.order_by(mr.c.id.desc()).limit(limit + 1))).all()
        items = [
            MapRunSummary(r.arn, execution_arn, r.state_machine_arn, r.start_date, r.stop_date)
            for r in rows[:limit]
        ]
        token = encode_token(query, rows[limit - 1].id) if len(rows) > limit else None
        return Page(items, token)

    async def finish_map_run(self, arn: str, status: MapRunStatus) -> bool:
        """End a RUNNING map run; False if it had already ended."""
        status = MapRunStatus(status)
        if status not in _FINAL:
            raise ValidationError(f"{status} is not a final map run status")
        result = await self._conn.execute(
            sa.update(mr)
            .where(mr.c.arn == arn, mr.c.status == MapRunStatus.RUNNING.value)
            .values(status=status.value, stop_date=now())
        )
        if result.rowcount == 1:
            return True
        await self._map_run_row(arn)
        return False

    async def update_map_run(
        self,
        arn: str,
        *,
        max_concurrency: int | None = None,
        tolerated_failure_percentage: float | None = None,
        tolerated_failure_count: int | None = None,
    ) -> list[ForkItem]:
        """UpdateMapRun: new limits for the run and its fork; returns items a wider window frees."""
        row = await self._map_run_row(arn)
        values: dict[str, float | int] = {
            k: v
            for k, v in {
                "max_concurrency": max_concurrency,
                "tolerated_failure_percentage": tolerated_failure_percentage,
                "tolerated_failure_count": tolerated_failure_count,
            }.items()
            if v is not None
        }
        if not values:
            return []
        await self._conn.execute(sa.update(mr).where(mr.c.id == row.id).values(**values))
        if row.fork_key is None or row.status != MapRunStatus.RUNNING.value:
            return []
        return await self.update_fork(
            row.execution_arn,
            row.fork_key,
            max_concurrency=max_concurrency,
            tolerated_failure_count=tolerated_failure_count,
            tolerated_failure_percentage=tolerated_failure_percentage,
        )
