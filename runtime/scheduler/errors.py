"""Errors of the scheduler role and the schedules API.

Each class carries ``aws_code`` (EventBridge Scheduler's error names) so the API layer can
answer in AWS's shape without a lookup table of its own, as the store's errors do.
"""

from __future__ import annotations

from runtime.asl.errors import StateHopError


class SchedulerError(StateHopError):
    """Root of the scheduler's errors."""

    aws_code = "InternalServerException"


class ScheduleValidationError(SchedulerError, ValueError):
    """A schedule argument is malformed (name, time zone, target, input, state, dates, ...).

    ``field`` names the argument in EventBridge Scheduler's terms (``"EndDate"``,
    ``"Target.RetryPolicy.MaximumRetryAttempts"``) when the error is about one.
    """

    aws_code = "ValidationException"
    field: str | None = None

    @classmethod
    def of(cls, field: str, problem: str, expected: str) -> ScheduleValidationError:
        """``<field>: <problem>; expected <expected form>``."""
        error = cls(f"{field}: {problem}; expected {expected}")
        error.field = field
        return error


class ScheduleExpressionError(ScheduleValidationError):
    """A ``cron(...)``, ``rate(...)`` or ``at(...)`` expression StateHop cannot run.

    ``field`` names the part that is wrong (``"day-of-week"``, ``"rate unit"``, ...) so a UI can
    point at it; the message says what was found and which form is expected.
    """

    def __init__(
        self, expression: str, problem: str, *, field: str | None = None, expected: str = ""
    ) -> None:
        self.expression = expression
        self.field = field
        self.problem = problem
        self.expected = expected
        where = f" {field} field:" if field else ""
        hint = f"; expected {expected}" if expected else ""
        super().__init__(f"invalid schedule expression {expression!r}:{where} {problem}{hint}")


class ScheduleNotFound(SchedulerError):
    """No schedule has that name."""

    aws_code = "ResourceNotFoundException"


class ScheduleAlreadyExists(SchedulerError):
    """A schedule with that name exists already."""

    aws_code = "ConflictException"


__all__ = [
    "ScheduleAlreadyExists",
    "ScheduleExpressionError",
    "ScheduleNotFound",
    "ScheduleValidationError",
    "SchedulerError",
]
