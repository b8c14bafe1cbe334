"""The Step Functions API through the real boto3 client, on the embedded runtime and on
RabbitMQ + PostgreSQL: every answer parsed by botocore, every error a typed exception."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from runtime.store.records import MapRunStatus
from tests.api.harness import ApiServer, Opened
from tests.api.services import TOKENS
from tests.api.support import (
    CALLBACK,
    FLAKY,
    HELLO,
    ROLE,
    create,
    pass_machine,
    unique,
    wait_status,
)


@pytest.fixture
def sfn(server: ApiServer) -> Any:
    return server.client()


# --- state machines --------------------------------------------------------------------------


def test_create_describe_update_list_delete_state_machine(sfn: Any) -> None:
    name = unique("crud")
    definition = json.dumps(HELLO)
    created = sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE, type="STANDARD")
    arn = created["stateMachineArn"]
    assert arn == f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}"
    assert isinstance(created["creationDate"], datetime)

    again = sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE)  # idempotent
    assert again["stateMachineArn"] == arn
    with pytest.raises(sfn.exceptions.StateMachineAlreadyExists):
        sfn.create_state_machine(name=name, definition=pass_machine(1), roleArn=ROLE)

    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["name"] == name
    assert described["status"] == "ACTIVE"
    assert described["type"] == "STANDARD"
    assert json.loads(described["definition"]) == HELLO
    assert described["roleArn"] == ROLE
    assert described["loggingConfiguration"] == {"level": "OFF", "includeExecutionData": False}
    assert described["tracingConfiguration"] == {"enabled": False}
    first_revision = described["revisionId"]

    updated = sfn.update_state_machine(stateMachineArn=arn, definition=pass_machine({"v": 2}))
    assert updated["revisionId"] != first_revision
    assert isinstance(updated["updateDate"], datetime)
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])["States"]["P"][
        "Result"
    ] == {"v": 2}

    listed = [
        m["stateMachineArn"]
        for m in sfn.get_paginator("list_state_machines").paginate().build_full_result()["stateMachines"]
    ]
    assert arn in listed

    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn=arn)


def test_create_with_tags_logging_and_publish(sfn: Any) -> None:
    logging = {
        "level": "ALL",
        "includeExecutionData": True,
        "destinations": [
            {"cloudWatchLogsLogGroup": {"logGroupArn": "arn:aws:logs:us-east-1:123456789012:log-group:x:*"}}
        ],
    }
    created = sfn.create_state_machine(
        name=unique("pub"),
        definition=json.dumps(HELLO),
        roleArn=ROLE,
        loggingConfiguration=logging,
        tracingConfiguration={"enabled": True},
        tags=[{"key": "team", "value": "orders"}],
        publish=True,
        versionDescription="first",
    )
    assert created["stateMachineVersionArn"] == created["stateMachineArn"] + ":1"
    described = sfn.describe_state_machine(stateMachineArn=created["stateMachineArn"])
    assert described["loggingConfiguration"] == logging
    assert described["tracingConfiguration"] == {"enabled": True}
    version = sfn.describe_state_machine(stateMachineArn=created["stateMachineVersionArn"])
    assert version["description"] == "first"
    tags = sfn.list_tags_for_resource(resourceArn=created["stateMachineArn"])["tags"]
    assert tags == [{"key": "team", "value": "orders"}]
    with pytest.raises(sfn.exceptions.InvalidLoggingConfiguration):
        sfn.create_state_machine(
            name=unique("log"),
            definition=json.dumps(HELLO),
            roleArn=ROLE,
            loggingConfiguration={"level": "ALL"},
        )


# --- executions --------------------------------------------------------------------------------


def test_start_describe_and_history(sfn: Any) -> None:
    arn = create(sfn, HELLO, "hello")
    started = sfn.start_execution(stateMachineArn=arn, name="run-1", input=json.dumps({"who": "world"}))
    assert started["executionArn"] == arn.replace(":stateMachine:", ":execution:") + ":run-1"
    assert isinstance(started["startDate"], datetime)

    done = wait_status(sfn, started["executionArn"], "SUCCEEDED")
    assert json.loads(done["output"]) == {"greeting": "hello world"}
    assert json.loads(done["input"]) == {"who": "world"}
    assert done["name"] == "run-1"
    assert done["stateMachineArn"] == arn
    assert isinstance(done["stopDate"], datetime) and done["stopDate"] >= done["startDate"]
    assert done["redriveStatus"] == "NOT_REDRIVABLE"
    meta = sfn.describe_execution(executionArn=started["executionArn"], includedData="METADATA_ONLY")
    assert "input" not in meta and "output" not in meta

    events = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    types = [e["type"] for e in events]
    assert types[0] == "ExecutionStarted"
    assert {"PassStateEntered", "PassStateExited", "ExecutionSucceeded"} <= set(types)
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert json.loads(events[0]["executionStartedEventDetails"]["input"]) == {"who": "world"}
    assert isinstance(events[0]["timestamp"], datetime)

    # pagination, both directions, and without execution data
    paged, token = [], None
    while True:
        page = sfn.get_execution_history(
            executionArn=started["executionArn"], maxResults=1, **({"nextToken": token} if token else {})
        )
        paged += page["events"]
        token = page.get("nextToken")
        if not token:
            break
    assert [e["id"] for e in paged] == [e["id"] for e in events]
    newest = sfn.get_execution_history(executionArn=started["executionArn"], reverseOrder=True, maxResults=2)
    assert [e["id"] for e in newest["events"]] == [len(events), len(events) - 1]
    bare = sfn.get_execution_history(executionArn=started["executionArn"], includeExecutionData=False)[
        "events"
    ]
    assert "input" not in bare[0]["executionStartedEventDetails"]
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.get_execution_history(executionArn=started["executionArn"], nextToken="bm90LWEtdG9rZW4")

    for_execution = sfn.describe_state_machine_for_execution(executionArn=started["executionArn"])
    assert json.loads(for_execution["definition"]) == HELLO
    assert for_execution["stateMachineArn"] == arn


def test_history_is_in_the_order_aws_writes_it(sfn: Any) -> None:
    """ExecutionSucceeded is the last event, after the state's own events."""
    arn = create(sfn, HELLO, "order")
    started = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"who": "order"}))["executionArn"]
    wait_status(sfn, started, "SUCCEEDED")
    types = [e["type"] for e in sfn.get_execution_history(executionArn=started)["events"]]
    assert types == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]


