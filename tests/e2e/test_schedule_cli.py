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
