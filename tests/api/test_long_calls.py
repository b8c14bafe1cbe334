"""The two calls that wait: StartSyncExecution past its limit, GetActivityTask with no task."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from runtime.api import ApiSettings, create_app
from runtime.config import Settings
from runtime.embedded import EmbeddedRuntime

SLOW = {"StartAt": "Sleep", "States": {"Sleep": {"Type": "Wait", "Seconds": 30, "End": True}}}
API = ApiSettings(auth=frozenset({"open"}), sync_timeout_seconds=0.3, activity_poll_seconds=0.3)


@pytest.fixture
async def runtime() -> AsyncIterator[EmbeddedRuntime]:
    async with EmbeddedRuntime() as rt:
        yield rt


async def _call(rt: EmbeddedRuntime, action: str, params: dict[str, Any]) -> httpx.Response:
    app = create_app(rt.engine, rt.store, Settings(), api_settings=API)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        return await client.post(
            "/", headers={"X-Amz-Target": f"AWSStepFunctions.{action}"}, content=json.dumps(params)
        )


async def test_sync_execution_over_its_time_limit_is_timed_out(runtime: EmbeddedRuntime) -> None:
    arn = await runtime.create_state_machine("slow", SLOW, type="EXPRESS")
    answer = await _call(runtime, "StartSyncExecution", {"stateMachineArn": arn, "name": "late"})
    result = answer.json()
    assert answer.status_code == 200, result
    assert (result["status"], result["error"]) == ("TIMED_OUT", "States.Timeout")
    assert result["executionArn"].endswith(":execution:slow:late")
    async with runtime.store.transaction() as tx:
        assert (await tx.get_execution(result["executionArn"])).status == "ABORTED"


async def test_get_activity_task_without_a_task_answers_no_token(runtime: EmbeddedRuntime) -> None:
    async with runtime.store.transaction() as tx:
        activity = await tx.create_activity("idle")
    answer = await _call(runtime, "GetActivityTask", {"activityArn": activity.arn, "workerName": "w"})
    assert answer.status_code == 200 and answer.json() == {}


async def test_a_request_body_far_over_the_limit_is_refused_while_read(runtime: EmbeddedRuntime) -> None:
    settings = Settings(max_payload_bytes=1024)  # body limit: 4 x 1 KiB + 64 KiB
    app = create_app(runtime.engine, runtime.store, settings, api_settings=API)
    huge = json.dumps(
        {"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:x", "input": "x" * 100_000}
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        aws = await client.post(
            "/", headers={"X-Amz-Target": "AWSStepFunctions.StartExecution"}, content=huge
        )
        assert aws.status_code == 400 and aws.json()["__type"] == "ValidationException"
        assert "above the limit" in aws.json()["message"]
        rest = await client.post(
            "/v1/state-machines/x/executions", content=huge, headers={"Content-Type": "application/json"}
        )
        assert rest.status_code == 400 and rest.json()["error"] == "ValidationException"
