"""Task handlers for task_dashboard.

The fetchers get the whole input ``{"team", "since", ...}`` and answer
``{"source", "tasks": [{"id", "title", "status"}]}`` from fixed sample data.
``"down": {"trello": n}`` (or "jira"/"github") makes that fetcher raise SourceUnavailable on
its first n calls for the team (then succeed; 1000 means "always").
"""

from __future__ import annotations

from collections import Counter
from typing import Any


class SourceUnavailable(Exception):
    """The task-tracking system did not answer."""


_TASKS = {
    "jira": [
        {"id": "PLAT-1", "title": "Upgrade Postgres", "status": "done"},
        {"id": "PLAT-2", "title": "Rotate keys", "status": "in_progress"},
    ],
    "trello": [
        {"id": "card-7", "title": "Plan the offsite", "status": "todo"},
    ],
    "github": [
        {"id": "#42", "title": "Flaky test", "status": "done"},
        {"id": "#43", "title": "Docs typo", "status": "todo"},
    ],
}
_FAILURES: dict[str, int] = {}


def _fetch(source: str, payload: dict[str, Any]) -> dict[str, Any]:
    times = int((payload.get("down") or {}).get(source, 0))
    if times > 0:
        key = f"{source}:{payload.get('team')}"
        seen = _FAILURES.get(key, 0) + 1
        if seen <= times:
            _FAILURES[key] = seen
            raise SourceUnavailable(f"{source} did not answer (failure {seen} of {times})")
        _FAILURES.pop(key, None)
    return {"source": source, "tasks": [dict(t) for t in _TASKS[source]]}


def fetch_jira(payload: dict[str, Any]) -> dict[str, Any]:
    """fetch-jira."""
    return _fetch("jira", payload)


def fetch_trello(payload: dict[str, Any]) -> dict[str, Any]:
    """fetch-trello."""
    return _fetch("trello", payload)


def fetch_github_issues(payload: dict[str, Any]) -> dict[str, Any]:
    """fetch-github-issues."""
    return _fetch("github", payload)


def merge_tasks(payload: dict[str, Any]) -> dict[str, Any]:
    """merge-tasks: one list of tasks, tagged with their source, plus counts by status."""
    tasks = [{**t, "source": s["source"]} for s in payload["sources"] for t in s["tasks"]]
    by_status = Counter(t["status"] for t in tasks)
    return {
        "team": payload["team"],
        "total": len(tasks),
        "by_status": dict(sorted(by_status.items())),
        "tasks": tasks,
    }


def build_dashboard(payload: dict[str, Any]) -> dict[str, Any]:
    """build-dashboard: render the summary as a static page on S3."""
    team, summary = payload["team"], payload["summary"]
    return {
        "url": f"https://dashboards.example.com/{team}/index.html",
        "object": f"s3://dashboards/{team}/index.html",
        "total": summary["total"],
        "by_status": summary["by_status"],
    }
