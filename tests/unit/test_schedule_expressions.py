"""EventBridge Scheduler expressions -> APScheduler triggers: what fires when, and what is refused.

Pure (no broker, no database): every case is (expression, time zone, now) -> the next firings,
or the field an error must name.
"""

from __future__ import annotations

import calendar
import pickle
from datetime import UTC, date, datetime
from typing import Any

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from runtime.asl.errors import StateHopError
from runtime.scheduler.errors import ScheduleExpressionError, ScheduleValidationError
from runtime.scheduler.expressions import (
    AwsCronTrigger,
    BoundedTrigger,
    bounded,
    expression_kind,
    nearest_weekday,
    next_fire_times,
    parse_schedule_expression,
    parse_timezone,
)
from runtime.scheduler.schedules import execution_name, parse_date, preview_schedule

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
    ("cron(0 0 1W,15W * ? *)", "day-of-month", "cannot be combined with other days"),
    ("cron(0 0 LW,1 * ? *)", "day-of-month", "cannot be combined with other days"),
    ("cron(0 0 1-15W * ? *)", "day-of-month", "'W' must follow one day"),
    ("cron(0 0 */2W * ? *)", "day-of-month", "'W' must follow one day"),
    ("cron(0 0 W * ? *)", "day-of-month", "'W' must follow one day"),
    ("cron(0 0 WL * ? *)", "day-of-month", "'W' must follow one day"),
    ("cron(0 0 W15 * ? *)", "day-of-month", "'W' must follow one day"),
    ("cron(0 0 32W * ? *)", "day-of-month", "32 is out of range 1-31"),
    ("cron(0 0 0W * ? *)", "day-of-month", "0 is out of range 1-31"),
    ("cron(0 0 ? * 2W *)", "day-of-week", "only allowed in day-of-month"),
    ("cron(0 0 ? * LW *)", "day-of-week", "only allowed in day-of-month"),
    ("cron(0 5W * * ? *)", "hours", "only allowed in day-of-month"),
    ("cron(0 0 1 * ? 2026W)", "year", "only allowed in day-of-month"),
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


