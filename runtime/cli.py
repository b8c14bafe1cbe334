"""The ``statehop`` command line.

statehop validate FILE...              every problem, with a JSON pointer; exit 1 on any error
statehop run FILE --input JSON         one execution in-process on the embedded default
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SystemExit(f"statehop: cannot read {path}: {exc.strerror}") from None


def cmd_validate(args: argparse.Namespace) -> int:
    from runtime.asl.validator import validate_text

    worst = EXIT_OK
    report: list[dict[str, Any]] = []
    for path in args.files:
        problems = validate_text(_read(path))
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            worst = EXIT_FAILED
        if args.format == "json":
            report.append(
                {
                    "file": path,
                    "valid": not errors,
                    "problems": [
                        {
                            "pointer": p.pointer or "/",
                            "rule": p.rule,
                            "severity": p.severity,
                            "message": p.message,
                            "hint": p.hint,
                        }
                        for p in problems
                    ],
                }
            )
            continue
        if not problems:
            print(f"{path}: OK")
            continue
        print(f"{path}: {len(errors)} error(s), {len(problems) - len(errors)} warning(s)")
        for p in problems:
            print(f"  {p.severity.upper():7} {p.pointer or '/'}  [{p.rule}]")
            print(f"          {p.message}")
            if p.hint:
                print(f"          fix: {p.hint}")
    if args.format == "json":
        print(json.dumps(report, indent=2))
    return worst


def _input(args: argparse.Namespace) -> Any:
    text = args.input if args.input is not None else (_read(args.input_file) if args.input_file else "{}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = args.input_file or "--input"
        raise SystemExit(
            f"statehop: {where} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None


def cmd_run(args: argparse.Namespace) -> int:
    from runtime.asl.errors import DefinitionError
    from runtime.asl.model import parse_machine
    from runtime.embedded import HandlerSpecError, parse_service_specs, run_definition

    text = _read(args.file)
    try:
        parse_machine(text)
    except DefinitionError as exc:
        if args.format == "json":
            print(
                json.dumps(
                    {"status": "INVALID_DEFINITION", "error": "States.InvalidDefinition", "cause": str(exc)}
                )
            )
        else:
            print(f"{args.file}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    data = _input(args)
    try:
        services = parse_service_specs(args.service or [])
    except HandlerSpecError as exc:
        raise SystemExit(f"statehop: {exc}") from None
    resource_map: dict[str, str] = {}
    if args.resource_map:
        loaded = json.loads(_read(args.resource_map))
        for resource, target in loaded.items():
            if ":" in target and "=" not in target and not target.startswith("arn:"):
                services.setdefault(resource, parse_service_specs([f"{resource}={target}"])[resource])
            else:
                resource_map[resource] = target
    name = Path(args.file).name.split(".")[0] or "machine"
    result = asyncio.run(
        run_definition(
            text,
            data,
            services=services,
            resource_map=resource_map,
            time_skip=args.time_skip,
            name=name,
            execution_type=args.type,
            timeout=args.timeout,
        )
    )
    if args.format == "json":
        print(json.dumps(result.to_json()))
    else:
        print(f"status: {result.status}")
        if result.status == "SUCCEEDED":
            print("output:")
            print(json.dumps(result.output, indent=2))
        else:
            print(f"error:  {result.error}")
            print(f"cause:  {result.cause}")
    return EXIT_OK if result.status == "SUCCEEDED" else EXIT_FAILED


def _run_loop(main: Any) -> Any:
    """Run a role on uvloop where it is installed (less CPU per hop), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def _role(name: str) -> Any:
    def run(args: argparse.Namespace) -> int:
        from pydantic import ValidationError

        from runtime.config import Settings

        try:
            settings = Settings()
        except ValidationError as exc:
            print(f"statehop {name}: invalid configuration:\n{exc}", file=sys.stderr)
            return EXIT_USAGE
        from runtime import telemetry

        telemetry.setup(
            name,
            log_format=settings.log_format,
            log_level=settings.log_level,
            metrics_port=settings.metrics_port,
        )
        if name == "worker":
            from runtime.roles import run_worker as role
        elif name == "scheduler":
            from runtime.scheduler.role import run_scheduler as role
        elif name == "api":
            from runtime.roles import run_api as role
        else:
            from runtime.roles import run_serve as role
        return int(_run_loop(role(settings)))

    return run


def cmd_migrate(args: argparse.Namespace) -> int:
    """Bring the store's schema up to date (every role also does this on start)."""
    from runtime.config import Settings
    from runtime.store.migrations import current_revision, upgrade

    url = Settings().database_url
    upgrade(url)
    print(f"schema at revision {current_revision(url)}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="statehop", description="Run AWS Step Functions state machines anywhere."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    v = sub.add_parser("validate", help="check definitions; print every problem with a JSON pointer")
    v.add_argument("files", nargs="+", metavar="FILE")
    v.add_argument("--format", choices=["text", "json"], default="text")
    v.set_defaults(func=cmd_validate)

    r = sub.add_parser("run", help="run one execution in-process (embedded: no servers needed)")
    r.add_argument("file", metavar="FILE")
    src = r.add_mutually_exclusive_group()
    src.add_argument("--input", help="the execution input as JSON text (default {})")
    src.add_argument("--input-file", help="a file holding the execution input as JSON")
    r.add_argument("--format", choices=["json", "text"], default="text")
    r.add_argument(
        "--time-skip", action="store_true", help="fire Waits and retry back-off at once (virtual time)"
    )
    r.add_argument(
        "--service",
        action="append",
        metavar="NAME=module:function",
        help="run Tasks whose resource names NAME with this Python function (repeatable)",
    )
    r.add_argument(
        "--resource-map", metavar="FILE", help="JSON object: resource -> service name, or -> module:function"
    )
    r.add_argument("--type", choices=["STANDARD", "EXPRESS"], default="STANDARD")
    r.add_argument("--timeout", type=float, default=None, help="give up waiting after this many seconds")
    r.set_defaults(func=cmd_run)

    from runtime.scheduler.cli import add_parser as add_schedule_parser

    add_schedule_parser(sub)

    m = sub.add_parser("migrate", help="bring the database schema up to date (STATEHOP_DATABASE_URL)")
    m.set_defaults(func=cmd_migrate)

    for role, text in (
        ("worker", "consume hops and task replies (run N replicas)"),
        ("scheduler", "fire durable timers and schedules (one leader, standbys take over)"),
        ("api", "the Step Functions API (AWS JSON 1.0), the REST view and health checks"),
        ("serve", "every role in one process; embedded when no URLs are configured"),
    ):
        p = sub.add_parser(
            role,
            help=text,
            description=f"{text}. Configured by STATEHOP_* environment "
            "variables or the file named by STATEHOP_CONFIG.",
        )
        p.set_defaults(func=_role(role))
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