def test_start_execution_is_idempotent_by_name(sfn: Any) -> None:
    arn = create(sfn, CALLBACK, "idem")
    key = unique("idem")
    body = json.dumps({"key": key})
    first = sfn.start_execution(stateMachineArn=arn, name="once", input=body)
    second = sfn.start_execution(stateMachineArn=arn, name="once", input=body)
    assert second["executionArn"] == first["executionArn"]
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=arn, name="once", input=json.dumps({"key": "other"}))
    sfn.send_task_success(taskToken=TOKENS.get(key), output="{}")
    wait_status(sfn, first["executionArn"], "SUCCEEDED")
    listed = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert [e["name"] for e in listed] == ["once"]


def test_list_executions_pages_and_filters(sfn: Any) -> None:
    arn = create(sfn, pass_machine({"ok": True}), "list")
    arns = [sfn.start_execution(stateMachineArn=arn, name=f"e{i}")["executionArn"] for i in range(5)]
    for execution in arns:
        wait_status(sfn, execution, "SUCCEEDED")
    pages, token = [], None
    while True:
        page = sfn.list_executions(
            stateMachineArn=arn, maxResults=2, **({"nextToken": token} if token else {})
        )
        pages.append([e["name"] for e in page["executions"]])
        token = page.get("nextToken")
        if not token:
            break
    assert pages == [["e4", "e3"], ["e2", "e1"], ["e0"]]  # newest first, as AWS lists them
    everything = sfn.get_paginator("list_executions").paginate(
        stateMachineArn=arn, PaginationConfig={"PageSize": 2}
    )
    assert len(everything.build_full_result()["executions"]) == 5
    assert len(sfn.list_executions(stateMachineArn=arn, statusFilter="SUCCEEDED")["executions"]) == 5
    assert sfn.list_executions(stateMachineArn=arn, statusFilter="FAILED")["executions"] == []
    item = sfn.list_executions(stateMachineArn=arn, maxResults=1)["executions"][0]
    assert set(item) >= {"executionArn", "stateMachineArn", "name", "status", "startDate", "stopDate"}
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.list_executions(stateMachineArn=arn, nextToken="bm90LWEtdG9rZW4")


