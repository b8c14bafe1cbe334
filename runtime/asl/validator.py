"""Static validation of an Amazon States Language definition: every problem, each at its pointer.

``validate_definition`` walks a parsed definition once and returns every :class:`Problem` it
finds instead of stopping at the first, so an author can fix a definition in one pass. Each
problem carries an RFC 6901 pointer into the definition, a rule code, what is wrong and how
to fix it.

Rule codes are the diagnostic codes of AWS's ``ValidateStateMachineDefinition`` where AWS has
one (``SCHEMA_VALIDATION_FAILED``, ``MISSING_TRANSITION_TARGET``, ``MISSING_END_STATE``,
``DUPLICATE_STATE_NAME``, ``INVALID_STATE_NAME``, ``INVALID_RESOURCE``, ``DUPLICATE_LABEL_NAME``,
``INVALID_LABEL_NAME``, ``INVALID_JSONATA_EXPRESSION``, ``INVALID_JSON_DESCRIPTION``,
``MISSING_DESCRIPTION``, ``TOO_DEEPLY_NESTED`` and the warnings ``NO_DOLLAR``, ``NO_PATH``,
``PASS_RESULT_IS_STATIC``), so a definition StateHop refuses is one AWS refuses for the same
reason. Checks AWS makes without a code of its own get StateHop codes (see ``RULES``).

Which fields a state may carry depends on its ``Type`` and on its query language, so that is
one table (``STATE_FIELDS``) rather than a chain of conditions; per-field value checks are a
second table (``_FIELD_CHECKS``) and the rules that relate several fields of a type a third
(``_TYPE_RULES``). As AWS measures it, a state inherits the *machine's* top-level query
language: a ``QueryLanguage`` on a Map or Parallel does not flow into its branches.

Expressions are compiled by their owners: JSONPath by :func:`runtime.asl.paths.compile_path`,
intrinsic functions by ``runtime.asl.intrinsics``, JSONata by ``runtime.asl.jsonata`` and JSONPath
Choice Rules by ``runtime.asl.choice.check_choice_rule``; this module only places their errors.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from runtime.asl.errors import ExpressionError, Problem
from runtime.asl.paths import CompiledPath, PathError, compile_path

__all__ = ["RULES", "STATE_FIELDS", "validate_definition", "validate_text"]

JSONPATH: Final = "JSONPath"
JSONATA: Final = "JSONata"

# ------------------------------------------------------------------------------------------
# Rule codes
# ------------------------------------------------------------------------------------------

# AWS ValidateStateMachineDefinition codes
SCHEMA: Final = "SCHEMA_VALIDATION_FAILED"
INVALID_JSON: Final = "INVALID_JSON_DESCRIPTION"
MISSING_DESCRIPTION: Final = "MISSING_DESCRIPTION"
INVALID_RESOURCE: Final = "INVALID_RESOURCE"
MISSING_END_STATE: Final = "MISSING_END_STATE"
DUPLICATE_STATE_NAME: Final = "DUPLICATE_STATE_NAME"
INVALID_STATE_NAME: Final = "INVALID_STATE_NAME"
DUPLICATE_LABEL_NAME: Final = "DUPLICATE_LABEL_NAME"
INVALID_LABEL_NAME: Final = "INVALID_LABEL_NAME"
MISSING_TRANSITION_TARGET: Final = "MISSING_TRANSITION_TARGET"
TOO_DEEPLY_NESTED: Final = "TOO_DEEPLY_NESTED"
INVALID_JSONATA: Final = "INVALID_JSONATA_EXPRESSION"
NO_DOLLAR: Final = "NO_DOLLAR"
NO_PATH: Final = "NO_PATH"
PASS_RESULT_IS_STATIC: Final = "PASS_RESULT_IS_STATIC"
# StateHop codes for documented AWS rules that have no code of their own
INVALID_VARIABLE_NAME: Final = "INVALID_VARIABLE_NAME"
RESERVED_VARIABLE_NAME: Final = "RESERVED_VARIABLE_NAME"
VARIABLE_SCOPE_CONFLICT: Final = "VARIABLE_SCOPE_CONFLICT"
DUPLICATE_JSON_KEY: Final = "DUPLICATE_JSON_KEY"
DISTRIBUTED_ONLY_FIELD: Final = "DISTRIBUTED_ONLY_FIELD"  # warning
UNKNOWN_ERROR_NAME: Final = "UNKNOWN_ERROR_NAME"  # warning

#: Every rule code this module can report.
RULES: Final = frozenset(
    {
        SCHEMA,
        INVALID_JSON,
        MISSING_DESCRIPTION,
        INVALID_RESOURCE,
        MISSING_END_STATE,
        DUPLICATE_STATE_NAME,
        INVALID_STATE_NAME,
        DUPLICATE_LABEL_NAME,
        INVALID_LABEL_NAME,
        MISSING_TRANSITION_TARGET,
        TOO_DEEPLY_NESTED,
        INVALID_JSONATA,
        NO_DOLLAR,
        NO_PATH,
        PASS_RESULT_IS_STATIC,
        INVALID_VARIABLE_NAME,
        RESERVED_VARIABLE_NAME,
        VARIABLE_SCOPE_CONFLICT,
        DUPLICATE_JSON_KEY,
        DISTRIBUTED_ONLY_FIELD,
        UNKNOWN_ERROR_NAME,
    }
)

# ------------------------------------------------------------------------------------------
# Limits (AWS developer guide and API reference)
# ------------------------------------------------------------------------------------------

MAX_NAME: Final = 80  # state names and variable names
MAX_LABEL: Final = 40  # Map Label
MAX_SECONDS: Final = 99_999_999  # TimeoutSeconds, HeartbeatSeconds, Wait Seconds, IntervalSeconds
MAX_DELAY_SECONDS: Final = 31_622_400  # MaxDelaySeconds "less than 31622401"
MAX_ITEMS: Final = 100_000_000  # ReaderConfig.MaxItems
MAX_BATCH_BYTES: Final = 262_144  # ItemBatcher.MaxInputBytesPerBatch (256 KiB)
#: Nested Parallel/Map levels walked before TOO_DEEPLY_NESTED. AWS has the code but does not
#: publish its limit; this one is far above real definitions and far below Python's stack.
MAX_NESTING: Final = 100

# ------------------------------------------------------------------------------------------
# Field tables
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fields:
    """The fields an object may carry: in both query languages, only in JSONPath, only in JSONata."""

    both: frozenset[str]
    jsonpath: frozenset[str] = frozenset()
    jsonata: frozenset[str] = frozenset()

    def allowed(self, jsonata: bool) -> frozenset[str]:
        return self.both | (self.jsonata if jsonata else self.jsonpath)


def _fields(both: str, jsonpath: str = "", jsonata: str = "", *, common: str = "") -> Fields:
    return Fields(
        frozenset((both + " " + common).split()), frozenset(jsonpath.split()), frozenset(jsonata.split())
    )


_STATE_COMMON: Final = "Type Comment QueryLanguage"

#: Fields per state type and query language (ASL spec "Common State Fields", AWS guide per state).
STATE_FIELDS: Final[dict[str, Fields]] = {
    "Pass": _fields(
        "Next End Assign", "InputPath OutputPath Parameters ResultPath Result", "Output", common=_STATE_COMMON
    ),
    "Task": _fields(
        "Next End Assign Resource TimeoutSeconds HeartbeatSeconds Retry Catch Credentials",
        "InputPath OutputPath Parameters ResultSelector ResultPath TimeoutSecondsPath HeartbeatSecondsPath",
        "Arguments Output",
        common=_STATE_COMMON,
    ),
    "Choice": _fields("Choices Default Assign", "InputPath OutputPath", "Output", common=_STATE_COMMON),
    "Wait": _fields(
        "Next End Assign Seconds Timestamp",
        "InputPath OutputPath SecondsPath TimestampPath",
        "Output",
        common=_STATE_COMMON,
    ),
    "Succeed": _fields("", "InputPath OutputPath", "Output", common=_STATE_COMMON),
    "Fail": _fields("Error Cause", "ErrorPath CausePath", common=_STATE_COMMON),
    "Parallel": _fields(
        "Next End Assign Branches Retry Catch",
        "InputPath OutputPath Parameters ResultSelector ResultPath",
        "Arguments Output",
        common=_STATE_COMMON,
    ),
    "Map": _fields(
        "Next End Assign ItemProcessor Iterator ItemSelector ItemReader ItemBatcher ResultWriter "
        "MaxConcurrency ToleratedFailureCount ToleratedFailurePercentage Label Retry Catch",
        "InputPath OutputPath Parameters ResultSelector ResultPath ItemsPath MaxConcurrencyPath "
        "ToleratedFailureCountPath ToleratedFailurePercentagePath",
        "Items Output",
        common=_STATE_COMMON,
    ),
}

_MACHINE: Final = _fields("StartAt States Comment Version TimeoutSeconds QueryLanguage")
_BRANCH: Final = _fields("StartAt States Comment")
_PROCESSOR: Final = _fields("StartAt States Comment ProcessorConfig")
_PROCESSOR_CONFIG: Final = _fields("Mode ExecutionType")
_RETRIER: Final = _fields(
    "ErrorEquals IntervalSeconds MaxAttempts BackoffRate MaxDelaySeconds JitterStrategy Comment"
)
_CATCHER: Final = _fields("ErrorEquals Next Assign Comment", "ResultPath", "Output")
_JSONATA_RULE: Final = _fields("Condition Next Assign Output Comment")
_CREDENTIALS: Final = _fields("RoleArn", "RoleArn.$")
_ITEM_READER: Final = _fields("Resource ReaderConfig", "Parameters", "Arguments")
_READER_CONFIG: Final = _fields(
    "InputType Transformation ManifestType CSVHeaderLocation CSVHeaders CSVDelimiter MaxItems ItemsPointer",
    "MaxItemsPath",
)
_ITEM_BATCHER: Final = _fields(
    "MaxItemsPerBatch MaxInputBytesPerBatch BatchInput", "MaxItemsPerBatchPath MaxInputBytesPerBatchPath"
)
_RESULT_WRITER: Final = _fields("Resource WriterConfig", "Parameters", "Arguments")
_WRITER_CONFIG: Final = _fields("OutputType Transformation")

#: States with Next/End; Choice, Succeed and Fail have neither.
_TRANSITIONS: Final = frozenset({"Task", "Pass", "Wait", "Parallel", "Map"})
#: States whose JSONata Output/Assign may read ``$states.result``.
_HAS_RESULT: Final = frozenset({"Task", "Parallel", "Map"})
#: Map fields that only act in DISTRIBUTED mode.
_DISTRIBUTED_ONLY: Final = (
    "ItemReader",
    "ItemBatcher",
    "ResultWriter",
    "ToleratedFailureCount",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentage",
    "ToleratedFailurePercentagePath",
    "Label",
)
#: Pairs that exclude each other, per state type (the second is the reference-path form).
_EXCLUSIVE: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "Task": (("TimeoutSeconds", "TimeoutSecondsPath"), ("HeartbeatSeconds", "HeartbeatSecondsPath")),
    "Fail": (("Error", "ErrorPath"), ("Cause", "CausePath")),
    "Map": (
        ("ItemProcessor", "Iterator"),
        ("ItemSelector", "Parameters"),
        ("MaxConcurrency", "MaxConcurrencyPath"),
        ("ToleratedFailureCount", "ToleratedFailureCountPath"),
        ("ToleratedFailurePercentage", "ToleratedFailurePercentagePath"),
        ("ItemsPath", "ItemReader"),
        ("Items", "ItemReader"),
    ),
}
_WAIT_FIELDS: Final = ("Seconds", "Timestamp", "SecondsPath", "TimestampPath")

_ENUMS: Final[dict[str, tuple[str, ...]]] = {
    "Mode": ("INLINE", "DISTRIBUTED"),
    "ExecutionType": ("STANDARD", "EXPRESS"),
    "JitterStrategy": ("FULL", "NONE"),
    "InputType": ("CSV", "JSON", "JSONL", "PARQUET", "MANIFEST"),
    "ReaderTransformation": ("NONE", "LOAD_AND_FLATTEN"),
    "ManifestType": ("ATHENA_DATA", "S3_INVENTORY"),
    "CSVHeaderLocation": ("FIRST_ROW", "GIVEN"),
    "CSVDelimiter": ("COMMA", "PIPE", "SEMICOLON", "SPACE", "TAB"),
    "OutputType": ("JSON", "JSONL"),
    "WriterTransformation": ("NONE", "COMPACT", "FLATTEN"),
}

#: Error names the language predefines (ASL spec "Errors" and the AWS guide).
_STATES_ERRORS: Final = frozenset(
    {
        "States.ALL",
        "States.DataLimitExceeded",
        "States.ExceedToleratedFailureThreshold",
        "States.HeartbeatTimeout",
        "States.Http.Socket",
        "States.IntrinsicFailure",
        "States.ItemReaderFailed",
        "States.NoChoiceMatched",
        "States.ParameterPathFailure",
        "States.Permissions",
        "States.QueryEvaluationError",
        "States.ResultPathMatchFailure",
        "States.ResultWriterFailed",
        "States.Runtime",
        "States.TaskFailed",
        "States.Timeout",
        "States.BranchFailed",
    }
)

#: What to use instead of a field of the other query language.
_REPLACEMENTS: Final[dict[str, str]] = {
    "InputPath": "read the input with $states.input in Arguments or Output",
    "Parameters": "use Arguments (Task, Parallel) or ItemSelector (Map)",
    "ResultSelector": "shape the result in Output with $states.result",
    "ResultPath": "use Output (merge $states.input and $states.result) or Assign",
    "OutputPath": "use Output",
    "Result": "use Output",
    "ItemsPath": "use Items with a {% %} expression",
    "Arguments": "use Parameters",
    "Output": "use ResultSelector/ResultPath/OutputPath (or Result in a Pass state)",
    "Items": "use ItemsPath",
    "Condition": "use Variable with a comparison operator",
}

_CHOICE_JSONPATH_FIELDS: Final = frozenset(
    {"Variable", "And", "Or", "Not", "BooleanEquals", "BooleanEqualsPath", "StringMatches"}
    | {f"Is{kind}" for kind in ("Null", "Present", "Numeric", "String", "Boolean", "Timestamp")}
    | {
        f"{kind}{rel}{suffix}"
        for kind in ("String", "Numeric", "Timestamp")
        for rel in ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")
        for suffix in ("", "Path")
    }
)

_LABEL_FORBIDDEN: Final = re.compile(r"[\s?*<>{}\[\]:;,\\|^~$#%&`\"\u0000-\u001f\u007f-\u009f]")
_STATES_FIELD: Final = re.compile(r"\$states\s*\.\s*(result|errorOutput)\b")

# ------------------------------------------------------------------------------------------
# Small helpers
# ------------------------------------------------------------------------------------------


def _esc(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def _at(base: str, *tokens: str | int) -> str:
    """Extend an RFC 6901 pointer with raw (unescaped) tokens."""
    return base + "".join("/" + _esc(t) for t in tokens)


def _kind(value: Any) -> str:
    """The JSON type of a value, as AWS names it in diagnostics."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int | float):
        return "NUMBER"
    if isinstance(value, str):
        return "STRING"
    if isinstance(value, list):
        return "ARRAY"
    return "OBJECT" if isinstance(value, Mapping) else type(value).__name__


