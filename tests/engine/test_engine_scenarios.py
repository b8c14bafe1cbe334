"""Every ASL scenario through the engine on the embedded default: in-memory transport,
SQLite store, time-skipping timers. Same tables as the pure interpreter tests."""

from __future__ import annotations

import re

import pytest
import pytest_asyncio

from runtime.embedded import EmbeddedRuntime, load_handler
from tests.scenarios import Scenario, all_scenarios

SCENARIOS = all_scenarios()
SERVICES = {name: load_handler(target) for sc in SCENARIOS for name, target in sc.services.items()}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def runtime():
    async with EmbeddedRuntime(services=SERVICES, time_skip=True) as rt:
        yield rt


def _name(sc: Scenario) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", sc.name)[:80]


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.id for s in SCENARIOS])
@pytest.mark.asyncio(loop_scope="module")
async def test_scenario_on_engine(runtime: EmbeddedRuntime, sc: Scenario) -> None:
    arn = await runtime.create_state_machine(_name(sc), sc.definition)
    result = (await runtime.run(arn, sc.input, timeout=30)).to_json()
    expect = dict(sc.expect)
    if "cause" not in expect:
        result.pop("cause", None)
    assert result == expect
