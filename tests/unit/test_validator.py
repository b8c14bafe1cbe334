"""Table-driven tests of the ASL validator: each rule, its JSON pointer and its code.

Every case is a small definition built from the helpers below and the exact set of
``(pointer, rule)`` errors it must produce, so a missed problem, a spurious one or a problem
at the wrong place all fail. Acceptance cases are the forms AWS accepts and must stay silent.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.asl.errors import ExpressionError, Problem
from runtime.asl.validator import MAX_NESTING, RULES, STATE_FIELDS, validate_definition, validate_text

LAMBDA = "arn:aws:states:::lambda:invoke"
DROP: Any = object()  # a field to remove from a helper's defaults

SCHEMA = "SCHEMA_VALIDATION_FAILED"
MTT = "MISSING_TRANSITION_TARGET"
END = "MISSING_END_STATE"
JSONATA = "INVALID_JSONATA_EXPRESSION"


def _merge(base: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in {**base, **fields}.items() if v is not DROP}


def sm(states: dict[str, Any], start: str | None = None, **top: Any) -> dict[str, Any]:
    """A machine; StartAt defaults to the first state."""
    return _merge({"StartAt": start if start is not None else next(iter(states)), "States": states}, top)


def one(state: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A machine with the single state "S"."""
    return sm({"S": state}, **top)


def task(**fields: Any) -> dict[str, Any]:
    return _merge({"Type": "Task", "Resource": LAMBDA, "End": True}, fields)


def pass_(**fields: Any) -> dict[str, Any]:
    return _merge({"Type": "Pass", "End": True}, fields)


def wait(**fields: Any) -> dict[str, Any]:
    return _merge({"Type": "Wait", "Seconds": 1, "End": True}, fields)


def succeed(**fields: Any) -> dict[str, Any]:
    return _merge({"Type": "Succeed"}, fields)


def fail(**fields: Any) -> dict[str, Any]:
    return _merge({"Type": "Fail"}, fields)


