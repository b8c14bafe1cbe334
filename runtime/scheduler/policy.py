"""What a schedule does around one firing: its flexible time window and its retry policy.

Pure arithmetic over a random source the caller passes in (the scheduler's
``random.Random``; a seeded one in tests), so every delay is reproducible and bounded:

- **FlexibleTimeWindow** ``FLEXIBLE`` with ``MaximumWindowInMinutes`` *w*: a firing runs a
  random delay in ``[0, w minutes)`` after its scheduled time (:func:`flexible_delay`).
- **RetryPolicy**: a failed attempt is retried with exponential back-off and jitter
  (:func:`retry_delay`) until ``MaximumRetryAttempts`` retries were made or the next retry
  would come later than ``MaximumEventAgeInSeconds`` after the first attempt
  (:func:`next_retry`); then the firing is dead-lettered.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

#: AWS's defaults when a target has no RetryPolicy: 185 retries within 24 hours
DEFAULT_RETRY_ATTEMPTS = 185
DEFAULT_MAX_EVENT_AGE = 86_400
RETRY_ATTEMPTS_RANGE = (0, 185)
MAX_EVENT_AGE_RANGE = (60, 86_400)
WINDOW_RANGE = (1, 1440)
#: back-off of retry n (1-based): a random point in [1/2, 1] * min(CAP, BASE * 2^(n-1)) seconds
BACKOFF_BASE = 1.0
BACKOFF_CAP = 300.0

ExhaustedCondition = Literal["MaximumRetryAttempts", "MaximumEventAgeInSeconds"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A target's RetryPolicy (AWS names in :meth:`to_json`)."""

    maximum_retry_attempts: int = DEFAULT_RETRY_ATTEMPTS
    maximum_event_age_seconds: int = DEFAULT_MAX_EVENT_AGE

    def to_json(self) -> dict[str, Any]:
        return {
            "MaximumRetryAttempts": self.maximum_retry_attempts,
            "MaximumEventAgeInSeconds": self.maximum_event_age_seconds,
        }


def flexible_delay(window_minutes: int | None, rng: random.Random) -> float:
    """Seconds to delay a firing: 0 without a window, else uniform in ``[0, window)``."""
    if not window_minutes:
        return 0.0
    return rng.random() * window_minutes * 60.0  # random() < 1, so always inside the window


def retry_delay(retry: int, rng: random.Random) -> float:
    """Seconds before retry number ``retry`` (1 for the first retry): exponential, capped,
    with jitter so that many failing schedules do not retry in lockstep."""
    if retry < 1:
        raise ValueError("retry numbers start at 1")
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** min(retry - 1, 30))
    return ceiling / 2.0 + rng.random() * ceiling / 2.0


def next_retry(
    policy: RetryPolicy,
    retries_made: int,
    first_attempt: float,
    now: float,
    rng: random.Random,
) -> tuple[float | None, ExhaustedCondition | None]:
    """After a failed attempt (``retries_made`` retries before it): when to retry, or why not.

    Returns ``(due, None)`` with the epoch time of the next attempt, or ``(None, condition)``
    when the policy is exhausted: ``MaximumRetryAttempts`` when that many retries were made,
    ``MaximumEventAgeInSeconds`` when the next retry would start more than that many seconds
    after the first attempt.
    """
    if retries_made >= policy.maximum_retry_attempts:
        return None, "MaximumRetryAttempts"
    due = now + retry_delay(retries_made + 1, rng)
    if due - first_attempt > policy.maximum_event_age_seconds:
        return None, "MaximumEventAgeInSeconds"
    return due, None


__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "DEFAULT_MAX_EVENT_AGE",
    "DEFAULT_RETRY_ATTEMPTS",
    "MAX_EVENT_AGE_RANGE",
    "RETRY_ATTEMPTS_RANGE",
    "WINDOW_RANGE",
    "ExhaustedCondition",
    "RetryPolicy",
    "flexible_delay",
    "next_retry",
    "retry_delay",
]
