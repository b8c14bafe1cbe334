"""JSONata, ASL's second query language: ``"{% expr %}"`` strings compiled once, evaluated per state.

A string is an expression only when it starts with ``{%`` and ends with ``%}`` exactly (no
whitespace outside the delimiters); any other string, including one with ``{% %}`` in its
middle, is a literal. Expressions may sit anywhere in a template (object values, array
elements; keys are literal), so a template is walked once at compile time and rendered by
evaluating only its expression leaves.

Evaluation follows AWS Step Functions:

* bindings are ``$states`` (``input``/``result``/``errorOutput``/``context``, those present)
  and every workflow variable as ``$name``; there is no context item, so ``$`` and bare field
  names at the top level are undefined;
* AWS's extra functions ``$partition``, ``$range``, ``$hash``, ``$random``, ``$uuid`` and
  ``$parse`` are bound, and ``$eval`` is not (AWS disables it);
* a result that is undefined, or not JSON (a function), fails with
  ``States.QueryEvaluationError`` -- never a silently missing field -- and so does any error
  the expression throws, with AWS's cause wording;
* evaluation is bounded like AWS's: nesting depth 100 and a wall-clock timeout.

jsonata-python re-creates nothing per call here: the AST is parsed once, AWS's functions are
registered once in a shared frame, and each thread evaluates through its own engine instance
(the library keeps per-evaluation state on the instance it finds in a thread-local, which we
point at our own engine so ``$now()`` and friends see the right timestamp). A plain path such
as ``$states.input.a.b`` -- most ASL expressions -- skips the library: dict lookups, ~20x faster.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Final

from jsonata import Jsonata
from jsonata.jexception import JException
from jsonata.timebox import Timebox
from jsonata.utils import Utils

from runtime.asl.errors import ExpressionError, StatesError, StatesNames

#: AWS's ceiling on how deep one expression may nest (measured: 100 ``+`` terms pass, 101 fail).
MAX_DEPTH: Final = 100
#: Wall-clock bound for one expression (AWS bounds evaluation time too; its value is not
#: published). A module setting so a deployment may change it.
TIMEOUT_SECONDS: float = 5.0
#: ``$range`` refuses to build more elements than AWS does (360,145 pass, one more fails).
RANGE_LIMIT: Final = 360_145
#: The algorithms AWS's ``$hash`` accepts, case-sensitive.
HASH_ALGORITHMS: Final = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}

_NULL: Final = Utils.NULL_VALUE  # JSONata's JSON null; Python None means "undefined"
_JList: Final = Utils.JList  # the library's arrays (a list subclass carrying flags)
_DEPTH_MESSAGE: Final = (
    "Stack overflow error: Check for non-terminating recursive function. Consider rewriting as tail-recursive"
)
_TIMEOUT_MESSAGE: Final = "Expression evaluation timeout: Check for infinite loop"
_MEMORY_MESSAGE: Final = "Expression evaluation memory limit exceeded: Check for excessive memory usage"
_ARRAY_TYPES: Final = {
    "a": "arrays",
    "b": "booleans",
    "f": "functions",
    "n": "numbers",
    "o": "objects",
    "s": "strings",
}
_INT64: Final = 1 << 63
_PLACEHOLDER: Final = re.compile(r"\{\{\{(\w+)\}\}\}|\{\{(\w+)\}\}")


class JsonataSyntaxError(ExpressionError):
    """A ``{% %}`` string whose expression does not parse; says what is wrong and where."""

    def __init__(self, expression: str, detail: str, code: str = "", position: int = -1) -> None:
        self.expression = expression
        self.detail = detail  # the parser's message, worded as jsonata-js (and AWS) word it
        self.code = code  # JSONata error code, e.g. "S0202"
        self.position = position  # 1-based character offset in ``expression``; -1 if unknown
        where = f" at character {position}" if position > 0 else ""
        tag = f" [{code}]" if code else ""
        super().__init__(f"invalid JSONata expression {expression!r}{where}: {detail}{tag}")


class _Limit(Exception):
    """An AWS evaluation bound was crossed; AWS reports these without a JSONata code."""


class _Unsupported(Exception):
    """The result holds something JSON cannot (a function)."""


# --------------------------------------------------------------------------------------------
# Recognising and compiling expressions
# --------------------------------------------------------------------------------------------


def is_expression(value: Any) -> bool:
    """True for a string that is exactly ``{% ... %}`` (AWS: no whitespace outside the delimiters)."""
    return type(value) is str and len(value) >= 4 and value.startswith("{%") and value.endswith("%}")


class Expression:
    """One compiled ``{% expr %}``; immutable and shared (``compile_expression`` is cached)."""

    __slots__ = ("_ast", "_names", "_path", "source", "text")

    def __init__(self, text: str, source: str, ast: Any) -> None:
        self.text = text  # the full "{% ... %}" string
        self.source = source  # the expression between the delimiters, stripped (AWS quotes this)
        self._ast = ast
        self._path = _simple_path(ast)
        self._names: frozenset[str] | None = None

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def evaluate(
        self, states: Mapping[str, Any], variables: Mapping[str, Any], *, field: str | None = None
    ) -> Any:
        """The JSON value of the expression; ``StatesError`` (States.QueryEvaluationError) if it
        throws, is undefined or is not JSON. ``field`` (e.g. ``"TimeoutSeconds"``) names the
        field in the cause, as AWS does."""
        return _run(self, _scope(states, variables), field)

    def variable_names(self) -> set[str]:
        """Workflow variables the expression reads (best effort, for the validator): every free
        ``$name`` except ``$states``, ``$``/``$$`` and the built-in functions; names bound inside
        the expression (``:=``, lambda parameters, ``@``/``#`` bindings) are left out."""
        if self._names is None:
            used: set[str] = set()
            bound: set[str] = set()
            _collect(self._ast, used, bound, set())
            self._names = frozenset(n for n in used - bound if n not in _RESERVED and not _builtin(n))
        return set(self._names)


@lru_cache(maxsize=8192)
def compile_expression(text: str) -> Expression:
    """Parse a ``"{% expr %}"`` string once (cached); ``JsonataSyntaxError`` says what and where."""
    if not is_expression(text):
        raise JsonataSyntaxError(str(text), "a JSONata expression must be a string of the form '{% expr %}'")
    source = text[2:-2].strip()
    try:
        ast = Jsonata.get_parser().parse(source)
    except JException as exc:
        raise JsonataSyntaxError(source, _describe(exc), exc.error, exc.location) from None
    except Exception as exc:  # the parser raises bare errors on some inputs
        raise JsonataSyntaxError(source, str(exc) or type(exc).__name__) from None
    return Expression(text, source, ast)


_RESERVED: Final = frozenset({"states", "", "$"})
# A Symbol with only these attributes set is a bare variable or a bare field-name step.
_PLAIN_ATTRS: Final = frozenset(
    {
        "_outer_instance",
        "id",
        "value",
        "type",
        "bp",
        "lbp",
        "position",
        "level",
        "descending",
        "_jsonata_lambda",
        "steps",
    }
)


def _simple_path(ast: Any) -> tuple[str, tuple[str, ...]] | None:
    """``$var.a.b`` with plain name steps (no predicate, stage, binding, grouping...): the most
    common ASL expression, which ``_walk`` evaluates with dict lookups instead of the library."""
    steps = [ast] if ast.type == "variable" else (ast.steps or []) if ast.type == "path" else []
    plain = [ast, *steps]
    if not steps or any(k not in _PLAIN_ATTRS for n in plain for k, v in vars(n).items() if v):
        return None
    head, rest = steps[0], steps[1:]
    if head.type != "variable" or not isinstance(head.value, str) or head.value in ("", "$"):
        return None
    if any(step.type != "name" or not isinstance(step.value, str) for step in rest):
        return None
    return head.value, tuple(step.value for step in rest)


def _builtin(name: str) -> bool:
    return name in _BASE.bindings or name in Jsonata.static_frame.bindings


def _collect(node: Any, used: set[str], bound: set[str], seen: set[int]) -> None:
    """Walk the parser's AST (a graph of Symbol objects) gathering variable names."""
    if isinstance(node, list | tuple):
        for item in node:
            _collect(item, used, bound, seen)
        return
    attrs = getattr(node, "__dict__", None)
    if attrs is None or id(node) in seen or not hasattr(node, "_outer_instance"):
        return
    seen.add(id(node))
    kind = attrs.get("type")
    if kind == "variable" and isinstance(attrs.get("value"), str):
        used.add(attrs["value"])
    elif kind == "bind" and getattr(attrs.get("lhs"), "type", None) == "variable":
        bound.add(attrs["lhs"].value)
    elif kind == "lambda":
        bound.update(a.value for a in attrs.get("arguments") or () if getattr(a, "type", None) == "variable")
    for key in ("focus", "index"):
        if isinstance(attrs.get(key), str):
            bound.add(attrs[key])
    for key, value in attrs.items():
        if key != "_outer_instance":
            _collect(value, used, bound, seen)


# --------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------

_Node = Callable[[Any], Any]  # renders one compiled part against a scope frame


class Template:
    """A JSON value with expressions at any depth, compiled once; ``render`` evaluates them."""

    __slots__ = ("_exprs", "_node", "field", "value")

    def __init__(self, value: Any, field: str, node: _Node | None, exprs: list[Expression]) -> None:
        self.value = value
        self.field = field
        self._node = node
        self._exprs = exprs

    def __repr__(self) -> str:
        return f"Template({self.value!r})"

    @property
    def is_static(self) -> bool:
        """No expression anywhere: ``render`` returns ``value`` itself."""
        return self._node is None

    def render(self, states: Mapping[str, Any], variables: Mapping[str, Any]) -> Any:
        """The value with every expression replaced by its result; literals are shared, not copied.
        Raises ``StatesError`` (States.QueryEvaluationError) naming the failing field."""
        node = self._node
        if node is None:
            return self.value
        return node(_scope(states, variables))

    def expressions(self) -> list[Expression]:
        """Every expression in the template, in document order."""
        return list(self._exprs)


def compile_template(value: Any, *, field: str = "") -> Template:
    """Compile a JSON value once. ``field`` is the ASL field it came from (``"Arguments"``,
    ``"Output"``, ...): causes then name ``Arguments/a/b[0]`` the way AWS does."""
    exprs: list[Expression] = []
    node = _compile_node(value, field, exprs)
    return Template(value, field, node, exprs)


def _child(path: str, key: str) -> str:
    return f"{path}/{key}" if path else key


def _compile_node(value: Any, path: str, exprs: list[Expression]) -> _Node | None:
    if isinstance(value, str):
        if not is_expression(value):
            return None
        expr = compile_expression(value)
        exprs.append(expr)
        field = path or None
        return lambda scope: _run(expr, scope, field)
    if isinstance(value, Mapping):
        entries = [(k, v, _compile_node(v, _child(path, str(k)), exprs)) for k, v in value.items()]
        if all(node is None for _, _, node in entries):
            return None
        return lambda scope: {k: v if node is None else node(scope) for k, v, node in entries}
    if isinstance(value, list):
        items = [(v, _compile_node(v, f"{path}[{i}]", exprs)) for i, v in enumerate(value)]
        if all(node is None for _, node in items):
            return None
        return lambda scope: [v if node is None else node(scope) for v, node in items]
    return None


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------

_local = threading.local()


def _engine() -> Any:
    """This thread's evaluation engine, made current for the library's thread-local lookups."""
    engine = getattr(_local, "engine", None)
    if engine is None:
        engine = _local.engine = Jsonata("null")
    Jsonata.CURRENT.jsonata = engine
    engine.timestamp = Timebox.current_milli_time()  # what $now() and $millis() read
    return engine


def _scope(states: Mapping[str, Any], variables: Mapping[str, Any]) -> Any:
    """One frame holding the variables and ``$states``, shared by a render's expressions."""
    bindings = {name: _NULL if value is None else value for name, value in variables.items()}
    bindings["states"] = states if type(states) is dict else dict(states)  # reserved: bound last
    frame = Jsonata.Frame(_BASE)
    frame.bindings = bindings
    return frame


class _Guard:
    """AWS's bounds on one evaluation, as the library's entry/exit callbacks."""

    __slots__ = ("deadline", "depth")

    def __init__(self) -> None:
        self.depth = 0
        self.deadline = time.monotonic() + TIMEOUT_SECONDS

    def enter(self, expr: Any, input: Any, env: Any) -> None:
        if env.is_parallel_call:
            return
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Limit(_DEPTH_MESSAGE)
        if time.monotonic() > self.deadline:
            raise _Limit(_TIMEOUT_MESSAGE)

    def leave(self, expr: Any, input: Any, env: Any, result: Any) -> None:
        if not env.is_parallel_call:
            self.depth -= 1


def _run(expr: Expression, scope: Any, field: str | None) -> Any:
    """Evaluate ``expr`` in ``scope``; every failure becomes AWS's States.QueryEvaluationError."""
    if expr._path is not None:
        raw = _walk(expr._path, scope.bindings)
        if raw is not _FALLBACK:
            return _result(expr, field, raw, plain=True)
    engine = _engine()
    guard = _Guard()
    frame = Jsonata.Frame(scope)  # a `$x := ...` at the top level stays in this expression
    frame.bindings = {"__evaluate_entry": guard.enter, "__evaluate_exit": guard.leave}
    try:
        raw = engine.eval(expr._ast, None, frame)
    except Exception as exc:  # a library bug too must fail the state, not the worker
        raise _failure(expr, field, _threw(exc)) from None
    return _result(expr, field, raw)


_FALLBACK: Final = object()


def _walk(path: tuple[str, tuple[str, ...]], bindings: dict[str, Any]) -> Any:
    """A simple path by dict lookups, with JSONata's conventions (None is undefined, ``_NULL``
    is null); ``_FALLBACK`` when an array (mapped over) or a non-variable is in the way."""
    name, keys = path
    value = bindings.get(name, _FALLBACK)
    if value is _FALLBACK:  # not a variable: leave built-ins and the like to the library
        return _FALLBACK
    for key in keys:
        if isinstance(value, dict):
            if key not in value:
                return None
            value = value[key]
        elif isinstance(value, list):
            return _FALLBACK
        else:
            return None
    return _NULL if value is None else value


def _result(expr: Expression, field: str | None, raw: Any, *, plain: bool = False) -> Any:
    """The JSON value, or AWS's failure for undefined and non-JSON results; ``plain`` values
    come straight from the bindings, which are JSON already."""
    if raw is None:
        raise _failure(expr, field, "returned nothing (undefined).")
    if plain:
        return None if raw is _NULL else raw
    try:
        return _plain(raw)
    except _Unsupported:
        raise _failure(expr, field, "returned an unsupported result type.") from None


def _threw(exc: Exception) -> str:
    """AWS's ending for a thrown error: ``. CODE: message`` for JSONata's own, ``: message`` for
    an evaluation bound."""
    if isinstance(exc, JException):
        return f"threw an error during evaluation. {_message(exc)}"
    if isinstance(exc, _Limit):
        return f"threw an error during evaluation: {exc}"
    if isinstance(exc, RecursionError):
        return f"threw an error during evaluation: {_DEPTH_MESSAGE}"
    if isinstance(exc, ZeroDivisionError):  # JavaScript's x/0 is Infinity, which JSONata refuses
        return "threw an error during evaluation. D1001: Number out of range: Infinity"
    return f"threw an internal error during evaluation: {type(exc).__name__}: {exc}"


def _failure(expr: Expression, field: str | None, what: str) -> StatesError:
    where = f" specified for the field '{field}'" if field else ""
    cause = f"The JSONata expression '{expr.source}'{where} {what}"
    return StatesError(StatesNames.QUERY_EVALUATION_ERROR, cause)


def _plain(value: Any) -> Any:
    """JSONata's result as JSON: null as None, arrays as ``list``, a non-finite number as the
    string JavaScript names it by; a function raises ``_Unsupported``. (A fresh copy: a
    copy-on-change walk measured slower than these comprehensions.)"""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is dict:
        return {key: _plain(item) for key, item in value.items()}
    if kind is list or kind is _JList:
        return [_plain(item) for item in value]
    if kind is int:  # the library makes ints of big integral floats; keep JSON encoders happy
        return value if -_INT64 <= value < _INT64 else float(value)
    if kind is float:
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value is _NULL:
        return None
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):  # iterate, never len(): the library's RangeList miscounts it
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return bool(value) if isinstance(value, bool) else _plain(int(value))
    raise _Unsupported


