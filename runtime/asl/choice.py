"""Choice Rules of JSONPath Choice states: static checks, compilation, evaluation.

A Choice state runs on every transition through it, so a rule is checked once (for the
validator), compiled once (paths, StringMatches patterns and Timestamp operands parsed) and
then evaluated with plain comparisons on that precompiled data.

Semantics follow AWS Step Functions:

* A value of the wrong type for the operator compares false, never errors ("Step Functions
  doesn't attempt to match a numeric field to a string value"); booleans are never numbers.
* ``Variable`` (or a ``*Path`` operand) that selects nothing raises ``States.Runtime``, except
  for ``IsPresent``, which exists to test exactly that.
* String ordering is Java's ``String.compareTo`` (UTF-16 code units), which differs from
  Python's code-point order only between supplementary characters and U+E000..U+FFFF.
* Timestamps are RFC 3339 with an uppercase ``T`` and ``Z`` (or a numeric offset), optional
  fractional seconds of any length, and compare as instants.
* ``StringMatches``: ``*`` matches any run of characters; ``\\*`` is a literal ``*`` and ``\\\\``
  a literal backslash; nothing else is special.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from functools import lru_cache
from typing import Any, Final

from runtime.asl.errors import DefinitionError, Problem, StatesError, StatesNames
from runtime.asl.paths import CompiledPath, PathError, PathNotFound, compile_path

__all__ = [
    "ChoiceRule",
    "check_choice_rule",
    "compile_choice_rule",
    "is_timestamp",
    "timestamp_key",
]

SCHEMA: Final = "SCHEMA_VALIDATION_FAILED"

# ---------------------------------------------------------------------------------------------
# Operators
# ---------------------------------------------------------------------------------------------

_BOOLEAN_OPS: Final = ("And", "Or", "Not")
_TYPE_TESTS: Final = ("IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")
_RELATIONS: Final = ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")

#: operator name -> (operand kind, relation); kinds: String, Numeric, Boolean, Timestamp, Matches
_COMPARISONS: Final[dict[str, tuple[str, str]]] = {
    **{f"{kind}{rel}": (kind, rel) for kind in ("String", "Numeric", "Timestamp") for rel in _RELATIONS},
    "BooleanEquals": ("Boolean", "Equals"),
    "StringMatches": ("Matches", "Matches"),
}
#: ``<operator>Path`` -> the literal operator it mirrors (StringMatches has no Path form in AWS)
_PATH_COMPARISONS: Final[dict[str, str]] = {
    f"{name}Path": name for name in _COMPARISONS if name != "StringMatches"
}
_DATA_TESTS: Final = frozenset({*_COMPARISONS, *_PATH_COMPARISONS, *_TYPE_TESTS})
_OPERATORS: Final = frozenset({*_DATA_TESTS, *_BOOLEAN_OPS})
_OTHER_FIELDS: Final = ("Variable", "Next", "Comment", "Assign")
_JSONATA_ONLY: Final = ("Condition", "Output")

_KIND_WORD: Final = {
    "String": "a string",
    "Matches": "a string",
    "Numeric": "a number",
    "Boolean": "a boolean",
    "Timestamp": "an RFC 3339 timestamp string",
}
_PATH_FORM: Final = "a reference path such as '$.field', '$$.Execution.Input.field' or '$variable.field'"


# ---------------------------------------------------------------------------------------------
# Timestamps
# ---------------------------------------------------------------------------------------------

_TIMESTAMP: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:Z|([+-])([0-9]{2}):([0-9]{2}))"
)

TimestampKey = tuple[int, str]


@lru_cache(maxsize=4096)
def timestamp_key(text: str) -> TimestampKey | None:
    """The instant ``text`` names, as a totally ordered key, or None when it is no timestamp.

    The key is (whole seconds since 0001-01-01 UTC, fractional digits without trailing
    zeros): ordering digit strings lexicographically orders the fractions numerically, so
    precision is exact at any number of digits, and equal instants written with different
    offsets or trailing zeros get equal keys. Cached: parsing costs microseconds and the
    same input timestamps tend to come back on every pass through a Choice.
    """
    m = _TIMESTAMP.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = m.groups()
    h, mi, s = int(hour), int(minute), int(second)
    if h > 23 or mi > 59 or s > 59:
        return None
    try:
        days = date(int(year), int(month), int(day)).toordinal()
    except ValueError:
        return None
    seconds = days * 86400 + h * 3600 + mi * 60 + s
    if sign is not None:
        oh, om = int(off_h), int(off_m)
        if oh > 23 or om > 59:
            return None
        offset = oh * 3600 + om * 60
        seconds += -offset if sign == "+" else offset
    return seconds, fraction.rstrip("0") if fraction else ""


def is_timestamp(value: Any) -> bool:
    """True for a string that ASL accepts as a timestamp."""
    return isinstance(value, str) and timestamp_key(value) is not None


# ---------------------------------------------------------------------------------------------
# Values: "normalise" to the operator's type (None = wrong type) and compare
# ---------------------------------------------------------------------------------------------

_NUMERIC: Final = (int, float)  # exact types: bool is an int subclass and must not count


def _as_string(value: Any) -> Any:
    return value if isinstance(value, str) else None


def _as_number(value: Any) -> Any:
    return value if type(value) in _NUMERIC else None


def _as_boolean(value: Any) -> Any:
    return value if type(value) is bool else None


def _as_timestamp(value: Any) -> Any:
    return timestamp_key(value) if isinstance(value, str) else None


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-be", "surrogatepass")


def _java_lt(a: str, b: str) -> bool:
    """``a.compareTo(b) < 0`` in Java: UTF-16 code-unit order.

    Code-point order agrees unless both strings hold non-ASCII characters at the first
    difference, so the encoding is only paid for when neither side is ASCII.
    """
    if a.isascii() or b.isascii():
        return a < b
    return _utf16(a) < _utf16(b)


Relation = Callable[[Any, Any], bool]

_ORDERED: Final[dict[str, Relation]] = {
    "Equals": operator.eq,
    "LessThan": operator.lt,
    "GreaterThan": operator.gt,
    "LessThanEquals": operator.le,
    "GreaterThanEquals": operator.ge,
}
_STRING_ORDER: Final[dict[str, Relation]] = {
    "Equals": operator.eq,
    "LessThan": _java_lt,
    "GreaterThan": lambda a, b: _java_lt(b, a),
    "LessThanEquals": lambda a, b: not _java_lt(b, a),
    "GreaterThanEquals": lambda a, b: not _java_lt(a, b),
}
_NORMALISE: Final[dict[str, Callable[[Any], Any]]] = {
    "String": _as_string,
    "Numeric": _as_number,
    "Boolean": _as_boolean,
    "Timestamp": _as_timestamp,
}


def _relation(kind: str, rel: str) -> Relation:
    return _STRING_ORDER[rel] if kind == "String" else _ORDERED[rel]


def _literal_test(kind: str, rel: str, operand: Any) -> Callable[[Any], bool]:
    """A one-argument predicate comparing a selected value with a literal operand."""
    if kind == "Matches":
        matcher = _compile_wildcard(operand)
        return lambda value: isinstance(value, str) and matcher(value)
    if rel == "Equals" and kind != "Timestamp":
        # Equality needs no normalising: a str only equals a str and True is True, and the
        # numeric case only has to keep booleans out (True == 1 in Python).
        if kind == "Boolean":
            return lambda value: value is operand
        if kind == "Numeric":
            return lambda value: value == operand and type(value) in _NUMERIC
        return lambda value: value == operand and isinstance(value, str)
    normalise = _NORMALISE[kind]
    compare = _relation(kind, rel)
    key = normalise(operand)

    def test(value: Any) -> bool:
        v = normalise(value)
        return v is not None and compare(v, key)

    return test


def _path_test(kind: str, rel: str) -> Callable[[Any, Any], bool]:
    """A two-argument predicate for ``*Path``: both sides must be of the operator's type."""
    normalise = _NORMALISE[kind]
    compare = _relation(kind, rel)

    def test(value: Any, other: Any) -> bool:
        v = normalise(value)
        if v is None:
            return False
        o = normalise(other)
        return o is not None and compare(v, o)

    return test