def choice(*rules: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return _merge({"Type": "Choice", "Choices": list(rules)}, fields)


def rule(next_: str = "D", **fields: Any) -> dict[str, Any]:
    """A JSONPath Choice Rule (IsPresent test) going to ``next_``."""
    return _merge({"Variable": "$.x", "IsPresent": True, "Next": next_}, fields)


def branch(states: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    return _merge({"StartAt": next(iter(states or {"B": 0})), "States": states or {"B": pass_()}}, fields)


def parallel(*branches: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return _merge({"Type": "Parallel", "Branches": list(branches) or [branch()], "End": True}, fields)


def map_(processor: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    return _merge({"Type": "Map", "ItemProcessor": processor or branch({"I": pass_()}), "End": True}, fields)


def dmap(processor_states: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """A Distributed Map."""
    processor = branch(
        processor_states or {"I": pass_()},
        ProcessorConfig={"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
    )
    return map_(processor, **fields)


def jsonata(definition: dict[str, Any]) -> dict[str, Any]:
    return {"QueryLanguage": "JSONata", **definition}


def errors(definition: Any) -> set[tuple[str, str]]:
    return {(p.pointer, p.rule) for p in validate_definition(definition) if p.severity == "error"}


def resolve(document: Any, pointer: str) -> Any:
    """RFC 6901 resolution, to prove every reported pointer names something in the definition."""
    node = document
    for token in pointer.split("/")[1:] if pointer else []:
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


# ------------------------------------------------------------------------------------------
# Rejected definitions: exact error sets
# ------------------------------------------------------------------------------------------

C = "/States/C"
S = "/States/S"
M = "/States/M"
LONG = "N" * 81

INVALID: list[tuple[str, Any, set[tuple[str, str]]]] = [
    # --- transitions and reachability (MISSING_TRANSITION_TARGET / MISSING_END_STATE) ---
    ("unreachable-state", sm({"A": pass_(), "B": pass_()}), {("/States/B", MTT)}),
    ("unknown-default", sm({"C": choice(rule(), Default="Nope"), "D": succeed()}), {(f"{C}/Default", MTT)}),
    (
        "unknown-choice-next",
        sm({"C": choice(rule("Nope"), Default="D"), "D": succeed()}),
        {(f"{C}/Choices/0/Next", MTT)},
    ),
    (
        "unknown-catch-next",
        one(task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Nope"}])),
        {(f"{S}/Catch/0/Next", MTT)},
    ),
    (
        "unknown-next",
        sm({"A": pass_(Next="Nope", End=DROP), "B": succeed()}, start="A"),
        {("/States/A/Next", MTT), ("/States/B", MTT)},
    ),
    ("unknown-start-at", sm({"A": succeed()}, start="Z"), {("/StartAt", MTT)}),
    (
        "branch-cannot-jump-out",
        sm(
            {
                "P": parallel(branch({"In": pass_(Next="Out", End=DROP)}), Next="Out", End=DROP),
                "Out": succeed(),
            }
        ),
        {("/States/P/Branches/0/States/In/Next", MTT), ("/States/P/Branches/0", END)},
    ),
    (
        "processor-cannot-jump-out",
        sm({"M": map_(branch({"In": pass_(Next="Out", End=DROP)}), Next="Out", End=DROP), "Out": succeed()}),
        {("/States/M/ItemProcessor/States/In/Next", MTT), ("/States/M/ItemProcessor", END)},
    ),
    (
        "outside-cannot-jump-in",
        sm({"A": pass_(Next="In", End=DROP), "P": parallel(branch({"In": pass_()}))}),
        {("/States/A/Next", MTT), ("/States/P", MTT)},
    ),
    (
        "branch-unreachable-state",
        one(parallel(branch({"A": pass_(), "B": pass_()}))),
        {(f"{S}/Branches/0/States/B", MTT)},
    ),
    ("no-terminal-state", sm({"A": pass_(Next="B", End=DROP), "B": pass_(Next="A", End=DROP)}), {("", END)}),
    ("both-next-and-end", sm({"A": pass_(Next="B"), "B": succeed()}), {("/States/A", SCHEMA)}),
    (
        "neither-next-nor-end",
        sm({"A": task(End=DROP, Catch=[{"ErrorEquals": ["States.ALL"], "Next": "B"}]), "B": succeed()}),
        {("/States/A", SCHEMA)},
    ),
    (
        "end-false-without-next",
        sm({"A": pass_(End=False), "B": succeed()}),
        {("/States/A", SCHEMA), ("/States/B", MTT)},
    ),
    ("choice-with-end", sm({"C": choice(rule(), End=True), "D": succeed()}), {(f"{C}/End", SCHEMA)}),
    ("choice-with-next", sm({"C": choice(rule(), Next="D"), "D": succeed()}), {(f"{C}/Next", SCHEMA)}),
    ("succeed-with-end", one(succeed(End=True)), {(f"{S}/End", SCHEMA)}),
    ("fail-with-next", sm({"F": fail(Next="G"), "G": succeed()}), {("/States/F/Next", SCHEMA)}),
    # --- state names ---
    ("name-too-long", sm({LONG: succeed()}), {(f"/States/{LONG}", "INVALID_STATE_NAME")}),
    ("name-control-character", sm({"a\nb": succeed()}), {("/States/a\nb", "INVALID_STATE_NAME")}),
    (
        "duplicate-name-across-branches",
        one(parallel(branch({"X": pass_()}), branch({"X": pass_()}))),
        {(f"{S}/Branches/1/States/X", "DUPLICATE_STATE_NAME")},
    ),
    (
        "duplicate-name-in-processor",
        sm({"X": map_(branch({"X": pass_()}))}),
        {("/States/X/ItemProcessor/States/X", "DUPLICATE_STATE_NAME")},
    ),
    ("pointer-escapes-slash-and-tilde", sm({"A": succeed(), "a/b~c": succeed()}), {("/States/a~1b~0c", MTT)}),
    # --- top level and required fields ---
    ("missing-start-at", {"States": {"A": succeed()}}, {("", SCHEMA)}),
    ("missing-states", {"StartAt": "A"}, {("", SCHEMA)}),
    ("empty-states", {"StartAt": "A", "States": {}}, {("/States", SCHEMA)}),
    ("states-not-object", {"StartAt": "A", "States": []}, {("/States", SCHEMA)}),
    ("start-at-not-string", {"StartAt": 1, "States": {"A": succeed()}}, {("/StartAt", SCHEMA)}),
    ("unknown-top-level-field", one(succeed(), Foo=1), {("/Foo", SCHEMA)}),
    ("top-level-timeout-zero", one(succeed(), TimeoutSeconds=0), {("/TimeoutSeconds", SCHEMA)}),
    ("top-level-comment-not-string", one(succeed(), Comment=5), {("/Comment", SCHEMA)}),
    ("version-not-string", one(succeed(), Version=1), {("/Version", SCHEMA)}),
    ("state-not-object", sm({"S": []}), {(S, SCHEMA)}),
    ("missing-type", sm({"S": {"End": True}}), {(S, SCHEMA)}),
    ("unknown-type", sm({"S": {"Type": "Lambda", "End": True}}), {(f"{S}/Type", SCHEMA)}),
    ("missing-resource", one(task(Resource=DROP)), {(S, SCHEMA)}),
    ("empty-resource", one(task(Resource=" ")), {(f"{S}/Resource", "INVALID_RESOURCE")}),
    ("resource-not-string", one(task(Resource=5)), {(f"{S}/Resource", SCHEMA)}),
    ("choice-without-choices", sm({"C": choice(Default="D"), "D": succeed()}), {(f"{C}/Choices", SCHEMA)}),
    ("choice-missing-choices", sm({"C": {"Type": "Choice", "Default": "D"}, "D": succeed()}), {(C, SCHEMA)}),
    ("parallel-missing-branches", one(parallel(Branches=DROP)), {(S, SCHEMA)}),
    (
        "parallel-empty-branches",
        one({"Type": "Parallel", "Branches": [], "End": True}),
        {(f"{S}/Branches", SCHEMA)},
    ),
    ("map-missing-processor", sm({"M": map_(ItemProcessor=DROP)}), {(M, SCHEMA)}),
    (
        "map-processor-and-iterator",
        sm({"M": map_(Iterator=branch({"I2": pass_()}))}),
        {(f"{M}/Iterator", SCHEMA)},
    ),
    (
        "map-item-selector-and-parameters",
        sm({"M": map_(ItemSelector={}, Parameters={})}),
        {(f"{M}/Parameters", SCHEMA)},
    ),
    ("branch-missing-states", one(parallel({"StartAt": "B"})), {(f"{S}/Branches/0", SCHEMA)}),
    ("processor-not-object", sm({"M": map_(ItemProcessor=[])}), {(f"{M}/ItemProcessor", SCHEMA)}),
    # --- fields per state type ---
    ("unknown-state-field", one(task(Foo=1)), {(f"{S}/Foo", SCHEMA)}),
    ("timeout-on-parallel", one(parallel(TimeoutSeconds=5)), {(f"{S}/TimeoutSeconds", SCHEMA)}),
    ("timeout-on-map", sm({"M": map_(TimeoutSeconds=5)}), {(f"{M}/TimeoutSeconds", SCHEMA)}),
    ("retry-on-pass", one(pass_(Retry=[])), {(f"{S}/Retry", SCHEMA)}),
    ("result-selector-on-pass", one(pass_(ResultSelector={})), {(f"{S}/ResultSelector", SCHEMA)}),
    ("result-path-on-wait", one(wait(ResultPath="$.x")), {(f"{S}/ResultPath", SCHEMA)}),
    ("input-path-on-fail", one(fail(InputPath="$")), {(f"{S}/InputPath", SCHEMA)}),
    ("assign-on-succeed", one(succeed(Assign={"x": 1})), {(f"{S}/Assign", SCHEMA)}),
    ("assign-on-fail", one(fail(Assign={"x": 1})), {(f"{S}/Assign", SCHEMA)}),
    # --- query languages ---
    ("jsonpath-field-in-jsonata-machine", jsonata(one(pass_(InputPath="$.a"))), {(f"{S}/InputPath", SCHEMA)}),
    (
        "jsonpath-fields-in-jsonata-task",
        jsonata(
            one(
                task(
                    Parameters={},
                    ResultSelector={},
                    ResultPath="$.r",
                    OutputPath="$",
                    TimeoutSecondsPath="$.t",
                )
            )
        ),
        {
            (f"{S}/Parameters", SCHEMA),
            (f"{S}/ResultSelector", SCHEMA),
            (f"{S}/ResultPath", SCHEMA),
            (f"{S}/OutputPath", SCHEMA),
            (f"{S}/TimeoutSecondsPath", SCHEMA),
        },
    ),
    (
        "items-path-in-jsonata-map",
        jsonata(sm({"M": map_(ItemsPath="$.items")})),
        {(f"{M}/ItemsPath", SCHEMA)},
    ),
    ("result-in-jsonata-pass", jsonata(one(pass_(Result={"a": 1}))), {(f"{S}/Result", SCHEMA)}),
    (
        "seconds-path-in-jsonata-wait",
        jsonata(one(wait(Seconds=DROP, SecondsPath="$.s"))),
        {(f"{S}/SecondsPath", SCHEMA), (S, SCHEMA)},
    ),
    ("error-path-in-jsonata-fail", jsonata(one(fail(ErrorPath="$.e"))), {(f"{S}/ErrorPath", SCHEMA)}),
    (
        "catch-result-path-in-jsonata",
        jsonata(
            sm(
                {
                    "A": task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "B", "ResultPath": "$.e"}]),
                    "B": succeed(),
                }
            )
        ),
        {("/States/A/Catch/0/ResultPath", SCHEMA)},
    ),
    (
        "jsonata-fields-in-jsonpath-task",
        one(task(Arguments={}, Output={})),
        {(f"{S}/Arguments", SCHEMA), (f"{S}/Output", SCHEMA)},
    ),
    ("items-in-jsonpath-map", sm({"M": map_(Items=[1, 2])}), {(f"{M}/Items", SCHEMA)}),
    (
        "catch-output-in-jsonpath",
        sm({"A": task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "B", "Output": 1}]), "B": succeed()}),
        {("/States/A/Catch/0/Output", SCHEMA)},
    ),
    (
        "condition-in-jsonpath-choice",
        sm({"C": choice({"Condition": "{% true %}", "Next": "D"}), "D": succeed()}),
        {(f"{C}/Choices/0", SCHEMA), (f"{C}/Choices/0/Condition", SCHEMA)},
    ),
    (
        "jsonpath-rule-in-jsonata-choice",
        jsonata(sm({"C": choice({"Variable": "$.x", "StringEquals": "a", "Next": "D"}), "D": succeed()})),
        {
            (f"{C}/Choices/0", SCHEMA),
            (f"{C}/Choices/0/Variable", SCHEMA),
            (f"{C}/Choices/0/StringEquals", SCHEMA),
        },
    ),
    (
        "jsonpath-state-in-jsonata-machine",
        jsonata(one(pass_(QueryLanguage="JSONPath"))),
        {(f"{S}/QueryLanguage", SCHEMA)},
    ),
    ("query-language-wrong-case", one(succeed(), QueryLanguage="jsonata"), {("/QueryLanguage", SCHEMA)}),
    (
        "query-language-on-state-wrong-value",
        one(pass_(QueryLanguage="JMESPath")),
        {(f"{S}/QueryLanguage", SCHEMA)},
    ),
    (
        "query-language-in-branch",
        one(parallel(branch(QueryLanguage="JSONata"))),
        {(f"{S}/Branches/0/QueryLanguage", SCHEMA)},
    ),
    (
        "query-language-in-processor",
        sm({"M": map_(branch({"I": pass_()}, QueryLanguage="JSONata"))}),
        {(f"{M}/ItemProcessor/QueryLanguage", SCHEMA)},
    ),
    (
        "inner-states-inherit-machine-language",
        sm({"M": map_(branch({"P": pass_(Output={"a": 1})}), QueryLanguage="JSONata")}),
        {(f"{M}/ItemProcessor/States/P/Output", SCHEMA)},
    ),
    # --- value types ---
    ("end-not-boolean", sm({"A": pass_(End="yes", Next="B"), "B": succeed()}), {("/States/A/End", SCHEMA)}),
    (
        "next-not-string",
        sm({"A": pass_(Next=5, End=DROP), "B": succeed()}),
        {("/States/A/Next", SCHEMA), ("/States/B", MTT)},
    ),
    ("parameters-not-object", one(task(Parameters=[1])), {(f"{S}/Parameters", SCHEMA)}),
    ("result-selector-not-object", one(task(ResultSelector="$")), {(f"{S}/ResultSelector", SCHEMA)}),
    ("seconds-is-string-in-jsonpath", one(wait(Seconds="10")), {(f"{S}/Seconds", SCHEMA)}),
    ("seconds-is-jsonata-in-jsonpath", one(wait(Seconds="{% 10 %}")), {(f"{S}/Seconds", SCHEMA)}),
    ("error-not-string", one(fail(Error=5)), {(f"{S}/Error", SCHEMA)}),
    ("assign-not-object", one(pass_(Assign=[1])), {(f"{S}/Assign", SCHEMA)}),
    ("arguments-not-object", jsonata(one(task(Arguments=[1]))), {(f"{S}/Arguments", SCHEMA)}),
    (
        "condition-not-expression",
        jsonata(sm({"C": choice({"Condition": "yes", "Next": "D"}), "D": succeed()})),
        {(f"{C}/Choices/0/Condition", SCHEMA)},
    ),
    (
        "jsonata-rule-without-condition",
        jsonata(sm({"C": choice({"Next": "D"}), "D": succeed()})),
        {(f"{C}/Choices/0", SCHEMA)},
    ),
    ("items-not-array-or-expression", jsonata(sm({"M": map_(Items="a,b")})), {(f"{M}/Items", SCHEMA)}),
    # --- JSONPath expressions ---
    ("input-path-not-a-path", one(pass_(InputPath="foo")), {(f"{S}/InputPath", SCHEMA)}),
    ("output-path-not-string", one(pass_(OutputPath=1)), {(f"{S}/OutputPath", SCHEMA)}),
    ("result-path-context", one(pass_(ResultPath="$$.Execution")), {(f"{S}/ResultPath", SCHEMA)}),
    ("result-path-variable", one(pass_(ResultPath="$myVar")), {(f"{S}/ResultPath", SCHEMA)}),
    ("result-path-wildcard", one(pass_(ResultPath="$.a[*]")), {(f"{S}/ResultPath", SCHEMA)}),
    ("result-path-filter", one(pass_(ResultPath="$.a[?(@.b)]")), {(f"{S}/ResultPath", SCHEMA)}),
    (
        "catch-result-path-not-reference",
        sm(
            {
                "A": task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "B", "ResultPath": "$..e"}]),
                "B": succeed(),
            }
        ),
        {("/States/A/Catch/0/ResultPath", SCHEMA)},
    ),
    ("dollar-value-not-a-path", one(pass_(Parameters={"a.$": "foo"})), {(f"{S}/Parameters/a.$", SCHEMA)}),
    ("dollar-value-not-string", one(pass_(Parameters={"a.$": 5})), {(f"{S}/Parameters/a.$", SCHEMA)}),
    (
        "dollar-value-nested",
        one(pass_(Parameters={"x": [{"b.$": "$.a."}]})),
        {(f"{S}/Parameters/x/0/b.$", SCHEMA)},
    ),
    (
        "dollar-value-unclosed-intrinsic",
        one(pass_(Parameters={"a.$": "States.Format('{}', $.x"})),
        {(f"{S}/Parameters/a.$", SCHEMA)},
    ),
    (
        "dollar-value-unknown-intrinsic",
        one(pass_(Parameters={"a.$": "States.NoSuchFunction($.x)"})),
        {(f"{S}/Parameters/a.$", SCHEMA)},
    ),
    (
        "result-selector-bad-path",
        one(task(ResultSelector={"a.$": "$["})),
        {(f"{S}/ResultSelector/a.$", SCHEMA)},
    ),
    ("items-path-not-definite", sm({"M": map_(ItemsPath="$.a[*].b")}), {(f"{M}/ItemsPath", SCHEMA)}),
    ("seconds-path-invalid", one(wait(Seconds=DROP, SecondsPath="seconds")), {(f"{S}/SecondsPath", SCHEMA)}),
    (
        "timestamp-path-not-definite",
        one(wait(Seconds=DROP, TimestampPath="$..t")),
        {(f"{S}/TimestampPath", SCHEMA)},
    ),
    ("error-path-invalid", one(fail(ErrorPath="error")), {(f"{S}/ErrorPath", SCHEMA)}),
    ("cause-path-bad-intrinsic", one(fail(CausePath="States.Format(")), {(f"{S}/CausePath", SCHEMA)}),
    ("assign-bad-path", one(pass_(Assign={"x.$": "nope"})), {(f"{S}/Assign/x.$", SCHEMA)}),
    (
        "item-selector-bad-path",
        sm({"M": map_(ItemSelector={"v.$": "$$.Map.Item["})}),
        {(f"{M}/ItemSelector/v.$", SCHEMA)},
    ),
    (
        "choice-variable-trailing-dot",
        sm({"C": choice(rule(Variable="$.a.")), "D": succeed()}),
        {(f"{C}/Choices/0/Variable", SCHEMA)},
    ),
    # --- Retry and Catch ---
    (
        "states-all-not-alone-retry",
        one(task(Retry=[{"ErrorEquals": ["States.ALL", "X"]}])),
        {(f"{S}/Retry/0/ErrorEquals", SCHEMA)},
    ),
    (
        "states-all-not-last-retrier",
        one(task(Retry=[{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}])),
        {(f"{S}/Retry/0/ErrorEquals", SCHEMA)},
    ),
    (
        "states-all-not-last-catcher",
        sm(
            {
                "A": task(
                    Catch=[{"ErrorEquals": ["States.ALL"], "Next": "B"}, {"ErrorEquals": ["X"], "Next": "B"}]
                ),
                "B": succeed(),
            }
        ),
        {("/States/A/Catch/0/ErrorEquals", SCHEMA)},
    ),
    (
        "states-all-not-alone-catcher",
        sm({"A": task(Catch=[{"ErrorEquals": ["X", "States.ALL"], "Next": "B"}]), "B": succeed()}),
        {("/States/A/Catch/0/ErrorEquals", SCHEMA)},
    ),
    ("retry-not-array", one(task(Retry={})), {(f"{S}/Retry", SCHEMA)}),
    ("retrier-not-object", one(task(Retry=["States.ALL"])), {(f"{S}/Retry/0", SCHEMA)}),
    ("retrier-missing-error-equals", one(task(Retry=[{"MaxAttempts": 1}])), {(f"{S}/Retry/0", SCHEMA)}),
    ("error-equals-empty", one(task(Retry=[{"ErrorEquals": []}])), {(f"{S}/Retry/0/ErrorEquals", SCHEMA)}),
    (
        "error-equals-not-strings",
        one(task(Retry=[{"ErrorEquals": [1]}])),
        {(f"{S}/Retry/0/ErrorEquals", SCHEMA)},
    ),
    (
        "interval-seconds-zero",
        one(task(Retry=[{"ErrorEquals": ["X"], "IntervalSeconds": 0}])),
        {(f"{S}/Retry/0/IntervalSeconds", SCHEMA)},
    ),
    (
        "interval-seconds-too-big",
        one(task(Retry=[{"ErrorEquals": ["X"], "IntervalSeconds": 100_000_000}])),
        {(f"{S}/Retry/0/IntervalSeconds", SCHEMA)},
    ),
    (
        "interval-seconds-fraction",
        one(task(Retry=[{"ErrorEquals": ["X"], "IntervalSeconds": 1.5}])),
        {(f"{S}/Retry/0/IntervalSeconds", SCHEMA)},
    ),
    (
        "max-attempts-negative",
        one(task(Retry=[{"ErrorEquals": ["X"], "MaxAttempts": -1}])),
        {(f"{S}/Retry/0/MaxAttempts", SCHEMA)},
    ),
    (
        "max-attempts-too-big",
        one(task(Retry=[{"ErrorEquals": ["X"], "MaxAttempts": 100_000_000}])),
        {(f"{S}/Retry/0/MaxAttempts", SCHEMA)},
    ),
    (
        "max-attempts-boolean",
        one(task(Retry=[{"ErrorEquals": ["X"], "MaxAttempts": True}])),
        {(f"{S}/Retry/0/MaxAttempts", SCHEMA)},
    ),
    (
        "backoff-rate-below-one",
        one(task(Retry=[{"ErrorEquals": ["X"], "BackoffRate": 0.5}])),
        {(f"{S}/Retry/0/BackoffRate", SCHEMA)},
    ),
    (
        "backoff-rate-string",
        one(task(Retry=[{"ErrorEquals": ["X"], "BackoffRate": "2"}])),
        {(f"{S}/Retry/0/BackoffRate", SCHEMA)},
    ),
    (
        "max-delay-zero",
        one(task(Retry=[{"ErrorEquals": ["X"], "MaxDelaySeconds": 0}])),
        {(f"{S}/Retry/0/MaxDelaySeconds", SCHEMA)},
    ),
    (
        "max-delay-too-big",
        one(task(Retry=[{"ErrorEquals": ["X"], "MaxDelaySeconds": 31_622_401}])),
        {(f"{S}/Retry/0/MaxDelaySeconds", SCHEMA)},
    ),
    (
        "jitter-strategy-unknown",
        one(task(Retry=[{"ErrorEquals": ["X"], "JitterStrategy": "PARTIAL"}])),
        {(f"{S}/Retry/0/JitterStrategy", SCHEMA)},
    ),
    (
        "retrier-unknown-field",
        one(task(Retry=[{"ErrorEquals": ["X"], "Next": "S"}])),
        {(f"{S}/Retry/0/Next", SCHEMA)},
    ),
    ("catcher-missing-next", one(task(Catch=[{"ErrorEquals": ["X"]}])), {(f"{S}/Catch/0", SCHEMA)}),
    (
        "catcher-unknown-field",
        sm({"A": task(Catch=[{"ErrorEquals": ["X"], "Next": "B", "MaxAttempts": 1}]), "B": succeed()}),
        {("/States/A/Catch/0/MaxAttempts", SCHEMA)},
    ),
    # --- Task ---
    (
        "timeout-seconds-and-path",
        one(task(TimeoutSeconds=5, TimeoutSecondsPath="$.t")),
        {(f"{S}/TimeoutSecondsPath", SCHEMA)},
    ),
    (
        "heartbeat-seconds-and-path",
        one(task(HeartbeatSeconds=5, HeartbeatSecondsPath="$.h")),
        {(f"{S}/HeartbeatSecondsPath", SCHEMA)},
    ),
    (
        "heartbeat-not-below-timeout",
        one(task(TimeoutSeconds=60, HeartbeatSeconds=60)),
        {(f"{S}/HeartbeatSeconds", SCHEMA)},
    ),
    (
        "heartbeat-above-timeout",
        one(task(TimeoutSeconds=60, HeartbeatSeconds=90)),
        {(f"{S}/HeartbeatSeconds", SCHEMA)},
    ),
    ("timeout-seconds-zero", one(task(TimeoutSeconds=0)), {(f"{S}/TimeoutSeconds", SCHEMA)}),
    ("timeout-seconds-too-big", one(task(TimeoutSeconds=100_000_000)), {(f"{S}/TimeoutSeconds", SCHEMA)}),
    (
        "credentials-not-object",
        one(task(Credentials="arn:aws:iam::1:role/r")),
        {(f"{S}/Credentials", SCHEMA)},
    ),
    ("credentials-without-role", one(task(Credentials={})), {(f"{S}/Credentials", SCHEMA)}),
    (
        "credentials-bad-role-path",
        one(task(Credentials={"RoleArn.$": "role"})),
        {(f"{S}/Credentials/RoleArn.$", SCHEMA)},
    ),
    (
        "credentials-dollar-key-in-jsonata",
        jsonata(one(task(Credentials={"RoleArn.$": "$.r"}))),
        {(f"{S}/Credentials/RoleArn.$", SCHEMA)},
    ),
    # --- Fail ---
    ("fail-error-and-error-path", one(fail(Error="E", ErrorPath="$.e")), {(f"{S}/ErrorPath", SCHEMA)}),
    ("fail-cause-and-cause-path", one(fail(Cause="C", CausePath="$.c")), {(f"{S}/CausePath", SCHEMA)}),
    # --- Wait ---
    ("wait-two-durations", one(wait(Timestamp="2016-03-14T01:59:00Z")), {(S, SCHEMA)}),
    ("wait-seconds-and-seconds-path", one(wait(SecondsPath="$.s")), {(S, SCHEMA)}),
    ("wait-no-duration", one(wait(Seconds=DROP)), {(S, SCHEMA)}),
    ("wait-seconds-negative", one(wait(Seconds=-1)), {(f"{S}/Seconds", SCHEMA)}),
    ("wait-seconds-too-big", one(wait(Seconds=100_000_000)), {(f"{S}/Seconds", SCHEMA)}),
    (
        "timestamp-space-separator",
        one(wait(Seconds=DROP, Timestamp="2016-03-14 01:59:00Z")),
        {(f"{S}/Timestamp", SCHEMA)},
    ),
    (
        "timestamp-lowercase-t",
        one(wait(Seconds=DROP, Timestamp="2016-03-14t01:59:00Z")),
        {(f"{S}/Timestamp", SCHEMA)},
    ),
    (
        "timestamp-no-zone",
        one(wait(Seconds=DROP, Timestamp="2016-03-14T01:59:00")),
        {(f"{S}/Timestamp", SCHEMA)},
    ),
    (
        "timestamp-impossible-date",
        one(wait(Seconds=DROP, Timestamp="2016-02-30T00:00:00Z")),
        {(f"{S}/Timestamp", SCHEMA)},
    ),
    ("timestamp-not-string", one(wait(Seconds=DROP, Timestamp=1458000000)), {(f"{S}/Timestamp", SCHEMA)}),
    # --- Map ---
    ("max-concurrency-negative", sm({"M": map_(MaxConcurrency=-1)}), {(f"{M}/MaxConcurrency", SCHEMA)}),
    ("max-concurrency-fraction", sm({"M": map_(MaxConcurrency=1.5)}), {(f"{M}/MaxConcurrency", SCHEMA)}),
    (
        "max-concurrency-and-path",
        sm({"M": map_(MaxConcurrency=1, MaxConcurrencyPath="$.m")}),
        {(f"{M}/MaxConcurrencyPath", SCHEMA)},
    ),
    (
        "tolerated-percentage-above-100",
        sm({"M": dmap(ToleratedFailurePercentage=101)}),
        {(f"{M}/ToleratedFailurePercentage", SCHEMA)},
    ),
    (
        "tolerated-percentage-negative",
        sm({"M": dmap(ToleratedFailurePercentage=-1)}),
        {(f"{M}/ToleratedFailurePercentage", SCHEMA)},
    ),
    (
        "tolerated-count-negative",
        sm({"M": dmap(ToleratedFailureCount=-1)}),
        {(f"{M}/ToleratedFailureCount", SCHEMA)},
    ),
    (
        "tolerated-count-and-path",
        sm({"M": dmap(ToleratedFailureCount=1, ToleratedFailureCountPath="$.c")}),
        {(f"{M}/ToleratedFailureCountPath", SCHEMA)},
    ),
    (
        "tolerated-percentage-and-path",
        sm({"M": dmap(ToleratedFailurePercentage=1, ToleratedFailurePercentagePath="$.p")}),
        {(f"{M}/ToleratedFailurePercentagePath", SCHEMA)},
    ),
    (
        "processor-mode-unknown",
        sm({"M": map_(branch({"I": pass_()}, ProcessorConfig={"Mode": "PARALLEL"}))}),
        {(f"{M}/ItemProcessor/ProcessorConfig/Mode", SCHEMA)},
    ),
    (
        "distributed-without-execution-type",
        sm({"M": map_(branch({"I": pass_()}, ProcessorConfig={"Mode": "DISTRIBUTED"}))}),
        {(f"{M}/ItemProcessor/ProcessorConfig", SCHEMA)},
    ),
    (
        "execution-type-unknown",
        sm(
            {
                "M": map_(
                    branch({"I": pass_()}, ProcessorConfig={"Mode": "DISTRIBUTED", "ExecutionType": "FAST"})
                )
            }
        ),
        {(f"{M}/ItemProcessor/ProcessorConfig/ExecutionType", SCHEMA)},
    ),
    (
        "processor-config-unknown-field",
        sm({"M": map_(branch({"I": pass_()}, ProcessorConfig={"Mode": "INLINE", "Workers": 2}))}),
        {(f"{M}/ItemProcessor/ProcessorConfig/Workers", SCHEMA)},
    ),
    (
        "item-reader-without-resource",
        sm({"M": dmap(ItemReader={"Parameters": {}})}),
        {(f"{M}/ItemReader", SCHEMA)},
    ),
    (
        "item-reader-with-items-path",
        sm({"M": dmap(ItemsPath="$.a", ItemReader={"Resource": "arn:aws:states:::s3:x"})}),
        {(f"{M}/ItemReader", SCHEMA)},
    ),
    (
        "reader-input-type-unknown",
        sm({"M": dmap(ItemReader={"Resource": "r", "ReaderConfig": {"InputType": "XML"}})}),
        {(f"{M}/ItemReader/ReaderConfig/InputType", SCHEMA)},
    ),
    (
        "reader-given-headers-missing",
        sm(
            {
                "M": dmap(
                    ItemReader={
                        "Resource": "r",
                        "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "GIVEN"},
                    }
                )
            }
        ),
        {(f"{M}/ItemReader/ReaderConfig", SCHEMA)},
    ),
    (
        "reader-headers-not-strings",
        sm(
            {
                "M": dmap(
                    ItemReader={
                        "Resource": "r",
                        "ReaderConfig": {
                            "InputType": "CSV",
                            "CSVHeaderLocation": "GIVEN",
                            "CSVHeaders": "id,name",
                        },
                    }
                )
            }
        ),
        {(f"{M}/ItemReader/ReaderConfig/CSVHeaders", SCHEMA)},
    ),
    (
        "reader-delimiter-unknown",
        sm(
            {
                "M": dmap(
                    ItemReader={"Resource": "r", "ReaderConfig": {"InputType": "CSV", "CSVDelimiter": ";"}}
                )
            }
        ),
        {(f"{M}/ItemReader/ReaderConfig/CSVDelimiter", SCHEMA)},
    ),
    (
        "reader-max-items-zero",
        sm({"M": dmap(ItemReader={"Resource": "r", "ReaderConfig": {"MaxItems": 0}})}),
        {(f"{M}/ItemReader/ReaderConfig/MaxItems", SCHEMA)},
    ),
    (
        "reader-max-items-and-path",
        sm({"M": dmap(ItemReader={"Resource": "r", "ReaderConfig": {"MaxItems": 5, "MaxItemsPath": "$.n"}})}),
        {(f"{M}/ItemReader/ReaderConfig/MaxItemsPath", SCHEMA)},
    ),
    (
        "reader-flatten-without-input-type",
        sm({"M": dmap(ItemReader={"Resource": "r", "ReaderConfig": {"Transformation": "LOAD_AND_FLATTEN"}})}),
        {(f"{M}/ItemReader/ReaderConfig", SCHEMA)},
    ),
    (
        "reader-config-unknown-field",
        sm({"M": dmap(ItemReader={"Resource": "r", "ReaderConfig": {"Format": "CSV"}})}),
        {(f"{M}/ItemReader/ReaderConfig/Format", SCHEMA)},
    ),
    (
        "reader-arguments-in-jsonpath",
        sm({"M": dmap(ItemReader={"Resource": "r", "Arguments": {}})}),
        {(f"{M}/ItemReader/Arguments", SCHEMA)},
    ),
    (
        "reader-parameters-in-jsonata",
        jsonata(sm({"M": dmap(ItemReader={"Resource": "r", "Parameters": {}})})),
        {(f"{M}/ItemReader/Parameters", SCHEMA)},
    ),
    (
        "reader-bad-parameter-path",
        sm({"M": dmap(ItemReader={"Resource": "r", "Parameters": {"Bucket.$": "b"}})}),
        {(f"{M}/ItemReader/Parameters/Bucket.$", SCHEMA)},
    ),
    (
        "batcher-bytes-too-big",
        sm({"M": dmap(ItemBatcher={"MaxInputBytesPerBatch": 262_145})}),
        {(f"{M}/ItemBatcher/MaxInputBytesPerBatch", SCHEMA)},
    ),
    (
        "batcher-items-zero",
        sm({"M": dmap(ItemBatcher={"MaxItemsPerBatch": 0})}),
        {(f"{M}/ItemBatcher/MaxItemsPerBatch", SCHEMA)},
    ),
    (
        "batcher-items-and-path",
        sm({"M": dmap(ItemBatcher={"MaxItemsPerBatch": 2, "MaxItemsPerBatchPath": "$.n"})}),
        {(f"{M}/ItemBatcher/MaxItemsPerBatchPath", SCHEMA)},
    ),
    (
        "writer-output-type-unknown",
        sm({"M": dmap(ResultWriter={"WriterConfig": {"OutputType": "CSV"}})}),
        {(f"{M}/ResultWriter/WriterConfig/OutputType", SCHEMA)},
    ),
    (
        "writer-transformation-unknown",
        sm({"M": dmap(ResultWriter={"WriterConfig": {"Transformation": "ZIP"}})}),
        {(f"{M}/ResultWriter/WriterConfig/Transformation", SCHEMA)},
    ),
    (
        "writer-unknown-field",
        sm({"M": dmap(ResultWriter={"Bucket": "b"})}),
        {(f"{M}/ResultWriter/Bucket", SCHEMA)},
    ),
    ("label-empty", sm({"M": dmap(Label="")}), {(f"{M}/Label", "INVALID_LABEL_NAME")}),
    ("label-with-space", sm({"M": dmap(Label="my map")}), {(f"{M}/Label", "INVALID_LABEL_NAME")}),
    ("label-too-long", sm({"M": dmap(Label="L" * 41)}), {(f"{M}/Label", "INVALID_LABEL_NAME")}),
    ("label-not-string", sm({"M": dmap(Label=7)}), {(f"{M}/Label", SCHEMA)}),
    (
        "label-duplicate",
        sm({"M": dmap(Label="Same", Next="N", End=DROP), "N": dmap({"I2": pass_()}, Label="Same")}),
        {("/States/N/Label", "DUPLICATE_LABEL_NAME")},
    ),
    # --- variables ---
    (
        "reserved-variable-name",
        one(pass_(Assign={"states": 1})),
        {(f"{S}/Assign/states", "RESERVED_VARIABLE_NAME")},
    ),
    (
        "reserved-variable-name-dollar",
        one(pass_(Assign={"states.$": "$"})),
        {(f"{S}/Assign/states.$", "RESERVED_VARIABLE_NAME")},
    ),
    (
        "variable-name-starts-with-digit",
        one(pass_(Assign={"1st": 1})),
        {(f"{S}/Assign/1st", "INVALID_VARIABLE_NAME")},
    ),
    (
        "variable-name-part-of-variable",
        jsonata(one(pass_(Assign={"x.y": 1}))),
        {(f"{S}/Assign/x.y", "INVALID_VARIABLE_NAME")},
    ),
    (
        "variable-name-index",
        one(pass_(Assign={"x[2].$": "$"})),
        {(f"{S}/Assign/x[2].$", "INVALID_VARIABLE_NAME")},
    ),
    (
        "variable-name-symbol",
        one(pass_(Assign={"prix_€": 1})),
        {(f"{S}/Assign/prix_€", "INVALID_VARIABLE_NAME")},
    ),
    (
        "variable-name-too-long",
        one(pass_(Assign={"v" * 81: 1})),
        {(f"{S}/Assign/{'v' * 81}", "INVALID_VARIABLE_NAME")},
    ),
    (
        "variable-in-map-clashes-with-top",
        sm(
            {
                "A": pass_(Assign={"x": 1}, Next="M", End=DROP),
                "M": map_(branch({"In": pass_(Assign={"x": 2})})),
            }
        ),
        {("/States/M/ItemProcessor/States/In/Assign/x", "VARIABLE_SCOPE_CONFLICT")},
    ),
    (
        "variable-in-branch-clashes-with-top-assigned-later",
        sm(
            {
                "P": parallel(branch({"In": pass_(Assign={"total.$": "$.n"})}), Next="A", End=DROP),
                "A": pass_(Assign={"total": 0}),
            }
        ),
        {("/States/P/Branches/0/States/In/Assign/total.$", "VARIABLE_SCOPE_CONFLICT")},
    ),
    (
        "variable-clash-two-levels-down",
        sm(
            {
                "A": pass_(Assign={"x": 1}, Next="M", End=DROP),
                "M": map_(branch({"P": parallel(branch({"Deep": pass_(Assign={"x": 3})}))})),
            }
        ),
        {("/States/M/ItemProcessor/States/P/Branches/0/States/Deep/Assign/x", "VARIABLE_SCOPE_CONFLICT")},
    ),
    (
        "variable-from-catch-clashes-with-inner",
        sm(
            {
                "M": map_(
                    branch({"In": pass_(Assign={"err": 0})}),
                    Catch=[{"ErrorEquals": ["States.ALL"], "Next": "F", "Assign": {"err.$": "$"}}],
                ),
                "F": fail(),
            }
        ),
        {("/States/M/ItemProcessor/States/In/Assign/err", "VARIABLE_SCOPE_CONFLICT")},
    ),
    (
        "variable-from-choice-rule-clashes-with-inner",
        sm(
            {
                "C": choice(rule("M", Assign={"mode": "a"}), Default="M"),
                "M": map_(branch({"In": pass_(Assign={"mode": 1})})),
            }
        ),
        {("/States/M/ItemProcessor/States/In/Assign/mode", "VARIABLE_SCOPE_CONFLICT")},
    ),
    # --- JSONata expressions ---
    ("jsonata-syntax-error", jsonata(one(pass_(Output="{% 1 + %}"))), {(f"{S}/Output", JSONATA)}),
    (
        "jsonata-syntax-error-nested",
        jsonata(one(task(Arguments={"a": ["{% $x := %}"]}))),
        {(f"{S}/Arguments/a/0", JSONATA)},
    ),
    ("jsonata-empty-expression", jsonata(one(pass_(Output="{%   %}"))), {(f"{S}/Output", JSONATA)}),
    (
        "jsonata-bad-condition",
        jsonata(sm({"C": choice({"Condition": "{% $states.input.a = %}", "Next": "D"}), "D": succeed()})),
        {(f"{C}/Choices/0/Condition", JSONATA)},
    ),
    ("jsonata-bad-timeout", jsonata(one(task(TimeoutSeconds="{% ( %}"))), {(f"{S}/TimeoutSeconds", JSONATA)}),
    (
        "jsonata-result-in-pass-output",
        jsonata(one(pass_(Output="{% $states.result %}"))),
        {(f"{S}/Output", JSONATA)},
    ),
    (
        "jsonata-result-in-arguments",
        jsonata(one(task(Arguments={"a": "{% $states.result.x %}"}))),
        {(f"{S}/Arguments/a", JSONATA)},
    ),
    (
        "jsonata-error-output-in-task-output",
        jsonata(one(task(Output="{% $states.errorOutput %}"))),
        {(f"{S}/Output", JSONATA)},
    ),
    (
        "jsonata-result-in-catch-output",
        jsonata(
            sm(
                {
                    "A": task(
                        Catch=[{"ErrorEquals": ["States.ALL"], "Next": "B", "Output": "{% $states.result %}"}]
                    ),
                    "B": succeed(),
                }
            )
        ),
        {("/States/A/Catch/0/Output", JSONATA)},
    ),
    (
        "jsonata-error-output-in-choice-assign",
        jsonata(
            sm(
                {
                    "C": choice(
                        {"Condition": "{% true %}", "Next": "D", "Assign": {"e": "{% $states.errorOutput %}"}}
                    ),
                    "D": succeed(),
                }
            )
        ),
        {(f"{C}/Choices/0/Assign/e", JSONATA)},
    ),
]


