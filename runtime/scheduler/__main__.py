"""``python -m runtime.scheduler``: one scheduler replica configured from STATEHOP_* variables.

The same as ``statehop scheduler``; kept here so tests and benchmarks can run a replica in a
subprocess (and SIGKILL it) without depending on the CLI. Prints ``READY`` on stdout once it
consumes the ``timers`` queue; leadership changes are logged on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from runtime.config import Settings
from runtime.scheduler.role import SchedulerOptions, run_scheduler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime.scheduler", description=__doc__)
    parser.add_argument("--lease", type=float, help="seconds a fired job stays claimed")
    parser.add_argument("--poll-interval", type=float, help="seconds between looks for due jobs")
    parser.add_argument("--lock-retry", type=float, help="seconds between a standby's lock attempts")
    parser.add_argument("--lock-check", type=float, help="seconds between the leader's lock checks")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    overrides = {k: v for k, v in vars(args).items() if k != "log_level" and v is not None}
    options = SchedulerOptions.from_env(**overrides)

    async def run() -> int:
        ready = asyncio.Event()

        async def announce() -> None:
            await ready.wait()
            print("READY", flush=True)

        task = asyncio.create_task(announce())
        try:
            return await run_scheduler(Settings(), ready, options=options)
        finally:
            task.cancel()

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