# --------------------------------------------------------------------------------------------
# Error messages, worded as jsonata-js words them (AWS quotes those)
# --------------------------------------------------------------------------------------------


def _message(exc: JException) -> str:
    """``CODE: message``, as AWS's cause quotes it."""
    return f"{exc.error}: {_describe(exc)}"


def _describe(exc: JException) -> str:
    """The message with jsonata-js's template and JSON-rendered inserts.

    jsonata-python's own rendering says ``Object`` for ``function`` and inserts values raw;
    its inserts are positional (current, expected, extra), in the template's order.
    """
    code = exc.error
    template = JException.error_codes.get(code)
    if template is None:
        return str(exc)
    values = iter((exc.current, exc.expected, getattr(exc, "extra", None)))

    def insert(match: re.Match[str]) -> str:
        value = next(values, None)
        if match.group(1):  # {{{raw}}}
            return "undefined" if value is None else str(value)
        if match.group(2) == "type" and code == "T0412":
            value = _ARRAY_TYPES.get(value) if isinstance(value, str) else value
        return _stringify(value)

    return _PLACEHOLDER.sub(insert, template.replace("Object", "function"))


def _stringify(value: Any) -> str:
    """JavaScript's ``JSON.stringify`` for an error insert."""
    if value is None:
        return "undefined"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    try:
        return json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"))
    except (_Unsupported, TypeError, ValueError):
        return str(value)


