"""The PostgreSQL fast path (runtime/store/hopcommit.py) against the transactional path.

Every machine here runs twice on the same engine, broker and database: once with the
one-statement group commit, once with it switched off (every hop in a transaction). The two
histories must be identical event for event (ids, previous ids, types, details), which is
what makes the fast path an optimisation and not a second semantics. Further tests pin the
decisions the statement makes: a duplicate hop writes nothing, a hop of an ended execution
falls through to the transaction (which drops it and notes the redrive point), a hop inside
an ended join is dropped, and one failing statement does not fail the rest of its batch.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from runtime.engine.engine import BUILTIN_SERVICE, Engine
from runtime.engine.resources import ResourceMap
from runtime.hop import Hop
from runtime.store import Store
from runtime.store.hopcommit import HopCommitter, HopWrite
from runtime.transport import Transport
from services.sdk import Service
from tests.support.fastpath_cases import HISTORY_CASES, HISTORY_IDS, PARKED, SEQUENTIAL
from tests.support.stack import server_stack

pytest_plugins = ["tests.support.broker"]
pytestmark = [pytest.mark.integration]

ROLE = "arn:aws:iam::123456789012:role/statehop"


class Flaky(Exception):
    pass


@dataclass
class Runtime:
    store: Store
    transport: Transport
    engine: Engine
    committer: HopCommitter

    async def machine(self, definition: dict[str, Any], type: str = "STANDARD") -> str:
        async with self.store.transaction() as tx:
            sm = await tx.create_state_machine(
                f"fp-{uuid.uuid4().hex[:10]}", json.dumps(definition), ROLE, type=type
            )
        return str(sm.arn)

    async def history(self, arn: str) -> list[tuple[int, int, str, Any]]:
        async with self.store.transaction() as tx:
            events = (await tx.list_events(arn, max_results=1000)).items
        name = arn.rsplit(":", 1)[-1]
        return [
            (e.id, e.previous_event_id, e.type, json.loads((e.details or "null").replace(name, "NAME")))
            for e in events
        ]

    async def run(self, sm_arn: str, data: Any, *, fast: bool) -> tuple[str, list[tuple[int, int, str, Any]]]:
        self.engine._committer = self.committer if fast else None
        try:
            execution = await self.engine.start_execution(sm_arn, data)
            record = await self.engine.wait(execution.arn, 60)
        finally:
            self.engine._committer = self.committer
        return str(record.status), await self.history(record.arn)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rt(amqp_url: str) -> AsyncIterator[Runtime]:
    async with server_stack(amqp_url) as (store, transport, timers):
        engine = Engine(
            store,
            transport,
            timers,
            clock=timers.clock,
            resources=ResourceMap({}, known_services={"flaky", BUILTIN_SERVICE}),
        )
        attempts: dict[str, int] = {}
        service = Service("fast-path")

        @service.task("flaky")
        def flaky(payload: dict[str, Any]) -> dict[str, Any]:
            key = payload["key"]
            attempts[key] = attempts.get(key, 0) + 1
            if attempts[key] <= 2:
                raise Flaky(f"attempt {attempts[key]}")
            return {"ok": attempts[key]}

        await service.attach(transport)
        await engine.start()
        assert engine._committer is not None, "PostgreSQL must open the fast path"
        yield Runtime(store, transport, engine, engine._committer)


@pytest.mark.parametrize(
    ("definition", "data", "status", "quick_hops", "ordered"), HISTORY_CASES, ids=HISTORY_IDS
)
@pytest.mark.asyncio(loop_scope="module")
async def test_fast_and_transactional_histories_are_identical(
    rt: Runtime, definition: dict[str, Any], data: Any, status: str, quick_hops: int, ordered: bool
) -> None:
    sm = await rt.machine(definition)
    before = rt.committer.statements
    fast_status, fast = await rt.run(sm, data, fast=True)
    used = rt.committer.statements - before
    slow_status, slow = await rt.run(sm, data, fast=False)
    assert rt.committer.statements - before == used, "the transactional run used the fast path"
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
async def test_express_tasks_store_only_their_token_in_one_statement(rt: Runtime) -> None:
    """EXPRESS writes no history per transition; a Task's token is all it stores, and on
    PostgreSQL that goes through the one-statement commit too (dispatch and answer)."""
    sm = await rt.machine(SEQUENTIAL, type="EXPRESS")
    outputs = []
    for fast in (True, False):
        rt.engine._committer = rt.committer if fast else None
        before = rt.committer.statements
        try:
            execution = await rt.engine.start_execution(sm, {"items": []})
            record = await rt.engine.wait(execution.arn, 60)
        finally:
            rt.engine._committer = rt.committer
        outputs.append((str(record.status), json.loads(record.output or "null")))
        used = rt.committer.statements - before
        # three dispatches and three answers of Call (two failures retried): one statement each
        assert used == (6 if fast else 0), used
    assert outputs[0] == outputs[1]
    assert outputs[0][0] == "SUCCEEDED" and outputs[0][1]["called"] == {"ok": 3}


async def _running_execution(rt: Runtime) -> tuple[str, Hop]:
    """An execution that entered a Wait (its hops are processed here, never published), and
    the hop that would resume it."""
    sm = await rt.machine(PARKED)
    async with rt.store.transaction() as tx:
        started = await tx.create_execution(sm, name=f"parked-{uuid.uuid4().hex[:8]}", input='{"x": 1}')
    arn = started.execution.arn
    step, _ = await rt.engine.process(Hop(arn, sm, "W", {"input": {"x": 1}, "vars": {}}))
    assert step is not None
    assert [e[2] for e in await rt.history(arn)] == ["WaitStateEntered"]
    resume = Hop(arn, sm, "W", {"output": {"x": 1}, "vars": {}, "next": "P"}, seq=1, kind="resume")
    return arn, resume


@pytest.mark.asyncio(loop_scope="module")
async def test_a_duplicate_hop_writes_nothing(rt: Runtime) -> None:
    arn, hop = await _running_execution(rt)
    before = await rt.history(arn)
    step, rows = await rt.engine.process(hop)
    assert step is not None and rows, "the first delivery is applied, with its outbox row"
    after_first = await rt.history(arn)
    assert [e[2] for e in after_first[len(before) :]] == ["WaitStateExited"]
    again, rows_again = await rt.engine.process(hop)
    assert (again, rows_again) == (None, [])
    assert await rt.history(arn) == after_first


@pytest.mark.asyncio(loop_scope="module")
async def test_a_hop_of_a_stopped_execution_is_dropped_and_marks_the_redrive_point(rt: Runtime) -> None:
    arn, hop = await _running_execution(rt)
    assert arn in rt.engine._executions, "the fast path cached the execution"
    await rt.engine.stop_execution(arn, "Stop", "by the test")
    history = await rt.history(arn)
    assert (await rt.engine.process(hop)) == (None, [])
    assert await rt.history(arn) == history
    async with rt.store.transaction() as tx:
        point = await tx.get_redrive_point(arn)
    assert point is not None and json.loads(point)["state"] == "P"


@pytest.mark.asyncio(loop_scope="module")
async def test_one_bad_statement_does_not_fail_its_batch(rt: Runtime) -> None:
    arns = [(await _running_execution(rt))[0] for _ in range(3)]
    async with rt.store.transaction() as tx:
        counts = [await tx.event_count(a) for a in arns]
    writes = [
        HopWrite(arn, 0, [], f"batch-test-{uuid.uuid4()}", [("PassStateEntered", '{"name": "X"}', None)], [])
        for arn in arns
    ]
    # history_events.type is VARCHAR(64): the server refuses this one statement
    writes[1] = HopWrite(arns[1], 0, [], f"batch-test-{uuid.uuid4()}", [("X" * 100, None, None)], [])
    batches = rt.committer.batches
    results = await asyncio.gather(*(rt.committer.apply(w) for w in writes), return_exceptions=True)
    assert isinstance(results[1], asyncpg.PostgresError)
    assert [r.applied for i, r in enumerate(results) if i != 1] == [True, True]  # type: ignore[union-attr]
    assert rt.committer.batches == batches, "the failed batch was committed one statement at a time"
    async with rt.store.transaction() as tx:
        after = [await tx.event_count(a) for a in arns]
    assert after == [counts[0] + 1, counts[1], counts[2] + 1]


@pytest.mark.asyncio(loop_scope="module")
async def test_concurrent_hops_share_a_round_trip(rt: Runtime) -> None:
    arns = [(await _running_execution(rt))[0] for _ in range(12)]
    writes = [
        HopWrite(arn, 0, [], f"group-{uuid.uuid4()}", [("PassStateEntered", None, None)], []) for arn in arns
    ]
    batches = rt.committer.batches
    results = await asyncio.gather(*(rt.committer.apply(w) for w in writes))
    assert all(r.applied and r.running for r in results)
    assert rt.committer.batches - batches <= 3, "12 hops of one loop turn took more than 3 round trips"


@pytest.mark.asyncio(loop_scope="module")
async def test_a_hop_inside_an_ended_join_is_not_applied(rt: Runtime) -> None:
    arn, _ = await _running_execution(rt)
    async with rt.store.transaction() as tx:
        await tx.create_fork(arn, "Each~5", ['{"a": 1}'], max_concurrency=0, info="{}")
        await tx.record_branch_result(arn, "Each~5", 0, False, error="E", cause="c")
    result = await rt.committer.apply(
        HopWrite(arn, 0, ["Each~5"], f"in-join-{uuid.uuid4()}", [("PassStateEntered", None, None)], [])
    )
    assert (result.running, result.applied) == (False, False)