# ------------------------------------------------------------------------------------- W and LW
# (expression, time zone, now, the next firings). Weekdays of the days involved:
# 2026-08-01 Sat, 2026-08-15 Sat, 2026-02-01 Sun, 2026-02-15 Sun, 2026-05-31 Sun,
# 2026-10-31 Sat, 2026-01-31 Sat, 2028-12-31 Sun, 2027-01-01 Fri, 2028-02-29 Tue.
W_FIRES: list[tuple[str, str, datetime, list[str]]] = [
    # 1W on a Saturday: Monday the 3rd, never Friday the 31st of the month before
    ("cron(0 9 1W * ? *)", "UTC", datetime(2026, 7, 2, tzinfo=UTC), ["2026-08-03T09:00:00+00:00"]),
    # 1W on a Sunday: Monday the 2nd
    ("cron(0 9 1W * ? *)", "UTC", datetime(2026, 1, 2, tzinfo=UTC), ["2026-02-02T09:00:00+00:00"]),
    # 31W on a Sunday (the last day): Friday the 29th, never Monday the 1st of the next month
    ("cron(0 9 31W * ? *)", "UTC", datetime(2026, 5, 1, tzinfo=UTC), ["2026-05-29T09:00:00+00:00"]),
    # 31W on a Saturday: Friday the 30th
    ("cron(0 9 31W * ? *)", "UTC", datetime(2026, 10, 1, tzinfo=UTC), ["2026-10-30T09:00:00+00:00"]),
    # 15W on a Saturday: Friday the 14th; on a Sunday: Monday the 16th
    ("cron(0 9 15W * ? *)", "UTC", datetime(2026, 8, 1, tzinfo=UTC), ["2026-08-14T09:00:00+00:00"]),
    ("cron(0 9 15W * ? *)", "UTC", datetime(2026, 2, 1, tzinfo=UTC), ["2026-02-16T09:00:00+00:00"]),
    # a weekday stays itself: 2026-12-31 is a Thursday
    ("cron(0 9 31W 12 ? *)", "UTC", datetime(2026, 12, 1, tzinfo=UTC), ["2026-12-31T09:00:00+00:00"]),
    # 31W skips the months without a 31st (as a plain 31 does): Jan, Mar, May, Jul
    (
        "cron(0 9 31W * ? 2026)",
        "UTC",
        datetime(2026, 1, 1, tzinfo=UTC),
        [
            "2026-01-30T09:00:00+00:00",  # Sat 31st -> Fri 30th
            "2026-03-31T09:00:00+00:00",
            "2026-05-29T09:00:00+00:00",  # Sun 31st (last day) -> Fri 29th
            "2026-07-31T09:00:00+00:00",
            "2026-08-31T09:00:00+00:00",
        ],
    ),
    # 30W has no February; 29W only in leap years (2028-02-29 is a Tuesday)
    ("cron(0 9 30W 2 ? *)", "UTC", datetime(2026, 1, 1, tzinfo=UTC), []),
    ("cron(0 9 29W 2 ? *)", "UTC", datetime(2026, 1, 1, tzinfo=UTC), ["2028-02-29T09:00:00+00:00"]),
    # across a year end: 31 Dec 2028 is a Sunday -> Friday 29th; 1 Jan 2027 is a Friday
    ("cron(0 9 31W 12 ? *)", "UTC", datetime(2028, 12, 1, tzinfo=UTC), ["2028-12-29T09:00:00+00:00"]),
    ("cron(0 9 1W 1 ? *)", "UTC", datetime(2026, 12, 31, 12, tzinfo=UTC), ["2027-01-01T09:00:00+00:00"]),
    # the hour and minute fields still apply on the moved day, and later times that day
    (
        "cron(0/30 8-9 15W * ? *)",
        "UTC",
        datetime(2026, 8, 14, 8, 10, tzinfo=UTC),
        ["2026-08-14T08:30:00+00:00", "2026-08-14T09:00:00+00:00", "2026-08-14T09:30:00+00:00"],
    ),
    # already past this month's W day: next month's
    ("cron(0 9 15W * ? *)", "UTC", datetime(2026, 8, 14, 10, tzinfo=UTC), ["2026-09-15T09:00:00+00:00"]),
    # LW: the last weekday, whatever the month's length
    (
        "cron(0 18 LW * ? *)",
        "UTC",
        datetime(2026, 1, 1, tzinfo=UTC),
        [
            "2026-01-30T18:00:00+00:00",  # Sat 31st -> Fri 30th
            "2026-02-27T18:00:00+00:00",  # Sat 28th -> Fri 27th
            "2026-03-31T18:00:00+00:00",  # Tue
            "2026-04-30T18:00:00+00:00",  # Thu
            "2026-05-29T18:00:00+00:00",  # Sun 31st -> Fri 29th
        ],
    ),
    (
        "cron(0 18 lw * ? *)",
        "UTC",
        datetime(2027, 2, 1, tzinfo=UTC),
        ["2027-02-26T18:00:00+00:00"],
    ),  # Sun 28th
    # evaluated on the local calendar: 23:30 New York on the last weekday is already the
    # next day in UTC; and March's is in summer time in Paris
    (
        "cron(30 23 LW * ? *)",
        "America/New_York",
        datetime(2026, 1, 1, tzinfo=UTC),  # 19:00 on Wednesday 31 December 2025 in New York
        ["2025-12-31T23:30:00-05:00", "2026-01-30T23:30:00-05:00"],
    ),
    (
        "cron(0 9 LW 2-3 ? 2026)",
        "Europe/Paris",
        datetime(2026, 1, 1, tzinfo=UTC),
        ["2026-02-27T09:00:00+01:00", "2026-03-31T09:00:00+02:00"],
    ),
]


@pytest.mark.parametrize(
    ("expression", "tz", "now", "expected"),
    W_FIRES,
    ids=[f"{e}@{z}@{n:%Y-%m-%d}" for e, z, n, _ in W_FIRES],
)
def test_nearest_weekday_fire_times(expression: str, tz: str, now: datetime, expected: list[str]) -> None:
    trigger = parse_schedule_expression(expression, tz, now=now)
    assert isinstance(trigger, CronTrigger)
    got = [t.isoformat() for t in next_fire_times(trigger, len(expected), now=now)]
    assert got == expected


