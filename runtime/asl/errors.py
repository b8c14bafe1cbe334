"""The one error hierarchy of StateHop, and the names of the States.* errors.

Everything StateHop raises derives from :class:`StateHopError`. The pure core raises
:class:`DefinitionError` for a definition that breaks the language (with every problem and
its JSON pointer) and :class:`StatesError` for a run-time error that a Retry/Catch may match,
carrying the ``Error`` name and the ``Cause`` text exactly as AWS words them.
"""

from __future__ import annotations

from dataclasses import dataclass


class StateHopError(Exception):
    """Root of every error StateHop raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a definition: where (JSON pointer), which rule, and how to fix it."""

    pointer: str
    rule: str
    message: str
    hint: str = ""
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        text = f"{self.pointer or '/'}: {self.message} [{self.rule}]"
        return f"{text}\n    fix: {self.hint}" if self.hint else text


class DefinitionError(StateHopError):
    """The definition is not valid ASL; ``problems`` lists every error found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(str(p) for p in problems)
        super().__init__(f"invalid state machine definition ({len(problems)} problem(s)):\n{lines}")


class ExpressionError(StateHopError, ValueError):
    """A JSONPath, intrinsic function or JSONata expression that does not compile."""


class StatesError(StateHopError):
    """A run-time error of an execution, as ``{"Error": error, "Cause": cause}``.

    Raised inside the interpreter and turned into a Retry, a Catch or a failed execution;
    never escapes the core as an exception.
    """

    def __init__(self, error: str, cause: str = "") -> None:
        self.error = error
        self.cause = cause
        super().__init__(f"{error}: {cause}" if cause else error)

    def to_output(self) -> dict[str, str]:
        return {"Error": self.error, "Cause": self.cause}


class StatesNames:
    """Predefined error names (ASL specification, "Errors")."""

    ALL = "States.ALL"
    HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
    TIMEOUT = "States.Timeout"
    TASK_FAILED = "States.TaskFailed"
    PERMISSIONS = "States.Permissions"
    RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
    PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
    QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
    BRANCH_FAILED = "States.BranchFailed"
    NO_CHOICE_MATCHED = "States.NoChoiceMatched"
    INTRINSIC_FAILURE = "States.IntrinsicFailure"
    EXCEED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"
    ITEM_READER_FAILED = "States.ItemReaderFailed"
    RESULT_WRITER_FAILED = "States.ResultWriterFailed"
    RUNTIME = "States.Runtime"
    DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"

    #: States.ALL matches every error except these terminal ones.
    NOT_MATCHED_BY_ALL = frozenset({RUNTIME, DATA_LIMIT_EXCEEDED})
