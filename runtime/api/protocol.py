"""The AWS JSON 1.0 protocol: ``POST /`` with ``X-Amz-Target: AWSStepFunctions.<Action>``.

This is the door boto3, the AWS CLI, Terraform and the Serverless Framework knock on with
nothing but an endpoint URL. Answers are shaped as botocore parses them: members named as in
service-2.json, absent members left out, timestamps as epoch seconds, and errors as HTTP 400
with ``{"__type": code, "message": ...}`` so the SDKs raise their typed exceptions.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from runtime.api.auth import RequestFacts, authenticate
from runtime.api.errors import ApiError, to_api_error
from runtime.api.model import TARGET_PREFIX
from runtime.api.service import ApiContext, invoke

log = logging.getLogger("statehop.api")

CONTENT_TYPE = "application/x-amz-json-1.0"


def _epoch(value: Any) -> Any:
    if isinstance(value, datetime):
        return round(value.timestamp(), 3)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def aws_json(data: Any) -> bytes:
    """JSON as botocore reads it: timestamps as epoch seconds (milliseconds precision)."""
    return orjson.dumps(data, default=_epoch, option=orjson.OPT_PASSTHROUGH_DATETIME)


def facts_of(request: Request, body: bytes) -> RequestFacts:
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    return RequestFacts(
        method=request.method,
        scheme=request.url.scheme,
        raw_path=raw_path.decode("latin-1"),
        query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw),
        body=body,
    )


def _action(request: Request) -> str:
    target = request.headers.get("x-amz-target", "")
    prefix, _, action = target.partition(".")
    if prefix != TARGET_PREFIX or not action:
        raise ApiError("UnknownOperationException", f"Unknown or missing X-Amz-Target {target!r}")
    return action


def router(ctx: ApiContext) -> APIRouter:
    routes = APIRouter()

    @routes.post(
        "/",
        summary="AWS Step Functions JSON 1.0 protocol",
        description="`X-Amz-Target: AWSStepFunctions.<Action>`, body and answer as in the AWS API "
        "reference. Use boto3, the AWS CLI or Terraform with `endpoint_url` pointing here.",
        tags=["aws"],
        response_class=Response,
    )
    async def aws_endpoint(request: Request) -> Response:
        request_id = str(uuid.uuid4())
        started = time.perf_counter()
        action = "?"
        try:
            body = await request.body()
            principal = authenticate(facts_of(request, body), ctx.api)
            action = _action(request)
            try:
                params = orjson.loads(body or b"{}")
            except orjson.JSONDecodeError as exc:
                raise ApiError(
                    "SerializationException", f"The request body is not valid JSON: {exc}"
                ) from None
            if not isinstance(params, dict):
                raise ApiError("SerializationException", "The request body must be a JSON object")
            result = await invoke(ctx, action, params)
            content, status, error = aws_json(result), 200, None
        except Exception as exc:
            error = to_api_error(exc)
            content, status, principal = aws_json(error.body()), error.status, None
        headers = {"x-amzn-RequestId": request_id}
        if error is not None:
            headers["x-amzn-ErrorType"] = error.code
        log.debug(
            "%s %s -> %s %s (%.1f ms)",
            action,
            principal.name if principal else "-",
            status,
            error.code if error else "OK",
            (time.perf_counter() - started) * 1000,
        )
        return Response(content, status_code=status, media_type=CONTENT_TYPE, headers=headers)

    return routes