def test_stop_execution(sfn: Any) -> None:
    arn = create(sfn, CALLBACK, "stop")
    key = unique("stop")
    started = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"key": key}))
    token = TOKENS.get(key)
    stopped = sfn.stop_execution(
        executionArn=started["executionArn"], error="Operator.Stop", cause="no longer needed"
    )
    assert isinstance(stopped["stopDate"], datetime)
    described = wait_status(sfn, started["executionArn"], "ABORTED")
    assert described["error"] == "Operator.Stop" and described["cause"] == "no longer needed"
    assert described["redriveStatus"] == "REDRIVABLE"
    assert (
        sfn.get_execution_history(executionArn=started["executionArn"], reverseOrder=True, maxResults=1)[
            "events"
        ][0]["type"]
        == "ExecutionAborted"
    )
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_success(taskToken=token, output="{}")


# --- callbacks ---------------------------------------------------------------------------------


def test_wait_for_task_token_success_failure_and_heartbeat(sfn: Any) -> None:
    arn = create(sfn, CALLBACK, "cb")
    ok_key, bad_key = unique("ok"), unique("bad")
    ok = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"key": ok_key}))["executionArn"]
    bad = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"key": bad_key}))["executionArn"]

    ok_token = TOKENS.get(ok_key)
    sfn.send_task_heartbeat(taskToken=ok_token)
    assert sfn.describe_execution(executionArn=ok)["status"] == "RUNNING"
    sfn.send_task_success(taskToken=ok_token, output=json.dumps({"approved": True}))
    done = wait_status(sfn, ok, "SUCCEEDED")
    with pytest.raises(sfn.exceptions.TaskTimedOut):  # answered already
        sfn.send_task_success(taskToken=ok_token, output="{}")

    sfn.send_task_failure(taskToken=TOKENS.get(bad_key), error="Approval.Rejected", cause="said no")
    failed = wait_status(sfn, bad, "FAILED")
    assert (failed["error"], failed["cause"]) == ("Approval.Rejected", "said no")
    assert failed["redriveStatus"] == "REDRIVABLE"

    with pytest.raises(sfn.exceptions.TaskDoesNotExist):
        sfn.send_task_success(taskToken="no-such-token", output="{}")
    with pytest.raises(sfn.exceptions.InvalidOutput):
        sfn.send_task_success(taskToken="no-such-token", output="{not json")
    assert json.loads(done["output"]) == {"approved": True}  # the callback's output, as AWS passes it


# --- redrive -----------------------------------------------------------------------------------


def test_redrive_failed_execution(sfn: Any) -> None:
    arn = create(sfn, FLAKY, "redrive")
    key = unique("flaky")
    started = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"key": key}))["executionArn"]
    failed = wait_status(sfn, started, "FAILED")
    assert failed["error"] == "FlakyError" and failed["redriveStatus"] == "REDRIVABLE"
    redriven = sfn.redrive_execution(executionArn=started)
    assert isinstance(redriven["redriveDate"], datetime)
    done = wait_status(sfn, started, "SUCCEEDED")
    assert done["redriveCount"] == 1
    assert json.loads(done["output"]) == {"ok": True, "key": key}
    with pytest.raises(sfn.exceptions.ExecutionNotRedrivable):
        sfn.redrive_execution(executionArn=started)
    assert (
        sfn.list_executions(stateMachineArn=arn, redriveFilter="REDRIVEN")["executions"][0]["redriveCount"]
        == 1
    )


# --- versions and aliases ----------------------------------------------------------------------


