"""The store against SQLite and PostgreSQL: every operation, idempotency, concurrency, paging."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from runtime.asl.errors import StateHopError
from runtime.store import (
    ActivityDoesNotExist,
    BranchResult,
    ConflictError,
    ExecutionAlreadyExists,
    ExecutionDoesNotExist,
    ExecutionNotRedrivable,
    ExecutionStatus,
    ForkDoesNotExist,
    ForkStatus,
    InvalidArn,
    InvalidName,
    InvalidToken,
    MapRunStatus,
    NewEvent,
    OutboxMessage,
    ResourceNotFound,
    StateMachineAlreadyExists,
    StateMachineDeleting,
    StateMachineDoesNotExist,
    StateMachineStatus,
    StateMachineType,
    Store,
    StoreError,
    TaskDoesNotExist,
    TaskTimedOut,
    TaskTokenStatus,
    TooManyTags,
    Transaction,
    TransientStoreError,
    ValidationError,
    details_key,
    parse_state_machine_arn,
)
from runtime.store.migrations import (
    VERSION_TABLE,
    current_revision_async,
    downgrade_async,
    head_revision,
    upgrade,
    upgrade_async,
)
from runtime.store.pagination import decode_token, encode_token, page_size
from runtime.store.tables import metadata
from tests.support.db import create_postgres_database, drop_postgres_database, require_postgres

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/statehop"
DEFINITION = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}'
DEFINITION_2 = '{"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}'
REPO_ROOT = Path(__file__).resolve().parents[2]


async def new_machine(store: Store, name: str = "machine", definition: str = DEFINITION, **kw: Any) -> str:
    async with store.transaction() as tx:
        return (await tx.create_state_machine(name, definition, ROLE, **kw)).arn


async def new_execution(
    store: Store, machine_arn: str, name: str = "run", input: str = "{}", **kw: Any
) -> str:
    async with store.transaction() as tx:
        return (await tx.create_execution(machine_arn, name=name, input=input, **kw)).execution.arn


async def page_all(fetch: Any) -> tuple[list[Any], int]:
    """Follow next_token to the end; returns (items, number of pages)."""
    items: list[Any] = []
    token = None
    pages = 0
    while True:
        page = await fetch(token)
        pages += 1
        items.extend(page.items)
        token = page.next_token
        if token is None:
            return items, pages


# --- migrations ------------------------------------------------------------------------------


async def test_migrations_upgrade_from_empty_and_match_the_models(database_url: str) -> None:
    assert await current_revision_async(database_url) is None
    await upgrade_async(database_url)
    assert await current_revision_async(database_url) == head_revision() == "0002"
    await upgrade_async(database_url)  # idempotent: already at head

    async with Store(database_url) as store:

        def diff(conn: Any) -> list[Any]:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "version_table": VERSION_TABLE}
            )
            return list(compare_metadata(context, metadata))

        def table_names(conn: Any) -> set[str]:
            return set(inspect(conn).get_table_names())

        async with store.engine.connect() as conn:
            assert await conn.run_sync(diff) == []
            assert set(metadata.tables) <= await conn.run_sync(table_names)

        await downgrade_async(store.engine, "base")
        async with store.engine.connect() as conn:
            assert await conn.run_sync(table_names) <= {"statehop_alembic_version"}
        assert await store.schema_revision() is None
        await store.migrate()
        assert await store.is_up_to_date()


async def test_sync_upgrade_entry_point_works_inside_a_running_loop(database_url: str) -> None:
    upgrade(database_url)  # runs its own loop in a worker thread
    assert await current_revision_async(database_url) == head_revision()


# --- state machines --------------------------------------------------------------------------


async def test_create_describe_and_idempotent_create(store: Store) -> None:
    async with store.transaction() as tx:
        machine = await tx.create_state_machine(
            "orders",
            DEFINITION,
            ROLE,
            type=StateMachineType.EXPRESS,
            logging_configuration={"level": "ALL"},
            tracing_configuration='{"enabled":true}',
            tags={"team": "core"},
        )
    assert machine.arn == "arn:aws:states:us-east-1:123456789012:stateMachine:orders"
    assert machine.type is StateMachineType.EXPRESS
    assert machine.status is StateMachineStatus.ACTIVE
    assert machine.logging_configuration == '{"level":"ALL"}'
    assert machine.creation_date.tzinfo is UTC
    async with store.transaction() as tx:
        assert await tx.describe_state_machine(machine.arn) == machine
        again = await tx.create_state_machine(
            "orders",
            DEFINITION,
            ROLE,
            type=StateMachineType.EXPRESS,
            logging_configuration={"level": "ALL"},
            tracing_configuration='{"enabled":true}',
        )
        assert again == machine
        assert await tx.list_tags(machine.arn) == {"team": "core"}
        with pytest.raises(StateMachineAlreadyExists):
            await tx.create_state_machine("orders", DEFINITION_2, ROLE, type=StateMachineType.EXPRESS)
        with pytest.raises(StateMachineDoesNotExist):
            await tx.describe_state_machine(tx.arns.state_machine("nope"))
        with pytest.raises(InvalidArn):
            await tx.describe_state_machine("not-an-arn")
        for bad in ("", "x" * 81, "has space", "a:b", "a/b", "tab\tname"):
            with pytest.raises(InvalidName):
                await tx.create_state_machine(bad, DEFINITION, ROLE)


async def test_store_errors_derive_from_the_one_hierarchy() -> None:
    assert issubclass(StoreError, StateHopError)
    for error in (StateMachineDoesNotExist, ExecutionAlreadyExists, ConflictError, TransientStoreError):
        assert issubclass(error, StoreError)
    assert ExecutionAlreadyExists.aws_code == "ExecutionAlreadyExists"
    assert ConflictError.aws_code == "ConflictException"


async def test_region_and_account_come_from_configuration(database_url: str) -> None:
    async with Store(database_url, region="eu-west-3", account="000011112222") as store:
        await store.migrate()
        arn = await new_machine(store)
    assert arn == "arn:aws:states:eu-west-3:000011112222:stateMachine:machine"


async def test_large_definition_round_trips_exactly(store: Store) -> None:
    states = {f"S{i}": {"Type": "Pass", "Result": "x" * 100, "Next": f"S{i + 1}"} for i in range(12_000)}
    states["S12000"] = {"Type": "Succeed"}
    definition = orjson.dumps({"StartAt": "S0", "States": states}, option=orjson.OPT_INDENT_2).decode()
    assert len(definition) > 1_500_000
    arn = await new_machine(store, "big", definition)
    async with store.transaction(readonly=True) as tx:
        assert (await tx.describe_state_machine(arn)).definition == definition


async def test_update_makes_revisions_and_executions_keep_theirs(store: Store) -> None:
    arn = await new_machine(store)
    execution = await new_execution(store, arn)
    async with store.transaction() as tx:
        before = await tx.describe_state_machine(arn)
        same = await tx.update_state_machine(arn, definition=DEFINITION)
        assert same.revision_id == before.revision_id
        after = await tx.update_state_machine(arn, definition=DEFINITION_2, role_arn=ROLE + "2")
        assert after.revision_id != before.revision_id
        assert (after.definition, after.role_arn) == (DEFINITION_2, ROLE + "2")
        assert after.creation_date == before.creation_date
        pinned = await tx.describe_state_machine_for_execution(execution)
        assert (pinned.definition, pinned.revision_id) == (DEFINITION, before.revision_id)
        logged = await tx.update_state_machine(arn, logging_configuration={"level": "ERROR"})
        assert logged.definition == DEFINITION_2 and logged.logging_configuration == '{"level":"ERROR"}'
        with pytest.raises(StateMachineDoesNotExist):
            await tx.update_state_machine(tx.arns.state_machine("nope"), definition=DEFINITION)
        with pytest.raises(InvalidArn):
            await tx.update_state_machine(arn + ":1", definition=DEFINITION)
        with pytest.raises(ExecutionDoesNotExist):
            await tx.describe_state_machine_for_execution(tx.arns.execution("machine", "nope"))


async def test_list_state_machines_pages_in_creation_order(store: Store) -> None:
    names = [f"m{i}" for i in range(7)]
    for name in names:
        await new_machine(store, name)
    async with store.transaction(readonly=True) as tx:
        items, pages = await page_all(lambda token: tx.list_state_machines(max_results=3, next_token=token))
        assert [m.name for m in items] == names and pages == 3
        assert len((await tx.list_state_machines()).items) == 7
        token = (await tx.list_state_machines(max_results=3)).next_token
        with pytest.raises(InvalidToken):
            await tx.list_activities(next_token=token)
        with pytest.raises(InvalidToken):
            await tx.list_state_machines(next_token="garbage!")
        with pytest.raises(ValidationError):
            await tx.list_state_machines(max_results=1001)


async def test_delete_state_machine_waits_for_running_executions(store: Store) -> None:
    idle = await new_machine(store, "idle")
    busy = await new_machine(store, "busy")
    running = await new_execution(store, busy)
    async with store.transaction() as tx:
        await tx.delete_state_machine(idle)
        await tx.delete_state_machine(idle)  # idempotent
        await tx.delete_state_machine(busy)
        with pytest.raises(StateMachineDoesNotExist):
            await tx.describe_state_machine(idle)
        assert (await tx.describe_state_machine(busy)).status is StateMachineStatus.DELETING
        assert [m.name for m in (await tx.list_state_machines()).items] == []
        with pytest.raises(StateMachineDeleting):
            await tx.create_state_machine("busy", DEFINITION, ROLE)
        with pytest.raises(StateMachineDeleting):
            await tx.create_execution(busy, name="another")
        assert await tx.purge_deleting_state_machines() == 0
        assert (await tx.get_execution(running)).status is ExecutionStatus.RUNNING
        await tx.finish_execution(running, ExecutionStatus.SUCCEEDED, output="{}")
        assert await tx.purge_deleting_state_machines() == 1
        with pytest.raises(ExecutionDoesNotExist):
            await tx.get_execution(running)
        await tx.create_state_machine("busy", DEFINITION, ROLE)  # the name is free again


# --- versions and aliases --------------------------------------------------------------------


async def test_versions_publish_list_describe_delete(store: Store) -> None:
    arn = await new_machine(store)
    async with store.transaction() as tx:
        v1 = await tx.publish_version(arn, description="first")
        assert (v1.version, v1.arn) == (1, arn + ":1")
        assert await tx.publish_version(arn) == v1  # unchanged revision -> the same version
        assert await tx.publish_version(arn, description="first") == v1
        with pytest.raises(ConflictError):
            await tx.publish_version(arn, description="other")
        machine = await tx.update_state_machine(arn, definition=DEFINITION_2)
        with pytest.raises(ConflictError):
            await tx.publish_version(arn, expected_revision_id=v1.revision_id)
        v2 = await tx.publish_version(arn, expected_revision_id=machine.revision_id)
        assert v2.version == 2 and v2.revision_id == machine.revision_id
        described = await tx.describe_state_machine(v1.arn)
        assert (described.arn, described.version, described.definition) == (v1.arn, 1, DEFINITION)
        assert described.description == "first"
        with pytest.raises(StateMachineDoesNotExist):
            await tx.describe_state_machine(arn + ":9")
        await tx.update_state_machine(arn, definition=DEFINITION + " ")
        v3 = await tx.publish_version(arn)
        listed, pages = await page_all(lambda token: tx.list_versions(arn, max_results=2, next_token=token))
        assert [v.version for v in listed] == [3, 2, 1] and pages == 2
        await tx.delete_version(v3.arn)
        await tx.delete_version(v3.arn)  # idempotent
        with pytest.raises(InvalidArn):
            await tx.delete_version(arn)
        await tx.update_state_machine(arn, definition=DEFINITION + "  ")
        assert (await tx.publish_version(arn)).version == 4  # numbers are never reused


async def test_aliases_route_and_validate(store: Store) -> None:
    arn = await new_machine(store)
    other = await new_machine(store, "other")
    async with store.transaction() as tx:
        v1 = await tx.publish_version(arn)
        await tx.update_state_machine(arn, definition=DEFINITION_2)
        v2 = await tx.publish_version(arn)
        foreign = await tx.publish_version(other)
        for routing in (
            [],
            [(v1.arn, 50)],
            [(v1.arn, 50), (v1.arn, 50)],
            [(v1.arn, 50), (foreign.arn, 50)],
            [(v1.arn, 40), (v2.arn, 40), (v2.arn, 20)],
            [(arn + ":7", 100)],
            [(v1.arn, 110), (v2.arn, -10)],
        ):
            with pytest.raises((ValidationError, ResourceNotFound)):
                await tx.create_alias("live", routing)
        with pytest.raises(InvalidName):
            await tx.create_alias("123", [(v1.arn, 100)])
        alias = await tx.create_alias("live", [(v1.arn, 90), (v2.arn, 10)], description="canary")
        assert alias.arn == arn + ":live" and alias.state_machine_arn == arn
        assert [tuple(r) for r in alias.routing] == [(v1.arn, 90), (v2.arn, 10)]
        assert await tx.create_alias("live", [(v1.arn, 90), (v2.arn, 10)], description="canary") == alias
        with pytest.raises(ConflictError):
            await tx.create_alias("live", [(v1.arn, 100)])
        with pytest.raises(ConflictError):
            await tx.delete_version(v2.arn)

        low = await tx.create_execution(alias.arn, name="low", route_roll=5.0)
        high = await tx.create_execution(alias.arn, name="high", route_roll=95.0)
        plain = await tx.create_execution(v1.arn, name="plain")
        assert low.execution.state_machine_version_arn == v1.arn
        assert high.execution.state_machine_version_arn == v2.arn
        assert (
            low.execution.state_machine_alias_arn == alias.arn
            and plain.execution.state_machine_alias_arn is None
        )
        assert low.execution.arn == tx.arns.execution("machine", "low")
        pinned = await tx.describe_state_machine_for_execution(high.execution.arn)
        assert pinned.definition == DEFINITION_2

        by_alias = await tx.list_executions(state_machine_arn=alias.arn)
        assert {e.name for e in by_alias.items} == {"low", "high"}
        by_version = await tx.list_executions(state_machine_arn=v1.arn)
        assert {e.name for e in by_version.items} == {"low", "plain"}

        updated = await tx.update_alias(alias.arn, routing=[(v2.arn, 100)], description="all in")
        assert [tuple(r) for r in updated.routing] == [(v2.arn, 100)] and updated.description == "all in"
        assert updated.update_date >= alias.update_date
        with pytest.raises(ValidationError):
            await tx.update_alias(alias.arn, routing=[(foreign.arn, 100)])
        await tx.delete_version(v1.arn)  # no longer routed to
        await tx.create_alias("beta", [(v2.arn, 100)])
        listed, pages = await page_all(lambda token: tx.list_aliases(arn, max_results=1, next_token=token))
        assert [a.name for a in listed] == ["live", "beta"] and pages == 2
        await tx.delete_alias(alias.arn)
        with pytest.raises(ResourceNotFound):
            await tx.describe_alias(alias.arn)
        with pytest.raises(StateMachineDoesNotExist):
            await tx.create_execution(alias.arn, name="gone")


# --- tags and activities ---------------------------------------------------------------------


async def test_tags(store: Store) -> None:
    arn = await new_machine(store)
    async with store.transaction() as tx:
        await tx.tag_resource(arn, {"a": "1", "b": "2"})
        await tx.tag_resource(arn, {"b": "3"})
        assert await tx.list_tags(arn) == {"a": "1", "b": "3"}
        await tx.untag_resource(arn, ["a", "missing"])
        assert await tx.list_tags(arn) == {"b": "3"}
        with pytest.raises(TooManyTags):
            await tx.tag_resource(arn, {f"k{i}": "v" for i in range(50)})
        with pytest.raises(TooManyTags):
            await tx.tag_resource(arn, {"k" * 129: "v"})
        with pytest.raises(ResourceNotFound):
            await tx.tag_resource(tx.arns.state_machine("nope"), {"a": "1"})
        with pytest.raises(ResourceNotFound):
            await tx.list_tags(tx.arns.activity("nope"))
        await tx.delete_state_machine(arn)
        await tx.create_state_machine("machine", DEFINITION, ROLE)
        assert await tx.list_tags(arn) == {}  # a new machine of the same name starts clean


async def test_activities(store: Store) -> None:
    async with store.transaction() as tx:
        first = await tx.create_activity("work", tags={"x": "1"})
        assert first.arn == "arn:aws:states:us-east-1:123456789012:activity:work"
        assert await tx.create_activity("work") == first
        assert await tx.describe_activity(first.arn) == first
        assert await tx.list_tags(first.arn) == {"x": "1"}
        for i in range(4):
            await tx.create_activity(f"a{i}")
        listed, pages = await page_all(lambda token: tx.list_activities(max_results=2, next_token=token))
        assert [a.name for a in listed] == ["work", "a0", "a1", "a2", "a3"] and pages == 3
        await tx.delete_activity(first.arn)
        await tx.delete_activity(first.arn)
        with pytest.raises(ActivityDoesNotExist):
            await tx.describe_activity(first.arn)
        with pytest.raises(InvalidName):
            await tx.create_activity("bad name")


# --- executions ------------------------------------------------------------------------------


async def test_create_execution_is_idempotent_by_name(store: Store) -> None:
    arn = await new_machine(store)
    async with store.transaction() as tx:
        started = await tx.create_execution(
            arn, name="e1", input='{"a":1}', trace_header="Root=1-abc", parent_execution_arn="arn:parent"
        )
        assert started.created
        execution = started.execution
        assert execution.arn == tx.arns.execution("machine", "e1")
        assert (execution.status, execution.type, execution.input) == (
            ExecutionStatus.RUNNING,
            StateMachineType.STANDARD,
            '{"a":1}',
        )
        assert await tx.get_execution(execution.arn) == execution
        again = await tx.create_execution(arn, name="e1", input='{"a":1}')
        assert not again.created and again.execution == execution
        with pytest.raises(ExecutionAlreadyExists):
            await tx.create_execution(arn, name="e1", input='{"a":2}')
        await tx.finish_execution(execution.arn, ExecutionStatus.SUCCEEDED, output="{}")
        assert not (await tx.create_execution(arn, name="e1", input='{"a":1}')).created
        with pytest.raises(ExecutionAlreadyExists):
            await tx.create_execution(arn, name="e1", input='{"a":1}', reuse_closed=False)
        generated = await tx.create_execution(arn)
        assert len(generated.execution.name) == 36 and generated.execution.input == "{}"
        express = await tx.create_execution(arn, name="x", type=StateMachineType.EXPRESS)
        assert express.execution.type is StateMachineType.EXPRESS
        with pytest.raises(InvalidName):
            await tx.create_execution(arn, name="bad name")
        with pytest.raises(ExecutionDoesNotExist):
            await tx.get_execution(tx.arns.execution("machine", "nope"))


async def test_concurrent_starts_of_one_name_create_it_once(database_url: str, store: Store) -> None:
    arn = await new_machine(store)
    async with Store(database_url) as other:

        async def start(s: Store) -> bool:
            async with s.transaction() as tx:
                return (await tx.create_execution(arn, name="same", input="{}")).created

        results = await asyncio.gather(*(start(s) for s in (store, other) for _ in range(4)))
    assert sorted(results) == [False] * 7 + [True]


async def test_list_executions_newest_first_with_filters_and_pages(store: Store) -> None:
    arn = await new_machine(store)
    other = await new_machine(store, "other")
    names = [f"e{i}" for i in range(9)]
    for name in names:
        await new_execution(store, arn, name)
    await new_execution(store, other, "elsewhere")
    async with store.transaction() as tx:
        for name in ("e1", "e4", "e7"):
            await tx.finish_execution(tx.arns.execution("machine", name), ExecutionStatus.FAILED, error="E")
        items, pages = await page_all(
            lambda token: tx.list_executions(state_machine_arn=arn, max_results=4, next_token=token)
        )
        assert [e.name for e in items] == names[::-1] and pages == 3
        failed, _ = await page_all(
            lambda token: tx.list_executions(
                state_machine_arn=arn, status=ExecutionStatus.FAILED, max_results=2, next_token=token
            )
        )
        assert [e.name for e in failed] == ["e7", "e4", "e1"]
        assert all(e.stop_date is not None for e in failed)
        token = (await tx.list_executions(state_machine_arn=arn, max_results=2)).next_token
        with pytest.raises(InvalidToken):
            await tx.list_executions(state_machine_arn=arn, status=ExecutionStatus.FAILED, next_token=token)
        with pytest.raises(ValidationError):
            await tx.list_executions()
        with pytest.raises(StateMachineDoesNotExist):
            await tx.list_executions(state_machine_arn=tx.arns.state_machine("nope"))


async def test_finish_records_the_ending_once(store: Store) -> None:
    arn = await new_machine(store)
    execution = await new_execution(store, arn)
    async with store.transaction() as tx:
        assert await tx.finish_execution(
            execution, ExecutionStatus.FAILED, error="States.Timeout", cause="slow"
        )
        assert not await tx.finish_execution(execution, ExecutionStatus.SUCCEEDED, output='{"late":true}')
        record = await tx.get_execution(execution)
        assert (record.status, record.error, record.cause, record.output) == (
            ExecutionStatus.FAILED,
            "States.Timeout",
            "slow",
            None,
        )
        assert record.stop_date is not None and record.stop_date >= record.start_date
        with pytest.raises(ValidationError):
            await tx.finish_execution(execution, ExecutionStatus.RUNNING)
        with pytest.raises(ExecutionDoesNotExist):
            await tx.finish_execution(tx.arns.execution("machine", "nope"), ExecutionStatus.ABORTED)


async def test_concurrent_finishes_record_one_ending(database_url: str, store: Store) -> None:
    arn = await new_machine(store)
    execution = await new_execution(store, arn)
    async with Store(database_url) as other:

        async def finish(s: Store, status: ExecutionStatus) -> bool:
            async with s.transaction() as tx:
                return await tx.finish_execution(execution, status, output="{}")

        results = await asyncio.gather(
            finish(store, ExecutionStatus.SUCCEEDED), finish(other, ExecutionStatus.ABORTED)
        )
    assert sorted(results) == [False, True]


async def test_redrive(store: Store) -> None:
    arn = await new_machine(store)
    express = await new_machine(store, "fast", type=StateMachineType.EXPRESS)
    execution = await new_execution(store, arn)
    quick = await new_execution(store, express)
    async with store.transaction() as tx:
        with pytest.raises(ExecutionNotRedrivable):
            await tx.redrive_execution(execution)  # still running
        await tx.finish_execution(execution, ExecutionStatus.FAILED, error="E", cause="C")
        redriven = await tx.redrive_execution(execution)
        assert (redriven.status, redriven.redrive_count, redriven.error, redriven.stop_date) == (
            ExecutionStatus.RUNNING,
            1,
            None,
            None,
        )
        assert redriven.redrive_date is not None
        await tx.finish_execution(execution, ExecutionStatus.TIMED_OUT)
        parked = await tx.redrive_execution(execution, pending=True)
        assert (parked.status, parked.redrive_count) == (ExecutionStatus.PENDING_REDRIVE, 2)
        assert (await tx.redrive_execution(execution, pending=True)).redrive_count == 2
        resumed = await tx.redrive_execution(execution)
        assert (resumed.status, resumed.redrive_count) == (ExecutionStatus.RUNNING, 2)
        await tx.finish_execution(quick, ExecutionStatus.FAILED)
        with pytest.raises(ExecutionNotRedrivable):
            await tx.redrive_execution(quick)
        await tx.finish_execution(execution, ExecutionStatus.SUCCEEDED)
        with pytest.raises(ExecutionNotRedrivable):
            await tx.redrive_execution(execution)


async def test_child_executions(store: Store) -> None:
    arn = await new_machine(store)
    parent = await new_execution(store, arn, "parent")
    async with store.transaction() as tx:
        await tx.create_execution(arn, name="child1", parent_execution_arn=parent)
        child2 = await tx.create_execution(arn, name="child2", parent_execution_arn=parent)
        await tx.finish_execution(child2.execution.arn, ExecutionStatus.SUCCEEDED)
        children = await tx.list_child_executions(parent)
        assert [c.name for c in children] == ["child1", "child2"]
        running = await tx.list_child_executions(parent, status=ExecutionStatus.RUNNING)
        assert [c.name for c in running] == ["child1"]
        assert (await tx.get_execution(child2.execution.arn)).parent_execution_arn == parent


# --- history ---------------------------------------------------------------------------------


async def test_append_and_list_events(store: Store) -> None:
    arn = await new_machine(store)
    execution = await new_execution(store, arn)
    async with store.transaction() as tx:
        ids = await tx.append_events(
            execution,
            [
                (
                    "ExecutionStarted",
                    {"input": '{"a":1}', "inputDetails": {"truncated": False}, "roleArn": ROLE},
                ),
                NewEvent("PassStateEntered", {"name": "A", "input": "{}"}),
                ("PassStateExited", '{"name":"A","output":"{}"}', None),
            ],
        )
        assert ids == [1, 2, 3]
        more = await tx.append_events(
            execution,
            [
                NewEvent("ParallelStateStarted"),
                NewEvent("TaskScheduled", {"resource": "x"}, previous_event_id=-1),
                NewEvent("TaskStarted", {"resource": "x"}, previous_event_id=2),
                NewEvent("ExecutionSucceeded", {"output": "{}"}, previous_event_id=-2),
            ],
        )
        assert more == [4, 5, 6, 7]
        assert await tx.append_events(execution, []) == []
        assert await tx.event_count(execution) == 7
        with pytest.raises(ExecutionDoesNotExist):
            await tx.append_events(tx.arns.execution("machine", "nope"), [("ExecutionStarted", {})])

    async with store.transaction(readonly=True) as tx:
        events = (await tx.list_events(execution)).items
        assert [e.id for e in events] == [1, 2, 3, 4, 5, 6, 7]
        assert [e.previous_event_id for e in events] == [0, 1, 2, 3, 4, 2, 5]
        assert events[0].type == "ExecutionStarted" and events[0].details_dict() == {
            "input": '{"a":1}',
            "inputDetails": {"truncated": False},
            "roleArn": ROLE,
        }
        assert events[3].details is None
        assert events[0].to_aws()["executionStartedEventDetails"]["roleArn"] == ROLE
        assert "parallelStateStartedEventDetails" not in events[3].to_aws()
        assert events[1].to_aws(include_data=False)["stateEnteredEventDetails"] == {"name": "A"}
        stripped = (await tx.list_events(execution, include_data=False)).items
        assert stripped[0].details_dict() == {"roleArn": ROLE}
        assert stripped[2].details_dict() == {"name": "A"}
        backwards, pages = await page_all(
            lambda token: tx.list_events(execution, reverse=True, max_results=3, next_token=token)
        )
        assert [e.id for e in backwards] == [7, 6, 5, 4, 3, 2, 1] and pages == 3
        forwards, pages = await page_all(
            lambda token: tx.list_events(execution, max_results=7, next_token=token)
        )
        assert len(forwards) == 7 and pages == 1
        token = (await tx.list_events(execution, max_results=2)).next_token
        with pytest.raises(InvalidToken):
            await tx.list_events(execution, reverse=True, next_token=token)
    assert details_key("MapIterationStarted") == "mapIterationStartedEventDetails"
    assert details_key("ChoiceStateExited") == "stateExitedEventDetails"


async def test_concurrent_appends_get_unique_contiguous_ids(database_url: str, store: Store) -> None:
    arn = await new_machine(store)
    execution = await new_execution(store, arn)
    async with Store(database_url) as other:

        async def writer(s: Store, who: str, batches: int) -> list[list[int]]:
            out = []
            for b in range(batches):
                size = 1 + b % 3
                async with s.transaction() as tx:
                    out.append(
                        await tx.append_events(
                            execution, [(f"Ev{who}", {"who": who, "b": b, "i": i}) for i in range(size)]
                        )
                    )
            return out

        results = await asyncio.gather(
            *(writer(s, f"{n}{k}", 15) for n, s in enumerate((store, other)) for k in range(3))
        )
    batches = [batch for result in results for batch in result]
    ids = sorted(i for batch in batches for i in batch)
    assert ids == list(range(1, len(ids) + 1))
    assert all(batch == list(range(batch[0], batch[0] + len(batch))) for batch in batches)
    async with store.transaction(readonly=True) as tx:
        stored = (await tx.list_events(execution, max_results=1000)).items
    assert [e.id for e in stored] == ids
    by_id = {e.id: e.details_dict() for e in stored}
    for batch in batches:  # a batch's events stayed together, in order
        assert [by_id[i]["i"] for i in batch] == list(range(len(batch)))  # type: ignore[index]


# --- exactly-once plumbing -------------------------------------------------------------------


async def test_mark_applied_and_outbox(store: Store) -> None:
    async with store.transaction() as tx:
        assert await tx.mark_applied("hop-1")
        assert not await tx.mark_applied("hop-1")
        assert await tx.is_applied("hop-1") and not await tx.is_applied("hop-2")
        ids = await tx.add_outbox(
            [
                OutboxMessage("statehop", "hop.work", b'\x00{"a":1}\xff', {"x-seq": 3}, "m-1"),
                ("statehop", "task.svc", b"{}"),
            ]
        )
        assert len(ids) == 2 and ids[0] < ids[1]
        assert len(await tx.add_outbox([OutboxMessage("", "reply", b"1")])) == 1
        assert await tx.add_outbox([]) == []
    async with store.transaction() as tx:
        pending = await tx.pending_outbox(limit=2)
        assert [p.id for p in pending] == ids
        assert pending[0].body == b'\x00{"a":1}\xff' and pending[0].headers == {"x-seq": 3}
        assert (pending[0].destination, pending[0].routing_key, pending[0].message_id) == (
            "statehop",
            "hop.work",
            "m-1",
        )
        assert pending[1].headers == {} and pending[1].message_id is None
        assert await tx.delete_outbox(ids) == 2
        assert await tx.delete_outbox(ids) == 0
        assert await tx.delete_outbox([]) == 0
        assert [p.routing_key for p in await tx.pending_outbox()] == ["reply"]
        assert await tx.prune_applied(datetime.now(UTC) - timedelta(hours=1)) == 0
        assert await tx.prune_applied(datetime.now(UTC) + timedelta(seconds=1)) == 1
        assert not await tx.is_applied("hop-1")


async def test_a_failed_hop_leaves_no_trace(store: Store) -> None:
    arn = await new_machine(store)
    execution = await new_execution(store, arn)
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            assert await tx.mark_applied("hop-9")
            await tx.append_events(execution, [("PassStateEntered", {"name": "A"})])
            await tx.add_outbox([("statehop", "hop", b"{}")])
            raise RuntimeError("crash before commit")
    async with store.transaction() as tx:
        assert not await tx.is_applied("hop-9")
        assert await tx.event_count(execution) == 0
        assert await tx.pending_outbox() == []
        assert await tx.mark_applied("hop-9")


async def test_concurrent_mark_applied_lets_one_win(database_url: str, store: Store) -> None:
    async with Store(database_url) as other:

        async def apply(s: Store) -> bool:
            async with s.transaction() as tx:
                return await tx.mark_applied("the-hop")

        results = await asyncio.gather(*(apply(s) for s in (store, other) for _ in range(3)))
    assert sorted(results) == [False] * 5 + [True]


async def test_relays_do_not_share_outbox_rows_on_postgres(database_url: str, store: Store) -> None:
    async with store.transaction() as tx:
        await tx.add_outbox([("x", f"k{i}", b"") for i in range(10)])
    if make_url(database_url).get_backend_name() != "postgresql":
        return  # SQLite has one writer: two relays cannot overlap at all
    async with Store(database_url) as other, store.transaction() as first, other.transaction() as second:
        a = await first.pending_outbox(limit=6)
        b = await second.pending_outbox(limit=6)
        assert len(a) == 6 and len(b) == 4
        assert not {r.id for r in a} & {r.id for r in b}


# --- fan-out / join --------------------------------------------------------------------------


async def _execution_with_fork(
    store: Store, items: list[str], key: str = "/Map", **kw: Any
) -> tuple[str, list[int]]:
    arn = await new_machine(store)
    execution = await new_execution(store, arn)
    async with store.transaction() as tx:
        started = await tx.create_fork(execution, key, items, **kw)
    return execution, [item.index for item in started.start]


async def test_fork_window_slides_and_join_completes_in_index_order(store: Store) -> None:
    items = [f'{{"n":{i}}}' for i in range(5)]
    execution, first = await _execution_with_fork(store, items, max_concurrency=2, info={"state": "Map"})
    assert first == [0, 1]
    async with store.transaction() as tx:
        fork = await tx.get_fork(execution, "/Map")
        assert (fork.total, fork.next_index, fork.running, fork.status, fork.info) == (
            5,
            2,
            2,
            ForkStatus.RUNNING,
            '{"state":"Map"}',
        )
        p = await tx.record_branch_result(execution, "/Map", 1, True, output='"one"')
        assert p.recorded and [(i.index, i.input) for i in p.start] == [(2, '{"n":2}')] and not p.complete
        duplicate = await tx.record_branch_result(execution, "/Map", 1, True, output='"again"')
        assert not duplicate.recorded and duplicate.start == [] and not duplicate.complete
        assert [
            i.index for i in (await tx.record_branch_result(execution, "/Map", 0, True, output="0")).start
        ] == [3]
        assert [
            i.index for i in (await tx.record_branch_result(execution, "/Map", 3, True, output="3")).start
        ] == [4]
        assert (await tx.record_branch_result(execution, "/Map", 4, True, output="4")).start == []
        last = await tx.record_branch_result(execution, "/Map", 2, True, output="2")
        assert last.complete and not last.threshold_exceeded and last.status is ForkStatus.SUCCEEDED
        assert last.results is not None
        assert [(r.index, r.output) for r in last.results] == [
            (0, "0"),
            (1, '"one"'),
            (2, "2"),
            (3, "3"),
            (4, "4"),
        ]
        assert (last.succeeded, last.failed, last.total) == (5, 0, 5)
        assert [r.index for r in await tx.fork_results(execution, "/Map")] == [0, 1, 2, 3, 4]
        late = await tx.record_branch_result(execution, "/Map", 2, False, error="E")
        assert not late.recorded
        with pytest.raises(ValidationError):
            await tx.record_branch_result(execution, "/Map", 5, True)
        with pytest.raises(ForkDoesNotExist):
            await tx.record_branch_result(execution, "/Other", 0, True)


async def test_fork_creation_is_idempotent_and_empty_forks_are_done(store: Store) -> None:
    execution, first = await _execution_with_fork(store, ["1", "2", "3"])
    assert first == [0, 1, 2]  # no limit: everything starts at once
    async with store.transaction() as tx:
        again = await tx.create_fork(execution, "/Map", ["1", "2", "3"])
        assert not again.created and again.start == [] and again.fork.next_index == 3
        empty = await tx.create_fork(execution, "/Empty", [])
        assert empty.created and empty.fork.status is ForkStatus.SUCCEEDED and empty.start == []
        with pytest.raises(ValidationError):
            await tx.create_fork(execution, "/Bad", ["1"], max_concurrency=-1)
        with pytest.raises(ExecutionDoesNotExist):
            await tx.create_fork(tx.arns.execution("machine", "nope"), "/Map", ["1"])


async def test_failure_thresholds(store: Store) -> None:
    execution, _ = await _execution_with_fork(store, ["{}"] * 4, key="/Parallel")
    async with store.transaction() as tx:
        assert not (await tx.record_branch_result(execution, "/Parallel", 0, True, output="{}")).complete
        failed = await tx.record_branch_result(execution, "/Parallel", 1, False, error="Boom", cause="bad")
        assert failed.complete and failed.threshold_exceeded and failed.status is ForkStatus.FAILED
        assert (failed.error, failed.cause, failed.results) == ("Boom", "bad", None)
        after = await tx.record_branch_result(execution, "/Parallel", 2, True, output="{}")
        assert after.recorded and not after.complete and after.status is ForkStatus.FAILED
        assert after.start == []

        await tx.create_fork(execution, "/Count", ["{}"] * 5, tolerated_failure_count=1)
        assert not (await tx.record_branch_result(execution, "/Count", 0, False, error="E")).complete
        assert (await tx.record_branch_result(execution, "/Count", 1, False, error="E2")).threshold_exceeded

        await tx.create_fork(execution, "/Pct", ["{}"] * 4, tolerated_failure_percentage=50)
        for index in (0, 1):
            assert not (await tx.record_branch_result(execution, "/Pct", index, False, error="E")).complete
        await tx.record_branch_result(execution, "/Pct", 2, True, output="{}")
        done = await tx.record_branch_result(execution, "/Pct", 3, True, output="{}")
        assert done.complete and not done.threshold_exceeded and done.status is ForkStatus.SUCCEEDED
        assert done.results is not None
        assert [(r.ok, r.error) for r in done.results] == [
            (False, "E"),
            (False, "E"),
            (True, None),
            (True, None),
        ]


async def test_cancel_and_update_fork(store: Store) -> None:
    execution, _ = await _execution_with_fork(store, ["{}"] * 10, max_concurrency=2)
    async with store.transaction() as tx:
        await tx.record_branch_result(execution, "/Map", 0, True, output="{}")
        wider = await tx.update_fork(execution, "/Map", max_concurrency=5, tolerated_failure_count=3)
        assert [i.index for i in wider] == [3, 4, 5]  # 1 and 2 run, 5 may: three more
        fork = await tx.get_fork(execution, "/Map")
        assert (fork.next_index, fork.max_concurrency, fork.tolerated_failure_count) == (6, 5, 3)
        assert await tx.update_fork(execution, "/Map", max_concurrency=1) == []
        assert await tx.cancel_fork(execution, "/Map") == [1, 2, 3, 4, 5]
        assert await tx.cancel_fork(execution, "/Map") == []
        late = await tx.record_branch_result(execution, "/Map", 1, True, output="{}")
        assert late.recorded and late.start == [] and late.status is ForkStatus.CANCELLED
        await tx.create_fork(execution, "/A", ["{}", "{}"])
        await tx.create_fork(execution, "/B", ["{}"], max_concurrency=1)
        assert await tx.cancel_forks(execution) == {"/A": [0, 1], "/B": [0]}
        with pytest.raises(ForkDoesNotExist):
            await tx.get_fork(execution, "/C")


async def test_ten_thousand_items(store: Store) -> None:
    total = 10_000
    items = [f'{{"item":{i},"pad":"{"x" * 20}"}}' for i in range(total)]
    execution, first = await _execution_with_fork(store, items, max_concurrency=1000)
    assert first == list(range(1000))
    started = set(first)
    completions = 0
    queue = list(first)
    final = None
    while queue:
        batch, queue = queue[:250], queue[250:]
        async with store.transaction() as tx:
            progress = await tx.record_branch_results(
                execution, "/Map", [BranchResult(i, True, output=str(i)) for i in batch]
            )
        assert progress.recorded_indexes == tuple(batch)
        completions += progress.complete
        for item in progress.start:
            assert item.index not in started and item.input == items[item.index]
            started.add(item.index)
            queue.append(item.index)
        final = progress if progress.complete else final
    assert completions == 1 and len(started) == total
    assert final is not None and final.results is not None
    assert [r.output for r in final.results] == [str(i) for i in range(total)]
    async with store.transaction(readonly=True) as tx:
        fork = await tx.get_fork(execution, "/Map")
    assert (fork.succeeded, fork.next_index, fork.status) == (total, total, ForkStatus.SUCCEEDED)


async def test_batched_results_follow_the_same_rules(store: Store) -> None:
    execution, _ = await _execution_with_fork(
        store, [str(i) for i in range(8)], max_concurrency=3, tolerated_failure_count=1
    )
    async with store.transaction() as tx:
        one = await tx.record_branch_results(
            execution,
            "/Map",
            [BranchResult(0, True, "a"), BranchResult(0, False, error="dup"), BranchResult(1, True, "b")],
        )
        assert one.recorded_indexes == (0, 1) and [i.index for i in one.start] == [3, 4]
        again = await tx.record_branch_results(
            execution, "/Map", [BranchResult(1, True, "x"), BranchResult(2, False, error="E1")]
        )
        assert again.recorded_indexes == (2,) and not again.complete and [i.index for i in again.start] == [5]
        tipped = await tx.record_branch_results(
            execution, "/Map", [BranchResult(3, False, error="E2", cause="c2"), BranchResult(4, True, "e")]
        )
        assert tipped.complete and tipped.threshold_exceeded and (tipped.error, tipped.cause) == ("E2", "c2")
        assert tipped.start == [] and (tipped.succeeded, tipped.failed) == (3, 2)
        assert not (await tx.record_branch_results(execution, "/Map", [])).recorded
        with pytest.raises(ValidationError):
            await tx.record_branch_results(execution, "/Map", [BranchResult(8, True)])
        results = await tx.fork_results(execution, "/Map")
        assert [(r.index, r.ok, r.output, r.error) for r in results] == [
            (0, True, "a", None),
            (1, True, "b", None),
            (2, False, None, "E1"),
            (3, False, None, "E2"),
            (4, True, "e", None),
        ]


async def test_concurrent_completions_never_double_count(database_url: str, store: Store) -> None:
    total, window = 60, 8
    execution, first = await _execution_with_fork(
        store, [str(i) for i in range(total)], max_concurrency=window
    )
    released: Counter[int] = Counter(first)
    recorded: Counter[int] = Counter()
    completes: list[Any] = []
    async with Store(database_url) as other:

        async def worker(s: Store, indexes: list[int]) -> None:
            for index in indexes:
                async with s.transaction() as tx:
                    progress = await tx.record_branch_result(
                        execution, "/Map", index, True, output=str(index)
                    )
                recorded[index] += progress.recorded
                released.update(item.index for item in progress.start)
                if progress.complete:
                    completes.append(progress)

        # every item is reported twice, by both stores, in different orders
        order = list(range(total))
        await asyncio.gather(
            worker(store, order),
            worker(other, order[::-1]),
            worker(store, order[1::2]),
            worker(other, order[::2]),
        )
    assert all(recorded[i] == 1 for i in range(total)) and len(recorded) == total
    assert sorted(released) == list(range(total)) and set(released.values()) == {1}
    assert len(completes) == 1 and completes[0].succeeded == total
    async with store.transaction(readonly=True) as tx:
        fork = await tx.get_fork(execution, "/Map")
    assert (fork.succeeded, fork.failed, fork.next_index, fork.status) == (
        total,
        0,
        total,
        ForkStatus.SUCCEEDED,
    )


@pytest.mark.slow
async def test_two_processes_complete_one_fork(database_url: str, store: Store) -> None:
    total = 40
    execution, first = await _execution_with_fork(store, [str(i) for i in range(total)], max_concurrency=4)

    async def process(first_index: int, step: int) -> list[list[str]]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.support.db", "complete-fork", database_url, execution, "/Map",
            str(first_index), str(step), str(total),
            cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        return [line.split() for line in out.decode().splitlines()]

    # both processes report every item
    lines = [line for result in await asyncio.gather(process(0, 1), process(0, 1)) for line in result]
    recorded = Counter(int(index) for index, rec, _, _ in lines if rec == "1")
    completes = sum(int(done) for _, _, done, _ in lines)
    released = Counter(int(i) for *_, started in lines if started != "-" for i in started.split(","))
    released.update(first)
    assert len(lines) == 2 * total
    assert sorted(recorded) == list(range(total)) and set(recorded.values()) == {1}
    assert completes == 1
    assert sorted(released) == list(range(total)) and set(released.values()) == {1}


# --- task tokens -----------------------------------------------------------------------------


async def test_task_tokens(store: Store) -> None:
    arn = await new_machine(store)
    execution = await new_execution(store, arn)
    async with store.transaction() as tx:
        token = await tx.create_task_token(
            execution, "Approve", branch_path="/Parallel/0", attempt=2, info={"seq": 7}
        )
        assert len(token) >= 40
        record = await tx.get_task_token(token)
        assert (record.execution_arn, record.state_name, record.branch_path, record.attempt, record.info) == (
            execution,
            "Approve",
            "/Parallel/0",
            2,
            '{"seq":7}',
        )
        assert record.status is TaskTokenStatus.PENDING and record.heartbeat_date is None
        beat = await tx.heartbeat_task_token(token)
        assert beat.heartbeat_date is not None
        assert await tx.complete_task_token(token, TaskTokenStatus.SUCCEEDED, output='{"ok":true}')
        assert not await tx.complete_task_token(token, TaskTokenStatus.FAILED, error="E")
        done = await tx.get_task_token(token)
        assert (done.status, done.output, done.error) == (TaskTokenStatus.SUCCEEDED, '{"ok":true}', None)
        assert done.completion_date is not None
        with pytest.raises(TaskTimedOut):
            await tx.heartbeat_task_token(token)
        with pytest.raises(TaskDoesNotExist):
            await tx.get_task_token("nope")
        with pytest.raises(TaskDoesNotExist):
            await tx.complete_task_token("nope", TaskTokenStatus.SUCCEEDED)
        with pytest.raises(ValidationError):
            await tx.complete_task_token(token, TaskTokenStatus.PENDING)
        given = await tx.create_task_token(execution, "Wait", token="my-token")
        assert given == "my-token"
        assert await tx.create_task_token(execution, "Wait", token="my-token") == "my-token"
        other = await tx.create_task_token(execution, "Other")
        assert sorted(await tx.cancel_task_tokens(execution)) == sorted(["my-token", other])
        assert (await tx.get_task_token(other)).status is TaskTokenStatus.CANCELLED
        assert await tx.cancel_task_tokens(execution) == []


async def test_concurrent_token_completions_settle_once(database_url: str, store: Store) -> None:
    arn = await new_machine(store)
    execution = await new_execution(store, arn)
    async with store.transaction() as tx:
        token = await tx.create_task_token(execution, "Task")
    async with Store(database_url) as other:

        async def complete(s: Store, status: TaskTokenStatus) -> bool:
            async with s.transaction() as tx:
                return await tx.complete_task_token(token, status, output="{}")

        results = await asyncio.gather(
            complete(store, TaskTokenStatus.SUCCEEDED), complete(other, TaskTokenStatus.FAILED)
        )
    assert sorted(results) == [False, True]


# --- map runs --------------------------------------------------------------------------------


async def test_map_runs(store: Store) -> None:
    execution, _ = await _execution_with_fork(
        store, ["{}"] * 6, max_concurrency=2, tolerated_failure_percentage=50
    )
    async with store.transaction() as tx:
        run = await tx.create_map_run(
            execution, "Map", fork_key="/Map", max_concurrency=2, tolerated_failure_percentage=10, run_id="r1"
        )
        assert run.arn == "arn:aws:states:us-east-1:123456789012:mapRun:machine/Map:r1"
        assert run.execution_arn == execution and run.state_machine_arn.endswith(":stateMachine:machine")
        assert (run.status, run.max_concurrency, run.tolerated_failure_percentage) == (
            MapRunStatus.RUNNING,
            2,
            10,
        )
        assert (run.item_counts.total, run.item_counts.running, run.item_counts.pending) == (6, 2, 4)
        assert run.execution_counts == run.item_counts  # no child executions recorded
        assert await tx.create_map_run(execution, "Map", fork_key="/Map", run_id="r1") == run

        child = await tx.create_execution(
            tx.arns.state_machine("machine"), name="c0", map_run_arn=run.arn, input="{}"
        )
        assert child.execution.arn == "arn:aws:states:us-east-1:123456789012:execution:machine/Map:c0"
        await tx.finish_execution(child.execution.arn, ExecutionStatus.SUCCEEDED, output="{}")
        await tx.create_execution(tx.arns.state_machine("machine"), name="c1", map_run_arn=run.arn)
        await tx.record_branch_result(execution, "/Map", 0, True, output="{}")
        await tx.record_branch_result(execution, "/Map", 1, False, error="E")

        described = await tx.get_map_run(run.arn)
        items = described.item_counts
        assert (items.succeeded, items.failed, items.running, items.pending, items.total) == (1, 1, 2, 2, 6)
        runs = described.execution_counts
        assert (runs.succeeded, runs.running, runs.pending, runs.total) == (1, 1, 4, 6)
        machine_listing = await tx.list_executions(state_machine_arn=tx.arns.state_machine("machine"))
        assert [e.name for e in machine_listing.items] == ["run"]  # map run children are left out
        children = await tx.list_executions(map_run_arn=run.arn)
        assert [e.name for e in children.items] == ["c1", "c0"]

        wider = await tx.update_map_run(run.arn, max_concurrency=4, tolerated_failure_count=2)
        assert [i.index for i in wider] == [4, 5]
        assert (await tx.get_map_run(run.arn)).max_concurrency == 4
        assert await tx.update_map_run(run.arn) == []

        second = await tx.create_map_run(execution, "Inner")
        assert second.item_counts.total == 0 and second.fork_key is None
        listed, pages = await page_all(
            lambda token: tx.list_map_runs(execution, max_results=1, next_token=token)
        )
        assert [r.arn for r in listed] == [second.arn, run.arn] and pages == 2

        assert await tx.finish_map_run(run.arn, MapRunStatus.ABORTED)
        assert not await tx.finish_map_run(run.arn, MapRunStatus.SUCCEEDED)
        aborted = await tx.get_map_run(run.arn)
        assert aborted.status is MapRunStatus.ABORTED and aborted.stop_date is not None
        assert (aborted.item_counts.running, aborted.item_counts.pending, aborted.item_counts.aborted) == (
            0,
            0,
            4,
        )
        with pytest.raises(ValidationError):
            await tx.finish_map_run(run.arn, MapRunStatus.RUNNING)
        with pytest.raises(ResourceNotFound):
            await tx.get_map_run(run.arn + "x")
        with pytest.raises(ExecutionDoesNotExist):
            await tx.create_map_run(tx.arns.execution("machine", "nope"), "Map")


# --- the Store itself ------------------------------------------------------------------------


async def test_store_accepts_plain_urls_and_retries_transient_errors(database_url: str) -> None:
    plain = database_url.replace("+aiosqlite", "").replace("+asyncpg", "")
    async with Store(plain) as store:
        assert store.engine.url.drivername in ("sqlite+aiosqlite", "postgresql+asyncpg")
        await store.migrate()
        calls = 0

        async def flaky(tx: Transaction) -> str:
            nonlocal calls
            calls += 1
            if calls < 3:
                raise TransientStoreError("try again")
            return (await tx.create_activity("retry")).name

        assert await store.run(flaky) == "retry" and calls == 3


async def test_lock_contention_surfaces_as_transient(database_url: str) -> None:
    backend = make_url(database_url).get_backend_name()
    async with Store(database_url, sqlite_busy_timeout=0.2) as store:
        await store.migrate()
        arn = await new_machine(store)
        a = await new_execution(store, arn, "a")
        b = await new_execution(store, arn, "b")
        if backend == "sqlite":
            path = make_url(database_url).database
            assert path is not None
            holder = sqlite3.connect(path, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
            try:
                with pytest.raises(TransientStoreError):
                    async with store.transaction() as tx:
                        await tx.append_events(a, [("X", None)])
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            return
        async with Store(database_url) as other:
            first_locked, second_locked = asyncio.Event(), asyncio.Event()

            async def one(s: Store, mine: str, theirs: str, me: asyncio.Event, them: asyncio.Event) -> None:
                async with s.transaction() as tx:
                    await tx.append_events(mine, [("X", None)])
                    me.set()
                    await them.wait()
                    await tx.append_events(theirs, [("X", None)])

            results = await asyncio.gather(
                one(store, a, b, first_locked, second_locked),
                one(other, b, a, second_locked, first_locked),
                return_exceptions=True,
            )
        assert sum(isinstance(r, TransientStoreError) for r in results) == 1
        assert sum(r is None for r in results) == 1


async def test_readonly_transactions_see_committed_data(store: Store) -> None:
    arn = await new_machine(store)
    async with store.transaction(readonly=True) as reader:
        assert (await reader.describe_state_machine(arn)).name == "machine"
        assert (await reader.connection.execute(text("SELECT 1"))).scalar() == 1


async def test_memory_sqlite_store() -> None:
    async with Store("sqlite:///:memory:") as store:
        await store.migrate()
        arn = await new_machine(store)
        results = await asyncio.gather(*(new_execution(store, arn, f"e{i}") for i in range(10)))
        async with store.transaction() as tx:
            assert len((await tx.list_executions(state_machine_arn=arn)).items) == len(results) == 10


def test_arn_parsing_and_tokens_are_strict() -> None:
    ref = parse_state_machine_arn("arn:aws:states:us-east-1:123456789012:stateMachine:m:live")
    assert (ref.base_arn, ref.name, ref.alias, ref.version) == (
        "arn:aws:states:us-east-1:123456789012:stateMachine:m",
        "m",
        "live",
        None,
    )
    assert parse_state_machine_arn("arn:aws:states:us-east-1:123456789012:stateMachine:m:12").version == 12
    for bad in ("", "arn:aws:states:us-east-1:1:activity:a", "arn:aws:states:r:a:stateMachine:", "m:1"):
        with pytest.raises(InvalidArn):
            parse_state_machine_arn(bad)
    assert page_size(None) == page_size(0) == 100
    with pytest.raises(ValidationError):
        page_size(-1)
    token = encode_token(("q", 1), 42)
    assert decode_token(("q", 1), token) == 42 and decode_token(("q", 1), None) is None
    with pytest.raises(InvalidToken):
        decode_token(("q", 2), token)


async def test_replicas_migrating_an_empty_postgres_database_at_once_all_succeed() -> None:
    """Roles migrate on start; four at once must serialise on the advisory lock, not race."""
    admin = require_postgres()
    url = await create_postgres_database(admin)
    try:
        await asyncio.gather(*(upgrade_async(url) for _ in range(4)))
        assert await current_revision_async(url) == head_revision()
    finally:
        await drop_postgres_database(admin, url)
