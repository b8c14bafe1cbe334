"""The ASL interpreter: a pure function from (state, input, context) to an outcome.

``enter`` runs a state up to the point where it needs the outside world (a Task's answer, a
Wait's timer, a Parallel/Map's branches) and returns that need as an outcome; ``complete``
takes the answer back and finishes the state. Retry and Catch are decided here too. Nothing
here sleeps, reads a clock (``now`` is passed in) or performs I/O.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from runtime.asl.errors import StatesError, StatesNames
from runtime.asl.jsonutil import dumps_compact
from runtime.asl.model import (
    Catcher,
    ChoiceState,
    FailState,
    Machine,
    MapState,
    ParallelState,
    PassState,
    ResultState,
    State,
    SucceedState,
    TaskState,
    WaitState,
)
from runtime.asl.outcomes import Delay, Dispatch, Fail, Fork, Next, Outcome, Retry, Succeed, Variables
from runtime.asl.paths import CompiledPath, PathNotFound
from runtime.asl.templates import PayloadTemplate

#: Longest Wait AWS allows (Seconds is at most 99999999); executions last a year at most.
MAX_WAIT_SECONDS = 99_999_999
_NOTHING: Any = object()


# ---------------------------------------------------------------- helpers


def _normalized(path: CompiledPath) -> str:
    """A path as Jayway JsonPath prints it in AWS error causes: ``$['a'][0]``."""
    if path.steps is None:
        return path.text
    root = "$$" if path.root == "context" else "$"
    return root + "".join(f"[{s}]" if isinstance(s, int) else f"['{s}']" for s in path.steps)


def _select(path: CompiledPath, data: Any, context: Any, variables: Mapping[str, Any]) -> Any:
    """InputPath/OutputPath/ItemsPath/...: a miss is States.Runtime, worded as AWS words it."""
    try:
        return path.resolve(data, context, variables)
    except PathNotFound:
        raise StatesError(
            StatesNames.RUNTIME,
            f"Invalid path '{path.text}' : No results for path: {_normalized(path)}",
        ) from None


def _jsonata_states(data: Any, context: Any, **extra: Any) -> dict[str, Any]:
    states = {"input": data, "context": context}
    states.update(extra)
    return states


def _effective_input(state: State, data: Any, context: Any, variables: Variables) -> Any:
    if state.input_discard:
        return {}
    if state.input_path is None:
        return data
    return _select(state.input_path, data, context, variables)


def _apply_output_path(state: State, data: Any, context: Any, variables: Variables) -> Any:
    if state.output_discard:
        return {}
    if state.output_path is None:
        return data
    return _select(state.output_path, data, context, variables)


def _assign(
    template: Any,
    jsonata: bool,
    value: Any,
    context: Any,
    variables: Variables,
    states: Mapping[str, Any] | None = None,
) -> Variables:
    """Evaluate an Assign block against the *old* variables; return the new scope."""
    if template is None:
        return variables
    if jsonata:
        assigned = template.render(states or {}, variables)
    else:
        assigned = template.render(value, context, variables)
    if not isinstance(assigned, dict):
        raise StatesError(StatesNames.RUNTIME, "The Assign field must evaluate to a JSON object")
    return {**variables, **assigned}


def _advance(state: State, output: Any, variables: Variables) -> Next | Succeed:
    if state.end or state.next is None:
        return Succeed(output, variables)
    return Next(state.next, output, variables)


def _number(value: Any, field: str, *, integer: bool, minimum: float = 0) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and integer and isinstance(value, float):
        ok = value.is_integer()
    if not ok or value < minimum:
        kind = "an integer" if integer else "a number"
        raise StatesError(
            StatesNames.RUNTIME,
            f"The value of the field '{field}' must be {kind} >= {minimum:g}, got {dumps_compact(value)}",
        )
    return float(value)


def _dynamic(value: Any, field: str, data: Any, context: Any, variables: Variables) -> Any:
    """A field that may be a literal, a JSONPath (``*Path`` fields) or a JSONata template."""
    if isinstance(value, CompiledPath):
        return _select(value, data, context, variables)
    if hasattr(value, "render") and not isinstance(value, PayloadTemplate):
        return value.render(_jsonata_states(data, context), variables)
    return value


def parse_timestamp(text: Any, field: str) -> float:
    """An RFC 3339 timestamp (as AWS accepts it) to epoch seconds; States.Runtime otherwise."""
    if isinstance(text, str) and "T" in text and (text.endswith("Z") or text[-6] in "+-"):
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise StatesError(
        StatesNames.RUNTIME,
        f"The value of the field '{field}' must be an ISO-8601 extended offset date-time format "
        f"string, got {dumps_compact(text)}",
    )


# ---------------------------------------------------------------- results and errors


def _finish(state: ResultState, data: Any, result: Any, context: Any, variables: Variables) -> Next | Succeed:
    """ResultSelector -> Assign -> ResultPath -> OutputPath (or JSONata Output/Assign)."""
    if state.jsonata:
        states = _jsonata_states(data, context, result=result)
        new_vars = _assign(state.assign, True, None, context, variables, states)
        output = state.output.render(states, variables) if state.output is not None else result
        return _advance(state, output, new_vars)
    if state.result_selector is not None:
        result = state.result_selector.render(result, context, variables)
    new_vars = _assign(state.assign, False, result, context, variables)
    if state.result_discard:
        output = data
    elif state.result_path is None:
        output = result
    else:
        try:
            output = state.result_path.set(data, result)
        except PathNotFound:
            raise StatesError(
                StatesNames.RESULT_PATH_MATCH_FAILURE,
                f"Unable to apply ResultPath '{state.result_path.text}' to input {dumps_compact(data)}",
            ) from None
    return _advance(state, _apply_output_path(state, output, context, variables), new_vars)


def error_matches(names: tuple[str, ...], error: str) -> bool:
    """ErrorEquals semantics: exact names, States.ALL and the States.TaskFailed wildcard."""
    for name in names:
        if name == error:
            return True
        if name == StatesNames.ALL and error not in StatesNames.NOT_MATCHED_BY_ALL:
            return True
        if (
            name == StatesNames.TASK_FAILED
            and error not in StatesNames.NOT_MATCHED_BY_ALL
            and error != StatesNames.TIMEOUT
        ):
            return True
    return False


def retry_delay(
    interval: float,
    backoff: float,
    attempt: int,
    max_delay: float | None,
    jitter_full: bool,
    rand: Callable[[], float],
) -> float:
    """Seconds before retry number ``attempt + 1`` (attempt counts from 0)."""
    delay = interval * math.pow(backoff, attempt)
    if max_delay is not None:
        delay = min(delay, max_delay)
    if jitter_full:
        delay = rand() * delay
    return delay


def _handle_error(
    state: State,
    data: Any,
    context: Any,
    variables: Variables,
    err: StatesError,
    retries: tuple[int, ...],
    rand: Callable[[], float],
) -> Outcome:
    if err.error == StatesNames.RUNTIME or not isinstance(state, ResultState):
        return Fail(err.error, err.cause, variables)
    for i, retrier in enumerate(state.retry):
        if error_matches(retrier.errors, err.error):
            counts = retries + (0,) * (len(state.retry) - len(retries))
            used = counts[i]
            if used < retrier.max_attempts:
                delay = retry_delay(
                    retrier.interval_seconds,
                    retrier.backoff_rate,
                    used,
                    retrier.max_delay_seconds,
                    retrier.jitter_full,
                    rand,
                )
                new_counts = (*counts[:i], used + 1, *counts[i + 1 :])
                return Retry(state.name, data, delay, new_counts, err.error, err.cause, variables)
            break  # the matching retrier is spent: fall through to Catch
    for catcher in state.catch:
        if error_matches(catcher.errors, err.error):
            return _catch(state, catcher, data, context, variables, err)
    return Fail(err.error, err.cause, variables)


def _catch(
    state: State, catcher: Catcher, data: Any, context: Any, variables: Variables, err: StatesError
) -> Outcome:
    error_output = err.to_output()
    try:
        if state.jsonata:
            states = _jsonata_states(data, context, errorOutput=error_output)
            new_vars = _assign(catcher.assign, True, None, context, variables, states)
            output = catcher.output.render(states, variables) if catcher.output is not None else error_output
        else:
            new_vars = _assign(catcher.assign, False, error_output, context, variables)
            if catcher.result_path is None:
                output = data
            else:
                try:
                    output = catcher.result_path.set(data, error_output)
                except PathNotFound:
                    raise StatesError(
                        StatesNames.RESULT_PATH_MATCH_FAILURE,
                        f"Unable to apply ResultPath '{catcher.result_path.text}' to input "
                        f"{dumps_compact(data)}",
                    ) from None
    except StatesError as inner:
        return Fail(inner.error, inner.cause, variables)
    return Next(catcher.next, output, new_vars)


# ---------------------------------------------------------------- state types


def _task_payload(state: ResultState, data: Any, context: Any, variables: Variables) -> Any:
    if state.jsonata:
        if state.arguments is None:
            return data
        return state.arguments.render(_jsonata_states(data, context), variables)
    effective = _effective_input(state, data, context, variables)
    if state.parameters is not None:
        return state.parameters.render(effective, context, variables)
    return effective


def _enter_pass(state: PassState, data: Any, context: Any, variables: Variables) -> Outcome:
    if state.jsonata:
        states = _jsonata_states(data, context)
        new_vars = _assign(state.assign, True, None, context, variables, states)
        output = state.output.render(states, variables) if state.output is not None else data
        return _advance(state, output, new_vars)
    payload = _task_payload(state, data, context, variables)
    result = state.result if state.has_result else payload
    return _finish(state, data, result, context, variables)


def _seconds(value: Any, field: str, data: Any, context: Any, variables: Variables) -> float | None:
    if value is None:
        return None
    got = _dynamic(value, field, data, context, variables)
    return _number(got, field, integer=True, minimum=0)


def _enter_task(state: TaskState, data: Any, context: Any, variables: Variables) -> Outcome:
    if state.jsonata:
        payload = _task_payload(state, data, context, variables)
        basis = data
    else:  # InputPath once: it is both the Parameters input and the *SecondsPath basis
        basis = _effective_input(state, data, context, variables)
        payload = basis if state.parameters is None else state.parameters.render(basis, context, variables)
    timeout = _seconds(state.timeout_seconds, "TimeoutSeconds", basis, context, variables)
    heartbeat = _seconds(state.heartbeat_seconds, "HeartbeatSeconds", basis, context, variables)
    if (timeout is not None and timeout < 1) or (heartbeat is not None and heartbeat < 1):
        raise StatesError(
            StatesNames.RUNTIME, "TimeoutSeconds and HeartbeatSeconds must be positive integers"
        )
    if timeout is not None and heartbeat is not None and heartbeat >= timeout:
        raise StatesError(StatesNames.RUNTIME, "HeartbeatSeconds must be smaller than TimeoutSeconds")
    credentials = state.credentials
    if isinstance(credentials, PayloadTemplate):  # JSONPath: compiled by parse_machine
        credentials = credentials.render(data, context, variables)
    elif credentials is not None:
        credentials = _dynamic(credentials, "Credentials", data, context, variables)
    return Dispatch(state.name, state.resource, payload, timeout, heartbeat, credentials, variables)


def _enter_choice(state: ChoiceState, data: Any, context: Any, variables: Variables) -> Outcome:
    if state.jsonata:
        states = _jsonata_states(data, context)
        for branch in state.choices:
            matched = branch.rule.render(states, variables)
            if not isinstance(matched, bool):
                raise StatesError(
                    StatesNames.QUERY_EVALUATION_ERROR,
                    f"The Condition field must evaluate to a boolean, got {dumps_compact(matched)}",
                )
            if matched:
                new_vars = _assign(branch.assign, True, None, context, variables, states)
                template = branch.output if branch.output is not None else state.output
                output = template.render(states, variables) if template is not None else data
                return Next(branch.next, output, new_vars)
        if state.default is not None:
            new_vars = _assign(state.assign, True, None, context, variables, states)
            output = state.output.render(states, variables) if state.output is not None else data
            return Next(state.default, output, new_vars)
    else:
        effective = _effective_input(state, data, context, variables)
        for branch in state.choices:
            if branch.rule.matches(effective, context, variables):
                new_vars = _assign(branch.assign, False, effective, context, variables)
                return Next(branch.next, _apply_output_path(state, effective, context, variables), new_vars)
        if state.default is not None:
            new_vars = _assign(state.assign, False, effective, context, variables)
            return Next(state.default, _apply_output_path(state, effective, context, variables), new_vars)
    raise StatesError(StatesNames.NO_CHOICE_MATCHED, "No Matches!")


def _enter_wait(state: WaitState, data: Any, context: Any, variables: Variables, now: float) -> Outcome:
    basis = data if state.jsonata else _effective_input(state, data, context, variables)
    if state.seconds is not None:
        until = now + _number(
            _dynamic(state.seconds, "Seconds", basis, context, variables), "Seconds", integer=True
        )
    elif state.seconds_path is not None:
        seconds = _select(state.seconds_path, basis, context, variables)
        until = now + _number(seconds, "SecondsPath", integer=True)
    elif state.timestamp is not None:
        stamp = _dynamic(state.timestamp, "Timestamp", basis, context, variables)
        until = parse_timestamp(stamp, "Timestamp")
    else:
        assert state.timestamp_path is not None
        until = parse_timestamp(_select(state.timestamp_path, basis, context, variables), "TimestampPath")
    if until - now > MAX_WAIT_SECONDS:
        raise StatesError(
            StatesNames.RUNTIME,
            f"The Wait state would wait {until - now:.0f} seconds; the maximum is {MAX_WAIT_SECONDS}",
        )
    if state.jsonata:
        states = _jsonata_states(data, context)
        new_vars = _assign(state.assign, True, None, context, variables, states)
        output = state.output.render(states, variables) if state.output is not None else data
    else:
        new_vars = _assign(state.assign, False, basis, context, variables)
        output = _apply_output_path(state, basis, context, variables)
    return Delay(state.name, max(until, now), _advance(state, output, new_vars), new_vars)


def _enter_succeed(state: SucceedState, data: Any, context: Any, variables: Variables) -> Outcome:
    if state.jsonata:
        output = state.output.render(_jsonata_states(data, context), variables) if state.output else data
        return Succeed(output, variables)
    effective = _effective_input(state, data, context, variables)
    return Succeed(_apply_output_path(state, effective, context, variables), variables)


def _enter_fail(state: FailState, data: Any, context: Any, variables: Variables) -> Outcome:
    def value(static: Any, path: Any, field: str) -> str:
        if path is not None:
            if isinstance(path, CompiledPath):
                got = _select(path, data, context, variables)
            else:
                got = path.evaluate(lambda p: p.resolve(data, context, variables))
            if not isinstance(got, str):
                raise StatesError(
                    StatesNames.RUNTIME,
                    f"The {field} field must resolve to a string, got {dumps_compact(got)}",
                )
            return got
        got = _dynamic(static, field, data, context, variables)
        return "" if got is None else str(got)

    return Fail(
        value(state.error, state.error_path, "ErrorPath" if state.error_path else "Error"),
        value(state.cause, state.cause_path, "CausePath" if state.cause_path else "Cause"),
        variables,
    )


def _enter_parallel(state: ParallelState, data: Any, context: Any, variables: Variables) -> Outcome:
    payload = _task_payload(state, data, context, variables)
    return Fork(state.name, "parallel", [payload] * len(state.branches), 0, variables=variables)


def _optional_number(
    value: Any, field: str, basis: Any, context: Any, variables: Variables, integer: bool
) -> float | None:
    if value is None:
        return None
    return _number(_dynamic(value, field, basis, context, variables), field, integer=integer)


def map_items(state: MapState, data: Any, context: Any, variables: Variables) -> tuple[Any, list[Any]]:
    """The effective input and the list of items a Map iterates over."""
    if state.jsonata:
        effective = data
        items = (
            state.items.render(_jsonata_states(data, context), variables)
            if hasattr(state.items, "render")
            else (state.items if state.items is not None else data)
        )
    else:
        effective = _effective_input(state, data, context, variables)
        items = (
            effective
            if state.items_path is None
            else _select(state.items_path, effective, context, variables)
        )
    if not isinstance(items, list):
        items_path = state.items_path.text if state.items_path else "$"
        where = "Items" if state.jsonata else f"ItemsPath '{items_path}'"
        raise StatesError(
            StatesNames.RUNTIME if not state.jsonata else StatesNames.QUERY_EVALUATION_ERROR,
            f"The {where} field must point to a JSON array, got {dumps_compact(items)}",
        )
    return effective, items


def _batches(
    state: MapState, inputs: list[Any], effective: Any, context: Any, variables: Variables
) -> list[Any]:
    batcher = state.batcher
    if not batcher:
        return inputs
    paths = state.batch_paths  # compiled by parse_machine
    max_items = batcher.get("MaxItemsPerBatch")
    if "MaxItemsPerBatchPath" in paths:
        max_items = _select(paths["MaxItemsPerBatchPath"], effective, context, variables)
    max_bytes = batcher.get("MaxInputBytesPerBatch")
    if "MaxInputBytesPerBatchPath" in paths:
        max_bytes = _select(paths["MaxInputBytesPerBatchPath"], effective, context, variables)
    batch_input = state.batch_input
    if isinstance(batch_input, PayloadTemplate):  # JSONPath: compiled by parse_machine
        batch_input = batch_input.render(effective, context, variables)
    max_items = int(max_items) if max_items else len(inputs) or 1
    max_bytes = int(max_bytes) if max_bytes else 256 * 1024
    batches: list[Any] = []
    current: list[Any] = []
    size = 0
    for item in inputs:
        item_size = len(dumps_compact(item).encode())
        if current and (len(current) >= max_items or size + item_size > max_bytes):
            batches.append(current)
            current, size = [], 0
        current.append(item)
        size += item_size
    if current:
        batches.append(current)
    return [{"Items": b, **({"BatchInput": batch_input} if batch_input is not None else {})} for b in batches]


def _enter_map(state: MapState, data: Any, context: Any, variables: Variables) -> Outcome:
    if state.item_reader is not None:
        raise StatesError(
            StatesNames.ITEM_READER_FAILED,
            f"ItemReader resource {state.item_reader.get('Resource')!r} needs the engine's reader; "
            "it cannot run in the pure interpreter",
        )
    effective, items = map_items(state, data, context, variables)
    inputs = map_item_inputs(state, effective, items, context, variables)
    inputs = _batches(state, inputs, effective, context, variables)
    concurrency = _optional_number(
        state.max_concurrency, "MaxConcurrency", effective, context, variables, True
    )
    tolerated_count = _optional_number(
        state.tolerated_failure_count, "ToleratedFailureCount", effective, context, variables, True
    )
    tolerated_pct = _optional_number(
        state.tolerated_failure_percentage, "ToleratedFailurePercentage", effective, context, variables, False
    )
    if tolerated_pct is not None and tolerated_pct > 100:
        raise StatesError(StatesNames.RUNTIME, "ToleratedFailurePercentage must be between 0 and 100")
    return Fork(
        state.name,
        "map",
        inputs,
        int(concurrency or 0),
        None if tolerated_count is None else int(tolerated_count),
        tolerated_pct,
        variables,
    )


def map_item_inputs(
    state: MapState, effective: Any, items: list[Any], context: Any, variables: Variables
) -> list[Any]:
    """Each item's input: ItemSelector (or legacy Parameters) with $$.Map.Item, else the item."""
    selector = state.item_selector
    if selector is None:
        return list(items)
    inputs = []
    base = dict(context) if isinstance(context, Mapping) else {}
    for index, value in enumerate(items):
        item_context = {**base, "Map": {"Item": {"Index": index, "Value": value}}}
        if state.jsonata:
            inputs.append(selector.render(_jsonata_states(effective, item_context), variables))
        else:
            inputs.append(selector.render(effective, item_context, variables))
    return inputs


