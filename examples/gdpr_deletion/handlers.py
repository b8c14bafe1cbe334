"""Task handlers for gdpr_deletion.

The three deleters get the request ``{"request_id", "user_id", "email", ...}`` and answer
``{"system", "records_deleted"}`` (fixed sample counts). ``"unavailable": {"analytics": n}``
(or "profile"/"files") makes that deleter raise StoreUnavailable on its first n calls for the
user (then succeed; 1000 means "always").
"""

from __future__ import annotations

from typing import Any


class StoreUnavailable(Exception):
    """The data store could not be reached."""


_RECORDS = {"profile": ("user-profile", 1), "analytics": ("analytics", 120), "files": ("files", 3)}
_FAILURES: dict[str, int] = {}


def _delete(store: str, payload: dict[str, Any]) -> dict[str, Any]:
    times = int((payload.get("unavailable") or {}).get(store, 0))
    if times > 0:
        key = f"{store}:{payload.get('user_id')}"
        seen = _FAILURES.get(key, 0) + 1
        if seen <= times:
            _FAILURES[key] = seen
            raise StoreUnavailable(f"{store} store unreachable (failure {seen} of {times})")
        _FAILURES.pop(key, None)
    system, records = _RECORDS[store]
    return {"system": system, "records_deleted": records}


def delete_user_profile(payload: dict[str, Any]) -> dict[str, Any]:
    """delete-user-profile: the user's account record."""
    return _delete("profile", payload)


def delete_analytics_data(payload: dict[str, Any]) -> dict[str, Any]:
    """delete-analytics-data: the user's events in the analytics store."""
    return _delete("analytics", payload)


def delete_user_files(payload: dict[str, Any]) -> dict[str, Any]:
    """delete-user-files: the user's uploads on S3."""
    return _delete("files", payload)


def send_deletion_email(payload: dict[str, Any]) -> dict[str, Any]:
    """send-deletion-email: tell the user their data is gone, and from where."""
    deletions = payload["deletions"]
    return {
        "request_id": payload["request_id"],
        "status": "DELETED",
        "confirmation_sent_to": payload["email"],
        "systems": [d["system"] for d in deletions],
        "records_deleted": sum(d["records_deleted"] for d in deletions),
    }


def notify_privacy_team(payload: dict[str, Any]) -> dict[str, Any]:
    """notify-privacy-team: open a ticket so a person finishes the deletion by hand."""
    return {"ticket": f"PRIV-{payload['request_id']}", "failed_with": payload["failed_with"]}
