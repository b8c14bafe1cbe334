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


DLQ = "arn:aws:sqs:us-east-1:123456789012:report-dlq"


async def test_schedule_eventbridge_fields_over_rest(tmp_path: Path) -> None:
    """StartDate/EndDate, FlexibleTimeWindow, ActionAfterCompletion, RetryPolicy and
    DeadLetterConfig: accepted, shown back, changed member by member, and refused with the
    field named."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    async with EmbeddedRuntime(database_url=url) as rt:
        app = create_app(rt.engine, rt.store, Settings(), api_settings=ApiSettings(auth=frozenset({"open"})))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            body = {
                "Name": "monthly",
                "ScheduleExpression": "cron(0 9 LW * ? *)",
                "StartDate": "2030-01-01T00:00:00Z",
                "EndDate": 1924991999,  # epoch seconds: 2030-12-31T23:59:59Z
                "FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 30},
                "ActionAfterCompletion": "DELETE",
                "Target": {
                    "Arn": TARGET,
                    "RetryPolicy": {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 900},
                    "DeadLetterConfig": {"Arn": DLQ},
                },
            }
            made = await client.post("/v1/schedules", json=body)
            assert made.status_code == 201, made.text
            shown = (await client.get("/v1/schedules/monthly")).json()
            assert shown == made.json()
            assert shown["StartDate"] == "2030-01-01T00:00:00+00:00"
            assert shown["EndDate"] == "2030-12-31T23:59:59+00:00"
            assert shown["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 30}
            assert shown["ActionAfterCompletion"] == "DELETE"
            assert shown["Target"]["RetryPolicy"] == {
                "MaximumRetryAttempts": 4,
                "MaximumEventAgeInSeconds": 900,
            }
            assert shown["Target"]["DeadLetterConfig"] == {"Arn": DLQ}
            assert shown["NextInvocation"] == "2030-01-31T09:00:00+00:00"  # a Thursday

            # only the members present change; null removes EndDate and the DeadLetterConfig
            changed = await client.put(
                "/v1/schedules/monthly",
                json={
                    "EndDate": None,
                    "FlexibleTimeWindow": {"Mode": "OFF"},
                    "Target": {"DeadLetterConfig": None, "RetryPolicy": {"MaximumRetryAttempts": 0}},
                },
            )
            assert changed.status_code == 200, changed.text
            after = changed.json()
            assert "EndDate" not in after and after["StartDate"] == shown["StartDate"]
            assert after["FlexibleTimeWindow"] == {"Mode": "OFF"}
            assert "DeadLetterConfig" not in after["Target"] and after["Target"]["Arn"] == TARGET
            # a RetryPolicy object replaces the policy: members left out take AWS's defaults
            assert after["Target"]["RetryPolicy"] == {
                "MaximumRetryAttempts": 0,
                "MaximumEventAgeInSeconds": 86400,
            }
            assert after["ActionAfterCompletion"] == "DELETE"

            bad_cases = [
                ({"EndDate": "2020-01-01T00:00:00Z"}, "EndDate", "in the past"),
                (
                    {"StartDate": "2031-01-01T00:00:00Z", "EndDate": "2030-06-01T00:00:00Z"},
                    "EndDate",
                    "after StartDate",
                ),
                ({"StartDate": "someday"}, "StartDate", "ISO 8601"),
                (
                    {"FlexibleTimeWindow": {"Mode": "FLEXIBLE"}},
                    "FlexibleTimeWindow.MaximumWindowInMinutes",
                    "required",
                ),
                (
                    {"FlexibleTimeWindow": {"Mode": "OFF", "MaximumWindowInMinutes": 5}},
                    "FlexibleTimeWindow.MaximumWindowInMinutes",
                    "only allowed with Mode FLEXIBLE",
                ),
                (
                    {"FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 2000}},
                    "FlexibleTimeWindow.MaximumWindowInMinutes",
                    "1 to 1440",
                ),
                ({"FlexibleTimeWindow": {"Mode": "SOMETIMES"}}, "FlexibleTimeWindow.Mode", "OFF or FLEXIBLE"),
                ({"FlexibleTimeWindow": "FLEXIBLE"}, "FlexibleTimeWindow", "not an object"),
                ({"ActionAfterCompletion": "ARCHIVE"}, "ActionAfterCompletion", "NONE or DELETE"),
                (
                    {"Target": {"Arn": TARGET, "RetryPolicy": {"MaximumRetryAttempts": 500}}},
                    "Target.RetryPolicy.MaximumRetryAttempts",
                    "0 to 185",
                ),
                (
                    {"Target": {"Arn": TARGET, "RetryPolicy": {"MaximumEventAgeInSeconds": 10}}},
                    "Target.RetryPolicy.MaximumEventAgeInSeconds",
                    "60 to 86400",
                ),
                (
                    {"Target": {"Arn": TARGET, "RetryPolicy": {"Retries": 3}}},
                    "Target.RetryPolicy",
                    "unknown member",
                ),
                (
                    {"Target": {"Arn": TARGET, "DeadLetterConfig": {"Arn": "my-queue"}}},
                    "Target.DeadLetterConfig.Arn",
                    "arn:aws:sqs:",
                ),
            ]
            for changes, field, words in bad_cases:
                bad = await client.post("/v1/schedules", json={**body, "Name": "bad", **changes})
                assert bad.status_code == 400, (changes, bad.text)
                error = bad.json()
                assert error["error"] == "ValidationException" and error["field"] == field, error
                assert words in error["message"] and "expected" in error["message"], error
                edit = await client.put("/v1/schedules/monthly", json=changes)
                assert edit.status_code == 400 and edit.json()["field"] == field, (changes, edit.text)
            assert (await client.get("/v1/schedules/bad")).status_code == 404
            assert (
                await client.get("/v1/schedules/monthly")
            ).json() == after  # the failed edits changed nothing

            # dead letters: none yet; listing works for any valid name, purging says how many
            listed = await client.get("/v1/schedules/monthly/dead-letters")
            assert listed.status_code == 200 and listed.json() == {"DeadLetters": []}
            assert (await client.delete("/v1/schedules/monthly/dead-letters")).json() == {"Deleted": 0}
            assert (await client.get("/v1/schedules/bad name/dead-letters")).status_code == 400


async def test_dead_letters_are_listed_in_pages(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from runtime.scheduler.deadletters import DeadLetter, record_dead_letter
    from runtime.scheduler.jobstore import dispose_job_engine, job_engine

    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    async with EmbeddedRuntime(database_url=url) as rt:
        app = create_app(rt.engine, rt.store, Settings(), api_settings=ApiSettings(auth=frozenset({"open"})))
        first = datetime(2030, 1, 1, 9, tzinfo=UTC)
        for day in range(3):
            when = first + timedelta(days=day)
            record_dead_letter(
                job_engine(url),
                DeadLetter(
                    schedule="daily",
                    scheduled_time=when,
                    first_attempt=when,
                    failed_time=when + timedelta(minutes=5),
                    retry_attempts=2,
                    error_code="StateMachineDoesNotExist",
                    error_message="gone",
                    exhausted_condition="MaximumRetryAttempts",
                    target_arn=TARGET,
                    input="{}",
                    execution_name=f"daily-{when:%Y%m%dT%H%M%SZ}",
                ),
            )
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            page = (await client.get("/v1/schedules/daily/dead-letters", params={"limit": 2})).json()
            assert [d["ScheduledTime"] for d in page["DeadLetters"]] == [
                "2030-01-01T09:00:00+00:00",
                "2030-01-02T09:00:00+00:00",
            ]
            assert page["DeadLetters"][0]["ExhaustedRetryCondition"] == "MaximumRetryAttempts"
            rest = (
                await client.get(
                    "/v1/schedules/daily/dead-letters", params={"limit": 2, "nextToken": page["NextToken"]}
                )
            ).json()
            assert [d["ScheduledTime"] for d in rest["DeadLetters"]] == ["2030-01-03T09:00:00+00:00"]
            assert "NextToken" not in rest
            assert (await client.delete("/v1/schedules/daily/dead-letters")).json() == {"Deleted": 3}
            assert (await client.get("/v1/schedules/daily/dead-letters")).json() == {"DeadLetters": []}
        dispose_job_engine(url)