_TYPE_PREDICATES: Final[dict[str, Callable[[Any], bool]]] = {
    "IsNull": lambda value: value is None,
    "IsNumeric": lambda value: type(value) in _NUMERIC,
    "IsString": lambda value: isinstance(value, str),
    "IsBoolean": lambda value: type(value) is bool,
    "IsTimestamp": is_timestamp,
}


# ---------------------------------------------------------------------------------------------
# StringMatches
# ---------------------------------------------------------------------------------------------


def _wildcard_segments(pattern: str) -> list[str]:
    """Split on unescaped ``*``; ``\\*`` and ``\\\\`` unescape, any other backslash is literal."""
    segments: list[str] = []
    buf: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n and pattern[i + 1] in "*\\":
            buf.append(pattern[i + 1])
            i += 2
            continue
        if ch == "*":
            segments.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    segments.append("".join(buf))
    return segments


def _compile_wildcard(pattern: str) -> Callable[[str], bool]:
    """Compile a StringMatches pattern into a matcher without regex backtracking.

    The literal segments between stars are anchored at both ends and the middle ones placed
    leftmost with ``str.find``; leftmost placement is optimal for ``*``-only globs, so the
    match is linear in practice and immune to catastrophic backtracking on large inputs.
    """
    segments = _wildcard_segments(pattern)
    if len(segments) == 1:
        literal = segments[0]
        return lambda text: text == literal
    head, tail = segments[0], segments[-1]
    middle = tuple(s for s in segments[1:-1] if s)
    shortest = len(head) + len(tail)

    def match(text: str) -> bool:
        if len(text) < shortest or not text.startswith(head) or not text.endswith(tail):
            return False
        pos, end = len(head), len(text) - len(tail)
        for segment in middle:
            found = text.find(segment, pos, end)
            if found < 0:
                return False
            pos = found + len(segment)
        return True

    return match


