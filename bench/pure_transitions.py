"""Pure-interpreter throughput: state transitions per second with no engine, broker or store.

Each scenario compiles one definition with ``parse_machine`` and then drives
``runtime.asl.interpreter.enter``/``complete`` in a tight loop, as the engine does per hop,
on a ~500-byte document with a fixed context object:

- ``pass-plain``  a chain of Pass states, no paths;
- ``pass-paths``  Pass states with InputPath, Parameters (``.$`` paths incl. ``$$``),
  ResultPath and OutputPath;
- ``choice-loop`` a Choice loop: a Pass increments a counter with ``States.MathAdd`` and a
  Choice tests it (each state entered counts as one transition);
- ``task``        Task states: ``enter`` (InputPath + Parameters -> Dispatch) then
  ``complete`` with a service result (ResultSelector + ResultPath); one enter + complete
  pair counts as one transition.

The best of ``--repeats`` runs is reported (the least disturbed by the rest of the machine),
as wall-clock transitions/s and as CPU µs per transition (``time.process_time``), which is
steadier on a shared machine.
The loop also counts jsonpath-ng parses (warm-up included, with the compile caches emptied
after ``parse_machine``): there must be none, which proves that no path is parsed per
transition. The exit status is 1 otherwise::

    .venv/bin/python bench/pure_transitions.py [--duration 4] [--repeats 5] [--states 50]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

if __package__ in (None, ""):  # `python bench/pure_transitions.py`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jsonpath_ng.parser import JsonPathParser

from runtime.asl.interpreter import complete, enter
from runtime.asl.intrinsics import compile_intrinsic
from runtime.asl.model import Machine, parse_machine
from runtime.asl.outcomes import Dispatch, Next, Succeed
from runtime.asl.paths import compile_path

#: What a run function returns: the number of transitions it made.
RunOnce = Callable[[], int]


# ---------------------------------------------------------------- documents


def sample_document() -> dict[str, Any]:
    """The same ~500-byte order document as bench/hop_ceiling.py."""
    return {
        "order": {
            "id": "ord-000042",
            "customer": {"id": "c-1234567", "tier": "gold", "email": "someone@example.com"},
            "lines": [{"sku": f"sku-{i:04d}", "qty": i + 1, "price": 9.99 + i} for i in range(6)],
            "currency": "EUR",
        },
        "payment": {"status": "authorized", "reference": "pay_" + "x" * 24},
        "note": "n" * 40,
    }


def sample_context(state: str = "S0") -> dict[str, Any]:
    """A context object as the engine builds it (built once here: the engine's cost, not ours)."""
    return {
        "Execution": {
            "Id": "arn:aws:states:eu-west-1:123456789012:execution:Orders:7f3c6a1e",
            "Name": "7f3c6a1e",
            "StartTime": "2024-05-01T12:00:00Z",
            "RoleArn": "arn:aws:iam::123456789012:role/statehop",
            "RedriveCount": 0,
        },
        "StateMachine": {"Id": "arn:aws:states:eu-west-1:123456789012:stateMachine:Orders", "Name": "Orders"},
        "State": {"Name": state, "EnteredTime": "2024-05-01T12:00:00Z", "RetryCount": 0},
    }


# ---------------------------------------------------------------- definitions


def _chain(n: int, state: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
    states = {}
    for i in range(n):
        body = state(i)
        if i + 1 < n:
            body["Next"] = f"S{i + 1}"
        else:
            body["End"] = True
        states[f"S{i}"] = body
    return {"StartAt": "S0", "States": states}


def pass_plain(n: int) -> dict[str, Any]:
    return _chain(n, lambda _i: {"Type": "Pass"})


def pass_paths(n: int) -> dict[str, Any]:
    # Input {"payload": P}; output {"payload": Parameters(P)}: the shape is stable along the chain.
    return _chain(
        n,
        lambda _i: {
            "Type": "Pass",
            "InputPath": "$.payload",
            "Parameters": {
                "order.$": "$.order",
                "customer.$": "$.order.customer.id",
                "firstSku.$": "$.order.lines[0].sku",
                "execution.$": "$$.Execution.Id",
                "source": "bench",
                "meta": {"schema": "order/v1", "tags": ["bench", "pure"]},  # a constant sub-template
            },
            "ResultPath": "$.wrapped.payload",
            "OutputPath": "$.wrapped",
        },
    )


def choice_loop(limit: int) -> dict[str, Any]:
    return {
        "StartAt": "Check",
        "States": {
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.counter", "NumericGreaterThanEquals": limit, "Next": "Done"}],
                "Default": "Increment",
            },
            "Increment": {
                "Type": "Pass",
                "Parameters": {"counter.$": "States.MathAdd($.counter, 1)", "data.$": "$.data"},
                "Next": "Check",
            },
            "Done": {"Type": "Succeed"},
        },
    }


def task_chain(n: int) -> dict[str, Any]:
    return _chain(
        n,
        lambda i: {
            "Type": "Task",
            "Resource": f"arn:aws:lambda:eu-west-1:123456789012:function:step-{i}",
            "InputPath": "$.payload",
            "Parameters": {
                "orderId.$": "$.order.id",
                "customer.$": "$.order.customer",
                "options": {"mode": "sync", "retries": [1, 2]},
            },
            "ResultSelector": {"status.$": "$.status", "reference.$": "$.reference"},
            "ResultPath": "$.payload.result",
            "TimeoutSeconds": 30,
        },
    )


SERVICE_RESULT = {"status": "ok", "reference": "ref-0001", "latencyMs": 12, "debug": {"host": "svc-1"}}


# ---------------------------------------------------------------- drivers


def _run_chain(machine: Machine, data: Any, context: Any) -> int:
    """Enter every state of a chain once; return the transitions made."""
    name = machine.start_at
    count = 0
    while True:
        outcome = enter(machine, name, data, context, {})
        count += 1
        if type(outcome) is Next:
            name, data = outcome.state, outcome.output
            continue
        assert isinstance(outcome, Succeed), outcome
        return count


def _run_tasks(machine: Machine, data: Any, context: Any) -> int:
    """Enter + complete every Task of a chain; one pair is one transition."""
    name = machine.start_at
    count = 0
    while True:
        dispatch = enter(machine, name, data, context, {})
        assert type(dispatch) is Dispatch, dispatch
        outcome = complete(machine, name, data, context, dispatch.variables, result=SERVICE_RESULT)
        count += 1
        if type(outcome) is Next:
            name, data = outcome.state, outcome.output
            continue
        assert isinstance(outcome, Succeed), outcome
        return count


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str
    build: Callable[[int], RunOnce]


def _scenarios() -> list[Scenario]:
    def plain(n: int) -> RunOnce:
        machine, doc, ctx = parse_machine(pass_plain(n)), sample_document(), sample_context()
        return lambda: _run_chain(machine, doc, ctx)

    def paths(n: int) -> RunOnce:
        machine, doc, ctx = parse_machine(pass_paths(n)), {"payload": sample_document()}, sample_context()
        return lambda: _run_chain(machine, doc, ctx)

    def choice(n: int) -> RunOnce:
        machine, ctx = parse_machine(choice_loop(n)), sample_context("Check")
        doc = {"counter": 0, "data": sample_document()}
        return lambda: _run_chain(machine, doc, ctx)

    def task(n: int) -> RunOnce:
        machine, doc, ctx = parse_machine(task_chain(n)), {"payload": sample_document()}, sample_context()
        return lambda: _run_tasks(machine, doc, ctx)

    return [
        Scenario("pass-plain", "Pass chain, no paths", plain),
        Scenario("pass-paths", "Pass + InputPath/Parameters/ResultPath/OutputPath", paths),
        Scenario("choice-loop", "Choice + Pass with States.MathAdd", choice),
        Scenario("task", "Task enter->Dispatch, complete (ResultSelector/ResultPath)", task),
    ]


# ---------------------------------------------------------------- measuring


@contextlib.contextmanager
def counting_jsonpath_parses() -> Iterator[list[int]]:
    """Count every jsonpath-ng parse (plain and ``ext``: both go through JsonPathParser.parse)."""
    counter = [0]
    original = JsonPathParser.parse

    def counted(self: Any, string: str, lexer: Any = None) -> Any:
        counter[0] += 1
        return original(self, string, lexer)

    JsonPathParser.parse = counted  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        JsonPathParser.parse = original  # type: ignore[method-assign]


@dataclass(frozen=True)
class Result:
    scenario: Scenario
    rates: list[float]  # transitions per wall-clock second, one per repeat
    cpu_rates: list[float]  # transitions per CPU second of this process, one per repeat
    transitions: int
    parses: int

    @property
    def best(self) -> float:
        return max(self.rates)

    @property
    def best_cpu(self) -> float:
        return max(self.cpu_rates)


def measure(scenario: Scenario, states: int, seconds: float, repeats: int) -> Result:
    """Run ``scenario`` ``repeats`` times for ``seconds`` each, counting parses in the loop.

    The compile caches are emptied after ``parse_machine``, so a path compiled at run time
    (rather than held by the compiled machine) is parsed again and counted.
    """
    run_once = scenario.build(states)
    compile_path.cache_clear()
    compile_intrinsic.cache_clear()
    rates: list[float] = []
    cpu_rates: list[float] = []
    total = 0
    with counting_jsonpath_parses() as parses:
        for _ in range(3):  # warm-up: first-touch caches, lazily imported modules
            run_once()
        for _ in range(repeats):
            count = 0
            start, cpu_start = time.perf_counter(), time.process_time()
            deadline = start + seconds
            while True:
                count += run_once()
                now = time.perf_counter()
                if now >= deadline:
                    break
            rates.append(count / (now - start))
            cpu_rates.append(count / max(time.process_time() - cpu_start, 1e-9))
            total += count
    return Result(scenario, rates, cpu_rates, total, parses[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=4.0, help="total measured seconds (all scenarios)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per scenario; the best is shown")
    parser.add_argument(
        "--states", type=int, default=50, help="states per chain (and the Choice loop's limit)"
    )
    parser.add_argument("--only", action="append", help="run only this scenario (repeatable)")
    args = parser.parse_args(argv)

    scenarios = [s for s in _scenarios() if not args.only or s.name in args.only]
    if not scenarios:
        parser.error(f"no scenario matches {args.only}")
    seconds = args.duration / (len(scenarios) * args.repeats)
    print(
        f"pure interpreter, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{args.states} states per chain, best of {args.repeats} x {seconds:.2f} s"
    )
    print(
        f"{'scenario':<12} {'transitions/s':>14} {'µs/transition':>14} {'median/s':>10} "
        f"{'CPU µs/tr':>10} {'parses':>7}  what"
    )
    failed = False
    for scenario in scenarios:
        r = measure(scenario, args.states, seconds, args.repeats)
        median = sorted(r.rates)[len(r.rates) // 2]
        print(
            f"{scenario.name:<12} {r.best:>14,.0f} {1e6 / r.best:>14.1f} {median:>10,.0f} "
            f"{1e6 / r.best_cpu:>10.1f} {r.parses:>7}  {scenario.what}"
        )
        failed = failed or r.parses != 0
    verdict = "SOME: a path is parsed per transition!" if failed else "none (all compiled by parse_machine)"
    print(f"jsonpath-ng parses during the measured loops: {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
