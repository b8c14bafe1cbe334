"""What the interpreter returns: outcomes as values, never I/O.

The engine turns each outcome into hops, task messages, timers and history events. Every
outcome carries the variables in scope after the state (``variables``), because variables
travel with the execution from hop to hop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Variables = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Next:
    """Continue at ``state`` with ``output`` as its input."""

    state: str
    output: Any
    variables: Variables = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Succeed:
    """The (sub-)machine ended well with ``output``."""

    output: Any
    variables: Variables = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Fail:
    """The (sub-)machine ended with an error nobody caught."""

    error: str
    cause: str
    variables: Variables = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Retry:
    """Run ``state`` again on the same ``input`` after ``delay`` seconds (a timer, not a sleep).

    ``retries`` holds the attempts used so far per retrier, in the order of the Retry field.
    """

    state: str
    input: Any
    delay: float
    retries: tuple[int, ...]
    error: str
    cause: str
    variables: Variables = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Dispatch:
    """A Task: hand ``payload`` to ``resource``; the answer comes back through ``complete``."""

    state: str
    resource: str
    payload: Any
    timeout_seconds: float | None
    heartbeat_seconds: float | None
    credentials: Any = None
    variables: Variables = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Delay:
    """A Wait state: continue with ``then`` at ``until`` (epoch seconds, UTC)."""

    state: str
    until: float
    then: Next | Succeed
    variables: Variables = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Fork:
    """Parallel or Map: run ``inputs[i]`` through branch ``branches[i]``; join in order.

    For Parallel, ``branches`` has one entry per branch; for Map every item runs the same
    processor, so ``branches`` has one entry and ``inputs`` one per item (already passed
    through ItemSelector/Parameters and ItemBatcher).
    """

    state: str
    kind: str  # "parallel" | "map"
    inputs: list[Any]
    max_concurrency: int  # 0 = unbounded
    tolerated_failure_count: int | None = None
    tolerated_failure_percentage: float | None = None
    variables: Variables = field(default_factory=dict)


Outcome = Next | Succeed | Fail | Retry | Dispatch | Delay | Fork
