"""The SQLite fast path (runtime/store/sqlitehops.py) against the transactional path.

The SQLite counterpart of tests/integration/test_fast_path.py, on the embedded runtime (the
in-memory database every ``statehop run`` uses) and on a database file. Every machine runs
twice on the same runtime: once with the grouped commit, once with it switched off (every hop
in a transaction); the two histories must be identical event for event. Further tests pin the
decisions the committer makes (a duplicate writes nothing, a hop of a stopped execution falls
through to the transaction, a hop inside an ended join is not applied, a settled task token is
not settled twice), that one bad hop does not fail its batch, that a locked database is a
transient error, and that the committer keeps the store's writer-lock discipline: it never
runs inside, or commits, another unit of work's transaction.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from runtime.embedded import EmbeddedRuntime
from runtime.hop import Hop
from runtime.store import Store
from runtime.store.errors import TransientStoreError
from runtime.store.hopcommit import HopWrite
from runtime.store.records import TaskTokenStatus
from runtime.store.sqlitehops import SqliteHopCommitter
from tests.support.fastpath_cases import HISTORY_CASES, HISTORY_IDS, PARKED, SEQUENTIAL, counter_loop

ROLE = "arn:aws:iam::123456789012:role/statehop"


class Flaky(Exception):
    pass


ATTEMPTS: dict[str, int] = {}


def flaky(payload: dict[str, Any]) -> dict[str, Any]:
    key = payload["key"]
    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
    if ATTEMPTS[key] <= 2:
        raise Flaky(f"attempt {ATTEMPTS[key]}")
    return {"ok": ATTEMPTS[key]}


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["memory", "file"])
async def rt(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    url = "sqlite+aiosqlite:///:memory:"
    if request.param == "file":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('fast') / 'state.db'}"
    async with EmbeddedRuntime(services={"flaky": flaky}, time_skip=True, database_url=url) as runtime:
        assert isinstance(runtime.engine._committer, SqliteHopCommitter), "SQLite must open the fast path"
        yield runtime


def committer(rt: Any) -> SqliteHopCommitter:
    c = rt.store._committer
    assert isinstance(c, SqliteHopCommitter)
    return c


async def machine(rt: Any, definition: dict[str, Any], type: str = "STANDARD") -> str:
    async with rt.store.transaction() as tx:
        sm = await tx.create_state_machine(
            f"fp-{uuid.uuid4().hex[:10]}", json.dumps(definition), ROLE, type=type
        )
    return str(sm.arn)


async def history(rt: Any, arn: str) -> list[tuple[int, int, str, Any]]:
    async with rt.store.transaction() as tx:
        events = (await tx.list_events(arn, max_results=1000)).items
    name = arn.rsplit(":", 1)[-1]
    return [
        (e.id, e.previous_event_id, e.type, json.loads((e.details or "null").replace(name, "NAME")))
        for e in events
    ]


async def run(rt: Any, sm_arn: str, data: Any, *, fast: bool) -> tuple[str, list[tuple[int, int, str, Any]]]:
    rt.engine._committer = committer(rt) if fast else None
    try:
        execution = await rt.engine.start_execution(sm_arn, data)
        record = await rt.engine.wait(execution.arn, 60)
    finally:
        rt.engine._committer = committer(rt)
    return str(record.status), await history(rt, record.arn)


@pytest.mark.parametrize(
    ("definition", "data", "status", "quick_hops", "ordered"), HISTORY_CASES, ids=HISTORY_IDS
)
@pytest.mark.asyncio(loop_scope="module")
async def test_fast_and_transactional_histories_are_identical(
    rt: Any, definition: dict[str, Any], data: Any, status: str, quick_hops: int, ordered: bool
) -> None:
    sm = await machine(rt, definition)
    before = committer(rt).statements
    fast_status, fast = await run(rt, sm, data, fast=True)
    used = committer(rt).statements - before
    slow_status, slow = await run(rt, sm, data, fast=False)
    assert committer(rt).statements - before == used, "the transactional run used the fast path"
    assert (fast_status, slow_status) == (status, status)
    assert used >= quick_hops, f"only {used} hops took the fast path"
    assert [e[0] for e in fast] == list(range(1, len(fast) + 1))
    if ordered:
        assert [e[2] for e in fast] == [e[2] for e in slow]
        assert fast == slow
    else:
        assert sorted(json.dumps(e[2:], sort_keys=True) for e in fast) == sorted(
            json.dumps(e[2:], sort_keys=True) for e in slow
        )


@pytest.mark.asyncio(loop_scope="module")
async def test_express_tasks_store_only_their_token_through_the_committer(rt: Any) -> None:
    """EXPRESS writes no history per transition; a Task's token is all it stores, through the
    hop commit too (dispatch and answer)."""
    sm = await machine(rt, SEQUENTIAL, type="EXPRESS")
    outputs = []
    for fast in (True, False):
        rt.engine._committer = committer(rt) if fast else None
        before = committer(rt).statements
        try:
            execution = await rt.engine.start_execution(sm, {"items": []})
            record = await rt.engine.wait(execution.arn, 60)
        finally:
            rt.engine._committer = committer(rt)
        outputs.append((str(record.status), json.loads(record.output or "null")))
        used = committer(rt).statements - before
        # three dispatches and three answers of Call (two failures retried): one hop each
        assert used == (6 if fast else 0), used
        assert [e[2] for e in await history(rt, record.arn)] == ["ExecutionStarted", "ExecutionSucceeded"]
    assert outputs[0] == outputs[1]
    assert outputs[0][0] == "SUCCEEDED" and outputs[0][1]["called"] == {"ok": 3}


PURE_LOOP = counter_loop(5)


@pytest.mark.asyncio(loop_scope="module")
async def test_concurrent_executions_share_transactions_and_leave_no_outbox(rt: Any) -> None:
    sm = await machine(rt, PURE_LOOP)
    c = committer(rt)
    hops, batches = c.statements, c.batches
    started = [await rt.engine.start_execution(sm, {}) for _ in range(12)]
    records = [await rt.engine.wait(e.arn, 60) for e in started]
    assert {str(r.status) for r in records} == {"SUCCEEDED"}
    used, transactions = c.statements - hops, c.batches - batches
    assert used == 12 * 11  # all but Done, which ends the execution in a transaction
    assert transactions < used / 2, f"{used} hops in {transactions} transactions: not grouped"
    await c.flush_published()
    async with rt.store.transaction() as tx:
        assert await tx.pending_outbox(1000) == [], "published outbox rows were not deleted"


async def _running_execution(rt: Any) -> tuple[str, Hop]:
    """An execution that entered a Wait (its hops are processed here, never published), and
    the hop that would resume it."""
    sm = await machine(rt, PARKED)
    async with rt.store.transaction() as tx:
        started = await tx.create_execution(sm, name=f"parked-{uuid.uuid4().hex[:8]}", input='{"x": 1}')
    arn = started.execution.arn
    step, _ = await rt.engine.process(Hop(arn, sm, "W", {"input": {"x": 1}, "vars": {}}))
    assert step is not None
    assert [e[2] for e in await history(rt, arn)] == ["WaitStateEntered"]
    resume = Hop(arn, sm, "W", {"output": {"x": 1}, "vars": {}, "next": "P"}, seq=1, kind="resume")
    return arn, resume


async def _event_counts(rt: Any, arns: list[str]) -> list[int]:
    async with rt.store.transaction() as tx:
        return [await tx.event_count(a) for a in arns]


@pytest.mark.asyncio(loop_scope="module")
async def test_a_duplicate_hop_writes_nothing(rt: Any) -> None:
    arn, hop = await _running_execution(rt)
    before = await history(rt, arn)
    hops = committer(rt).statements
    step, rows = await rt.engine.process(hop)
    assert step is not None and rows, "the first delivery is applied, with its outbox row"
    assert committer(rt).statements == hops + 1, "the resume did not take the fast path"
    after_first = await history(rt, arn)
    assert [e[2] for e in after_first[len(before) :]] == ["WaitStateExited"]
    again, rows_again = await rt.engine.process(hop)
    assert (again, rows_again) == (None, [])
    assert await history(rt, arn) == after_first


@pytest.mark.asyncio(loop_scope="module")
async def test_duplicates_inside_one_batch_are_applied_once(rt: Any) -> None:
    arn, _ = await _running_execution(rt)
    [count] = await _event_counts(rt, [arn])
    write = HopWrite(arn, 0, [], f"twice-{uuid.uuid4()}", [("PassStateEntered", '{"name": "X"}', None)], [])
    batches = committer(rt).batches
    first, second = await asyncio.gather(committer(rt).apply(write), committer(rt).apply(write))
    assert committer(rt).batches == batches + 1, "both went into one transaction"
    assert (first.running, first.applied, second.running, second.applied) == (True, True, True, False)
    assert await _event_counts(rt, [arn]) == [count + 1]


@pytest.mark.asyncio(loop_scope="module")
async def test_a_hop_of_a_stopped_execution_is_dropped_and_marks_the_redrive_point(rt: Any) -> None:
    arn, hop = await _running_execution(rt)
    assert arn in rt.engine._executions, "the fast path cached the execution"
    await rt.engine.stop_execution(arn, "Stop", "by the test")
    result = await committer(rt).apply(HopWrite(arn, 0, [], f"late-{uuid.uuid4()}", [("X", None, None)], []))
    assert (result.running, result.applied) == (False, False)
    events = await history(rt, arn)
    assert (await rt.engine.process(hop)) == (None, [])
    assert await history(rt, arn) == events
    async with rt.store.transaction() as tx:
        point = await tx.get_redrive_point(arn)
    assert point is not None and json.loads(point)["state"] == "P"


@pytest.mark.asyncio(loop_scope="module")
async def test_a_hop_of_an_earlier_redrive_is_not_applied(rt: Any) -> None:
    arn, _ = await _running_execution(rt)
    result = await committer(rt).apply(HopWrite(arn, 1, [], f"gen-{uuid.uuid4()}", [("X", None, None)], []))
    assert (result.running, result.applied) == (False, False)


@pytest.mark.asyncio(loop_scope="module")
async def test_a_hop_inside_an_ended_join_is_not_applied(rt: Any) -> None:
    arn, _ = await _running_execution(rt)
    async with rt.store.transaction() as tx:
        await tx.create_fork(arn, "Each~5", ['{"a": 1}'], max_concurrency=0, info="{}")
        await tx.create_fork(arn, "Each~5/0/Inner~2", ['{"a": 1}'], max_concurrency=0, info="{}")
        await tx.record_branch_result(arn, "Each~5", 0, False, error="E", cause="c")
    [count] = await _event_counts(rt, [arn])
    result = await committer(rt).apply(
        HopWrite(arn, 0, ["Each~5", "Each~5/0/Inner~2"], f"in-join-{uuid.uuid4()}", [("X", None, None)], [])
    )
    assert (result.running, result.applied) == (False, False)
    running_join = await committer(rt).apply(
        HopWrite(arn, 0, ["Each~5/0/Inner~2"], f"in-join-{uuid.uuid4()}", [("X", None, None)], [])
    )
    assert (running_join.running, running_join.applied) == (True, True)
    assert await _event_counts(rt, [arn]) == [count + 1]


@pytest.mark.asyncio(loop_scope="module")
async def test_task_tokens_are_issued_once_and_settled_once(rt: Any) -> None:
    arn, _ = await _running_execution(rt)
    c = committer(rt)
    token = f"tok-{uuid.uuid4().hex}"
    issue = (token, "Call", "", 0, '{"seq": 1}', None, None)
    dispatched = await c.apply(HopWrite(arn, 0, [], f"dispatch-{uuid.uuid4()}", [], [], issue=[issue]))
    assert (dispatched.running, dispatched.applied) == (True, True)
    async with rt.store.transaction() as tx:
        stored = await tx.get_task_token(token)
        execution = await tx.get_execution(arn)
    assert await c.load_token(token) == {**dataclasses.asdict(stored), "status": "PENDING"}
    answer = await c.load_answer(token)
    assert answer is not None
    assert (answer.status, answer.execution_arn, answer.start_date, answer.state_machine_arn) == (
        "PENDING",
        arn,
        execution.start_date,
        execution.state_machine_arn,
    )
    assert await c.load_token("no-such-token") is None
    settle = (token, TaskTokenStatus.SUCCEEDED.value, '{"ok": 1}', None, None)
    answered, late = await asyncio.gather(
        c.apply(
            HopWrite(arn, 0, [], f"answer-{uuid.uuid4()}", [("TaskSucceeded", None, None)], [], settle=settle)
        ),
        c.apply(
            HopWrite(arn, 0, [], f"timeout-{uuid.uuid4()}", [("TaskTimedOut", None, None)], [], settle=settle)
        ),
    )
    assert (answered.running, answered.applied) == (True, True)
    assert (late.running, late.applied) == (False, False), "a settled token was settled again"
    async with rt.store.transaction() as tx:
        settled = await tx.get_task_token(token)
    assert (settled.status, settled.output) == (TaskTokenStatus.SUCCEEDED, '{"ok": 1}')


@pytest.mark.asyncio(loop_scope="module")
async def test_one_bad_hop_does_not_fail_its_batch(rt: Any) -> None:
    arns = [(await _running_execution(rt))[0] for _ in range(3)]
    counts = await _event_counts(rt, arns)
    writes = [
        HopWrite(arn, 0, [], f"batch-test-{uuid.uuid4()}", [("PassStateEntered", '{"name": "X"}', None)], [])
        for arn in arns
    ]
    # details must be JSON text: sqlite3 cannot bind a dict, so this one hop fails
    writes[1] = HopWrite(arns[1], 0, [], f"batch-test-{uuid.uuid4()}", [("X", {"no": "text"}, None)], [])  # type: ignore[list-item]
    c = committer(rt)
    batches = c.batches
    results = await asyncio.gather(*(c.apply(w) for w in writes), return_exceptions=True)
    assert isinstance(results[1], sqlite3.Error)
    assert [r.applied for i, r in enumerate(results) if i != 1] == [True, True]  # type: ignore[union-attr]
    assert c.batches == batches + 2, "the failed batch was committed one hop at a time"
    assert await _event_counts(rt, arns) == [counts[0] + 1, counts[1], counts[2] + 1]


@pytest.mark.asyncio(loop_scope="module")
async def test_the_committer_waits_for_an_open_transaction_and_never_commits_it(rt: Any) -> None:
    """The store's writer-lock discipline: a batch neither runs inside another unit of work's
    transaction (the in-memory database has one connection) nor makes it commit."""
    arn, _ = await _running_execution(rt)
    [count] = await _event_counts(rt, [arn])
    write = HopWrite(arn, 0, [], f"waits-{uuid.uuid4()}", [("PassStateEntered", None, None)], [])

    class Rollback(Exception):
        pass

    applying: asyncio.Task[Any] | None = None
    with pytest.raises(Rollback):
        async with rt.store.transaction() as tx:
            await tx.append_events(arn, [("Uncommitted", None, None)])
            applying = asyncio.create_task(committer(rt).apply(write))
            await asyncio.sleep(0.05)
            assert not applying.done(), "the batch ran while a transaction was open"
            raise Rollback
    assert applying is not None
    result = await asyncio.wait_for(applying, 10)
    assert (result.running, result.applied) == (True, True)
    events = await history(rt, arn)
    assert [e[2] for e in events[count:]] == ["PassStateEntered"]
    assert events[-1][0] == count + 1, "the rolled-back event took an id"


async def test_a_locked_database_is_a_transient_error(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'locked.db'}"
    async with Store(url, sqlite_busy_timeout=0.2) as store:
        await store.migrate()
        async with store.transaction() as tx:
            sm = await tx.create_state_machine("locked", json.dumps(PARKED), ROLE)
            arn = (await tx.create_execution(sm.arn, name="e")).execution.arn
        c = await store.hop_committer()
        other = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
            with pytest.raises(TransientStoreError):
                await c.apply(HopWrite(arn, 0, [], "m-1", [("X", None, None)], []))
            other.execute("ROLLBACK")
            result = await c.apply(HopWrite(arn, 0, [], "m-1", [("X", None, None)], []))
            assert (result.running, result.applied) == (True, True)
        finally:
            other.close()
