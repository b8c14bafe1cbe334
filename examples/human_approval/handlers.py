"""Optional handler for human_approval: send-approval-email.

With ``lambda:invoke.waitForTaskToken`` the function only *sends* the links; its return value
is ignored and the Task waits until someone calls SendTaskSuccess (approve: output
``{"approved": true, "by": "<reviewer>"}``) or SendTaskFailure (decline: error ``Declined``,
cause = the reviewer's reason) with the token. Nothing here answers the token: the approve and
decline paths need a human (or a test playing one) and are exercised by the callback tests.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

_API = "https://approvals.example.com"


def send_approval_email(payload: dict[str, Any]) -> dict[str, Any]:
    """send-approval-email: build the approve/decline links for the reviewer's email."""
    token = quote(str(payload["token"]), safe="")
    return {
        "request_id": payload.get("request_id"),
        "approve_link": f"{_API}/approve?taskToken={token}",
        "decline_link": f"{_API}/decline?taskToken={token}",
    }
