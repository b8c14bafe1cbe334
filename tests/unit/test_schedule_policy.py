"""A schedule's FlexibleTimeWindow and RetryPolicy arithmetic: deterministic under a seeded
random source, always inside AWS's bounds."""

from __future__ import annotations

import random

import pytest

from runtime.scheduler.policy import (
    BACKOFF_CAP,
    RetryPolicy,
    flexible_delay,
    next_retry,
    retry_delay,
)


class Fixed(random.Random):
    """A random source that always answers ``value`` (the extremes of ``random()``)."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.parametrize("window", [1, 5, 15, 60, 1440])
def test_flexible_delay_stays_inside_the_window(window: int) -> None:
    rng = random.Random(window)
    delays = [flexible_delay(window, rng) for _ in range(5000)]
    assert all(0.0 <= d < window * 60 for d in delays)
    # spread over the whole window, not bunched at one end
    assert min(delays) < window * 60 * 0.05 and max(delays) > window * 60 * 0.95


def test_flexible_delay_is_reproducible_with_a_seed() -> None:
    a = [flexible_delay(15, r) for r in [random.Random(42)] for _ in range(20)]
    b = [flexible_delay(15, r) for r in [random.Random(42)] for _ in range(20)]
    assert a == b
    assert flexible_delay(15, random.Random(42)) == random.Random(42).random() * 900


def test_flexible_delay_extremes() -> None:
    assert flexible_delay(15, Fixed(0.0)) == 0.0
    assert flexible_delay(15, Fixed(0.9999999)) < 900.0
    assert flexible_delay(None, Fixed(0.5)) == 0.0  # Mode OFF


@pytest.mark.parametrize(
    ("retry", "low", "high"),
    [(1, 0.5, 1.0), (2, 1.0, 2.0), (3, 2.0, 4.0), (5, 8.0, 16.0), (9, 128.0, 256.0), (10, 150.0, 300.0)],
)
def test_retry_delay_grows_exponentially_with_jitter(retry: int, low: float, high: float) -> None:
    assert retry_delay(retry, Fixed(0.0)) == low
    assert retry_delay(retry, Fixed(1.0)) == high
    rng = random.Random(retry)
    assert all(low <= retry_delay(retry, rng) <= high for _ in range(1000))


def test_retry_delay_is_capped() -> None:
    assert retry_delay(185, Fixed(1.0)) == BACKOFF_CAP
    assert retry_delay(10_000, Fixed(1.0)) == BACKOFF_CAP
    with pytest.raises(ValueError):
        retry_delay(0, Fixed(0.0))


@pytest.mark.parametrize(
    ("attempts", "age", "retries_made", "since_first", "due_in", "condition"),
    [
        # retries left and young enough: retry after the back-off (Fixed(1.0): the ceiling)
        (3, 3600, 0, 0.0, 1.0, None),
        (3, 3600, 2, 10.0, 4.0, None),
        # MaximumRetryAttempts reached (0: never retried)
        (3, 3600, 3, 10.0, None, "MaximumRetryAttempts"),
        (0, 3600, 0, 0.0, None, "MaximumRetryAttempts"),
        # the next retry would come after MaximumEventAgeInSeconds from the first attempt
        (185, 60, 0, 59.5, None, "MaximumEventAgeInSeconds"),
        (185, 60, 0, 59.0, 1.0, None),  # exactly at the limit is still allowed
        (185, 86400, 50, 86_300.0, None, "MaximumEventAgeInSeconds"),
    ],
)
def test_next_retry_decisions(
    attempts: int,
    age: int,
    retries_made: int,
    since_first: float,
    due_in: float | None,
    condition: str | None,
) -> None:
    now = 1_000_000.0
    due, why = next_retry(RetryPolicy(attempts, age), retries_made, now - since_first, now, Fixed(1.0))
    assert why == condition
    assert (None if due is None else due - now) == due_in


def test_default_policy_is_awss() -> None:
    assert RetryPolicy().to_json() == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}


def test_a_failing_firing_ends_within_the_policy() -> None:
    """Simulate a firing that always fails: it stops by the attempt limit or the age limit,
    whichever comes first, and never retries later than the age allows."""
    for attempts, age in [(185, 86400), (5, 86400), (185, 600), (0, 60)]:
        rng = random.Random(attempts * age)
        first = now = 0.0
        retries = 0
        while True:
            due, why = next_retry(RetryPolicy(attempts, age), retries, first, now, rng)
            if due is None:
                break
            assert due - first <= age
            now, retries = due, retries + 1
        assert retries <= attempts
        assert why == ("MaximumRetryAttempts" if retries == attempts else "MaximumEventAgeInSeconds")