def _oracle(year: int, month: int, day: int | None) -> int | None:
    """Independent rule: the Monday-Friday day of this month closest to ``day`` (LW: the
    latest weekday); distances never tie, and it never leaves the month."""
    last = calendar.monthrange(year, month)[1]
    weekdays = [d for d in range(1, last + 1) if date(year, month, d).weekday() < 5]
    if day is None:
        return max(weekdays)
    if day > last:
        return None
    return min(weekdays, key=lambda d: abs(d - day))


@pytest.mark.parametrize("day", [*range(1, 32), None], ids=[*(f"{d}W" for d in range(1, 32)), "LW"])
def test_nearest_weekday_exhaustively_against_an_oracle(day: int | None) -> None:
    """Every nW and LW over five years (2024-2028: two leap Februaries, every weekday the 1st
    and the last day can fall on): the trigger fires exactly on the oracle's days, at 09:00."""
    expression = f"cron(0 9 {'L' if day is None else day}W * ? 2024-2028)"
    start = datetime(2024, 1, 1, tzinfo=UTC)
    expected = []
    for year in range(2024, 2029):
        for month in range(1, 13):
            target = _oracle(year, month, day)
            if target is not None:
                expected.append(datetime(year, month, target, 9, tzinfo=UTC))
                assert nearest_weekday(year, month, day) == target
            else:
                assert nearest_weekday(year, month, day) is None
    got = next_fire_times(parse_schedule_expression(expression, "UTC", now=start), 100, now=start)
    assert got == expected
    assert all(t.weekday() < 5 for t in got)
    # 60 months; 29W misses three non-leap Februaries, 30W all five, 31W 25 short months
    assert len(got) == {29: 57, 30: 55, 31: 35}.get(day or 0, 60)


def test_nearest_weekday_trigger_survives_pickling() -> None:
    trigger = parse_schedule_expression("cron(0 9 15W * ? *)", "Europe/Paris")
    copy = pickle.loads(pickle.dumps(trigger))
    assert isinstance(copy, AwsCronTrigger)
    assert next_fire_times(copy, 3, now=NOW) == next_fire_times(trigger, 3, now=NOW)
    # an expression without W stays a stock CronTrigger (rows readable by any APScheduler 3)
    assert type(parse_schedule_expression("cron(0 9 15 * ? *)")) is CronTrigger


# ------------------------------------------------------------------------------------- StartDate / EndDate


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


BOUNDED: list[tuple[str, str | None, str | None, list[str]]] = [
    # (expression, StartDate, EndDate, the firings from NOW on, all of them when the list is short)
    (
        "cron(0 12 * * ? *)",
        "2026-01-03T00:00:00+00:00",
        "2026-01-05T12:00:00+00:00",  # EndDate on a firing: inclusive
        ["2026-01-03T12:00:00+00:00", "2026-01-04T12:00:00+00:00", "2026-01-05T12:00:00+00:00"],
    ),
    (
        "cron(0 12 * * ? *)",
        "2026-01-03T12:00:00+00:00",  # StartDate on a firing: inclusive
        "2026-01-04T11:59:59+00:00",
        ["2026-01-03T12:00:00+00:00"],
    ),
    # no StartDate: from now; the EndDate alone cuts
    (
        "cron(0 12 * * ? *)",
        None,
        "2026-01-02T13:00:00+00:00",
        ["2026-01-01T12:00:00+00:00", "2026-01-02T12:00:00+00:00"],
    ),
    # a StartDate in the past changes nothing
    (
        "cron(0 12 * * ? *)",
        "2020-01-01T00:00:00+00:00",
        "2026-01-01T12:00:00+00:00",
        ["2026-01-01T12:00:00+00:00"],
    ),
    # a rate with a StartDate fires first at the StartDate, then every interval (AWS)
    (
        "rate(2 hours)",
        "2026-01-05T10:15:00+00:00",
        "2026-01-05T16:15:00+00:00",
        [
            "2026-01-05T10:15:00+00:00",
            "2026-01-05T12:15:00+00:00",
            "2026-01-05T14:15:00+00:00",
            "2026-01-05T16:15:00+00:00",
        ],
    ),
    # a StartDate in the past keeps the rate on its grid
    (
        "rate(1 hour)",
        "2025-12-31T23:20:00+00:00",
        "2026-01-01T02:00:00+00:00",
        ["2026-01-01T00:20:00+00:00", "2026-01-01T01:20:00+00:00"],
    ),
    # at() ignores both, as AWS does for one-time schedules
    (
        "at(2026-06-01T00:00:00)",
        "2026-07-01T00:00:00+00:00",
        "2026-07-02T00:00:00+00:00",
        ["2026-06-01T00:00:00+00:00"],
    ),
    # W and bounds together
    (
        "cron(0 9 1W * ? *)",
        "2026-07-15T00:00:00+00:00",
        "2026-09-30T00:00:00+00:00",
        ["2026-08-03T09:00:00+00:00", "2026-09-01T09:00:00+00:00"],
    ),
]