# --------------------------------------------------------------------------------------------
# AWS's functions
# --------------------------------------------------------------------------------------------


class _AwsFunction(Jsonata.JFunction):  # type: ignore[misc]
    """A Step Functions function, bound once in the shared frame.

    The library's signature check is kept permissive (optional slots of any type; it would
    misnumber a surplus argument): each function checks its own arguments so that every case
    fails -- T0410 naming the first surplus or mistyped argument -- or is undefined as AWS's does.
    """

    def __init__(self, name: str, arity: int, impl: Callable[[list[Any]], Any]) -> None:
        super().__init__(None, "<" + "x?" * (arity + _SPARE) + ":x>")
        self.function_name = name
        self.arity = arity
        self.impl = impl

    def call(self, input: Any, args: Any) -> Any:
        values = list(args) if args else []
        for index in range(self.arity, len(values)):
            if values[index] is not None:
                raise _signature_error(self.function_name, index + 1)
        return self.impl(values)


_SPARE: Final = 8  # slots past AWS's arity, so a surplus argument reaches our own check


def _arg(args: list[Any], index: int) -> Any:
    return args[index] if index < len(args) else None


def _signature_error(name: str, index: int) -> JException:
    return JException("T0410", -1, index, name)


def _integer(value: Any, name: str, index: int) -> int:
    """AWS reads a numeric argument as a Java long: truncated towards zero, saturating."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _signature_error(name, index)
    return max(-_INT64, min(_INT64 - 1, int(value)))


def _partition(args: list[Any]) -> Any:
    array, size = _arg(args, 0), _arg(args, 1)
    if array is None:
        return None
    if not isinstance(array, list):
        raise JException("T0412", -1, 1, "partition", "")  # AWS: "must be an array of undefined"
    if not array:
        return None
    if size is None:
        return [list(array)]
    chunk = _integer(size, "partition", 2)
    if chunk < 0:
        raise JException("D3137", -1, "Second argument must be zero or greater")
    if chunk == 0:
        return None
    items = list(array)
    return [items[i : i + chunk] for i in range(0, len(items), chunk)]


def _range(args: list[Any]) -> Any:
    start = _integer(_arg(args, 0), "range", 1)
    end = _integer(_arg(args, 1), "range", 2)
    if _arg(args, 2) is None:
        return None
    step = _integer(args[2], "range", 3)
    if step == 0 or (step > 0 and start > end) or (step < 0 and start < end):
        return None
    if start == end:
        return start  # AWS answers a one-element range as the bare number
    if (end - start) // step + 1 > RANGE_LIMIT:
        raise _Limit(_MEMORY_MESSAGE)
    return list(range(start, end + (1 if step > 0 else -1), step))


def _hash(args: list[Any]) -> Any:
    data, algorithm = _arg(args, 0), _arg(args, 1)
    if not isinstance(data, str):
        raise _signature_error("hash", 1)
    if algorithm is None:
        return None
    if not isinstance(algorithm, str):
        raise _signature_error("hash", 2)
    if algorithm not in HASH_ALGORITHMS:
        raise JException(
            "D3137", -1, f"Hash algorithm '{algorithm}' must be one of SHA-1, SHA-384, SHA-256, SHA-512, MD5"
        )
    return hashlib.new(HASH_ALGORITHMS[algorithm], data.encode("utf-8")).hexdigest()


def _java_random(seed: int) -> float:
    """``new java.util.Random(seed).nextDouble()``: AWS's seeded ``$random`` draws from it."""
    mask = (1 << 48) - 1
    state = (seed ^ 0x5DEECE66D) & mask

    def next_bits(bits: int) -> int:
        nonlocal state
        state = (state * 0x5DEECE66D + 0xB) & mask
        return state >> (48 - bits)

    high = next_bits(26)
    return ((high << 27) + next_bits(27)) * 2.0**-53