def test_versions_and_alias_routing(sfn: Any) -> None:
    arn = create(sfn, pass_machine("v1"), "ver")
    v1 = sfn.publish_state_machine_version(stateMachineArn=arn, description="one")["stateMachineVersionArn"]
    assert v1 == f"{arn}:1"
    revision = sfn.update_state_machine(stateMachineArn=arn, definition=pass_machine("v2"))["revisionId"]
    with pytest.raises(sfn.exceptions.ConflictException):
        sfn.publish_state_machine_version(stateMachineArn=arn, revisionId="stale-revision")
    v2 = sfn.publish_state_machine_version(stateMachineArn=arn, revisionId=revision)["stateMachineVersionArn"]
    assert v2 == f"{arn}:2"
    versions = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in versions] == [v2, v1]

    alias = sfn.create_state_machine_alias(
        name="live",
        description="prod traffic",
        routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}],
    )["stateMachineAliasArn"]
    assert alias == f"{arn}:live"
    described = sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert described["routingConfiguration"] == [{"stateMachineVersionArn": v1, "weight": 100}]
    assert described["name"] == "live" and described["description"] == "prod traffic"

    on_alias = sfn.start_execution(stateMachineArn=alias)["executionArn"]
    done = wait_status(sfn, on_alias, "SUCCEEDED")
    assert json.loads(done["output"]) == "v1"
    assert done["stateMachineVersionArn"] == v1 and done["stateMachineAliasArn"] == alias

    sfn.update_state_machine_alias(
        stateMachineAliasArn=alias, routingConfiguration=[{"stateMachineVersionArn": v2, "weight": 100}]
    )
    assert (
        json.loads(
            wait_status(sfn, sfn.start_execution(stateMachineArn=alias)["executionArn"], "SUCCEEDED")[
                "output"
            ]
        )
        == "v2"
    )
    on_v1 = sfn.start_execution(stateMachineArn=v1)["executionArn"]
    assert json.loads(wait_status(sfn, on_v1, "SUCCEEDED")["output"]) == "v1"

    assert len(sfn.list_executions(stateMachineArn=alias)["executions"]) == 2
    assert {e["executionArn"] for e in sfn.list_executions(stateMachineArn=v1)["executions"]} == {
        on_alias,
        on_v1,
    }
    assert [
        a["stateMachineAliasArn"]
        for a in sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"]
    ] == [alias]

    with pytest.raises(sfn.exceptions.ConflictException):  # the alias routes to it
        sfn.delete_state_machine_version(stateMachineVersionArn=v2)
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    sfn.delete_state_machine_version(stateMachineVersionArn=v2)
    assert [
        v["stateMachineVersionArn"]
        for v in sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    ] == [v1]
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.create_state_machine_alias(
            name="bad", routingConfiguration=[{"stateMachineVersionArn": v2, "weight": 100}]
        )


# --- tags and activities -----------------------------------------------------------------------


def test_tags(sfn: Any) -> None:
    arn = create(sfn, HELLO, "tags")
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "3"}])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"key": "a", "value": "3"},
        {"key": "b", "value": "2"},
    ]
    sfn.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "b", "value": "2"}]
    with pytest.raises(sfn.exceptions.TooManyTags):
        sfn.tag_resource(resourceArn=arn, tags=[{"key": f"k{i}", "value": "v"} for i in range(51)])
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.list_tags_for_resource(resourceArn=arn + "-missing")
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.list_tags_for_resource(resourceArn="not-an-arn")


def test_activities_crud(sfn: Any) -> None:
    name = unique("act")
    created = sfn.create_activity(name=name, tags=[{"key": "k", "value": "v"}])
    arn = created["activityArn"]
    assert arn == f"arn:aws:states:us-east-1:123456789012:activity:{name}"
    assert sfn.create_activity(name=name)["activityArn"] == arn
    described = sfn.describe_activity(activityArn=arn)
    assert described["name"] == name and isinstance(described["creationDate"], datetime)
    assert arn in [
        a["activityArn"]
        for a in sfn.get_paginator("list_activities").paginate().build_full_result()["activities"]
    ]
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "k", "value": "v"}]
    sfn.delete_activity(activityArn=arn)
    with pytest.raises(sfn.exceptions.ActivityDoesNotExist):
        sfn.describe_activity(activityArn=arn)
    with pytest.raises(sfn.exceptions.ActivityDoesNotExist):
        sfn.get_activity_task(activityArn=arn)


def test_activity_worker_round_trip(sfn: Any) -> None:
    activity = sfn.create_activity(name=unique("work"))["activityArn"]
    definition = {"StartAt": "Do", "States": {"Do": {"Type": "Task", "Resource": activity, "End": True}}}
    started = sfn.start_execution(
        stateMachineArn=create(sfn, definition, "activity"), input=json.dumps({"n": 1})
    )
    task = sfn.get_activity_task(activityArn=activity, workerName="worker-1")
    assert json.loads(task["input"]) == {"n": 1}
    sfn.send_task_success(taskToken=task["taskToken"], output=json.dumps({"n": 2}))
    assert json.loads(wait_status(sfn, started["executionArn"], "SUCCEEDED")["output"]) == {"n": 2}