def _is_int(value: Any) -> bool:
    return type(value) is int or (type(value) is float and math.isfinite(value) and value.is_integer())


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def is_jsonata(value: Any) -> bool:
    """True for a ``{% ... %}`` string: a JSONata expression in a JSONata state."""
    return isinstance(value, str) and len(value) >= 4 and value.startswith("{%") and value.endswith("%}")


def _looks_like_path(value: Any) -> bool:
    return isinstance(value, str) and (value in ("$", "$$") or value.startswith(("$.", "$$.", "$[")))


def _looks_like_intrinsic(value: Any) -> bool:
    try:
        from runtime.asl.intrinsics import looks_like_intrinsic
    except ImportError:  # pragma: no cover - module written alongside this one
        return isinstance(value, str) and value.startswith("States.")
    return looks_like_intrinsic(value)


def _is_variable_name(name: str) -> bool:
    """Unicode identifier (UAX #31: ID_Start then ID_Continue), as AWS names variables."""
    return name.isidentifier()


# ------------------------------------------------------------------------------------------
# Walk state
# ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Scope:
    """A variable scope: the top-level States, or one Parallel branch / Map processor."""

    pointer: str
    parent: _Scope | None
    depth: int = 0  # Parallel/Map levels above this scope
    assigned: dict[str, str] = field(default_factory=dict)  # variable -> pointer of first Assign


@dataclass(frozen=True, slots=True)
class _Ctx:
    """Where a field sits: its state's type and effective query language, and its scope."""

    type: str
    jsonata: bool
    scope: _Scope


Check = Callable[["_Validator", Any, str, _Ctx], None]