# ---------------------------------------------------------------------------------------------
# Compiled rules
# ---------------------------------------------------------------------------------------------


def _invalid_path(path: CompiledPath) -> StatesError:
    return StatesError(
        StatesNames.RUNTIME,
        f"Invalid path '{path.text}': The choice state's condition path references an invalid value.",
    )


class ChoiceRule:
    """A compiled Choice Rule; ``next`` is the target state of a top-level rule, else None."""

    __slots__ = ("next",)

    def __init__(self) -> None:
        self.next: str | None = None

    def matches(self, input: Any, context: Any, variables: Mapping[str, Any]) -> bool:
        """Evaluate against the state's effective input, the context object and the variables.

        Raises ``StatesError(States.Runtime)`` when a path of a data-test other than
        IsPresent selects nothing.
        """
        raise NotImplementedError


class _And(ChoiceRule):
    __slots__ = ("rules",)

    def __init__(self, rules: tuple[ChoiceRule, ...]) -> None:
        super().__init__()
        self.rules = rules

    def matches(self, input: Any, context: Any, variables: Mapping[str, Any]) -> bool:
        for rule in self.rules:  # noqa: SIM110 - a plain loop beats all() over a generator
            if not rule.matches(input, context, variables):
                return False
        return True

    def __repr__(self) -> str:
        return f"And{list(self.rules)!r}"


class _Or(ChoiceRule):
    __slots__ = ("rules",)

    def __init__(self, rules: tuple[ChoiceRule, ...]) -> None:
        super().__init__()
        self.rules = rules

    def matches(self, input: Any, context: Any, variables: Mapping[str, Any]) -> bool:
        for rule in self.rules:  # noqa: SIM110 - a plain loop beats any() over a generator
            if rule.matches(input, context, variables):
                return True
        return False

    def __repr__(self) -> str:
        return f"Or{list(self.rules)!r}"


class _Not(ChoiceRule):
    __slots__ = ("rule",)

    def __init__(self, rule: ChoiceRule) -> None:
        super().__init__()
        self.rule = rule

    def matches(self, input: Any, context: Any, variables: Mapping[str, Any]) -> bool:
        return not self.rule.matches(input, context, variables)

    def __repr__(self) -> str:
        return f"Not({self.rule!r})"


