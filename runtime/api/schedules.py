"""Schedule triggers over REST (/v1/schedules): the API side of ``statehop schedule``.

Shapes follow EventBridge Scheduler (Name, ScheduleExpression, ScheduleExpressionTimezone,
StartDate, EndDate, FlexibleTimeWindow, ActionAfterCompletion, Target {Arn, Input,
RetryPolicy, DeadLetterConfig}, State, Description); the schedules live in the store's
database and the scheduler role fires them. Firings given up on are listed under
``/v1/schedules/{name}/dead-letters``.

A malformed field answers 400 ``ValidationException`` with ``field`` naming it (AWS's name,
e.g. ``Target.RetryPolicy.MaximumRetryAttempts``) and a message that says the expected form.
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
from runtime.scheduler.policy import DEFAULT_MAX_EVENT_AGE, DEFAULT_RETRY_ATTEMPTS

DATE = "ISO 8601 (2026-12-31T23:59:59Z; UTC without an offset) or epoch seconds"


class TargetBody(BaseModel):
    Arn: str = Field(description="the state machine (or version/alias) ARN to start")
    Input: str | dict[str, Any] | None = Field(
        None, description="the executions' input (JSON text or object)"
    )
    RetryPolicy: Any = Field(
        None,
        description="{MaximumRetryAttempts: 0-185 (185), MaximumEventAgeInSeconds: 60-86400 (86400)}",
    )
    DeadLetterConfig: Any = Field(
        None, description="{Arn: arn:aws:sqs:<region>:<account>:<queue>}: failed firings go to that queue"
    )


class TargetUpdate(BaseModel):
    Arn: str | None = None
    Input: str | dict[str, Any] | None = None
    RetryPolicy: Any = Field(None, description="replaces the retry policy (missing members: AWS defaults)")
    DeadLetterConfig: Any = Field(None, description="null removes it")


class ScheduleBody(BaseModel):
    Name: str
    ScheduleExpression: str = Field(description="cron(...), rate(...) or at(...)")
    ScheduleExpressionTimezone: str = "UTC"
    Target: TargetBody
    State: Literal["ENABLED", "DISABLED"] = "ENABLED"
    Description: str = ""
    StartDate: Any = Field(None, description=f"no firing before: {DATE}")
    EndDate: Any = Field(None, description=f"no firing after: {DATE}")
    FlexibleTimeWindow: Any = Field(
        None,
        description='{"Mode": "OFF"} (default) or {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 1-1440}',
    )
    ActionAfterCompletion: Any = Field("NONE", description="NONE or DELETE (remove after the last firing)")


class ScheduleUpdate(BaseModel):
    """Only the members present change; StartDate, EndDate and Target.DeadLetterConfig set to
    null are removed."""

    ScheduleExpression: str | None = None
    ScheduleExpressionTimezone: str | None = None
    Target: TargetUpdate | None = None
    State: Literal["ENABLED", "DISABLED"] | None = None
    Description: str | None = None
    StartDate: Any = None
    EndDate: Any = None
    FlexibleTimeWindow: Any = None
    ActionAfterCompletion: Any = None


def _input(target: TargetBody | TargetUpdate | None) -> str | None:
    if target is None or target.Input is None:
        return None
    return target.Input if isinstance(target.Input, str) else orjson.dumps(target.Input).decode()


def _object(value: Any, field: str, expected: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScheduleValidationError.of(field, f"{value!r} is not an object", expected)
    return value


WINDOW_FORM = '{"Mode": "OFF"} or {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 1 to 1440}'
RETRY_FORM = '{"MaximumRetryAttempts": 0 to 185, "MaximumEventAgeInSeconds": 60 to 86400}'
DLQ_FORM = '{"Arn": "arn:aws:sqs:<region>:<account>:<queue>"}'


def flexible_window(value: Any) -> int | None:
    """FlexibleTimeWindow -> minutes of Mode FLEXIBLE, or None for Mode OFF."""
    window = _object(value, "FlexibleTimeWindow", WINDOW_FORM)
    unknown = set(window) - {"Mode", "MaximumWindowInMinutes"}
    if unknown:
        raise ScheduleValidationError.of(
            "FlexibleTimeWindow", f"unknown member(s) {sorted(unknown)}", WINDOW_FORM
        )
    mode = window.get("Mode")
    minutes = window.get("MaximumWindowInMinutes")
    if mode == "OFF":
        if minutes is not None:
            raise ScheduleValidationError.of(
                "FlexibleTimeWindow.MaximumWindowInMinutes", "is only allowed with Mode FLEXIBLE", WINDOW_FORM
            )
        return None
    if mode == "FLEXIBLE":
        if minutes is None:
            raise ScheduleValidationError.of(
                "FlexibleTimeWindow.MaximumWindowInMinutes", "is required with Mode FLEXIBLE", WINDOW_FORM
            )
        return minutes  # type: ignore[no-any-return]  # range and type checked by the schedules module
    raise ScheduleValidationError.of(
        "FlexibleTimeWindow.Mode", f"{mode!r} is not OFF or FLEXIBLE", WINDOW_FORM
    )


def retry_policy(value: Any) -> tuple[Any, Any]:
    """RetryPolicy -> (MaximumRetryAttempts, MaximumEventAgeInSeconds), AWS defaults for the
    members left out (the schedules module checks their ranges)."""
    policy = _object(value, "Target.RetryPolicy", RETRY_FORM)
    unknown = set(policy) - {"MaximumRetryAttempts", "MaximumEventAgeInSeconds"}
    if unknown:
        raise ScheduleValidationError.of(
            "Target.RetryPolicy", f"unknown member(s) {sorted(unknown)}", RETRY_FORM
        )
    return (
        policy.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS),
        policy.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE),
    )


def dead_letter_arn(value: Any) -> str:
    config = _object(value, "Target.DeadLetterConfig", DLQ_FORM)
    if set(config) != {"Arn"}:
        raise ScheduleValidationError.of("Target.DeadLetterConfig", "needs exactly the member Arn", DLQ_FORM)
    return config["Arn"]  # type: ignore[no-any-return]  # checked by the schedules module


def _error(exc: Exception) -> Response:
    if isinstance(exc, ScheduleNotFound):
        return rest_error(ApiError("ResourceNotFound", str(exc)))
    if isinstance(exc, ScheduleAlreadyExists):
        return rest_error(ApiError("ConflictException", str(exc)))
    field = getattr(exc, "field", None)
    return rest_error(ApiError("ValidationException", str(exc), **({"field": field} if field else {})))


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
            attempts, age = (None, None)
            if body.Target.RetryPolicy is not None:
                attempts, age = retry_policy(body.Target.RetryPolicy)
            made = await schedules.create_schedule(
                ctx.store,
                body.Name,
                body.ScheduleExpression,
                body.Target.Arn,
                input=_input(body.Target) or "{}",
                timezone=body.ScheduleExpressionTimezone,
                state=body.State,
                description=body.Description,
                start_date=body.StartDate,
                end_date=body.EndDate,
                flexible_window=(
                    None if body.FlexibleTimeWindow is None else flexible_window(body.FlexibleTimeWindow)
                ),
                action_after_completion=body.ActionAfterCompletion,
                maximum_retry_attempts=attempts,
                maximum_event_age=age,
                dead_letter_arn=(
                    None
                    if body.Target.DeadLetterConfig is None
                    else dead_letter_arn(body.Target.DeadLetterConfig)
                ),
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
        given = body.model_fields_set
        target = body.Target
        target_given = target.model_fields_set if target is not None else set()
        optional: dict[str, Any] = {}
        try:
            if "StartDate" in given:
                optional["start_date"] = body.StartDate
            if "EndDate" in given:
                optional["end_date"] = body.EndDate
            if "FlexibleTimeWindow" in given:
                optional["flexible_window"] = (
                    None if body.FlexibleTimeWindow is None else flexible_window(body.FlexibleTimeWindow)
                )
            if target is not None and "DeadLetterConfig" in target_given:
                config = target.DeadLetterConfig
                optional["dead_letter_arn"] = None if config is None else dead_letter_arn(config)
            if target is not None and target.RetryPolicy is not None:
                optional["maximum_retry_attempts"], optional["maximum_event_age"] = retry_policy(
                    target.RetryPolicy
                )
            changed = await schedules.update_schedule(
                ctx.store,
                name,
                expression=body.ScheduleExpression,
                timezone=body.ScheduleExpressionTimezone,
                state_machine_arn=target.Arn if target else None,
                input=_input(target),
                state=body.State,
                description=body.Description,
                action_after_completion=body.ActionAfterCompletion,
                **optional,
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

    @routes.get("/{name}/dead-letters", summary="Firings of a schedule given up on (retries exhausted)")
    async def dead_letters(
        name: str, limit: int = Query(100, ge=1, le=1000), nextToken: str | None = None
    ) -> Response:
        try:
            items, token = await schedules.list_dead_letters(
                ctx.store, name, limit=limit, next_token=nextToken
            )
        except errors as exc:
            return _error(exc)
        return rest_json(
            {"DeadLetters": [d.to_json() for d in items], **({"NextToken": token} if token else {})}
        )

    @routes.delete("/{name}/dead-letters", summary="Forget a schedule's dead letters")
    async def purge(name: str) -> Response:
        try:
            count = await schedules.purge_dead_letters(ctx.store, name)
        except errors as exc:
            return _error(exc)
        return rest_json({"Deleted": count})

    return routes
