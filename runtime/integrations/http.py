"""The HTTP Task (``arn:aws:states:::http:invoke``), shaped as AWS documents it.

Parameters: ApiEndpoint, Method, Headers, QueryParameters, RequestBody, Transform
(RequestBodyEncoding NONE | URL_ENCODED with RequestEncodingOptions.ArrayFormat) and
Authentication.ConnectionArn. The result is ``{Headers, ResponseBody, StatusCode, StatusText}``;
a non-2xx answer fails the task with ``States.Http.StatusCode.<code>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from runtime.asl.errors import StatesError

#: Connections: ConnectionArn -> {"headers": {...}} (basic/API-key/OAuth resolved to headers).
CONNECTIONS: dict[str, dict[str, Any]] = {}
TIMEOUT = httpx.Timeout(60.0)


def _encode_form(body: Mapping[str, Any], array_format: str) -> str:
    pairs: list[tuple[str, str]] = []
    for key, value in body.items():
        if isinstance(value, list):
            if array_format == "COMMAS":
                pairs.append((key, ",".join(str(v) for v in value)))
            elif array_format == "BRACKETS":
                pairs.extend((f"{key}[]", str(v)) for v in value)
            elif array_format == "INDICES":
                pairs.extend((f"{key}[{i}]", str(v)) for i, v in enumerate(value))
            else:  # REPEAT (AWS default)
                pairs.extend((key, str(v)) for v in value)
        else:
            pairs.append((key, str(value)))
    return urlencode(pairs)


def _fail(error: str, cause: str) -> StatesError:
    return StatesError(error, cause)


async def invoke(params: Any, client: httpx.AsyncClient | None = None) -> dict[str, Any]:
    if not isinstance(params, Mapping):
        raise _fail("States.Runtime", "http:invoke needs an object of Parameters")
    endpoint = params.get("ApiEndpoint")
    method = str(params.get("Method", "")).upper()
    if not isinstance(endpoint, str) or not endpoint:
        raise _fail("States.Runtime", "http:invoke: ApiEndpoint (a URL string) is required")
    if method not in {"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"}:
        raise _fail(
            "States.Runtime",
            f"http:invoke: Method must be GET, POST, PUT, DELETE, PATCH, OPTIONS or HEAD, "
            f"got {params.get('Method')!r}",
        )
    headers = {str(k): str(v) for k, v in (params.get("Headers") or {}).items()}
    auth = params.get("Authentication") or {}
    if auth.get("ConnectionArn"):
        connection = CONNECTIONS.get(auth["ConnectionArn"])
        if connection is None:
            raise _fail("States.Http.Connection", f"Unknown connection {auth['ConnectionArn']!r}")
        headers.update(connection.get("headers", {}))
    query = params.get("QueryParameters") or {}
    body = params.get("RequestBody")
    transform = params.get("Transform") or {}
    content: bytes | str | None = None
    if body is not None:
        if transform.get("RequestBodyEncoding") == "URL_ENCODED" and isinstance(body, Mapping):
            array_format = (transform.get("RequestEncodingOptions") or {}).get("ArrayFormat", "REPEAT")
            content = _encode_form(body, array_format)
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif isinstance(body, str):
            content = body
        else:
            content = orjson.dumps(body)
            headers.setdefault("Content-Type", "application/json")
    owned = client is None
    client = client or httpx.AsyncClient(timeout=TIMEOUT)
    try:
        response = await client.request(method, endpoint, params=query, headers=headers, content=content)
    except httpx.HTTPError as exc:
        raise _fail("States.Http.Socket", f"{type(exc).__name__}: {exc}") from None
    finally:
        if owned:
            await client.aclose()
    try:
        response_body: Any = response.json()
    except ValueError:
        response_body = response.text
    result = {
        "Headers": {k: [v] for k, v in response.headers.items()},
        "ResponseBody": response_body,
        "StatusCode": response.status_code,
        "StatusText": response.reason_phrase,
    }
    if not 200 <= response.status_code < 300:
        raise _fail(f"States.Http.StatusCode.{response.status_code}", orjson.dumps(result).decode())
    return result
