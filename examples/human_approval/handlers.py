"""send-approval-email: email a reviewer approve/decline links for a waiting task.

With ``lambda:invoke.waitForTaskToken`` the function only *sends* the links; its return value
is ignored and the Task waits until the reviewer clicks one of them. The links point at the
API's approval routes (runtime/api/approvals.py), built with
:func:`runtime.api.approvals.approval_links` under ``$STATEHOP_PUBLIC_URL``:

* approve -> SendTaskSuccess ``{"Status": "Approved"}`` (+ ``"Comment"`` from ``?comment=``)
* decline -> SendTaskFailure, error ``Rejected``, cause ``Declined by the reviewer[: comment]``

"Sending" here means: append the email as one JSON line to the file named by
``$HUMAN_APPROVAL_OUTBOX`` when it is set, else print it to stderr. Tests pass their own
``deliver`` to :func:`make_sender`. Run it as a service process next to ``statehop serve``:
``python -m services.run examples.human_approval.handlers:service`` (see README.md).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from runtime.api.approvals import approval_links
from services.sdk import Service

OUTBOX_ENV = "HUMAN_APPROVAL_OUTBOX"
REVIEWER_ENV = "HUMAN_APPROVAL_REVIEWER"
DEFAULT_REVIEWER = "manager@example.com"

Email = dict[str, Any]
_write_lock = threading.Lock()


def deliver_to_outbox(email: Email) -> None:
    """Append to ``$HUMAN_APPROVAL_OUTBOX`` (one JSON object a line), else print to stderr."""
    line = json.dumps(email, ensure_ascii=False)
    path = os.environ.get(OUTBOX_ENV)
    if not path:
        print(f"send-approval-email: {line}", file=sys.stderr, flush=True)
        return
    with _write_lock, open(path, "a", encoding="utf-8") as outbox:
        outbox.write(line + "\n")


def compose(payload: dict[str, Any], base_url: str | None = None) -> Email:
    """The email for one task: who, what, and the two links (nothing else carries the token)."""
    links = approval_links(str(payload["token"]), base_url)
    request_id, amount = payload.get("request_id"), payload.get("amount")
    return {
        "to": os.environ.get(REVIEWER_ENV) or DEFAULT_REVIEWER,
        "subject": f"Approval needed: request {request_id} ({amount})",
        "text": (
            f"Request {request_id} asks for {amount}.\n\n"
            f"Approve: {links.approve}\n"
            f"Decline: {links.decline}\n\n"
            "Add ?comment=... to either link to leave a note. Each link works once; the request "
            "expires after 24 hours."
        ),
        "request_id": request_id,
        "amount": amount,
        "execution": payload.get("execution"),
        "approve": links.approve,
        "decline": links.decline,
    }


def make_sender(
    base_url: str | None = None, deliver: Callable[[Email], None] = deliver_to_outbox
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A send-approval-email handler; ``base_url`` defaults to ``$STATEHOP_PUBLIC_URL`` at each call."""

    def send_approval_email(payload: dict[str, Any]) -> dict[str, Any]:
        email = compose(payload, base_url)
        deliver(email)
        return {"sent_to": email["to"], "request_id": email["request_id"]}  # ignored by the callback

    return send_approval_email


send_approval_email = make_sender()

#: ``python -m services.run examples.human_approval.handlers:service``
service = Service("human-approval")
service.task("send-approval-email")(send_approval_email)
