"""Authentication: SigV4 checked with botocore's own signer, bearer tokens, and open mode."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from pydantic import ValidationError

from runtime.api import ApiError, ApiSettings, create_app
from runtime.api.auth import RequestFacts, authenticate
from runtime.api.config import ApiConfigError
from runtime.config import Settings
from runtime.embedded import EmbeddedRuntime
from tests.api.harness import ACCESS_KEY, BEARER_TOKEN, SECRET_KEY, ApiServer

KEYS = ApiSettings(auth=frozenset({"sigv4"}), access_keys={ACCESS_KEY: SECRET_KEY})


def _signed(
    body: bytes, *, secret: str = SECRET_KEY, when: datetime | None = None, service: str = "states"
) -> AWSRequest:
    request = AWSRequest(
        method="POST",
        url="http://localhost:8080/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "AWSStepFunctions.ListActivities",
        },
    )
    signer = SigV4Auth(Credentials(ACCESS_KEY, secret), service, "eu-west-1")
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    request.context["timestamp"] = stamp
    request.headers["X-Amz-Date"] = stamp
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    scope = signer.credential_scope(request)
    signed = signer.signed_headers(signer.headers_to_sign(request))
    request.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, SignedHeaders={signed}, Signature={signature}"
    )
    return request


def _facts(request: AWSRequest, body: bytes | None = None) -> RequestFacts:
    headers = tuple((k, v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items())
    return RequestFacts(
        "POST",
        "http",
        "/",
        "",
        (("Host", "localhost:8080"), *headers),
        body if body is not None else request.body,
    )


def _code(call: Any) -> str:
    with pytest.raises(ApiError) as info:
        call()
    return info.value.code


def test_sigv4_accepts_what_botocore_signed() -> None:
    request = _signed(b'{"maxResults": 1}')
    assert authenticate(_facts(request), KEYS).name == f"sigv4:{ACCESS_KEY}"


def test_sigv4_rejects_tampering_wrong_keys_scope_and_old_signatures() -> None:
    body = b'{"maxResults": 1}'
    assert (
        _code(lambda: authenticate(_facts(_signed(body), b'{"maxResults": 2}'), KEYS))
        == "InvalidSignatureException"
    )
    assert (
        _code(lambda: authenticate(_facts(_signed(body, secret="wrong")), KEYS))
        == "InvalidSignatureException"
    )
    assert (
        _code(lambda: authenticate(_facts(_signed(body, service="s3")), KEYS)) == "InvalidSignatureException"
    )
    old = _signed(body, when=datetime.now(UTC) - timedelta(minutes=20))
    assert _code(lambda: authenticate(_facts(old), KEYS)) == "InvalidSignatureException"
    unknown = ApiSettings(auth=frozenset({"sigv4"}), access_keys={"OTHER": "x"})
    assert _code(lambda: authenticate(_facts(_signed(body)), unknown)) == "UnrecognizedClientException"
    bare = RequestFacts("POST", "http", "/", "", (("Host", "h"),), body)
    assert _code(lambda: authenticate(bare, KEYS)) == "MissingAuthenticationTokenException"
    mangled = RequestFacts("POST", "http", "/", "", (("Authorization", "AWS4-HMAC-SHA256 nonsense"),), body)
    assert _code(lambda: authenticate(mangled, KEYS)) == "IncompleteSignatureException"
    bearer = RequestFacts("POST", "http", "/", "", (("Authorization", "Bearer abc"),), body)
    assert _code(lambda: authenticate(bearer, KEYS)) == "IncompleteSignatureException"  # bearer not enabled


def test_boto3_with_configured_keys_is_accepted(embedded_server: ApiServer) -> None:
    assert "activities" in embedded_server.client().list_activities()


def test_boto3_with_a_wrong_secret_or_unknown_key_is_rejected(embedded_server: ApiServer) -> None:
    wrong = embedded_server.client(secret_key="not-the-secret")
    with pytest.raises(wrong.exceptions.ClientError) as info:
        wrong.list_state_machines()
    assert info.value.response["Error"]["Code"] == "InvalidSignatureException"
    unknown = embedded_server.client(access_key="AKIDUNKNOWN")
    with pytest.raises(unknown.exceptions.ClientError) as info:
        unknown.list_state_machines()
    assert info.value.response["Error"]["Code"] == "UnrecognizedClientException"
    unsigned = embedded_server.client(signature_version=botocore.UNSIGNED)
    with pytest.raises(unsigned.exceptions.ClientError) as info:
        unsigned.list_state_machines()
    assert info.value.response["Error"]["Code"] == "MissingAuthenticationTokenException"


def test_bearer_tokens_on_both_doors(embedded_server: ApiServer) -> None:
    good = {"Authorization": f"Bearer {BEARER_TOKEN}"}
    assert httpx.get(embedded_server.url + "/v1/state-machines", headers=good).status_code == 200
    refused = httpx.get(embedded_server.url + "/v1/state-machines", headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401 and refused.json()["error"] == "UnrecognizedClientException"
    assert httpx.get(embedded_server.url + "/v1/state-machines").status_code == 401
    aws = httpx.post(
        embedded_server.url + "/",
        headers={**good, "X-Amz-Target": "AWSStepFunctions.ListStateMachines"},
        content=b"{}",
    )
    assert aws.status_code == 200 and "stateMachines" in aws.json()
    # probes and the OpenAPI document need no credentials
    assert httpx.get(embedded_server.url + "/healthz").status_code == 200
    assert httpx.get(embedded_server.url + "/openapi.json").status_code == 200


async def test_open_mode_checks_nothing() -> None:
    async with EmbeddedRuntime() as rt:
        app = create_app(rt.engine, rt.store, Settings(), api_settings=ApiSettings(auth=frozenset({"open"})))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            answer = await client.post(
                "/", headers={"X-Amz-Target": "AWSStepFunctions.ListActivities"}, content=b"{}"
            )
            assert answer.status_code == 200 and answer.json() == {"activities": []}
            assert (await client.get("/v1/state-machines")).status_code == 200


async def test_no_credentials_configured_refuses_everything() -> None:
    async with EmbeddedRuntime() as rt:
        app = create_app(rt.engine, rt.store, Settings(), api_settings=ApiSettings())
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            answer = await client.get("/v1/state-machines", headers={"Authorization": "Bearer anything"})
            assert answer.status_code == 401


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATEHOP_API_AUTH", "sigv4, bearer")
    monkeypatch.setenv("STATEHOP_ACCESS_KEYS", json.dumps({"AKID": "secret"}))
    monkeypatch.setenv("STATEHOP_API_TOKENS", '["t1", "t2"]')
    settings = ApiSettings.from_settings(Settings())
    assert settings.auth == {"sigv4", "bearer"} and settings.access_keys == {"AKID": "secret"}
    assert settings.tokens == {"t1", "t2"}
    monkeypatch.setenv("STATEHOP_API_AUTH", "open")
    assert ApiSettings.from_settings(Settings()).open
    for bad in ("basic", "open,sigv4"):
        monkeypatch.setenv("STATEHOP_API_AUTH", bad)
        with pytest.raises(ApiConfigError):
            ApiSettings.from_settings(Settings())
    monkeypatch.setenv("STATEHOP_API_AUTH", "sigv4")
    monkeypatch.setenv("STATEHOP_ACCESS_KEYS", "[1]")
    with pytest.raises(ValidationError):
        Settings()


def test_sigv4_signed_rest_request_with_an_arn_in_the_path(embedded_server: ApiServer) -> None:
    arn = "arn:aws:states:us-east-1:123456789012:execution:nothing:here"
    url = f"{embedded_server.url}/v1/executions/{arn}/history?maxResults=1&reverseOrder=true"
    request = AWSRequest(method="GET", url=url, headers={})
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "states", "us-east-1").add_auth(request)
    answer = httpx.get(url, headers=dict(request.headers.items()))
    assert answer.status_code == 404 and answer.json()["error"] == "ExecutionDoesNotExist"  # authenticated
    stamp = request.headers["X-Amz-Date"]
    other = stamp[:-3] + ("01Z" if stamp.endswith("00Z") else "00Z")  # a date the signature did not cover
    forged = {**dict(request.headers.items()), "X-Amz-Date": other}
    assert httpx.get(url, headers=forged).status_code == 401
