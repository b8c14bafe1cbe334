"""Schedule triggers through the REST view: create, get, list, update, delete, and the errors
(400 with the faulty field named, 404, 409)."""

from __future__ import annotations

from pathlib import Path

import httpx

from runtime.api import ApiSettings, create_app
from runtime.config import Settings
from runtime.embedded import EmbeddedRuntime

TARGET = "arn:aws:states:us-east-1:123456789012:stateMachine:report"


async def test_schedules_rest_lifecycle(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    async with EmbeddedRuntime(database_url=url) as rt:
        app = create_app(rt.engine, rt.store, Settings(), api_settings=ApiSettings(auth=frozenset({"open"})))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            body = {
                "Name": "nightly",
                "ScheduleExpression": "cron(0 2 * * ? *)",
                "ScheduleExpressionTimezone": "Europe/Paris",
                "Target": {"Arn": TARGET, "Input": {"full": True}},
            }
            made = await client.post("/v1/schedules", json=body)
            assert made.status_code == 201, made.text
            assert made.json()["ScheduleExpressionTimezone"] == "Europe/Paris"
            assert (await client.post("/v1/schedules", json=body)).status_code == 409
            got = (await client.get("/v1/schedules/nightly")).json()
            assert got["Target"]["Arn"] == TARGET and got["State"] == "ENABLED"
            changed = await client.put("/v1/schedules/nightly", json={"State": "DISABLED"})
            assert changed.status_code == 200 and changed.json()["State"] == "DISABLED"
            listed = (await client.get("/v1/schedules", params={"prefix": "night"})).json()
            assert [s["Name"] for s in listed["Schedules"]] == ["nightly"]
            bad = await client.post(
                "/v1/schedules", json={**body, "Name": "bad", "ScheduleExpression": "cron(0 25 * * ? *)"}
            )
            assert bad.status_code == 400 and "hours field" in bad.json()["message"]
            assert (await client.delete("/v1/schedules/nightly")).status_code == 204
            assert (await client.get("/v1/schedules/nightly")).status_code == 404


async def test_schedules_need_authentication(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    async with EmbeddedRuntime(database_url=url) as rt:
        app = create_app(rt.engine, rt.store, Settings(), api_settings=ApiSettings(tokens=frozenset({"t"})))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            assert (await client.get("/v1/schedules")).status_code == 401
            ok = await client.get("/v1/schedules", headers={"Authorization": "Bearer t"})
            assert ok.status_code == 200 and ok.json() == {"Schedules": []}
