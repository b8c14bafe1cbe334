"""Schedule triggers over REST (/v1/schedules): the API side of ``statehop schedule``.

Shapes follow EventBridge Scheduler (Name, ScheduleExpression, ScheduleExpressionTimezone,
Target {Arn, Input}, State, Description); the schedules live in the store's database and the
scheduler role fires them.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from runtime.api.auth import Principal, authenticate
from runtime.api.errors import ApiError
from runtime.api.protocol import facts_of
from runtime.api.rest import rest_error, rest_json
from runtime.api.service import ApiContext
from runtime.scheduler import schedules
from runtime.scheduler.errors import ScheduleAlreadyExists, ScheduleNotFound, ScheduleValidationError


class TargetBody(BaseModel):
    Arn: str = Field(description="the state machine (or version/alias) ARN to start")
    Input: str | dict[str, Any] | None = Field(
        None, description="the executions' input (JSON text or object)"
    )


class ScheduleBody(BaseModel):
    Name: str
    ScheduleExpression: str = Field(description="cron(...), rate(...) or at(...)")
    ScheduleExpressionTimezone: str = "UTC"
    Target: TargetBody
    State: Literal["ENABLED", "DISABLED"] = "ENABLED"
    Description: str = ""


class ScheduleUpdate(BaseModel):
    ScheduleExpression: str | None = None
    ScheduleExpressionTimezone: str | None = None
    Target: TargetBody | None = None
    State: Literal["ENABLED", "DISABLED"] | None = None
    Description: str | None = None


def _input(target: TargetBody | None) -> str | None:
    if target is None or target.Input is None:
        return None
    return target.Input if isinstance(target.Input, str) else orjson.dumps(target.Input).decode()


def _error(exc: Exception) -> Response:
    if isinstance(exc, ScheduleNotFound):
        return rest_error(ApiError("ResourceNotFound", str(exc)))
    if isinstance(exc, ScheduleAlreadyExists):
        return rest_error(ApiError("ConflictException", str(exc)))
    return rest_error(ApiError("ValidationException", str(exc)))


def router(ctx: ApiContext) -> APIRouter:
    async def caller(request: Request) -> Principal:
        return authenticate(facts_of(request, await request.body()), ctx.api)

    routes = APIRouter(prefix="/v1/schedules", tags=["schedules"], dependencies=[Depends(caller)])
    errors = (ScheduleValidationError, ScheduleNotFound, ScheduleAlreadyExists)

    @routes.get("", summary="List schedules")
    async def list_schedules(
        prefix: str | None = None,
        state: Literal["ENABLED", "DISABLED"] | None = None,
        limit: int = Query(100, ge=1, le=1000),
        nextToken: str | None = None,
    ) -> Response:
        try:
            items, token = await schedules.list_schedules(
                ctx.store, name_prefix=prefix, state=state, limit=limit, next_token=nextToken
            )
        except errors as exc:
            return _error(exc)
        return rest_json(
            {"Schedules": [s.to_json() for s in items], **({"NextToken": token} if token else {})}
        )

    @routes.post("", summary="Create a schedule", status_code=201)
    async def create(body: ScheduleBody) -> Response:
        try:
            made = await schedules.create_schedule(
                ctx.store,
                body.Name,
                body.ScheduleExpression,
                body.Target.Arn,
                input=_input(body.Target) or "{}",
                timezone=body.ScheduleExpressionTimezone,
                state=body.State,
                description=body.Description,
            )
        except errors as exc:
            return _error(exc)
        return rest_json(made.to_json(), 201)

    @routes.get("/{name}", summary="Describe a schedule")
    async def get(name: str) -> Response:
        try:
            return rest_json((await schedules.get_schedule(ctx.store, name)).to_json())
        except errors as exc:
            return _error(exc)

    @routes.put("/{name}", summary="Change the given fields of a schedule")
    async def update(name: str, body: ScheduleUpdate) -> Response:
        try:
            changed = await schedules.update_schedule(
                ctx.store,
                name,
                expression=body.ScheduleExpression,
                timezone=body.ScheduleExpressionTimezone,
                state_machine_arn=body.Target.Arn if body.Target else None,
                input=_input(body.Target),
                state=body.State,
                description=body.Description,
            )
        except errors as exc:
            return _error(exc)
        return rest_json(changed.to_json())

    @routes.delete("/{name}", summary="Delete a schedule", status_code=204)
    async def delete(name: str) -> Response:
        try:
            await schedules.delete_schedule(ctx.store, name)
        except errors as exc:
            return _error(exc)
        return Response(status_code=204)

    return routes
