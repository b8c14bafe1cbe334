"""EXPRESS hops of an execution seen running recently need no store transaction.

The engine re-reads an EXPRESS execution's status at most every ``express_recheck_seconds``;
in between, hops whose state needs nothing from the store (Pass, Choice, Wait...) are
interpreted and published directly. States that need the store (a Task's token, a join, the
end) still take a transaction, so a stopped execution never dispatches work or ends twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from runtime.embedded import EmbeddedRuntime
from runtime.hop import Hop
from tests.support.fastpath_cases import counter_loop

LOOP = counter_loop(20)


@contextlib.asynccontextmanager
async def counting(rt: EmbeddedRuntime) -> AsyncIterator[list[int]]:
    """Count the store round trips made while the block runs: transactions, and the fast
    path's one-query reads of an execution (how a recheck reads it)."""
    count = [0]
    original = rt.store.transaction
    committer = rt.engine._committer
    assert committer is not None, "the embedded runtime opens the SQLite fast path"
    load = committer.load_execution

    def transaction(*args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return original(*args, **kwargs)

    async def load_execution(*args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return await load(*args, **kwargs)

    rt.store.transaction = transaction  # type: ignore[method-assign]
    committer.load_execution = load_execution  # type: ignore[method-assign]
    try:
        yield count
    finally:
        rt.store.transaction = original  # type: ignore[method-assign]
        committer.load_execution = load  # type: ignore[method-assign]


@pytest.mark.parametrize(("recheck", "most"), [(60.0, 8), (0.0, 60)], ids=["cached", "recheck-every-hop"])
async def test_express_hops_skip_the_store_while_the_execution_is_known_running(
    recheck: float, most: int
) -> None:
    async with EmbeddedRuntime(time_skip=True) as rt:
        rt.engine.express_recheck_seconds = recheck
        arn = await rt.create_state_machine("express-loop", LOOP, type="EXPRESS")
        async with counting(rt) as count:
            result = await rt.run(arn, {})
        assert (result.status, result.output) == ("SUCCEEDED", {"n": 20})
        # 41 hops; with the cache: start, the first hop, the end, and the wait() polls
        assert count[0] <= most, f"{count[0]} transactions for 41 EXPRESS hops"
        if recheck == 0.0:
            assert count[0] >= 41


async def test_a_stopped_express_execution_is_not_continued_past_its_recheck() -> None:
    async with EmbeddedRuntime(time_skip=True) as rt:
        rt.engine.express_recheck_seconds = 60.0
        arn = await rt.create_state_machine(
            "express-parked",
            {
                "StartAt": "W",
                "States": {
                    "W": {"Type": "Wait", "Seconds": 3600, "Next": "P"},
                    "P": {"Type": "Pass", "End": True},
                },
            },
            type="EXPRESS",
        )
        execution = await rt.engine.start_execution(arn, {})
        await rt.engine.stop_execution(execution.arn, "Stop", "test")
        # the resume hop (as the timer would send it): this worker forgot the execution on stop,
        # so it takes the transaction, sees ABORTED and drops it
        hop = Hop(
            execution.arn,
            arn,
            "W",
            {"output": {}, "vars": {}, "next": "P"},
            seq=1,
            kind="resume",
            workflow_type="EXPRESS",
        )
        assert await rt.engine.process(hop) == (None, [])
        record = await rt.engine.wait(execution.arn, 5)
        assert record.status == "ABORTED"


async def test_an_express_execution_times_out_after_five_minutes_without_timeout_seconds() -> None:
    """AWS's limit; it is also what ends an EXPRESS execution whose transient hop was lost."""
    parked = {
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "Seconds": 3600, "Next": "P"}, "P": {"Type": "Pass", "End": True}},
    }
    async with EmbeddedRuntime(time_skip=True) as rt:
        express = await rt.create_state_machine("express-long", parked, type="EXPRESS")
        standard = await rt.create_state_machine("standard-long", parked)
        result = await rt.run(express, {}, timeout=30)
        assert (result.status, result.error) == ("TIMED_OUT", "States.Timeout")
        assert (await rt.run(standard, {}, timeout=30)).status == "SUCCEEDED"
        rt.engine.express_max_seconds = 7200
        assert (await rt.run(express, {}, timeout=30)).status == "SUCCEEDED"
