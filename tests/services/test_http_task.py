"""The HTTP Task (arn:aws:states:::http:invoke) against a local test API.

Through the engine (task message -> built-in service -> reply): the AWS result shape, JSON and
text bodies, States.Http.StatusCode.<n> caught by a Catch, States.Http.Socket. Directly on
``http.invoke``: every Transform option, and EventBridge-style connections (basic, API key,
OAuth client credentials with a cached token refreshed after a 401) from STATEHOP_CONNECTIONS.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

import orjson
import pytest

from runtime.asl.errors import StatesError
from runtime.integrations.base import Call
from runtime.integrations.config import IntegrationConfig
from runtime.integrations.connections import ConnectionConfigError, load_connections
from runtime.integrations.http import encode_form, invoke
from tests.services.fake_http import CLIENT_ID, CLIENT_SECRET, FakeApi
from tests.services.harness import Runtime, runtime
from tests.services.servers import closed_port, serve_app

HTTP = "arn:aws:states:::http:invoke"
CONN = "arn:aws:events:us-east-1:123456789012:connection/{name}/0f1e2d3c"


@pytest.fixture
async def api() -> AsyncIterator[tuple[FakeApi, str]]:
    fake = FakeApi()
    async with serve_app(fake.app()) as url:
        yield fake, url


@pytest.fixture
async def rt() -> AsyncIterator[Runtime]:
    async with runtime() as r:
        yield r


def machine(parameters: dict[str, Any], catch: bool = False) -> dict[str, Any]:
    task: dict[str, Any] = {"Type": "Task", "Resource": HTTP, "Parameters": parameters, "End": True}
    if catch:
        task["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}]
        task.pop("End")
        task["Next"] = "Done"
        return {
            "StartAt": "Call",
            "States": {
                "Call": task,
                "Done": {"Type": "Succeed"},
                "Caught": {"Type": "Pass", "End": True},
            },
        }
    return {"StartAt": "Call", "States": {"Call": task}}


def call(config: IntegrationConfig | None = None) -> Call:
    return Call(resource=HTTP, action="http:invoke", config=config or IntegrationConfig())


# ------------------------------------------------------------------ through the engine


async def test_get_with_query_and_headers_returns_aws_shape(rt: Runtime, api: tuple[FakeApi, str]) -> None:
    fake, url = api
    result = await rt.run(
        machine(
            {
                "ApiEndpoint.$": "$.endpoint",
                "Method": "GET",
                "Headers": {"X-Trace": "abc"},
                "QueryParameters": {"q.$": "$.q", "page": 2},
            }
        ),
        {"endpoint": f"{url}/echo", "q": "mugs"},
    )
    assert result.status == "SUCCEEDED", result
    out = result.output
    assert set(out) == {"Headers", "ResponseBody", "StatusCode", "StatusText"}
    assert out["StatusCode"] == 200 and out["StatusText"] == "OK"
    assert out["Headers"]["x-echo"] == ["yes"]
    assert out["ResponseBody"]["method"] == "GET"
    assert out["ResponseBody"]["query"] == [["q", "mugs"], ["page", "2"]]
    assert fake.received[0]["headers"]["x-trace"] == "abc"


async def test_post_json_body(rt: Runtime, api: tuple[FakeApi, str]) -> None:
    _, url = api
    result = await rt.run(
        machine({"ApiEndpoint": f"{url}/echo", "Method": "POST", "RequestBody": {"order.$": "$.order"}}),
        {"order": {"id": "o-1", "lines": [1, 2]}},
    )
    assert result.status == "SUCCEEDED", result
    echoed = result.output["ResponseBody"]
    assert json.loads(echoed["body"]) == {"order": {"id": "o-1", "lines": [1, 2]}}
    assert echoed["headers"]["content-type"] == "application/json"


async def test_text_body_is_returned_as_a_string(rt: Runtime, api: tuple[FakeApi, str]) -> None:
    _, url = api
    result = await rt.run(machine({"ApiEndpoint": f"{url}/text", "Method": "GET"}))
    assert result.output["ResponseBody"] == "plain words"


async def test_non_2xx_fails_with_status_code_error_and_is_catchable(
    rt: Runtime, api: tuple[FakeApi, str]
) -> None:
    _, url = api
    failed = await rt.run(machine({"ApiEndpoint": f"{url}/status/404", "Method": "GET"}))
    assert failed.status == "FAILED"
    assert failed.error == "States.Http.StatusCode.404"
    cause = json.loads(failed.cause or "")
    assert cause["StatusCode"] == 404 and cause["ResponseBody"] == {"error": "status 404"}

    caught = await rt.run(machine({"ApiEndpoint": f"{url}/status/503", "Method": "POST"}, catch=True), {})
    assert caught.status == "SUCCEEDED"
    assert caught.output["error"]["Error"] == "States.Http.StatusCode.503"


async def test_unreachable_endpoint_fails_with_socket_error(rt: Runtime) -> None:
    result = await rt.run(machine({"ApiEndpoint": f"http://127.0.0.1:{closed_port()}/x", "Method": "GET"}))
    assert result.status == "FAILED" and result.error == "States.Http.Socket"


async def test_invalid_parameters_fail_with_states_runtime(rt: Runtime) -> None:
    result = await rt.run(machine({"ApiEndpoint": "http://127.0.0.1/x", "Method": "FETCH"}))
    assert result.status == "FAILED" and result.error == "States.Runtime"
    assert "Method" in (result.cause or "")


async def test_unknown_connection_names_the_variable_to_set(rt: Runtime, api: tuple[FakeApi, str]) -> None:
    _, url = api
    params = {
        "ApiEndpoint": f"{url}/echo",
        "Method": "GET",
        "Authentication": {"ConnectionArn": CONN.format(name="nope")},
    }
    result = await rt.run(machine(params))
    assert result.status == "FAILED" and result.error == "States.Runtime"
    assert "STATEHOP_CONNECTIONS" in (result.cause or "")


# ------------------------------------------------------------------ Transform


@pytest.mark.parametrize(
    ("array_format", "expected"),
    [
        (None, [("sku[0]", "a"), ("sku[1]", "b"), ("n", "3"), ("gift", "true")]),
        ("INDICES", [("sku[0]", "a"), ("sku[1]", "b"), ("n", "3"), ("gift", "true")]),
        ("REPEAT", [("sku", "a"), ("sku", "b"), ("n", "3"), ("gift", "true")]),
        ("COMMAS", [("sku", "a,b"), ("n", "3"), ("gift", "true")]),
        ("BRACKETS", [("sku[]", "a"), ("sku[]", "b"), ("n", "3"), ("gift", "true")]),
    ],
)
async def test_url_encoded_transform(
    api: tuple[FakeApi, str], array_format: str | None, expected: list[tuple[str, str]]
) -> None:
    fake, url = api
    transform: dict[str, Any] = {"RequestBodyEncoding": "URL_ENCODED"}
    if array_format:
        transform["RequestEncodingOptions"] = {"ArrayFormat": array_format}
    params = {
        "ApiEndpoint": f"{url}/echo",
        "Method": "POST",
        "RequestBody": {"sku": ["a", "b"], "n": 3, "gift": True},
        "Transform": transform,
    }
    result = await invoke(params, call())
    assert result["StatusCode"] == 200
    sent = fake.received[-1]
    assert sent["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qsl(sent["body"]) == expected


async def test_url_encoded_through_the_engine(rt: Runtime, api: tuple[FakeApi, str]) -> None:
    fake, url = api
    params = {
        "ApiEndpoint": f"{url}/echo",
        "Method": "POST",
        "RequestBody": {"ids.$": "$.ids"},
        "Transform": {
            "RequestBodyEncoding": "URL_ENCODED",
            "RequestEncodingOptions": {"ArrayFormat": "REPEAT"},
        },
    }
    result = await rt.run(machine(params), {"ids": [7, 8]})
    assert result.status == "SUCCEEDED", result
    assert parse_qsl(fake.received[-1]["body"]) == [("ids", "7"), ("ids", "8")]


async def test_bad_transform_options_fail() -> None:
    params = {
        "ApiEndpoint": "http://127.0.0.1:1/x",
        "Method": "POST",
        "RequestBody": {"a": [1]},
        "Transform": {
            "RequestBodyEncoding": "URL_ENCODED",
            "RequestEncodingOptions": {"ArrayFormat": "NOPE"},
        },
    }
    with pytest.raises(StatesError) as err:
        await invoke(params, call())
    assert err.value.error == "States.Runtime" and "ArrayFormat" in err.value.cause


def test_encode_form_nested_values_are_json() -> None:
    assert encode_form({"a": {"b": 1}, "c": None}) == "a=%7B%22b%22%3A1%7D&c="


# ------------------------------------------------------------------ connections


def connections_config(url: str, env: dict[str, str] | None = None) -> IntegrationConfig:
    doc = {
        CONN.format(name="basic-api"): {
            "AuthorizationType": "BASIC",
            "AuthParameters": {"BasicAuthParameters": {"Username": "ada", "Password": "${env:API_PASSWORD}"}},
        },
        "key-api": {
            "AuthorizationType": "API_KEY",
            "AuthParameters": {
                "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k-123"},
                "InvocationHttpParameters": {
                    "HeaderParameters": [{"Key": "X-Tenant", "Value": "conn", "IsValueSecret": False}],
                    "QueryStringParameters": [{"Key": "region", "Value": "eu"}],
                    "BodyParameters": [{"Key": "source", "Value": "statehop"}],
                },
            },
        },
        "oauth-api": {
            "AuthorizationType": "OAUTH_CLIENT_CREDENTIALS",
            "AuthParameters": {
                "OAuthParameters": {
                    "AuthorizationEndpoint": f"{url}/oauth/token",
                    "HttpMethod": "POST",
                    "ClientParameters": {"ClientID": CLIENT_ID, "ClientSecret": "${env:OAUTH_SECRET}"},
                    "OAuthHttpParameters": {"BodyParameters": [{"Key": "scope", "Value": "orders"}]},
                }
            },
        },
    }
    environment = {
        "STATEHOP_CONNECTIONS": json.dumps(doc),
        "API_PASSWORD": "pw",
        "OAUTH_SECRET": CLIENT_SECRET,
        **(env or {}),
    }
    return IntegrationConfig.from_env(environment)


async def test_basic_connection_by_arn(api: tuple[FakeApi, str]) -> None:
    fake, url = api
    config = connections_config(url)
    params = {
        "ApiEndpoint": f"{url}/echo",
        "Method": "GET",
        "Authentication": {"ConnectionArn": CONN.format(name="basic-api")},
    }
    await invoke(params, call(config))
    expected = "Basic " + base64.b64encode(b"ada:pw").decode()
    assert fake.received[-1]["headers"]["authorization"] == expected


async def test_api_key_connection_by_name_merges_invocation_parameters(api: tuple[FakeApi, str]) -> None:
    fake, url = api
    config = connections_config(url)
    params = {
        "ApiEndpoint": f"{url}/echo",
        "Method": "POST",
        "Headers": {"x-tenant": "task", "X-Other": "1"},
        "QueryParameters": {"region": "us", "q": "x"},
        "RequestBody": {"source": "task", "id": 1},
        "Authentication": {"ConnectionArn": CONN.format(name="key-api")},
    }
    await invoke(params, call(config))
    sent = fake.received[-1]
    assert sent["headers"]["x-api-key"] == "k-123"
    assert sent["headers"]["x-tenant"] == "conn"  # the connection wins a clash, as on EventBridge
    assert sent["headers"]["x-other"] == "1"
    assert dict(sent["query"]) == {"region": "eu", "q": "x"}
    assert json.loads(sent["body"]) == {"source": "statehop", "id": 1}


async def test_oauth_client_credentials_token_cached_and_refreshed_after_401(
    api: tuple[FakeApi, str],
) -> None:
    fake, url = api
    config = connections_config(url)
    params = {
        "ApiEndpoint": f"{url}/protected",
        "Method": "GET",
        "Authentication": {"ConnectionArn": CONN.format(name="oauth-api")},
    }
    shared = call(config)
    first = await invoke(params, shared)
    second = await invoke(params, shared)
    assert first["ResponseBody"]["token"] == second["ResponseBody"]["token"] == "tok-0"
    assert fake.tokens_issued == ["tok-0"]  # one token request for two calls
    token_request = next(r for r in fake.received if r["path"] == "/oauth/token")
    assert dict(parse_qsl(token_request["body"])) == {"scope": "orders", "grant_type": "client_credentials"}

    fake.revoked.add("tok-0")  # the API stops accepting the cached token: one refresh, then success
    third = await invoke(params, shared)
    assert third["ResponseBody"]["token"] == "tok-1"


async def test_oauth_bad_client_secret_fails_with_the_token_endpoint_status(api: tuple[FakeApi, str]) -> None:
    _, url = api
    config = connections_config(url, {"OAUTH_SECRET": "wrong"})
    params = {
        "ApiEndpoint": f"{url}/protected",
        "Method": "GET",
        "Authentication": {"ConnectionArn": "oauth-api"},
    }
    with pytest.raises(StatesError) as err:
        await invoke(params, call(config))
    assert err.value.error == "States.Http.StatusCode.401"
    assert "OAuth token endpoint" in err.value.cause


async def test_oauth_connection_through_the_engine(api: tuple[FakeApi, str]) -> None:
    _, url = api
    async with runtime(integrations=connections_config(url)) as rt:
        params = {
            "ApiEndpoint": f"{url}/protected",
            "Method": "GET",
            "QueryParameters": {"id": "7"},
            "Authentication": {"ConnectionArn": CONN.format(name="oauth-api")},
        }
        result = await rt.run(machine(params))
    assert result.status == "SUCCEEDED", result
    assert result.output["ResponseBody"] == {"ok": True, "token": "tok-0", "query": [["id", "7"]]}


def test_connections_config_errors_are_loud() -> None:
    with pytest.raises(ConnectionConfigError, match="MISSING_SECRET"):
        load_connections(
            {
                "c": {
                    "AuthorizationType": "API_KEY",
                    "AuthParameters": {
                        "ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "${env:MISSING_SECRET}"}
                    },
                }
            },
            {},
        )
    with pytest.raises(ConnectionConfigError, match="AuthorizationType"):
        load_connections({"c": {"AuthorizationType": "DIGEST"}}, {})
    with pytest.raises(ConnectionConfigError, match="Username"):
        load_connections({"c": {"AuthorizationType": "BASIC", "AuthParameters": {}}}, {})


def test_connections_as_a_list_and_from_a_file(tmp_path: Any) -> None:
    path = tmp_path / "connections.json"
    path.write_bytes(
        orjson.dumps(
            [
                {
                    "Name": "file-api",
                    "ConnectionArn": CONN.format(name="file-api"),
                    "AuthorizationType": "API_KEY",
                    "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}},
                }
            ]
        )
    )
    config = IntegrationConfig.from_env({"STATEHOP_CONNECTIONS_FILE": str(path)})
    assert config.connection(CONN.format(name="file-api")) is config.connection("file-api")
    assert config.connection(CONN.format(name="other")) is None
