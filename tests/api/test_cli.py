"""The AWS CLI (v1, from PyPI) against StateHop with nothing but ``--endpoint-url``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.api.harness import ACCESS_KEY, SECRET_KEY, ApiServer
from tests.api.services import TOKENS
from tests.api.support import CALLBACK, HELLO, ROLE, unique, wait_done


def _aws_binary() -> str:
    local = Path(sys.executable).parent / "aws"
    found = str(local) if local.exists() else shutil.which("aws")
    if found is None:
        pytest.fail("the AWS CLI is needed: .venv/bin/pip install awscli")
    return found


class Cli:
    def __init__(self, server: ApiServer, home: Path) -> None:
        config = home / "config"
        config.write_text("[default]\nregion = us-east-1\n")
        self.binary = _aws_binary()
        self.endpoint = server.url
        self.sfn = server.client()
        self.env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(config),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_PAGER": "",
            "AWS_EC2_METADATA_DISABLED": "true",
            # StartSyncExecution has a "sync-" host prefix on AWS; not on a local endpoint
            "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        }

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        command = [self.binary, "stepfunctions", *args, "--endpoint-url", self.endpoint, "--output", "json"]
        done = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=120, check=False)
        if ok:
            assert done.returncode == 0, f"{' '.join(args)}: {done.stderr}"
        return done

    def json(self, *args: str) -> Any:
        out = self.run(*args).stdout
        return json.loads(out) if out.strip() else {}


@pytest.fixture
def cli(server: ApiServer, tmp_path: Path) -> Cli:
    return Cli(server, tmp_path)


def _wait(cli: Cli, arn: str) -> dict[str, Any]:
    """Wait with boto3 (a CLI process per poll is slow), then describe with the CLI."""
    wait_done(cli.sfn, arn)
    described: dict[str, Any] = cli.json("describe-execution", "--execution-arn", arn)
    return described


def test_cli_end_to_end(cli: Cli, tmp_path: Path) -> None:
    definition = tmp_path / "hello.asl.json"
    definition.write_text(json.dumps(HELLO))
    name = unique("cli")
    created = cli.json(
        "create-state-machine", "--name", name, "--definition", f"file://{definition}", "--role-arn", ROLE
    )
    machine = created["stateMachineArn"]
    assert machine.endswith(f":stateMachine:{name}")
    assert isinstance(created["creationDate"], float)  # epoch seconds, as AWS sends them

    started = cli.json(
        "start-execution", "--state-machine-arn", machine, "--name", "c1", "--input", '{"who": "cli"}'
    )
    described = _wait(cli, started["executionArn"])
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == {"greeting": "hello cli"}
    history = cli.json("get-execution-history", "--execution-arn", started["executionArn"])
    assert history["events"][0]["type"] == "ExecutionStarted"
    listed = cli.json("list-executions", "--state-machine-arn", machine, "--status-filter", "SUCCEEDED")
    assert [e["name"] for e in listed["executions"]] == ["c1"]

    missing = cli.run(
        "describe-execution",
        "--execution-arn",
        machine.replace("stateMachine", "execution") + ":nope",
        ok=False,
    )
    assert missing.returncode != 0 and "(ExecutionDoesNotExist)" in missing.stderr

    validated = cli.json(
        "validate-state-machine-definition", "--definition", '{"StartAt": "A", "States": {}}'
    )
    assert validated["result"] == "FAIL"


def test_cli_callback_stop_and_sync(cli: Cli, tmp_path: Path) -> None:
    definition = tmp_path / "callback.asl.json"
    definition.write_text(json.dumps(CALLBACK))
    machine = cli.json(
        "create-state-machine",
        "--name",
        unique("clicb"),
        "--definition",
        f"file://{definition}",
        "--role-arn",
        ROLE,
    )["stateMachineArn"]
    key = unique("cli")
    started = cli.json("start-execution", "--state-machine-arn", machine, "--input", json.dumps({"key": key}))
    cli.run("send-task-success", "--task-token", TOKENS.get(key), "--task-output", '{"done": true}')
    assert _wait(cli, started["executionArn"])["status"] == "SUCCEEDED"

    key = unique("cli")
    started = cli.json("start-execution", "--state-machine-arn", machine, "--input", json.dumps({"key": key}))
    TOKENS.get(key)
    cli.json("stop-execution", "--execution-arn", started["executionArn"], "--cause", "from the CLI")
    stopped = _wait(cli, started["executionArn"])
    assert stopped["status"] == "ABORTED" and stopped["cause"] == "from the CLI"

    express = tmp_path / "express.asl.json"
    express.write_text(json.dumps(HELLO))
    sync_machine = cli.json(
        "create-state-machine",
        "--name",
        unique("clix"),
        "--definition",
        f"file://{express}",
        "--role-arn",
        ROLE,
        "--type",
        "EXPRESS",
    )["stateMachineArn"]
    result = cli.json(
        "start-sync-execution", "--state-machine-arn", sync_machine, "--input", '{"who": "sync"}'
    )
    assert result["status"] == "SUCCEEDED" and json.loads(result["output"]) == {"greeting": "hello sync"}
