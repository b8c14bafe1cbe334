"""The HTTP Task (``arn:aws:states:::http:invoke``), shaped as AWS documents it.

Parameters: ApiEndpoint, Method, Headers, QueryParameters, RequestBody, Transform and
Authentication.ConnectionArn. ``Transform.RequestBodyEncoding`` ``URL_ENCODED`` sends an
object body as a form, arrays per ``RequestEncodingOptions.ArrayFormat`` (INDICES, the
default, REPEAT, COMMAS or BRACKETS). The connection (see connections.py) adds its
authorization and its InvocationHttpParameters; on a clash its values win.

The result is ``{Headers, ResponseBody, StatusCode, StatusText}`` (a JSON response body is
parsed); a non-2xx answer fails the task with ``States.Http.StatusCode.<code>`` and the
result as the cause, a network failure or timeout with ``States.Http.Socket``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from runtime.asl.errors import StatesError
from runtime.integrations.base import Call
from runtime.integrations.config import IntegrationConfig

METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"}
ARRAY_FORMATS = {"INDICES", "REPEAT", "COMMAS", "BRACKETS"}


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def encode_form(body: Mapping[str, Any], array_format: str = "INDICES") -> str:
    """URL-encode an object body as the HTTP Task's ``URL_ENCODED`` transform does."""
    pairs: list[tuple[str, str]] = []
    for key, value in body.items():
        if isinstance(value, list):
            if array_format == "COMMAS":
                pairs.append((key, ",".join(_scalar(v) for v in value)))
            elif array_format == "BRACKETS":
                pairs.extend((f"{key}[]", _scalar(v)) for v in value)
            elif array_format == "REPEAT":
                pairs.extend((key, _scalar(v)) for v in value)
            else:  # INDICES, AWS's default
                pairs.extend((f"{key}[{i}]", _scalar(v)) for i, v in enumerate(value))
        else:
            pairs.append((key, _scalar(value)))
    return urlencode(pairs)


def _fail(error: str, cause: str) -> StatesError:
    return StatesError(error, cause)


def _request_parts(params: Mapping[str, Any]) -> tuple[str, str, dict[str, str], dict[str, str], Any]:
    endpoint = params.get("ApiEndpoint")
    method = str(params.get("Method", "")).upper()
    if not isinstance(endpoint, str) or not endpoint:
        raise _fail("States.Runtime", "http:invoke: ApiEndpoint (a URL string) is required")
    if not endpoint.startswith(("http://", "https://")):
        raise _fail("States.Runtime", f"http:invoke: ApiEndpoint must be an http(s) URL, got {endpoint!r}")
    if method not in METHODS:
        raise _fail(
            "States.Runtime",
            f"http:invoke: Method must be one of {', '.join(sorted(METHODS))}, got {params.get('Method')!r}",
        )
    headers_in = params.get("Headers") or {}
    query_in = params.get("QueryParameters") or {}
    if not isinstance(headers_in, Mapping) or not isinstance(query_in, Mapping):
        raise _fail("States.Runtime", "http:invoke: Headers and QueryParameters must be objects")
    headers = {str(k): _scalar(v) for k, v in headers_in.items()}
    query = {str(k): _scalar(v) for k, v in query_in.items()}
    return endpoint, method, headers, query, params.get("RequestBody")


def _encode_body(body: Any, transform: Mapping[str, Any], headers: dict[str, str]) -> bytes | str | None:
    if body is None:
        return None
    encoding = str(transform.get("RequestBodyEncoding", "NONE")).upper()
    lower = {k.lower() for k in headers}
    if encoding == "URL_ENCODED":
        if not isinstance(body, Mapping):
            raise _fail("States.Runtime", "http:invoke: URL_ENCODED needs RequestBody to be an object")
        array_format = str((transform.get("RequestEncodingOptions") or {}).get("ArrayFormat", "INDICES"))
        if array_format.upper() not in ARRAY_FORMATS:
            raise _fail(
                "States.Runtime",
                f"http:invoke: ArrayFormat must be one of {', '.join(sorted(ARRAY_FORMATS))}, "
                f"got {array_format!r}",
            )
        if "content-type" not in lower:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return encode_form(body, array_format.upper())
    if encoding != "NONE":
        raise _fail(
            "States.Runtime",
            f"http:invoke: RequestBodyEncoding must be NONE or URL_ENCODED, got {encoding!r}",
        )
    if isinstance(body, str):
        return body
    if "content-type" not in lower:
        headers["Content-Type"] = "application/json"
    return orjson.dumps(body)


def _result(response: httpx.Response) -> dict[str, Any]:
    grouped: dict[str, list[str]] = {}
    for key, value in response.headers.multi_items():
        grouped.setdefault(key, []).append(value)
    body: Any
    if response.content:
        try:
            body = response.json()
        except ValueError:
            body = response.text
    else:
        body = ""
    return {
        "Headers": grouped,
        "ResponseBody": body,
        "StatusCode": response.status_code,
        "StatusText": response.reason_phrase,
    }


async def invoke(
    params: Any, call: Call | None = None, *, client: httpx.AsyncClient | None = None
) -> dict[str, Any]:
    """Run one HTTP Task; ``client`` lets tests and callers reuse a connection pool."""
    if not isinstance(params, Mapping):
        raise _fail("States.Runtime", "http:invoke needs an object of Parameters")
    config = call.config if call is not None else IntegrationConfig()
    endpoint, method, headers, query, body = _request_parts(params)
    transform = params.get("Transform") or {}
    if not isinstance(transform, Mapping):
        raise _fail("States.Runtime", "http:invoke: Transform must be an object")
    auth = params.get("Authentication") or {}
    connection = None
    if isinstance(auth, Mapping) and auth.get("ConnectionArn"):
        arn = str(auth["ConnectionArn"])
        connection = config.connection(arn)
        if connection is None:
            raise _fail(
                "States.Runtime",
                f"http:invoke: connection {arn!r} is not configured: add it to STATEHOP_CONNECTIONS "
                "(see docs/services.md)",
            )
    owned = client is None
    client = client or httpx.AsyncClient(timeout=httpx.Timeout(config.http_timeout))
    try:
        for attempt in (1, 2):
            req_headers, req_query, req_body = dict(headers), dict(query), body
            if connection is not None:
                extra = await connection.authorize(client)
                req_headers = _merge_headers(req_headers, extra.headers)
                req_query.update(extra.query)
                if extra.body:
                    if req_body is None:
                        req_body = dict(extra.body)
                    elif isinstance(req_body, Mapping):
                        req_body = {**req_body, **extra.body}
            content = _encode_body(req_body, transform, req_headers)
            try:
                response = await client.request(
                    method, endpoint, params=req_query, headers=req_headers, content=content
                )
            except httpx.HTTPError as exc:
                raise _fail("States.Http.Socket", f"{type(exc).__name__}: {exc}") from None
            if response.status_code == 401 and connection is not None and connection.oauth and attempt == 1:
                connection.invalidate()  # the token may have been revoked: fetch a new one, once
                continue
            break
    finally:
        if owned:
            await client.aclose()
    result = _result(response)
    if not 200 <= response.status_code < 300:
        raise _fail(f"States.Http.StatusCode.{response.status_code}", orjson.dumps(result).decode())
    return result


def _merge_headers(task: dict[str, str], connection: Mapping[str, str]) -> dict[str, str]:
    """Connection headers win over the task's, compared case-insensitively."""
    out = {k: v for k, v in task.items() if k.lower() not in {c.lower() for c in connection}}
    out.update(connection)
    return out
