"""Definition checks shared by Create/UpdateStateMachine and ValidateStateMachineDefinition.

The validator of the pure core finds the problems; this module words them as AWS does and
adds the one rule that depends on the machine's type: EXPRESS machines cannot wait for a
callback, an activity or a ``.sync`` job, so AWS refuses those definitions at creation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from runtime.api.errors import ApiError, definition_message
from runtime.api.service import ApiContext, Handler, Params, Result
from runtime.asl.errors import Problem, StateHopError
from runtime.asl.model import parse_machine
from runtime.asl.validator import validate_text

_EXPRESS_UNSUPPORTED = (".sync", ".sync:2", ".waitForTaskToken")
MAX_DIAGNOSTICS = 100


def _resources(node: Any, pointer: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            at = f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}"
            if key == "Resource" and isinstance(value, str):
                yield at, value
            else:
                yield from _resources(value, at)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _resources(item, f"{pointer}/{i}")


def type_problems(text: str, machine_type: str) -> list[Problem]:
    """Problems only an EXPRESS machine has (AWS refuses these patterns there)."""
    if machine_type != "EXPRESS":
        return []
    try:
        definition = orjson.loads(text)
    except orjson.JSONDecodeError:
        return []
    problems = []
    for pointer, resource in _resources(definition, ""):
        pattern = next((s for s in _EXPRESS_UNSUPPORTED if resource.endswith(s)), None)
        if pattern is not None:
            problems.append(
                Problem(
                    pointer,
                    "SCHEMA_VALIDATION_FAILED",
                    f"Express state machine does not support '{pattern}' service integration",
                )
            )
        elif ":activity:" in resource:
            problems.append(
                Problem(
                    pointer, "SCHEMA_VALIDATION_FAILED", "Express state machine does not support activities"
                )
            )
    return problems


def problems_of(text: str, machine_type: str = "STANDARD") -> list[Problem]:
    return [*validate_text(text), *type_problems(text, machine_type)]


def check_definition(text: str, machine_type: str = "STANDARD") -> None:
    """Raise InvalidDefinition unless the definition is valid ASL that compiles."""
    errors = [p for p in problems_of(text, machine_type) if p.severity == "error"]
    if errors:
        raise ApiError("InvalidDefinition", definition_message(errors))
    try:
        parse_machine(text)
    except StateHopError as exc:
        problems = getattr(exc, "problems", None)
        message = definition_message(problems) if problems else f"Invalid State Machine Definition: '{exc}'"
        raise ApiError("InvalidDefinition", message) from None


def diagnostic(problem: Problem) -> Result:
    message = f"{problem.message} (fix: {problem.hint})" if problem.hint else problem.message
    item: Result = {"severity": problem.severity.upper(), "code": problem.rule, "message": message}
    if problem.pointer:
        item["location"] = problem.pointer
    return item


async def validate_state_machine_definition(ctx: ApiContext, p: Params) -> Result:
    problems = problems_of(p["definition"], p.get("type") or "STANDARD")
    failed = any(pr.severity == "error" for pr in problems)
    if (p.get("severity") or "ERROR") == "ERROR":
        problems = [pr for pr in problems if pr.severity == "error"]
    limit = p.get("maxResults") or MAX_DIAGNOSTICS
    diagnostics = [diagnostic(pr) for pr in problems[:limit]]
    return {
        "result": "FAIL" if failed else "OK",
        "diagnostics": diagnostics,
        "truncated": len(problems) > limit,
    }


ACTIONS: dict[str, Handler] = {"ValidateStateMachineDefinition": validate_state_machine_definition}