class _Validator:
    """Collects problems while walking one definition."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.top_jsonata = False
        self.state_names: dict[str, str] = {}
        self.labels: dict[str, str] = {}
        self.scopes: list[_Scope] = []

    # -- reporting ----------------------------------------------------------------------

    def add(self, pointer: str, rule: str, message: str, hint: str, severity: str = "error") -> None:
        self.problems.append(Problem(pointer, rule, message, hint, severity))

    def type_error(self, value: Any, pointer: str, name: str, expected: str, hint: str) -> None:
        self.add(
            pointer, SCHEMA, f"The value for the field '{name}' must be {expected}, not {_kind(value)}", hint
        )

    # -- the machine ----------------------------------------------------------------------

    def run(self, definition: Mapping[str, Any]) -> None:
        self.top_jsonata = self.query_language(definition, "", False)
        root = _Scope("", None)
        self.scopes.append(root)
        self.machine(definition, "", _MACHINE, root, "the state machine")
        self.check_scopes()

    def query_language(self, obj: Mapping[str, Any], pointer: str, inherited: bool) -> bool:
        """The effective language (True: JSONata) of an object that may set ``QueryLanguage``."""
        if "QueryLanguage" not in obj:
            return inherited
        value = obj["QueryLanguage"]
        at = _at(pointer, "QueryLanguage")
        if value not in (JSONPATH, JSONATA):
            self.add(
                at,
                SCHEMA,
                f"The value for the field 'QueryLanguage' must be 'JSONPath' or 'JSONata', not {value!r}",
                'write "QueryLanguage": "JSONata" or "JSONPath" (case matters)',
            )
            return inherited
        if value == JSONPATH and self.top_jsonata and pointer:
            self.add(
                at,
                SCHEMA,
                "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
                "remove QueryLanguage from this state, or set the machine's top-level QueryLanguage to "
                "JSONPath and opt states into JSONata one by one",
            )
        return bool(value == JSONATA)

    def machine(self, obj: Any, pointer: str, fields: Fields, scope: _Scope, where: str) -> None:
        """A state machine, a Parallel branch or a Map processor: one transition scope."""
        if not isinstance(obj, Mapping):
            self.add(
                pointer,
                SCHEMA,
                f"{where[0].upper()}{where[1:]} must be a JSON object, not {_kind(obj)}",
                'write {"StartAt": "First", "States": {"First": {...}}}',
            )
            return
        self.unknown_fields(obj, pointer, fields, False, where)
        self.optional_string(obj, pointer, "Comment")
        if fields is _MACHINE:
            self.optional_string(obj, pointer, "Version")
            if "TimeoutSeconds" in obj:
                self.integer(
                    obj["TimeoutSeconds"], _at(pointer, "TimeoutSeconds"), "TimeoutSeconds", 1, MAX_SECONDS
                )
        start = obj.get("StartAt")
        if "StartAt" not in obj:
            self.add(
                pointer,
                SCHEMA,
                f"{where[0].upper()}{where[1:]} has no 'StartAt' field",
                'add "StartAt": "<name of the first state>"',
            )
        elif not isinstance(start, str) or not start:
            self.type_error(
                start, _at(pointer, "StartAt"), "StartAt", "a non-empty STRING", "name the first state to run"
            )
        states = obj.get("States")
        states_at = _at(pointer, "States")
        if "States" not in obj:
            self.add(
                pointer,
                SCHEMA,
                f"{where[0].upper()}{where[1:]} has no 'States' field",
                'add "States": {"<name>": {"Type": ...}}',
            )
            return
        if not isinstance(states, Mapping) or not states:
            self.type_error(
                states,
                states_at,
                "States",
                "a non-empty OBJECT of states",
                'write "States": {"<name>": {"Type": "Pass", "End": true}}',
            )
            return
        for name, state in states.items():
            self.state_name(name, _at(states_at, name))
            self.state(name, state, _at(states_at, name), scope)
        self.graph(states, states_at, start if isinstance(start, str) and start else None, pointer)

    def state_name(self, name: str, pointer: str) -> None:
        if not name or len(name) > MAX_NAME:
            self.add(
                pointer,
                INVALID_STATE_NAME,
                f"State name {name[:MAX_NAME]!r}{'...' if len(name) > MAX_NAME else ''} is "
                f"{len(name)} characters long; a state name must have 1 to {MAX_NAME} characters",
                f"rename the state (at most {MAX_NAME} characters) and update every Next/Default/StartAt",
            )
        if any(unicodedata.category(ch) == "Cc" for ch in name):
            self.add(
                pointer,
                INVALID_STATE_NAME,
                f"State name {name!r} contains a control character",
                "remove control characters (U+0000-001F, U+007F-009F) from the name",
            )
        first = self.state_names.setdefault(name, pointer)
        if first != pointer:
            self.add(
                pointer,
                DUPLICATE_STATE_NAME,
                f"Duplicate State name: {name!r} (also at {first})",
                "state names must be unique in the whole definition, including Parallel branches "
                "and Map processors; rename one of them",
            )

    def graph(self, states: Mapping[str, Any], states_at: str, start: str | None, pointer: str) -> None:
        """Transition targets, terminal states and reachability, within one scope."""
        edges: dict[str, list[str]] = {name: [] for name in states}
        terminal = False
        malformed = False  # a state whose Type is unknown: its own error says enough
        for name, raw in states.items():
            if not isinstance(raw, Mapping):
                malformed = True
                continue
            kind = raw.get("Type")
            malformed = malformed or kind not in STATE_FIELDS
            ends = raw.get("End") is True and kind not in ("Choice", "Succeed", "Fail")
            terminal = terminal or kind in ("Succeed", "Fail") or ends
            for target, at in _targets(raw, _at(states_at, name)):
                if target in states:
                    edges[name].append(target)
                else:
                    self.add(
                        at,
                        MISSING_TRANSITION_TARGET,
                        f"Missing 'Next' target: {target}",
                        f"name a state of this scope ({_names(states)}); a Parallel branch or Map "
                        "processor cannot jump out of it, nor the outside into it",
                    )
        if start is not None and start not in states:
            self.add(
                _at(pointer, "StartAt"),
                MISSING_TRANSITION_TARGET,
                f"Missing 'StartAt' target: {start}",
                f"name a state of this scope: {_names(states)}",
            )
            start = None
        if not terminal and not malformed:
            self.add(
                pointer,
                MISSING_END_STATE,
                "Workflow has no terminal state",
                'end at least one path with a Succeed or Fail state or a state with "End": true',
            )
        if not terminal:
            return  # as AWS: a scope without an end is not also reported as unreachable
        if start is None:
            return
        seen = {start}
        todo = [start]
        while todo:
            for target in edges[todo.pop()]:
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        for name in states:
            if name not in seen:
                self.add(
                    _at(states_at, name),
                    MISSING_TRANSITION_TARGET,
                    f'State "{name}" is not reachable.',
                    "route to it from StartAt, a Next, a Choice Default or a Catch, or delete it",
                )

    # -- one state ------------------------------------------------------------------------

    def state(self, name: str, raw: Any, pointer: str, scope: _Scope) -> None:
        if not isinstance(raw, Mapping):
            self.add(
                pointer,
                SCHEMA,
                f"State {name!r} must be a JSON object, not {_kind(raw)}",
                'write {"Type": "Pass", "End": true}',
            )
            return
        kind = raw.get("Type")
        jsonata = self.query_language(raw, pointer, self.top_jsonata)
        if "Type" not in raw:
            self.add(
                pointer,
                SCHEMA,
                f"State {name!r} has no 'Type' field",
                f'add "Type": one of {", ".join(STATE_FIELDS)}',
            )
            return
        if not isinstance(kind, str) or kind not in STATE_FIELDS:
            self.add(
                _at(pointer, "Type"),
                SCHEMA,
                f"Unknown state type {kind!r}",
                f"use one of {', '.join(STATE_FIELDS)} (case matters)",
            )
            return
        ctx = _Ctx(kind, jsonata, scope)
        self.unknown_fields(raw, pointer, STATE_FIELDS[kind], jsonata, f"a {kind} state")
        allowed = STATE_FIELDS[kind].allowed(jsonata)
        for key, value in raw.items():
            check = _FIELD_CHECKS.get(key)
            if check is not None and key in allowed:
                check(self, value, _at(pointer, key), ctx)
        for first, second in _EXCLUSIVE.get(kind, ()):
            if first in raw and second in raw:
                self.add(
                    _at(pointer, second),
                    SCHEMA,
                    f"A {kind} state cannot have both '{first}' and '{second}'",
                    f"keep only one of '{first}' and '{second}'",
                )
        if kind in _TRANSITIONS:
            self.transition(raw, pointer)
        rule = _TYPE_RULES.get(kind)
        if rule is not None:
            rule(self, raw, pointer, ctx)

    def transition(self, raw: Mapping[str, Any], pointer: str) -> None:
        has_next = "Next" in raw
        ends = raw.get("End") is True
        if has_next and ends:
            self.add(
                pointer,
                SCHEMA,
                "A state cannot have both 'Next' and 'End': true",
                "keep 'Next' to continue, or 'End': true to finish here",
            )
        elif not has_next and not ends:
            self.add(
                pointer,
                SCHEMA,
                "A state must have either 'Next' or 'End': true",
                'add "Next": "<state name>" or "End": true',
            )

    def unknown_fields(
        self, obj: Mapping[str, Any], pointer: str, fields: Fields, jsonata: bool, where: str
    ) -> None:
        """Fields that do not belong to the object, or only to the other query language."""
        allowed = fields.allowed(jsonata)
        other = fields.jsonpath if jsonata else fields.jsonata
        language, other_language = (JSONATA, JSONPATH) if jsonata else (JSONPATH, JSONATA)
        for key in obj:
            if key in allowed:
                continue
            at = _at(pointer, key)
            if key in other:
                self.add(
                    at,
                    SCHEMA,
                    f"The QueryLanguage is set to '{language}', but field '{key}' is only "
                    f"supported for the '{other_language}' QueryLanguage",
                    f'{_REPLACEMENTS.get(key, "remove it")}, or set "QueryLanguage": '
                    f'"{other_language}" on this state',
                )
            else:
                self.add(
                    at,
                    SCHEMA,
                    f"Field '{key}' is not supported in {where}",
                    f"remove it; {where} accepts {', '.join(sorted(allowed))}",
                )

    # -- values ---------------------------------------------------------------------------

    def optional_string(self, obj: Mapping[str, Any], pointer: str, name: str) -> None:
        if name in obj and not isinstance(obj[name], str):
            self.type_error(obj[name], _at(pointer, name), name, "a STRING", "write it as a JSON string")

    def string(self, value: Any, pointer: str, name: str, *, jsonata_ok: bool = False) -> str | None:
        """A string; in JSONata states also a ``{% %}`` expression (then None is returned)."""
        if jsonata_ok and is_jsonata(value):
            self.jsonata_string(value, pointer, name, frozenset())
            return None
        if not isinstance(value, str):
            self.type_error(
                value,
                pointer,
                name,
                "a STRING" + (" or a {% %} expression" if jsonata_ok else ""),
                "write it as a JSON string",
            )
            return None
        return value

    def integer(
        self, value: Any, pointer: str, name: str, low: int, high: int | None, *, jsonata_ok: bool = False
    ) -> int | None:
        """An integer in [low, high]; in JSONata states also a ``{% %}`` expression."""
        if jsonata_ok and is_jsonata(value):
            self.jsonata_string(value, pointer, name, frozenset())
            return None
        bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
        if not _is_int(value):
            self.type_error(
                value,
                pointer,
                name,
                f"an INTEGER {bounds}" + (" or a {% %} expression" if jsonata_ok else ""),
                f'write "{name}": {max(low, 1)}',
            )
            return None
        if value < low or (high is not None and value > high):
            self.add(
                pointer,
                SCHEMA,
                f"The value for the field '{name}' must be an INTEGER {bounds}, not {value}",
                f"use a whole number {bounds}",
            )
            return None
        return int(value)

    def number(
        self, value: Any, pointer: str, name: str, low: float, high: float | None, *, jsonata_ok: bool = False
    ) -> None:
        if jsonata_ok and is_jsonata(value):
            self.jsonata_string(value, pointer, name, frozenset())
            return
        bounds = f"from {low:g} to {high:g}" if high is not None else f"of at least {low:g}"
        if not _is_number(value):
            self.type_error(value, pointer, name, f"a NUMBER {bounds}", f'write "{name}": {low:g}')
        elif value < low or (high is not None and value > high):
            self.add(
                pointer,
                SCHEMA,
                f"The value for the field '{name}' must be a NUMBER {bounds}, not {value}",
                f"use a number {bounds}",
            )

    def enum(self, value: Any, pointer: str, name: str, choices: tuple[str, ...]) -> str | None:
        if value not in choices:
            self.add(
                pointer,
                SCHEMA,
                f"The value for the field '{name}' must be one of {', '.join(choices)}, not {value!r}",
                f"write one of {', '.join(choices)} (case matters)",
            )
            return None
        return str(value)

    def path(
        self, value: Any, pointer: str, name: str, *, definite: bool = False, reference: bool = False
    ) -> CompiledPath | None:
        """A JSONPath; ``definite``: a single value; ``reference``: definite and rooted at ``$``."""
        form = (
            "a reference path such as '$.result' (no $$, variables, filters or wildcards)"
            if reference
            else "a path such as '$.field', '$$.Execution.Input.field' or '$variable.field'"
        )
        if not isinstance(value, str):
            self.type_error(value, pointer, name, "a STRING holding a JSONPath", f"write {form}")
            return None
        try:
            path = compile_path(value)
        except PathError as exc:
            self.add(
                pointer,
                SCHEMA,
                f"The value for the field '{name}' must be a valid JSONPath: {exc}",
                f"write {form}",
            )
            return None
        if reference and not path.is_reference:
            self.add(
                pointer,
                SCHEMA,
                f"The value for the field '{name}' must be a reference path, not {value!r}",
                f"write {form}",
            )
            return None
        if definite and not path.definite:
            self.add(
                pointer,
                SCHEMA,
                f"The value for the field '{name}' must select a single value, "
                f"but {value!r} has filters, wildcards, slices or '..'",
                "use only names and indexes, e.g. '$.items[0].count'",
            )
            return None
        return path

    def path_or_null(self, value: Any, pointer: str, name: str, *, reference: bool = False) -> None:
        if value is not None:
            self.path(value, pointer, name, reference=reference)

    def intrinsic(self, value: str, pointer: str, name: str) -> None:
        try:
            from runtime.asl.intrinsics import compile_intrinsic
        except ImportError:  # pragma: no cover - module written alongside this one
            return
        try:
            compile_intrinsic(value)
        except ExpressionError as exc:
            self.add(
                pointer,
                SCHEMA,
                f"The value for the field '{name}' must be a valid intrinsic function call: {exc}",
                "write States.Name(arg, ...), e.g. States.Format('Hello {}', $.name)",
            )

    def path_or_intrinsic(self, value: Any, pointer: str, name: str) -> None:
        """A ``key.$`` value (and ErrorPath/CausePath): a JSONPath or an intrinsic function."""
        if not isinstance(value, str):
            self.type_error(
                value,
                pointer,
                name,
                "a STRING with a JSONPath or an intrinsic function",
                "write '$.field' or States.Format('...', $.field)",
            )
        elif _looks_like_intrinsic(value):
            self.intrinsic(value, pointer, name)
        else:
            try:
                compile_path(value)
            except PathError:
                self.add(
                    pointer,
                    SCHEMA,
                    f"The value for the field '{name}' must be a valid JSONPath or a "
                    f"valid intrinsic function call, not {value!r}",
                    "write a path ('$.field', '$$.Execution.Id', '$variable') or States.Name(...); "
                    "to pass the text literally drop '.$' from the field name",
                )

    def payload(self, value: Any, pointer: str) -> None:
        """A JSONPath payload template: a ``key.$`` takes a path or intrinsic, the rest is literal."""
        if isinstance(value, Mapping):
            for key, item in value.items():
                at = _at(pointer, key)
                if key.endswith(".$"):
                    self.path_or_intrinsic(item, at, key)
                    continue
                if isinstance(item, str) and (_looks_like_path(item) or _looks_like_intrinsic(item)):
                    self.add(
                        at,
                        NO_DOLLAR,
                        f"The field '{key}' holds {item!r}, which looks like a JSONPath or "
                        "intrinsic function, but is passed as literal text",
                        f"rename the field to '{key}.$' to evaluate it",
                        "warning",
                    )
                self.payload(item, at)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.payload(item, _at(pointer, i))

    def template_object(self, value: Any, pointer: str, name: str) -> None:
        if not isinstance(value, Mapping):
            self.type_error(
                value,
                pointer,
                name,
                "an OBJECT (a payload template)",
                'write {"key": "literal", "key2.$": "$.path"}',
            )
        else:
            self.payload(value, pointer)

    def jsonata_value(self, value: Any, pointer: str, name: str, allowed: frozenset[str]) -> None:
        """A JSONata template: any JSON whose ``{% %}`` strings are expressions."""
        if isinstance(value, str):
            self.jsonata_string(value, pointer, name, allowed)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                self.jsonata_value(item, _at(pointer, key), name, allowed)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.jsonata_value(item, _at(pointer, i), name, allowed)

    def jsonata_string(self, text: str, pointer: str, name: str, allowed: frozenset[str]) -> None:
        if not is_jsonata(text):
            if text.lstrip().startswith("{%") or text.rstrip().endswith("%}"):
                self.add(
                    pointer,
                    INVALID_JSONATA,
                    f"The field '{name}' holds {text!r}, which is not a complete "
                    "JSONata expression and is used as literal text",
                    'write the whole value as "{% <expression> %}", with no text outside the delimiters',
                    "warning",
                )
            return
        body = text[2:-2]
        if not body.strip():
            self.add(
                pointer,
                INVALID_JSONATA,
                f"The JSONata expression for the field '{name}' is empty",
                'write an expression between the delimiters, e.g. "{% $states.input %}"',
            )
            return
        for match in _STATES_FIELD.finditer(body):
            if match.group(1) not in allowed:
                self.add(
                    pointer,
                    INVALID_JSONATA,
                    f"$states.{match.group(1)} is not available in the field '{name}'",
                    "$states.result is available only in the Output and Assign of Task, Parallel and Map "
                    "states; $states.errorOutput only in the Output and Assign of a Catch",
                )
        try:
            from runtime.asl.jsonata import compile_expression
        except ImportError:  # pragma: no cover - module written alongside this one
            return
        try:
            compile_expression(text)
        except ExpressionError as exc:
            self.add(
                pointer,
                getattr(exc, "rule", None) or INVALID_JSONATA,
                f"The JSONata expression {text!r} for the field '{name}' is invalid: {exc}",
                "fix the expression (JSONata 2.0 syntax); read data from $states.input, "
                "$states.context or variables ($name)",
            )

    def assign(self, value: Any, pointer: str, ctx: _Ctx, scope: _Scope, allowed: frozenset[str]) -> None:
        """An Assign object: variable names, their scope, and the values' expressions."""
        if not isinstance(value, Mapping):
            self.type_error(
                value,
                pointer,
                "Assign",
                "an OBJECT mapping variable names to values",
                '"Assign": {"total": 0}' if ctx.jsonata else '"Assign": {"total.$": "$.sum"}',
            )
            return
        for key, item in value.items():
            at = _at(pointer, key)
            dynamic = not ctx.jsonata and key.endswith(".$")
            name = key[:-2] if dynamic else key
            if name == "states":
                self.add(
                    at,
                    RESERVED_VARIABLE_NAME,
                    "The variable name 'states' is reserved ($states)",
                    "choose another variable name",
                )
            elif not _is_variable_name(name) or len(name) > MAX_NAME:
                self.add(
                    at,
                    INVALID_VARIABLE_NAME,
                    f"{name!r} is not a valid variable name",
                    f"use a Unicode identifier of at most {MAX_NAME} characters (a letter or '_' then "
                    "letters, digits or '_'); a part of a variable (x.y, x[0]) cannot be assigned",
                )
            else:
                scope.assigned.setdefault(name, at)
            if ctx.jsonata:
                self.jsonata_value(item, at, "Assign", allowed)
            elif dynamic:
                self.path_or_intrinsic(item, at, key)
            else:
                if isinstance(item, str) and (_looks_like_path(item) or _looks_like_intrinsic(item)):
                    self.add(
                        at,
                        NO_DOLLAR,
                        f"The variable '{key}' is assigned the literal text {item!r}, which "
                        "looks like a JSONPath or intrinsic function",
                        f"rename the field to '{key}.$' to evaluate it",
                        "warning",
                    )
                self.payload(item, at)

    def error_equals(self, value: Any, pointer: str) -> list[str]:
        if not isinstance(value, list) or not value or not all(isinstance(e, str) for e in value):
            self.type_error(
                value,
                pointer,
                "ErrorEquals",
                "a non-empty ARRAY of error-name STRINGs",
                '"ErrorEquals": ["States.TaskFailed"]',
            )
            return []
        if "States.ALL" in value and len(value) > 1:
            self.add(
                pointer,
                SCHEMA,
                "'States.ALL' must appear alone in 'ErrorEquals'",
                'write "ErrorEquals": ["States.ALL"] in a separate, last retrier or catcher',
            )
        for i, error in enumerate(value):
            if error.startswith("States.") and error not in _STATES_ERRORS:
                self.add(
                    _at(pointer, i),
                    UNKNOWN_ERROR_NAME,
                    f"{error!r} is not a predefined error name",
                    "check the spelling (e.g. States.TaskFailed); names starting with 'States.' are "
                    "reserved for the predefined errors",
                    "warning",
                )
        return list(value)

    def handlers(self, value: Any, pointer: str, ctx: _Ctx, catch: bool) -> None:
        """Retry (retriers) or Catch (catchers)."""
        name, what = ("Catch", "catcher") if catch else ("Retry", "retrier")
        if not isinstance(value, list):
            self.type_error(
                value,
                pointer,
                name,
                f"an ARRAY of {what}s",
                f'"{name}": [{{"ErrorEquals": ["States.ALL"]' + (', "Next": "Handler"}]' if catch else "}]"),
            )
            return
        for i, item in enumerate(value):
            at = _at(pointer, i)
            if not isinstance(item, Mapping):
                self.add(
                    at,
                    SCHEMA,
                    f"A {what} must be a JSON object, not {_kind(item)}",
                    '{"ErrorEquals": ["States.ALL"]' + (', "Next": "Handler"}' if catch else "}"),
                )
                continue
            self.unknown_fields(item, at, _CATCHER if catch else _RETRIER, ctx.jsonata, f"a {what}")
            if "ErrorEquals" not in item:
                self.add(at, SCHEMA, f"A {what} must have 'ErrorEquals'", '"ErrorEquals": ["States.ALL"]')
            elif (
                "States.ALL" in self.error_equals(item["ErrorEquals"], _at(at, "ErrorEquals"))
                and i < len(value) - 1
            ):
                self.add(
                    _at(at, "ErrorEquals"),
                    SCHEMA,
                    f"'States.ALL' must appear in the last {what} of '{name}'",
                    f"move this {what} to the end of the array",
                )
            self.optional_string(item, at, "Comment")
            if catch:
                self.catcher(item, at, ctx)
            else:
                self.retrier(item, at)

    def retrier(self, item: Mapping[str, Any], at: str) -> None:
        if "IntervalSeconds" in item:
            self.integer(
                item["IntervalSeconds"], _at(at, "IntervalSeconds"), "IntervalSeconds", 1, MAX_SECONDS
            )
        if "MaxAttempts" in item:
            self.integer(item["MaxAttempts"], _at(at, "MaxAttempts"), "MaxAttempts", 0, MAX_SECONDS)
        if "BackoffRate" in item:
            self.number(item["BackoffRate"], _at(at, "BackoffRate"), "BackoffRate", 1.0, None)
        if "MaxDelaySeconds" in item:
            self.integer(
                item["MaxDelaySeconds"], _at(at, "MaxDelaySeconds"), "MaxDelaySeconds", 1, MAX_DELAY_SECONDS
            )
        if "JitterStrategy" in item:
            self.enum(
                item["JitterStrategy"], _at(at, "JitterStrategy"), "JitterStrategy", _ENUMS["JitterStrategy"]
            )

    def catcher(self, item: Mapping[str, Any], at: str, ctx: _Ctx) -> None:
        if "Next" not in item:
            self.add(at, SCHEMA, "A catcher must have 'Next'", 'add "Next": "<state that handles the error>"')
        else:
            self.string(item["Next"], _at(at, "Next"), "Next")
        error_output = frozenset({"errorOutput"})
        if not ctx.jsonata and "ResultPath" in item:
            self.path_or_null(item["ResultPath"], _at(at, "ResultPath"), "ResultPath", reference=True)
        if ctx.jsonata and "Output" in item:
            self.jsonata_value(item["Output"], _at(at, "Output"), "Output", error_output)
        if "Assign" in item:
            # A catcher assigns in the scope that holds the state, not inside its branches.
            self.assign(item["Assign"], _at(at, "Assign"), ctx, ctx.scope, error_output)

    # -- variables --------------------------------------------------------------------------

    def check_scopes(self) -> None:
        """AWS: a variable assigned in an inner scope cannot share a name with an outer one."""
        for scope in self.scopes:
            for name, at in scope.assigned.items():
                outer = scope.parent
                while outer is not None and name not in outer.assigned:
                    outer = outer.parent
                if outer is not None:
                    self.add(
                        at,
                        VARIABLE_SCOPE_CONFLICT,
                        f"The variable '{name}' is already assigned in an outer scope (at "
                        f"{outer.assigned[name] or '/'}); a Parallel branch or Map iteration cannot "
                        "assign it",
                        "rename the inner variable, and pass values out of the branch or iteration through "
                        "its Output (inner scopes may read outer variables)",
                    )

    def nested(self, value: Any, pointer: str, fields: Fields, ctx: _Ctx, where: str) -> None:
        """A Parallel branch or Map processor: a new transition and variable scope."""
        scope = _Scope(pointer, ctx.scope, ctx.scope.depth + 1)
        if scope.depth > MAX_NESTING:
            self.add(
                pointer,
                TOO_DEEPLY_NESTED,
                f"The states are nested more than {MAX_NESTING} levels deep",
                "flatten nested Parallel/Map states, or move a level into its own state machine",
            )
            return
        self.scopes.append(scope)
        self.machine(value, pointer, fields, scope, where)


