"""``statehop schedule ...``: manage schedule triggers (EventBridge Scheduler style).

    statehop schedule create nightly --expression 'cron(0 2 * * ? *)' --timezone Europe/Paris \\
        --target arn:aws:states:...:stateMachine:report --input '{"full": true}' \\
        --start-date 2026-01-01T00:00:00Z --end-date 2026-12-31T23:59:59Z --flexible-window 15 \\
        --max-retry-attempts 3 --max-event-age 3600 \\
        --dead-letter-arn arn:aws:sqs:us-east-1:123456789012:nightly-dlq
    statehop schedule list | get NAME | update NAME ... | enable NAME | disable NAME | delete NAME
    statehop schedule dead-letters NAME [--purge]
    statehop schedule preview 'rate(5 minutes)' --count 3

The schedules live in the database (STATEHOP_DATABASE_URL); the scheduler role fires them.
Exit codes: 0 done, 1 not found or already exists, 2 invalid expression or field.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from runtime.scheduler import schedules
from runtime.scheduler.errors import ScheduleAlreadyExists, ScheduleNotFound, ScheduleValidationError

#: the option that sets each AWS field, to point at it in an error
FLAGS = {
    "StartDate": "--start-date",
    "EndDate": "--end-date",
    "FlexibleTimeWindow.MaximumWindowInMinutes": "--flexible-window",
    "ActionAfterCompletion": "--action-after-completion",
    "Target.RetryPolicy.MaximumRetryAttempts": "--max-retry-attempts",
    "Target.RetryPolicy.MaximumEventAgeInSeconds": "--max-event-age",
    "Target.DeadLetterConfig.Arn": "--dead-letter-arn",
}
DATE_HELP = "ISO 8601 (2026-12-31T23:59:59Z; UTC without an offset) or epoch seconds"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("schedule", help="manage schedule triggers: cron(...), rate(...), at(...)")
    ops = p.add_subparsers(dest="op", required=True)

    def target_flags(q: argparse.ArgumentParser, required: bool) -> None:
        q.add_argument(
            "--expression", required=required, help="cron(0 12 * * ? *) | rate(5 minutes) | at(...)"
        )
        q.add_argument(
            "--target", required=required, help="the state machine (or version/alias) ARN to start"
        )
        src = q.add_mutually_exclusive_group()
        src.add_argument("--input", help="the executions' input, JSON")
        src.add_argument("--input-file", help="a file holding the input JSON")
        q.add_argument("--timezone", help="IANA time zone for cron/at (default UTC)")
        q.add_argument("--description")
        q.add_argument("--start-date", help=f"StartDate: no firing before ({DATE_HELP}; ignored by at())")
        q.add_argument("--end-date", help=f"EndDate: no firing after ({DATE_HELP}; ignored by at())")
        q.add_argument(
            "--flexible-window",
            metavar="MINUTES|OFF",
            help="FlexibleTimeWindow: start each firing a random delay within this many minutes "
            "(1-1440), or OFF (default)",
        )
        q.add_argument(
            "--action-after-completion",
            metavar="NONE|DELETE",
            help="ActionAfterCompletion: DELETE removes the schedule after its last firing",
        )
        q.add_argument(
            "--max-retry-attempts",
            type=int,
            metavar="N",
            help="RetryPolicy.MaximumRetryAttempts: retries of a failed start, 0-185 (default 185)",
        )
        q.add_argument(
            "--max-event-age",
            type=int,
            metavar="SECONDS",
            help="RetryPolicy.MaximumEventAgeInSeconds: no retry later than this after the first "
            "attempt, 60-86400 (default 86400)",
        )
        q.add_argument(
            "--dead-letter-arn",
            metavar="ARN",
            help="DeadLetterConfig.Arn (arn:aws:sqs:<region>:<account>:<queue>): failed firings are "
            "also published to broker queue <queue>",
        )

    c = ops.add_parser("create", help="create a schedule")
    c.add_argument("name")
    target_flags(c, required=True)
    c.add_argument("--disabled", action="store_true", help="create it DISABLED")
    c.add_argument("--dry-run", action="store_true", help="only print the next firing times")
    u = ops.add_parser("update", help="change the given fields of a schedule")
    u.add_argument("name")
    target_flags(u, required=False)
    u.add_argument("--no-start-date", action="store_true", help="remove the StartDate")
    u.add_argument("--no-end-date", action="store_true", help="remove the EndDate")
    u.add_argument("--no-dead-letter", action="store_true", help="remove the DeadLetterConfig")
    for op in ("get", "enable", "disable", "delete"):
        ops.add_parser(op, help=f"{op} a schedule").add_argument("name")
    dl = ops.add_parser("dead-letters", help="list the firings of a schedule that were given up on")
    dl.add_argument("name")
    dl.add_argument("--limit", type=int, default=100)
    dl.add_argument("--next-token")
    dl.add_argument("--purge", action="store_true", help="delete them instead of listing them")
    ls = ops.add_parser("list", help="list schedules")
    ls.add_argument("--prefix")
    ls.add_argument("--state", choices=["ENABLED", "DISABLED"])
    ls.add_argument("--limit", type=int, default=100)
    ls.add_argument("--next-token")
    pv = ops.add_parser("preview", help="print the next firing times of an expression")
    pv.add_argument("expression")
    pv.add_argument("--timezone", default="UTC")
    pv.add_argument("--count", type=int, default=5)
    pv.add_argument("--start-date", help=f"StartDate ({DATE_HELP})")
    pv.add_argument("--end-date", help=f"EndDate ({DATE_HELP})")
    p.set_defaults(func=run)


def _input(args: argparse.Namespace) -> str | None:
    text: str | None
    if getattr(args, "input_file", None):
        with open(args.input_file, encoding="utf-8") as f:
            text = f.read()
    else:
        text = getattr(args, "input", None)
    if text is None:
        return None
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScheduleValidationError(f"--input is not valid JSON: {exc.msg} at column {exc.colno}") from None
    return text


def _window(text: str) -> int | None:
    """``--flexible-window``: OFF, or minutes (range checked by the schedules module)."""
    if text.strip().upper() == "OFF":
        return None
    if not text.strip().isdigit():
        raise ScheduleValidationError.of(
            "FlexibleTimeWindow.MaximumWindowInMinutes",
            f"{text!r} is not a number of minutes",
            "1 to 1440 minutes, or OFF",
        )
    return int(text)


def _options(args: argparse.Namespace, *, update: bool) -> dict[str, Any]:
    """The EventBridge fields given on the command line, as schedules-API keywords (on update,
    only those given: the rest stay as they are)."""
    out: dict[str, Any] = {}
    for flag, key in (("start_date", "start_date"), ("end_date", "end_date")):
        if getattr(args, flag) is not None:
            out[key] = getattr(args, flag)
        elif update and getattr(args, f"no_{flag}"):
            out[key] = None
    if args.flexible_window is not None:
        out["flexible_window"] = _window(args.flexible_window)
    if args.action_after_completion is not None:
        out["action_after_completion"] = args.action_after_completion.upper()
    if args.max_retry_attempts is not None:
        out["maximum_retry_attempts"] = args.max_retry_attempts
    if args.max_event_age is not None:
        out["maximum_event_age"] = args.max_event_age
    if args.dead_letter_arn is not None:
        out["dead_letter_arn"] = args.dead_letter_arn
    elif update and args.no_dead_letter:
        out["dead_letter_arn"] = None
    return out


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


async def _run(args: argparse.Namespace) -> int:
    from runtime.config import Settings

    url = Settings().database_url
    op = args.op
    if op == "preview":
        for when in schedules.preview_schedule(
            args.expression, args.timezone, args.count, start_date=args.start_date, end_date=args.end_date
        ):
            print(when.isoformat())
        return 0
    if op == "create":
        if args.dry_run:
            for when in schedules.preview_schedule(
                args.expression, args.timezone or "UTC", 5, start_date=args.start_date, end_date=args.end_date
            ):
                print(when.isoformat())
            return 0
        created = await schedules.create_schedule(
            url,
            args.name,
            args.expression,
            args.target,
            input=_input(args) or "{}",
            timezone=args.timezone or "UTC",
            state="DISABLED" if args.disabled else "ENABLED",
            description=args.description or "",
            **_options(args, update=False),
        )
        _print(created.to_json())
    elif op == "update":
        updated = await schedules.update_schedule(
            url,
            args.name,
            expression=args.expression,
            state_machine_arn=args.target,
            input=_input(args),
            timezone=args.timezone,
            description=args.description,
            **_options(args, update=True),
        )
        _print(updated.to_json())
    elif op == "dead-letters":
        if args.purge:
            _print({"Deleted": await schedules.purge_dead_letters(url, args.name)})
        else:
            letters, token = await schedules.list_dead_letters(
                url, args.name, limit=args.limit, next_token=args.next_token
            )
            _print({"DeadLetters": [d.to_json() for d in letters], **({"NextToken": token} if token else {})})
    elif op == "get":
        _print((await schedules.get_schedule(url, args.name)).to_json())
    elif op == "enable":
        _print((await schedules.enable_schedule(url, args.name)).to_json())
    elif op == "disable":
        _print((await schedules.disable_schedule(url, args.name)).to_json())
    elif op == "delete":
        await schedules.delete_schedule(url, args.name)
    elif op == "list":
        items, token = await schedules.list_schedules(
            url, name_prefix=args.prefix, state=args.state, limit=args.limit, next_token=args.next_token
        )
        _print({"Schedules": [s.to_json() for s in items], **({"NextToken": token} if token else {})})
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(args))
    except ScheduleValidationError as exc:
        flag = FLAGS.get(exc.field or "")
        print(f"statehop schedule {args.op}: {exc}{f' (option {flag})' if flag else ''}", file=sys.stderr)
        return 2
    except (ScheduleNotFound, ScheduleAlreadyExists) as exc:
        print(f"statehop schedule {args.op}: {exc}", file=sys.stderr)
        return 1
