"""JSONata for ASL, checked against AWS's documented (and measured) behaviour.

Sources: AWS docs "Transforming data with JSONata in Step Functions" (syntax, $states, the six
Step Functions functions, $eval disabled), "Passing data between states with variables", and
AWS's own cause texts, e.g. "The JSONata expression '$states.input.pushLocation' specified for
the field 'Arguments/Input/pushLocation' returned nothing (undefined)."
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

import runtime.asl.jsonata as jsonata_module
from runtime.asl.errors import ExpressionError, StatesError, StatesNames
from runtime.asl.jsonata import (
    Expression,
    JsonataSyntaxError,
    Template,
    compile_expression,
    compile_template,
    is_expression,
)

STATES: dict[str, Any] = {
    "input": {
        "title": "Doctor",
        "n": 5,
        "items": [1, 2, 3],
        "obj": {"a": 1, "b": None},
        "people": [{"name": "a", "age": 30}, {"name": "b", "age": 40}],
        "nothing": None,
        "s": "abc",
        "float": 1.0,
        "single": [7],
    },
    "result": {"Payload": {"ok": True, "count": 2}},
    "errorOutput": {"Error": "Boom", "Cause": "it broke"},
    "context": {
        "Execution": {"Id": "arn:exec", "Input": {"title": "Doctor"}},
        "State": {"Name": "S1", "RetryCount": 0},
    },
}
VARIABLES: dict[str, Any] = {
    "customerName": "María",
    "counter": 3,
    "nullVar": None,
    "list": [1, 2],
    "obj": {"k": "v"},
}


def ev(
    text: str,
    states: dict[str, Any] | None = None,
    variables: dict[str, Any] | None = None,
    field: str | None = None,
) -> Any:
    return compile_expression(text).evaluate(
        STATES if states is None else states, VARIABLES if variables is None else variables, field=field
    )


def cause_of(text: str, field: str | None = "Output", **kw: Any) -> str:
    with pytest.raises(StatesError) as info:
        ev(text, field=field, **kw)
    assert info.value.error == StatesNames.QUERY_EVALUATION_ERROR
    return info.value.cause


# --------------------------------------------------------------------------------------------
# What is an expression
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{% $states.input %}", True),
        ("{%$states.input%}", True),  # whitespace inside the delimiters is optional
        ("{%\n  1 + 1\n%}", True),
        ("{%%}", True),  # an (empty, invalid) expression, not a literal
        ("{% incomplete", False),
        ("incomplete %}", False),
        (" {% 1 %}", False),  # AWS: no whitespace before {%
        ("{% 1 %} ", False),  # ... nor after %}
        ("Hello {% $name %}", False),  # no string interpolation: a literal
        ("{% a %} and {% b %}", True),  # fully wrapped, so it is one (invalid) expression
        ("{%}", False),
        ("$states.input", False),
        ("", False),
        (None, False),
        (42, False),
        ({"a": "{% 1 %}"}, False),
        (["{% 1 %}"], False),
    ],
)
def test_is_expression(value: Any, expected: bool) -> None:
    assert is_expression(value) is expected


def test_compile_expression_is_cached() -> None:
    assert compile_expression("{% $states.input.n %}") is compile_expression("{% $states.input.n %}")


@pytest.mark.parametrize(
    ("text", "source"),
    [
        ("{% $states.input.title %}", "$states.input.title"),
        ("{%$states.input.title%}", "$states.input.title"),
        ("{%   1 + 2\n %}", "1 + 2"),
    ],
)
def test_source_is_the_stripped_expression(text: str, source: str) -> None:
    expr = compile_expression(text)
    assert (expr.text, expr.source) == (text, source)


# --------------------------------------------------------------------------------------------
# Syntax errors at compile time
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "position", "detail"),
    [
        ("{% a[1,2) %}", "S0202", 4, 'Expected "]", got ","'),
        ("{% 1 + %}", "S0207", 3, "Unexpected end of expression"),
        ("{% {'a':} %}", "S0211", 6, 'The symbol "}" cannot be used as a unary operator'),
        ("{% $x := %}", "S0207", 5, "Unexpected end of expression"),
        ("{% 'unterminated %}", "S0101", 13, "String literal must be terminated by a matching quote"),
        ("{% $match('a', /abc %}", "S0302", 16, "No terminating / in regular expression"),
        ("{%%}", "S0207", 0, "Unexpected end of expression"),
        ("{%   %}", "S0207", 0, "Unexpected end of expression"),
        ("{% a; b %}", "S0201", 2, 'Syntax error: ";"'),
    ],
)
def test_syntax_errors_say_what_and_where(text: str, code: str, position: int, detail: str) -> None:
    with pytest.raises(JsonataSyntaxError) as info:
        compile_expression(text)
    err = info.value
    assert (err.code, err.position, err.detail) == (code, position, detail)
    assert err.expression == text[2:-2].strip()
    assert detail in str(err) and code in str(err)
    if position > 0:
        assert f"at character {position}" in str(err)


def test_syntax_error_is_an_expression_error() -> None:
    with pytest.raises(ExpressionError):
        compile_expression("{% ( %}")
    assert issubclass(JsonataSyntaxError, ValueError)


@pytest.mark.parametrize("text", ["$states.input", "{% 1", "plain", ""])
def test_compile_expression_refuses_a_string_that_is_not_wrapped(text: str) -> None:
    with pytest.raises(JsonataSyntaxError, match=re.escape("'{% expr %}'")):
        compile_expression(text)


def test_compile_template_reports_syntax_errors_at_any_depth() -> None:
    with pytest.raises(JsonataSyntaxError, match="Unexpected end of expression"):
        compile_template({"a": [{"b": "{% 1 + %}"}]})


# --------------------------------------------------------------------------------------------
# Bindings: $states and variables
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{% $states.input.title %}", "Doctor"),
        ("{% $states.input.n + 1 %}", 6),
        ("{% $states.result.Payload.count * 10 %}", 20),
        ("{% $states.errorOutput.Error & ': ' & $states.errorOutput.Cause %}", "Boom: it broke"),
        ("{% $states.context.Execution.Id %}", "arn:exec"),
        ("{% $states.context.State.RetryCount %}", 0),
        ("{% $states.context.Execution.Input.title %}", "Doctor"),
        ("{% $states.input.people[age > 35].name %}", "b"),
        ("{% $states.input.people.name %}", ["a", "b"]),
        ("{% $count($states.input.items) %}", 3),
        ("{% $sum($states.input.items) %}", 6),
        ("{% $states.input.obj.b %}", None),  # JSON null is a value
        ("{% $states.input.nothing %}", None),
        ("{% $exists($states.input.obj.b) %}", True),
        ("{% $type($states.input.nothing) %}", "null"),
        ("{% $states.input.single %}", [7]),  # an array field stays an array
        ("{% $keys($states) %}", ["input", "result", "errorOutput", "context"]),
        ("{% $states.input.obj ~> $keys() %}", ["a", "b"]),
        ("{% $states.input.title = 'Doctor' ? 'yes' : 'no' %}", "yes"),
        ("{% $uppercase($states.input.s) %}", "ABC"),
    ],
)
def test_states_bindings(text: str, expected: Any) -> None:
    assert ev(text) == expected


@pytest.mark.parametrize(
    ("states", "text", "expected"),
    [
        ({"input": None}, "{% $states.input %}", None),  # a null input is null, not undefined
        ({"input": [1, 2]}, "{% $states.input[1] %}", 2),
        ({"input": "text"}, "{% $states.input %}", "text"),
        ({"input": {}}, "{% $exists($states.result) %}", False),  # only the fields present are bound
        ({"input": {}, "result": 0}, "{% $states.result %}", 0),
    ],
)
def test_states_holds_only_what_the_caller_passes(states: dict[str, Any], text: str, expected: Any) -> None:
    assert ev(text, states=states) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{% $customerName %}", "María"),
        ("{% $counter + 1 %}", 4),
        ("{% $nullVar %}", None),
        ("{% $exists($nullVar) %}", True),
        ("{% $type($nullVar) %}", "null"),
        ("{% $list[1] %}", 2),
        ("{% $obj.k %}", "v"),
        ("{% $count($list) %}", 2),
        ("{% 'Hi ' & $customerName %}", "Hi María"),
        ("{% ($local := 2; $counter * $local) %}", 6),  # block-local bindings shadow nothing outside
    ],
)
def test_variables_are_bound_by_name(text: str, expected: Any) -> None:
    assert ev(text) == expected


def test_states_is_reserved_over_a_variable_named_states() -> None:
    assert ev("{% $states.input.n %}", variables={"states": {"input": {"n": 99}}}) == 5


def test_a_variable_may_shadow_a_builtin_function_name() -> None:
    # Workflow variables are bound above JSONata's functions, as in jsonata-js.
    assert ev("{% $string %}", variables={"string": "mine"}) == "mine"


def test_top_level_assignment_does_not_leak_between_expressions() -> None:
    template = compile_template({"a": "{% $x := 1 %}", "b": "{% $exists($x) %}"})
    assert template.render(STATES, {}) == {"a": 1, "b": False}


@pytest.mark.parametrize("text", ["{% $ %}", "{% title %}", "{% $$ %}", "{% input.title %}"])
def test_there_is_no_context_item(text: str) -> None:
    # AWS evaluates with no input document: only $states and variables reach data.
    assert "returned nothing (undefined)" in cause_of(text)


# --------------------------------------------------------------------------------------------
# Undefined, null and non-JSON results
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field", "cause"),
    [
        (
            "{% $states.input.pushLocation %}",
            "Arguments/Input/pushLocation",
            "The JSONata expression '$states.input.pushLocation' specified for the field "
            "'Arguments/Input/pushLocation' returned nothing (undefined).",
        ),
        (
            "{% $states.input.absent %}",
            "Output/v",
            "The JSONata expression '$states.input.absent' specified for the field 'Output/v' "
            "returned nothing (undefined).",
        ),
        (
            "{%$missingVar%}",
            "Assign/x",
            "The JSONata expression '$missingVar' specified for the field 'Assign/x' returned nothing (undefined).",
        ),
        (
            "{% $states.input.items[10] %}",
            "Items",
            "The JSONata expression '$states.input.items[10]' specified for the field 'Items' "
            "returned nothing (undefined).",
        ),
        (
            "{% $states.input.people[age > 99] %}",
            "Choices[0]/Condition",
            "The JSONata expression '$states.input.people[age > 99]' specified for the field "
            "'Choices[0]/Condition' returned nothing (undefined).",
        ),
        (
            "{% $states.input.n.deeper %}",
            None,
            "The JSONata expression '$states.input.n.deeper' returned nothing (undefined).",
        ),
        (
            "{% $states.input.nothing.x %}",
            "Output",
            "The JSONata expression '$states.input.nothing.x' "
            "specified for the field 'Output' returned nothing (undefined).",
        ),
        (
            "{% $states.input.n + $states.input.absent %}",
            "TimeoutSeconds",
            "The JSONata expression '$states.input.n + $states.input.absent' specified for the field "
            "'TimeoutSeconds' returned nothing (undefined).",
        ),
    ],
)
def test_undefined_is_a_query_evaluation_error(text: str, field: str | None, cause: str) -> None:
    assert cause_of(text, field=field) == cause


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{% null %}", None),
        ("{% {'k': $states.input.nothing} %}", {"k": None}),  # a null keeps its key
        ("{% [$states.input.nothing, 1] %}", [None, 1]),
        ("{% {'k': $states.input.absent, 'j': 1} %}", {"j": 1}),  # JSONata drops undefined inside
        ("{% [$states.input.absent, 1] %}", [1]),
        ("{% $states.input.obj %}", {"a": 1, "b": None}),
    ],
)
def test_null_is_a_value_and_undefined_inside_a_value_is_dropped(text: str, expected: Any) -> None:
    assert ev(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "{% $sum %}",
        "{% function($x) { $x } %}",
        "{% {'f': $uppercase} %}",
        "{% [1, $partition] %}",
        "{% /ab/ %}",
    ],
)
def test_a_function_is_not_json(text: str) -> None:
    assert cause_of(text).endswith("specified for the field 'Output' returned an unsupported result type.")


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("{% $states.input.float %}", 1, float),  # as the input has it (JSON: the same number as 1)
        ("{% $states.input.float + 0 %}", 1, int),  # JSONata's arithmetic answers whole numbers as such
        ("{% 1.5 * 2 %}", 3, int),
        ("{% 2e20 %}", 2e20, float),
        ("{% 1e19 * 10 %}", 1e20, float),  # beyond 64 bits: kept a float so JSON encoders accept it
        ("{% 0.1 + 0.2 %}", 0.30000000000000004, float),
        ("{% 7 / 2 %}", 3.5, float),
        ("{% 1e300 * 1e300 %}", None, None),  # out of range: an error, below
    ],
)
def test_numbers(text: str, expected: Any, kind: type | None) -> None:
    if kind is None:
        assert "D1001: Number out of range" in cause_of(text)
        return
    value = ev(text)
    assert value == expected and type(value) is kind


def test_computed_results_are_plain_json_not_shared_with_the_input() -> None:
    value = ev("{% $states.input.people[age > 0] %}")
    assert type(value) is list and all(type(p) is dict for p in value)
    value[0]["name"] = "changed"
    assert STATES["input"]["people"][0]["name"] == "a"


def test_a_plain_path_shares_what_it_selects_like_a_jsonpath_does() -> None:
    assert ev("{% $states.input.people %}") is STATES["input"]["people"]


# --------------------------------------------------------------------------------------------
# Errors thrown during evaluation, worded as AWS words them
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tail"),
    [
        ("{% $sum(['a']) %}", '. T0412: Argument 1 of function "sum" must be an array of "numbers"'),
        ("{% $abs('x') %}", '. T0410: Argument 1 of function "abs" does not match function signature'),
        ("{% 1 + 'a' %}", '. T2002: The right side of the "+" operator must evaluate to a number'),
        ("{% 'a' - 1 %}", '. T2001: The left side of the "-" operator must evaluate to a number'),
        ("{% $eval('1+1') %}", ". T1006: Attempted to invoke a non-function"),  # AWS disables $eval
        ("{% $nope(1) %}", ". T1006: Attempted to invoke a non-function"),
        ("{% $error('custom failure') %}", ". D3137: custom failure"),
        ("{% $assert(false, 'must hold') %}", ". D3141: must hold"),
        (
            "{% $single([1, 2]) %}",
            ". D3138: The $single() function expected exactly 1 matching result.  Instead it matched more.",
        ),
        ("{% 1 / 0 %}", ". D1001: Number out of range: Infinity"),
        ("{% {'a': 1, 'a': 2} %}", '. D1009: Multiple key definitions evaluate to same key: "a"'),
        ("{% $parse('{') %}", ". D3137: Invalid JSON"),
    ],
)
def test_thrown_errors_name_the_expression_the_field_and_the_jsonata_error(text: str, tail: str) -> None:
    source = text[2:-2].strip()
    assert cause_of(text, field="Arguments/x") == (
        f"The JSONata expression '{source}' specified for the field 'Arguments/x' "
        f"threw an error during evaluation{tail}"
    )


def test_without_a_field_the_cause_names_only_the_expression() -> None:
    assert cause_of("{% $abs('x') %}", field=None) == (
        "The JSONata expression '$abs('x')' threw an error during evaluation. "
        'T0410: Argument 1 of function "abs" does not match function signature'
    )


def test_a_library_failure_still_fails_the_state(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(args: list[Any]) -> Any:
        raise KeyError("boom")

    fn = jsonata_module._BASE.bindings["uuid"]
    monkeypatch.setattr(fn, "impl", broken)
    assert cause_of("{% $uuid() %}") == (
        "The JSONata expression '$uuid()' specified for the field 'Output' "
        "threw an internal error during evaluation: KeyError: 'boom'"
    )


# --------------------------------------------------------------------------------------------
# AWS's bounds on evaluation
# --------------------------------------------------------------------------------------------

RECURSION = "{% ($f := function($x){ $x <= 0 ? 0 : 1 + $f($x-1) }; $f(N)) %}"


@pytest.mark.parametrize(
    ("accepted", "refused"),
    [
        ("{% 1" + "+1" * 99 + " %}", "{% 1" + "+1" * 100 + " %}"),  # AWS: 100 terms pass, 101 fail
        ("{% " + "(" * 99 + "1" + ")" * 99 + " %}", "{% " + "(" * 100 + "1" + ")" * 100 + " %}"),
        ("{% " + "[" * 99 + "1" + "]" * 99 + " %}", "{% " + "[" * 100 + "1" + "]" * 100 + " %}"),
        ("{% 1" + "~>$string" * 99 + " %}", "{% 1" + "~>$string" * 100 + " %}"),
        (RECURSION.replace("N", "31"), RECURSION.replace("N", "32")),
    ],
)
def test_nesting_depth_is_bounded_where_aws_bounds_it(accepted: str, refused: str) -> None:
    ev(accepted)
    assert cause_of(refused).endswith(
        "threw an error during evaluation: Stack overflow error: Check for non-terminating recursive "
        "function. Consider rewriting as tail-recursive"
    )


def test_evaluation_time_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonata_module, "TIMEOUT_SECONDS", 0.2)
    started = time.monotonic()
    cause = cause_of("{% ($f := function($x){ $f($x + 1) }; $f(1)) %}")
    assert cause.endswith(
        "threw an error during evaluation: Expression evaluation timeout: Check for infinite loop"
    )
    assert time.monotonic() - started < 5


# --------------------------------------------------------------------------------------------
# Step Functions' own functions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{% $partition([1, 2, 3, 4, 5, 6, 7, 8, 9], 3) %}", [[1, 2, 3], [4, 5, 6], [7, 8, 9]]),  # AWS docs
        ("{% $partition([1, 2, 3, 4, 5], 2) %}", [[1, 2], [3, 4], [5]]),  # last chunk holds the rest
        ("{% $partition([1, 2, 3], 5) %}", [[1, 2, 3]]),
        ("{% $partition([1, 2, 3]) %}", [[1, 2, 3]]),  # no chunk size: one chunk
        ("{% $partition([1, 2, 3, 4, 5], 2.9) %}", [[1, 2], [3, 4], [5]]),  # truncated towards zero
        ("{% $partition($states.input.items, 1) %}", [[1], [2], [3]]),
        ("{% $partition(['a', {'b': 1}], 1) %}", [["a"], [{"b": 1}]]),
        ("{% $count($partition([1..10], 3)) %}", 4),
    ],
)
def test_partition(text: str, expected: Any) -> None:
    assert ev(text) == expected


@pytest.mark.parametrize(
    ("text", "tail"),
    [
        ("{% $partition([], 2) %}", " returned nothing (undefined)."),
        ("{% $partition([1, 2], 0) %}", " returned nothing (undefined)."),
        ("{% $partition([1, 2], -0.5) %}", " returned nothing (undefined)."),  # -0.5 truncates to 0
        ("{% $partition($states.input.absent, 2) %}", " returned nothing (undefined)."),
        (
            "{% $partition([1, 2], -1) %}",
            " threw an error during evaluation. D3137: Second argument must be zero or greater",
        ),
        (
            "{% $partition(null, 2) %}",
            " threw an error during evaluation. T0412: Argument 1 of function "
            '"partition" must be an array of undefined',
        ),
        (
            "{% $partition('abc', 2) %}",
            " threw an error during evaluation. T0412: Argument 1 of function "
            '"partition" must be an array of undefined',
        ),
        (
            "{% $partition([1], 'two') %}",
            " threw an error during evaluation. T0410: Argument 2 of function "
            '"partition" does not match function signature',
        ),
        (
            "{% $partition([1], 2, 3) %}",
            " threw an error during evaluation. T0410: Argument 3 of function "
            '"partition" does not match function signature',
        ),
    ],
)
def test_partition_refusals(text: str, tail: str) -> None:
    assert cause_of(text).endswith(tail)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{% $range(0, 10, 2) %}", [0, 2, 4, 6, 8, 10]),  # AWS docs
        ("{% $range(10, 0, -2) %}", [10, 8, 6, 4, 2, 0]),
        ("{% $range(1, 10, 4) %}", [1, 5, 9]),  # end included only when a step lands on it
        ("{% $range(1, 5, 1) %}", [1, 2, 3, 4, 5]),
        ("{% $range(3, 3, 1) %}", 3),  # a one-element range is the bare number
        ("{% $range(3, 3, -1) %}", 3),
        ("{% $range(-1.7, 2, 1) %}", [-1, 0, 1, 2]),  # truncated towards zero, not floored
        ("{% $range(-2.9, 0, 1) %}", [-2, -1, 0]),
        ("{% $range(5, 1, -1.5) %}", [5, 4, 3, 2, 1]),
        ("{% $range(1.7, 5, 1) %}", [1, 2, 3, 4, 5]),
        ("{% $count($range(1, 360145, 1)) %}", 360145),  # AWS's element bound, inclusive
    ],
)
def test_range(text: str, expected: Any) -> None:
    assert ev(text) == expected


@pytest.mark.parametrize(
    ("text", "tail"),
    [
        ("{% $range(1, 5) %}", " returned nothing (undefined)."),  # no step
        ("{% $range(1, 5, 0) %}", " returned nothing (undefined)."),
        ("{% $range(5, 1, 1) %}", " returned nothing (undefined)."),  # step against the direction
        ("{% $range(1, 5, -1) %}", " returned nothing (undefined)."),
        (
            "{% $range(1) %}",
            ' threw an error during evaluation. T0410: Argument 2 of function "range" '
            "does not match function signature",
        ),
        (
            "{% $range('1', 5, 1) %}",
            ' threw an error during evaluation. T0410: Argument 1 of function "range" '
            "does not match function signature",
        ),
        (
            "{% $range(1, 5, true) %}",
            ' threw an error during evaluation. T0410: Argument 3 of function "range" '
            "does not match function signature",
        ),
        (
            "{% $range(1, 5, 1, 2) %}",
            ' threw an error during evaluation. T0410: Argument 4 of function "range" '
            "does not match function signature",
        ),
        (
            "{% $range(1, 360146, 1) %}",
            " threw an error during evaluation: Expression evaluation memory limit "
            "exceeded: Check for excessive memory usage",
        ),
        (
            "{% $range(1, 1000000000000, 1) %}",
            " threw an error during evaluation: Expression evaluation memory "
            "limit exceeded: Check for excessive memory usage",
        ),
    ],
)
def test_range_refusals(text: str, tail: str) -> None:
    assert cause_of(text).endswith(tail)


@pytest.mark.parametrize(
    ("algorithm", "digest"),
    [
        ("MD5", "8b1a9953c4611296a827abf8c47804d7"),
        ("SHA-1", "f7ff9e8b7bb2e09b70935a5d785e0cc5d9d0abf0"),
        ("SHA-256", "185f8db32271fe25f561a6fc938b2e264306ec304eda518007d1764826381969"),
        (
            "SHA-384",
            "3519fe5ad2c596efe3e276a6f351b8fc0b03db861782490d45f7598ebd0ab5fd"
            "5520ed102f38c4a5ec834e98668035fc",
        ),
        (
            "SHA-512",
            "3615f80c9d293ed7402687f94b22d58e529b8cc7916f8fac7fddf7fbd5af4cf7"
            "77d3d795a7a00a16bf7e7f3fb9561ee9baae480da9fe7a18769e71886b03f315",
        ),
    ],
)
def test_hash_algorithms(algorithm: str, digest: str) -> None:
    assert ev(f"{{% $hash('Hello', '{algorithm}') %}}") == digest


def test_hash_hashes_utf8_bytes() -> None:
    assert ev("{% $hash('ñ', 'MD5') %}") == "94e9342ecbb1458b6043ecd3bfcbc192"


@pytest.mark.parametrize(
    ("text", "tail"),
    [
        ("{% $hash('Hello') %}", " returned nothing (undefined)."),  # no algorithm
        (
            "{% $hash('Hello', 'md5') %}",
            " threw an error during evaluation. D3137: Hash algorithm 'md5' must be "
            "one of SHA-1, SHA-384, SHA-256, SHA-512, MD5",
        ),  # case-sensitive
        (
            "{% $hash('Hello', 'SHA3-256') %}",
            " threw an error during evaluation. D3137: Hash algorithm "
            "'SHA3-256' must be one of SHA-1, SHA-384, SHA-256, SHA-512, MD5",
        ),
        (
            "{% $hash(42, 'MD5') %}",
            ' threw an error during evaluation. T0410: Argument 1 of function "hash" '
            "does not match function signature",
        ),
        (
            "{% $hash('a', 5) %}",
            ' threw an error during evaluation. T0410: Argument 2 of function "hash" '
            "does not match function signature",
        ),
        (
            "{% $hash('a', 'MD5', 'x') %}",
            " threw an error during evaluation. T0410: Argument 3 of function "
            '"hash" does not match function signature',
        ),
    ],
)
def test_hash_refusals(text: str, tail: str) -> None:
    assert cause_of(text).endswith(tail)


@pytest.mark.parametrize(
    ("seed", "expected"),
    [
        ("42", 0.7275636800328681),  # AWS seeds java.util.Random: the same values as on AWS
        ("0", 0.730967787376657),
        ("7", 0.7306990420600421),
        ("0.9", 0.730967787376657),  # the seed is truncated towards zero
        ("-0.9", 0.730967787376657),
    ],
)
def test_random_with_a_seed_is_reproducible(seed: str, expected: float) -> None:
    assert ev(f"{{% $random({seed}) %}}") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{% $random() >= 0 and $random() < 1 %}", True),
        ("{% $random(5) = $random(5) %}", True),
        ("{% $random(-3) >= 0 and $random(-3) < 1 %}", True),
        ("{% $random(1) != $random(2) %}", True),
    ],
)
def test_random_range_and_determinism(text: str, expected: Any) -> None:
    assert ev(text) is expected


@pytest.mark.parametrize(
    ("text", "argument"), [("{% $random('x') %}", 1), ("{% $random(1, 2) %}", 2), ("{% $random(true) %}", 1)]
)
def test_random_refusals(text: str, argument: int) -> None:
    assert cause_of(text).endswith(
        f'T0410: Argument {argument} of function "random" does not match function signature'
    )


def test_uuid_is_a_fresh_v4_uuid() -> None:
    first, second = ev("{% $uuid() %}"), ev("{% $uuid() %}")
    pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
    assert re.match(pattern, first) and re.match(pattern, second) and first != second


@pytest.mark.parametrize("text", ["{% $uuid('seed') %}", "{% $uuid(1) %}"])
def test_uuid_takes_no_argument(text: str) -> None:
    assert cause_of(text).endswith('T0410: Argument 1 of function "uuid" does not match function signature')


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("""{% $parse('{"a": 1, "b": [1, 2, 3]}') %}""", {"a": 1, "b": [1, 2, 3]}),
        ("""{% $parse('{"joinable": true}').joinable %}""", True),
        ("""{% $parse('"text"') %}""", "text"),
        ("{% $parse('[1, 2]')[1] %}", 2),
        ("{% $parse('null') %}", None),
        ("{% $exists($parse('null')) %}", True),  # a parsed null is a value
        ("""{% $parse('{"b": 1, "a": 2}') ~> $keys() %}""", ["b", "a"]),  # order kept
        ("{% $parse('1.0') %}", 1),
        ("{% $parse('1e2') %}", 100),
        ("{% $parse('9223372036854775807') %}", 9223372036854775807),  # exact while it fits a long
        ("{% $parse('9223372036854775808') %}", 9.223372036854776e18),
        ("""{% $map(['{"a":1}', '{"a":2}'], $parse).a %}""", [1, 2]),  # usable as a function value
        ("{% $parse($string({'k': [1, null]})) %}", {"k": [1, None]}),
    ],
)
def test_parse(text: str, expected: Any) -> None:
    value = ev(text)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("text", "tail"),
    [
        ("{% $parse() %}", " returned nothing (undefined)."),
        ("{% $parse('not json') %}", " threw an error during evaluation. D3137: Invalid JSON"),
        ("{% $parse('') %}", " threw an error during evaluation. D3137: Invalid JSON"),
        ("{% $parse('  ') %}", " threw an error during evaluation. D3137: Invalid JSON"),
        ("""{% $parse('{"a":1}{"b":2}') %}""", " threw an error during evaluation. D3137: Invalid JSON"),
        ("""{% $parse('{"a":1,"a":2}') %}""", " threw an error during evaluation. D3137: Invalid JSON"),
        ("{% $parse('1e400') %}", " threw an error during evaluation. D3137: Invalid JSON"),
        ("{% $parse('NaN') %}", " threw an error during evaluation. D3137: Invalid JSON"),
        (
            "{% $parse(null) %}",
            ' threw an error during evaluation. T0410: Argument 1 of function "parse" '
            "does not match function signature",
        ),
        (
            "{% $parse(42) %}",
            ' threw an error during evaluation. T0410: Argument 1 of function "parse" '
            "does not match function signature",
        ),
        (
            "{% $parse('{}', 'x') %}",
            ' threw an error during evaluation. T0410: Argument 2 of function "parse" '
            "does not match function signature",
        ),
    ],
)
def test_parse_refusals(text: str, tail: str) -> None:
    assert cause_of(text).endswith(tail)


def test_now_is_the_time_of_this_evaluation() -> None:
    compile_expression("{% $now() & 'compiled earlier' %}")  # another compile must not pin a stale clock
    time.sleep(0.01)
    stamp = ev("{% $now() %}")
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - moment).total_seconds()) < 2
    assert ev("{% $now() = $now() %}") is True


# --------------------------------------------------------------------------------------------
# The fast path for plain paths answers what the library answers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "$states.input.title",
        "$states.input.obj",
        "$states.input.obj.b",
        "$states.input.items",
        "$states.input.single",
        "$states.input.people.name",
        "$states.input.people.age",
        "$states.result.Payload.ok",
        "$customerName",
        "$nullVar",
        "$list",
        "$obj.k",
        "$states.input",
        "$states.input.`title`",
        "$states.input.nothing",
    ],
)
def test_plain_paths_match_the_library(path: str) -> None:
    fast, slow = compile_expression(f"{{% {path} %}}"), compile_expression(f"{{% ({path}) %}}")
    assert fast._path is not None and slow._path is None
    assert fast.evaluate(STATES, VARIABLES) == slow.evaluate(STATES, VARIABLES)


@pytest.mark.parametrize(
    "path",
    [
        "$states.input.absent",
        "$states.input.n.x",
        "$states.input.nothing.x",
        "$absentVar",
        "$absentVar.x",
        "$nullVar.x",
    ],
)
def test_plain_paths_are_undefined_where_the_library_is(path: str) -> None:
    for text in (f"{{% {path} %}}", f"{{% ({path}) %}}"):
        assert cause_of(text).endswith("returned nothing (undefined).")


@pytest.mark.parametrize(
    "text",
    [
        "{% $states.input.items[0] %}",
        "{% $.a %}",
        "{% $states.input.* %}",
        "{% $states.input.people[0].name %}",
        "{% $states.input.a^(b) %}",
        "{% $states.input.items[] %}",
        "{% $sum($states.input.items) %}",
    ],
)
def test_other_expressions_take_the_library_path(text: str) -> None:
    assert compile_expression(text)._path is None


# --------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------


def test_template_example_from_the_aws_documentation() -> None:
    template = compile_template(
        {
            "static": "Hello",
            "title": "{% $states.input.title %}",
            "name": "{% $customerName %}",
            "not-evaluated": "$customerName",
        }
    )
    assert template.render({"input": {"title": "Doctor"}}, {"customerName": "María"}) == {
        "static": "Hello",
        "title": "Doctor",
        "name": "María",
        "not-evaluated": "$customerName",
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{% $states.input.n %}", 5),
        ({"a": {"b": {"c": "{% $states.input.n * 2 %}"}}}, {"a": {"b": {"c": 10}}}),
        ([1, "{% $counter %}", ["{% $customerName %}", "x"]], [1, 3, ["María", "x"]]),
        ({"list": [{"deep": ["{% $states.input.title %}"]}]}, {"list": [{"deep": ["Doctor"]}]}),
        ({"{% $counter %}": "{% $counter %}"}, {"{% $counter %}": 3}),  # keys are literal
        (
            {"obj": "{% $states.input.obj %}", "lit": {"x": None}},
            {"obj": {"a": 1, "b": None}, "lit": {"x": None}},
        ),
        ({"n": "{% null %}", "t": True, "f": 1.5}, {"n": None, "t": True, "f": 1.5}),
        ({"interp": "Hi {% $customerName %}"}, {"interp": "Hi {% $customerName %}"}),
        ([[["{% 1 + 1 %}"]]], [[[2]]]),
        ({"a": "{% [$states.input.n] %}"}, {"a": [5]}),
    ],
)
def test_templates_render_expressions_at_any_depth(value: Any, expected: Any) -> None:
    assert compile_template(value).render(STATES, VARIABLES) == expected


@pytest.mark.parametrize(
    "value",
    [{"a": 1, "b": [1, "x", {"c": None}]}, [1, 2], "plain", 42, None, True, {"k": "{% not closed"}, {}],
)
def test_a_template_without_expressions_returns_the_value_itself(value: Any) -> None:
    template = compile_template(value)
    assert template.is_static and template.expressions() == []
    assert template.render(STATES, VARIABLES) is value


def test_literal_parts_are_shared_not_copied() -> None:
    literal = {"big": [1, 2, 3]}
    rendered = compile_template({"lit": literal, "x": "{% 1 %}"}).render(STATES, VARIABLES)
    assert rendered["lit"] is literal


def test_expressions_are_listed_in_document_order() -> None:
    template = compile_template(
        {"a": "{% 1 %}", "b": ["{% 2 %}", {"c": "{% 3 %}"}], "d": "x", "e": "{% 1 %}"}
    )
    assert [e.source for e in template.expressions()] == ["1", "2", "3", "1"]
    assert all(isinstance(e, Expression) for e in template.expressions())
    assert isinstance(template, Template) and not template.is_static


MISSING = "{% $states.input.absent %}"


@pytest.mark.parametrize(
    ("value", "field", "named"),
    [
        ({"Input": {"pushLocation": MISSING}}, "Arguments", "Arguments/Input/pushLocation"),
        ({"v": MISSING}, "Output", "Output/v"),
        (MISSING, "Output", "Output"),
        ({"a": {"b": [0, MISSING]}}, "Output", "Output/a/b[1]"),
        ({"x": MISSING}, "Assign", "Assign/x"),
        ([[0, MISSING]], "Items", "Items[0][1]"),
        ({"v": MISSING}, "Choices[1]/Output", "Choices[1]/Output/v"),
        ({"v": MISSING}, "", "v"),
    ],
)
def test_template_causes_name_the_field_as_aws_does(value: Any, field: str, named: str) -> None:
    with pytest.raises(StatesError) as info:
        compile_template(value, field=field).render(STATES, VARIABLES)
    assert info.value.error == StatesNames.QUERY_EVALUATION_ERROR
    assert info.value.cause == (
        f"The JSONata expression '$states.input.absent' specified for the field "
        f"'{named}' returned nothing (undefined)."
    )


def test_an_unnamed_root_expression_names_no_field() -> None:
    with pytest.raises(StatesError) as info:
        compile_template("{% $states.input.absent %}").render(STATES, VARIABLES)
    assert info.value.cause == "The JSONata expression '$states.input.absent' returned nothing (undefined)."


def test_the_first_failing_field_in_document_order_is_reported() -> None:
    template = compile_template(
        {"ok": "{% 1 %}", "bad": "{% $abs('x') %}", "worse": "{% $absent %}"}, field="Arguments"
    )
    expected = "'Arguments/bad' threw an error during evaluation. T0410"
    with pytest.raises(StatesError, match=re.escape(expected)):
        template.render(STATES, VARIABLES)


def test_rendering_twice_gives_fresh_values() -> None:
    template = compile_template({"id": "{% $uuid() %}", "items": "{% $states.input.items[$ > 0] %}"})
    first, second = template.render(STATES, VARIABLES), template.render(STATES, VARIABLES)
    assert first["id"] != second["id"] and first["items"] == second["items"] == [1, 2, 3]
    assert first["items"] is not second["items"]


# --------------------------------------------------------------------------------------------
# Variables an expression reads (for the validator)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("{% $states.input.a %}", set()),
        ("{% $customerName %}", {"customerName"}),
        ("{% $a + $b.c[0] %}", {"a", "b"}),
        ("{% $sum($items) & $string($n) %}", {"items", "n"}),  # built-in functions are not variables
        ("{% $partition($xs, $size) %}", {"xs", "size"}),
        ("{% ($y := $x; $y + $z) %}", {"x", "z"}),  # := binds locally
        ("{% $map($list, function($v, $i){ $v + $i + $k }) %}", {"list", "k"}),  # lambda parameters
        ("{% $states.input.items@$it.($it + $w) %}", {"w"}),  # focus bindings
        ("{% $states.input.items#$pos[$pos > $lowest] %}", {"lowest"}),  # index bindings
        ("{% $min($states.input.items) < $max %}", set()),  # a built-in name is taken as the built-in
        ("{% $ %}", set()),
        ("{% $$.a %}", set()),
        ("{% $states.input[$threshold < n].name %}", {"threshold"}),
        ("{% {'k': $v}.k %}", {"v"}),
        ("{% $count > 1 ? $a : $b %}", {"a", "b"}),  # $count is JSONata's function here
    ],
)
def test_variable_names(text: str, names: set[str]) -> None:
    assert compile_expression(text).variable_names() == names


def test_template_expressions_feed_the_validator() -> None:
    template = compile_template({"a": "{% $x %}", "b": ["{% $y + $states.input.n %}"]})
    assert set().union(*(e.variable_names() for e in template.expressions())) == {"x", "y"}


# --------------------------------------------------------------------------------------------
# Threads
# --------------------------------------------------------------------------------------------


def test_concurrent_evaluations_do_not_interfere() -> None:
    exprs = [(compile_expression(f"{{% $states.input.n * {k} + $v %}}"), k) for k in range(1, 9)]
    template = compile_template({"a": "{% $sum($states.input.items) + $v %}", "b": "{% ($x := $v; $x) %}"})
    errors: list[str] = []

    def work(worker: int) -> None:
        for round_ in range(200):
            v = worker * 1000 + round_
            for expr, k in exprs:
                got = expr.evaluate({"input": {"n": worker}}, {"v": v})
                if got != worker * k + v:
                    errors.append(f"{expr.source}: {got} != {worker * k + v}")
            if template.render({"input": {"items": [worker]}}, {"v": v}) != {"a": worker + v, "b": v}:
                errors.append("template")

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_any_mapping_serves_as_states_and_variables() -> None:
    from types import MappingProxyType

    states = MappingProxyType({"input": {"n": 2}})
    variables = MappingProxyType({"k": 3})
    assert compile_expression("{% $states.input.n * $k %}").evaluate(states, variables) == 6
    assert compile_template(["{% $states.input.n %}", "{% $k %}"]).render(states, variables) == [2, 3]
