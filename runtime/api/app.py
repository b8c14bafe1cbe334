"""``create_app``: the AWS-compatible API, the REST view and the probes in one FastAPI app.

``statehop serve`` and ``statehop api`` mount it beside an engine and a store they already
opened; tests run it on the embedded runtime. Nothing here opens connections of its own.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, Response

from runtime import telemetry
from runtime.api import approvals, protocol, rest
from runtime.api import schedules as schedule_routes
from runtime.api.config import ApiSettings
from runtime.api.errors import ApiError
from runtime.api.limits import BodyLimit, body_limit
from runtime.api.model import service_model
from runtime.api.service import ApiContext, ApiEngine, actions
from runtime.config import Settings
from runtime.store import Store

log = logging.getLogger("statehop.api")

DESCRIPTION = """\
StateHop speaks the AWS Step Functions API: point boto3, the AWS CLI or Terraform at this
server (`endpoint_url`) and call `POST /` with `X-Amz-Target: AWSStepFunctions.<Action>`.
The `/v1` routes are a REST view of the same actions. See docs/api.md.
"""


def create_app(
    engine: ApiEngine, store: Store, settings: Settings, *, api_settings: ApiSettings | None = None
) -> FastAPI:
    """The API over ``engine`` and ``store``; authentication from ``api_settings`` or the env."""
    api = api_settings if api_settings is not None else ApiSettings.from_settings(settings)
    ctx = ApiContext(engine, store, settings, api)
    service_model()  # load botocore's model now, not on the first request
    actions()
    if api.open:
        log.warning("API authentication is OFF (STATEHOP_API_AUTH=open): for local development only")
    elif not api.access_keys and not api.tokens:
        log.warning(
            "API: no STATEHOP_ACCESS_KEYS or STATEHOP_API_TOKENS configured, so every request is "
            "refused; configure credentials, or set STATEHOP_API_AUTH=open for local development"
        )
    app = FastAPI(title="StateHop", description=DESCRIPTION, version="0.1.0", openapi_url="/openapi.json")
    app.state.api = ctx
    app.include_router(rest.health_router(ctx))
    app.include_router(telemetry.metrics.metrics_router())  # unauthenticated, like health: for scrapers
    app.include_router(protocol.router(ctx))
    app.include_router(rest.router(ctx))
    app.include_router(schedule_routes.router(ctx))
    app.include_router(approvals.router(ctx))  # the token is the credential: no API auth

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return rest.rest_error(exc)

    app.add_exception_handler(ApiError, api_error)
    app.add_middleware(BodyLimit, limit=body_limit(settings.max_payload_bytes))
    return app