class _Test(ChoiceRule):
    """``Variable`` + operator with a literal operand (also the Is* type tests)."""

    __slots__ = ("op", "test", "variable")

    def __init__(self, op: str, variable: CompiledPath, test: Callable[[Any], bool]) -> None:
        super().__init__()
        self.op = op
        self.variable = variable
        self.test = test

    def matches(self, input: Any, context: Any, variables: Mapping[str, Any]) -> bool:
        try:
            value = self.variable.resolve(input, context, variables)
        except PathNotFound:
            raise _invalid_path(self.variable) from None
        return self.test(value)

    def __repr__(self) -> str:
        return f"{self.op}({self.variable.text})"


class _PathTest(ChoiceRule):
    """``Variable`` + ``<operator>Path``: the operand is selected at run time too."""

    __slots__ = ("op", "operand", "test", "variable")

    def __init__(
        self, op: str, variable: CompiledPath, operand: CompiledPath, test: Callable[[Any, Any], bool]
    ) -> None:
        super().__init__()
        self.op = op
        self.variable = variable
        self.operand = operand
        self.test = test

    def matches(self, input: Any, context: Any, variables: Mapping[str, Any]) -> bool:
        try:
            value = self.variable.resolve(input, context, variables)
        except PathNotFound:
            raise _invalid_path(self.variable) from None
        try:
            other = self.operand.resolve(input, context, variables)
        except PathNotFound:
            raise _invalid_path(self.operand) from None
        return self.test(value, other)

    def __repr__(self) -> str:
        return f"{self.op}({self.variable.text}, {self.operand.text})"


class _IsPresent(ChoiceRule):
    __slots__ = ("expected", "variable")

    def __init__(self, variable: CompiledPath, expected: bool) -> None:
        super().__init__()
        self.variable = variable
        self.expected = expected

    def matches(self, input: Any, context: Any, variables: Mapping[str, Any]) -> bool:
        try:
            self.variable.resolve(input, context, variables)
        except PathNotFound:
            return not self.expected
        return self.expected

    def __repr__(self) -> str:
        return f"IsPresent({self.variable.text}, {self.expected})"


def compile_choice_rule(rule: Mapping[str, Any]) -> ChoiceRule:
    """Compile a Choice Rule once: paths, patterns and timestamp operands are parsed here.

    The rule is checked first (as top-level when it has ``Next``) and a DefinitionError
    raised for any problem, so evaluation never meets a malformed operand.
    """
    problems = [p for p in check_choice_rule(rule, "", "Next" in rule) if p.severity == "error"]
    if problems:
        raise DefinitionError(problems)
    compiled = _compile(rule)
    next_state = rule.get("Next")
    compiled.next = next_state if isinstance(next_state, str) else None
    return compiled


def _compile(rule: Mapping[str, Any]) -> ChoiceRule:
    if "And" in rule:
        return _And(tuple(_compile(r) for r in rule["And"]))
    if "Or" in rule:
        return _Or(tuple(_compile(r) for r in rule["Or"]))
    if "Not" in rule:
        return _Not(_compile(rule["Not"]))
    variable = compile_path(rule["Variable"])
    op = next(k for k in rule if k in _DATA_TESTS)
    operand = rule[op]
    if op == "IsPresent":
        return _IsPresent(variable, operand)
    if op in _TYPE_PREDICATES:
        predicate = _TYPE_PREDICATES[op]
        test: Callable[[Any], bool] = predicate if operand else (lambda value: not predicate(value))
        return _Test(op, variable, test)
    if op in _PATH_COMPARISONS:
        kind, rel = _COMPARISONS[_PATH_COMPARISONS[op]]
        return _PathTest(op, variable, compile_path(operand), _path_test(kind, rel))
    kind, rel = _COMPARISONS[op]
    return _Test(op, variable, _literal_test(kind, rel, operand))


# ---------------------------------------------------------------------------------------------
# Static check
# ---------------------------------------------------------------------------------------------


