"""The compiled form of a state machine: built once from a validated definition.

Every path, payload template, intrinsic, Choice rule and JSONata expression is compiled here,
so the interpreter does no parsing per transition. A Parallel branch and a Map processor are
``Machine`` objects too; ``Machine.sub(path)`` finds one by its branch path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from runtime.asl.errors import DefinitionError, Problem
from runtime.asl.paths import CompiledPath, compile_path
from runtime.asl.templates import PayloadTemplate

JSONPATH = "JSONPath"
JSONATA = "JSONata"

#: Marker for a field explicitly set to null (InputPath/OutputPath/ResultPath: discard).
DISCARD = None


@dataclass(frozen=True, slots=True)
class Retrier:
    errors: tuple[str, ...]
    interval_seconds: float = 1.0
    max_attempts: int = 3
    backoff_rate: float = 2.0
    max_delay_seconds: float | None = None
    jitter_full: bool = False


@dataclass(frozen=True, slots=True)
class Catcher:
    errors: tuple[str, ...]
    next: str
    result_path: CompiledPath | None  # None: discard the error, keep the input
    output: Any = None  # JSONata Output template
    assign: Any = None  # PayloadTemplate (JSONPath) or JSONata template


@dataclass(slots=True)
class State:
    """Fields every state may carry; the type-specific ones are on subclasses."""

    name: str
    type: str
    query_language: str
    next: str | None = None
    end: bool = False
    input_path: CompiledPath | None = None
    input_discard: bool = False  # InputPath: null
    output_path: CompiledPath | None = None
    output_discard: bool = False  # OutputPath: null
    assign: Any = None
    output: Any = None  # JSONata Output template

    @property
    def jsonata(self) -> bool:
        return self.query_language == JSONATA


@dataclass(slots=True)
class ResultState(State):
    """States that produce a result: Pass, Task, Parallel, Map."""

    parameters: PayloadTemplate | None = None
    arguments: Any = None  # JSONata template
    result_selector: PayloadTemplate | None = None
    result_path: CompiledPath | None = None
    result_discard: bool = False  # ResultPath: null
    retry: tuple[Retrier, ...] = ()
    catch: tuple[Catcher, ...] = ()


@dataclass(slots=True)
class PassState(ResultState):
    result: Any = None
    has_result: bool = False


@dataclass(slots=True)
class TaskState(ResultState):
    resource: str = ""
    timeout_seconds: Any = None  # number | CompiledPath | JSONata template
    heartbeat_seconds: Any = None
    credentials: Any = None  # PayloadTemplate (JSONPath) | raw value (JSONata)


@dataclass(frozen=True, slots=True)
class ChoiceBranch:
    next: str
    rule: Any  # ChoiceRule (JSONPath) or JSONata template (Condition)
    assign: Any = None
    output: Any = None


@dataclass(slots=True)
class ChoiceState(State):
    choices: tuple[ChoiceBranch, ...] = ()
    default: str | None = None
    default_assign: Any = None


@dataclass(slots=True)
class WaitState(State):
    seconds: Any = None  # number | JSONata template
    timestamp: Any = None  # str | JSONata template
    seconds_path: CompiledPath | None = None
    timestamp_path: CompiledPath | None = None


@dataclass(slots=True)
class SucceedState(State):
    pass


@dataclass(slots=True)
class FailState(State):
    error: Any = None  # str | JSONata template
    cause: Any = None
    error_path: Any = None  # CompiledPath | intrinsic
    cause_path: Any = None


@dataclass(slots=True)
class ParallelState(ResultState):
    branches: tuple[Machine, ...] = ()


@dataclass(slots=True)
class MapState(ResultState):
    processor: Machine | None = None
    distributed: bool = False
    items_path: CompiledPath | None = None
    items: Any = None  # JSONata template
    item_selector: Any = None  # PayloadTemplate or JSONata template
    max_concurrency: Any = 0  # int | CompiledPath | JSONata
    tolerated_failure_count: Any = None
    tolerated_failure_percentage: Any = None
    batcher: Mapping[str, Any] | None = None
    batch_input: Any = None  # ItemBatcher.BatchInput: PayloadTemplate (JSONPath) | raw value (JSONata)
    batch_paths: Mapping[str, CompiledPath] = field(default_factory=dict)  # ItemBatcher's *Path fields
    item_reader: Mapping[str, Any] | None = None
    result_writer: Mapping[str, Any] | None = None
    label: str | None = None


@dataclass(slots=True)
class Machine:
    """A compiled (sub-)machine: StartAt and its States."""

    start_at: str
    states: dict[str, State]
    query_language: str = JSONPATH
    timeout_seconds: int | None = None
    comment: str | None = None
    definition: Mapping[str, Any] = field(default_factory=dict)

    def sub(self, branch: str) -> Machine:
        """The machine at a branch path like ``"Fan/1"`` or ``"Fan~4/1/Items~2/37"``.

        Path segments come in pairs (state name, index); the index of a Map names the item,
        which does not change which processor runs. A ``~n`` suffix on a state name (the
        engine's join key) is ignored: ``~`` cannot occur in a state name.
        """
        machine = self
        if not branch:
            return machine
        parts = branch.split("/")
        for i in range(0, len(parts), 2):
            state = machine.states[parts[i].split("~", 1)[0]]
            if isinstance(state, ParallelState):
                machine = state.branches[int(parts[i + 1])]
            elif isinstance(state, MapState) and state.processor is not None:
                machine = state.processor
            else:
                raise KeyError(f"branch path {branch!r}: state {parts[i]!r} has no branches")
        return machine


_BATCHER_PATHS = ("MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath")


def _path(value: Any) -> tuple[CompiledPath | None, bool]:
    """(compiled path, discard) for InputPath/OutputPath/ResultPath-like fields."""
    if value is None:
        return None, True
    return compile_path(value), False


def _jsonata_template(value: Any, field: str = "") -> Any:
    from runtime.asl.jsonata import compile_template

    return compile_template(value, field=field)


def _dyn(value: Any, jsonata: bool, field: str = "") -> Any:
    """A field that is a literal in JSONPath states and may be an expression in JSONata ones."""
    if value is None:
        return None
    if jsonata and isinstance(value, str | dict | list):
        return _jsonata_template(value, field)
    return value


def _assign(raw: Mapping[str, Any], jsonata: bool) -> Any:
    if "Assign" not in raw:
        return None
    return _jsonata_template(raw["Assign"], "Assign") if jsonata else PayloadTemplate(raw["Assign"])


def _retriers(raw: Any) -> tuple[Retrier, ...]:
    return tuple(
        Retrier(
            errors=tuple(r["ErrorEquals"]),
            interval_seconds=float(r.get("IntervalSeconds", 1)),
            max_attempts=int(r.get("MaxAttempts", 3)),
            backoff_rate=float(r.get("BackoffRate", 2.0)),
            max_delay_seconds=float(r["MaxDelaySeconds"]) if "MaxDelaySeconds" in r else None,
            jitter_full=r.get("JitterStrategy", "NONE") == "FULL",
        )
        for r in raw or ()
    )


def _catchers(raw: Any, jsonata: bool) -> tuple[Catcher, ...]:
    out = []
    for c in raw or ():
        if jsonata:
            rp, _ = None, False
            result_path = None
        else:
            rp, discard = _path(c["ResultPath"]) if "ResultPath" in c else (compile_path("$"), False)
            result_path = None if discard else rp
        out.append(
            Catcher(
                errors=tuple(c["ErrorEquals"]),
                next=c["Next"],
                result_path=result_path,
                output=_jsonata_template(c["Output"], "Output") if jsonata and "Output" in c else None,
                assign=_assign(c, jsonata),
            )
        )
    return tuple(out)


def _common(name: str, raw: Mapping[str, Any], lang: str) -> dict[str, Any]:
    jsonata = lang == JSONATA
    kw: dict[str, Any] = {
        "name": name,
        "type": raw["Type"],
        "query_language": lang,
        "next": raw.get("Next"),
        "end": bool(raw.get("End", False)),
        "assign": _assign(raw, jsonata),
    }
    if jsonata:
        if "Output" in raw:
            kw["output"] = _jsonata_template(raw["Output"], "Output")
    else:
        if "InputPath" in raw:
            kw["input_path"], kw["input_discard"] = _path(raw["InputPath"])
        if "OutputPath" in raw:
            kw["output_path"], kw["output_discard"] = _path(raw["OutputPath"])
    return kw


def _result_fields(raw: Mapping[str, Any], lang: str) -> dict[str, Any]:
    jsonata = lang == JSONATA
    kw: dict[str, Any] = {"retry": _retriers(raw.get("Retry")), "catch": _catchers(raw.get("Catch"), jsonata)}
    if jsonata:
        if "Arguments" in raw:
            kw["arguments"] = _jsonata_template(raw["Arguments"], "Arguments")
    else:
        if "Parameters" in raw:
            kw["parameters"] = PayloadTemplate(raw["Parameters"])
        if "ResultSelector" in raw:
            kw["result_selector"] = PayloadTemplate(raw["ResultSelector"])
        if "ResultPath" in raw:
            kw["result_path"], kw["result_discard"] = _path(raw["ResultPath"])
    return kw


def _path_or_intrinsic(value: str) -> Any:
    from runtime.asl.intrinsics import compile_intrinsic, looks_like_intrinsic

    return compile_intrinsic(value) if looks_like_intrinsic(value) else compile_path(value)


def _state(name: str, raw: Mapping[str, Any], root_lang: str) -> State:
    """Compile one state. A state without QueryLanguage uses the *machine's* top-level
    language, also inside Parallel branches and Map processors (as AWS does)."""
    lang = raw.get("QueryLanguage", root_lang)
    jsonata = lang == JSONATA
    kind = raw["Type"]
    kw = _common(name, raw, lang)
    if kind == "Pass":
        return PassState(
            **kw, **_result_fields(raw, lang), result=raw.get("Result"), has_result="Result" in raw
        )
    if kind == "Task":
        credentials = raw.get("Credentials")
        if credentials is not None and not jsonata:
            credentials = PayloadTemplate(credentials)
        return TaskState(
            **kw,
            **_result_fields(raw, lang),
            resource=raw["Resource"],
            timeout_seconds=_dyn(raw.get("TimeoutSeconds"), jsonata, "TimeoutSeconds")
            if "TimeoutSecondsPath" not in raw
            else compile_path(raw["TimeoutSecondsPath"]),
            heartbeat_seconds=_dyn(raw.get("HeartbeatSeconds"), jsonata, "HeartbeatSeconds")
            if "HeartbeatSecondsPath" not in raw
            else compile_path(raw["HeartbeatSecondsPath"]),
            credentials=credentials,
        )
    if kind == "Choice":
        from runtime.asl.choice import compile_choice_rule

        branches = []
        for rule in raw.get("Choices", ()):
            if jsonata:
                branches.append(
                    ChoiceBranch(
                        next=rule["Next"],
                        rule=_jsonata_template(rule["Condition"], "Condition"),
                        assign=_assign(rule, True),
                        output=_jsonata_template(rule["Output"], "Output") if "Output" in rule else None,
                    )
                )
            else:
                branches.append(
                    ChoiceBranch(
                        next=rule["Next"], rule=compile_choice_rule(rule), assign=_assign(rule, False)
                    )
                )
        return ChoiceState(**kw, choices=tuple(branches), default=raw.get("Default"))
    if kind == "Wait":
        return WaitState(
            **kw,
            seconds=_dyn(raw.get("Seconds"), jsonata, "Seconds"),
            timestamp=_dyn(raw.get("Timestamp"), jsonata, "Timestamp"),
            seconds_path=compile_path(raw["SecondsPath"]) if "SecondsPath" in raw else None,
            timestamp_path=compile_path(raw["TimestampPath"]) if "TimestampPath" in raw else None,
        )
    if kind == "Succeed":
        return SucceedState(**kw)
    if kind == "Fail":
        return FailState(
            **kw,
            error=_dyn(raw.get("Error"), jsonata, "Error"),
            cause=_dyn(raw.get("Cause"), jsonata, "Cause"),
            error_path=_path_or_intrinsic(raw["ErrorPath"]) if "ErrorPath" in raw else None,
            cause_path=_path_or_intrinsic(raw["CausePath"]) if "CausePath" in raw else None,
        )
    if kind == "Parallel":
        return ParallelState(
            **kw,
            **_result_fields(raw, lang),
            branches=tuple(_machine(b, root_lang) for b in raw.get("Branches", ())),
        )
    if kind == "Map":
        processor_raw = raw.get("ItemProcessor") or raw.get("Iterator") or {}
        config = processor_raw.get("ProcessorConfig", {}) if isinstance(processor_raw, Mapping) else {}
        selector = raw.get("ItemSelector", raw.get("Parameters") if not jsonata else None)
        result_kw = _result_fields(raw, lang)
        result_kw.pop("parameters", None)  # for Map, Parameters is the legacy ItemSelector
        batcher = raw.get("ItemBatcher")
        batcher_fields: Mapping[str, Any] = batcher if isinstance(batcher, Mapping) else {}
        batch_input = batcher_fields.get("BatchInput")
        if batch_input is not None and not jsonata:
            batch_input = PayloadTemplate(batch_input)
        batch_paths = {k: compile_path(v) for k, v in batcher_fields.items() if k in _BATCHER_PATHS}
        return MapState(
            **kw,
            **result_kw,
            processor=_machine(processor_raw, root_lang),
            distributed=config.get("Mode") == "DISTRIBUTED",
            items_path=compile_path(raw["ItemsPath"]) if "ItemsPath" in raw else None,
            items=_dyn(raw.get("Items"), True, "Items") if jsonata and "Items" in raw else raw.get("Items"),
            item_selector=None
            if selector is None
            else (_jsonata_template(selector, "ItemSelector") if jsonata else PayloadTemplate(selector)),
            max_concurrency=compile_path(raw["MaxConcurrencyPath"])
            if "MaxConcurrencyPath" in raw
            else _dyn(raw.get("MaxConcurrency", 0), jsonata, "MaxConcurrency"),
            tolerated_failure_count=compile_path(raw["ToleratedFailureCountPath"])
            if "ToleratedFailureCountPath" in raw
            else _dyn(raw.get("ToleratedFailureCount"), jsonata, "ToleratedFailureCount"),
            tolerated_failure_percentage=compile_path(raw["ToleratedFailurePercentagePath"])
            if "ToleratedFailurePercentagePath" in raw
            else _dyn(raw.get("ToleratedFailurePercentage"), jsonata, "ToleratedFailurePercentage"),
            batcher=batcher,
            batch_input=batch_input,
            batch_paths=batch_paths,
            item_reader=raw.get("ItemReader"),
            result_writer=raw.get("ResultWriter"),
            label=raw.get("Label"),
        )
    raise DefinitionError(
        [Problem(f"/States/{name}/Type", "SCHEMA_VALIDATION_FAILED", f"unknown state type {kind!r}")]
    )


def _machine(raw: Mapping[str, Any], root_lang: str) -> Machine:
    lang = raw.get("QueryLanguage", root_lang)
    return Machine(
        start_at=raw["StartAt"],
        states={name: _state(name, s, lang) for name, s in raw["States"].items()},
        query_language=lang,
        timeout_seconds=raw.get("TimeoutSeconds"),
        comment=raw.get("Comment"),
        definition=raw,
    )


def parse_machine(definition: str | Mapping[str, Any], *, validate: bool = True) -> Machine:
    """Validate and compile a definition (JSON text or parsed). Raises DefinitionError."""
    if isinstance(definition, str):
        return _parse_text(definition, validate)
    if validate:
        _check(definition)
    return _machine(definition, JSONPATH)


@lru_cache(maxsize=256)
def _parse_text(text: str, validate: bool) -> Machine:
    from runtime.asl.validator import validate_text

    if validate:
        errors = [p for p in validate_text(text) if p.severity == "error"]
        if errors:
            raise DefinitionError(errors)
    return _machine(json.loads(text), JSONPATH)


def _check(definition: Mapping[str, Any]) -> None:
    from runtime.asl.validator import validate_definition

    errors = [p for p in validate_definition(definition) if p.severity == "error"]
    if errors:
        raise DefinitionError(errors)
