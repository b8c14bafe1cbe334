"""EventBridge Scheduler expressions -> APScheduler triggers: what fires when, and what is refused.

Pure (no broker, no database): every case is (expression, time zone, now) -> the next firings,
or the field an error must name.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from runtime.asl.errors import StateHopError
from runtime.scheduler.errors import ScheduleExpressionError, ScheduleValidationError
from runtime.scheduler.expressions import (
    expression_kind,
    next_fire_times,
    parse_schedule_expression,
    parse_timezone,
)
from runtime.scheduler.schedules import execution_name, preview_schedule

# Thursday 1 January 2026, 00:00 UTC
NOW = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)

FIRES: list[tuple[str, str, list[str]]] = [
    # --- cron: the AWS documentation's examples and the wildcards one by one
    ("cron(0 12 * * ? *)", "UTC", ["2026-01-01T12:00:00+00:00", "2026-01-02T12:00:00+00:00"]),
    ("cron(15 10 ? * 6L 2026)", "UTC", ["2026-01-30T10:15:00+00:00", "2026-02-27T10:15:00+00:00"]),
    (
        "cron(0 18 ? * MON-FRI *)",
        "UTC",
        ["2026-01-01T18:00:00+00:00", "2026-01-02T18:00:00+00:00", "2026-01-05T18:00:00+00:00"],
    ),
    ("cron(0 8 1 * ? *)", "UTC", ["2026-01-01T08:00:00+00:00", "2026-02-01T08:00:00+00:00"]),
    (
        "cron(0/15 * * * ? *)",
        "UTC",
        ["2026-01-01T00:00:00+00:00", "2026-01-01T00:15:00+00:00", "2026-01-01T00:30:00+00:00"],
    ),
    ("cron(0/10 * ? * MON-FRI *)", "UTC", ["2026-01-01T00:00:00+00:00", "2026-01-01T00:10:00+00:00"]),
    ("cron(0/5 8-17 ? * MON-FRI *)", "UTC", ["2026-01-01T08:00:00+00:00", "2026-01-01T08:05:00+00:00"]),
    ("cron(0 9 ? * 2#1 *)", "UTC", ["2026-01-05T09:00:00+00:00", "2026-02-02T09:00:00+00:00"]),
    ("cron(0 9 ? * MON#1 *)", "UTC", ["2026-01-05T09:00:00+00:00", "2026-02-02T09:00:00+00:00"]),
    ("cron(0 9 ? * 6#3,2#1 *)", "UTC", ["2026-01-05T09:00:00+00:00", "2026-01-16T09:00:00+00:00"]),
    ("cron(0 0 L * ? *)", "UTC", ["2026-01-31T00:00:00+00:00", "2026-02-28T00:00:00+00:00"]),
    ("cron(0 0 ? * L *)", "UTC", ["2026-01-03T00:00:00+00:00", "2026-01-10T00:00:00+00:00"]),
    ("cron(0 0 ? * 1 *)", "UTC", ["2026-01-04T00:00:00+00:00", "2026-01-11T00:00:00+00:00"]),  # 1 = Sunday
    ("cron(0 0 ? * 7 *)", "UTC", ["2026-01-03T00:00:00+00:00", "2026-01-10T00:00:00+00:00"]),  # 7 = Saturday
    (
        "cron(0 0 ? * FRI-MON *)",
        "UTC",
        [
            "2026-01-02T00:00:00+00:00",
            "2026-01-03T00:00:00+00:00",
            "2026-01-04T00:00:00+00:00",
            "2026-01-05T00:00:00+00:00",
            "2026-01-09T00:00:00+00:00",
        ],
    ),
    ("cron(0 0 ? * sat,sun *)", "UTC", ["2026-01-03T00:00:00+00:00", "2026-01-04T00:00:00+00:00"]),
    ("cron(0 0 ? * * *)", "UTC", ["2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00"]),
    (
        "cron(0 22-2 * * ? *)",
        "UTC",
        [
            "2026-01-01T00:00:00+00:00",
            "2026-01-01T01:00:00+00:00",
            "2026-01-01T02:00:00+00:00",
            "2026-01-01T22:00:00+00:00",
        ],
    ),
    (
        "cron(30 6 1,15 JAN-MAR ? *)",
        "UTC",
        ["2026-01-01T06:30:00+00:00", "2026-01-15T06:30:00+00:00", "2026-02-01T06:30:00+00:00"],
    ),
    ("cron(0 0 1 */4 ? *)", "UTC", ["2026-01-01T00:00:00+00:00", "2026-05-01T00:00:00+00:00"]),
    ("cron(0 0 1 1 ? 2027-2028)", "UTC", ["2027-01-01T00:00:00+00:00", "2028-01-01T00:00:00+00:00"]),
    (
        "cron(5 0 1/10 * ? *)",
        "UTC",
        [
            "2026-01-01T00:05:00+00:00",
            "2026-01-11T00:05:00+00:00",
            "2026-01-21T00:05:00+00:00",
            "2026-01-31T00:05:00+00:00",
        ],
    ),
    ("cron(0 0/60 * * ? *)", "UTC", ["2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00"]),
    ("  cron( 0  12  *  *  ?  * )  ", "UTC", ["2026-01-01T12:00:00+00:00"]),
    # --- time zones: local wall-clock times
    ("cron(0 9 * * ? *)", "Europe/Paris", ["2026-01-01T09:00:00+01:00", "2026-01-02T09:00:00+01:00"]),
    ("cron(0 9 * * ? *)", "America/New_York", ["2026-01-01T09:00:00-05:00"]),
    ("cron(0 9 1 7 ? *)", "Europe/Paris", ["2026-07-01T09:00:00+02:00"]),  # summer time
    # --- rate: first one interval after "now"
    ("rate(5 minutes)", "UTC", ["2026-01-01T00:05:00+00:00", "2026-01-01T00:10:00+00:00"]),
    ("rate(1 minute)", "UTC", ["2026-01-01T00:01:00+00:00", "2026-01-01T00:02:00+00:00"]),
    ("rate(1 hour)", "UTC", ["2026-01-01T01:00:00+00:00", "2026-01-01T02:00:00+00:00"]),
    ("rate(2 days)", "UTC", ["2026-01-03T00:00:00+00:00", "2026-01-05T00:00:00+00:00"]),
    ("rate(  3   hours )", "UTC", ["2026-01-01T03:00:00+00:00"]),
    # --- at: once, local time
    ("at(2026-12-01T10:00:00)", "UTC", ["2026-12-01T10:00:00+00:00"]),
    ("at(2026-12-01T10:00:00)", "Asia/Tokyo", ["2026-12-01T10:00:00+09:00"]),
]


@pytest.mark.parametrize(("expression", "tz", "expected"), FIRES, ids=[f"{e}@{z}" for e, z, _ in FIRES])
def test_fire_times(expression: str, tz: str, expected: list[str]) -> None:
    trigger = parse_schedule_expression(expression, tz, now=NOW)
    got = [t.isoformat() for t in next_fire_times(trigger, len(expected) + 1, now=NOW)]
    assert got[: len(expected)] == expected
    if expression.strip().startswith("at("):
        assert got == expected  # exactly once


@pytest.mark.parametrize(
    ("expression", "kind"),
    [
        ("cron(0 12 * * ? *)", CronTrigger),
        ("rate(1 day)", IntervalTrigger),
        ("at(2030-01-01T00:00:00)", DateTrigger),
    ],
)
def test_trigger_types(expression: str, kind: type) -> None:
    assert isinstance(parse_schedule_expression(expression), kind)
    assert expression_kind(expression) == expression.split("(")[0]


REFUSED: list[tuple[str, str | None, str]] = [
    # (expression, field the error names, words the message must contain)
    ("cron(0 12 * * *)", None, "need exactly 6"),
    ("cron(0 12 * * ? * *)", None, "need exactly 6"),
    ("cron(0 12 * * * *)", "day-of-month/day-of-week", "exactly one"),
    ("cron(0 12 ? * ? *)", "day-of-month/day-of-week", "exactly one"),
    ("cron(60 12 * * ? *)", "minutes", "out of range 0-59"),
    ("cron(0 24 * * ? *)", "hours", "out of range 0-23"),
    ("cron(0 0 32 * ? *)", "day-of-month", "out of range 1-31"),
    ("cron(0 0 0 * ? *)", "day-of-month", "out of range 1-31"),
    ("cron(0 0 1 13 ? *)", "month", "out of range 1-12"),
    ("cron(0 0 1 FOO ? *)", "month", "not a number"),
    ("cron(0 0 ? * 8 *)", "day-of-week", "out of range 1-7"),
    ("cron(0 0 ? * 0 *)", "day-of-week", "out of range 1-7"),
    ("cron(0 0 ? * FUN *)", "day-of-week", "not a number"),
    ("cron(0 0 1 * ? 1969)", "year", "out of range 1970-2199"),
    ("cron(0 0 1 * ? 2200)", "year", "out of range 1970-2199"),
    ("cron(0 0 15W * ? *)", "day-of-month", "'W' (nearest weekday) is not supported"),
    ("cron(0 0 LW * ? *)", "day-of-month", "'W' (nearest weekday) is not supported"),
    ("cron(0 0 ? * 2#6 *)", "day-of-week", "1 to 5"),
    ("cron(0 0 ? * 2#0 *)", "day-of-week", "1 to 5"),
    ("cron(0 0 ? * MON,2#1 *)", "day-of-week", "mixes plain days"),
    ("cron(0 0 ? * MON/2 *)", "day-of-week", "'/' is not allowed"),
    ("cron(? 0 1 * ? *)", "minutes", "'?' is only allowed"),
    ("cron(0 L 1 * ? *)", "hours", "'L' is only allowed"),
    ("cron(0 0 1# * ? *)", "day-of-month", "'#' is only allowed"),
    ("cron(0/0 * * * ? *)", "minutes", "positive number"),
    ("cron(0/x * * * ? *)", "minutes", "positive number"),
    ("cron(5-2/2 * * * ? *)", "minutes", "wrapping range cannot have a step"),
    ("cron(0,,5 * * * ? *)", "minutes", "empty list item"),
    ("cron 0 12 * * ? *", None, "must start with"),
    ("rate(5 minute)", "rate unit", "write 5 'minutes'"),
    ("rate(1 minutes)", "rate unit", "write 1 'minute'"),
    ("rate(0 minutes)", "rate value", "positive"),
    ("rate(5 seconds)", "rate unit", "unknown unit"),
    ("rate(5)", "rate", "not 'value unit'"),
    ("rate(-5 minutes)", "rate", "not 'value unit'"),
    ("rate(five minutes)", "rate", "not 'value unit'"),
    ("at(2026-12-01 10:00:00)", "at time", "not in the at() form"),
    ("at(2026-12-01T10:00)", "at time", "not in the at() form"),
    ("at(2026-02-30T10:00:00)", "at time", "not a valid date"),
    ("at(2026-12-01T10:00:00Z)", "at time", "not in the at() form"),
    ("every 5 minutes", None, "must start with at(, rate( or cron("),
    ("", None, "must start with"),
]


@pytest.mark.parametrize(("expression", "field", "words"), REFUSED, ids=[e or "empty" for e, _, _ in REFUSED])
def test_refused_with_a_clear_error(expression: str, field: str | None, words: str) -> None:
    with pytest.raises(ScheduleExpressionError) as caught:
        parse_schedule_expression(expression)
    error = caught.value
    assert error.field == field
    assert words in str(error)
    assert repr(expression) in str(error) or expression.strip() in str(error)  # says what was wrong
    assert error.expected, "the error must show the expected form"
    assert isinstance(error, StateHopError) and isinstance(error, ValueError)
    assert error.aws_code == "ValidationException"


@pytest.mark.parametrize("name", ["Mars/Olympus", "UTC+1", "../etc/passwd", "Europe/"])
def test_unknown_time_zone(name: str) -> None:
    with pytest.raises(ScheduleValidationError, match="unknown time zone"):
        parse_schedule_expression("rate(1 hour)", name)


@pytest.mark.parametrize(("name", "key"), [(None, "UTC"), ("", "UTC"), ("Europe/Paris", "Europe/Paris")])
def test_time_zone_default(name: str | None, key: str) -> None:
    assert parse_timezone(name).key == key


def test_rate_is_anchored_at_creation() -> None:
    a = parse_schedule_expression("rate(1 hour)", now=NOW)
    b = parse_schedule_expression("rate(1 hour)", now=datetime(2026, 1, 1, 0, 30, tzinfo=UTC))
    assert next_fire_times(a, 1, now=NOW)[0].minute == 0
    assert next_fire_times(b, 1, now=NOW)[0].minute == 30


def test_never_matching_cron_has_no_fire_times() -> None:
    trigger = parse_schedule_expression("cron(0 0 31 2 ? *)")  # 31 February
    assert next_fire_times(trigger, 3, now=NOW) == []


def test_at_in_the_past_has_no_future_fire_time() -> None:
    trigger = parse_schedule_expression("at(2020-01-01T00:00:00)")
    assert next_fire_times(trigger, 3, now=NOW) == []


def test_preview_validates_and_lists() -> None:
    assert [t.hour for t in preview_schedule("cron(0 6,18 * * ? *)", count=3, now=NOW)] == [6, 18, 6]
    with pytest.raises(ScheduleExpressionError):
        preview_schedule("cron(0 6,18 * * * *)")


NAMES = [
    ("nightly", datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC), "nightly-20260304T050607Z"),
    ("tz", datetime(2026, 3, 4, 6, 6, 7, tzinfo=parse_timezone("Europe/Paris")), "tz-20260304T050607Z"),
    ("a" * 63, datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC), "a" * 63 + "-20260304T050607Z"),
]


@pytest.mark.parametrize(("schedule", "when", "expected"), NAMES)
def test_execution_name(schedule: str, when: datetime, expected: str) -> None:
    assert execution_name(schedule, when) == expected


def test_long_execution_names_stay_unique_and_legal() -> None:
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    a, b = execution_name("x" * 63 + "a", when), execution_name("x" * 63 + "b", when)
    assert a != b
    assert len(a) <= 80 and len(b) <= 80
    assert a.endswith("-20260304T050607Z")
    assert execution_name("x" * 63 + "a", when) == a  # deterministic: a double firing is one execution
