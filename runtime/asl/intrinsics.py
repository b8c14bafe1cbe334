"""ASL intrinsic functions (``States.Format(...)`` & co.) for JSONPath states.

An intrinsic is parsed once per definition (``compile_intrinsic`` is cached) into a small tree
of literals, compiled paths and calls; evaluating it per state transition only walks that
tree, so nothing is re-parsed and no regex is compiled at run time.

Syntax (ASL spec, "Intrinsic Functions", and the AWS guide): ``States.Name(arg, ...)`` where
an argument is a string in apostrophes, a JSON number, ``true``/``false``/``null``, a path
(``$...``, ``$$...`` or ``$var...``) or a nested call, at most 10 calls deep. In a string the
reserved characters are escaped as ``\\'``, ``\\{``, ``\\}`` and ``\\\\``; any other
backslash is an "open escape" and rejected. In ``States.Format`` an unescaped ``{}`` is a
placeholder. Bad syntax, an unknown name, a wrong argument count or a literal template whose
placeholders do not match the arguments raise :class:`IntrinsicSyntaxError` when compiling;
everything else fails at run time with ``States.IntrinsicFailure``.

Behaviour taken from AWS (docs and executions recorded against AWS by other projects):
``States.Format`` renders objects as ``{k=v, ...}`` and arrays as ``[a, b]`` (Java style),
strings raw and other values as JSON; ``States.StringSplit`` splits on every delimiter
character and drops empty parts; ``States.MathAdd``/``States.MathRandom`` round non-integers
like Java's ``Math.round``; ``States.ArrayUnique`` keeps first occurrences in order.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import hashlib
import json
import math
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from runtime.asl.errors import ExpressionError, StatesError, StatesNames
from runtime.asl.paths import CompiledPath, PathError, PathNotFound, compile_path

Resolver = Callable[[CompiledPath], Any]

MAX_NESTING: Final = 10  # "You can nest up to 10 intrinsic functions within a field."
MAX_RANGE_ITEMS: Final = 1000  # States.ArrayRange
MAX_INPUT_CHARS: Final = 10_000  # States.Base64Encode/Base64Decode/Hash
INT32_MIN: Final = -(2**31)  # States.MathAdd operands
INT32_MAX: Final = 2**31 - 1
HASH_ALGORITHMS: Final = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}

_LOOKS_LIKE: Final = re.compile(r"States\.[A-Za-z0-9_.]+\(")
_NUMBER: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_IDENT: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_KEYWORDS: Final[dict[str, Any]] = {"true": True, "false": False, "null": None}
_ESCAPABLE: Final = "'{}\\"
_ARG_FORMS: Final = (
    "a 'string', a number, true, false, null, a path ($..., $$..., $var...) or States.Name(...)"
)


class IntrinsicSyntaxError(ExpressionError):
    """The text is not a valid intrinsic call; ``position`` is the 0-based character index."""

    def __init__(self, text: str, position: int, problem: str, expected: str) -> None:
        self.text = text
        self.position = position
        self.problem = problem
        super().__init__(
            f"invalid intrinsic function {text!r}: {problem} at character {position}; expected {expected}"
        )


def looks_like_intrinsic(text: object) -> bool:
    """True when ``text`` is shaped like ``States.Name(``: a "key.$" value to compile as intrinsic."""
    return isinstance(text, str) and _LOOKS_LIKE.match(text) is not None


# --------------------------------------------------------------------------- tree


class _Node:
    __slots__ = ()

    def evaluate(self, resolve: Resolver) -> Any:
        raise NotImplementedError

    def collect_paths(self, out: list[CompiledPath]) -> None:
        """Append the paths this node references (in order of appearance)."""


@dataclass(frozen=True, slots=True)
class _Literal(_Node):
    value: Any

    def evaluate(self, resolve: Resolver) -> Any:
        return self.value


@dataclass(frozen=True, slots=True)
class _PathArg(_Node):
    path: CompiledPath
    function: str
    index: int  # 1-based argument position, for the failure cause

    def evaluate(self, resolve: Resolver) -> Any:
        try:
            return resolve(self.path)
        except PathNotFound:
            raise _failure(
                self.function, f"the JSONPath '{self.path.text}' (argument {self.index}) could not be found"
            ) from None

    def collect_paths(self, out: list[CompiledPath]) -> None:
        out.append(self.path)


@dataclass(frozen=True, slots=True)
class _Call(_Node):
    spec: _Spec
    args: tuple[_Node, ...]
    template: tuple[str, ...] | None = None  # States.Format with a literal template: text between {}

    def evaluate(self, resolve: Resolver) -> Any:
        return self.spec.impl(self, [arg.evaluate(resolve) for arg in self.args])

    def collect_paths(self, out: list[CompiledPath]) -> None:
        for arg in self.args:
            arg.collect_paths(out)


class Intrinsic:
    """A compiled intrinsic call; immutable and shared through the compile cache."""

    __slots__ = ("_paths", "_root", "text")

    def __init__(self, text: str, root: _Call) -> None:
        self.text = text
        self._root = root
        found: list[CompiledPath] = []
        root.collect_paths(found)
        self._paths = tuple(found)

    @property
    def name(self) -> str:
        return self._root.spec.name

    def evaluate(self, resolve: Resolver) -> Any:
        """Run the call; ``resolve`` maps a path to its value (or raises PathNotFound).

        Raises ``StatesError(States.IntrinsicFailure, cause)`` on any run-time failure.
        """
        return self._root.evaluate(resolve)

    def paths(self) -> list[CompiledPath]:
        """Every path referenced, nested calls included, in order of appearance."""
        return list(self._paths)

    def __repr__(self) -> str:
        return f"Intrinsic({self.text!r})"


# --------------------------------------------------------------------------- helpers


def _failure(function: str, message: str) -> StatesError:
    """A States.IntrinsicFailure; AWS's exact causes are unpublished, so ours name function and argument."""
    return StatesError(StatesNames.INTRINSIC_FAILURE, f"Invalid arguments in {function}: {message}")


def _describe(value: Any) -> str:
    """Name a value's JSON type and show it briefly, for failure causes."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {json.dumps(value)}"
    if isinstance(value, int | float):
        return f"number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {json.dumps(shown, ensure_ascii=False)}"
    if isinstance(value, list):
        return f"array of {len(value)} item(s)"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _arg_error(call: _Call, index: int, expected: str, value: Any) -> StatesError:
    name = call.spec.param(index)
    return _failure(
        call.spec.name, f"argument {index + 1} ({name}) must be {expected}, got {_describe(value)}"
    )


def _array(call: _Call, args: list[Any], index: int) -> list[Any]:
    value = args[index]
    if not isinstance(value, list):
        raise _arg_error(call, index, "an array", value)
    return value


def _string(call: _Call, args: list[Any], index: int) -> str:
    value = args[index]
    if not isinstance(value, str):
        raise _arg_error(call, index, "a string", value)
    return value


def _integer(call: _Call, args: list[Any], index: int) -> int:
    """An integer argument; an integral float (``3.0``) is accepted as that integer."""
    value = args[index]
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    raise _arg_error(call, index, "an integer", value)


def _java_round(value: float) -> int:
    """Java's Math.round (half up towards +inf): 2.5 -> 3, -2.5 -> -2, as AWS rounds."""
    floor = math.floor(value)
    return floor + 1 if value - floor >= 0.5 else floor


def _rounded(call: _Call, args: list[Any], index: int) -> int:
    """A number argument, rounded to an integer as AWS does for MathAdd and MathRandom."""
    value = args[index]
    if type(value) is int:
        return value
    if type(value) is float and math.isfinite(value):
        return _java_round(value)
    raise _arg_error(call, index, "a number", value)


def _json_key(value: Any) -> Any:
    """A hashable key equal for equal JSON values (deep; ``true`` differs from ``1``)."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, list):
        return ("a", tuple(_json_key(item) for item in value))
    if isinstance(value, dict):
        return ("o", frozenset((key, _json_key(item)) for key, item in value.items()))
    return ("z", None) if value is None else ("?", repr(value))


def _format_value(value: Any) -> str:
    """Render a States.Format argument the way AWS (Java) does."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(_format_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={_format_value(item)}" for key, item in value.items()) + "}"
    return json.dumps(value)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# --------------------------------------------------------------------------- functions


