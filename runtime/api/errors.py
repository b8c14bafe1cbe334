"""AWS error codes and HTTP statuses, in one table, for both the AWS protocol and REST.

boto3 and the AWS CLI raise typed exceptions from the ``__type`` of an error body, so every
error StateHop answers with carries AWS's own code. Store errors already name their code
(``aws_code``); :func:`to_api_error` turns anything raised while serving a request into an
:class:`ApiError`, and :data:`ERRORS` says which HTTP status each code gets: always 400 on the
AWS JSON protocol (as AWS answers), a status that means something to HTTP clients on REST.
"""

from __future__ import annotations

import logging
from typing import Any

from runtime.asl.errors import DefinitionError, Problem, StateHopError

log = logging.getLogger("statehop.api")

#: AWS error code -> (HTTP status on the AWS JSON protocol, HTTP status on the REST view).
ERRORS: dict[str, tuple[int, int]] = {
    # service-2.json error shapes of Step Functions
    "ActivityAlreadyExists": (400, 409),
    "ActivityDoesNotExist": (400, 404),
    "ActivityLimitExceeded": (400, 429),
    "ActivityWorkerLimitExceeded": (400, 429),
    "ConflictException": (400, 409),
    "ExecutionAlreadyExists": (400, 409),
    "ExecutionDoesNotExist": (400, 404),
    "ExecutionLimitExceeded": (400, 429),
    "ExecutionNotRedrivable": (400, 409),
    "InvalidArn": (400, 400),
    "InvalidDefinition": (400, 400),
    "InvalidEncryptionConfiguration": (400, 400),
    "InvalidExecutionInput": (400, 400),
    "InvalidLoggingConfiguration": (400, 400),
    "InvalidName": (400, 400),
    "InvalidOutput": (400, 400),
    "InvalidToken": (400, 400),
    "InvalidTracingConfiguration": (400, 400),
    "KmsAccessDeniedException": (400, 403),
    "KmsInvalidStateException": (400, 400),
    "KmsThrottlingException": (400, 429),
    "MissingRequiredParameter": (400, 400),
    "ResourceNotFound": (400, 404),
    "ServiceQuotaExceededException": (400, 429),
    "StateMachineAlreadyExists": (400, 409),
    "StateMachineDeleting": (400, 409),
    "StateMachineDoesNotExist": (400, 404),
    "StateMachineLimitExceeded": (400, 429),
    "StateMachineTypeNotSupported": (400, 400),
    "TaskDoesNotExist": (400, 404),
    "TaskTimedOut": (400, 409),
    "TooManyTags": (400, 400),
    "ValidationException": (400, 400),
    # common errors of every AWS JSON service
    "SerializationException": (400, 400),
    "UnknownOperationException": (400, 404),
    "MissingAuthenticationTokenException": (400, 401),
    "IncompleteSignatureException": (400, 401),
    "InvalidSignatureException": (400, 401),
    "UnrecognizedClientException": (400, 401),
    "AccessDeniedException": (400, 403),
    "ThrottlingException": (400, 429),
    "ServiceUnavailable": (503, 503),
    "InternalFailure": (500, 500),
}


class ApiError(StateHopError):
    """An answer with AWS's error ``code`` and a ``message``; extra members go into the body."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.extra = extra

    @property
    def status(self) -> int:
        return ERRORS.get(self.code, (400, 400))[0]

    @property
    def rest_status(self) -> int:
        return ERRORS.get(self.code, (400, 400))[1]

    def body(self) -> dict[str, Any]:
        """The error document of the AWS JSON protocol (botocore reads ``__type``)."""
        return {"__type": self.code, "message": self.message, **self.extra}


def definition_message(problems: list[Problem]) -> str:
    """AWS's wording: ``Invalid State Machine Definition: 'CODE: message at /pointer'``."""
    parts = [f"{p.rule}: {p.message} at {p.pointer or '/'}" for p in problems]
    return "Invalid State Machine Definition: '" + ", ".join(parts) + "'"


def to_api_error(exc: BaseException) -> ApiError:
    """Whatever a handler raised, as the error to answer with (unexpected ones are logged)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, DefinitionError):
        return ApiError("InvalidDefinition", definition_message(exc.problems))
    code = getattr(exc, "aws_code", None)
    if isinstance(exc, StateHopError) and isinstance(code, str) and code in ERRORS:
        return ApiError(code, str(exc))
    log.exception("unexpected error while serving a request", exc_info=exc)
    return ApiError("InternalFailure", f"Internal error: {type(exc).__name__}")
