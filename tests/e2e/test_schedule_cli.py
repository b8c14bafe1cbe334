"""`statehop schedule ...` end to end on a SQLite store: create, get, list, disable, delete,
and clear errors (exit 2 for a bad expression naming the field, 1 for an unknown name)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = "arn:aws:states:us-east-1:123456789012:stateMachine:report"


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STATEHOP_DATABASE_URL": f"sqlite+aiosqlite:///{db}"}
    return subprocess.run(
        [sys.executable, "-m", "runtime.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_schedule_lifecycle_through_the_cli(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    assert _cli(db, "migrate").returncode == 0
    made = _cli(
        db,
        "schedule",
        "create",
        "nightly",
        "--expression",
        "cron(0 2 * * ? *)",
        "--timezone",
        "Europe/Paris",
        "--target",
        TARGET,
        "--input",
        '{"full": true}',
    )
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["ScheduleExpressionTimezone"] == "Europe/Paris" and created["State"] == "ENABLED"
    assert json.loads(_cli(db, "schedule", "get", "nightly").stdout)["Target"]["Arn"] == TARGET
    assert json.loads(_cli(db, "schedule", "disable", "nightly").stdout)["State"] == "DISABLED"
    listed = json.loads(_cli(db, "schedule", "list").stdout)
    assert [s["Name"] for s in listed["Schedules"]] == ["nightly"]
    assert _cli(db, "schedule", "delete", "nightly").returncode == 0
    missing = _cli(db, "schedule", "get", "nightly")
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_bad_expression_names_the_field_and_exits_2(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    _cli(db, "migrate")
    bad = _cli(db, "schedule", "create", "x", "--expression", "cron(0 25 * * ? *)", "--target", TARGET)
    assert bad.returncode == 2 and "hours field" in bad.stderr


def test_preview_prints_the_next_firings(tmp_path: Path) -> None:
    out = _cli(tmp_path / "s.db", "schedule", "preview", "rate(5 minutes)", "--count", "3")
    assert out.returncode == 0 and len(out.stdout.split()) == 3


def test_eventbridge_fields_through_the_cli(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    assert _cli(db, "migrate").returncode == 0
    dlq = "arn:aws:sqs:us-east-1:123456789012:nightly-dlq"
    made = _cli(
        db,
        "schedule",
        "create",
        "nightly",
        "--expression",
        "cron(0 9 1W * ? *)",
        "--target",
        TARGET,
        "--start-date",
        "2030-02-01T00:00:00Z",
        "--end-date",
        "2030-12-31T23:59:59Z",
        "--flexible-window",
        "15",
        "--action-after-completion",
        "delete",
        "--max-retry-attempts",
        "3",
        "--max-event-age",
        "600",
        "--dead-letter-arn",
        dlq,
    )
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    shown = json.loads(_cli(db, "schedule", "get", "nightly").stdout)
    assert shown == created
    assert (
        shown["StartDate"] == "2030-02-01T00:00:00+00:00" and shown["EndDate"] == "2030-12-31T23:59:59+00:00"
    )
    assert shown["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15}
    assert shown["ActionAfterCompletion"] == "DELETE"
    assert shown["Target"]["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 600}
    assert shown["Target"]["DeadLetterConfig"] == {"Arn": dlq}
    assert shown["NextInvocation"] == "2030-02-01T09:00:00+00:00"  # a Friday

    # update only what is given; --no-* removes
    changed = _cli(
        db, "schedule", "update", "nightly", "--no-end-date", "--no-dead-letter", "--flexible-window", "off",
        "--max-event-age", "120",
    )  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    after = json.loads(changed.stdout)
    assert "EndDate" not in after and "DeadLetterConfig" not in after["Target"]
    assert after["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert after["Target"]["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 120}
    assert after["StartDate"] == shown["StartDate"] and after["ActionAfterCompletion"] == "DELETE"

    # errors name the field, the expected form and the option; exit 2; nothing changes
    for args, words in [
        (["--end-date", "2020-01-01T00:00:00Z"], "EndDate: 2020-01-01T00:00:00+00:00 is in the past"),
        (["--start-date", "someday"], "(option --start-date)"),
        (["--flexible-window", "2000"], "FlexibleTimeWindow.MaximumWindowInMinutes"),
        (["--flexible-window", "soon"], "expected 1 to 1440 minutes, or OFF"),
        (
            ["--action-after-completion", "ARCHIVE"],
            "expected NONE or DELETE (option --action-after-completion)",
        ),
        (["--max-retry-attempts", "186"], "expected 0 to 185 retries"),
        (["--max-event-age", "30"], "(option --max-event-age)"),
        (["--dead-letter-arn", "arn:aws:sqs:us-east-1:123456789012:hops"], "one of StateHop's own queues"),
    ]:
        bad = _cli(db, "schedule", "update", "nightly", *args)
        assert bad.returncode == 2 and words in bad.stderr, (args, bad.stderr)
    assert json.loads(_cli(db, "schedule", "get", "nightly").stdout) == after

    listed = _cli(db, "schedule", "dead-letters", "nightly")
    assert listed.returncode == 0 and json.loads(listed.stdout) == {"DeadLetters": []}
    purged = _cli(db, "schedule", "dead-letters", "nightly", "--purge")
    assert json.loads(purged.stdout) == {"Deleted": 0}


def test_preview_and_dry_run_honour_start_and_end_dates(tmp_path: Path) -> None:
    out = _cli(
        tmp_path / "s.db", "schedule", "preview", "rate(1 hour)", "--count", "5",
        "--start-date", "2030-01-01T00:30:00Z", "--end-date", "2030-01-01T02:30:00Z",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [
        "2030-01-01T00:30:00+00:00",
        "2030-01-01T01:30:00+00:00",
        "2030-01-01T02:30:00+00:00",
    ]
    dry = _cli(
        tmp_path / "s.db", "schedule", "create", "x", "--expression", "cron(0 9 LW * ? *)",
        "--target", TARGET, "--start-date", "2030-05-01", "--dry-run",
    )  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.split()[:2] == ["2030-05-31T09:00:00+00:00", "2030-06-28T09:00:00+00:00"]
