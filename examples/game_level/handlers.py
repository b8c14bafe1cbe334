"""Task handlers for game_level: one function per Lambda the Parallel state calls.

Every branch gets the whole event: ``{"player_id", "level", "score", "duration_seconds"}``.
Input knobs: ``"busy_times": n`` makes both DynamoDB updates raise
ProvisionedThroughputExceeded on their first n calls for that player (then succeed; use 1000
for "always"); ``"metrics_down": true`` makes put-metric raise MetricsUnavailable; a player_id
that does not start with ``p-`` raises PlayerNotFound in update-player-profile.
"""

from __future__ import annotations

from typing import Any


class PlayerNotFound(Exception):
    """No profile for this player."""


class ProvisionedThroughputExceeded(Exception):
    """DynamoDB throttled the write; retry later."""


class MetricsUnavailable(Exception):
    """CloudWatch could not take the metric."""


_FAILURES: dict[str, int] = {}


def _throttle(service: str, payload: dict[str, Any]) -> None:
    times = int(payload.get("busy_times", 0))
    if times <= 0:
        return
    key = f"{service}:{payload.get('player_id')}"
    seen = _FAILURES.get(key, 0) + 1
    if seen <= times:
        _FAILURES[key] = seen
        raise ProvisionedThroughputExceeded(f"{service}: throttled (failure {seen} of {times})")
    _FAILURES.pop(key, None)


def update_player_profile(payload: dict[str, Any]) -> dict[str, Any]:
    """update-player-profile: record the level on the player's profile (DynamoDB table 1)."""
    player = str(payload.get("player_id", ""))
    if not player.startswith("p-"):
        raise PlayerNotFound(f"no profile for player {player!r}")
    _throttle("update-player-profile", payload)
    return {"player_id": player, "level": payload["level"], "best_score": payload["score"]}


def update_leaderboard(payload: dict[str, Any]) -> dict[str, Any]:
    """update-leaderboard: place the score on the level's leaderboard (DynamoDB table 2)."""
    _throttle("update-leaderboard", payload)
    return {
        "leaderboard": f"level-{payload['level']}",
        "rank": max(1, (10000 - int(payload["score"])) // 100),
    }


def store_report(payload: dict[str, Any]) -> dict[str, Any]:
    """store-report: write the level report to S3."""
    return {"report": f"s3://game-reports/{payload['player_id']}/level-{payload['level']}.json"}


def put_metric(payload: dict[str, Any]) -> dict[str, Any]:
    """put-metric: put a LevelCompleted metric on CloudWatch."""
    if payload.get("metrics_down"):
        raise MetricsUnavailable("CloudWatch PutMetricData failed")
    return {"metric": "LevelCompleted", "value": payload.get("duration_seconds")}
