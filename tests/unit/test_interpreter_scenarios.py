"""Every ASL scenario through the pure interpreter (no broker, no store)."""

from __future__ import annotations

import pytest

from tests.scenarios import Scenario, all_scenarios
from tests.support.driver import run

SCENARIOS = all_scenarios()


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_scenario(sc: Scenario) -> None:
    got = run(sc.definition, sc.input, sc.services)
    expect = dict(sc.expect)
    if "cause" not in expect:
        got.pop("cause", None)
    assert got == expect


def test_scenario_names_are_unique() -> None:
    names = [s.name for s in SCENARIOS]
    assert len(names) == len(set(names))
