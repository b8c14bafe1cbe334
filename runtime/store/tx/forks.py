"""Durable join for Parallel and Map: a fork row with counters and one row per item.

Concurrency: every operation on a fork takes, in this order, the execution row lock and the
fork row lock (``SELECT ... FOR UPDATE``; on SQLite the database write lock already covers
it). Completions of one fork therefore run one after the other, each sees the counters the
previous one committed, and an item's result is written only while it is still NULL. Two
workers reporting the same item: one records it, the other gets ``recorded=False``. The same
execution-then-fork lock order as ``append_events`` (which locks the execution row) rules out
deadlocks between the two.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from runtime.store import tables as t
from runtime.store.errors import ForkDoesNotExist, ValidationError
from runtime.store.records import BranchResult, Fork, ForkItem, ForkStarted, ForkStatus, JoinProgress
from runtime.store.tx._base import AnyRow, TxBase, json_text, now

ex = t.executions
fk = t.forks
fi = t.fork_items
_CHUNK = 5000  # indexes per IN (...): well under SQLite's and asyncpg's parameter limits

# Statements of the hot path (a join result per Map item), built once (see tx/_base.py);
# values bound at execution.
_EXECUTION = sa.select(ex.c.id).where(ex.c.arn == sa.bindparam("arn"))
_FORK_ROW = sa.select(fk).where(
    fk.c.execution_id == _EXECUTION.scalar_subquery(), fk.c.fork_key == sa.bindparam("key")
)
#: the execution row's lock, then the fork row's, in one statement
_FORK_ROW_LOCKED = (
    sa.select(fk)
    .where(
        fk.c.execution_id == _EXECUTION.with_for_update().scalar_subquery(),
        fk.c.fork_key == sa.bindparam("key"),
    )
    .with_for_update()
)
_RELEASE = (
    sa.select(fi.c.idx, fi.c.input)
    .where(
        fi.c.fork_id == sa.bindparam("b_fork"),
        fi.c.idx >= sa.bindparam("b_first"),
        fi.c.idx < sa.bindparam("b_stop"),
    )
    .order_by(fi.c.idx)
)
_WRITE_RESULTS = (
    sa.update(fi)
    .where(fi.c.fork_id == sa.bindparam("b_fork"), fi.c.idx == sa.bindparam("b_idx"))
    .values(
        ok=sa.bindparam("b_ok"),
        output=sa.bindparam("b_output"),
        error=sa.bindparam("b_error"),
        cause=sa.bindparam("b_cause"),
        finish_date=sa.bindparam("b_finish"),
    )
)
_WRITE_RESULT = _WRITE_RESULTS.where(fi.c.ok.is_(None))
_COUNT_RESULTS = (
    sa.update(fk)
    .where(fk.c.id == sa.bindparam("b_id"))
    .values(
        succeeded=sa.bindparam("b_succeeded"),
        failed=sa.bindparam("b_failed"),
        status=sa.bindparam("b_status"),
        next_index=sa.bindparam("b_next"),
    )
)


def threshold_exceeded(failed: int, total: int, count: int | None, percentage: float | None) -> bool:
    """AWS rule: no tolerance given means none; otherwise exceeding either limit fails."""
    if count is None and percentage is None:
        return failed > 0
    if count is not None and failed > count:
        return True
    return percentage is not None and total > 0 and failed * 100 > percentage * total


def _fork(row: AnyRow, execution_arn: str) -> Fork:
    return Fork(
        execution_arn=execution_arn,
        key=row.fork_key,
        total=row.total,
        max_concurrency=row.max_concurrency,
        tolerated_failure_count=row.tolerated_failure_count,
        tolerated_failure_percentage=row.tolerated_failure_percentage,
        next_index=row.next_index,
        succeeded=row.succeeded,
        failed=row.failed,
        status=ForkStatus(row.status),
        info=row.info,
        creation_date=row.creation_date,
    )


class ForksMixin(TxBase):
    async def _fork_row(self, execution_arn: str, key: str, *, lock: bool) -> AnyRow:
        """The fork row; ``lock`` takes the execution row lock, then the fork's, in one statement
        (the uncorrelated sub-select runs first, so the lock order is always execution, fork)."""
        params = {"arn": execution_arn, "key": key}
        row = (await self._conn.execute(_FORK_ROW_LOCKED if lock else _FORK_ROW, params)).first()
        if row is None:
            await self._execution_id(execution_arn)  # ExecutionDoesNotExist if that is why
            raise ForkDoesNotExist(f"No fork {key!r} in execution {execution_arn}")
        return row

    async def _release(self, fork: AnyRow, finished: int, max_concurrency: int) -> list[ForkItem]:
        """Items the window now allows: move ``next_index`` on and return them with inputs."""
        limit = fork.total if max_concurrency <= 0 else max_concurrency
        free = limit - (fork.next_index - finished)
        count = max(0, min(free, fork.total - fork.next_index))
        if count == 0:
            return []
        rows = await self._conn.execute(
            _RELEASE, {"b_fork": fork.id, "b_first": fork.next_index, "b_stop": fork.next_index + count}
        )
        return [ForkItem(r.idx, r.input) for r in rows]

    async def create_fork(
        self,
        execution_arn: str,
        key: str,
        items: Sequence[str],
        *,
        max_concurrency: int = 0,
        tolerated_failure_count: int | None = None,
        tolerated_failure_percentage: float | None = None,
        info: str | Mapping[str, Any] | None = None,
    ) -> ForkStarted:
        """Record a fan-out of ``items`` (input JSON texts); returns the first window to start.

        ``key`` names the fork inside the execution (branch path + state name + entry). A
        second call with the same key changes nothing and returns ``created=False``, no items.
        """
        if max_concurrency < 0:
            raise ValidationError("max_concurrency must be 0 (no limit) or more")
        execution_id = await self._execution_id(execution_arn, lock=True)
        total = len(items)
        window = total if max_concurrency == 0 else min(max_concurrency, total)
        inserted = await self._first(
            self._insert(fk)
            .values(
                execution_id=execution_id,
                fork_key=key,
                total=total,
                max_concurrency=max_concurrency,
                tolerated_failure_count=tolerated_failure_count,
                tolerated_failure_percentage=tolerated_failure_percentage,
                next_index=window,
                succeeded=0,
                failed=0,
                status=(ForkStatus.RUNNING if total else ForkStatus.SUCCEEDED).value,
                info=json_text(info),
                creation_date=now(),
            )
            .on_conflict_do_nothing()
            .returning(fk.c.id)
        )
        if inserted is not None and items:
            await self._conn.execute(
                sa.insert(fi),
                [{"fork_id": inserted.id, "idx": i, "input": text} for i, text in enumerate(items)],
            )
        fork = await self.get_fork(execution_arn, key)
        if inserted is None:
            return ForkStarted(fork, [], created=False)
        return ForkStarted(fork, [ForkItem(i, items[i]) for i in range(window)], created=True)

    async def get_fork(self, execution_arn: str, key: str) -> Fork:
        return _fork(await self._fork_row(execution_arn, key, lock=False), execution_arn)

    async def record_branch_result(
        self,
        execution_arn: str,
        key: str,
        index: int,
        ok: bool,
        *,
        output: str | None = None,
        error: str | None = None,
        cause: str | None = None,
    ) -> JoinProgress:
        """Record item ``index``'s result once; say what to start next and whether the join ended."""
        result = BranchResult(index, ok, output if ok else None, None if ok else error, None if ok else cause)
        return await self.record_branch_results(execution_arn, key, [result])

    async def record_branch_results(
        self, execution_arn: str, key: str, results: Sequence[BranchResult]
    ) -> JoinProgress:
        """Record several items' results in one go (same rules as one by one, in list order).

        Costs a handful of statements whatever the batch size: a worker that finishes many
        items at once (or a relay catching up) should use it.
        """
        fork = await self._fork_row(execution_arn, key, lock=True)
        batch: dict[int, BranchResult] = {}
        for result in results:
            if not 0 <= result.index < fork.total:
                raise ValidationError(
                    f"index {result.index} out of range for fork {key!r} of {fork.total} items"
                )
            batch.setdefault(result.index, result)
        new = await self._write_results(fork.id, list(batch.values()))
        status = ForkStatus(fork.status)
        if not new:
            return JoinProgress(False, [], False, False, status, fork.succeeded, fork.failed, fork.total)
        succeeded, failed = fork.succeeded, fork.failed
        complete = exceeded = False
        error = cause = None
        for result in new:
            succeeded += result.ok
            failed += not result.ok
            if status is not ForkStatus.RUNNING:
                continue
            if not result.ok and threshold_exceeded(
                failed, fork.total, fork.tolerated_failure_count, fork.tolerated_failure_percentage
            ):
                status, complete, exceeded = ForkStatus.FAILED, True, True
                error, cause = result.error, result.cause
            elif succeeded + failed == fork.total:
                status, complete = ForkStatus.SUCCEEDED, True
        start: list[ForkItem] = []
        if status is ForkStatus.RUNNING:
            start = await self._release(fork, succeeded + failed, fork.max_concurrency)
        await self._conn.execute(
            _COUNT_RESULTS,
            {
                "b_id": fork.id,
                "b_succeeded": succeeded,
                "b_failed": failed,
                "b_status": status.value,
                "b_next": fork.next_index + len(start),
            },
        )
        return JoinProgress(
            recorded=True,
            start=start,
            complete=complete,
            threshold_exceeded=exceeded,
            status=status,
            succeeded=succeeded,
            failed=failed,
            total=fork.total,
            results=await self._results(fork.id) if complete and not exceeded else None,
            error=error,
            cause=cause,
            recorded_indexes=tuple(r.index for r in new),
        )

    async def _write_results(self, fork_id: int, results: list[BranchResult]) -> list[BranchResult]:
        """Store the results of items that had none yet; returns those (the fork row is locked,
        so nobody else writes this fork's items meanwhile)."""
        finished = now()
        rows = [
            {
                "b_fork": fork_id,
                "b_idx": r.index,
                "b_ok": r.ok,
                "b_output": r.output if r.ok else None,
                "b_error": None if r.ok else r.error,
                "b_cause": None if r.ok else r.cause,
                "b_finish": finished,
            }
            for r in results
        ]
        if len(results) == 1:
            written = await self._conn.execute(_WRITE_RESULT, rows[0])
            return results if written.rowcount == 1 else []
        open_indexes: set[int] = set()
        for chunk in range(0, len(results), _CHUNK):
            indexes = [r.index for r in results[chunk : chunk + _CHUNK]]
            found = await self._conn.execute(
                sa.select(fi.c.idx).where(fi.c.fork_id == fork_id, fi.c.idx.in_(indexes), fi.c.ok.is_(None))
            )
            open_indexes.update(found.scalars())
        new = [r for r, row in zip(results, rows, strict=True) if r.index in open_indexes]
        if new:
            await self._conn.execute(_WRITE_RESULTS, [row for row in rows if row["b_idx"] in open_indexes])
        return new

    async def _results(self, fork_id: int) -> list[BranchResult]:
        rows = await self._conn.execute(
            sa.select(fi.c.idx, fi.c.ok, fi.c.output, fi.c.error, fi.c.cause)
            .where(fi.c.fork_id == fork_id)
            .order_by(fi.c.idx)
        )
        return [BranchResult(r.idx, bool(r.ok), r.output, r.error, r.cause) for r in rows if r.ok is not None]

    async def fork_results(self, execution_arn: str, key: str) -> list[BranchResult]:
        """Results recorded so far, in index order (for a redelivered join, or diagnostics)."""
        fork = await self._fork_row(execution_arn, key, lock=False)
        return await self._results(fork.id)

    async def update_fork(
        self,
        execution_arn: str,
        key: str,
        *,
        max_concurrency: int | None = None,
        tolerated_failure_count: int | None = None,
        tolerated_failure_percentage: float | None = None,
    ) -> list[ForkItem]:
        """Change the window or tolerances of a running fork; returns items a wider window frees."""
        fork = await self._fork_row(execution_arn, key, lock=True)
        values: dict[str, Any] = {}
        if tolerated_failure_count is not None:
            values["tolerated_failure_count"] = tolerated_failure_count
        if tolerated_failure_percentage is not None:
            values["tolerated_failure_percentage"] = tolerated_failure_percentage
        start: list[ForkItem] = []
        if max_concurrency is not None:
            if max_concurrency < 0:
                raise ValidationError("max_concurrency must be 0 (no limit) or more")
            values["max_concurrency"] = max_concurrency
            if fork.status == ForkStatus.RUNNING.value:
                start = await self._release(fork, fork.succeeded + fork.failed, max_concurrency)
                values["next_index"] = fork.next_index + len(start)
        if values:
            await self._conn.execute(sa.update(fk).where(fk.c.id == fork.id).values(**values))
        return start

    async def cancel_fork(self, execution_arn: str, key: str) -> list[int]:
        """Stop a running fork (no more releases); returns the indexes still in flight."""
        fork = await self._fork_row(execution_arn, key, lock=True)
        if fork.status != ForkStatus.RUNNING.value:
            return []
        await self._conn.execute(
            sa.update(fk).where(fk.c.id == fork.id).values(status=ForkStatus.CANCELLED.value)
        )
        rows = await self._conn.execute(
            sa.select(fi.c.idx)
            .where(fi.c.fork_id == fork.id, fi.c.idx < fork.next_index, fi.c.ok.is_(None))
            .order_by(fi.c.idx)
        )
        return [r.idx for r in rows]

    async def cancel_forks(self, execution_arn: str) -> dict[str, list[int]]:
        """Cancel every running fork of an execution (abort, timeout): key -> in-flight indexes."""
        execution_id = await self._execution_id(execution_arn, lock=True)
        keys = (
            (
                await self._conn.execute(
                    sa.select(fk.c.fork_key)
                    .where(fk.c.execution_id == execution_id, fk.c.status == ForkStatus.RUNNING.value)
                    .order_by(fk.c.id)
                )
            )
            .scalars()
            .all()
        )
        return {key: await self.cancel_fork(execution_arn, key) for key in keys}