# --- express -----------------------------------------------------------------------------------


def test_start_sync_execution(sfn: Any) -> None:
    express = create(sfn, HELLO, "express", type="EXPRESS")
    result = sfn.start_sync_execution(stateMachineArn=express, input=json.dumps({"who": "sync"}))
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"greeting": "hello sync"}
    assert isinstance(result["stopDate"], datetime)
    assert result["billingDetails"]["billedDurationInMilliseconds"] >= 0
    failing = create(
        sfn,
        {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "c"}}},
        "xfail",
        type="EXPRESS",
    )
    failed = sfn.start_sync_execution(stateMachineArn=failing)
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "E", "c")
    with pytest.raises(sfn.exceptions.StateMachineTypeNotSupported):
        sfn.start_sync_execution(stateMachineArn=create(sfn, HELLO, "std"))
    with pytest.raises(sfn.exceptions.InvalidDefinition):  # EXPRESS cannot wait for callbacks
        create(sfn, CALLBACK, "xcb", type="EXPRESS")


# --- map runs (written by the engine; set up through the store here) -------------------------


def test_map_runs(server: ApiServer, sfn: Any) -> None:
    arn = create(sfn, CALLBACK, "maprun")
    key = unique("maprun")
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"key": key}))["executionArn"]
    TOKENS.get(key)

    async def make(opened: Opened) -> str:
        async with opened.store.transaction() as tx:
            run = await tx.create_map_run(execution, "Items", max_concurrency=4, tolerated_failure_count=1)
        return run.arn

    map_run = server.call(make)
    described = sfn.describe_map_run(mapRunArn=map_run)
    assert described["executionArn"] == execution and described["status"] == "RUNNING"
    assert described["maxConcurrency"] == 4 and described["toleratedFailureCount"] == 1
    assert set(described["itemCounts"]) >= {
        "pending",
        "running",
        "succeeded",
        "failed",
        "total",
        "resultsWritten",
    }
    assert [m["mapRunArn"] for m in sfn.list_map_runs(executionArn=execution)["mapRuns"]] == [map_run]
    sfn.update_map_run(mapRunArn=map_run, toleratedFailurePercentage=10.0)
    assert sfn.describe_map_run(mapRunArn=map_run)["toleratedFailurePercentage"] == 10.0
    assert sfn.list_executions(mapRunArn=map_run)["executions"] == []

    async def finish(opened: Opened) -> None:
        async with opened.store.transaction() as tx:
            await tx.finish_map_run(map_run, MapRunStatus.SUCCEEDED)

    server.call(finish)
    assert sfn.describe_map_run(mapRunArn=map_run)["status"] == "SUCCEEDED"
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.describe_map_run(mapRunArn=map_run + "x")
    sfn.stop_execution(executionArn=execution)


# --- validation and errors ---------------------------------------------------------------------


def test_validate_state_machine_definition(sfn: Any) -> None:
    ok = sfn.validate_state_machine_definition(definition=json.dumps(HELLO))
    assert ok["result"] == "OK" and ok["diagnostics"] == []
    broken = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}
    failed = sfn.validate_state_machine_definition(definition=json.dumps(broken))
    assert failed["result"] == "FAIL"
    assert {
        "severity": "ERROR",
        "code": "MISSING_TRANSITION_TARGET",
        "location": "/States/A/Next",
    }.items() <= failed["diagnostics"][0].items()
    syntax = sfn.validate_state_machine_definition(definition="{oops")
    assert syntax["result"] == "FAIL" and syntax["diagnostics"][0]["code"] == "INVALID_JSON_DESCRIPTION"
    many = {"StartAt": "S0", "States": {f"S{i}": {"Type": "Pass", "Next": f"X{i}"} for i in range(5)}}
    truncated = sfn.validate_state_machine_definition(definition=json.dumps(many), maxResults=2)
    assert len(truncated["diagnostics"]) == 2 and truncated["truncated"] is True


