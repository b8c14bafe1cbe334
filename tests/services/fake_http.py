"""An HTTP API for the HTTP Task tests: echo, status codes, and an OAuth client-credentials flow."""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

CLIENT_ID = "statehop-client"
CLIENT_SECRET = "s3cret"


@dataclass
class FakeApi:
    received: list[dict[str, Any]] = field(default_factory=list)
    tokens_issued: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    def app(self) -> Starlette:
        methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
        return Starlette(
            routes=[
                Route("/echo", self.echo, methods=methods),
                Route("/status/{code:int}", self.status, methods=methods),
                Route("/text", self.text, methods=["GET"]),
                Route("/oauth/token", self.token, methods=["POST", "GET"]),
                Route("/protected", self.protected, methods=["GET", "POST"]),
            ]
        )

    async def _record(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        entry = {
            "method": request.method,
            "path": request.url.path,
            "query": list(request.query_params.multi_items()),
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "body": raw.decode(),
        }
        self.received.append(entry)
        return entry

    async def echo(self, request: Request) -> Response:
        entry = await self._record(request)
        return JSONResponse(entry, headers={"X-Echo": "yes"})

    async def status(self, request: Request) -> Response:
        await self._record(request)
        code = request.path_params["code"]
        return JSONResponse({"error": f"status {code}"}, status_code=code)

    async def text(self, request: Request) -> Response:
        return PlainTextResponse("plain words")

    async def token(self, request: Request) -> Response:
        entry = await self._record(request)
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        form = dict(parse_qsl(entry["body"]))
        if request.headers.get("authorization") != expected or form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        token = f"tok-{next(self._counter)}"
        self.tokens_issued.append(token)
        return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": 3600})

    async def protected(self, request: Request) -> Response:
        entry = await self._record(request)
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ")
        if not auth.startswith("Bearer ") or token not in self.tokens_issued or token in self.revoked:
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        return JSONResponse({"ok": True, "token": token, "query": entry["query"]})
