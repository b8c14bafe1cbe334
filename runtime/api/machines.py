"""State machines, versions, aliases and tags: the definition side of the API."""

from __future__ import annotations

from typing import Any

import orjson

from runtime.api.definitions import check_definition
from runtime.api.errors import ApiError
from runtime.api.service import (
    ApiContext,
    Handler,
    Params,
    Result,
    drop_none,
    now,
    tags_to_dict,
    tags_to_list,
)
from runtime.store.arns import parse_state_machine_arn
from runtime.store.records import RoutingEntry, StateMachine, StateMachineAlias, StateMachineType

DEFAULT_LOGGING = {"level": "OFF", "includeExecutionData": False}
DEFAULT_TRACING = {"enabled": False}


def _config(text: str | None, default: dict[str, Any]) -> Any:
    return orjson.loads(text) if text else dict(default)


def machine_shape(sm: StateMachine) -> Result:
    """DescribeStateMachine's members for a machine or one of its versions."""
    return drop_none(
        {
            "stateMachineArn": sm.arn,
            "name": sm.name,
            "status": sm.status.value,
            "definition": sm.definition,
            "roleArn": sm.role_arn,
            "type": sm.type.value,
            "creationDate": sm.creation_date,
            "loggingConfiguration": _config(sm.logging_configuration, DEFAULT_LOGGING),
            "tracingConfiguration": _config(sm.tracing_configuration, DEFAULT_TRACING),
            "revisionId": sm.revision_id,
            "description": sm.description,
        }
    )


def alias_shape(alias: StateMachineAlias) -> Result:
    return drop_none(
        {
            "stateMachineAliasArn": alias.arn,
            "name": alias.name,
            "description": alias.description,
            "routingConfiguration": [
                {"stateMachineVersionArn": e.version_arn, "weight": e.weight} for e in alias.routing
            ],
            "creationDate": alias.creation_date,
            "updateDate": alias.update_date,
        }
    )


def check_arn(arn: str, what: str = "resource") -> str:
    if not arn.startswith("arn:") or arn.count(":") < 5:
        raise ApiError("InvalidArn", f"Invalid Arn: '{arn}' is not a valid {what} ARN")
    return arn


def _check_logging(config: Any) -> None:
    if config is None:
        return
    level = config.get("level", "OFF")
    if level != "OFF" and not config.get("destinations"):
        raise ApiError(
            "InvalidLoggingConfiguration",
            f"Invalid Logging Configuration: level {level} needs at least one destination",
        )


def _routing(items: Any) -> list[RoutingEntry]:
    return [RoutingEntry(str(i["stateMachineVersionArn"]), int(i["weight"])) for i in items]


# --- state machines --------------------------------------------------------------------------


async def create_state_machine(ctx: ApiContext, p: Params) -> Result:
    machine_type = StateMachineType(p.get("type") or "STANDARD")
    check_definition(p["definition"], machine_type.value)
    check_arn(p["roleArn"], "role")
    _check_logging(p.get("loggingConfiguration"))
    if p.get("versionDescription") is not None and not p.get("publish"):
        raise ApiError("ValidationException", "versionDescription can only be set when publish is true")
    async with ctx.store.transaction() as tx:
        sm = await tx.create_state_machine(
            p["name"],
            p["definition"],
            p["roleArn"],
            type=machine_type,
            logging_configuration=p.get("loggingConfiguration"),
            tracing_configuration=p.get("tracingConfiguration"),
            tags=tags_to_dict(p.get("tags")),
        )
        version_arn = None
        if p.get("publish"):
            version = await tx.publish_version(sm.arn, description=p.get("versionDescription"))
            version_arn = version.arn
    return drop_none(
        {"stateMachineArn": sm.arn, "creationDate": sm.creation_date, "stateMachineVersionArn": version_arn}
    )


