"""Executions, their history and distributed Map runs: the running side of the API."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from runtime.api.errors import ApiError
from runtime.api.machines import check_arn
from runtime.api.service import ApiContext, Handler, Params, Result, drop_none, now, parse_json
from runtime.store.arns import parse_state_machine_arn
from runtime.store.records import (
    Execution,
    ExecutionStatus,
    ExecutionSummary,
    MapRun,
    MapRunCounts,
    StateMachineType,
)

#: AWS keeps a failed standard execution redrivable for 14 days after it stopped.
REDRIVE_WINDOW = timedelta(days=14)
_REDRIVABLE = frozenset({ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT, ExecutionStatus.ABORTED})


def _redrive_status(e: Execution, resumable: bool = True) -> tuple[str, str | None]:
    if e.type is StateMachineType.EXPRESS:
        return "NOT_REDRIVABLE", "Execution is an EXPRESS execution, and cannot be redriven"
    if e.status not in _REDRIVABLE:
        return "NOT_REDRIVABLE", f"Execution is {e.status.value} and cannot be redriven"
    if e.map_run_arn is not None:
        return "REDRIVABLE_BY_MAP_RUN", "Execution is a Map Run child and is redriven with its parent"
    if e.stop_date is not None and now() - e.stop_date > REDRIVE_WINDOW:
        return "NOT_REDRIVABLE", "Execution cannot be redriven more than 14 days after it stopped"
    if not resumable:
        return "NOT_REDRIVABLE", "Execution ended before any state could be resumed"
    return "REDRIVABLE", None


def execution_shape(e: Execution, include_data: bool = True, resumable: bool = True) -> Result:
    """DescribeExecution's members; ``resumable``: the engine recorded where a redrive resumes."""
    status, reason = _redrive_status(e, resumable)
    has_output = e.output is not None
    return drop_none(
        {
            "executionArn": e.arn,
            "stateMachineArn": e.state_machine_arn,
            "name": e.name,
            "status": e.status.value,
            "startDate": e.start_date,
            "stopDate": e.stop_date,
            "input": e.input if include_data else None,
            "inputDetails": {"included": include_data},
            "output": e.output if include_data and has_output else None,
            "outputDetails": {"included": include_data} if has_output else None,
            "traceHeader": e.trace_header,
            "mapRunArn": e.map_run_arn,
            "error": e.error,
            "cause": e.cause,
            "stateMachineVersionArn": e.state_machine_version_arn,
            "stateMachineAliasArn": e.state_machine_alias_arn,
            "redriveCount": e.redrive_count,
            "redriveDate": e.redrive_date,
            "redriveStatus": status,
            "redriveStatusReason": reason,
        }
    )


def execution_item(e: ExecutionSummary) -> Result:
    return drop_none(
        {
            "executionArn": e.arn,
            "stateMachineArn": e.state_machine_arn,
            "name": e.name,
            "status": e.status.value,
            "startDate": e.start_date,
            "stopDate": e.stop_date,
            "mapRunArn": e.map_run_arn,
            "stateMachineVersionArn": e.state_machine_version_arn,
            "stateMachineAliasArn": e.state_machine_alias_arn,
            "redriveCount": e.redrive_count,
            "redriveDate": e.redrive_date,
        }
    )


def _counts(c: MapRunCounts) -> Result:
    return {
        "pending": c.pending,
        "running": c.running,
        "succeeded": c.succeeded,
        "failed": c.failed,
        "timedOut": c.timed_out,
        "aborted": c.aborted,
        "total": c.total,
        "resultsWritten": c.results_written,
        "failuresNotRedrivable": c.failures_not_redrivable,
        "pendingRedrive": c.pending_redrive,
    }


def map_run_shape(m: MapRun) -> Result:
    return drop_none(
        {
            "mapRunArn": m.arn,
            "executionArn": m.execution_arn,
            "status": m.status.value,
            "startDate": m.start_date,
            "stopDate": m.stop_date,
            "maxConcurrency": m.max_concurrency,
            "toleratedFailurePercentage": m.tolerated_failure_percentage,
            "toleratedFailureCount": m.tolerated_failure_count,
            "itemCounts": _counts(m.item_counts),
            "executionCounts": _counts(m.execution_counts),
            "redriveCount": m.redrive_count,
            "redriveDate": m.redrive_date,
        }
    )