def _names(states: Mapping[str, Any]) -> str:
    names = list(states)
    shown = ", ".join(repr(n) for n in names[:8])
    return shown + (f" and {len(names) - 8} more" if len(names) > 8 else "")


def _targets(raw: Mapping[str, Any], pointer: str) -> Iterator[tuple[str, str]]:
    """Every state name a state may transition to, with the pointer of the field naming it."""
    for key in ("Next", "Default"):
        if isinstance(raw.get(key), str) and raw[key]:
            yield raw[key], _at(pointer, key)
    for key in ("Choices", "Catch"):
        items = raw.get(key)
        if isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, Mapping) and isinstance(item.get("Next"), str) and item["Next"]:
                    yield item["Next"], _at(pointer, key, i, "Next")


# ------------------------------------------------------------------------------------------
# Per-field checks: one function per field name, applied where the field is allowed
# ------------------------------------------------------------------------------------------


def _comment(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
    if not isinstance(value, str):
        v.type_error(value, at, "Comment", "a STRING", "write the comment as a JSON string")


def _target(name: str) -> Check:
    def check(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
        if not isinstance(value, str) or not value:
            v.type_error(value, at, name, "a non-empty STRING naming a state", f'"{name}": "<state name>"')

    return check


def _end(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
    if type(value) is not bool:
        v.type_error(value, at, "End", "a BOOLEAN", '"End": true')


def _io_path(name: str, *, reference: bool = False) -> Check:
    def check(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
        v.path_or_null(value, at, name, reference=reference)

    return check


def _definite_path(name: str) -> Check:
    def check(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
        v.path(value, at, name, definite=True)

    return check


def _template(name: str) -> Check:
    def check(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
        v.template_object(value, at, name)

    return check


def _item_selector(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
    if not ctx.jsonata:
        v.template_object(value, at, "ItemSelector")
    elif isinstance(value, Mapping) or is_jsonata(value):
        v.jsonata_value(value, at, "ItemSelector", frozenset())
    else:
        v.type_error(
            value,
            at,
            "ItemSelector",
            "an OBJECT or a {% %} expression",
            '"ItemSelector": {"item": "{% $states.context.Map.Item.Value %}"}',
        )


def _result(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
    """Pass Result is static: a path in it is never evaluated (AWS warning)."""
    if _looks_like_path(value) or _has_dollar_key(value):
        v.add(
            at,
            PASS_RESULT_IS_STATIC,
            "The Result of a Pass state is static, but it contains a path that will not be evaluated",
            "use Parameters to build the output from paths, or remove the '$' text from Result",
            "warning",
        )


def _has_dollar_key(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(str(k).endswith(".$") or _has_dollar_key(item) for k, item in value.items())
    if isinstance(value, list):
        return any(_has_dollar_key(item) for item in value)
    return False


def _arguments(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
    if isinstance(value, Mapping) or is_jsonata(value):
        v.jsonata_value(value, at, "Arguments", frozenset())
    else:
        v.type_error(
            value,
            at,
            "Arguments",
            "an OBJECT or a {% %} expression",
            '"Arguments": {"FunctionName": "...", "Payload": "{% $states.input %}"}',
        )


def _output(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
    v.jsonata_value(value, at, "Output", frozenset({"result"}) if ctx.type in _HAS_RESULT else frozenset())


def _assign(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
    v.assign(value, at, ctx, ctx.scope, frozenset({"result"}) if ctx.type in _HAS_RESULT else frozenset())


def _resource(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
    if not isinstance(value, str):
        v.type_error(
            value, at, "Resource", "a STRING (an ARN or URI)", '"Resource": "arn:aws:states:::lambda:invoke"'
        )
    elif not value.strip():
        v.add(
            at,
            INVALID_RESOURCE,
            "The value for the field 'Resource' is empty",
            "name the task to run, e.g. an ARN like arn:aws:states:::lambda:invoke",
        )


def _seconds(name: str, low: int) -> Check:
    def check(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
        v.integer(value, at, name, low, MAX_SECONDS, jsonata_ok=ctx.jsonata)

    return check


def _timestamp(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
    from runtime.asl.choice import is_timestamp

    if ctx.jsonata and is_jsonata(value):
        v.jsonata_string(value, at, "Timestamp", frozenset())
    elif not is_timestamp(value):
        v.add(
            at,
            SCHEMA,
            f"The value for the field 'Timestamp' must be an RFC 3339 timestamp, not {value!r}",
            'write e.g. "2016-03-14T01:59:00Z" (uppercase T; Z or an offset such as +01:00)',
        )


def _fail_text(name: str) -> Check:
    def check(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
        if (
            v.string(value, at, name, jsonata_ok=ctx.jsonata) is not None
            and not ctx.jsonata
            and (_looks_like_path(value) or _looks_like_intrinsic(value))
        ):
            v.add(
                at,
                NO_PATH,
                f"The field '{name}' holds {value!r}, which looks like a path, but is used as literal text",
                f"use '{name}Path' to read the value from a path",
                "warning",
            )

    return check


def _fail_path(name: str) -> Check:
    def check(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
        v.path_or_intrinsic(value, at, name)

    return check


def _retry(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
    v.handlers(value, at, ctx, catch=False)


def _catch(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
    v.handlers(value, at, ctx, catch=True)


def _credentials(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
    if not isinstance(value, Mapping):
        v.type_error(
            value, at, "Credentials", "an OBJECT", '"Credentials": {"RoleArn": "arn:aws:iam::...:role/x"}'
        )
        return
    v.unknown_fields(value, at, _CREDENTIALS, ctx.jsonata, "Credentials")
    if "RoleArn" not in value and "RoleArn.$" not in value:
        v.add(
            at,
            SCHEMA,
            "Credentials must have 'RoleArn'",
            '"Credentials": {"RoleArn": "arn:aws:iam::...:role/x"}',
        )
    if "RoleArn" in value:
        v.string(value["RoleArn"], _at(at, "RoleArn"), "RoleArn", jsonata_ok=ctx.jsonata)
    if "RoleArn.$" in value and not ctx.jsonata:
        v.path_or_intrinsic(value["RoleArn.$"], _at(at, "RoleArn.$"), "RoleArn.$")


def _choices(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
    if not isinstance(value, list) or not value:
        v.type_error(
            value,
            at,
            "Choices",
            "a non-empty ARRAY of Choice Rules",
            '"Choices": [{"Condition": "{% ... %}", "Next": "X"}]'
            if ctx.jsonata
            else '"Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "X"}]',
        )
        return
    for i, rule in enumerate(value):
        rule_at = _at(at, i)
        if ctx.jsonata:
            _jsonata_rule(v, rule, rule_at, ctx)
            continue
        from runtime.asl.choice import check_choice_rule

        v.problems.extend(check_choice_rule(rule, rule_at, True))
        if isinstance(rule, Mapping) and isinstance(rule.get("Assign"), Mapping):
            v.assign(rule["Assign"], _at(rule_at, "Assign"), ctx, ctx.scope, frozenset())


def _jsonata_rule(v: _Validator, rule: Any, at: str, ctx: _Ctx) -> None:
    if not isinstance(rule, Mapping):
        v.add(
            at,
            SCHEMA,
            f"A Choice Rule must be a JSON object, not {_kind(rule)}",
            '{"Condition": "{% $states.input.n > 1 %}", "Next": "Big"}',
        )
        return
    for key in rule:
        if key not in _JSONATA_RULE.both:
            if key in _CHOICE_JSONPATH_FIELDS:
                v.add(
                    _at(at, key),
                    SCHEMA,
                    f"The QueryLanguage is set to 'JSONata', but field '{key}' is only "
                    "supported for the 'JSONPath' QueryLanguage",
                    'write the test as a JSONata "Condition": "{% ... %}"',
                )
            else:
                v.add(
                    _at(at, key),
                    SCHEMA,
                    f"Field '{key}' is not supported in a JSONata Choice Rule",
                    "a JSONata Choice Rule accepts Condition, Next, Assign, Output and Comment",
                )
    for key in ("Condition", "Next"):
        if key not in rule:
            v.add(
                at,
                SCHEMA,
                f"A JSONata Choice Rule must have '{key}'",
                '{"Condition": "{% $states.input.n > 1 %}", "Next": "Big"}',
            )
    if "Condition" in rule:
        condition = rule["Condition"]
        if is_jsonata(condition):
            v.jsonata_string(condition, _at(at, "Condition"), "Condition", frozenset())
        elif type(condition) is not bool:
            v.type_error(
                condition,
                _at(at, "Condition"),
                "Condition",
                "a {% %} expression or a BOOLEAN",
                '"Condition": "{% $states.input.n > 1 %}"',
            )
    if "Next" in rule:
        _target("Next")(v, rule["Next"], _at(at, "Next"), ctx)
    if "Comment" in rule:
        _comment(v, rule["Comment"], _at(at, "Comment"), ctx)
    if "Output" in rule:
        v.jsonata_value(rule["Output"], _at(at, "Output"), "Output", frozenset())
    if "Assign" in rule:
        v.assign(rule["Assign"], _at(at, "Assign"), ctx, ctx.scope, frozenset())


def _branches(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
    if not isinstance(value, list) or not value:
        v.type_error(
            value,
            at,
            "Branches",
            "a non-empty ARRAY of branches",
            '"Branches": [{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}]',
        )
        return
    for i, branch in enumerate(value):
        v.nested(branch, _at(at, i), _BRANCH, ctx, "a Parallel branch")


def _processor(name: str) -> Check:
    def check(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
        v.nested(value, at, _PROCESSOR, ctx, f"the Map {name}")
        if isinstance(value, Mapping) and "ProcessorConfig" in value:
            _processor_config(v, value["ProcessorConfig"], _at(at, "ProcessorConfig"))

    return check


def _processor_config(v: _Validator, value: Any, at: str) -> None:
    if not isinstance(value, Mapping):
        v.type_error(value, at, "ProcessorConfig", "an OBJECT", '"ProcessorConfig": {"Mode": "INLINE"}')
        return
    v.unknown_fields(value, at, _PROCESSOR_CONFIG, False, "ProcessorConfig")
    for key in ("Mode", "ExecutionType"):
        if key in value:
            v.enum(value[key], _at(at, key), key, _ENUMS[key])
    if value.get("Mode") == "DISTRIBUTED" and "ExecutionType" not in value:
        v.add(
            at,
            SCHEMA,
            'ProcessorConfig with "Mode": "DISTRIBUTED" must have \'ExecutionType\'',
            'add "ExecutionType": "STANDARD" or "EXPRESS"',
        )


def _items(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
    if isinstance(value, list | Mapping) or is_jsonata(value):
        v.jsonata_value(value, at, "Items", frozenset())
    else:
        v.type_error(
            value,
            at,
            "Items",
            "an ARRAY, an OBJECT or a {% %} expression",
            '"Items": "{% $states.input.orders %}"',
        )


def _count(name: str) -> Check:
    def check(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
        v.integer(value, at, name, 0, None, jsonata_ok=ctx.jsonata)

    return check


def _percentage(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
    v.number(value, at, "ToleratedFailurePercentage", 0, 100, jsonata_ok=ctx.jsonata)


def _label(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
    if not isinstance(value, str):
        v.type_error(value, at, "Label", "a STRING", '"Label": "ProcessOrders"')
        return
    if not value or len(value) > MAX_LABEL or _LABEL_FORBIDDEN.search(value):
        v.add(
            at,
            INVALID_LABEL_NAME,
            f"Invalid Map Label {value!r}",
            f"use 1 to {MAX_LABEL} characters without whitespace, brackets, wildcards, control characters "
            'or any of " # % \\ ^ | ~ ` $ & , ; : /',
        )
        return
    first = v.labels.setdefault(value, at)
    if first != at:
        v.add(
            at,
            DUPLICATE_LABEL_NAME,
            f"Duplicate Map Label {value!r} (also at {first})",
            "give every Map state a unique Label",
        )


def _item_reader(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
    if not isinstance(value, Mapping):
        v.type_error(
            value,
            at,
            "ItemReader",
            "an OBJECT",
            '"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", ...}',
        )
        return
    v.unknown_fields(value, at, _ITEM_READER, ctx.jsonata, "ItemReader")
    if "Resource" not in value:
        v.add(at, SCHEMA, "ItemReader must have 'Resource'", '"Resource": "arn:aws:states:::s3:getObject"')
    else:
        _resource(v, value["Resource"], _at(at, "Resource"), ctx)
    _reader_writer_arguments(v, value, at, ctx)
    config = value.get("ReaderConfig")
    if "ReaderConfig" not in value:
        return
    config_at = _at(at, "ReaderConfig")
    if not isinstance(config, Mapping):
        v.type_error(config, config_at, "ReaderConfig", "an OBJECT", '"ReaderConfig": {"InputType": "CSV"}')
        return
    v.unknown_fields(config, config_at, _READER_CONFIG, ctx.jsonata, "ReaderConfig")
    for key, enum in (
        ("InputType", "InputType"),
        ("Transformation", "ReaderTransformation"),
        ("ManifestType", "ManifestType"),
        ("CSVHeaderLocation", "CSVHeaderLocation"),
        ("CSVDelimiter", "CSVDelimiter"),
    ):
        if key in config:
            v.enum(config[key], _at(config_at, key), key, _ENUMS[enum])
    headers = config.get("CSVHeaders")
    if "CSVHeaders" in config and (
        not isinstance(headers, list) or not all(isinstance(h, str) for h in headers)
    ):
        v.type_error(
            headers,
            _at(config_at, "CSVHeaders"),
            "CSVHeaders",
            "an ARRAY of STRINGs",
            '"CSVHeaders": ["id", "name"]',
        )
    if config.get("CSVHeaderLocation") == "GIVEN" and "CSVHeaders" not in config:
        v.add(
            config_at,
            SCHEMA,
            '"CSVHeaderLocation": "GIVEN" requires \'CSVHeaders\'',
            'add "CSVHeaders": ["column1", "column2"], or use "FIRST_ROW"',
        )
    if config.get("Transformation") == "LOAD_AND_FLATTEN" and "InputType" not in config:
        v.add(
            config_at,
            SCHEMA,
            '"Transformation": "LOAD_AND_FLATTEN" requires \'InputType\'',
            'add "InputType": "CSV", "JSON", "JSONL" or "PARQUET"',
        )
    if "MaxItems" in config:
        v.integer(
            config["MaxItems"], _at(config_at, "MaxItems"), "MaxItems", 1, MAX_ITEMS, jsonata_ok=ctx.jsonata
        )
    if "MaxItemsPath" in config and not ctx.jsonata:
        v.path(config["MaxItemsPath"], _at(config_at, "MaxItemsPath"), "MaxItemsPath", definite=True)
    if "MaxItems" in config and "MaxItemsPath" in config:
        v.add(
            _at(config_at, "MaxItemsPath"),
            SCHEMA,
            "ReaderConfig cannot have both 'MaxItems' and 'MaxItemsPath'",
            "keep only one of them",
        )
    if "ItemsPointer" in config and not (
        isinstance(config["ItemsPointer"], str)
        and (config["ItemsPointer"] == "" or config["ItemsPointer"].startswith("/"))
    ):
        v.type_error(
            config["ItemsPointer"],
            _at(config_at, "ItemsPointer"),
            "ItemsPointer",
            "a STRING holding a JSON Pointer",
            '"ItemsPointer": "/inventory/products"',
        )


def _reader_writer_arguments(v: _Validator, value: Mapping[str, Any], at: str, ctx: _Ctx) -> None:
    if "Parameters" in value and not ctx.jsonata:
        v.template_object(value["Parameters"], _at(at, "Parameters"), "Parameters")
    if "Arguments" in value and ctx.jsonata:
        _arguments(v, value["Arguments"], _at(at, "Arguments"), ctx)


def _item_batcher(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
    if not isinstance(value, Mapping):
        v.type_error(value, at, "ItemBatcher", "an OBJECT", '"ItemBatcher": {"MaxItemsPerBatch": 100}')
        return
    v.unknown_fields(value, at, _ITEM_BATCHER, ctx.jsonata, "ItemBatcher")
    if "MaxItemsPerBatch" in value:
        v.integer(
            value["MaxItemsPerBatch"],
            _at(at, "MaxItemsPerBatch"),
            "MaxItemsPerBatch",
            1,
            None,
            jsonata_ok=ctx.jsonata,
        )
    if "MaxInputBytesPerBatch" in value:
        v.integer(
            value["MaxInputBytesPerBatch"],
            _at(at, "MaxInputBytesPerBatch"),
            "MaxInputBytesPerBatch",
            1,
            MAX_BATCH_BYTES,
            jsonata_ok=ctx.jsonata,
        )
    for key in ("MaxItemsPerBatch", "MaxInputBytesPerBatch"):
        if key + "Path" in value and not ctx.jsonata:
            v.path(value[key + "Path"], _at(at, key + "Path"), key + "Path", definite=True)
        if key in value and key + "Path" in value:
            v.add(
                _at(at, key + "Path"),
                SCHEMA,
                f"ItemBatcher cannot have both '{key}' and '{key}Path'",
                "keep only one of them",
            )
    if "BatchInput" in value:
        if ctx.jsonata:
            v.jsonata_value(value["BatchInput"], _at(at, "BatchInput"), "BatchInput", frozenset())
        else:
            v.template_object(value["BatchInput"], _at(at, "BatchInput"), "BatchInput")


def _result_writer(v: _Validator, value: Any, at: str, ctx: _Ctx) -> None:
    if not isinstance(value, Mapping):
        v.type_error(
            value,
            at,
            "ResultWriter",
            "an OBJECT",
            '"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", ...}',
        )
        return
    v.unknown_fields(value, at, _RESULT_WRITER, ctx.jsonata, "ResultWriter")
    if "Resource" in value:
        _resource(v, value["Resource"], _at(at, "Resource"), ctx)
    _reader_writer_arguments(v, value, at, ctx)
    if not value:
        v.add(
            at,
            SCHEMA,
            "ResultWriter is empty; AWS accepts it but the Map fails when it runs",
            "add WriterConfig, or Resource with the bucket and prefix to write to",
            "warning",
        )
    config = value.get("WriterConfig")
    if "WriterConfig" not in value:
        return
    config_at = _at(at, "WriterConfig")
    if not isinstance(config, Mapping):
        v.type_error(config, config_at, "WriterConfig", "an OBJECT", '"WriterConfig": {"OutputType": "JSON"}')
        return
    v.unknown_fields(config, config_at, _WRITER_CONFIG, ctx.jsonata, "WriterConfig")
    for key, enum in (("OutputType", "OutputType"), ("Transformation", "WriterTransformation")):
        if key in config:
            v.enum(config[key], _at(config_at, key), key, _ENUMS[enum])


_FIELD_CHECKS: Final[dict[str, Check]] = {
    "Comment": _comment,
    "Next": _target("Next"),
    "Default": _target("Default"),
    "End": _end,
    "InputPath": _io_path("InputPath"),
    "OutputPath": _io_path("OutputPath"),
    "ResultPath": _io_path("ResultPath", reference=True),
    "Parameters": _template("Parameters"),
    "ResultSelector": _template("ResultSelector"),
    "ItemSelector": _item_selector,
    "Result": _result,
    "Arguments": _arguments,
    "Output": _output,
    "Assign": _assign,
    "Resource": _resource,
    "TimeoutSeconds": _seconds("TimeoutSeconds", 1),
    "HeartbeatSeconds": _seconds("HeartbeatSeconds", 1),
    "Seconds": _seconds("Seconds", 0),
    "Timestamp": _timestamp,
    "TimeoutSecondsPath": _definite_path("TimeoutSecondsPath"),
    "HeartbeatSecondsPath": _definite_path("HeartbeatSecondsPath"),
    "SecondsPath": _definite_path("SecondsPath"),
    "TimestampPath": _definite_path("TimestampPath"),
    "ItemsPath": _definite_path("ItemsPath"),
    "MaxConcurrencyPath": _definite_path("MaxConcurrencyPath"),
    "ToleratedFailureCountPath": _definite_path("ToleratedFailureCountPath"),
    "ToleratedFailurePercentagePath": _definite_path("ToleratedFailurePercentagePath"),
    "Error": _fail_text("Error"),
    "Cause": _fail_text("Cause"),
    "ErrorPath": _fail_path("ErrorPath"),
    "CausePath": _fail_path("CausePath"),
    "Retry": _retry,
    "Catch": _catch,
    "Credentials": _credentials,
    "Choices": _choices,
    "Branches": _branches,
    "ItemProcessor": _processor("ItemProcessor"),
    "Iterator": _processor("Iterator"),
    "Items": _items,
    "MaxConcurrency": _count("MaxConcurrency"),
    "ToleratedFailureCount": _count("ToleratedFailureCount"),
    "ToleratedFailurePercentage": _percentage,
    "Label": _label,
    "ItemReader": _item_reader,
    "ItemBatcher": _item_batcher,
    "ResultWriter": _result_writer,
}

# ------------------------------------------------------------------------------------------
# Per-type rules: what relates several fields of one state
# ------------------------------------------------------------------------------------------

TypeRule = Callable[[_Validator, Mapping[str, Any], str, _Ctx], None]


def _required(*names: str) -> TypeRule:
    def rule(v: _Validator, raw: Mapping[str, Any], at: str, ctx: _Ctx) -> None:
        for name in names:
            if name not in raw:
                v.add(at, SCHEMA, f"A {ctx.type} state must have '{name}'", f'add "{name}"')

    return rule


def _task(v: _Validator, raw: Mapping[str, Any], at: str, ctx: _Ctx) -> None:
    _required("Resource")(v, raw, at, ctx)
    timeout: Any = raw.get("TimeoutSeconds")
    heartbeat: Any = raw.get("HeartbeatSeconds")
    if _is_int(timeout) and _is_int(heartbeat) and heartbeat >= timeout:
        v.add(
            _at(at, "HeartbeatSeconds"),
            SCHEMA,
            f"'HeartbeatSeconds' ({heartbeat}) must be smaller than 'TimeoutSeconds' ({timeout})",
            "lower HeartbeatSeconds or raise TimeoutSeconds",
        )


def _wait(v: _Validator, raw: Mapping[str, Any], at: str, ctx: _Ctx) -> None:
    allowed = STATE_FIELDS["Wait"].allowed(ctx.jsonata)
    present = [f for f in _WAIT_FIELDS if f in raw and f in allowed]
    if len(present) != 1:
        forms = ", ".join(f for f in _WAIT_FIELDS if f in allowed)
        v.add(
            at,
            SCHEMA,
            f"A Wait state must have exactly one of {forms}; it has "
            f"{', '.join(present) if present else 'none'}",
            f"keep exactly one of {forms}",
        )


def _map(v: _Validator, raw: Mapping[str, Any], at: str, ctx: _Ctx) -> None:
    if "ItemProcessor" not in raw and "Iterator" not in raw:
        v.add(
            at,
            SCHEMA,
            "A Map state must have 'ItemProcessor' (or the deprecated 'Iterator')",
            'add "ItemProcessor": {"StartAt": "...", "States": {...}}',
        )
    processor = raw.get("ItemProcessor", raw.get("Iterator"))
    config = processor.get("ProcessorConfig") if isinstance(processor, Mapping) else None
    distributed = isinstance(config, Mapping) and config.get("Mode") == "DISTRIBUTED"
    if not distributed:
        for name in _DISTRIBUTED_ONLY:
            if name in raw:
                v.add(
                    _at(at, name),
                    DISTRIBUTED_ONLY_FIELD,
                    f"'{name}' only takes effect in a Distributed Map",
                    'set "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"} in the '
                    "ItemProcessor, or remove the field",
                    "warning",
                )


_TYPE_RULES: Final[dict[str, TypeRule]] = {
    "Task": _task,
    "Choice": _required("Choices"),
    "Wait": _wait,
    "Parallel": _required("Branches"),
    "Map": _map,
}

# ------------------------------------------------------------------------------------------
# Entry points
# ------------------------------------------------------------------------------------------


def validate_definition(definition: Any) -> list[Problem]:
    """Every problem in a parsed ASL definition (errors and warnings), each at its JSON pointer."""
    if definition is None:
        return [
            Problem(
                "",
                MISSING_DESCRIPTION,
                "The definition is null or empty",
                'pass a state machine: {"StartAt": "First", "States": {...}}',
            )
        ]
    if not isinstance(definition, Mapping):
        return [
            Problem(
                "",
                SCHEMA,
                f"A state machine definition must be a JSON object, not {_kind(definition)}",
                'write {"StartAt": "First", "States": {"First": {"Type": "Pass", "End": true}}}',
            )
        ]
    validator = _Validator()
    try:
        validator.run(definition)
    except RecursionError:
        validator.add(
            "",
            TOO_DEEPLY_NESTED,
            "The states are too deeply nested to validate",
            "flatten nested Parallel/Map states, or move a level into its own state machine",
        )
    return validator.problems


def validate_text(text: str) -> list[Problem]:
    """Problems of a definition given as JSON text: syntax errors (with line and column) first.

    Duplicate keys are reported too, since ``json`` keeps only the last one silently; in a
    ``States`` object that is a duplicate state name.
    """
    if not text or not text.strip():
        return [
            Problem(
                "",
                MISSING_DESCRIPTION,
                "The definition is empty",
                'pass a state machine: {"StartAt": "First", "States": {...}}',
            )
        ]
    duplicates: dict[int, list[str]] = {}

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in items:
            if key in obj:
                duplicates.setdefault(id(obj), []).append(key)
            obj[key] = value
        return obj

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    try:
        definition = json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except json.JSONDecodeError as exc:
        return [
            Problem(
                "",
                INVALID_JSON,
                f"Invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                "fix the JSON syntax there (quotes, commas, brackets); comments are not allowed",
            )
        ]
    except ValueError as exc:
        return [Problem("", INVALID_JSON, f"Invalid JSON: {exc}", "use only standard JSON values")]
    except RecursionError:
        return [
            Problem("", TOO_DEEPLY_NESTED, "The JSON is too deeply nested to parse", "flatten the definition")
        ]
    problems = [*_duplicate_keys(definition, "", duplicates, False), *validate_definition(definition)]
    return problems


def _duplicate_keys(
    node: Any, pointer: str, duplicates: dict[int, list[str]], in_states: bool
) -> Iterator[Problem]:
    if isinstance(node, dict):
        for key in duplicates.get(id(node), ()):
            if in_states:
                yield Problem(
                    _at(pointer, key),
                    DUPLICATE_STATE_NAME,
                    f"Duplicate State name: {key!r}",
                    "state names must be unique; rename one of the states",
                )
            else:
                yield Problem(
                    _at(pointer, key),
                    DUPLICATE_JSON_KEY,
                    f"The field '{key}' appears more than once",
                    "keep one; JSON parsers keep only the last value",
                )
        for key, value in node.items():
            yield from _duplicate_keys(
                value, _at(pointer, key), duplicates, key == "States" and isinstance(value, dict)
            )
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _duplicate_keys(item, _at(pointer, i), duplicates, False)