def _escape(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def _ptr(base: str, *tokens: str | int) -> str:
    """Extend an RFC 6901 pointer with raw (unescaped) tokens."""
    return base + "".join("/" + _escape(t) for t in tokens)


def check_choice_rule(rule: Any, pointer: str, top_level: bool) -> list[Problem]:
    """Every structural problem of one Choice Rule as written, each at its JSON pointer.

    ``pointer`` is the rule's own (escaped) pointer, e.g. ``/States/Check/Choices/0``;
    ``top_level`` says whether the rule sits directly in ``Choices`` (Next required) or is
    nested in And/Or/Not (Next forbidden). Nested rules are checked recursively.
    """
    problems: list[Problem] = []
    _check(rule, pointer, top_level, problems)
    return problems


def _problem(problems: list[Problem], pointer: str, message: str, hint: str) -> None:
    problems.append(Problem(pointer, SCHEMA, message, hint))


def _check(rule: Any, pointer: str, top_level: bool, problems: list[Problem]) -> None:
    if not isinstance(rule, Mapping):
        _problem(
            problems,
            pointer,
            f"A Choice Rule must be a JSON object, not {_json_type(rule)}",
            'write {"Variable": "$.x", "StringEquals": "y"} or {"And": [...]}'
            + (', with "Next"' if top_level else ""),
        )
        return
    ops = [key for key in rule if key in _OPERATORS]
    first = ops[0] if ops else None
    boolean = first in _BOOLEAN_OPS

    if first is None:
        _problem(
            problems,
            pointer,
            "A Choice Rule must have exactly one comparison operator or one of And, Or, Not",
            'add an operator, e.g. "StringEquals": "value" with "Variable": "$.field"',
        )
    for extra in ops[1:]:
        _problem(
            problems,
            _ptr(pointer, extra),
            f"A Choice Rule may have only one operator, but '{extra}' follows '{first}'",
            "split it into separate Choice Rules or combine them with And/Or",
        )

    if "Variable" in rule:
        if boolean:
            _problem(
                problems,
                _ptr(pointer, "Variable"),
                f"The field 'Variable' is not allowed in a Choice Rule with '{first}'",
                f"move 'Variable' into the rules inside '{first}'",
            )
        else:
            _check_path(rule["Variable"], _ptr(pointer, "Variable"), "Variable", problems)
    elif first is not None and not boolean:
        _problem(
            problems,
            pointer,
            f"The field 'Variable' is required with the operator '{first}'",
            f'add "Variable": "$.field" ({_PATH_FORM})',
        )

    for key, value in rule.items():
        if key in _OPERATORS or key == "Variable":
            continue
        at = _ptr(pointer, key)
        if key == "Next":
            if not top_level:
                _problem(
                    problems,
                    at,
                    "The field 'Next' is not allowed in a nested Choice Rule (inside And, Or or Not)",
                    "put 'Next' only on the top-level rule in 'Choices'",
                )
            elif not isinstance(value, str) or not value:
                _problem(
                    problems,
                    at,
                    f"The value for the field 'Next' must be a non-empty STRING, not {_json_type(value)}",
                    'name the state to go to, e.g. "Next": "Approve"',
                )
        elif key == "Comment":
            if not isinstance(value, str):
                _problem(
                    problems,
                    at,
                    f"The value for the field 'Comment' must be a STRING, not {_json_type(value)}",
                    "write the comment as a JSON string",
                )
        elif key == "Assign":
            if not top_level:
                _problem(
                    problems,
                    at,
                    "The field 'Assign' is not allowed in a nested Choice Rule (inside And, Or or Not)",
                    "put 'Assign' on the top-level rule in 'Choices' or on the Choice state",
                )
            elif not isinstance(value, Mapping):
                _problem(
                    problems,
                    at,
                    f"The value for the field 'Assign' must be an OBJECT, not {_json_type(value)}",
                    'map variable names to values, e.g. "Assign": {"count.$": "$.n"}',
                )
        elif key in _JSONATA_ONLY:
            _problem(
                problems,
                at,
                f"The QueryLanguage is 'JSONPath', but the field '{key}' is only supported for 'JSONata'",
                'use "Variable" with a comparison operator, or set "QueryLanguage": "JSONata"',
            )
        else:
            _problem(problems, at, f"The field '{key}' is not supported in a Choice Rule", _unknown_hint(key))

    if top_level and "Next" not in rule:
        _problem(
            problems,
            pointer,
            "The field 'Next' is required in a top-level Choice Rule",
            'add "Next": "<state name>"',
        )

    for op in ops:
        _check_operator(op, rule[op], _ptr(pointer, op), problems)


def _check_operator(op: str, value: Any, at: str, problems: list[Problem]) -> None:
    if op in ("And", "Or"):
        if not isinstance(value, list) or not value:
            _problem(
                problems,
                at,
                f"The value for the field '{op}' must be a non-empty ARRAY of Choice Rules, "
                f"not {_json_type(value)}",
                f'write "{op}": [{{"Variable": "$.a", "IsPresent": true}}, ...] (rules without Next)',
            )
            return
        for i, nested in enumerate(value):
            _check(nested, _ptr(at, i), False, problems)
        return
    if op == "Not":
        _check(value, at, False, problems)
        return
    if op in _TYPE_TESTS:
        if type(value) is not bool:
            _problem(
                problems,
                at,
                f"The value for the field '{op}' must be a BOOLEAN, not {_json_type(value)}",
                f'write "{op}": true or "{op}": false',
            )
        return
    if op in _PATH_COMPARISONS:
        _check_path(value, at, op, problems)
        return
    kind, _ = _COMPARISONS[op]
    if not _operand_ok(kind, value):
        _problem(
            problems,
            at,
            f"The value for the field '{op}' must be {_KIND_WORD[kind]}, not {_describe(value)}",
            _operand_hint(op, kind),
        )


def _operand_ok(kind: str, value: Any) -> bool:
    if kind in ("String", "Matches"):
        return isinstance(value, str)
    if kind == "Numeric":
        return type(value) in _NUMERIC and math.isfinite(value)
    if kind == "Boolean":
        return type(value) is bool
    return is_timestamp(value)


def _operand_hint(op: str, kind: str) -> str:
    example = {
        "String": '"value"',
        "Matches": '"log-*.txt" (\\\\* matches a literal *)',
        "Numeric": "42",
        "Boolean": "true",
        "Timestamp": '"2016-03-14T01:59:00Z" (uppercase T; Z or an offset like +01:00)',
    }[kind]
    path_form = f", or use {op}Path to compare with another value" if op != "StringMatches" else ""
    return f'write "{op}": {example}{path_form}'


def _check_path(value: Any, at: str, field: str, problems: list[Problem]) -> None:
    if not isinstance(value, str):
        _problem(
            problems,
            at,
            f"The value for the field '{field}' must be a STRING holding a reference path, "
            f"not {_json_type(value)}",
            f"write {_PATH_FORM}",
        )
        return
    try:
        path = compile_path(value)
    except PathError:
        _problem(
            problems,
            at,
            f"The value for the field '{field}' must be a valid JSONPath: {value!r}",
            f"write {_PATH_FORM}",
        )
        return
    if not path.definite:
        _problem(
            problems,
            at,
            f"The value for the field '{field}' is not a Reference Path: {value!r}",
            f"select a single value with names and indexes only, {_PATH_FORM} "
            "(no wildcards, filters, slices or '..')",
        )


def _unknown_hint(key: str) -> str:
    allowed = [*sorted(_OPERATORS), *_OTHER_FIELDS]
    for name in allowed:
        if name.lower() == key.lower():
            return f"field names are case-sensitive: did you mean '{name}'?"
    if key == "StringMatchesPath" or (key.endswith("Path") and key[:-4] in _TYPE_TESTS):
        return f"'{key[:-4]}' has no Path form; compare with a literal value"
    return (
        "a Choice Rule holds Variable, one operator (e.g. StringEquals, NumericLessThanPath, IsPresent), "
        "And/Or/Not, Next (top level only), Assign (top level only) and Comment"
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, Sequence):
        return "an array"
    return type(value).__name__


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"the non-finite number {value!r}"
    return _json_type(value)
