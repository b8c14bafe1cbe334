"""The REST view: the same actions over plain HTTP with a bearer token, and the probes."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.api.harness import BEARER_TOKEN, ApiServer
from tests.api.services import TOKENS
from tests.api.support import CALLBACK, HELLO, unique


@pytest.fixture
def http(server: ApiServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.url + "/v1", headers={"Authorization": f"Bearer {BEARER_TOKEN}"}, timeout=30
    )


def _wait(http: httpx.Client, arn: str) -> dict[str, Any]:
    for _ in range(1200):
        described: dict[str, Any] = http.get(f"/executions/{arn}").json()
        if described["status"] != "RUNNING":
            return described
        import time

        time.sleep(0.05)
    raise AssertionError(f"{arn} still running")


def test_create_start_describe_history(http: httpx.Client) -> None:
    name = unique("rest")
    created = http.post("/state-machines", json={"name": name, "definition": HELLO})
    assert created.status_code == 201, created.text
    arn = created.json()["stateMachineArn"]
    assert "T" in created.json()["creationDate"]  # ISO 8601 here, epoch seconds on the AWS door
    assert http.get(f"/state-machines/{name}").json()["stateMachineArn"] == arn
    assert arn in [
        m["stateMachineArn"]
        for m in http.get("/state-machines", params={"maxResults": 1000}).json()["stateMachines"]
    ]

    started = http.post(f"/state-machines/{name}/executions", json={"input": {"who": "rest"}, "name": "r1"})
    assert started.status_code == 201, started.text
    execution = started.json()["executionArn"]
    done = _wait(http, execution)
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"greeting": "hello rest"}
    history = http.get(
        f"/executions/{execution}/history", params={"reverseOrder": "true", "maxResults": 1}
    ).json()
    assert len(history["events"]) == 1 and "nextToken" in history
    listed = http.get(f"/state-machines/{name}/executions", params={"status": "SUCCEEDED"}).json()
    assert [e["name"] for e in listed["executions"]] == ["r1"]


def test_callback_answered_over_rest(http: httpx.Client) -> None:
    name = unique("restcb")
    assert (
        http.post("/state-machines", json={"name": name, "definition": json.dumps(CALLBACK)}).status_code
        == 201
    )
    key = unique("k")
    execution = http.post(f"/state-machines/{name}/executions", json={"input": {"key": key}}).json()[
        "executionArn"
    ]
    token = TOKENS.get(key)
    assert http.post(f"/tasks/{quote(token)}/heartbeat").status_code == 200
    assert http.post(f"/tasks/{quote(token)}/success", json={"approved": True}).status_code == 200
    assert _wait(http, execution)["status"] == "SUCCEEDED"
    again = http.post(f"/tasks/{quote(token)}/success", json={})
    assert again.status_code == 409 and again.json()["error"] == "TaskTimedOut"

    key = unique("k")
    execution = http.post(f"/state-machines/{name}/executions", json={"input": {"key": key}}).json()[
        "executionArn"
    ]
    answer = http.post(f"/tasks/{quote(TOKENS.get(key))}/failure", json={"error": "No", "cause": "rejected"})
    assert answer.status_code == 200
    failed = _wait(http, execution)
    assert (failed["status"], failed["error"]) == ("FAILED", "No")


def test_stop_and_errors(http: httpx.Client) -> None:
    name = unique("reststop")
    http.post("/state-machines", json={"name": name, "definition": CALLBACK})
    key = unique("k")
    execution = http.post(f"/state-machines/{name}/executions", json={"input": {"key": key}}).json()[
        "executionArn"
    ]
    TOKENS.get(key)
    assert http.post(f"/executions/{execution}/stop", json={"error": "E", "cause": "C"}).status_code == 200
    assert _wait(http, execution)["status"] == "ABORTED"

    missing = http.get("/state-machines/does-not-exist")
    assert missing.status_code == 404 and missing.json()["error"] == "StateMachineDoesNotExist"
    conflict = http.post("/state-machines", json={"name": name, "definition": HELLO})
    assert conflict.status_code == 409 and conflict.json()["error"] == "StateMachineAlreadyExists"
    bad = http.post(
        "/state-machines", json={"name": unique("bad"), "definition": {"StartAt": "X", "States": {}}}
    )
    assert bad.status_code == 400 and bad.json()["error"] == "InvalidDefinition"
    gone = http.get("/executions/arn:aws:states:us-east-1:123456789012:execution:x:y")
    assert gone.status_code == 404 and gone.json()["error"] == "ExecutionDoesNotExist"
    too_big = http.post(f"/state-machines/{name}/executions", json={"input": {"blob": "x" * 1_100_000}})
    assert too_big.status_code == 400 and too_big.json()["error"] == "InvalidExecutionInput"


def test_validate(http: httpx.Client) -> None:
    result = http.post(
        "/validate", json={"definition": {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}}
    ).json()
    assert result["result"] == "FAIL" and result["diagnostics"][0]["code"] == "MISSING_TRANSITION_TARGET"


def test_probes_and_openapi(server: ApiServer) -> None:
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(server.url + "/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "store": "ok", "broker": "ok"}
    paths = httpx.get(server.url + "/openapi.json").json()["paths"]
    for path in (
        "/",
        "/v1/state-machines",
        "/v1/state-machines/{ref}/executions",
        "/v1/executions/{arn}",
        "/v1/executions/{arn}/history",
        "/v1/tasks/{token}/success",
        "/v1/tasks/{token}/failure",
        "/v1/tasks/{token}/heartbeat",
        "/healthz",
        "/readyz",
    ):
        assert path in paths, path
