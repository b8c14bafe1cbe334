"""Human approval over HTTP: the example workflow emails approve/decline links, a click answers.

On the embedded runtime AND on RabbitMQ + PostgreSQL (the session ``server`` fixture), with
the real uvicorn server: the example's ``send-approval-email`` handler (examples/human_approval)
builds the links with ``runtime.api.approvals.approval_links`` under the server's URL and
"sends" them into :data:`OUTBOX`; the test clicks them with httpx, without any credentials.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from examples.human_approval.handlers import make_sender
from runtime.api import approvals
from runtime.api.approvals import approval_links, public_url
from services.sdk import Service
from tests.api.harness import ApiServer, Opened
from tests.api.support import create, unique, wait_status

ROOT = Path(__file__).resolve().parents[2]
MACHINE = (ROOT / "examples" / "human_approval" / "machine.asl.json").read_text()
CLICK_TIMEOUT = 30.0


class Outbox:
    """The emails send-approval-email "sent", by request id (written in the server's thread)."""

    def __init__(self) -> None:
        self._mail: dict[str, list[dict[str, Any]]] = {}
        self._cond = threading.Condition()

    def put(self, email: dict[str, Any]) -> None:
        with self._cond:
            self._mail.setdefault(str(email["request_id"]), []).append(email)
            self._cond.notify_all()

    def get(self, request_id: str, timeout: float = 30.0) -> dict[str, Any]:
        with self._cond:
            if not self._cond.wait_for(lambda: bool(self._mail.get(request_id)), timeout):
                raise AssertionError(f"no approval email for {request_id!r} within {timeout}s")
            return self._mail[request_id][0]


OUTBOX = Outbox()
_MACHINES: dict[ApiServer, str] = {}


@pytest.fixture
def machine(server: ApiServer) -> str:
    """The example machine on ``server``, its send-approval-email service attached (once)."""
    if server not in _MACHINES:
        service = Service("human-approval-tests")
        service.task("send-approval-email")(make_sender(base_url=server.url, deliver=OUTBOX.put))

        async def attach(opened: Opened) -> None:
            engine: Any = opened.engine
            if engine.resources.known_services is not None:  # embedded: only known services
                engine.resources.known_services.add("send-approval-email")
            await service.attach(engine.transport)

        server.call(attach)
        _MACHINES[server] = create(server.client(), MACHINE, prefix="approval")
    return _MACHINES[server]


def ask(server: ApiServer, machine: str, amount: int = 5000) -> tuple[str, dict[str, Any]]:
    """Start a request that needs a human; wait for its email. Returns (execution ARN, email)."""
    request_id = unique("req")
    run = server.client().start_execution(
        stateMachineArn=machine, input=json.dumps({"request_id": request_id, "amount": amount})
    )
    return run["executionArn"], OUTBOX.get(request_id)


def click(url: str, **params: str) -> httpx.Response:
    """What a mail client does: a plain GET, no credentials."""
    return httpx.get(url, params=params or None, timeout=CLICK_TIMEOUT)


def assert_page(response: httpx.Response, status: int, text: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("text/html")
    assert text in response.text, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_approve_link_runs_the_approved_path(server: ApiServer, machine: str) -> None:
    sfn = server.client()
    execution, email = ask(server, machine)
    assert email["approve"].startswith(f"{server.url}/v1/approvals/")
    assert email["approve"].endswith("/approve") and email["decline"].endswith("/decline")
    assert email["approve"] in email["text"] and email["decline"] in email["text"]
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"

    started = time.monotonic()
    answer = click(email["approve"], comment="fits the budget")
    elapsed = time.monotonic() - started
    assert_page(answer, 200, "Approved \u2014 thank you")
    assert elapsed < 5.0, f"the click took {elapsed:.2f}s"

    done = wait_status(sfn, execution, "SUCCEEDED")
    assert json.loads(done["output"]) == {
        "request_id": email["request_id"],
        "amount": 5000,
        "status": "APPROVED",
        "approval": {"Status": "Approved", "Comment": "fits the budget"},
    }
    # a second click, on either link, changes nothing
    assert_page(click(email["approve"]), 410, "already approved")
    assert_page(click(email["decline"]), 410, "already approved")
    assert sfn.describe_execution(executionArn=execution)["status"] == "SUCCEEDED"


def test_approve_without_comment_outputs_only_the_status(server: ApiServer, machine: str) -> None:
    sfn = server.client()
    execution, email = ask(server, machine)
    assert_page(click(email["approve"]), 200, "Approved")
    output = json.loads(wait_status(sfn, execution, "SUCCEEDED")["output"])
    assert output["approval"] == {"Status": "Approved"}


def test_decline_link_runs_the_rejected_path(server: ApiServer, machine: str) -> None:
    sfn = server.client()
    execution, email = ask(server, machine)
    assert_page(click(email["decline"], comment="too expensive"), 200, "Declined \u2014 thank you")

    done = wait_status(sfn, execution, "FAILED")
    assert done["error"] == "RequestRejected"
    assert done["cause"] == "Declined by the reviewer: too expensive"
    events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    failed = [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]
    assert failed == [
        {
            "resourceType": "lambda",
            "resource": "invoke.waitForTaskToken",
            "error": "Rejected",
            "cause": "Declined by the reviewer: too expensive",
        }
    ]

    assert_page(click(email["decline"]), 410, "already declined")
    assert_page(click(email["approve"]), 410, "already declined")
    assert sfn.describe_execution(executionArn=execution)["status"] == "FAILED"


def test_forged_and_malformed_tokens_are_unknown_links(server: ApiServer, machine: str) -> None:
    forged = approval_links(secrets.token_hex(24), server.url)
    assert_page(click(forged.approve), 404, "not valid")
    assert_page(click(forged.decline), 404, "not valid")
    assert_page(click(approval_links("x" * 2000, server.url).approve), 404, "not valid")
    assert_page(click(approval_links("not a token", server.url).decline), 404, "not valid")
    # a real request is not disturbed by forged clicks, and still needs its own link
    execution, email = ask(server, machine)
    assert server.client().describe_execution(executionArn=execution)["status"] == "RUNNING"
    assert_page(click(email["approve"]), 200, "Approved")
    wait_status(server.client(), execution, "SUCCEEDED")


def test_links_need_no_credentials_but_the_rest_view_still_does(server: ApiServer, machine: str) -> None:
    execution, email = ask(server, machine)
    token = email["approve"].split("/")[-2]
    refused = httpx.post(f"{server.url}/v1/tasks/{token}/success", json={"Status": "Approved"})
    assert refused.status_code == 401, refused.text
    assert server.client().describe_execution(executionArn=execution)["status"] == "RUNNING"
    assert_page(click(email["decline"]), 200, "Declined")
    wait_status(server.client(), execution, "FAILED")


def test_only_get_answers(server: ApiServer, machine: str) -> None:
    """Link checkers that send HEAD (or anything but GET) do not approve anything."""
    execution, email = ask(server, machine)
    assert httpx.head(email["approve"], timeout=CLICK_TIMEOUT).status_code == 405
    assert httpx.post(email["approve"], timeout=CLICK_TIMEOUT).status_code == 405
    assert server.client().describe_execution(executionArn=execution)["status"] == "RUNNING"
    assert_page(click(email["approve"]), 200, "Approved")
    wait_status(server.client(), execution, "SUCCEEDED")


def test_a_comment_too_long_is_refused_and_answers_nothing(server: ApiServer, machine: str) -> None:
    execution, email = ask(server, machine)
    assert_page(click(email["approve"], comment="x" * (approvals.MAX_COMMENT + 1)), 400, "too long")
    assert server.client().describe_execution(executionArn=execution)["status"] == "RUNNING"
    assert_page(click(email["decline"], comment="<b>no</b>"), 200, "Declined")
    done = wait_status(server.client(), execution, "FAILED")
    assert done["cause"] == "Declined by the reviewer: <b>no</b>"


def test_racing_clicks_exactly_one_is_thanked(server: ApiServer, machine: str) -> None:
    """Approve and decline at the same moment: one wins, the other is told, truthfully."""
    execution, email = ask(server, machine)
    with ThreadPoolExecutor(2) as pool:
        approve, decline = pool.map(click, [email["approve"], email["decline"]])
    statuses = sorted([approve.status_code, decline.status_code])
    assert statuses == [200, 410], (approve.text, decline.text)
    winner = "SUCCEEDED" if approve.status_code == 200 else "FAILED"
    wait_status(server.client(), execution, winner)
    loser = decline if approve.status_code == 200 else approve
    assert ("already approved" if winner == "SUCCEEDED" else "already declined") in loser.text


def test_link_of_a_stopped_execution_is_gone(server: ApiServer, machine: str) -> None:
    sfn = server.client()
    execution, email = ask(server, machine)
    sfn.stop_execution(executionArn=execution, error="Withdrawn", cause="the requester withdrew it")
    wait_status(sfn, execution, "ABORTED")
    assert_page(click(email["approve"]), 410, "aborted")
    assert sfn.describe_execution(executionArn=execution)["status"] == "ABORTED"


# --- the link helper (no server) ---------------------------------------------------------


def test_links_are_built_under_the_public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    token = "ab" * 24
    links = approval_links(token, "https://approvals.example.com/statehop/")
    assert links.approve == f"https://approvals.example.com/statehop/v1/approvals/{token}/approve"
    assert links.decline == f"https://approvals.example.com/statehop/v1/approvals/{token}/decline"
    monkeypatch.setenv("STATEHOP_PUBLIC_URL", "http://10.0.0.5:8080")
    assert approval_links(token).approve == f"http://10.0.0.5:8080/v1/approvals/{token}/approve"
    assert approval_links("a/b?c").approve == "http://10.0.0.5:8080/v1/approvals/a%2Fb%3Fc/approve"
    monkeypatch.delenv("STATEHOP_PUBLIC_URL")
    assert public_url() == approvals.DEFAULT_PUBLIC_URL


@pytest.mark.parametrize("bad", ["localhost:8080", "ftp://x", "https://x/?a=1", "https://x/#f", "/v1"])
def test_a_public_url_that_is_not_an_absolute_http_url_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="base URL"):
        approval_links("ab" * 24, bad)