@pytest.mark.parametrize(
    ("expression", "start", "end", "expected"), BOUNDED, ids=[f"{e}[{s},{n}]" for e, s, n, _ in BOUNDED]
)
def test_start_and_end_dates_bound_the_firings(
    expression: str, start: str | None, end: str | None, expected: list[str]
) -> None:
    got = preview_schedule(expression, "UTC", len(expected) + 3, now=NOW, start_date=start, end_date=end)
    assert [t.isoformat() for t in got] == expected
    trigger = parse_schedule_expression(expression, "UTC", now=NOW)
    if not isinstance(trigger, DateTrigger):
        bounded_trigger = bounded(trigger, start and _utc(start), end and _utc(end))
        assert isinstance(bounded_trigger, BoundedTrigger)
        copy = pickle.loads(pickle.dumps(bounded_trigger))  # stored in the job: must pickle
        assert next_fire_times(copy, 10, now=NOW) == next_fire_times(bounded_trigger, 10, now=NOW)


def test_bounded_trigger_lists_missed_firings_only_inside_the_bounds() -> None:
    """APScheduler asks for the next time after a previous one to find missed firings: none
    before the StartDate, none after the EndDate."""
    trigger = bounded(
        parse_schedule_expression("cron(0 * * * ? *)"),
        _utc("2026-01-01T03:00:00+00:00"),
        _utc("2026-01-01T05:00:00+00:00"),
    )
    late = datetime(2026, 1, 2, tzinfo=UTC)
    previous = datetime(2026, 1, 1, 1, tzinfo=UTC)  # before the StartDate
    seen = []
    while (previous := trigger.get_next_fire_time(previous, late)) is not None:
        seen.append(previous.hour)
    assert seen == [3, 4, 5]


@pytest.mark.parametrize(
    ("start", "end", "field", "words"),
    [
        ("2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z", "EndDate", "is not after StartDate"),
        ("2026-02-01T00:00:00Z", "2026-02-01T00:00:00Z", "EndDate", "is not after StartDate"),
        ("next tuesday", None, "StartDate", "is not a date and time"),
        (None, "2026-13-01T00:00:00", "EndDate", "is not a date and time"),
        (None, "3000-01-01T00:00:00Z", "EndDate", "outside the years 1970-2199"),
        (None, "1e30", "EndDate", "is not a date and time"),
    ],
)
def test_bad_dates_name_the_field_and_the_form(
    start: str | None, end: str | None, field: str, words: str
) -> None:
    with pytest.raises(ScheduleValidationError) as caught:
        preview_schedule("rate(1 hour)", start_date=start, end_date=end, now=NOW)
    assert caught.value.field == field
    assert words in str(caught.value) and "expected" in str(caught.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-01T00:00:00Z", "2026-03-01T00:00:00+00:00"),
        ("2026-03-01T01:00:00+01:00", "2026-03-01T00:00:00+00:00"),
        ("2026-03-01T00:00:00", "2026-03-01T00:00:00+00:00"),  # no offset: UTC, as AWS's dates are
        ("2026-03-01", "2026-03-01T00:00:00+00:00"),
        (1772323200, "2026-03-01T00:00:00+00:00"),
        (1772323200.5, "2026-03-01T00:00:00.500000+00:00"),
        ("1772323200", "2026-03-01T00:00:00+00:00"),
        (datetime(2026, 3, 1), "2026-03-01T00:00:00+00:00"),
    ],
)
def test_date_forms(value: Any, expected: str) -> None:
    timestamp = parse_date(value, "StartDate")
    assert timestamp is not None
    assert datetime.fromtimestamp(timestamp, UTC).isoformat() == expected
