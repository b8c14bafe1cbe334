"""Task handlers for library_loans.

The state carries ``{"loan_id", "customer", "title", "remind_after_seconds", ...}``.
In the real library the customer's click on the email's return link marks the loan complete in
the library's database and check-loan reads it; here the input says when that happens:
``"returned_after_reminders": n`` means the book is back once n reminders were sent (0: before
the first check; absent: never). A customer address without ``@`` raises InvalidEmail.
"""

from __future__ import annotations

from typing import Any

_BASE = "https://library.example.com/loans"


class InvalidEmail(Exception):
    """The customer's email address is unusable."""


def send_checkout_email(payload: dict[str, Any]) -> dict[str, Any]:
    """send-checkout-email: confirm the checkout, with renew and return links."""
    customer = str(payload.get("customer", ""))
    if "@" not in customer:
        raise InvalidEmail(f"cannot email {customer!r}")
    loan = payload["loan_id"]
    return {
        "sent_to": customer,
        "renew_link": f"{_BASE}/{loan}/renew",
        "return_link": f"{_BASE}/{loan}/return",
    }


def check_loan(payload: dict[str, Any]) -> str:
    """check-loan: "RETURNED" or "ON_LOAN"."""
    returned_after = payload.get("returned_after_reminders")
    if returned_after is not None and int(payload.get("reminders", 0)) >= int(returned_after):
        return "RETURNED"
    return "ON_LOAN"


def send_reminder(payload: dict[str, Any]) -> int:
    """send-reminder: remind the customer to renew or return; answers the reminders sent so far."""
    return int(payload.get("reminders", 0)) + 1
