"""A REST view of the same actions, for curl, scripts, approval links and the console.

Every route calls the same handler as its AWS action (runtime/api/service.py), so the
members of the answers are the AWS ones; only timestamps differ (ISO 8601 here) and errors
use HTTP statuses that mean something (404, 409, ...) with ``{"error": code, "message": ...}``.
FastAPI documents it all at ``/openapi.json`` (and ``/docs``).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Body, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from runtime.api.auth import Principal, authenticate
from runtime.api.errors import ApiError, to_api_error
from runtime.api.protocol import facts_of
from runtime.api.service import ApiContext, Result, invoke, tags_to_list
from runtime.transport.base import Topology

JSON = "application/json"


def rest_json(data: Any, status: int = 200) -> Response:
    """JSON with ISO 8601 timestamps (orjson's native datetime form)."""
    return Response(orjson.dumps(data), status_code=status, media_type=JSON)


def rest_error(error: ApiError) -> Response:
    return rest_json({"error": error.code, "message": error.message, **error.extra}, error.rest_status)


class CreateStateMachineBody(BaseModel):
    name: str
    definition: str | dict[str, Any] = Field(description="ASL definition: JSON text or an object")
    roleArn: str | None = Field(default=None, description="default arn:aws:iam::<account>:role/statehop")
    type: Literal["STANDARD", "EXPRESS"] = "STANDARD"
    tags: dict[str, str] = Field(default_factory=dict)
    publish: bool = False
    versionDescription: str | None = None


class StartExecutionBody(BaseModel):
    input: Any = Field(default=None, description="the execution input, any JSON value (default {})")
    name: str | None = None
    traceHeader: str | None = None


class ErrorCauseBody(BaseModel):
    error: str | None = None
    cause: str | None = None


class ValidateBody(BaseModel):
    definition: str | dict[str, Any]
    type: Literal["STANDARD", "EXPRESS"] = "STANDARD"
    severity: Literal["ERROR", "WARNING"] = "WARNING"


def _text(value: str | dict[str, Any]) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def router(ctx: ApiContext) -> APIRouter:
    async def caller(request: Request) -> Principal:
        return authenticate(facts_of(request, await request.body()), ctx.api)

    routes = APIRouter(prefix="/v1", tags=["rest"], dependencies=[Depends(caller)])

    def machine_arn(ref: str) -> str:
        """``name``, ``name:version``, ``name:alias`` or a full ARN."""
        if ref.startswith("arn:"):
            return ref
        name, _, qualifier = ref.partition(":")
        arn = ctx.arns.state_machine(name)
        return f"{arn}:{qualifier}" if qualifier else arn

    async def call(action: str, params: dict[str, Any], status: int = 200) -> Response:
        params = {k: v for k, v in params.items() if v is not None}
        try:
            result: Result = await invoke(ctx, action, params)
        except Exception as exc:
            return rest_error(to_api_error(exc))
        return rest_json(result, status)

    # --- state machines ------------------------------------------------------------------

    @routes.get("/state-machines", summary="List state machines (ListStateMachines)")
    async def list_machines(
        maxResults: int | None = Query(None), nextToken: str | None = Query(None)
    ) -> Response:
        return await call("ListStateMachines", {"maxResults": maxResults, "nextToken": nextToken})

    @routes.post("/state-machines", status_code=201, summary="Create a state machine (CreateStateMachine)")
    async def create_machine(body: CreateStateMachineBody) -> Response:
        params = {
            "name": body.name,
            "definition": _text(body.definition),
            "roleArn": body.roleArn or f"arn:aws:iam::{ctx.settings.account}:role/statehop",
            "type": body.type,
            "tags": tags_to_list(body.tags) if body.tags else None,
            "publish": body.publish or None,
            "versionDescription": body.versionDescription,
        }
        return await call("CreateStateMachine", params, 201)

    @routes.get("/state-machines/{ref}", summary="Describe a state machine or version (DescribeStateMachine)")
    async def describe_machine(ref: str) -> Response:
        return await call("DescribeStateMachine", {"stateMachineArn": machine_arn(ref)})

    @routes.delete("/state-machines/{ref}", summary="Delete a state machine (DeleteStateMachine)")
    async def delete_machine(ref: str) -> Response:
        return await call("DeleteStateMachine", {"stateMachineArn": machine_arn(ref)})

    @routes.get(
        "/state-machines/{ref}/executions",
        summary="List executions of a machine, version or alias, newest first (ListExecutions)",
    )
    async def list_machine_executions(
        ref: str,
        status: str | None = Query(None, description="RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED..."),
        maxResults: int | None = Query(None),
        nextToken: str | None = Query(None),
    ) -> Response:
        params = {
            "stateMachineArn": machine_arn(ref),
            "statusFilter": status,
            "maxResults": maxResults,
            "nextToken": nextToken,
        }
        return await call("ListExecutions", params)

    @routes.post(
        "/state-machines/{ref}/executions",
        status_code=201,
        summary="Start an execution; ref may be name, name:version or name:alias (StartExecution)",
    )
    async def start(ref: str, body: StartExecutionBody | None = None) -> Response:
        body = body or StartExecutionBody()
        params = {
            "stateMachineArn": machine_arn(ref),
            "input": orjson.dumps({} if body.input is None else body.input).decode(),
            "name": body.name,
            "traceHeader": body.traceHeader,
        }
        return await call("StartExecution", params, 201)

    @routes.post(
        "/state-machines/{ref}/sync-executions",
        summary="Run an EXPRESS execution and answer with its result (StartSyncExecution)",
    )
    async def start_sync(ref: str, body: StartExecutionBody | None = None) -> Response:
        body = body or StartExecutionBody()
        params = {
            "stateMachineArn": machine_arn(ref),
            "input": orjson.dumps({} if body.input is None else body.input).decode(),
            "name": body.name,
            "traceHeader": body.traceHeader,
        }
        return await call("StartSyncExecution", params)

    # --- executions (ARNs in the path: a map run child's ARN contains a '/') ----------------

    @routes.get("/executions/{arn:path}/history", summary="Execution history (GetExecutionHistory)")
    async def history(
        arn: str,
        maxResults: int | None = Query(None),
        nextToken: str | None = Query(None),
        reverseOrder: bool = Query(False),
        includeExecutionData: bool = Query(True),
    ) -> Response:
        params = {
            "executionArn": arn,
            "maxResults": maxResults,
            "nextToken": nextToken,
            "reverseOrder": reverseOrder,
            "includeExecutionData": includeExecutionData,
        }
        return await call("GetExecutionHistory", params)

    @routes.get("/executions/{arn:path}", summary="Describe an execution (DescribeExecution)")
    async def describe_execution(arn: str) -> Response:
        return await call("DescribeExecution", {"executionArn": arn})

    @routes.post("/executions/{arn:path}/stop", summary="Stop an execution (StopExecution)")
    async def stop(arn: str, body: ErrorCauseBody | None = None) -> Response:
        body = body or ErrorCauseBody()
        return await call("StopExecution", {"executionArn": arn, "error": body.error, "cause": body.cause})

    @routes.post("/executions/{arn:path}/redrive", summary="Redrive a failed execution (RedriveExecution)")
    async def redrive(arn: str) -> Response:
        return await call("RedriveExecution", {"executionArn": arn})

    # --- task tokens -----------------------------------------------------------------------

    @routes.post(
        "/tasks/{token}/success",
        summary="Complete a waiting task with the request body as its output (SendTaskSuccess)",
    )
    async def task_success(token: str, output: Annotated[Any, Body()] = None) -> Response:
        return await call("SendTaskSuccess", {"taskToken": token, "output": orjson.dumps(output).decode()})

    @routes.post("/tasks/{token}/failure", summary="Fail a waiting task (SendTaskFailure)")
    async def task_failure(token: str, body: ErrorCauseBody | None = None) -> Response:
        body = body or ErrorCauseBody()
        return await call("SendTaskFailure", {"taskToken": token, "error": body.error, "cause": body.cause})

    @routes.post("/tasks/{token}/heartbeat", summary="Report that a task is still alive (SendTaskHeartbeat)")
    async def task_heartbeat(token: str) -> Response:
        return await call("SendTaskHeartbeat", {"taskToken": token})

    # --- definitions -----------------------------------------------------------------------

    @routes.post("/validate", summary="Validate a definition (ValidateStateMachineDefinition)")
    async def validate(body: ValidateBody) -> Response:
        params = {"definition": _text(body.definition), "type": body.type, "severity": body.severity}
        return await call("ValidateStateMachineDefinition", params)

    return routes


def health_router(ctx: ApiContext) -> APIRouter:
    """Probes, never authenticated: Kubernetes asks them without credentials."""
    routes = APIRouter(tags=["health"])

    @routes.get("/healthz", summary="Liveness: the process serves requests")
    async def healthz() -> Response:
        return rest_json({"status": "ok"})

    @routes.get("/readyz", summary="Readiness: the store answers (and the broker, when there is one)")
    async def readyz() -> Response:
        checks: dict[str, str] = {}
        ready = True
        try:
            async with asyncio.timeout(5):
                async with ctx.store.transaction(readonly=True) as tx:
                    await tx.list_state_machines(max_results=1)
            checks["store"] = "ok"
        except Exception as exc:
            checks["store"], ready = f"{type(exc).__name__}: {exc}", False
        transport = getattr(ctx.engine, "transport", None)
        if transport is not None:
            try:
                async with asyncio.timeout(5):
                    await transport.queue_depth(Topology.HOPS)
                checks["broker"] = "ok"
            except Exception as exc:
                checks["broker"], ready = f"{type(exc).__name__}: {exc}", False
        return rest_json({"status": "ready" if ready else "unavailable", **checks}, 200 if ready else 503)

    return routes
