"""Every ASL scenario through the engine on real RabbitMQ + PostgreSQL.

The same tables and expectations as tests/engine/test_engine_scenarios.py (in-memory transport,
SQLite), but every hop, task message and reply crosses a real broker (quorum queues, publisher
confirms, manual acks) under a unique queue prefix, and every transition is a PostgreSQL
transaction in a database of its own. Timers are in-process with a virtual clock, so Waits and
retry back-off are skipped over as soon as the broker is idle.

One runtime serves the whole module; its queues, exchanges and database are deleted afterwards.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import pytest_asyncio

from runtime.embedded import RunResult, load_handler
from runtime.engine.engine import BUILTIN_SERVICE, Engine
from runtime.engine.resources import ResourceMap
from runtime.integrations import builtin_service
from runtime.store import Store
from runtime.transport import Transport
from services.sdk import Service
from tests.scenarios import Scenario, all_scenarios
from tests.support.stack import server_stack

# amqp_url: found, or started, or the test FAILS (never skips); a plugin so asserts are rewritten
pytest_plugins = ["tests.support.broker"]

pytestmark = [pytest.mark.integration]

SCENARIOS = all_scenarios()
SERVICES = {name: load_handler(target) for sc in SCENARIOS for name, target in sc.services.items()}
RUN_TIMEOUT = 60.0  # per execution; a bound on waiting, never asserted as a speed


@dataclass
class BrokerRuntime:
    store: Store
    transport: Transport
    engine: Engine

    async def create_state_machine(self, name: str, definition: dict[str, Any]) -> str:
        async with self.store.transaction() as tx:
            machine = await tx.create_state_machine(
                name, json.dumps(definition), role_arn="arn:aws:iam::123456789012:role/statehop"
            )
        return str(machine.arn)

    async def run(self, arn: str, data: Any, timeout: float) -> RunResult:
        execution = await self.engine.start_execution(arn, data)
        record = await self.engine.wait(execution.arn, timeout)
        output = orjson.loads(record.output) if record.output is not None else None
        return RunResult(record.arn, str(record.status), output, record.error, record.cause)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def runtime(amqp_url: str) -> AsyncIterator[BrokerRuntime]:
    options = {"publish_timeout": 15.0, "connection_name": "statehop-test-scenarios"}
    async with server_stack(amqp_url, **options) as (store, transport, timers):
        known = set(SERVICES) | {BUILTIN_SERVICE}
        engine = Engine(
            store, transport, timers, clock=timers.clock, resources=ResourceMap({}, known_services=known)
        )
        service = Service("scenarios")
        for name, fn in SERVICES.items():
            service.task(name)(fn)
        await service.attach(transport)
        await builtin_service().attach(transport)
        await engine.start()
        yield BrokerRuntime(store, transport, engine)


def _name(sc: Scenario) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", sc.name)[:80]


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.id for s in SCENARIOS])
@pytest.mark.asyncio(loop_scope="module")
async def test_scenario_on_rabbitmq_postgres(runtime: BrokerRuntime, sc: Scenario) -> None:
    arn = await runtime.create_state_machine(_name(sc), sc.definition)
    result = (await runtime.run(arn, sc.input, timeout=RUN_TIMEOUT)).to_json()
    expect = dict(sc.expect)
    if "cause" not in expect:
        result.pop("cause", None)
    assert result == expect


# --------------------------------------------------------------------------- history order
# Regression: Engine._end_execution used to write ExecutionSucceeded/ExecutionFailed with
# tx.append_events() at once, before the events the same hop had collected (the last state's
# StateEntered/StateExited, FailStateEntered), so histories ended with a state's events. AWS always
# ends GetExecutionHistory with the Execution* event (clients read the outcome with
# reverseOrder=true, maxResults=1).

_PASS_A = {"Type": "Pass", "Next": "B"}
ENDINGS = [
    (
        "succeed",
        {"StartAt": "A", "States": {"A": _PASS_A, "B": {"Type": "Pass", "End": True}}},
        "ExecutionSucceeded",
    ),
    (
        "fail",
        {"StartAt": "A", "States": {"A": _PASS_A, "B": {"Type": "Fail", "Error": "E", "Cause": "c"}}},
        "ExecutionFailed",
    ),
]


@pytest.mark.parametrize(("kind", "definition", "last"), ENDINGS, ids=[e[0] for e in ENDINGS])
@pytest.mark.asyncio(loop_scope="module")
async def test_history_ends_with_the_execution_event(
    runtime: BrokerRuntime, kind: str, definition: dict[str, Any], last: str
) -> None:
    arn = await runtime.create_state_machine(f"bug-history-order-{kind}", definition)
    result = await runtime.run(arn, {}, timeout=RUN_TIMEOUT)
    async with runtime.store.transaction() as tx:
        events = (await tx.list_events(result.arn, max_results=1000)).items
    types = [e.type for e in events]
    assert types[-1] == last, f"history does not end with {last}: {types}"
