"""Errors the store raises, named after the AWS Step Functions errors they become.

Each class carries ``aws_code`` so the API layer can answer with AWS's error name without a
lookup table of its own. :class:`TransientStoreError` is the one to retry: the database
refused the transaction for reasons of timing (deadlock, serialization, a locked SQLite file),
not because of what was asked.
"""

from __future__ import annotations

from runtime.asl.errors import StateHopError


class StoreError(StateHopError):
    """Root of the store's errors."""

    aws_code = "InternalError"


class TransientStoreError(StoreError):
    """Deadlock, serialization failure or a locked database: run the transaction again."""

    aws_code = "ServiceUnavailable"


class ValidationError(StoreError, ValueError):
    """An argument is malformed (a name, a routing configuration, a page size)."""

    aws_code = "ValidationException"


class InvalidArn(ValidationError):
    """The text is not an ARN of the kind the operation takes."""

    aws_code = "InvalidArn"


class InvalidName(ValidationError):
    """A name breaks AWS's naming rules (length, forbidden characters)."""

    aws_code = "InvalidName"


class InvalidToken(ValidationError):
    """A pagination token that this store did not issue for this very query."""

    aws_code = "InvalidToken"


class TooManyTags(ValidationError):
    """More than 50 tags on one resource, or a key/value over AWS's length limits."""

    aws_code = "TooManyTags"


class ConflictError(StoreError):
    """The change contradicts the resource's current state (stale revision, alias in use...)."""

    aws_code = "ConflictException"


class ResourceNotFound(StoreError):
    """A version, alias, map run or tagged resource that does not exist."""

    aws_code = "ResourceNotFound"


class StateMachineDoesNotExist(StoreError):
    aws_code = "StateMachineDoesNotExist"


class StateMachineAlreadyExists(StoreError):
    """The name is taken by a machine with a different definition or configuration."""

    aws_code = "StateMachineAlreadyExists"


class StateMachineDeleting(StoreError):
    """The machine is being deleted: no new executions, its name is not free yet."""

    aws_code = "StateMachineDeleting"


class ExecutionDoesNotExist(StoreError):
    aws_code = "ExecutionDoesNotExist"


class ExecutionAlreadyExists(StoreError):
    """The execution name is taken with a different input (or, AWS-strict, is closed)."""

    aws_code = "ExecutionAlreadyExists"


class ExecutionNotRedrivable(StoreError):
    aws_code = "ExecutionNotRedrivable"


class ActivityDoesNotExist(StoreError):
    aws_code = "ActivityDoesNotExist"


class TaskDoesNotExist(StoreError):
    """No task token like this one was issued (or its execution is gone)."""

    aws_code = "TaskDoesNotExist"


class TaskTimedOut(StoreError):
    """The task token is no longer pending: completed, failed, timed out or cancelled."""

    aws_code = "TaskTimedOut"


class ForkDoesNotExist(StoreError):
    """No Parallel/Map join under this execution and fork key."""
