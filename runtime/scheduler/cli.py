"""``statehop schedule ...``: manage schedule triggers (EventBridge Scheduler style).

    statehop schedule create nightly --expression 'cron(0 2 * * ? *)' --timezone Europe/Paris \\
        --target arn:aws:states:...:stateMachine:report --input '{"full": true}'
    statehop schedule list | get NAME | update NAME ... | enable NAME | disable NAME | delete NAME
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

    c = ops.add_parser("create", help="create a schedule")
    c.add_argument("name")
    target_flags(c, required=True)
    c.add_argument("--disabled", action="store_true", help="create it DISABLED")
    c.add_argument("--dry-run", action="store_true", help="only print the next firing times")
    u = ops.add_parser("update", help="change the given fields of a schedule")
    u.add_argument("name")
    target_flags(u, required=False)
    for op in ("get", "enable", "disable", "delete"):
        ops.add_parser(op, help=f"{op} a schedule").add_argument("name")
    ls = ops.add_parser("list", help="list schedules")
    ls.add_argument("--prefix")
    ls.add_argument("--state", choices=["ENABLED", "DISABLED"])
    ls.add_argument("--limit", type=int, default=100)
    ls.add_argument("--next-token")
    pv = ops.add_parser("preview", help="print the next firing times of an expression")
    pv.add_argument("expression")
    pv.add_argument("--timezone", default="UTC")
    pv.add_argument("--count", type=int, default=5)
    p.set_defaults(func=run)


def _input(args: argparse.Namespace) -> str | None:
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


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


async def _run(args: argparse.Namespace) -> int:
    from runtime.config import Settings

    url = Settings().database_url
    op = args.op
    if op == "preview":
        for when in schedules.preview_schedule(args.expression, args.timezone, args.count):
            print(when.isoformat())
        return 0
    if op == "create":
        if args.dry_run:
            for when in schedules.preview_schedule(args.expression, args.timezone or "UTC", 5):
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
        )
        _print(updated.to_json())
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
        print(f"statehop schedule {args.op}: {exc}", file=sys.stderr)
        return 2
    except (ScheduleNotFound, ScheduleAlreadyExists) as exc:
        print(f"statehop schedule {args.op}: {exc}", file=sys.stderr)
        return 1
