"""The hop: one message = "enter/resume state S of execution E with this document".

Routing and identity travel in AMQP headers (short ``x-sh-*`` names, documented in
docs/wire-format.md) so a router, a tracer or a service in another language can read them
without parsing the body; the body is only the state document, orjson-encoded. This is the
engine's hot path, so encoding and decoding are plain dict work with no validation layer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from runtime.asl.errors import StateHopError
from runtime.transport.base import Message

#: Wire format version; bumped only on an incompatible change.
WIRE_VERSION = 1
CONTENT_TYPE = "application/json"

H_VERSION = "x-sh-v"
H_EXECUTION = "x-sh-exec"
H_STATE_MACHINE = "x-sh-sm"
H_STATE = "x-sh-state"
H_BRANCH = "x-sh-branch"
H_SEQ = "x-sh-seq"
H_ATTEMPT = "x-sh-attempt"
H_KIND = "x-sh-kind"
H_TYPE = "x-sh-type"
H_DEADLINE = "x-sh-deadline"  # epoch milliseconds (int): AMQP floats are only 32-bit in pamqp
H_TRACEPARENT = "traceparent"  # W3C names as-is, so any OTel propagator finds them
H_TRACESTATE = "tracestate"

STANDARD = "STANDARD"
EXPRESS = "EXPRESS"
WORKFLOW_TYPES = frozenset({STANDARD, EXPRESS})


class HopDecodeError(StateHopError, ValueError):
    """A message is not a valid hop; the text names the offending header."""


def hop_message_id(execution_arn: str, branch: str, seq: int, kind: str) -> str:
    """Deterministic id of a hop: the same transition always gets the same id.

    ``sha256(exec NUL branch NUL seq NUL kind)``, first 128 bits as lower-case hex: sha256
    because every language has it in its standard library.
    """
    key = f"{execution_arn}\x00{branch}\x00{seq}\x00{kind}".encode()
    return hashlib.sha256(key).hexdigest()[:32]


@dataclass(slots=True)
class Hop:
    """A state transition in flight. ``body`` is the state document (any JSON value)."""

    execution_arn: str
    state_machine_arn: str
    state: str
    body: Any = None
    branch: str = ""
    seq: int = 0
    attempt: int = 0
    kind: str = "enter"
    workflow_type: str = STANDARD
    deadline: float | None = None
    traceparent: str | None = None
    tracestate: str | None = None

    @property
    def message_id(self) -> str:
        return hop_message_id(self.execution_arn, self.branch, self.seq, self.kind)

    @property
    def persistent(self) -> bool:
        """STANDARD hops are persistent and confirmed; EXPRESS hops travel transient."""
        return self.workflow_type != EXPRESS

    def successor(self, state: str, body: Any, kind: str = "enter") -> Hop:
        """The next hop of the same branch: ``seq + 1``, attempt reset, context carried over."""
        return Hop(
            self.execution_arn,
            self.state_machine_arn,
            state,
            body,
            self.branch,
            self.seq + 1,
            0,
            kind,
            self.workflow_type,
            self.deadline,
            self.traceparent,
            self.tracestate,
        )

    def to_message(self) -> Message:
        """Encode for the transport (orjson body, identity in headers, deterministic id)."""
        headers: dict[str, Any] = {
            H_VERSION: WIRE_VERSION,
            H_EXECUTION: self.execution_arn,
            H_STATE_MACHINE: self.state_machine_arn,
            H_STATE: self.state,
            H_BRANCH: self.branch,
            H_SEQ: self.seq,
            H_ATTEMPT: self.attempt,
            H_KIND: self.kind,
            H_TYPE: self.workflow_type,
        }
        if self.deadline is not None:
            headers[H_DEADLINE] = round(self.deadline * 1000)
        if self.traceparent is not None:
            headers[H_TRACEPARENT] = self.traceparent
            if self.tracestate is not None:
                headers[H_TRACESTATE] = self.tracestate
        key = f"{self.execution_arn}\x00{self.branch}\x00{self.seq}\x00{self.kind}".encode()
        return Message(
            orjson.dumps(self.body),
            headers,
            hashlib.sha256(key).hexdigest()[:32],
            CONTENT_TYPE,
            self.workflow_type != EXPRESS,
        )

    @classmethod
    def from_message(cls, message: Message) -> Hop:
        """Decode a transport message; :class:`HopDecodeError` names the bad header."""
        headers = message.headers
        if not headers:
            raise HopDecodeError("not a hop: message has no headers")
        try:
            version = headers[H_VERSION]
            execution_arn = headers[H_EXECUTION]
            state_machine_arn = headers[H_STATE_MACHINE]
            state = headers[H_STATE]
            seq = headers[H_SEQ]
            kind = headers[H_KIND]
            workflow_type = headers[H_TYPE]
        except KeyError as missing:
            raise HopDecodeError(f"hop header {missing.args[0]} is missing") from None
        branch = headers.get(H_BRANCH, "")
        attempt = headers.get(H_ATTEMPT, 0)
        deadline_ms = headers.get(H_DEADLINE)
        traceparent = headers.get(H_TRACEPARENT)
        tracestate = headers.get(H_TRACESTATE)

        # one cheap type check per field; the slow path below says which header is wrong
        if not (
            type(execution_arn) is str
            and type(state_machine_arn) is str
            and type(state) is str
            and type(branch) is str
            and type(kind) is str
            and type(seq) is int
            and type(attempt) is int
            and (deadline_ms is None or type(deadline_ms) is int)
            and (traceparent is None or type(traceparent) is str)
            and (tracestate is None or type(tracestate) is str)
            and version == WIRE_VERSION
            and workflow_type in WORKFLOW_TYPES
        ):
            _explain(headers)
        if seq < 0 or attempt < 0 or not execution_arn or not state:
            _explain(headers)
        try:
            body = orjson.loads(message.body) if message.body else None
        except orjson.JSONDecodeError as exc:
            raise HopDecodeError(f"hop body is not valid JSON: {exc}") from None
        return cls(
            execution_arn,
            state_machine_arn,
            state,
            body,
            branch,
            seq,
            attempt,
            kind,
            workflow_type,
            None if deadline_ms is None else deadline_ms / 1000,
            traceparent,
            tracestate,
        )


def _explain(headers: dict[str, Any]) -> None:
    """Raise the precise error for headers that failed the fast check."""
    version = headers[H_VERSION]
    if version != WIRE_VERSION:
        raise HopDecodeError(f"hop header {H_VERSION}: unsupported wire version {version!r}")
    for name in (H_EXECUTION, H_STATE):
        value = headers[name]
        if type(value) is not str or not value:
            raise HopDecodeError(f"hop header {name}: expected a non-empty string, got {value!r}")
    for name in (H_STATE_MACHINE, H_BRANCH, H_KIND):
        value = headers.get(name, "")
        if type(value) is not str:
            raise HopDecodeError(f"hop header {name}: expected a string, got {value!r}")
    for name in (H_SEQ, H_ATTEMPT):
        value = headers.get(name, 0)
        if type(value) is not int or value < 0:
            raise HopDecodeError(f"hop header {name}: expected an integer >= 0, got {value!r}")
    workflow_type = headers[H_TYPE]
    if workflow_type not in WORKFLOW_TYPES:
        raise HopDecodeError(f"hop header {H_TYPE}: expected STANDARD or EXPRESS, got {workflow_type!r}")
    deadline_ms = headers.get(H_DEADLINE)
    if deadline_ms is not None and type(deadline_ms) is not int:
        raise HopDecodeError(
            f"hop header {H_DEADLINE}: expected epoch milliseconds (int), got {deadline_ms!r}"
        )
    for name in (H_TRACEPARENT, H_TRACESTATE):
        value = headers.get(name)
        if value is not None and type(value) is not str:
            raise HopDecodeError(f"hop header {name}: expected a string, got {value!r}")
    raise HopDecodeError("hop headers are invalid")  # pragma: no cover - checks above are exhaustive


__all__ = [
    "CONTENT_TYPE",
    "EXPRESS",
    "H_ATTEMPT",
    "H_BRANCH",
    "H_DEADLINE",
    "H_EXECUTION",
    "H_KIND",
    "H_SEQ",
    "H_STATE",
    "H_STATE_MACHINE",
    "H_TRACEPARENT",
    "H_TRACESTATE",
    "H_TYPE",
    "H_VERSION",
    "STANDARD",
    "WIRE_VERSION",
    "Hop",
    "HopDecodeError",
    "hop_message_id",
]