# --- starting ----------------------------------------------------------------------------------


async def start_execution(ctx: ApiContext, p: Params) -> Result:
    arn = check_arn(p["stateMachineArn"], "state machine")
    data = parse_json(p.get("input"), "StartExecution", "input")
    execution = await ctx.engine.start_execution(arn, data, p.get("name"), p.get("traceHeader"))
    return {"executionArn": execution.arn, "startDate": execution.start_date}


async def _machine_type(ctx: ApiContext, arn: str) -> StateMachineType:
    async with ctx.store.transaction(readonly=True) as tx:
        sm = await tx.describe_state_machine(parse_state_machine_arn(arn).base_arn)
    return sm.type


async def start_sync_execution(ctx: ApiContext, p: Params) -> Result:
    arn = check_arn(p["stateMachineArn"], "state machine")
    data = parse_json(p.get("input"), "StartSyncExecution", "input")
    if await _machine_type(ctx, arn) is not StateMachineType.EXPRESS:
        raise ApiError(
            "StateMachineTypeNotSupported", "This operation is not supported by this type of state machine"
        )
    timeout = ctx.api.sync_timeout_seconds
    name = p.get("name") or str(uuid.uuid4())  # named here, so a timed-out run can be stopped
    start_sync = ctx.engine_feature("start_sync", "StartSyncExecution")
    try:
        record: Execution = await start_sync(
            arn, data, name, timeout=timeout, trace_header=p.get("traceHeader")
        )
    except TimeoutError:
        record = await ctx.engine.stop_execution(
            ctx.arns.execution(parse_state_machine_arn(arn).name, name),
            "States.Timeout",
            f"The execution ran longer than {timeout:g} seconds",
        )
    return _sync_shape(record, (p.get("includedData") or "ALL_DATA") == "ALL_DATA")


