"""EventBridge Scheduler expressions -> APScheduler triggers.

Three forms, evaluated in the schedule's IANA time zone (default UTC):

- ``at(2026-12-01T10:00:00)``: once, at that local time;
- ``rate(5 minutes)``: every n minutes/hours/days, first one interval after creation
  (``1 minute`` singular, ``5 minutes`` plural, as AWS insists);
- ``cron(minutes hours day-of-month month day-of-week year)``: six fields with AWS's rules:
  day-of-week counts 1=SUN..7=SAT, exactly one of day-of-month/day-of-week is ``?``, ``L``
  (last), ``W`` (nearest weekday: ``15W``, ``LW``), ``#`` (nth weekday of the month).

APScheduler's CronTrigger has no ``W``: :class:`AwsCronTrigger` adds it as one more
day-of-month expression (:class:`NearestWeekdayExpression`), with Quartz's rule that the
weekday is always in the same month. :class:`BoundedTrigger` adds a schedule's StartDate and
EndDate around any recurring trigger. Forms that cannot be run with AWS's meaning are refused
with an error that names the field. Pure: no I/O, usable by the API to validate before
anything is stored.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.cron.expressions import AllExpression
from apscheduler.triggers.cron.fields import DayOfMonthField
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from runtime.scheduler.errors import ScheduleExpressionError, ScheduleValidationError

ExpressionKind = Literal["at", "rate", "cron"]

CRON_FORM = "cron(minutes hours day-of-month month day-of-week year), e.g. cron(0 12 * * ? *)"
RATE_FORM = "rate(value unit) with unit minute(s), hour(s) or day(s), e.g. rate(5 minutes)"
AT_FORM = "at(yyyy-mm-ddThh:mm:ss), e.g. at(2026-12-01T10:00:00)"

_AT = re.compile(r"^at\((?P<when>[^)]*)\)$")
_RATE = re.compile(r"^rate\((?P<body>[^)]*)\)$")
_CRON = re.compile(r"^cron\((?P<body>[^)]*)\)$")
_AT_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
_RATE_BODY = re.compile(r"^(?P<value>\d+) +(?P<unit>[a-z]+)$")
_RATE_UNITS = {"minute": "minutes", "hour": "hours", "day": "days"}

_MONTHS = {
    m: i
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1
    )
}
_WEEKDAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}
#: AWS day-of-week number (1=SUN) -> APScheduler weekday name
_APS_WEEKDAY = {1: "sun", 2: "mon", 3: "tue", 4: "wed", 5: "thu", 6: "fri", 7: "sat"}
_NTH = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 5: "5th"}


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int] | None
    example: str


_MINUTES = _Field("minutes", 0, 59, None, "0, 0/15, 5-10 or 0,30")
_HOURS = _Field("hours", 0, 23, None, "12, 8-17, */2 or 9,17")
_DOM = _Field(
    "day-of-month",
    1,
    31,
    None,
    "1, 1-15, L (last day), 15W (weekday nearest the 15th), LW (last weekday) or ? (when day-of-week is set)",
)
_W_FORM = "one day with W (15W: the weekday nearest the 15th) or LW (the last weekday), alone in the field"
_MONTH = _Field("month", 1, 12, _MONTHS, "1, JAN, JAN-MAR or */3")
_DOW = _Field(
    "day-of-week",
    1,
    7,
    _WEEKDAYS,
    "MON, MON-FRI, 2-6, 6L (last Friday), 2#1 (first Monday) or ? (when day-of-month is set)",
)
_YEAR = _Field("year", 1970, 2199, None, "*, 2026 or 2026-2030")


def parse_timezone(name: str | None) -> ZoneInfo:
    """An IANA zone (``Europe/Paris``); empty means UTC."""
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ScheduleValidationError(
            f"unknown time zone {name!r}: use an IANA name such as 'UTC' or 'America/New_York'"
        ) from None


def expression_kind(expression: str) -> ExpressionKind:
    """Which of the three forms ``expression`` is (without validating its body)."""
    text = expression.strip()
    for kind in ("at", "rate", "cron"):
        if text.startswith(f"{kind}("):
            return kind
    raise ScheduleExpressionError(
        expression, "must start with at(, rate( or cron(", expected=f"{AT_FORM}; {RATE_FORM}; or {CRON_FORM}"
    )


def parse_schedule_expression(
    expression: str,
    timezone: str | None = "UTC",
    *,
    now: datetime | None = None,
    start: datetime | None = None,
) -> BaseTrigger:
    """The APScheduler trigger for an EventBridge Scheduler expression in ``timezone``.

    ``now`` anchors ``rate(...)`` (its first firing is one interval later); defaults to the
    current time. ``start`` (a schedule's StartDate) anchors it instead: the first firing is
    at ``start``, as AWS documents for rate-based schedules with a StartDate.
    """
    if not isinstance(expression, str):
        raise ScheduleExpressionError(repr(expression), "must be a string", expected=CRON_FORM)
    tz = parse_timezone(timezone)
    text = expression.strip()
    kind = expression_kind(text)
    if kind == "at":
        return _parse_at(expression, text, tz)
    if kind == "rate":
        return _parse_rate(expression, text, tz, now, start)
    return _parse_cron(expression, text, tz)


def next_fire_times(trigger: BaseTrigger, count: int = 5, *, now: datetime | None = None) -> list[datetime]:
    """The next ``count`` firing times after ``now`` (a preview for the API and CLI)."""
    current = now or datetime.now(ZoneInfo("UTC"))
    times: list[datetime] = []
    previous: datetime | None = None
    while len(times) < count:
        nxt = trigger.get_next_fire_time(previous, current)
        if nxt is None or (previous is not None and nxt <= previous):
            break
        if nxt >= current:
            times.append(nxt)
        previous = nxt
        current = max(current, nxt)
    return times


# ------------------------------------------------------------------------------------- at / rate


def _parse_at(expression: str, text: str, tz: ZoneInfo) -> DateTrigger:
    match = _AT.match(text)
    when = match.group("when").strip() if match else ""
    if not match or not _AT_TIME.match(when):
        raise ScheduleExpressionError(
            expression, f"the time {when!r} is not in the at() form", field="at time", expected=AT_FORM
        )
    try:
        local = datetime.fromisoformat(when)
    except ValueError as exc:
        raise ScheduleExpressionError(
            expression, f"{when!r} is not a valid date and time ({exc})", field="at time", expected=AT_FORM
        ) from None
    return DateTrigger(run_date=local.replace(tzinfo=tz), timezone=tz)


def _parse_rate(
    expression: str, text: str, tz: ZoneInfo, now: datetime | None, anchor: datetime | None
) -> IntervalTrigger:
    match = _RATE.match(text)
    body = " ".join(match.group("body").split()) if match else ""
    parts = _RATE_BODY.match(body)
    if not match or not parts:
        raise ScheduleExpressionError(
            expression, f"{body!r} is not 'value unit'", field="rate", expected=RATE_FORM
        )
    value = int(parts.group("value"))
    unit = parts.group("unit")
    if value < 1:
        raise ScheduleExpressionError(
            expression, "the value must be a positive whole number", field="rate value", expected=RATE_FORM
        )
    singular = unit.rstrip("s") if unit.endswith("s") else unit
    if singular not in _RATE_UNITS:
        raise ScheduleExpressionError(
            expression, f"unknown unit {unit!r}", field="rate unit", expected=RATE_FORM
        )
    wanted = singular if value == 1 else _RATE_UNITS[singular]
    if unit != wanted:
        raise ScheduleExpressionError(
            expression,
            f"write {value} {wanted!r}, not {unit!r} (AWS wants the singular "
            "unit for 1 and the plural otherwise)",
            field="rate unit",
            expected=RATE_FORM,
        )
    interval = timedelta(**{_RATE_UNITS[singular]: value})
    if anchor is not None:
        start = anchor.astimezone(tz)
    else:
        start = (now or datetime.now(tz)).astimezone(tz) + interval
    return IntervalTrigger(**{_RATE_UNITS[singular]: value}, start_date=start, timezone=tz)


# ------------------------------------------------------------------------------------- cron


def _parse_cron(expression: str, text: str, tz: ZoneInfo) -> CronTrigger:
    match = _CRON.match(text)
    fields = match.group("body").split() if match else []
    if len(fields) != 6:
        raise ScheduleExpressionError(
            expression, f"found {len(fields)} field(s), need exactly 6", expected=CRON_FORM
        )
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ScheduleExpressionError(
            expression,
            "exactly one of day-of-month and day-of-week must be '?'",
            field="day-of-month/day-of-week",
            expected="'?' in one of them, e.g. cron(0 12 * * ? *) or cron(0 12 ? * MON-FRI *)",
        )
    day = "*" if dom == "?" else _numeric(expression, _DOM, dom, allow_last=True)
    day_of_week = "*"
    if dow != "?":
        day_of_week, positional = _day_of_week(expression, dow)
        if positional:
            day = positional
    args = {
        "minute": _numeric(expression, _MINUTES, minutes),
        "hour": _numeric(expression, _HOURS, hours),
        "day": day,
        "month": _numeric(expression, _MONTH, month),
        "day_of_week": day_of_week,
        "year": _numeric(expression, _YEAR, year),
    }
    trigger_class = AwsCronTrigger if "W" in dom.upper() else CronTrigger
    try:
        return trigger_class(second=0, timezone=tz, **args)
    except ValueError as exc:  # our checks should have caught it; keep the message clear anyway
        raise ScheduleExpressionError(expression, str(exc), expected=CRON_FORM) from None


def _value(expression: str, field: _Field, token: str) -> int:
    upper = token.upper()
    if field.names is not None and upper in field.names:
        return field.names[upper]
    if not token.isdigit():
        names = f" or a name ({', '.join(field.names)})" if field.names else ""
        raise ScheduleExpressionError(
            expression, f"{token!r} is not a number{names}", field=field.name, expected=field.example
        )
    number = int(token)
    if not field.low <= number <= field.high:
        raise ScheduleExpressionError(
            expression,
            f"{number} is out of range {field.low}-{field.high}",
            field=field.name,
            expected=field.example,
        )
    return number


def _items(expression: str, field: _Field, text: str) -> list[str]:
    items = text.split(",")
    if any(not item for item in items):
        raise ScheduleExpressionError(
            expression, f"{text!r} has an empty list item", field=field.name, expected=field.example
        )
    return items


def _numeric(expression: str, field: _Field, text: str, *, allow_last: bool = False) -> str:
    """One numeric cron field as an APScheduler expression (ranges, steps, lists, L)."""
    out: list[str] = []
    items = _items(expression, field, text)
    for item in items:
        upper = item.upper()
        if "?" in item:
            raise ScheduleExpressionError(
                expression,
                "'?' is only allowed in day-of-month or day-of-week",
                field=field.name,
                expected=field.example,
            )
        if allow_last and upper == "L":
            out.append("last")
            continue
        if allow_last and "W" in upper:
            out.append(_nearest_weekday(expression, field, item, alone=len(items) == 1))
            continue
        if "W" in upper:
            raise ScheduleExpressionError(
                expression,
                f"{item!r}: 'W' (nearest weekday) is only allowed in day-of-month",
                field=field.name,
                expected=field.example,
            )
        if "L" in upper and field.names is None:
            raise ScheduleExpressionError(
                expression,
                f"{item!r}: 'L' is only allowed alone, in day-of-month or day-of-week",
                field=field.name,
                expected=field.example,
            )
        if "#" in item:
            raise ScheduleExpressionError(
                expression,
                f"{item!r}: '#' is only allowed in day-of-week",
                field=field.name,
                expected=field.example,
            )
        out.append(_range(expression, field, item))
    return ",".join(out)


def _nearest_weekday(expression: str, field: _Field, item: str, *, alone: bool) -> str:
    """``15W`` / ``LW`` -> the APScheduler text of :class:`NearestWeekdayExpression`.

    As in Quartz (whose syntax AWS's cron follows), W takes exactly one day: no list, range or
    step, which would not say which weekday is meant.
    """
    upper = item.upper()
    day = upper[:-1]
    if not upper.endswith("W") or not (day == "L" or day.isdigit()):
        raise ScheduleExpressionError(
            expression,
            f"{item!r}: 'W' must follow one day of the month or L",
            field=field.name,
            expected=_W_FORM,
        )
    if not alone:
        raise ScheduleExpressionError(
            expression,
            f"{item!r}: 'W' cannot be combined with other days in a list",
            field=field.name,
            expected=_W_FORM,
        )
    if day == "L":
        return "lw"
    number = int(day)
    if not field.low <= number <= field.high:
        raise ScheduleExpressionError(
            expression,
            f"{item!r}: {number} is out of range {field.low}-{field.high}",
            field=field.name,
            expected=_W_FORM,
        )
    return f"{number}w"


def _range(expression: str, field: _Field, item: str) -> str:
    """``*``, ``*/s``, ``a``, ``a-b``, ``a/s``, ``a-b/s`` (names allowed) -> APScheduler text."""
    base, slash, step_text = item.partition("/")
    step: int | None = None
    if slash:
        if not step_text.isdigit() or int(step_text) < 1:
            raise ScheduleExpressionError(
                expression,
                f"{item!r}: the step after '/' must be a positive number",
                field=field.name,
                expected=field.example,
            )
        step = int(step_text)
    if base == "*":
        if step is None:
            return "*"
        first, last = field.low, field.high
    else:
        start, dash, end = base.partition("-")
        first = _value(expression, field, start)
        last = _value(expression, field, end) if dash else (field.high if step else first)
    if first > last:
        if step is not None:
            raise ScheduleExpressionError(
                expression,
                f"{item!r}: a wrapping range cannot have a step",
                field=field.name,
                expected=field.example,
            )
        return f"{first}-{field.high},{field.low}-{last}"  # e.g. hours 22-2
    if step is None or first == last:
        return str(first) if first == last else f"{first}-{last}"
    if step > last - first:
        return str(first)  # only the first value matches (APScheduler refuses such a step)
    return f"{first}-{last}/{step}"


def _day_of_week(expression: str, text: str) -> tuple[str, str]:
    """(APScheduler day_of_week, positional ``day`` expression or "") for an AWS day-of-week."""
    plain: set[int] = set()
    positional: list[str] = []
    for item in _items(expression, _DOW, text):
        upper = item.upper()
        if "?" in item:
            raise ScheduleExpressionError(
                expression, "'?' must stand alone", field=_DOW.name, expected=_DOW.example
            )
        if "/" in item:
            raise ScheduleExpressionError(
                expression,
                f"{item!r}: '/' is not allowed in day-of-week (AWS)",
                field=_DOW.name,
                expected=_DOW.example,
            )
        if upper.endswith("W"):  # 2W, LW (WED, MON-WED are days)
            raise ScheduleExpressionError(
                expression,
                f"{item!r}: 'W' (nearest weekday) is only allowed in day-of-month",
                field=_DOW.name,
                expected=_DOW.example,
            )
        if upper == "L":
            plain.add(7)  # AWS: L alone is the last day of the week, Saturday
        elif upper.endswith("L"):
            day = _value(expression, _DOW, upper[:-1])
            positional.append(f"last {_APS_WEEKDAY[day]}")
        elif "#" in item:
            day_text, _, nth_text = upper.partition("#")
            day = _value(expression, _DOW, day_text)
            if not nth_text.isdigit() or not 1 <= int(nth_text) <= 5:
                raise ScheduleExpressionError(
                    expression,
                    f"{item!r}: the week after '#' must be 1 to 5",
                    field=_DOW.name,
                    expected="2#1 (first Monday) or FRI#3",
                )
            positional.append(f"{_NTH[int(nth_text)]} {_APS_WEEKDAY[day]}")
        elif item == "*":
            plain.update(range(1, 8))
        else:
            start, dash, end = upper.partition("-")
            first = _value(expression, _DOW, start)
            last = _value(expression, _DOW, end) if dash else first
            days = range(first, last + 1) if first <= last else [*range(first, 8), *range(1, last + 1)]
            plain.update(days)
    if positional and plain:
        raise ScheduleExpressionError(
            expression,
            f"{text!r} mixes plain days with L or # items, which cannot be combined",
            field=_DOW.name,
            expected="either days (MON-FRI) or positions (6L, 2#1), not both",
        )
    if positional:
        return "*", ",".join(positional)
    if len(plain) == 7:
        return "*", ""
    return ",".join(_APS_WEEKDAY[d] for d in sorted(plain)), ""


# ------------------------------------------------------------------------------------- W


def nearest_weekday(year: int, month: int, day: int | None) -> int | None:
    """The day of the month an AWS/Quartz ``<day>W`` (``day=None``: ``LW``) fires on.

    The weekday (Monday to Friday) nearest ``day`` *in the same month*: a Saturday moves to
    the Friday before, a Sunday to the Monday after, except that the 1st on a Saturday moves
    to Monday the 3rd and the last day on a Sunday to the Friday two days before. ``LW`` is
    the month's last weekday. None when the month has no such day (31W in April), as a plain
    31 does not fire in April either.
    """
    last = monthrange(year, month)[1]
    if day is None:
        weekday = date(year, month, last).weekday()
        return last - max(0, weekday - 4)  # Saturday -> Friday (-1), Sunday -> Friday (-2)
    if day > last:
        return None
    weekday = date(year, month, day).weekday()
    if weekday == 5:  # Saturday
        return day + 2 if day == 1 else day - 1
    if weekday == 6:  # Sunday
        return day - 2 if day == last else day + 1
    return day


class NearestWeekdayExpression(AllExpression):  # type: ignore[misc]
    """APScheduler day-of-month expression ``15w`` / ``lw`` (see :func:`nearest_weekday`)."""

    value_re = re.compile(r"(?P<day>\d+|l)w$", re.IGNORECASE)

    def __init__(self, day: str) -> None:
        super().__init__(None)
        self.day: int | None = None if day.lower() == "l" else int(day)

    def validate_range(self, field_name: str) -> None:
        if self.day is not None and not 1 <= self.day <= 31:
            raise ValueError(f"the day before W must be 1 to 31, not {self.day}")

    def get_next_value(self, date: datetime, field: Any) -> int | None:
        target = nearest_weekday(date.year, date.month, self.day)
        if target is not None and target >= date.day:
            return target
        return None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NearestWeekdayExpression) and self.day == other.day

    def __hash__(self) -> int:
        return hash(("w", self.day))

    def __str__(self) -> str:
        return "lw" if self.day is None else f"{self.day}w"

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({str(self)[:-1]!r})"


class AwsDayOfMonthField(DayOfMonthField):  # type: ignore[misc]
    """CronTrigger's day field plus :class:`NearestWeekdayExpression`."""

    COMPILERS = [NearestWeekdayExpression, *DayOfMonthField.COMPILERS]


class AwsCronTrigger(CronTrigger):  # type: ignore[misc]
    """CronTrigger whose day-of-month also understands ``15w`` and ``lw``."""

    __slots__ = ()
    FIELDS_MAP = {**CronTrigger.FIELDS_MAP, "day": AwsDayOfMonthField}


# ------------------------------------------------------------------------------------- bounds


class BoundedTrigger(BaseTrigger):  # type: ignore[misc]
    """A recurring trigger limited to [start, end] (a schedule's StartDate and EndDate, UTC).

    No firing time before ``start`` and none after ``end``; both inclusive, as AWS says
    invocations occur "on, or after" the StartDate and stop "on, or before" the EndDate.
    """

    __slots__ = ("base", "end", "start")

    def __init__(self, base: BaseTrigger, start: datetime | None = None, end: datetime | None = None) -> None:
        self.base = base
        self.start = start
        self.end = end

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        previous = previous_fire_time
        if self.start is not None and previous is None:
            now = max(now, self.start)  # the first firing: not before the start
        elif self.start is not None and previous is not None and previous < self.start:
            # the next after a time before the start: the first one from the start on
            previous, now = None, self.start
        nxt: datetime | None = self.base.get_next_fire_time(previous, now)
        if nxt is None or (self.end is not None and nxt > self.end):
            return None
        return nxt

    def __getstate__(self) -> dict[str, Any]:
        return {"version": 1, "base": self.base, "start": self.start, "end": self.end}

    def __setstate__(self, state: dict[str, Any]) -> None:
        if state.get("version", 1) > 1:
            raise ValueError(f"cannot restore a BoundedTrigger of version {state['version']}")
        self.base = state["base"]
        self.start = state["start"]
        self.end = state["end"]

    def __str__(self) -> str:
        return f"bounded[{self.base}, start={self.start}, end={self.end}]"

    def __repr__(self) -> str:
        return f"<BoundedTrigger ({self.base!r}, start={self.start!r}, end={self.end!r})>"


def bounded(trigger: BaseTrigger, start: datetime | None, end: datetime | None) -> BaseTrigger:
    """``trigger`` limited to [start, end]; a one-time (date) trigger is left alone, as AWS
    ignores StartDate and EndDate for one-time schedules."""
    if isinstance(trigger, DateTrigger) or (start is None and end is None):
        return trigger
    return BoundedTrigger(
        trigger,
        None if start is None else start.astimezone(UTC),
        None if end is None else end.astimezone(UTC),
    )


__all__ = [
    "AT_FORM",
    "CRON_FORM",
    "RATE_FORM",
    "AwsCronTrigger",
    "BoundedTrigger",
    "ExpressionKind",
    "NearestWeekdayExpression",
    "bounded",
    "expression_kind",
    "nearest_weekday",
    "next_fire_times",
    "parse_schedule_expression",
    "parse_timezone",
]