async def update_state_machine(ctx: ApiContext, p: Params) -> Result:
    changes = ("definition", "roleArn", "loggingConfiguration", "tracingConfiguration")
    if all(p.get(k) is None for k in changes) and not p.get("publish"):
        raise ApiError(
            "MissingRequiredParameter",
            "Either the definition, the roleArn, the loggingConfiguration or the tracingConfiguration "
            "must be specified",
        )
    if p.get("versionDescription") is not None and not p.get("publish"):
        raise ApiError("ValidationException", "versionDescription can only be set when publish is true")
    if p.get("roleArn") is not None:
        check_arn(p["roleArn"], "role")
    _check_logging(p.get("loggingConfiguration"))
    async with ctx.store.transaction() as tx:
        current = await tx.describe_state_machine(parse_state_machine_arn(p["stateMachineArn"]).base_arn)
        if p.get("definition") is not None:
            check_definition(p["definition"], current.type.value)
        sm = await tx.update_state_machine(
            p["stateMachineArn"],
            definition=p.get("definition"),
            role_arn=p.get("roleArn"),
            logging_configuration=p.get("loggingConfiguration"),
            tracing_configuration=p.get("tracingConfiguration"),
        )
        version_arn = None
        if p.get("publish"):
            version = await tx.publish_version(sm.arn, description=p.get("versionDescription"))
            version_arn = version.arn
    return drop_none(
        {"updateDate": now(), "revisionId": sm.revision_id, "stateMachineVersionArn": version_arn}
    )


async def describe_state_machine(ctx: ApiContext, p: Params) -> Result:
    arn = check_arn(p["stateMachineArn"], "state machine")
    async with ctx.store.transaction(readonly=True) as tx:
        return machine_shape(await tx.describe_state_machine(arn))


async def list_state_machines(ctx: ApiContext, p: Params) -> Result:
    async with ctx.store.transaction(readonly=True) as tx:
        page = await tx.list_state_machines(max_results=p.get("maxResults"), next_token=p.get("nextToken"))
    items = [
        {"stateMachineArn": s.arn, "name": s.name, "type": s.type.value, "creationDate": s.creation_date}
        for s in page.items
    ]
    return drop_none({"stateMachines": items, "nextToken": page.next_token})


async def delete_state_machine(ctx: ApiContext, p: Params) -> Result:
    arn = check_arn(p["stateMachineArn"], "state machine")
    async with ctx.store.transaction() as tx:
        await tx.delete_state_machine(arn)
    return {}


async def describe_state_machine_for_execution(ctx: ApiContext, p: Params) -> Result:
    arn = check_arn(p["executionArn"], "execution")
    async with ctx.store.transaction(readonly=True) as tx:
        execution = await tx.get_execution(arn)
        sm = await tx.describe_state_machine_for_execution(arn)
    shape = machine_shape(sm)
    return drop_none(
        {
            "stateMachineArn": execution.state_machine_arn,
            "name": sm.name,
            "definition": sm.definition,
            "roleArn": sm.role_arn,
            "updateDate": sm.creation_date,
            "loggingConfiguration": shape["loggingConfiguration"],
            "tracingConfiguration": shape["tracingConfiguration"],
            "mapRunArn": execution.map_run_arn,
            "revisionId": sm.revision_id,
        }
    )


# --- versions ----------------------------------------------------------------------------------


async def publish_state_machine_version(ctx: ApiContext, p: Params) -> Result:
    arn = check_arn(p["stateMachineArn"], "state machine")
    async with ctx.store.transaction() as tx:
        version = await tx.publish_version(
            arn, description=p.get("description"), expected_revision_id=p.get("revisionId")
        )
    return {"creationDate": version.creation_date, "stateMachineVersionArn": version.arn}


async def list_state_machine_versions(ctx: ApiContext, p: Params) -> Result:
    arn = check_arn(p["stateMachineArn"], "state machine")
    async with ctx.store.transaction(readonly=True) as tx:
        page = await tx.list_versions(arn, max_results=p.get("maxResults"), next_token=p.get("nextToken"))
    items = [{"stateMachineVersionArn": v.arn, "creationDate": v.creation_date} for v in page.items]
    return drop_none({"stateMachineVersions": items, "nextToken": page.next_token})