def _sync_shape(e: Execution, include_data: bool) -> Result:
    status = e.status.value
    if e.status is ExecutionStatus.ABORTED and e.error == "States.Timeout":
        status = "TIMED_OUT"
    elif e.status not in (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT):
        status = "FAILED"
    stop = e.stop_date or now()
    duration_ms = max(0, int((stop - e.start_date).total_seconds() * 1000))
    has_output = e.output is not None
    return drop_none(
        {
            "executionArn": e.arn,
            "stateMachineArn": e.state_machine_arn,
            "name": e.name,
            "startDate": e.start_date,
            "stopDate": stop,
            "status": status,
            "error": e.error,
            "cause": e.cause,
            "input": e.input if include_data else None,
            "inputDetails": {"included": include_data},
            "output": e.output if include_data and has_output else None,
            "outputDetails": {"included": include_data} if has_output else None,
            "traceHeader": e.trace_header,
            "billingDetails": {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": duration_ms},
        }
    )


# --- looking -----------------------------------------------------------------------------------


async def describe_execution(ctx: ApiContext, p: Params) -> Result:
    arn = check_arn(p["executionArn"], "execution")
    async with ctx.store.transaction(readonly=True) as tx:
        execution = await tx.get_execution(arn)
        resumable = True
        if execution.status in _REDRIVABLE:
            resumable = await tx.get_redrive_point(arn) is not None
    return execution_shape(execution, (p.get("includedData") or "ALL_DATA") == "ALL_DATA", resumable)


async def list_executions(ctx: ApiContext, p: Params) -> Result:
    machine, map_run = p.get("stateMachineArn"), p.get("mapRunArn")
    if (machine is None) == (map_run is None):
        raise ApiError("ValidationException", "Give exactly one of stateMachineArn and mapRunArn")
    check_arn(str(machine or map_run))
    async with ctx.store.transaction(readonly=True) as tx:
        page = await tx.list_executions(
            state_machine_arn=machine,
            map_run_arn=map_run,
            status=p.get("statusFilter"),
            max_results=p.get("maxResults"),
            next_token=p.get("nextToken"),
        )
    items = page.items
    redrive = p.get("redriveFilter")
    if redrive is not None:  # filtered per page: a page may come back short, as AWS allows
        items = [e for e in items if (e.redrive_count > 0) == (redrive == "REDRIVEN")]
    return drop_none({"executions": [execution_item(e) for e in items], "nextToken": page.next_token})


async def get_execution_history(ctx: ApiContext, p: Params) -> Result:
    arn = check_arn(p["executionArn"], "execution")
    include = p.get("includeExecutionData")
    include = True if include is None else bool(include)
    async with ctx.store.transaction(readonly=True) as tx:
        page = await tx.list_events(
            arn,
            reverse=bool(p.get("reverseOrder")),
            max_results=p.get("maxResults"),
            next_token=p.get("nextToken"),
            include_data=include,
        )
    return drop_none({"events": [e.to_aws(include) for e in page.items], "nextToken": page.next_token})


# --- stopping and redriving ------------------------------------------------------------------


async def stop_execution(ctx: ApiContext, p: Params) -> Result:
    arn = check_arn(p["executionArn"], "execution")
    record = await ctx.engine.stop_execution(arn, p.get("error") or "", p.get("cause") or "")
    return {"stopDate": record.stop_date or now()}


async def redrive_execution(ctx: ApiContext, p: Params) -> Result:
    arn = check_arn(p["executionArn"], "execution")
    redrive = ctx.engine_feature("redrive_execution", "RedriveExecution")
    record: Execution = await redrive(arn)
    return {"redriveDate": record.redrive_date or now()}


# --- map runs ----------------------------------------------------------------------------------


async def describe_map_run(ctx: ApiContext, p: Params) -> Result:
    arn = check_arn(p["mapRunArn"], "map run")
    async with ctx.store.transaction(readonly=True) as tx:
        return map_run_shape(await tx.get_map_run(arn))


async def list_map_runs(ctx: ApiContext, p: Params) -> Result:
    arn = check_arn(p["executionArn"], "execution")
    async with ctx.store.transaction(readonly=True) as tx:
        page = await tx.list_map_runs(arn, max_results=p.get("maxResults"), next_token=p.get("nextToken"))
    items = [
        drop_none(
            {
                "executionArn": m.execution_arn,
                "mapRunArn": m.arn,
                "stateMachineArn": m.state_machine_arn,
                "startDate": m.start_date,
                "stopDate": m.stop_date,
            }
        )
        for m in page.items
    ]
    return drop_none({"mapRuns": items, "nextToken": page.next_token})


async def update_map_run(ctx: ApiContext, p: Params) -> Result:
    arn = check_arn(p["mapRunArn"], "map run")
    limits: dict[str, Any] = {
        "max_concurrency": p.get("maxConcurrency"),
        "tolerated_failure_percentage": p.get("toleratedFailurePercentage"),
        "tolerated_failure_count": p.get("toleratedFailureCount"),
    }
    if all(v is None for v in limits.values()):
        raise ApiError(
            "ValidationException",
            "Give at least one of maxConcurrency, toleratedFailurePercentage and toleratedFailureCount",
        )
    engine_update = getattr(ctx.engine, "update_map_run", None)
    if engine_update is not None:  # the engine starts the items a wider window frees
        await engine_update(arn, **limits)
        return {}
    async with ctx.store.transaction() as tx:
        freed = await tx.update_map_run(arn, **limits)
        if freed:  # raising rolls the change back: nothing half-applied
            raise ApiError(
                "ValidationException",
                "Widening maxConcurrency of a running map run needs engine support (update_map_run) "
                "that this StateHop engine does not have yet",
            )
    return {}


ACTIONS: dict[str, Handler] = {
    "StartExecution": start_execution,
    "StartSyncExecution": start_sync_execution,
    "DescribeExecution": describe_execution,
    "ListExecutions": list_executions,
    "GetExecutionHistory": get_execution_history,
    "StopExecution": stop_execution,
    "RedriveExecution": redrive_execution,
    "DescribeMapRun": describe_map_run,
    "ListMapRuns": list_map_runs,
    "UpdateMapRun": update_map_run,
}
