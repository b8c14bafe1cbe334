"""TestState: run one state through the pure interpreter, with no execution and no I/O.

The interpreter is a pure function of (state, input, context, variables), so testing a state
is calling it once. A Task, Parallel or Map state needs a ``mock`` (a result or an error):
StateHop never calls a service from TestState. Inspection data is rebuilt from the compiled
state (InputPath, Parameters, ResultSelector, ResultPath) for JSONPath states, and the
Arguments for JSONata ones.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import orjson

from runtime.api.errors import ApiError, definition_message
from runtime.api.service import ApiContext, Handler, Params, Result, drop_none, parse_json
from runtime.asl import interpreter
from runtime.asl.errors import DefinitionError, StateHopError, StatesError
from runtime.asl.model import Machine, PassState, ResultState, State, parse_machine
from runtime.asl.outcomes import Delay, Dispatch, Fail, Fork, Next, Outcome, Retry, Succeed
from runtime.asl.validator import validate_definition
from runtime.engine.context import iso

TEST_MACHINE = "TestStateMachine"
TEST_EXECUTION = "test-state"
_NOTHING: Any = object()


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _targets(raw: dict[str, Any]) -> set[str]:
    names = {raw.get("Next"), raw.get("Default")}
    names |= {c.get("Next") for c in raw.get("Choices", ()) if isinstance(c, dict)}
    names |= {c.get("Next") for c in raw.get("Catch", ()) if isinstance(c, dict)}
    return {n for n in names if isinstance(n, str)}


def _machine_definition(raw: Any, state_name: str | None) -> tuple[dict[str, Any], str]:
    """A whole machine to compile, and the state to test in it."""
    if not isinstance(raw, dict):
        raise ApiError(
            "InvalidDefinition", "Invalid State Machine Definition: the definition must be an object"
        )
    if "States" in raw:
        name = state_name or raw.get("StartAt")
        if not isinstance(name, str) or name not in raw.get("States", {}):
            raise ApiError("ValidationException", f"stateName {name!r} is not a state of the definition")
        return raw, name
    name = state_name or "TestState"
    states: dict[str, Any] = {name: raw}
    for target in _targets(raw) - {name}:  # AWS tests a state alone: its targets need not exist
        states[target] = {"Type": "Succeed"}
    return {"StartAt": name, "States": states}, name


def _compile(definition: dict[str, Any]) -> Machine:
    errors = [p for p in validate_definition(definition) if p.severity == "error"]
    if errors:
        raise ApiError("InvalidDefinition", definition_message(errors))
    try:
        return parse_machine(definition, validate=False)
    except DefinitionError as exc:
        raise ApiError("InvalidDefinition", definition_message(exc.problems)) from None
    except StateHopError as exc:
        raise ApiError("InvalidDefinition", f"Invalid State Machine Definition: '{exc}'") from None


def _context(ctx: ApiContext, p: Params, name: str, data: Any, state: State, retry_count: int) -> Any:
    started = iso(time.time())
    context: dict[str, Any] = {
        "Execution": {
            "Id": ctx.arns.execution(TEST_MACHINE, TEST_EXECUTION),
            "Input": data,
            "Name": TEST_EXECUTION,
            "RoleArn": p.get("roleArn") or "",
            "StartTime": started,
            "RedriveCount": 0,
        },
        "State": {"Name": name, "EnteredTime": started, "RetryCount": retry_count},
        "StateMachine": {"Id": ctx.arns.state_machine(TEST_MACHINE), "Name": TEST_MACHINE},
    }
    if state.type == "Task":
        context["Task"] = {"Token": "TestStateTaskToken"}
    given = parse_json(p.get("context"), "TestState", "context", "null")
    if isinstance(given, dict):
        for key, value in given.items():
            if isinstance(value, dict) and isinstance(context.get(key), dict):
                context[key] = {**context[key], **value}
            else:
                context[key] = value
    return context


def _retries(state: State, error: str | None, count: int) -> tuple[int, ...]:
    """``retrierRetryCount`` placed on the retrier the (mocked) error would match."""
    if not count or error is None or not isinstance(state, ResultState):
        return ()
    for i, retrier in enumerate(state.retry):
        if interpreter.error_matches(retrier.errors, error):
            return (0,) * i + (count,)
    return ()


def _without_handlers(machine: Machine, name: str) -> Machine:
    state = machine.states[name]
    bare = dataclasses.replace(state, retry=(), catch=()) if isinstance(state, ResultState) else state
    return dataclasses.replace(machine, states={**machine.states, name: bare})


def _inspect(state: State, data: Any, context: Any, variables: Any, first: Outcome, result: Any) -> Result:
    """DEBUG inspection data, best effort: a step that fails here already failed the state."""
    out: Result = {"input": _dumps(data)}
    try:
        if state.jsonata:
            if isinstance(first, Dispatch):
                out["afterArguments"] = _dumps(first.payload)
            return out
        effective = data
        if state.input_discard:
            effective = {}
        elif state.input_path is not None:
            effective = state.input_path.resolve(data, context, variables)
        out["afterInputPath"] = _dumps(effective)
        payload = effective
        if isinstance(first, Dispatch):
            payload = first.payload
        elif isinstance(state, ResultState) and state.parameters is not None:
            payload = state.parameters.render(effective, context, variables)
        if isinstance(state, ResultState):
            out["afterParameters"] = _dumps(payload)
            if isinstance(state, PassState):
                result = state.result if state.has_result else payload
            if result is _NOTHING:
                return out
            out["result"] = _dumps(result)
            selected = result
            if state.result_selector is not None:
                selected = state.result_selector.render(result, context, variables)
            out["afterResultSelector"] = _dumps(selected)
            if state.result_discard:
                after = data
            elif state.result_path is None:
                after = selected
            else:
                after = state.result_path.set(data, selected)
            out["afterResultPath"] = _dumps(after)
    except Exception:
        pass
    return out


async def run_test_state(ctx: ApiContext, p: Params) -> Result:
    try:
        raw = orjson.loads(p["definition"])
    except orjson.JSONDecodeError as exc:
        raise ApiError(
            "InvalidDefinition", f"Invalid State Machine Definition: not valid JSON: {exc}"
        ) from None
    definition, name = _machine_definition(raw, p.get("stateName"))
    machine = _compile(definition)
    state = machine.states[name]
    data = parse_json(p.get("input"), "TestState", "input")
    variables = parse_json(p.get("variables"), "TestState", "variables")
    if not isinstance(variables, dict):
        raise ApiError("ValidationException", "variables must be a JSON object")
    mock = p.get("mock") or {}
    mock_error = mock.get("errorOutput")
    config = p.get("stateConfiguration") or {}
    error_name = mock_error.get("error", "") if mock_error else None
    retries = _retries(state, error_name, int(config.get("retrierRetryCount") or 0))
    context = _context(ctx, p, name, data, state, sum(retries))
    clock = time.time()

    def run(target: Machine) -> tuple[Outcome, Outcome, Any]:
        """(first outcome, final outcome, mocked result) of the state in ``target``."""
        first = interpreter.enter(target, name, data, context, variables, now=clock, retries=retries)
        if not isinstance(first, Dispatch | Fork):
            return first, first, _NOTHING
        if mock_error:
            failure = StatesError(mock_error.get("error", ""), mock_error.get("cause", ""))
            final = interpreter.complete(
                target, name, data, context, variables, error=failure, retries=retries
            )
            return first, final, _NOTHING
        if mock.get("result") is None:
            raise ApiError(
                "ValidationException",
                f"TestState of a {state.type} state needs a mock (mock.result or mock.errorOutput): "
                "StateHop does not call services from TestState",
            )
        result = parse_json(mock["result"], "TestState", "mock")
        final = interpreter.complete(target, name, data, context, variables, result=result, retries=retries)
        return first, final, result

    first, outcome, result = run(machine)
    if isinstance(outcome, Delay):  # a Wait: tested without waiting
        outcome = outcome.then
    error = None
    if mock_error and isinstance(first, Dispatch | Fork):
        error = StatesError(mock_error.get("error", ""), mock_error.get("cause", ""))
    handled = isinstance(state, ResultState) and bool(state.retry or state.catch)
    if error is None and handled and isinstance(outcome, Next | Retry | Fail):
        bare = run(_without_handlers(machine, name))[1]  # the error a Retry/Catch took, if any
        if isinstance(bare, Fail):
            error = StatesError(bare.error, bare.cause)

    response: Result = {}
    inspection: Result = {}
    if isinstance(outcome, Succeed):
        response.update(status="SUCCEEDED", output=_dumps(outcome.output))
    elif isinstance(outcome, Next):
        response.update(output=_dumps(outcome.output), nextState=outcome.state)
        if error is not None and isinstance(state, ResultState):
            response.update(status="CAUGHT_ERROR", error=error.error, cause=error.cause)
            index = next(
                (i for i, c in enumerate(state.catch) if interpreter.error_matches(c.errors, error.error)),
                None,
            )
            inspection["errorDetails"] = drop_none({"catchIndex": index})
        else:
            response["status"] = "SUCCEEDED"
    elif isinstance(outcome, Retry):
        response.update(status="RETRIABLE", error=outcome.error, cause=outcome.cause)
        before = (*retries, *(0,) * len(outcome.retries))
        index = next((i for i, n in enumerate(outcome.retries) if n != before[i]), 0)
        inspection["errorDetails"] = {
            "retryIndex": index,
            "retryBackoffIntervalSeconds": round(outcome.delay),
        }
    elif isinstance(outcome, Fail):
        response.update(status="FAILED", error=outcome.error, cause=outcome.cause)
    else:  # pragma: no cover - Dispatch/Fork were completed above
        raise ApiError("ValidationException", f"TestState cannot run a {state.type} state")

    if (p.get("inspectionLevel") or "INFO") != "INFO":
        inspection.update(_inspect(state, data, context, variables, first, result))
        after = getattr(outcome, "variables", None)
        if after is not None:
            inspection["variables"] = _dumps(after)
    if inspection:
        response["inspectionData"] = inspection
    return response


ACTIONS: dict[str, Handler] = {"TestState": run_test_state}
