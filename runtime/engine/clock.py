"""Time as the engine sees it: the wall clock, or a virtual clock that time-skipping advances."""

from __future__ import annotations

import time


class Clock:
    """Wall-clock time in epoch seconds."""

    virtual = False

    def now(self) -> float:
        return time.time()


class VirtualClock(Clock):
    """Starts at the wall clock and only moves forward when a due timer is fired early."""

    virtual = True

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._base = time.monotonic()

    def now(self) -> float:
        # Real time still flows between skips, so durations measured inside a run stay sane.
        return self._now + (time.monotonic() - self._base)

    def advance_to(self, when: float) -> None:
        current = self.now()
        if when > current:
            self._now += when - current