async def delete_state_machine_version(ctx: ApiContext, p: Params) -> Result:
    arn = check_arn(p["stateMachineVersionArn"], "state machine version")
    async with ctx.store.transaction() as tx:
        await tx.delete_version(arn)
    return {}


# --- aliases -----------------------------------------------------------------------------------


async def create_state_machine_alias(ctx: ApiContext, p: Params) -> Result:
    async with ctx.store.transaction() as tx:
        alias = await tx.create_alias(
            p["name"], _routing(p["routingConfiguration"]), description=p.get("description")
        )
    return {"stateMachineAliasArn": alias.arn, "creationDate": alias.creation_date}


async def describe_state_machine_alias(ctx: ApiContext, p: Params) -> Result:
    arn = check_arn(p["stateMachineAliasArn"], "state machine alias")
    async with ctx.store.transaction(readonly=True) as tx:
        return alias_shape(await tx.describe_alias(arn))


async def update_state_machine_alias(ctx: ApiContext, p: Params) -> Result:
    arn = check_arn(p["stateMachineAliasArn"], "state machine alias")
    if p.get("routingConfiguration") is None and p.get("description") is None:
        raise ApiError("ValidationException", "Give a routingConfiguration or a description to update")
    routing = p.get("routingConfiguration")
    async with ctx.store.transaction() as tx:
        alias = await tx.update_alias(
            arn,
            routing=None if routing is None else _routing(routing),
            description=p.get("description"),
        )
    return {"updateDate": alias.update_date}


async def list_state_machine_aliases(ctx: ApiContext, p: Params) -> Result:
    arn = check_arn(p["stateMachineArn"], "state machine")
    async with ctx.store.transaction(readonly=True) as tx:
        page = await tx.list_aliases(arn, max_results=p.get("maxResults"), next_token=p.get("nextToken"))
    items = [{"stateMachineAliasArn": a.arn, "creationDate": a.creation_date} for a in page.items]
    return drop_none({"stateMachineAliases": items, "nextToken": page.next_token})


async def delete_state_machine_alias(ctx: ApiContext, p: Params) -> Result:
    arn = check_arn(p["stateMachineAliasArn"], "state machine alias")
    async with ctx.store.transaction() as tx:
        await tx.delete_alias(arn)
    return {}


# --- tags --------------------------------------------------------------------------------------


async def tag_resource(ctx: ApiContext, p: Params) -> Result:
    arn = check_arn(p["resourceArn"])
    async with ctx.store.transaction() as tx:
        await tx.tag_resource(arn, tags_to_dict(p["tags"]))
    return {}


async def untag_resource(ctx: ApiContext, p: Params) -> Result:
    arn = check_arn(p["resourceArn"])
    async with ctx.store.transaction() as tx:
        await tx.untag_resource(arn, p["tagKeys"])
    return {}


async def list_tags_for_resource(ctx: ApiContext, p: Params) -> Result:
    arn = check_arn(p["resourceArn"])
    async with ctx.store.transaction(readonly=True) as tx:
        tags = await tx.list_tags(arn)
    return {"tags": tags_to_list(tags)}


ACTIONS: dict[str, Handler] = {
    "CreateStateMachine": create_state_machine,
    "UpdateStateMachine": update_state_machine,
    "DescribeStateMachine": describe_state_machine,
    "ListStateMachines": list_state_machines,
    "DeleteStateMachine": delete_state_machine,
    "DescribeStateMachineForExecution": describe_state_machine_for_execution,
    "PublishStateMachineVersion": publish_state_machine_version,
    "ListStateMachineVersions": list_state_machine_versions,
    "DeleteStateMachineVersion": delete_state_machine_version,
    "CreateStateMachineAlias": create_state_machine_alias,
    "DescribeStateMachineAlias": describe_state_machine_alias,
    "UpdateStateMachineAlias": update_state_machine_alias,
    "ListStateMachineAliases": list_state_machine_aliases,
    "DeleteStateMachineAlias": delete_state_machine_alias,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
}
