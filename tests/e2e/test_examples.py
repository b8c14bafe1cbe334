"""Every example workflow's cases (examples/*/cases.json): in-process through the embedded
runtime, and the README's main command through the real CLI."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runtime.embedded import load_handler, run_definition

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if (p / "cases.json").exists())
CASES = [(ex, case) for ex in EXAMPLES for case in json.loads((ex / "cases.json").read_text())]


def _strip(result: dict[str, Any], expect: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k in expect}


@pytest.mark.parametrize(("example", "case"), CASES, ids=[f"{ex.name}:{c['name'][:60]}" for ex, c in CASES])
async def test_example_case(example: Path, case: dict[str, Any]) -> None:
    services = {name: load_handler(target) for name, target in case.get("services", {}).items()}
    result = await run_definition(
        (example / "machine.asl.json").read_text(),
        case["input"],
        services=services,
        time_skip=case.get("time_skip", True),
        name=example.name,
        timeout=60,
    )
    assert _strip(result.to_json(), case["expect"]) == case["expect"]


def test_examples_exist() -> None:
    assert len(EXAMPLES) >= 10 and len(CASES) >= 50


def _readme_command(n: int) -> str:
    """The n-th set-up command of README.md (1-based): the lines under '## Set-up'."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## Set-up", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
    return commands[n - 1]


def test_readme_main_command_runs_the_order_workflow() -> None:
    """README command 1, minus the venv/pip set-up this test suite already did."""
    command = _readme_command(1)
    run_part = command.split("&& ")[-1]
    argv = shlex.split(run_part)
    assert argv[0] == ".venv/bin/statehop"
    argv[0:1] = [sys.executable, "-m", "runtime.cli"]
    done = subprocess.run(
        [*argv, "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "SUCCEEDED"
    assert result["output"]["status"] == "COMPLETED"


def test_readme_test_command_is_what_ci_runs() -> None:
    command = _readme_command(2)
    assert command in (ROOT / ".ci" / "run").read_text()


ORDER = "examples/order/machine.asl.json"
DECLINED = {
    "card": "4000-decline",
    "orderId": "o-1",
    "amount": 5,
    "email": "a@b.c",
    "items": [{"sku": "mug", "qty": 1}],
}


def _cli(*args: str) -> tuple[int, list[str], str]:
    done = subprocess.run(
        [sys.executable, "-m", "runtime.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return done.returncode, [line for line in done.stdout.splitlines() if line.strip()], done.stderr


@pytest.mark.parametrize(
    ("args", "code", "expect"),
    [
        (
            [ORDER, "--input", json.dumps(DECLINED), "--resource-map", "examples/order/services.json"],
            0,
            {
                "status": "SUCCEEDED",
                "output": {
                    "orderId": "o-1",
                    "status": "REFUNDED",
                    "refunded": 5,
                    "reason": "CardDeclined",
                    "notified": "a@b.c",
                },
            },
        ),
        (
            [
                ORDER,
                "--input",
                json.dumps({"orderId": "o-2"}),
                "--resource-map",
                "examples/order/services.json",
            ],
            1,
            {"status": "FAILED", "error": "InvalidOrder"},
        ),
        ([ORDER, "--input", json.dumps(DECLINED)], 1, {"status": "FAILED", "error": "States.Runtime"}),
        (["tests/fixtures/cli/next-missing.asl.json"], 2, {"status": "INVALID_DEFINITION"}),
    ],
)
def test_cli_run_prints_one_json_object_and_exits_by_status(
    args: list[str], code: int, expect: dict[str, Any]
) -> None:
    rc, lines, stderr = _cli("run", *args, "--time-skip", "--format", "json")
    assert len(lines) == 1, (lines, stderr)  # exactly one JSON object
    got = json.loads(lines[0])
    assert {k: got[k] for k in expect} == expect
    assert rc == code


def test_cli_unmapped_resource_names_the_fix() -> None:
    rc, lines, _ = _cli("run", ORDER, "--input", json.dumps(DECLINED), "--format", "json")
    assert rc == 1
    cause = json.loads(lines[0])["cause"]
    assert "validate-order" in cause and "--service" in cause


def test_cli_validate_reports_pointer_rule_and_fix(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}))
    rc, lines, _ = _cli("validate", str(bad), ORDER)
    text = "\n".join(lines)
    assert rc == 1
    assert "/States/A/Next" in text and "fix:" in text
    assert f"{ORDER}: OK" in text
    rc, _, _ = _cli("validate", ORDER)
    assert rc == 0


def test_cli_input_that_is_not_json_is_a_clear_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "run", ORDER, "--input", "{nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode != 0 and "--input is not valid JSON" in done.stderr