@pytest.mark.parametrize(("definition", "expected"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_rejects(definition: Any, expected: set[tuple[str, str]]) -> None:
    assert errors(definition) == expected


@pytest.mark.parametrize("definition", [c[1] for c in INVALID], ids=[c[0] for c in INVALID])
def test_every_problem_points_into_the_definition_and_explains_itself(definition: Any) -> None:
    problems = validate_definition(definition)
    assert problems
    for problem in problems:
        assert problem.rule in RULES
        assert problem.severity in ("error", "warning")
        assert problem.message and problem.hint
        resolve(definition, problem.pointer)  # raises if the pointer names nothing


# ------------------------------------------------------------------------------------------
# Accepted definitions: what AWS accepts must raise no error
# ------------------------------------------------------------------------------------------

READER = {
    "Resource": "arn:aws:states:::s3:getObject",
    "Parameters": {"Bucket": "b", "Key.$": "$.key"},
    "ReaderConfig": {
        "InputType": "CSV",
        "CSVHeaderLocation": "GIVEN",
        "CSVHeaders": ["id", "name"],
        "CSVDelimiter": "SEMICOLON",
        "MaxItemsPath": "$.limit",
    },
}

VALID: list[tuple[str, Any]] = [
    ("minimal", one(succeed())),
    ("top-level-comment-version-timeout", one(succeed(), Comment="c", Version="1.0", TimeoutSeconds=3600)),
    ("whole-number-backoff-rate", one(task(Retry=[{"ErrorEquals": ["States.ALL"], "BackoffRate": 2}]))),
    (
        "fractional-backoff-rate",
        one(task(Retry=[{"ErrorEquals": ["X"], "BackoffRate": 1.5, "MaxAttempts": 0}])),
    ),
    (
        "retrier-all-fields",
        one(
            task(
                Retry=[
                    {
                        "ErrorEquals": ["States.Timeout", "Lambda.Unknown"],
                        "IntervalSeconds": 3,
                        "MaxAttempts": 99_999_999,
                        "BackoffRate": 1,
                        "MaxDelaySeconds": 31_622_400,
                        "JitterStrategy": "FULL",
                        "Comment": "c",
                    }
                ]
            )
        ),
    ),
    (
        "states-all-last-and-alone",
        sm(
            {
                "A": task(
                    Retry=[{"ErrorEquals": ["X"]}, {"ErrorEquals": ["States.ALL"]}],
                    Catch=[
                        {"ErrorEquals": ["Y"], "Next": "B"},
                        {"ErrorEquals": ["States.ALL"], "Next": "B", "ResultPath": "$.error"},
                    ],
                ),
                "B": succeed(),
            }
        ),
    ),
    (
        "hyphenated-and-bracket-paths",
        one(
            task(
                InputPath="$.detail-type",
                OutputPath="$['a b']['c-d'][0]",
                ResultPath="$.out['x-y']",
                Parameters={"a.$": "$.detail.my-field", "b.$": "$['with space']"},
            )
        ),
    ),
    (
        "filter-and-wildcard-paths",
        one(
            pass_(
                Parameters={
                    "cheap.$": "$.items[?(@.price < 10)]",
                    "all.$": "$..name",
                    "first.$": "$.items[0:2]",
                    "x.$": "$.[0]",
                }
            )
        ),
    ),
    (
        "context-and-variable-paths",
        sm(
            {
                "A": pass_(Assign={"limit": 5}, Next="B", End=DROP),
                "B": task(InputPath="$limit", Parameters={"id.$": "$$.Execution.Id", "n.$": "$limit"}),
            }
        ),
    ),
    (
        "intrinsic-functions",
        one(
            pass_(
                Parameters={
                    "a.$": "States.Format('{} {}', $.x, $$.Execution.Name)",
                    "b.$": "States.ArrayLength(States.Array(1, 2))",
                    "c.$": "States.UUID()",
                }
            )
        ),
    ),
    ("null-io-paths", one(task(InputPath=None, OutputPath=None, ResultPath=None))),
    ("result-path-root", one(task(ResultPath="$"))),
    (
        "any-resource-string",
        sm(
            {
                "A": task(Resource="docker://worker:latest", Next="B", End=DROP),
                "B": task(Resource="${ProcessFunctionArn}", Next="C", End=DROP),
                "C": task(Resource="arn:aws:states:us-east-1:123456789012:activity:review"),
            }
        ),
    ),
    (
        "credentials",
        sm(
            {
                "A": task(Credentials={"RoleArn": "arn:aws:iam::111122223333:role/x"}, Next="B", End=DROP),
                "B": task(Credentials={"RoleArn.$": "$.role"}),
            }
        ),
    ),
    ("task-timeouts", one(task(TimeoutSeconds=300, HeartbeatSeconds=60))),
    ("task-timeout-paths", one(task(TimeoutSecondsPath="$.t", HeartbeatSecondsPath="$$.Execution.Input.h"))),
    ("end-false-with-next", sm({"A": pass_(End=False, Next="B"), "B": succeed()})),
    (
        "wait-forms",
        sm(
            {
                "A": wait(Seconds=0, Next="B", End=DROP),
                "B": wait(Seconds=DROP, SecondsPath="$.s", Next="C", End=DROP),
                "C": wait(Seconds=DROP, Timestamp="2016-03-14T01:59:00.123+01:00", Next="D", End=DROP),
                "D": wait(Seconds=DROP, TimestampPath="$.when"),
            }
        ),
    ),
    (
        "fail-forms",
        sm(
            {
                "C": choice(rule("F1"), Default="F2"),
                "F1": fail(Error="E", Cause="c"),
                "F2": fail(ErrorPath="$.error", CausePath="States.Format('bad {}', $.why)"),
            }
        ),
    ),
    ("choice-without-default", sm({"C": choice(rule()), "D": succeed()})),
    (
        "choice-operators",
        sm(
            {
                "C": choice(
                    {
                        "And": [
                            {"Variable": "$.n", "NumericGreaterThanEquals": 20},
                            {"Variable": "$.n", "NumericLessThan": 30},
                        ],
                        "Next": "D",
                    },
                    {
                        "Or": [
                            {"Variable": "$.s", "StringMatches": "log-*.txt"},
                            {"Not": {"Variable": "$.s", "IsNull": True}},
                        ],
                        "Next": "D",
                    },
                    {"Variable": "$.t", "TimestampLessThanEqualsPath": "$$.State.EnteredTime", "Next": "D"},
                    {"Variable": "$.b", "BooleanEquals": False, "Next": "D"},
                    {"Variable": "$myVar", "StringEquals": "x", "Next": "D"},
                ),
                "D": succeed(),
            }
        ),
    ),
    (
        "map-legacy-iterator-parameters",
        sm(
            {
                "M": {
                    "Type": "Map",
                    "ItemsPath": "$.items",
                    "Parameters": {"v.$": "$$.Map.Item.Value"},
                    "Iterator": branch({"I": pass_()}),
                    "MaxConcurrency": 0,
                    "End": True,
                }
            }
        ),
    ),
    (
        "map-item-processor-item-selector",
        sm(
            {
                "M": map_(
                    ItemSelector={"i.$": "$$.Map.Item.Index"},
                    ItemsPath="$$.Execution.Input.x",
                    ResultSelector={"r.$": "$"},
                    ResultPath="$.out",
                )
            }
        ),
    ),
    (
        "distributed-map-full",
        sm(
            {
                "M": dmap(
                    ItemReader=READER,
                    ItemBatcher={
                        "MaxItemsPerBatch": 10,
                        "MaxInputBytesPerBatch": 262_144,
                        "BatchInput": {"id.$": "$$.Execution.Id"},
                    },
                    ResultWriter={
                        "Resource": "arn:aws:states:::s3:putObject",
                        "Parameters": {"Bucket": "out", "Prefix": "p"},
                        "WriterConfig": {"OutputType": "JSONL", "Transformation": "FLATTEN"},
                    },
                    Label="Orders",
                    MaxConcurrency=1000,
                    ToleratedFailurePercentage=5.5,
                    ToleratedFailureCountPath="$.tolerate",
                )
            }
        ),
    ),
    (
        "distributed-map-reader-variants",
        sm(
            {
                "A": dmap(
                    ItemReader={
                        "Resource": "arn:aws:states:::s3:listObjectsV2",
                        "Parameters": {"Bucket": "b"},
                        "ReaderConfig": {"InputType": "JSON", "Transformation": "LOAD_AND_FLATTEN"},
                    },
                    Next="B",
                    End=DROP,
                ),
                "B": dmap(
                    {"I2": pass_()},
                    ItemReader={
                        "Resource": "arn:aws:states:::s3:getObject",
                        "Parameters": {"Bucket": "b"},
                        "ReaderConfig": {
                            "InputType": "MANIFEST",
                            "ManifestType": "S3_INVENTORY",
                            "MaxItems": 100,
                        },
                    },
                    Next="C",
                    End=DROP,
                ),
                "C": dmap(
                    {"I3": pass_()},
                    ItemReader={
                        "Resource": "arn:aws:states:::s3:getObject",
                        "Parameters": {"Bucket": "b"},
                        "ReaderConfig": {"InputType": "JSON", "ItemsPointer": "/inventory/items"},
                    },
                ),
            }
        ),
    ),
    (
        "labels-unique",
        sm({"A": dmap(Label="First", Next="B", End=DROP), "B": dmap({"I2": pass_()}, Label="Second")}),
    ),
    (
        "parallel-with-result-handling",
        sm(
            {
                "P": parallel(
                    branch({"B1": pass_()}),
                    branch({"B2": wait()}),
                    Parameters={"u.$": "States.UUID()"},
                    ResultSelector={"r.$": "$[0]"},
                    Retry=[{"ErrorEquals": ["States.ALL"]}],
                    Catch=[{"ErrorEquals": ["States.ALL"], "Next": "F"}],
                    Next="F",
                    End=DROP,
                ),
                "F": succeed(),
            }
        ),
    ),
    ("same-state-names-allowed-once", one(parallel(branch({"X": pass_()}), branch({"Y": pass_()})))),
    (
        "jsonata-machine",
        jsonata(
            sm(
                {
                    "A": task(
                        Arguments={"FunctionName": "f", "Payload": "{% $states.input %}"},
                        Output="{% $states.result.Payload %}",
                        Assign={"total": "{% $states.result.Payload.total %}"},
                        TimeoutSeconds="{% $states.input.t %}",
                        HeartbeatSeconds=10,
                        Next="B",
                        End=DROP,
                        Catch=[
                            {
                                "ErrorEquals": ["States.ALL"],
                                "Next": "F",
                                "Output": "{% $states.errorOutput %}",
                                "Assign": {"failure": "{% $states.errorOutput.Error %}"},
                            }
                        ],
                    ),
                    "B": choice(
                        {
                            "Condition": "{% $total > 10 %}",
                            "Next": "C",
                            "Output": {"big": True},
                            "Assign": {"big": True},
                        },
                        {"Condition": True, "Next": "C"},
                        Default="C",
                    ),
                    "C": wait(Seconds="{% $total %}", Next="D", End=DROP),
                    "D": map_(
                        Items="{% $states.input.items %}",
                        ItemSelector={"i": "{% $states.context.Map.Item.Value %}"},
                        MaxConcurrency="{% 2 %}",
                        Next="E",
                        End=DROP,
                        Output="{% $states.result %}",
                    ),
                    "E": pass_(Output="literal text"),
                    "F": fail(Error="{% $failure %}", Cause="failed"),
                }
            )
        ),
    ),
    ("jsonata-map-items-literal", jsonata(sm({"M": map_(Items=[1, 2, 3])}))),
    (
        "jsonata-wait-timestamp",
        jsonata(
            sm(
                {
                    "A": wait(Seconds=DROP, Timestamp="{% $states.input.when %}", Next="B", End=DROP),
                    "B": wait(Seconds=DROP, Timestamp="2024-01-01T00:00:00Z"),
                }
            )
        ),
    ),
    (
        "jsonata-distributed-map",
        jsonata(
            sm(
                {
                    "M": dmap(
                        ItemReader={
                            "Resource": "arn:aws:states:::s3:getObject",
                            "Arguments": {"Bucket": "{% $states.input.b %}"},
                            "ReaderConfig": {"InputType": "JSONL", "MaxItems": "{% $states.input.n %}"},
                        },
                        ItemBatcher={"MaxItemsPerBatch": "{% 5 %}", "BatchInput": {"at": "{% $now() %}"}},
                        ResultWriter={
                            "Resource": "arn:aws:states:::s3:putObject",
                            "Arguments": {"Bucket": "out"},
                        },
                        ToleratedFailureCount="{% 3 %}",
                        ToleratedFailurePercentage=10,
                    )
                }
            )
        ),
    ),
    (
        "jsonata-state-in-jsonpath-machine",
        sm(
            {
                "A": pass_(
                    QueryLanguage="JSONata", Output={"x": "{% 1 + 1 %}"}, Assign={"y": 2}, Next="B", End=DROP
                ),
                "B": pass_(Parameters={"y.$": "$y"}),
            }
        ),
    ),
    ("jsonata-state-explicit-in-jsonata-machine", jsonata(one(pass_(QueryLanguage="JSONata")))),
    ("jsonpath-everywhere-explicit", one(pass_(QueryLanguage="JSONPath"), QueryLanguage="JSONPath")),
    ("jsonata-text-is-literal-in-jsonpath", one(pass_(Parameters={"template": "{% not evaluated here %}"}))),
    (
        "jsonpath-assign-everywhere",
        sm(
            {
                "P": pass_(
                    Assign={"a": 1, "b.$": "$.x", "c": {"d.$": "$$.Execution.Id"}}, Next="C", End=DROP
                ),
                "C": choice(rule("W", Assign={"e": "literal"}), Default="W", Assign={"f.$": "$"}),
                "W": wait(Assign={"g.$": "States.Format('{}', $a)"}, Next="T", End=DROP),
                "T": task(
                    Assign={"h.$": "$.Payload"},
                    Catch=[{"ErrorEquals": ["States.ALL"], "Next": "E", "Assign": {"i.$": "$.Cause"}}],
                    Next="M",
                    End=DROP,
                ),
                "M": map_(Assign={"j.$": "$"}, Next="E", End=DROP),
                "E": succeed(),
            }
        ),
    ),
    ("unicode-variable-names", one(pass_(Assign={"prix_été": 1, "größe": 2, "_private": 3, "数量": 4}))),
    (
        "sibling-branches-may-share-variable-names",
        one(parallel(branch({"B1": pass_(Assign={"part": 1})}), branch({"B2": pass_(Assign={"part": 2})}))),
    ),
    (
        "inner-scope-may-read-outer-variables",
        sm(
            {
                "A": pass_(Assign={"x": 1}, Next="M", End=DROP),
                "M": map_(branch({"I": pass_(Parameters={"x.$": "$x"}, Assign={"y.$": "$x"})})),
            }
        ),
    ),
    (
        "state-name-80-characters-and-symbols",
        sm({"N" * 80: pass_(Next="Hello World (v2) - ok?", End=DROP), "Hello World (v2) - ok?": succeed()}),
    ),
    (
        "loop-with-exit",
        sm({"A": task(Next="C", End=DROP), "C": choice(rule("A"), Default="Done"), "Done": succeed()}),
    ),
]


@pytest.mark.parametrize("definition", [c[1] for c in VALID], ids=[c[0] for c in VALID])
def test_accepts(definition: Any) -> None:
    assert [p for p in validate_definition(definition) if p.severity == "error"] == []


# ------------------------------------------------------------------------------------------
# Warnings: AWS's warning codes and StateHop's, never errors
# ------------------------------------------------------------------------------------------

WARNINGS: list[tuple[str, Any, tuple[str, str]]] = [
    ("no-dollar-path", one(pass_(Parameters={"a": "$.x"})), (f"{S}/Parameters/a", "NO_DOLLAR")),
    (
        "no-dollar-intrinsic",
        one(task(Parameters={"n": {"id": "States.UUID()"}})),
        (f"{S}/Parameters/n/id", "NO_DOLLAR"),
    ),
    ("no-dollar-in-assign", one(pass_(Assign={"v": "$.x"})), (f"{S}/Assign/v", "NO_DOLLAR")),
    ("no-path", one(fail(Error="$.error")), (f"{S}/Error", "NO_PATH")),
    ("pass-result-is-static", one(pass_(Result={"a.$": "$.x"})), (f"{S}/Result", "PASS_RESULT_IS_STATIC")),
    (
        "distributed-field-on-inline-map",
        sm({"M": map_(Label="Inline")}),
        (f"{M}/Label", "DISTRIBUTED_ONLY_FIELD"),
    ),
    (
        "unknown-states-error",
        one(task(Retry=[{"ErrorEquals": ["States.TaskFailure"]}])),
        (f"{S}/Retry/0/ErrorEquals/0", "UNKNOWN_ERROR_NAME"),
    ),
    ("unterminated-jsonata", jsonata(one(pass_(Output="{% 1 + 2"))), (f"{S}/Output", JSONATA)),
    ("empty-result-writer", sm({"M": dmap(ResultWriter={})}), (f"{M}/ResultWriter", SCHEMA)),
]


@pytest.mark.parametrize(("definition", "expected"), [c[1:] for c in WARNINGS], ids=[c[0] for c in WARNINGS])
def test_warns(definition: Any, expected: tuple[str, str]) -> None:
    problems = validate_definition(definition)
    assert [(p.pointer, p.rule) for p in problems if p.severity == "warning"] == [expected]
    assert not [p for p in problems if p.severity == "error"]


# ------------------------------------------------------------------------------------------
# Entry points
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rule"),
    [(None, "MISSING_DESCRIPTION"), ([], SCHEMA), ("text", SCHEMA), (5, SCHEMA)],
    ids=["null", "array", "string", "number"],
)
def test_definition_must_be_an_object(value: Any, rule: str) -> None:
    assert errors(value) == {("", rule)}


@pytest.mark.parametrize(
    ("text", "expected", "fragment"),
    [
        ('{"StartAt": "A",\n  "States": {\n}', ("", "INVALID_JSON_DESCRIPTION"), "line 3, column 2"),
        ('{"StartAt": "A" "States": {}}', ("", "INVALID_JSON_DESCRIPTION"), "line 1, column 17"),
        ("{'StartAt': 'A'}", ("", "INVALID_JSON_DESCRIPTION"), "line 1, column 2"),
        (
            '{"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": NaN, "End": true}}}',
            ("", "INVALID_JSON_DESCRIPTION"),
            "NaN",
        ),
        ("", ("", "MISSING_DESCRIPTION"), "empty"),
        ("   \n", ("", "MISSING_DESCRIPTION"), "empty"),
        (
            '{"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "A": {"Type": "Fail"}}}',
            ("/States/A", "DUPLICATE_STATE_NAME"),
            "'A'",
        ),
        (
            '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "End": true}}}',
            ("/States/A/End", "DUPLICATE_JSON_KEY"),
            "'End'",
        ),
        (
            '{"StartAt": "A", "States": {"A": {"Type": "Parallel", "End": true, "Branches": '
            '[{"StartAt": "B", "States": {"B": {"Type": "Succeed"}, "B": {"Type": "Succeed"}}}]}}}',
            ("/States/A/Branches/0/States/B", "DUPLICATE_STATE_NAME"),
            "'B'",
        ),
    ],
    ids=[
        "unclosed",
        "missing-comma",
        "single-quotes",
        "nan",
        "empty",
        "blank",
        "duplicate-state",
        "duplicate-field",
        "duplicate-state-in-branch",
    ],
)
def test_validate_text(text: str, expected: tuple[str, str], fragment: str) -> None:
    problems = [p for p in validate_text(text) if p.severity == "error"]
    assert [(p.pointer, p.rule) for p in problems] == [expected]
    assert fragment in problems[0].message


def test_validate_text_runs_the_definition_checks() -> None:
    text = json.dumps(sm({"A": pass_(), "B": pass_()}))
    assert [(p.pointer, p.rule) for p in validate_text(text)] == [("/States/B", MTT)]


def test_validate_text_of_a_valid_definition_is_silent() -> None:
    assert (
        validate_text(json.dumps(one(task(Retry=[{"ErrorEquals": ["States.ALL"], "BackoffRate": 2}])))) == []
    )


def test_problem_fields_are_well_formed() -> None:
    definition = sm({"A": pass_(Next="Nope", End=DROP), "Nope2": succeed()}, start="A")
    problem = validate_definition(definition)[0]
    assert isinstance(problem, Problem)
    assert problem.message == "Missing 'Next' target: Nope"
    assert "Nope2" in problem.hint


def test_every_problem_is_reported_not_only_the_first() -> None:
    definition = sm(
        {
            "A": task(Resource="", TimeoutSeconds=0, Retry=[{"ErrorEquals": [], "BackoffRate": 0}]),
            "B": pass_(ResultPath="$$.x"),
        }
    )
    assert errors(definition) == {
        ("/States/A/Resource", "INVALID_RESOURCE"),
        ("/States/A/TimeoutSeconds", SCHEMA),
        ("/States/A/Retry/0/ErrorEquals", SCHEMA),
        ("/States/A/Retry/0/BackoffRate", SCHEMA),
        ("/States/B/ResultPath", SCHEMA),
        ("/States/B", MTT),
    }


def test_a_jsonata_compiler_rule_code_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """A JSONata error that names its own AWS code (e.g. UNSUPPORTED_JSONATA_EXPRESSION) keeps it."""
    from runtime.asl import jsonata as jsonata_module

    class Unsupported(ExpressionError):
        rule = "UNSUPPORTED_JSONATA_EXPRESSION"

    def refuse(text: str) -> None:
        raise Unsupported("Reference to 'phone' at the top level is not supported.")

    monkeypatch.setattr(jsonata_module, "compile_expression", refuse)
    assert errors(jsonata(one(pass_(Output={"v": "{% phone %}"})))) == {
        (f"{S}/Output/v", "UNSUPPORTED_JSONATA_EXPRESSION")
    }


def test_state_tables_cover_the_eight_types() -> None:
    assert set(STATE_FIELDS) == {"Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"}
    for fields in STATE_FIELDS.values():
        assert not fields.jsonpath & fields.jsonata
        assert not (fields.jsonpath | fields.jsonata) & fields.both


def _nested(levels: int) -> dict[str, Any]:
    definition: dict[str, Any] = one(succeed())
    for level in range(levels):
        definition = sm(
            {
                f"L{level}": parallel(
                    {"StartAt": next(iter(definition["States"])), "States": definition["States"]}
                )
            }
        )
    return definition


def test_nesting_up_to_the_limit_is_accepted() -> None:
    assert errors(_nested(MAX_NESTING)) == set()


def test_nesting_beyond_the_limit_is_reported() -> None:
    deepest = "".join(f"/States/L{level}/Branches/0" for level in range(MAX_NESTING, -1, -1))
    assert errors(_nested(MAX_NESTING + 1)) == {(deepest, "TOO_DEEPLY_NESTED")}


def test_very_deep_nesting_is_reported_not_raised() -> None:
    assert len(errors(_nested(3000))) == 1


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.sampled_from(["", "$", "$.a", "{% 1 %}", "States.ALL", "A", "Pass"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "Type",
                    "Next",
                    "End",
                    "StartAt",
                    "States",
                    "Branches",
                    "Choices",
                    "Retry",
                    "Catch",
                    "ItemProcessor",
                    "Assign",
                    "Parameters",
                    "A",
                    "a.$",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_json)
def test_never_raises_on_arbitrary_json(definition: Any) -> None:
    for problem in validate_definition(definition):
        assert problem.rule in RULES
        resolve(definition, problem.pointer)