_ENTER: dict[type, Callable[..., Outcome]] = {
    PassState: _enter_pass,
    TaskState: _enter_task,
    ChoiceState: _enter_choice,
    SucceedState: _enter_succeed,
    FailState: _enter_fail,
    ParallelState: _enter_parallel,
    MapState: _enter_map,
}


# ---------------------------------------------------------------- public API


def enter(
    machine: Machine,
    name: str,
    data: Any,
    context: Any = None,
    variables: Variables | None = None,
    *,
    now: float = 0.0,
    retries: tuple[int, ...] = (),
    rand: Callable[[], float] = random.random,
) -> Outcome:
    """Enter state ``name`` of ``machine`` with ``data`` as its raw input."""
    state = machine.states[name]
    variables = variables if variables is not None else {}
    try:
        if isinstance(state, WaitState):
            return _enter_wait(state, data, context, variables, now)
        return _ENTER[type(state)](state, data, context, variables)
    except StatesError as err:
        return _handle_error(state, data, context, variables, err, retries, rand)


def complete(
    machine: Machine,
    name: str,
    data: Any,
    context: Any = None,
    variables: Variables | None = None,
    *,
    result: Any = _NOTHING,
    error: StatesError | None = None,
    retries: tuple[int, ...] = (),
    rand: Callable[[], float] = random.random,
) -> Outcome:
    """Finish a Task/Parallel/Map state with its ``result`` (or ``error``)."""
    state = machine.states[name]
    variables = variables if variables is not None else {}
    if error is None and result is _NOTHING:
        raise ValueError("complete() needs a result or an error")
    if error is not None:
        return _handle_error(state, data, context, variables, error, retries, rand)
    assert isinstance(state, ResultState)
    try:
        return _finish(state, data, result, context, variables)
    except StatesError as err:
        return _handle_error(state, data, context, variables, err, retries, rand)


def tolerance_exceeded(failed: int, total: int, count: int | None, percentage: float | None) -> bool:
    """Map's ToleratedFailureCount/Percentage: with neither set any failure fails the Map;
    with both set, exceeding either one does."""
    if count is None and percentage is None:
        return failed > 0
    if count is not None and failed > count:
        return True
    return percentage is not None and total > 0 and failed * 100 > percentage * total


def exceeded_error() -> StatesError:
    return StatesError(
        StatesNames.EXCEED_TOLERATED_FAILURE_THRESHOLD,
        "The specified tolerated failure threshold was exceeded",
    )
