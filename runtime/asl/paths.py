"""JSONPath for ASL: compiled once per definition, evaluated per transition.

A jsonpath-ng parse costs ~0.5 ms, so every path is compiled once (``compile_path`` is
cached) and a *definite* path (only names and indexes: ``$.a['b-c'][0]``) is lowered to a
tuple of steps walked with plain ``dict``/``list`` lookups. Only indefinite paths (filters,
wildcards, slices, ``..``, unions) go through jsonpath-ng's ``find`` and, as in AWS (Jayway
JsonPath), yield a list of matches.

Three roots are understood: ``$`` (the state's input), ``$$`` (the context object) and, in
JSONPath states, ``$name`` (the variable ``name``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from jsonpath_ng import Child, Fields, Index, Root
from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext.parser import parse as jp_parse

from runtime.asl.errors import ExpressionError

Step = str | int
RootKind = Literal["input", "context", "variable"]

_VARIABLE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)")
# A definite path written with names and indexes only; the fallback for what the
# jsonpath-ng lexer refuses (non-ASCII names).
_SIMPLE_STEP = re.compile(
    r"""\.([^.\[\]'"\s]+)|\[(-?\d+)\]|\['((?:[^'\\]|\\.)*)'\]|\["((?:[^"\\]|\\.)*)"\]"""
)


class PathError(ExpressionError):
    """The text is not a JSONPath that ASL accepts."""


class PathNotFound(LookupError):
    """A definite path selected nothing in the data it was applied to."""

    def __init__(self, path: str, data: Any) -> None:
        self.path = path
        self.data = data
        super().__init__(f"No results for path: {path}")


@dataclass(frozen=True, slots=True)
class CompiledPath:
    """A JSONPath compiled for repeated evaluation."""

    text: str
    root: RootKind
    variable: str | None
    steps: tuple[Step, ...] | None  # set for definite paths
    expr: Any = None  # jsonpath-ng expression for indefinite paths

    @property
    def definite(self) -> bool:
        return self.steps is not None

    @property
    def is_reference(self) -> bool:
        """A Reference Path (spec): definite, and rooted at ``$``."""
        return self.steps is not None and self.root == "input"

    def get(self, data: Any) -> Any:
        """Select from ``data`` (already the right root). Definite: the value or PathNotFound;
        indefinite: the list of matches (possibly empty)."""
        steps = self.steps
        if steps is None:
            return [m.value for m in self.expr.find(data)]
        for step in steps:
            if type(step) is str:
                # JSON objects are plain dicts: test that first, the ABC check costs ~8x more.
                if (type(data) is dict or isinstance(data, Mapping)) and step in data:
                    data = data[step]
                    continue
                raise PathNotFound(self.text, data)
            if isinstance(data, list) and -len(data) <= step < len(data):  # type: ignore[operator]
                data = data[step]  # type: ignore[index]
                continue
            raise PathNotFound(self.text, data)
        return data

    def resolve(self, data: Any, context: Any = None, variables: Mapping[str, Any] | None = None) -> Any:
        """Select against the root this path names: input, context object or a variable."""
        if self.root == "input":
            return self.get(data)
        if self.root == "context":
            return self.get(context)
        assert self.variable is not None
        if variables is None or self.variable not in variables:
            raise PathNotFound(self.text, None)
        return self.get(variables[self.variable])

    def set(self, data: Any, value: Any) -> Any:
        """Return a copy of ``data`` with ``value`` placed at this reference path (ResultPath).

        Missing objects on the way are created; the input is never mutated. Raises
        ``PathNotFound`` when a step crosses a value that is not an object (or an index out
        of range), which the interpreter reports as States.ResultPathMatchFailure.
        """
        steps = self.steps
        if steps is None or self.root != "input":
            raise PathError(f"{self.text!r} is not a reference path")
        if not steps:
            return value
        return _set(data, steps, value, self.text)


def _set(node: Any, steps: tuple[Step, ...], value: Any, text: str) -> Any:
    step, rest = steps[0], steps[1:]
    if isinstance(step, str):
        if node is None:
            node = {}
        if type(node) is not dict and not isinstance(node, Mapping):
            raise PathNotFound(text, node)
        copy = dict(node)
        copy[step] = _set(copy.get(step), rest, value, text) if rest else value
        return copy
    if not isinstance(node, list) or not -len(node) <= step < len(node):
        raise PathNotFound(text, node)
    lcopy = list(node)
    lcopy[step] = _set(lcopy[step], rest, value, text) if rest else value
    return lcopy


def _lower(expr: Any) -> tuple[Step, ...] | None:
    """Turn a jsonpath-ng AST made only of Root/single Fields/single Index into steps."""
    if isinstance(expr, Root):
        return ()
    if isinstance(expr, Child):
        left = _lower(expr.left)
        if left is None:
            return None
        right = expr.right
        if isinstance(right, Fields) and len(right.fields) == 1 and right.fields[0] != "*":
            return (*left, right.fields[0])
        if isinstance(right, Index) and len(right.indices) == 1:
            return (*left, int(right.indices[0]))
    return None


def _simple_steps(body: str) -> tuple[Step, ...] | None:
    steps: list[Step] = []
    pos = 0
    while pos < len(body):
        m = _SIMPLE_STEP.match(body, pos)
        if not m:
            return None
        name, idx, sq, dq = m.groups()
        if idx is not None:
            steps.append(int(idx))
        else:
            steps.append(name if name is not None else (sq if sq is not None else dq).replace("\\", ""))
        pos = m.end()
    return tuple(steps)


@lru_cache(maxsize=8192)
def compile_path(text: str) -> CompiledPath:
    """Compile an ASL path (``$...``, ``$$...`` or ``$var...``); cached for the process."""
    if not isinstance(text, str) or not text.startswith("$"):
        raise PathError(f"{text!r} is not a JSONPath: it must begin with '$'")
    root: RootKind = "input"
    variable: str | None = None
    body = text
    if text.startswith("$$"):
        root, body = "context", text[1:]
    else:
        m = _VARIABLE.match(text)
        if m:
            root, variable, body = "variable", m.group(1), "$" + text[m.end() :]
    try:
        expr = jp_parse(body)
    # The library raises bare Exception too.
    except (JsonPathLexerError, JsonPathParserError, Exception) as exc:
        simple = _simple_steps(body[1:])
        if simple is None:
            raise PathError(f"{text!r} is not a valid JSONPath: {exc}") from None
        return CompiledPath(text, root, variable, simple)
    steps = _lower(expr)
    return CompiledPath(text, root, variable, steps, None if steps is not None else expr)


def is_path(text: Any) -> bool:
    """True when ``text`` compiles as a JSONPath."""
    try:
        compile_path(text)
    except PathError:
        return False
    return True
