"""The hop wire format: round trip, deterministic ids, and decode errors that name the header."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from runtime.hop import (
    EXPRESS,
    H_ATTEMPT,
    H_BRANCH,
    H_DEADLINE,
    H_EXECUTION,
    H_KIND,
    H_SEQ,
    H_STATE,
    H_STATE_MACHINE,
    H_TRACEPARENT,
    H_TRACESTATE,
    H_TYPE,
    H_VERSION,
    Hop,
    HopDecodeError,
    hop_message_id,
)
from runtime.transport.base import Message

EXEC = "arn:aws:states:eu-west-1:123456789012:execution:Orders:7f3c"
SM = "arn:aws:states:eu-west-1:123456789012:stateMachine:Orders:4"


def full_hop() -> Hop:
    return Hop(
        EXEC,
        SM,
        "Charge card",
        {"order": {"id": 42, "lines": [{"sku": "a", "qty": 2}]}, "note": "ünïcode", "f": 1.5},
        branch="Fanout/1/Items/37",
        seq=12,
        attempt=2,
        kind="complete",
        workflow_type="STANDARD",
        deadline=1_900_000_000.25,
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        tracestate="congo=t61rcWkgMzE",
    )


def test_round_trip_keeps_every_field() -> None:
    hop = full_hop()
    assert Hop.from_message(hop.to_message()) == hop


@pytest.mark.parametrize("body", [None, 0, "text", [1, "two", None], {"a": {"b": [True, False]}}, 1e-9])
def test_round_trip_any_json_body(body: Any) -> None:
    hop = Hop(EXEC, SM, "S", body)
    assert Hop.from_message(hop.to_message()).body == body


def test_minimal_hop_defaults() -> None:
    hop = Hop(EXEC, SM, "Start", {"x": 1})
    message = hop.to_message()
    assert message.headers == {
        H_VERSION: 1,
        H_EXECUTION: EXEC,
        H_STATE_MACHINE: SM,
        H_STATE: "Start",
        H_BRANCH: "",
        H_SEQ: 0,
        H_ATTEMPT: 0,
        H_KIND: "enter",
        H_TYPE: "STANDARD",
    }
    assert message.content_type == "application/json"
    assert message.body == b'{"x":1}'
    assert message.persistent
    decoded = Hop.from_message(message)
    assert decoded == hop
    assert decoded.deadline is None and decoded.traceparent is None


def test_payload_never_travels_in_headers() -> None:
    secret = "card-4111-1111"
    message = Hop(EXEC, SM, "S", {"pan": secret}).to_message()
    assert all(secret not in str(value) for value in message.headers.values())


def test_deadline_travels_as_integer_milliseconds() -> None:
    # AMQP floats are 32-bit in pamqp: an epoch in seconds would lose minutes
    message = Hop(EXEC, SM, "S", deadline=1_900_000_000.1234).to_message()
    assert message.headers[H_DEADLINE] == 1_900_000_000_123
    assert Hop.from_message(message).deadline == pytest.approx(1_900_000_000.123)


def test_tracestate_needs_traceparent() -> None:
    message = Hop(EXEC, SM, "S", tracestate="orphan=1").to_message()
    assert H_TRACEPARENT not in message.headers and H_TRACESTATE not in message.headers


def test_express_hops_are_transient() -> None:
    hop = Hop(EXEC, SM, "S", workflow_type=EXPRESS)
    assert not hop.persistent
    assert not hop.to_message().persistent
    assert Hop.from_message(hop.to_message()).workflow_type == EXPRESS


# --------------------------------------------------------------------------- message ids


def test_message_id_is_deterministic_and_documented() -> None:
    hop = full_hop()
    expected = hashlib.sha256(f"{EXEC}\x00Fanout/1/Items/37\x0012\x00complete".encode()).hexdigest()[:32]
    assert hop.message_id == expected
    assert hop.to_message().message_id == expected
    assert full_hop().to_message().message_id == expected  # same hop again: same id
    assert hop_message_id(EXEC, "Fanout/1/Items/37", 12, "complete") == expected
    assert len(expected) == 32 and int(expected, 16) >= 0


@pytest.mark.parametrize(
    "change",
    [
        {"execution_arn": EXEC + "x"},
        {"branch": "Fanout/2"},
        {"seq": 13},
        {"kind": "enter"},
    ],
)
def test_identity_fields_change_the_id(change: dict[str, Any]) -> None:
    hop = full_hop()
    other = full_hop()
    for name, value in change.items():
        setattr(other, name, value)
    assert other.to_message().message_id != hop.to_message().message_id


@pytest.mark.parametrize(
    "change",
    [{"attempt": 5}, {"body": {"other": 1}}, {"state": "Other"}, {"deadline": None}, {"traceparent": None}],
)
def test_redelivery_context_does_not_change_the_id(change: dict[str, Any]) -> None:
    hop = full_hop()
    other = full_hop()
    for name, value in change.items():
        setattr(other, name, value)
    assert other.to_message().message_id == hop.to_message().message_id


def test_separator_prevents_ambiguous_ids() -> None:
    assert hop_message_id("a", "b1", 2, "k") != hop_message_id("a", "b", 12, "k")


def test_successor_advances_the_sequence() -> None:
    hop = full_hop()
    nxt = hop.successor("Ship", {"shipped": True})
    assert (nxt.state, nxt.body, nxt.seq, nxt.attempt, nxt.kind) == (
        "Ship",
        {"shipped": True},
        13,
        0,
        "enter",
    )
    assert (nxt.execution_arn, nxt.branch, nxt.deadline, nxt.traceparent) == (
        hop.execution_arn,
        hop.branch,
        hop.deadline,
        hop.traceparent,
    )
    assert nxt.message_id != hop.message_id


# --------------------------------------------------------------------------- decode errors


def broken(**overrides: Any) -> Message:
    message = full_hop().to_message()
    for name, value in overrides.items():
        if value is ...:
            del message.headers[name]
        else:
            message.headers[name] = value
    return message


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({H_EXECUTION: ...}, H_EXECUTION),
        ({H_STATE: ...}, H_STATE),
        ({H_STATE_MACHINE: ...}, H_STATE_MACHINE),
        ({H_SEQ: ...}, H_SEQ),
        ({H_KIND: ...}, H_KIND),
        ({H_TYPE: ...}, H_TYPE),
        ({H_VERSION: ...}, H_VERSION),
        ({H_VERSION: 2}, H_VERSION),
        ({H_EXECUTION: ""}, H_EXECUTION),
        ({H_EXECUTION: b"\xff\xfe"}, H_EXECUTION),
        ({H_STATE: 7}, H_STATE),
        ({H_BRANCH: None}, H_BRANCH),
        ({H_SEQ: "12"}, H_SEQ),
        ({H_SEQ: -1}, H_SEQ),
        ({H_SEQ: True}, H_SEQ),
        ({H_ATTEMPT: 1.0}, H_ATTEMPT),
        ({H_TYPE: "standard"}, H_TYPE),
        ({H_DEADLINE: 1.9e9}, H_DEADLINE),
        ({H_DEADLINE: "soon"}, H_DEADLINE),
        ({H_TRACEPARENT: 5}, H_TRACEPARENT),
        ({H_TRACESTATE: b"\xff"}, H_TRACESTATE),
        ({H_KIND: ["enter"]}, H_KIND),
    ],
)
def test_bad_header_is_named(overrides: dict[str, Any], named: str) -> None:
    with pytest.raises(HopDecodeError, match=named):
        Hop.from_message(broken(**overrides))


def test_no_headers_at_all() -> None:
    with pytest.raises(HopDecodeError, match="no headers"):
        Hop.from_message(Message(b"{}"))


def test_bad_json_body() -> None:
    message = full_hop().to_message()
    message.body = b"{not json"
    with pytest.raises(HopDecodeError, match="not valid JSON"):
        Hop.from_message(message)


def test_decode_error_is_a_statehop_error_and_value_error() -> None:
    from runtime.asl.errors import StateHopError

    with pytest.raises(StateHopError):
        Hop.from_message(broken(**{H_SEQ: "x"}))
    with pytest.raises(ValueError):
        Hop.from_message(broken(**{H_SEQ: "x"}))


def test_optional_headers_may_be_absent() -> None:
    message = broken(
        **{H_BRANCH: ..., H_ATTEMPT: ..., H_DEADLINE: ..., H_TRACEPARENT: ..., H_TRACESTATE: ...}
    )
    hop = Hop.from_message(message)
    assert (hop.branch, hop.attempt, hop.deadline, hop.traceparent, hop.tracestate) == (
        "",
        0,
        None,
        None,
        None,
    )
