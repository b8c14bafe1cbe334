"""A synchronous driver for the pure interpreter, for table-driven tests only.

It plays the engine's part in the simplest way (services called inline, timers skipped,
branches run one after another) so ASL semantics can be checked in microseconds. The product
runs the same interpreter through runtime.engine; this file is not used there.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from runtime.asl.errors import StatesError
from runtime.asl.interpreter import complete, enter, exceeded_error, tolerance_exceeded
from runtime.asl.model import Machine, parse_machine
from runtime.asl.outcomes import Delay, Dispatch, Fail, Fork, Next, Outcome, Retry, Succeed, Variables

START = 1_700_000_000.0


def load_services(spec: dict[str, str]) -> dict[str, Callable[[Any], Any]]:
    out = {}
    for resource, target in spec.items():
        module, _, attr = target.partition(":")
        out[resource] = getattr(importlib.import_module(module), attr)
    return out


class Driver:
    def __init__(
        self, definition: Any, services: dict[str, Callable[[Any], Any]] | None = None, validate: bool = True
    ) -> None:
        self.machine = parse_machine(definition, validate=validate)
        self.services = services or {}
        self.now = START
        self.dispatched: list[tuple[str, Any]] = []
        self.max_in_flight = 0

    def context(self, name: str, retries: tuple[int, ...], extra: dict[str, Any]) -> dict[str, Any]:
        ctx = {
            "Execution": {
                "Id": "arn:aws:states:us-east-1:123456789012:execution:test:run-1",
                "Name": "run-1",
                "Input": self.input,
                "StartTime": "2023-11-14T22:13:20Z",
                "RoleArn": "arn:aws:iam::123456789012:role/statehop",
                "RedriveCount": 0,
            },
            "StateMachine": {"Id": "arn:aws:states:us-east-1:123456789012:stateMachine:test", "Name": "test"},
            "State": {"Name": name, "EnteredTime": "2023-11-14T22:13:20Z", "RetryCount": sum(retries)},
        }
        ctx.update(extra)
        return ctx

    def run(self, data: Any) -> dict[str, Any]:
        self.input = data
        outcome = self._run(self.machine, data, {}, {})
        if isinstance(outcome, Succeed):
            return {"status": "SUCCEEDED", "output": outcome.output}
        assert isinstance(outcome, Fail)
        return {"status": "FAILED", "error": outcome.error, "cause": outcome.cause}

    def _run(
        self, machine: Machine, data: Any, variables: Variables, extra: dict[str, Any]
    ) -> Succeed | Fail:
        name = machine.start_at
        retries: tuple[int, ...] = ()
        outcome: Outcome = enter(
            machine, name, data, self.context(name, retries, extra), variables, now=self.now, retries=retries
        )
        while True:
            if isinstance(outcome, Succeed | Fail):
                return outcome
            if isinstance(outcome, Next):
                name, data, variables, retries = outcome.state, outcome.output, outcome.variables, ()
                outcome = enter(
                    machine, name, data, self.context(name, retries, extra), variables, now=self.now
                )
            elif isinstance(outcome, Retry):
                self.now += outcome.delay
                retries = outcome.retries
                outcome = enter(
                    machine,
                    name,
                    outcome.input,
                    self.context(name, retries, extra),
                    outcome.variables,
                    now=self.now,
                    retries=retries,
                )
            elif isinstance(outcome, Delay):
                self.now = max(self.now, outcome.until)
                outcome = outcome.then
            elif isinstance(outcome, Dispatch):
                outcome = self._dispatch(machine, name, data, variables, retries, extra, outcome)
            elif isinstance(outcome, Fork):
                outcome = self._fork(machine, name, data, variables, retries, extra, outcome)
            else:  # pragma: no cover
                raise AssertionError(outcome)

    def _dispatch(
        self,
        machine: Machine,
        name: str,
        data: Any,
        variables: Variables,
        retries: tuple[int, ...],
        extra: dict[str, Any],
        d: Dispatch,
    ) -> Outcome:
        self.dispatched.append((d.resource, d.payload))
        ctx = self.context(name, retries, extra)
        fn = self.services.get(d.resource)
        if fn is None:
            err = StatesError("States.Runtime", f"No service is mapped to the resource '{d.resource}'")
            return complete(machine, name, data, ctx, variables, error=err, retries=retries)
        try:
            result = fn(d.payload)
        except StatesError as err:
            return complete(machine, name, data, ctx, variables, error=err, retries=retries)
        except Exception as exc:
            err = StatesError(type(exc).__name__, str(exc))
            return complete(machine, name, data, ctx, variables, error=err, retries=retries)
        return complete(machine, name, data, ctx, variables, result=result, retries=retries)

    def _fork(
        self,
        machine: Machine,
        name: str,
        data: Any,
        variables: Variables,
        retries: tuple[int, ...],
        extra: dict[str, Any],
        f: Fork,
    ) -> Outcome:
        ctx = self.context(name, retries, extra)
        results: list[Any] = []
        failed = 0
        window = f.max_concurrency or len(f.inputs)
        self.max_in_flight = max(self.max_in_flight, min(window, len(f.inputs)))
        for i, item in enumerate(f.inputs):
            sub = machine.sub(f"{name}/{i}")
            end = self._run(sub, item, dict(f.variables), extra)
            if isinstance(end, Succeed):
                results.append(end.output)
                continue
            tolerant = f.tolerated_failure_count is not None or f.tolerated_failure_percentage is not None
            if f.kind == "parallel" or not tolerant:
                return complete(
                    machine,
                    name,
                    data,
                    ctx,
                    variables,
                    error=StatesError(end.error, end.cause),
                    retries=retries,
                )
            failed += 1
            results.append({"Error": end.error, "Cause": end.cause})
            if tolerance_exceeded(
                failed, len(f.inputs), f.tolerated_failure_count, f.tolerated_failure_percentage
            ):
                return complete(machine, name, data, ctx, variables, error=exceeded_error(), retries=retries)
        return complete(machine, name, data, ctx, variables, result=results, retries=retries)


def run(
    definition: Any, data: Any, services: dict[str, str] | None = None, validate: bool = True
) -> dict[str, Any]:
    return Driver(definition, load_services(services or {}), validate=validate).run(data)