def _format(call: _Call, args: list[Any]) -> str:
    pieces = call.template
    if pieces is None:
        pieces = tuple(_string(call, args, 0).split("{}"))
    values = args[1:]
    if len(pieces) - 1 != len(values):
        raise _failure(
            call.spec.name,
            f"the template has {len(pieces) - 1} placeholder(s) '{{}}' but {len(values)} value(s) were given",
        )
    out = [pieces[0]]
    for value, piece in zip(values, pieces[1:], strict=True):
        out.append(_format_value(value))
        out.append(piece)
    return "".join(out)


def _string_to_json(call: _Call, args: list[Any]) -> Any:
    text = _string(call, args, 0)
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise _failure(call.spec.name, f"argument 1 is not a valid JSON text ({exc})") from None


def _json_to_string(call: _Call, args: list[Any]) -> str:
    return json.dumps(args[0], ensure_ascii=False, separators=(",", ":"))


def _array_fn(call: _Call, args: list[Any]) -> list[Any]:
    return args


def _array_partition(call: _Call, args: list[Any]) -> list[list[Any]]:
    array = _array(call, args, 0)
    size = _integer(call, args, 1)
    if size <= 0:
        raise _arg_error(call, 1, "a positive integer", args[1])
    return [array[start : start + size] for start in range(0, len(array), size)]