def _random(args: list[Any]) -> Any:
    seed = _arg(args, 0)
    if seed is None:
        return random.random()
    return _java_random(_integer(seed, "random", 1))


def _uuid(args: list[Any]) -> Any:
    return str(uuid.uuid4())


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def _json_integer(text: str) -> Any:
    value = int(text)
    return value if -(1 << 63) <= value < (1 << 63) else float(value)  # AWS: exact while a long


def _json_float(text: str) -> float | int:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return int(value) if value.is_integer() and abs(value) < 2.0**53 else value  # AWS: 1.0 is 1


def _parse(args: list[Any]) -> Any:
    text = _arg(args, 0)
    if text is None:
        return None
    if not isinstance(text, str):
        raise _signature_error("parse", 1)
    try:
        value = json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_int=_json_integer,
            parse_float=_json_float,
            parse_constant=_reject_constant,
        )
    except (ValueError, RecursionError):
        raise JException("D3137", -1, "Invalid JSON") from None
    return _NULL if value is None else value


def _make_base() -> Any:
    """The shared frame above every evaluation: AWS's functions, and no ``$eval``."""
    frame = Jsonata.Frame(Jsonata.static_frame)
    for name, arity, impl in (
        ("partition", 2, _partition),
        ("range", 3, _range),
        ("hash", 2, _hash),
        ("random", 1, _random),
        ("uuid", 0, _uuid),
        ("parse", 1, _parse),
    ):
        frame.bind(name, _AwsFunction(name, arity, impl))
    frame.bind("eval", None)  # AWS disables $eval: calling it is T1006, as on AWS
    return frame


_BASE: Final = _make_base()