def test_errors_are_typed_boto3_exceptions(sfn: Any) -> None:
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:nope"
    execution = "arn:aws:states:us-east-1:123456789012:execution:nope:nope"
    cases = [
        (
            sfn.exceptions.StateMachineDoesNotExist,
            lambda: sfn.describe_state_machine(stateMachineArn=machine),
        ),
        (sfn.exceptions.StateMachineDoesNotExist, lambda: sfn.start_execution(stateMachineArn=machine)),
        (sfn.exceptions.ExecutionDoesNotExist, lambda: sfn.describe_execution(executionArn=execution)),
        (sfn.exceptions.ExecutionDoesNotExist, lambda: sfn.get_execution_history(executionArn=execution)),
        (sfn.exceptions.ExecutionDoesNotExist, lambda: sfn.stop_execution(executionArn=execution)),
        (sfn.exceptions.InvalidArn, lambda: sfn.describe_state_machine(stateMachineArn="bogus")),
        (sfn.exceptions.InvalidArn, lambda: sfn.describe_execution(executionArn="bogus")),
        (
            sfn.exceptions.InvalidName,
            lambda: sfn.create_state_machine(name="a b", definition=json.dumps(HELLO), roleArn=ROLE),
        ),
        (
            sfn.exceptions.InvalidDefinition,
            lambda: sfn.create_state_machine(name=unique("bad"), definition='{"StartAt": 1}', roleArn=ROLE),
        ),
        (
            sfn.exceptions.InvalidDefinition,
            lambda: sfn.create_state_machine(name=unique("bad"), definition="not json", roleArn=ROLE),
        ),
        (
            sfn.exceptions.InvalidArn,
            lambda: sfn.create_state_machine(name=unique("r"), definition=json.dumps(HELLO), roleArn="role"),
        ),
        (
            sfn.exceptions.ResourceNotFound,
            lambda: sfn.describe_state_machine_alias(stateMachineAliasArn=machine + ":live"),
        ),
        (sfn.exceptions.MissingRequiredParameter, lambda: sfn.update_state_machine(stateMachineArn=machine)),
        (sfn.exceptions.InvalidToken, lambda: sfn.list_state_machines(nextToken="garbage!")),
    ]
    for exception, call in cases:
        with pytest.raises(exception):
            call()
    arn = create(sfn, HELLO, "errs")
    with pytest.raises(sfn.exceptions.InvalidExecutionInput):
        sfn.start_execution(stateMachineArn=arn, input="{not json")
    with pytest.raises(sfn.exceptions.InvalidName):
        sfn.start_execution(stateMachineArn=arn, name="has space")
    with pytest.raises(sfn.exceptions.ClientError) as info:  # validated as AWS does: by the model
        sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING", maxResults=5000)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "less than or equal to 1000" in info.value.response["Error"]["Message"]
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_payload_limits(sfn: Any) -> None:
    arn = create(sfn, pass_machine("ok"), "big")
    near_limit = json.dumps({"blob": "x" * 1_000_000})  # 1 MB accepted by default
    accepted = sfn.start_execution(stateMachineArn=arn, name="near-limit", input=near_limit)["executionArn"]
    assert json.loads(wait_status(sfn, accepted, "SUCCEEDED")["input"]) == {"blob": "x" * 1_000_000}
    too_big = json.dumps({"blob": "x" * 1_100_000})
    with pytest.raises(sfn.exceptions.InvalidExecutionInput) as info:
        sfn.start_execution(stateMachineArn=arn, name="too-big", input=too_big)
    assert "maximum of 1048576 bytes" in info.value.response["Error"]["Message"]
    names = [e["name"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]]
    assert names == ["near-limit"]  # nothing half-written
    with pytest.raises(sfn.exceptions.InvalidDefinition):
        sfn.create_state_machine(name=unique("huge"), definition=pass_machine("y" * 1_100_000), roleArn=ROLE)


def test_unknown_operation(server: ApiServer, sfn: Any) -> None:
    import httpx

    answer = httpx.post(
        server.url + "/",
        headers={
            "X-Amz-Target": "AWSStepFunctions.Frobnicate",
            "Authorization": "Bearer statehop-test-token",
        },
        content=b"{}",
    )
    assert answer.status_code == 400
    assert answer.json()["__type"] == "UnknownOperationException"


def test_every_action_of_the_model_is_served() -> None:
    from runtime.api.model import operation_names
    from runtime.api.service import actions

    assert sorted(operation_names()) == sorted(actions())