def _array_contains(call: _Call, args: list[Any]) -> bool:
    array = _array(call, args, 0)
    wanted = _json_key(args[1])
    return any(_json_key(item) == wanted for item in array)


def _array_range(call: _Call, args: list[Any]) -> list[int]:
    start, end, step = (_integer(call, args, i) for i in range(3))
    if step == 0:
        raise _arg_error(call, 2, "a non-zero integer", args[2])
    count = max(0, (end - start) // step + 1)
    if count > MAX_RANGE_ITEMS:
        raise _failure(call.spec.name, f"the range would have {count} items; the limit is {MAX_RANGE_ITEMS}")
    return list(range(start, start + count * step, step))


def _array_get_item(call: _Call, args: list[Any]) -> Any:
    array = _array(call, args, 0)
    index = _integer(call, args, 1)
    if not 0 <= index < len(array):
        raise _failure(
            call.spec.name, f"index {index} (argument 2) is out of bounds for an array of length {len(array)}"
        )
    return array[index]


def _array_length(call: _Call, args: list[Any]) -> int:
    return len(_array(call, args, 0))


def _array_unique(call: _Call, args: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    unique: list[Any] = []
    for item in _array(call, args, 0):
        key = _json_key(item)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _limited_string(call: _Call, args: list[Any], index: int) -> str:
    text = _string(call, args, index)
    if len(text) > MAX_INPUT_CHARS:
        raise _failure(
            call.spec.name,
            f"argument {index + 1} ({call.spec.param(index)}) has {len(text)} characters; "
            f"the limit is {MAX_INPUT_CHARS}",
        )
    return text


def _base64_encode(call: _Call, args: list[Any]) -> str:
    return base64.b64encode(_limited_string(call, args, 0).encode()).decode("ascii")


def _base64_decode(call: _Call, args: list[Any]) -> str:
    text = _limited_string(call, args, 0)
    try:  # like Java's basic decoder: strict alphabet, padding optional
        data = base64.b64decode(text.encode("ascii") + b"=" * (-len(text) % 4), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise _failure(call.spec.name, "argument 1 is not valid base64-encoded data") from None
    return data.decode("utf-8", errors="replace")


def _hash(call: _Call, args: list[Any]) -> str:
    data = _limited_string(call, args, 0)
    algorithm = args[1]
    digest = HASH_ALGORITHMS.get(algorithm) if isinstance(algorithm, str) else None
    if digest is None:
        raise _arg_error(call, 1, "one of " + ", ".join(HASH_ALGORITHMS), algorithm)
    return hashlib.new(digest, data.encode()).hexdigest()


def _json_merge(call: _Call, args: list[Any]) -> dict[str, Any]:
    for index in (0, 1):
        if not isinstance(args[index], dict):
            raise _arg_error(call, index, "a JSON object", args[index])
    if args[2] is not False:
        if args[2] is True:
            raise _failure(
                call.spec.name,
                "Step Functions only supports the shallow merging mode; "
                "therefore, you must specify the boolean value as false",
            )
        raise _arg_error(call, 2, "the boolean false", args[2])
    return {**args[0], **args[1]}


def _math_random(call: _Call, args: list[Any]) -> int:
    start, end = _rounded(call, args, 0), _rounded(call, args, 1)
    if start > end:
        raise _failure(call.spec.name, f"start ({start}) must not be greater than end ({end})")
    if len(args) == 3:
        return random.Random(_rounded(call, args, 2)).randint(start, end)
    return random.randint(start, end)


def _math_add(call: _Call, args: list[Any]) -> int:
    total = 0
    for index in (0, 1):
        value = _rounded(call, args, index)
        if not INT32_MIN <= value <= INT32_MAX:
            raise _arg_error(call, index, f"an integer between {INT32_MIN} and {INT32_MAX}", args[index])
        total += value
    return total


def _string_split(call: _Call, args: list[Any]) -> list[str]:
    text = _string(call, args, 0)
    delimiters = _string(call, args, 1)
    if not delimiters:
        return [text] if text else []
    first = delimiters[0]
    if len(delimiters) > 1:
        text = text.translate({ord(ch): first for ch in delimiters[1:]})
    return [part for part in text.split(first) if part]


def _uuid(call: _Call, args: list[Any]) -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class _Spec:
    name: str
    params: tuple[str, ...]  # the last one repeats when ``variadic``
    min_args: int
    max_args: int | None
    impl: Callable[[_Call, list[Any]], Any]
    variadic: bool = False

    @property
    def form(self) -> str:
        required = list(self.params[: self.min_args])
        optional = [p for p in self.params[self.min_args :] if not self.variadic]
        text = ", ".join(required)
        if optional:
            text += "".join(f"[, {p}]" for p in optional)
        if self.variadic:
            text += (", " if required else "") + f"{self.params[-1]}, ..."
        return f"{self.name}({text})"

    def param(self, index: int) -> str:
        return self.params[min(index, len(self.params) - 1)] if self.params else "argument"

    def arity(self) -> str:
        if self.max_args is None:
            return f"at least {self.min_args} argument(s)"
        if self.min_args == self.max_args:
            return f"exactly {self.min_args} argument(s)"
        return f"{self.min_args} to {self.max_args} arguments"


def _spec(
    name: str, params: str, impl: Callable[[_Call, list[Any]], Any], optional: int = 0, variadic: bool = False
) -> _Spec:
    names = tuple(p for p in params.split(",") if p)
    count = len(names) - optional - (1 if variadic else 0)
    return _Spec(f"States.{name}", names, count, None if variadic else len(names), impl, variadic)


FUNCTIONS: Final[dict[str, _Spec]] = {
    spec.name: spec
    for spec in (
        _spec("Format", "template,value", _format, variadic=True),
        _spec("StringToJson", "jsonString", _string_to_json),
        _spec("JsonToString", "value", _json_to_string),
        _spec("Array", "value", _array_fn, variadic=True),
        _spec("ArrayPartition", "array,chunkSize", _array_partition),
        _spec("ArrayContains", "array,value", _array_contains),
        _spec("ArrayRange", "start,end,step", _array_range),
        _spec("ArrayGetItem", "array,index", _array_get_item),
        _spec("ArrayLength", "array", _array_length),
        _spec("ArrayUnique", "array", _array_unique),
        _spec("Base64Encode", "string", _base64_encode),
        _spec("Base64Decode", "base64", _base64_decode),
        _spec("Hash", "data,algorithm", _hash),
        _spec("JsonMerge", "object1,object2,deepMerge", _json_merge),
        _spec("MathRandom", "start,end,seed", _math_random, optional=1),
        _spec("MathAdd", "value1,value2", _math_add),
        _spec("StringSplit", "string,delimiters", _string_split),
        _spec("UUID", "", _uuid),
    )
}


# --------------------------------------------------------------------------- parser


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # name, literal, string, path, "(", ")", ",", end
    pos: int
    end: int
    value: Any = None
    pieces: tuple[str, ...] = ()  # string literals: the text around each unescaped {}


def _scan_string(text: str, start: int) -> _Token:
    """A literal in apostrophes starting at ``start``, with the ASL escapes resolved."""
    value: list[str] = []
    pieces: list[str] = []
    piece: list[str] = []
    i, n = start + 1, len(text)
    while True:
        if i >= n:
            raise IntrinsicSyntaxError(text, start, "unterminated string", "a closing apostrophe (')")
        ch = text[i]
        if ch == "'":
            pieces.append("".join(piece))
            return _Token("string", start, i + 1, "".join(value), tuple(pieces))
        if ch == "\\":
            escaped = text[i + 1] if i + 1 < n else ""
            if escaped == "" or escaped not in _ESCAPABLE:
                raise IntrinsicSyntaxError(
                    text, i, "open escape backslash", "one of the escapes \\' \\{ \\} \\\\"
                )
            value.append(escaped)
            piece.append(escaped)
            i += 2
        elif ch == "{" and text.startswith("}", i + 1):
            value.append("{}")
            pieces.append("".join(piece))
            piece = []
            i += 2
        else:
            value.append(ch)
            piece.append(ch)
            i += 1


def _scan_path(text: str, start: int) -> int:
    """End of a path: the first ',', ')' or blank outside brackets, parentheses and quotes."""
    closers: list[str] = []
    quote = ""
    i, n = start, len(text)
    while i < n:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"" and closers:
            quote = ch
        elif ch in "[(":
            closers.append("]" if ch == "[" else ")")
        elif closers and ch == closers[-1]:
            closers.pop()
        elif ch == ")" or (not closers and (ch == "," or ch.isspace())):
            break
        i += 1
    if quote or closers:
        raise IntrinsicSyntaxError(text, start, "unterminated path", "balanced brackets and quotes")
    return i


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "(),":
            tokens.append(_Token(ch, i, i + 1))
            i += 1
        elif ch == "'":
            tokens.append(_scan_string(text, i))
            i = tokens[-1].end
        elif ch == "$":
            end = _scan_path(text, i)
            tokens.append(_Token("path", i, end, text[i:end]))
            i = end
        elif (match := _NUMBER.match(text, i)) is not None:
            number = match.group()
            value = int(number) if number.lstrip("-").isdigit() else float(number)
            tokens.append(_Token("literal", i, match.end(), value))
            i = match.end()
        elif (match := _IDENT.match(text, i)) is not None:
            word = match.group()
            kind = "literal" if word in _KEYWORDS else "name"
            tokens.append(_Token(kind, i, match.end(), _KEYWORDS.get(word, word)))
            i = match.end()
        else:
            raise IntrinsicSyntaxError(text, i, f"unexpected character {ch!r}", _ARG_FORMS)
    tokens.append(_Token("end", n, n))
    return tokens


class _Parser:
    """Recursive descent over the tokens: call := NAME '(' [arg (',' arg)*] ')'."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    def _next(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _error(self, token: _Token, problem: str, expected: str) -> IntrinsicSyntaxError:
        return IntrinsicSyntaxError(self.text, token.pos, problem, expected)

    def parse(self) -> _Call:
        first = self.tokens[0]
        if first.kind != "name" or not str(first.value).startswith("States."):
            raise self._error(
                first, "an intrinsic function must start with 'States.'", "States.Name(arg, ...)"
            )
        call = self._call(1)
        last = self._next()
        if last.kind != "end":
            raise self._error(last, "unexpected text after the closing ')'", "the end of the expression")
        return call

    def _call(self, depth: int) -> _Call:
        name_token = self._next()
        name = str(name_token.value)
        spec = FUNCTIONS.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, FUNCTIONS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise self._error(
                name_token, f"unknown intrinsic function {name!r}{hint}", "one of " + ", ".join(FUNCTIONS)
            )
        if depth > MAX_NESTING:
            raise self._error(
                name_token,
                f"intrinsic functions nested more than {MAX_NESTING} deep",
                f"at most {MAX_NESTING} nested calls",
            )
        opening = self._next()
        if opening.kind != "(" or opening.pos != name_token.end:
            raise self._error(opening, f"'(' must follow {name} immediately", spec.form)
        args: list[_Node] = []
        templates: list[tuple[str, ...]] = []
        if self.tokens[self.index].kind == ")":
            self.index += 1
        else:
            while True:
                args.append(self._arg(spec, len(args), depth, templates))
                separator = self._next()
                if separator.kind == ")":
                    break
                if separator.kind != ",":
                    shown = self.text[separator.pos : separator.end] or "end of expression"
                    raise self._error(separator, f"unexpected {shown!r}", f"',' or ')' in {spec.form}")
        if len(args) < spec.min_args or (spec.max_args is not None and len(args) > spec.max_args):
            raise self._error(name_token, f"{name} takes {spec.arity()}, got {len(args)}", spec.form)
        return _Call(spec, tuple(args), self._format_template(spec, args, templates, name_token))

    def _arg(self, spec: _Spec, index: int, depth: int, templates: list[tuple[str, ...]]) -> _Node:
        token = self._next()
        if token.kind == "literal":
            return _Literal(token.value)
        if token.kind == "string":
            templates.append(token.pieces)
            return _Literal(token.value)
        if token.kind == "path":
            try:
                return _PathArg(compile_path(token.value), spec.name, index + 1)
            except PathError as exc:
                raise self._error(token, f"invalid path {token.value!r} ({exc})", _ARG_FORMS) from None
        if token.kind == "name":
            if self.tokens[self.index].kind != "(":
                raise self._error(token, f"unexpected {token.value!r}", _ARG_FORMS)
            self.index -= 1
            return self._call(depth + 1)
        problems = {",": "missing argument", ")": "missing argument", "end": "unexpected end of expression"}
        raise self._error(token, problems.get(token.kind, f"unexpected {token.kind!r}"), _ARG_FORMS)

    def _format_template(
        self, spec: _Spec, args: list[_Node], templates: list[tuple[str, ...]], name_token: _Token
    ) -> tuple[str, ...] | None:
        """For States.Format with a literal template: check it and keep its pieces."""
        if spec.name != "States.Format" or not isinstance(args[0], _Literal):
            return None
        first = args[0].value
        if not isinstance(first, str):
            raise self._error(
                name_token, f"the template of {spec.name} must be a string, got {_describe(first)}", spec.form
            )
        pieces = templates[0]
        if len(pieces) - 1 != len(args) - 1:
            raise self._error(
                name_token,
                f"the template has {len(pieces) - 1} placeholder(s) but {len(args) - 1} value(s) follow",
                "one value per {} (escape a literal brace as \\{ or \\})",
            )
        return pieces


@lru_cache(maxsize=4096)
def compile_intrinsic(text: str) -> Intrinsic:
    """Parse and check an intrinsic call once; cached for the process."""
    if not isinstance(text, str):
        raise IntrinsicSyntaxError(repr(text), 0, "an intrinsic function must be a string", "a string")
    return Intrinsic(text, _Parser(text).parse())
