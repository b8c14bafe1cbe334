"""ASL intrinsic functions, from the ASL spec and the AWS Step Functions developer guide.

Expected values marked "AWS" come from executions recorded against AWS (published by other
emulators as validated snapshots) or from the examples in the AWS guide.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from typing import Any

import pytest

from runtime.asl.errors import ExpressionError, StatesError, StatesNames
from runtime.asl.intrinsics import (
    FUNCTIONS,
    Intrinsic,
    IntrinsicSyntaxError,
    compile_intrinsic,
    looks_like_intrinsic,
)
from runtime.asl.paths import CompiledPath

CONTEXT = {
    "Execution": {"Id": "arn:aws:states:us-east-1:1:execution:sm:run-1", "Input": {"k": 1}},
    "StateMachine": {
        "Id": "arn:aws:states:us-east-1:1:stateMachine:my-state-machine",
        "Name": "my-state-machine",
    },
    "Map": {"Item": {"Index": 2}},
}
VARIABLES = {"myVar": {"field": "v", "list": [1, 2, 3]}, "count": 7, "s": "a,b"}


def run(text: str, data: Any = None, context: Any = None, variables: Any = None) -> Any:
    intrinsic = compile_intrinsic(text)
    ctx = CONTEXT if context is None else context
    var = VARIABLES if variables is None else variables
    return intrinsic.evaluate(lambda path: path.resolve(data, ctx, var))


def failure(text: str, data: Any = None) -> str:
    """Evaluate expecting States.IntrinsicFailure; return its cause."""
    with pytest.raises(StatesError) as info:
        run(text, data)
    assert info.value.error == StatesNames.INTRINSIC_FAILURE
    return info.value.cause


def syntax_error(text: str) -> IntrinsicSyntaxError:
    with pytest.raises(IntrinsicSyntaxError) as info:
        compile_intrinsic(text)
    return info.value


# --------------------------------------------------------------------------- shape


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("States.Format('{}', $.a)", True),
        ("States.Array()", True),
        ("States.UUID()", True),
        ("States.Unknown(1)", True),  # shaped like a call: compile reports the unknown name
        ("States.Array(", True),
        ("States.Json_To.String(", True),
        ("$.a", False),
        ("$$.Execution.Id", False),
        ("$var", False),
        ("States.Array", False),
        ("States.Array (1)", False),
        (" States.Array()", False),
        ("states.Array()", False),
        ("States.()", False),
        ("MyStates.Array()", False),
        ("Format('x')", False),
        ("", False),
        (None, False),
        (42, False),
        (["States.Array()"], False),
    ],
)
def test_looks_like_intrinsic(text: Any, expected: bool) -> None:
    assert looks_like_intrinsic(text) is expected


def test_all_eighteen_functions_are_known() -> None:
    assert set(FUNCTIONS) == {
        f"States.{name}"
        for name in [
            "Format",
            "StringToJson",
            "JsonToString",
            "Array",
            "ArrayPartition",
            "ArrayContains",
            "ArrayRange",
            "ArrayGetItem",
            "ArrayLength",
            "ArrayUnique",
            "Base64Encode",
            "Base64Decode",
            "Hash",
            "JsonMerge",
            "MathRandom",
            "MathAdd",
            "StringSplit",
            "UUID",
        ]
    }


# --------------------------------------------------------------------------- syntax errors


@pytest.mark.parametrize(
    ("text", "problem", "position"),
    [
        ("Foo(1)", "must start with 'States.'", 0),
        ("$.a", "must start with 'States.'", 0),
        ("", "must start with 'States.'", 0),
        ("   ", "must start with 'States.'", 3),
        ("'States.Array()'", "must start with 'States.'", 0),
        ("States.Foo(1)", "unknown intrinsic function 'States.Foo'", 0),
        ("States.format('x')", "did you mean States.Format?", 0),
        ("States.ArrayGetitem($.a, 1)", "did you mean States.ArrayGetItem?", 0),
        ("States.Array.X()", "unknown intrinsic function", 0),
        ("States.Array(States.Nope())", "unknown intrinsic function 'States.Nope'", 13),
        ("States.Array", "'(' must follow States.Array immediately", 12),
        ("States.Array (1)", "'(' must follow States.Array immediately", 13),
        ("States.Array(1", "unexpected 'end of expression'", 14),
        ("States.Array(", "unexpected end of expression", 13),
        ("States.Array(1,)", "missing argument", 15),
        ("States.Array(,1)", "missing argument", 13),
        ("States.Array(1,,2)", "missing argument", 15),
        ("States.Array(1 2)", "unexpected '2'", 15),
        ("States.Array(1)(2)", "unexpected text after the closing ')'", 15),
        ("States.Array(1) x", "unexpected text after the closing ')'", 16),
        ("States.Array(1))", "unexpected text after the closing ')'", 15),
        ("States.Array(()", "unexpected '('", 13),
        ("States.Array('abc)", "unterminated string", 13),
        ("States.Array('abc\\')", "unterminated string", 13),
        ("States.Array('a\\nb')", "open escape backslash", 15),
        ("States.Array('a\\\"b')", "open escape backslash", 15),
        ("States.Array('a\\", "open escape backslash", 15),
        ("States.Array('\\u0041')", "open escape backslash", 14),
        ('States.Array("abc")', "unexpected character '\"'", 13),
        ("States.Array(-)", "unexpected character '-'", 13),
        ("States.Array(+1)", "unexpected character '+'", 13),
        ("States.Array(.5)", "unexpected character '.'", 13),
        ("States.Array(1.)", "unexpected character '.'", 14),
        ("States.Array(01)", "unexpected '1'", 14),
        ("States.Array(1abc)", "unexpected 'abc'", 14),
        ("States.Array(True)", "unexpected 'True'", 13),
        ("States.Array(NULL)", "unexpected 'NULL'", 13),
        ("States.Array(none)", "unexpected 'none'", 13),
        ("States.Array(@.a)", "unexpected character '@'", 13),
        ("States.Array({})", "unexpected character '{'", 13),
        ("States.Array([1])", "unexpected character '['", 13),
        ("States.Array($.a[)", "unterminated path", 13),
        ("States.Array($.a[0]])", "invalid path '$.a[0]]'", 13),
        ("States.Array($.a[0)", "unterminated path", 13),
        ("States.Array($['a)", "unterminated path", 13),
        ("States.Array($.a b)", "unexpected 'b'", 17),
        ("States.UUID(1)", "States.UUID takes exactly 0 argument(s), got 1", 0),
        ("States.MathAdd(1)", "States.MathAdd takes exactly 2 argument(s), got 1", 0),
        ("States.MathAdd(1, 2, 3)", "got 3", 0),
        ("States.MathRandom(1)", "States.MathRandom takes 2 to 3 arguments, got 1", 0),
        ("States.MathRandom(1, 2, 3, 4)", "States.MathRandom takes 2 to 3 arguments, got 4", 0),
        ("States.Format()", "States.Format takes at least 1 argument(s), got 0", 0),
        ("States.StringToJson()", "takes exactly 1 argument(s), got 0", 0),
        ("States.StringToJson('1', '2')", "got 2", 0),
        ("States.JsonToString()", "got 0", 0),
        ("States.ArrayPartition($.a)", "got 1", 0),
        ("States.ArrayContains($.a)", "got 1", 0),
        ("States.ArrayRange(1, 2)", "takes exactly 3 argument(s), got 2", 0),
        ("States.ArrayGetItem($.a)", "got 1", 0),
        ("States.ArrayLength()", "got 0", 0),
        ("States.ArrayLength($.a, $.b)", "got 2", 0),
        ("States.ArrayUnique()", "got 0", 0),
        ("States.Base64Encode()", "got 0", 0),
        ("States.Base64Decode('a', 'b')", "got 2", 0),
        ("States.Hash('a')", "got 1", 0),
        ("States.JsonMerge($.a, $.b)", "takes exactly 3 argument(s), got 2", 0),
        ("States.StringSplit('a')", "got 1", 0),
        ("States.Array(States.MathAdd(1))", "States.MathAdd takes exactly 2 argument(s), got 1", 13),
        ("States.Format('{}')", "the template has 1 placeholder(s) but 0 value(s) follow", 0),
        ("States.Format('{} {}', 1)", "the template has 2 placeholder(s) but 1 value(s) follow", 0),
        ("States.Format('no placeholder', 1)", "the template has 0 placeholder(s) but 1 value(s) follow", 0),
        ("States.Format('\\{}', 1)", "the template has 0 placeholder(s) but 1 value(s) follow", 0),
        ("States.Format('{\\}', 1)", "the template has 0 placeholder(s) but 1 value(s) follow", 0),
        ("States.Format(1)", "the template of States.Format must be a string, got number 1", 0),
        ("States.Format(null, 1)", "must be a string, got null", 0),
        ("States.Format(true)", "must be a string, got boolean true", 0),
    ],
)
def test_syntax_errors(text: str, problem: str, position: int) -> None:
    error = syntax_error(text)
    assert problem in str(error)
    assert error.position == position
    assert f"at character {position}" in str(error)
    assert error.text == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("States.MathAdd(1)", "expected States.MathAdd(value1, value2)"),
        ("States.MathRandom(1)", "expected States.MathRandom(start, end[, seed])"),
        ("States.Format()", "expected States.Format(template, value, ...)"),
        ("States.Array (1)", "expected States.Array(value, ...)"),
        ("States.UUID(1)", "expected States.UUID()"),
        ("States.JsonMerge(1)", "expected States.JsonMerge(object1, object2, deepMerge)"),
        ("States.Foo()", "expected one of States.Format, States.StringToJson"),
        ("States.Array('a\\x')", "expected one of the escapes \\' \\{ \\} \\\\"),
        ("States.Array(,)", "expected a 'string', a number, true, false, null, a path"),
    ],
)
def test_syntax_error_names_the_expected_form(text: str, expected: str) -> None:
    assert expected in str(syntax_error(text))


def test_nesting_limit_is_ten() -> None:
    ten = "States.Array(" * 10 + "1" + ")" * 10
    assert run(ten) == [[[[[[[[[[1]]]]]]]]]]
    eleven = "States.Array(" * 11 + "1" + ")" * 11
    error = syntax_error(eleven)
    assert "nested more than 10 deep" in str(error)
    assert error.position == 13 * 10


@pytest.mark.parametrize("text", ["States.Foo(", "Foo", "States.Array(1,)", "States.MathAdd()"])
def test_syntax_error_is_an_expression_error(text: str) -> None:
    with pytest.raises(ExpressionError):
        compile_intrinsic(text)
    with pytest.raises(ValueError):
        compile_intrinsic(text)


def test_non_string_is_rejected() -> None:
    with pytest.raises(IntrinsicSyntaxError, match="must be a string"):
        compile_intrinsic(123)


# --------------------------------------------------------------------------- literals


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("States.Array()", []),
        ("States.Array( )", []),
        ("States.Array(1)", [1]),
        ("States.Array(0)", [0]),
        ("States.Array(-0)", [0]),
        ("States.Array(-7)", [-7]),
        ("States.Array(123456789012345678901234567890)", [123456789012345678901234567890]),
        ("States.Array(1.5)", [1.5]),
        ("States.Array(-0.25)", [-0.25]),
        ("States.Array(1e3)", [1000.0]),
        ("States.Array(1E-2)", [0.01]),
        ("States.Array(-1.5e+2)", [-150.0]),
        ("States.Array(true)", [True]),
        ("States.Array(false)", [False]),
        ("States.Array(null)", [None]),
        ("States.Array(true, false, null)", [True, False, None]),
        ("States.Array('')", [""]),
        ("States.Array('abc')", ["abc"]),
        ("States.Array(' spaced  out ')", [" spaced  out "]),
        ("States.Array('a,b)c(d')", ["a,b)c(d"]),
        ("States.Array('$.not.a.path')", ["$.not.a.path"]),
        ("States.Array('States.Array()')", ["States.Array()"]),
        ("States.Array('\"double\"')", ['"double"']),
        ("States.Array('it\\'s')", ["it's"]),
        ("States.Array('\\{\\}')", ["{}"]),
        ("States.Array('back\\\\slash')", ["back\\slash"]),
        ("States.Array('\\\\\\'')", ["\\'"]),
        ("States.Array('{}')", ["{}"]),
        ("States.Array('{\"a\": 1}')", ['{"a": 1}']),
        ("States.Array('line\nbreak')", ["line\nbreak"]),
        ("States.Array('tab\there')", ["tab\there"]),
        ("States.Array('üñí©ødé ✓')", ["üñí©ødé ✓"]),
        ("States.Array(1,2,3)", [1, 2, 3]),
        ("States.Array( 1 ,\t2 ,\n3 )", [1, 2, 3]),
        ("States.Array(1, 'a', true, null, -2.5)", [1, "a", True, None, -2.5]),
        ("States.Array(1) ", [1]),
        ("States.Array(States.Array(), States.Array(1))", [[], [1]]),
    ],
)
def test_literal_arguments(text: str, expected: Any) -> None:
    result = run(text)
    assert result == expected
    assert [type(v) for v in result] == [type(v) for v in expected]


# --------------------------------------------------------------------------- paths

DATA = {
    "a": 1,
    "s": "text",
    "list": [10, 20, 30],
    "obj": {"x": {"y": "deep"}, "k-ey": 5, "a,b": 6},
    "items": [{"n": "a", "v": 1}, {"n": "b", "v": 2}, {"n": "a", "v": 3}],
    "null": None,
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("States.Array($)", [DATA]),
        ("States.Array($.a)", [1]),
        ("States.Array($.obj.x.y)", ["deep"]),
        ("States.Array($.list[1])", [20]),
        ("States.Array($.list[-1])", [30]),
        ("States.Array($.null)", [None]),
        ("States.Array($.obj['k-ey'])", [5]),
        ("States.Array($.obj['a,b'])", [6]),
        ("States.Array($.obj['a,b'], $.a)", [6, 1]),
        ("States.Array($.items[*].v)", [[1, 2, 3]]),
        ("States.Array($.items[?(@.n == 'a')].v)", [[1, 3]]),
        ("States.Array($.items[?(@.n == 'zz')].v)", [[]]),
        ("States.Array($..y)", [["deep"]]),
        ("States.Array($$.Execution.Id)", ["arn:aws:states:us-east-1:1:execution:sm:run-1"]),
        ("States.Array($$.Map.Item.Index)", [2]),
        ("States.Array($$.Execution.Input.k)", [1]),
        ("States.Array($myVar)", [{"field": "v", "list": [1, 2, 3]}]),
        ("States.Array($myVar.field)", ["v"]),
        ("States.Array($myVar.list[0])", [1]),
        ("States.Array($count)", [7]),
        ("States.Array( $.a , $count )", [1, 7]),
        ("States.Array(\n$.a\n)", [1]),
    ],
)
def test_path_arguments(text: str, expected: Any) -> None:
    assert run(text, DATA) == expected


@pytest.mark.parametrize(
    ("text", "paths"),
    [
        ("States.UUID()", []),
        ("States.Array(1, 'x', null)", []),
        ("States.Array($.a)", ["$.a"]),
        ("States.Format('{} {}', $.a, $$.Execution.Id)", ["$.a", "$$.Execution.Id"]),
        ("States.Array($myVar.field, $other)", ["$myVar.field", "$other"]),
        (
            "States.MathAdd(States.ArrayLength(States.StringSplit($.s, $sep)), States.MathAdd($$.x, 1))",
            ["$.s", "$sep", "$$.x"],
        ),
        ("States.Array($.a, $.a)", ["$.a", "$.a"]),
        ("States.Array($.items[?(@.n == 'a')].v)", ["$.items[?(@.n == 'a')].v"]),
    ],
)
def test_paths_lists_every_reference(text: str, paths: list[str]) -> None:
    found = compile_intrinsic(text).paths()
    assert [p.text for p in found] == paths
    assert all(isinstance(p, CompiledPath) for p in found)


def test_paths_reports_roots_and_variables() -> None:
    found = compile_intrinsic("States.Array($.a, $$.b, $v.c)").paths()
    assert [(p.root, p.variable) for p in found] == [("input", None), ("context", None), ("variable", "v")]


def test_paths_returns_a_fresh_list() -> None:
    intrinsic = compile_intrinsic("States.Array($.a)")
    intrinsic.paths().clear()
    assert len(intrinsic.paths()) == 1


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("States.Array($.nope)", "$.nope"),
        ("States.Array($.a.b)", "$.a.b"),
        ("States.Array($.list[9])", "$.list[9]"),
        ("States.Array($$.Nope)", "$$.Nope"),
        ("States.Array($undefinedVar)", "$undefinedVar"),
        ("States.Array($myVar.nope)", "$myVar.nope"),
        ("States.Format('{}', States.ArrayLength($.missing))", "$.missing"),
    ],
)
def test_missing_path_is_an_intrinsic_failure(text: str, missing: str) -> None:
    cause = failure(text, DATA)
    assert f"JSONPath '{missing}'" in cause
    assert "could not be found" in cause


def test_missing_path_names_function_and_argument() -> None:
    cause = failure("States.MathAdd(1, $.nope)", DATA)
    assert cause.startswith("Invalid arguments in States.MathAdd")
    assert "(argument 2)" in cause


def test_resolver_is_used_for_every_path() -> None:
    seen: list[str] = []

    def resolve(path: CompiledPath) -> Any:
        seen.append(path.text)
        return len(seen)

    result = compile_intrinsic("States.Array($.x, $$.y, $z)").evaluate(resolve)
    assert result == [1, 2, 3]
    assert seen == ["$.x", "$$.y", "$z"]


def test_compile_is_cached_and_evaluation_repeatable() -> None:
    text = "States.Format('n={}', States.MathAdd($.a, 1))"
    first = compile_intrinsic(text)
    assert compile_intrinsic(text) is first
    assert isinstance(first, Intrinsic)
    assert first.name == "States.Format"
    assert [run(text, {"a": i}) for i in range(3)] == ["n=1", "n=2", "n=3"]
    assert repr(first) == f"Intrinsic({text!r})"


# --------------------------------------------------------------------------- States.Format

FORMAT_DATA = {
    "name": "Arnav",
    "template": "Hello, my name is {}.",
    "obj": {"Arg1": 1, "Arg2": []},
    "list": [1, "a", None, True, {"k": "v"}],
    "nested": {"a": {"b": [1, {"c": None}]}},
    "json_text": '{"Arg1": 1, "Arg2": []}',
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("States.Format('Hello, my name is {}.', $.name)", "Hello, my name is Arnav."),  # AWS guide
        ("States.Format($.template, $.name)", "Hello, my name is Arnav."),  # AWS guide
        ("States.Format('no placeholders')", "no placeholders"),
        ("States.Format('')", ""),
        ("States.Format('{}', '')", ""),
        ("States.Format('{}{}{}', 1, 2, 3)", "123"),
        ("States.Format('{} and {}', 'a', 'b')", "a and b"),
        ("States.Format('Formatting argument {}.', null)", "Formatting argument null."),  # AWS
        ("States.Format('Formatting argument {}.', 1)", "Formatting argument 1."),  # AWS
        ("States.Format('Formatting argument {}.', 1.1)", "Formatting argument 1.1."),  # AWS
        ("States.Format('{}', -3)", "-3"),
        ("States.Format('{}', true)", "true"),
        ("States.Format('{}', false)", "false"),
        (
            "States.Format('fst={} snd={}', $.obj, $.obj)",
            "fst={Arg1=1, Arg2=[]} snd={Arg1=1, Arg2=[]}",
        ),  # AWS
        ("States.Format('{}', $.json_text)", '{"Arg1": 1, "Arg2": []}'),  # AWS: strings stay raw
        ("States.Format('{}', $.list)", "[1, a, null, true, {k=v}]"),
        ("States.Format('{}', $.nested)", "{a={b=[1, {c=null}]}}"),
        ("States.Format('{}', States.Array())", "[]"),
        (
            "States.Format('{}', $$.StateMachine)",
            "{Id=arn:aws:states:us-east-1:1:stateMachine:my-state-machine, Name=my-state-machine}",
        ),
        ("States.Format('Welcome to {} {}\\'s playlist.', 'Jane', 'Doe')", "Welcome to Jane Doe's playlist."),
        ("States.Format('\\{}')", "{}"),
        ("States.Format('{\\}')", "{}"),
        ("States.Format('\\{\\}')", "{}"),
        ("States.Format('\\{{}\\}', 'x')", "{x}"),
        ("States.Format('\\\\{}', 'x')", "\\x"),
        ("States.Format('{ }')", "{ }"),
        ("States.Format('}{')", "}{"),
        ("States.Format('{{}}', 'x')", "{x}"),
        ("States.Format('{}.{}.{}', 'a', 'b', 'c')", "a.b.c"),
        ("States.Format('{}', '{}')", "{}"),
        ("States.Format('{}',$.name)", "Arnav"),
        ("States.Format('{} {}', $myVar.field, $count)", "v 7"),
        ("States.Format('{}', States.Format('[{}]', 'in'))", "[in]"),
    ],
)
def test_format(text: str, expected: str) -> None:
    assert run(text, FORMAT_DATA) == expected


@pytest.mark.parametrize(
    ("template", "args", "expected"),
    [
        ("{}-{}", "1, 2", "1-2"),
        ("plain", "", "plain"),
        ("{} {", "'x'", "x {"),
        ("a\\{}b", "'x'", "a\\xb"),  # a template from the input is taken as is: no escapes
    ],
)
def test_format_template_from_path(template: str, args: str, expected: str) -> None:
    text = f"States.Format($.t{', ' + args if args else ''})"
    assert run(text, {"t": template}) == expected


@pytest.mark.parametrize(
    ("text", "data", "cause"),
    [
        ("States.Format($.t, 1)", {"t": "{} {}"}, "the template has 2 placeholder(s) '{}' but 1 value(s)"),
        ("States.Format($.t)", {"t": "{}"}, "the template has 1 placeholder(s) '{}' but 0 value(s)"),
        ("States.Format($.t, 1)", {"t": "none"}, "the template has 0 placeholder(s) '{}' but 1 value(s)"),
        ("States.Format($.t)", {"t": 5}, "argument 1 (template) must be a string, got number 5"),
        ("States.Format($.t)", {"t": None}, "argument 1 (template) must be a string, got null"),
        ("States.Format($.t)", {"t": ["{}"]}, "must be a string, got array of 1 item(s)"),
        ("States.Format($.t)", {"t": {}}, "must be a string, got object"),
        ("States.Format(States.Array())", {}, "must be a string, got array of 0 item(s)"),
    ],
)
def test_format_failures(text: str, data: Any, cause: str) -> None:
    got = failure(text, data)
    assert got.startswith("Invalid arguments in States.Format: ")
    assert cause in got


# --------------------------------------------------------------------------- JSON


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('{"foo": "bar"}', {"foo": "bar"}),  # AWS guide
        ("[1, 2, 3]", [1, 2, 3]),
        ("1", 1),
        ("-1.5", -1.5),
        ("true", True),
        ("null", None),
        ('"text"', "text"),
        ("  {}  ", {}),
        ('{"a": {"b": [null, false]}}', {"a": {"b": [None, False]}}),
        ('"\\u00e9"', "é"),
    ],
)
def test_string_to_json(value: str, expected: Any) -> None:
    assert run("States.StringToJson($.s)", {"s": value}) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('States.StringToJson(\'{"constant": "false"}\')', {"constant": "false"}),  # AWS: raw braces
        ("States.StringToJson('[]')", []),
        ("States.StringToJson(States.JsonToString($.o))", {"k": [1, "x"]}),
    ],
)
def test_string_to_json_literal_and_nested(text: str, expected: Any) -> None:
    assert run(text, {"o": {"k": [1, "x"]}}) == expected


@pytest.mark.parametrize(
    ("value", "cause"),
    [
        ("", "argument 1 is not a valid JSON text"),
        ("   ", "argument 1 is not a valid JSON text"),
        ("{", "argument 1 is not a valid JSON text"),
        ("{'a': 1}", "argument 1 is not a valid JSON text"),
        ("[1,]", "argument 1 is not a valid JSON text"),
        ("NaN", "argument 1 is not a valid JSON text"),
        ("Infinity", "argument 1 is not a valid JSON text"),
        ("1 2", "argument 1 is not a valid JSON text"),
        (5, "argument 1 (jsonString) must be a string, got number 5"),
        (None, "argument 1 (jsonString) must be a string, got null"),
        ({"a": 1}, "must be a string, got object"),
        (True, "must be a string, got boolean true"),
    ],
)
def test_string_to_json_failures(value: Any, cause: str) -> None:
    got = failure("States.StringToJson($.s)", {"s": value})
    assert got.startswith("Invalid arguments in States.StringToJson: ")
    assert cause in got


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"foo": "bar"}, '{"foo":"bar"}'),
        ({"a": [1, 2, {"b": None}]}, '{"a":[1,2,{"b":null}]}'),
        ([], "[]"),
        ({}, "{}"),
        ("text", '"text"'),
        ('quote"d', '"quote\\"d"'),
        (1, "1"),
        (1.5, "1.5"),
        (None, "null"),
        (False, "false"),
        ({"ü": "✓"}, '{"ü":"✓"}'),
    ],
)
def test_json_to_string(value: Any, expected: str) -> None:
    assert run("States.JsonToString($.v)", {"v": value}) == expected


def test_json_to_string_round_trips() -> None:
    value = {"x": [1, 2.5, "s", None, True, {"y": {}}]}
    assert run("States.StringToJson(States.JsonToString($))", value) == value


# --------------------------------------------------------------------------- arrays


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("States.Array($.Id)", [123456]),  # AWS guide
        ("States.Array($.Id, $.Id)", [123456, 123456]),
        ("States.Array('a', 1, $.Id)", ["a", 1, 123456]),
        ("States.Array($.obj)", [{"k": 1}]),
    ],
)
def test_array(text: str, expected: Any) -> None:
    assert run(text, {"Id": 123456, "obj": {"k": 1}}) == expected


@pytest.mark.parametrize("size", range(1, 6))
@pytest.mark.parametrize("length", range(5))
def test_array_partition_matrix(length: int, size: int) -> None:
    array = list(range(length))
    result = run("States.ArrayPartition($.a, $.n)", {"a": array, "n": size})
    assert [item for chunk in result for item in chunk] == array
    assert all(len(chunk) == size for chunk in result[:-1])
    assert all(0 < len(chunk) <= size for chunk in result)
    assert len(result) == -(-length // size)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("States.ArrayPartition($.inputArray, 4)", [[1, 2, 3, 4], [5, 6, 7, 8], [9]]),  # AWS guide
        ("States.ArrayPartition($.inputArray, 9)", [[1, 2, 3, 4, 5, 6, 7, 8, 9]]),
        ("States.ArrayPartition($.inputArray, 100)", [[1, 2, 3, 4, 5, 6, 7, 8, 9]]),
        ("States.ArrayPartition($.inputArray, 3.0)", [[1, 2, 3], [4, 5, 6], [7, 8, 9]]),
        ("States.ArrayPartition(States.Array('a', 'b', 'c'), 2)", [["a", "b"], ["c"]]),
        ("States.ArrayPartition(States.Array(), 2)", []),
    ],
)
def test_array_partition(text: str, expected: Any) -> None:
    assert run(text, {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9]}) == expected


@pytest.mark.parametrize(
    ("args", "cause"),
    [
        ("$.a, 0", "argument 2 (chunkSize) must be a positive integer, got number 0"),
        ("$.a, -1", "argument 2 (chunkSize) must be a positive integer, got number -1"),
        ("$.a, 1.5", "argument 2 (chunkSize) must be an integer, got number 1.5"),
        ("$.a, '2'", 'argument 2 (chunkSize) must be an integer, got string "2"'),
        ("$.a, true", "argument 2 (chunkSize) must be an integer, got boolean true"),
        ("$.a, null", "argument 2 (chunkSize) must be an integer, got null"),
        ("'abc', 2", 'argument 1 (array) must be an array, got string "abc"'),
        ("$.o, 2", "argument 1 (array) must be an array, got object"),
        ("null, 2", "argument 1 (array) must be an array, got null"),
    ],
)
def test_array_partition_failures(args: str, cause: str) -> None:
    got = failure(f"States.ArrayPartition({args})", {"a": [1, 2], "o": {}})
    assert got == f"Invalid arguments in States.ArrayPartition: {cause}"


@pytest.mark.parametrize(
    ("array", "value", "expected"),
    [
        ([1, 2, 3, 4, 5, 6, 7, 8, 9], 5, True),  # AWS guide
        ([1, 2, 3], 4, False),
        ([], None, False),
        ([], [], False),
        ([], 1, False),
        ([[1, 2, 3], 2], None, False),
        ([[1, 2, 3], 2], [1, 2, 3], True),
        ([[1, 2, 3], 2], [3, 2, 1], False),
        ([{"1": 2, "2": []}], [], False),
        ([{"1": 2, "2": []}], {"2": [], "1": 2}, True),
        ([{"a": {"b": [1]}}], {"a": {"b": [1]}}, True),
        ([{"a": {"b": [1]}}], {"a": {"b": [2]}}, False),
        ([True, False], True, True),
        ([True, False], False, True),
        ([1, 0], True, False),
        ([1, 0], False, False),
        ([True], 1, False),
        ([None], None, True),
        ([None], False, False),
        (["1"], 1, False),
        ([1], "1", False),
        ([1.0], 1, True),
        (["a", "b"], "b", True),
    ],
)
def test_array_contains(array: list[Any], value: Any, expected: bool) -> None:
    assert run("States.ArrayContains($.a, $.v)", {"a": array, "v": value}) is expected


@pytest.mark.parametrize("value", ["'x'", "1", "null", "$.o", "true"])
def test_array_contains_needs_an_array(value: str) -> None:
    got = failure(f"States.ArrayContains({value}, 1)", {"o": {"a": 1}})
    assert got.startswith(
        "Invalid arguments in States.ArrayContains: argument 1 (array) must be an array, got"
    )


@pytest.mark.parametrize(
    ("start", "end", "step", "expected"),
    [
        (1, 9, 2, [1, 3, 5, 7, 9]),  # AWS guide
        (0, 9, 3, [0, 3, 6, 9]),  # AWS
        (0, 10, 3, [0, 3, 6, 9]),  # AWS
        (1, 9, 9, [1]),  # AWS
        (1, 1, 1, [1]),
        (1, 1, -1, [1]),
        (5, 1, -1, [5, 4, 3, 2, 1]),
        (10, 0, -3, [10, 7, 4, 1]),
        (-3, 3, 2, [-3, -1, 1, 3]),
        (-1, -5, -2, [-1, -3, -5]),
        (5, 1, 1, []),
        (1, 5, -1, []),
        (0, 999, 1, list(range(1000))),
        (1, 1000, 1, list(range(1, 1001))),
        (0, 9990, 10, list(range(0, 9991, 10))),
        (999, 0, -1, list(range(999, -1, -1))),
        (1.0, 3.0, 1.0, [1, 2, 3]),
    ],
)
def test_array_range(start: Any, end: Any, step: Any, expected: list[int]) -> None:
    result = run("States.ArrayRange($.s, $.e, $.t)", {"s": start, "e": end, "t": step})
    assert result == expected
    assert all(type(item) is int for item in result)


@pytest.mark.parametrize(
    ("args", "cause"),
    [
        ("0, 1000, 1", "the range would have 1001 items; the limit is 1000"),
        ("1, 1001, 1", "the range would have 1001 items; the limit is 1000"),
        ("1000, 0, -1", "the range would have 1001 items; the limit is 1000"),
        ("0, 100000000, 1", "the range would have 100000001 items; the limit is 1000"),
        ("1, 9, 0", "argument 3 (step) must be a non-zero integer, got number 0"),
        ("1.5, 9, 1", "argument 1 (start) must be an integer, got number 1.5"),
        ("1, 9.5, 1", "argument 2 (end) must be an integer, got number 9.5"),
        ("1, 9, 0.5", "argument 3 (step) must be an integer, got number 0.5"),
        ("'1', 9, 1", 'argument 1 (start) must be an integer, got string "1"'),
        ("1, null, 1", "argument 2 (end) must be an integer, got null"),
        ("1, 9, true", "argument 3 (step) must be an integer, got boolean true"),
        ("States.Array(), 9, 1", "argument 1 (start) must be an integer, got array of 0 item(s)"),
    ],
)
def test_array_range_failures(args: str, cause: str) -> None:
    assert failure(f"States.ArrayRange({args})") == f"Invalid arguments in States.ArrayRange: {cause}"


@pytest.mark.parametrize(
    ("array", "index", "expected"),
    [
        ([1, 2, 3, 4, 5, 6, 7, 8, 9], 5, 6),  # AWS guide
        ([1, 2, 3], 0, 1),
        ([1, 2, 3], 2, 3),
        ([1, 2, 3], 1.0, 2),
        ([None], 0, None),
        ([{"a": [1]}], 0, {"a": [1]}),
        ([[1, 2]], 0, [1, 2]),
    ],
)
def test_array_get_item(array: list[Any], index: Any, expected: Any) -> None:
    assert run("States.ArrayGetItem($.a, $.i)", {"a": array, "i": index}) == expected


@pytest.mark.parametrize(
    ("array", "index", "cause"),
    [
        ([1, 2, 3], 3, "index 3 (argument 2) is out of bounds for an array of length 3"),
        ([1, 2, 3], 99, "index 99 (argument 2) is out of bounds for an array of length 3"),
        ([1, 2, 3], -1, "index -1 (argument 2) is out of bounds for an array of length 3"),
        ([], 0, "index 0 (argument 2) is out of bounds for an array of length 0"),
        ([1, 2, 3], 1.5, "argument 2 (index) must be an integer, got number 1.5"),
        ([1, 2, 3], "1", 'argument 2 (index) must be an integer, got string "1"'),
        ([1, 2, 3], None, "argument 2 (index) must be an integer, got null"),
        ([1, 2, 3], True, "argument 2 (index) must be an integer, got boolean true"),
        ("abc", 0, 'argument 1 (array) must be an array, got string "abc"'),
        ({"0": 1}, 0, "argument 1 (array) must be an array, got object"),
    ],
)
def test_array_get_item_failures(array: Any, index: Any, cause: str) -> None:
    got = failure("States.ArrayGetItem($.a, $.i)", {"a": array, "i": index})
    assert got == f"Invalid arguments in States.ArrayGetItem: {cause}"


@pytest.mark.parametrize(
    ("array", "expected"),
    [([1, 2, 3, 4, 5, 6, 7, 8, 9], 9), ([], 0), ([None], 1), ([[1, 2], [3]], 2), (list(range(5000)), 5000)],
)
def test_array_length(array: list[Any], expected: int) -> None:
    assert run("States.ArrayLength($.a)", {"a": array}) == expected


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        ([1, 2, 3, 3, 3, 3, 3, 3, 4], [1, 2, 3, 4]),  # AWS guide
        ([], []),
        ([3, 1, 3, 2, 1], [3, 1, 2]),
        (["b", "a", "b"], ["b", "a"]),
        ([None, None, True, True, False, False, 1, 1, 1.1, 0, "x", "x"], [None, True, False, 1, 1.1, 0, "x"]),
        ([1, True, 0, False], [1, True, 0, False]),
        ([[], [], [None], [None]], [[], [None]]),
        ([{"a": 1, "b": 2}, {"b": 2, "a": 1}, {"a": 1, "b": 1}], [{"a": 1, "b": 2}, {"a": 1, "b": 1}]),
        ([[1, 2], [2, 1]], [[1, 2], [2, 1]]),
        (["1", 1], ["1", 1]),
        ([1, 1.0], [1]),
    ],
)
def test_array_unique(array: list[Any], expected: list[Any]) -> None:
    result = run("States.ArrayUnique($.a)", {"a": array})
    assert result == expected
    assert [type(v) for v in result] == [type(v) for v in expected]


@pytest.mark.parametrize("function", ["ArrayLength", "ArrayUnique"])
@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("'abc'", 'string "abc"'),
        ("1", "number 1"),
        ("null", "null"),
        ("$.o", "object"),
        ("false", "boolean false"),
    ],
)
def test_single_array_argument_failures(function: str, value: str, shown: str) -> None:
    got = failure(f"States.{function}({value})", {"o": {}})
    assert got == f"Invalid arguments in States.{function}: argument 1 (array) must be an array, got {shown}"


# --------------------------------------------------------------------------- encoding


@pytest.mark.parametrize(
    ("plain", "encoded"),
    [
        ("Data to encode", "RGF0YSB0byBlbmNvZGU="),  # AWS guide
        ("", ""),
        ("a", "YQ=="),
        ("ab", "YWI="),
        ("abc", "YWJj"),
        ("é✓", "w6ninJM="),
        ("line\nbreak", "bGluZQpicmVhaw=="),
        ("x" * 7_500, base64.b64encode(b"x" * 7_500).decode()),  # 10000 base64 characters
    ],
)
def test_base64_round_trip(plain: str, encoded: str) -> None:
    assert run("States.Base64Encode($.v)", {"v": plain}) == encoded
    assert run("States.Base64Decode($.v)", {"v": encoded}) == plain


@pytest.mark.parametrize(
    ("encoded", "plain"),
    [
        ("RGF0YSB0byBlbmNvZGU", "Data to encode"),  # padding is optional, as in Java's decoder
        ("YQ", "a"),
        ("YWI", "ab"),
        ("/w==", "\ufffd"),  # bytes that are not UTF-8 decode to U+FFFD, as Java's String does
    ],
)
def test_base64_decode_lenient_cases(encoded: str, plain: str) -> None:
    assert run("States.Base64Decode($.v)", {"v": encoded}) == plain


@pytest.mark.parametrize(
    ("function", "value", "cause"),
    [
        ("Base64Encode", "x" * 10_001, "argument 1 (string) has 10001 characters; the limit is 10000"),
        ("Base64Decode", "A" * 10_004, "argument 1 (base64) has 10004 characters; the limit is 10000"),
        ("Base64Encode", 1, "argument 1 (string) must be a string, got number 1"),
        ("Base64Encode", None, "argument 1 (string) must be a string, got null"),
        ("Base64Encode", {"a": 1}, "argument 1 (string) must be a string, got object"),
        ("Base64Decode", ["YQ=="], "argument 1 (base64) must be a string, got array of 1 item(s)"),
        ("Base64Decode", "not base64!", "argument 1 is not valid base64-encoded data"),
        ("Base64Decode", "YQ==YQ==", "argument 1 is not valid base64-encoded data"),
        ("Base64Decode", "Y", "argument 1 is not valid base64-encoded data"),
        ("Base64Decode", "YQ= =", "argument 1 is not valid base64-encoded data"),
        ("Base64Decode", "éé==", "argument 1 is not valid base64-encoded data"),
    ],
)
def test_base64_failures(function: str, value: Any, cause: str) -> None:
    assert (
        failure(f"States.{function}($.v)", {"v": value}) == f"Invalid arguments in States.{function}: {cause}"
    )


def test_base64_encode_accepts_exactly_the_limit() -> None:
    assert run("States.Base64Encode($.v)", {"v": "x" * 10_000}) == base64.b64encode(b"x" * 10_000).decode()


def test_base64_decode_accepts_exactly_the_limit() -> None:
    assert run("States.Base64Decode($.v)", {"v": "QUJD" * 2500}) == "ABC" * 2500


# --------------------------------------------------------------------------- hash

ABC_DIGESTS = {
    "MD5": "900150983cd24fb0d6963f7d28e17f72",
    "SHA-1": "a9993e364706816aba3e25717850c26c9cd0d89d",
    "SHA-256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    "SHA-384": "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded163"
    "1a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
    "SHA-512": "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
}
EMPTY_DIGESTS = {
    "MD5": "d41d8cd98f00b204e9800998ecf8427e",
    "SHA-1": "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "SHA-256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
}


@pytest.mark.parametrize(("algorithm", "digest"), ABC_DIGESTS.items())
def test_hash_known_vectors(algorithm: str, digest: str) -> None:
    assert run(f"States.Hash('abc', '{algorithm}')") == digest
    assert run("States.Hash($.d, $.a)", {"d": "abc", "a": algorithm}) == digest


@pytest.mark.parametrize(("algorithm", "digest"), EMPTY_DIGESTS.items())
def test_hash_empty_string(algorithm: str, digest: str) -> None:
    assert run(f"States.Hash('', '{algorithm}')") == digest


def test_hash_utf8_and_limit() -> None:
    assert run("States.Hash($.d, 'MD5')", {"d": "é"}) == hashlib.md5("é".encode()).hexdigest()
    assert run("States.Hash($.d, 'MD5')", {"d": "é"}) != hashlib.md5("é".encode("latin-1")).hexdigest()
    assert len(run("States.Hash($.d, 'SHA-512')", {"d": "z" * 10_000})) == 128


@pytest.mark.parametrize(
    ("data", "algorithm", "cause"),
    [
        (
            "x",
            "SHA256",
            "argument 2 (algorithm) must be one of MD5, SHA-1, SHA-256, SHA-384, SHA-512, "
            'got string "SHA256"',
        ),
        ("x", "sha-256", 'got string "sha-256"'),
        ("x", "SHA-224", 'got string "SHA-224"'),
        ("x", "", 'got string ""'),
        ("x", None, "must be one of MD5, SHA-1, SHA-256, SHA-384, SHA-512, got null"),
        ("x", 256, "got number 256"),
        ("z" * 10_001, "MD5", "argument 1 (data) has 10001 characters; the limit is 10000"),
        (1, "MD5", "argument 1 (data) must be a string, got number 1"),
        ({"a": 1}, "MD5", "argument 1 (data) must be a string, got object"),
        (None, "MD5", "argument 1 (data) must be a string, got null"),
    ],
)
def test_hash_failures(data: Any, algorithm: Any, cause: str) -> None:
    got = failure("States.Hash($.d, $.a)", {"d": data, "a": algorithm})
    assert got.startswith("Invalid arguments in States.Hash: ")
    assert cause in got


# --------------------------------------------------------------------------- JsonMerge


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (  # AWS guide: shallow, the second object's keys win and nested objects are not merged
            {"a": {"a1": 1, "a2": 2}, "b": 2},
            {"a": {"a3": 1, "a4": 2}, "c": 3},
            {"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3},
        ),
        ({}, {}, {}),
        ({"a": 1}, {}, {"a": 1}),
        ({}, {"a": 1}, {"a": 1}),
        ({"a": 1}, {"a": None}, {"a": None}),
        ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
        ({"x": 1, "y": 2}, {"z": 3}, {"x": 1, "y": 2, "z": 3}),
    ],
)
def test_json_merge(first: dict[str, Any], second: dict[str, Any], expected: dict[str, Any]) -> None:
    data = {"j1": first, "j2": second}
    result = run("States.JsonMerge($.j1, $.j2, false)", data)
    assert result == expected
    assert data == {"j1": first, "j2": second}  # inputs untouched


def test_json_merge_with_nested_calls_and_context() -> None:
    text = 'States.JsonMerge(States.StringToJson(\'{"c": "false"}\'), $$.Execution.Input, false)'
    assert run(text) == {"c": "false", "k": 1}


@pytest.mark.parametrize(
    ("args", "cause"),
    [
        (
            "$.o, $.o, true",
            "Step Functions only supports the shallow merging mode; therefore, you must specify "
            "the boolean value as false",
        ),
        ("$.o, $.o, 'false'", 'argument 3 (deepMerge) must be the boolean false, got string "false"'),
        ("$.o, $.o, 0", "argument 3 (deepMerge) must be the boolean false, got number 0"),
        ("$.o, $.o, null", "argument 3 (deepMerge) must be the boolean false, got null"),
        ("$.a, $.o, false", "argument 1 (object1) must be a JSON object, got array of 0 item(s)"),
        ("$.o, 'x', false", 'argument 2 (object2) must be a JSON object, got string "x"'),
        ("null, $.o, false", "argument 1 (object1) must be a JSON object, got null"),
        ("$.o, 1, false", "argument 2 (object2) must be a JSON object, got number 1"),
    ],
)
def test_json_merge_failures(args: str, cause: str) -> None:
    got = failure(f"States.JsonMerge({args})", {"o": {"k": 1}, "a": []})
    assert got == f"Invalid arguments in States.JsonMerge: {cause}"


# --------------------------------------------------------------------------- math


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (111, -1, 110),  # AWS guide
        (-9, 3, -6),  # AWS
        (1.49, 1.50, 3),  # AWS
        (1.50, 1.51, 4),  # AWS
        (-1.49, -1.50, -2),  # AWS
        (0, 0, 0),
        (1.49, 0, 1),
        (1.5, 0, 2),
        (2.5, 0, 3),
        (0.5, 0, 1),
        (-0.5, 0, 0),
        (-1.5, 0, -1),
        (-2.5, 0, -2),
        (-1.51, 0, -2),
        (0.49999999999999994, 0, 0),
        (2147483647, 0, 2147483647),
        (-2147483648, 0, -2147483648),
        (2147483647, 2147483647, 4294967294),
        (1.0, 2.0, 3),
    ],
)
def test_math_add(a: Any, b: Any, expected: int) -> None:
    result = run("States.MathAdd($.a, $.b)", {"a": a, "b": b})
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("States.MathAdd(1, 2)", 3),
        ("States.MathAdd(-1, -2)", -3),
        ("States.MathAdd(States.MathAdd(1, 2), 3)", 6),
        ("States.MathAdd(States.ArrayLength(States.Array(1, 2)), -1)", 1),
        ("States.MathAdd($count, 1)", 8),
    ],
)
def test_math_add_literals(text: str, expected: int) -> None:
    assert run(text) == expected


@pytest.mark.parametrize(
    ("args", "cause"),
    [
        (
            "2147483648, 0",
            "argument 1 (value1) must be an integer between -2147483648 and 2147483647, "
            "got number 2147483648",
        ),
        ("0, -2147483649", "argument 2 (value2) must be an integer between -2147483648 and 2147483647"),
        ("2147483647.5, 0", "argument 1 (value1) must be an integer between"),
        ("'1', 2", 'argument 1 (value1) must be a number, got string "1"'),
        ("1, null", "argument 2 (value2) must be a number, got null"),
        ("true, 1", "argument 1 (value1) must be a number, got boolean true"),
        ("1, States.Array()", "argument 2 (value2) must be a number, got array of 0 item(s)"),
    ],
)
def test_math_add_failures(args: str, cause: str) -> None:
    got = failure(f"States.MathAdd({args})")
    assert got.startswith("Invalid arguments in States.MathAdd: ")
    assert cause in got


@pytest.mark.parametrize(
    ("start", "end", "low", "high"),
    [
        (1, 999, 1, 999),  # AWS guide
        (12.50, 44.51, 13, 45),  # AWS input; bounds rounded
        (9999, 99999, 9999, 99999),  # AWS input
        (-99999, -9999, -99999, -9999),  # AWS input
        (0, 0, 0, 0),
        (-1, 1, -1, 1),
        (5, 6, 5, 6),
    ],
)
def test_math_random_stays_in_range(start: Any, end: Any, low: int, high: int) -> None:
    results = {run("States.MathRandom($.s, $.e)", {"s": start, "e": end}) for _ in range(200)}
    assert all(type(r) is int and low <= r <= high for r in results)
    if high - low <= 2:
        assert results == set(range(low, high + 1))


@pytest.mark.parametrize("seed", [0, 3, 42, -7, 2**40, 1.4])
def test_math_random_seed_is_deterministic(seed: Any) -> None:
    data = {"s": 0, "e": 999, "seed": seed}
    results = {run("States.MathRandom($.s, $.e, $.seed)", data) for _ in range(5)}
    assert len(results) == 1
    assert 0 <= results.pop() <= 999


def test_math_random_different_seeds_differ() -> None:
    results = {run(f"States.MathRandom(0, 1000000, {seed})") for seed in range(20)}
    assert len(results) > 10


@pytest.mark.parametrize(
    ("args", "cause"),
    [
        ("10, 1", "start (10) must not be greater than end (1)"),
        ("'1', 10", 'argument 1 (start) must be a number, got string "1"'),
        ("1, null", "argument 2 (end) must be a number, got null"),
        ("1, 10, 'seed'", 'argument 3 (seed) must be a number, got string "seed"'),
        ("1, 10, true", "argument 3 (seed) must be a number, got boolean true"),
        ("$.o, 10", "argument 1 (start) must be a number, got object"),
    ],
)
def test_math_random_failures(args: str, cause: str) -> None:
    assert (
        failure(f"States.MathRandom({args})", {"o": {}}) == f"Invalid arguments in States.MathRandom: {cause}"
    )


# --------------------------------------------------------------------------- strings


@pytest.mark.parametrize(
    ("text", "delimiters", "expected"),
    [
        ("1,2,3,4,5", ",", ["1", "2", "3", "4", "5"]),  # AWS guide
        ("This.is+a,test=string", ".+,=", ["This", "is", "a", "test", "string"]),  # AWS guide
        (" ", ",", [" "]),  # AWS
        (" , ", ",", [" ", " "]),  # AWS
        (", , ,", ",", [" ", " "]),  # AWS: empty parts dropped
        (",,,,", ",", []),  # AWS
        ("split on T and \nnew line", "T\n", ["split on ", " and ", "new line"]),  # AWS
        ("", ",", []),
        ("abc", ",", ["abc"]),
        ("abc", "", ["abc"]),
        ("", "", []),
        ("a--b", "--", ["a", "b"]),
        ("a-+b", "+-", ["a", "b"]),
        ("a.b|c", ".|", ["a", "b", "c"]),
        ("a\\b", "\\", ["a", "b"]),
        ("x[1]y", "[]", ["x", "1", "y"]),
        ("a b\tc", " \t", ["a", "b", "c"]),
        ("é✓é", "✓", ["é", "é"]),
        (
            "arn:aws:states:r:1:stateMachine:name",
            ":",
            ["arn", "aws", "states", "r", "1", "stateMachine", "name"],
        ),
    ],
)
def test_string_split(text: str, delimiters: str, expected: list[str]) -> None:
    assert run("States.StringSplit($.s, $.d)", {"s": text, "d": delimiters}) == expected


def test_string_split_literal_newline() -> None:  # AWS: "States.StringSplit('Hello\nWorld', '\n')"
    assert run("States.StringSplit('Hello\nWorld', '\n')") == ["Hello", "World"]


@pytest.mark.parametrize(
    ("args", "cause"),
    [
        ("1, ','", "argument 1 (string) must be a string, got number 1"),
        ("null, ','", "argument 1 (string) must be a string, got null"),
        ("'a,b', 1", "argument 2 (delimiters) must be a string, got number 1"),
        ("'a,b', States.Array(',')", "argument 2 (delimiters) must be a string, got array of 1 item(s)"),
        ("$.o, ','", "argument 1 (string) must be a string, got object"),
    ],
)
def test_string_split_failures(args: str, cause: str) -> None:
    assert (
        failure(f"States.StringSplit({args})", {"o": {}})
        == f"Invalid arguments in States.StringSplit: {cause}"
    )


# --------------------------------------------------------------------------- UUID

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_uuid_is_a_fresh_version_4() -> None:
    values = [run("States.UUID()") for _ in range(50)]
    assert all(UUID4.match(v) for v in values)
    assert all(uuid.UUID(v).version == 4 for v in values)
    assert len(set(values)) == 50


def test_uuid_nested() -> None:
    assert UUID4.match(run("States.Format('id-{}', States.UUID())")[3:])


# --------------------------------------------------------------------------- nesting


@pytest.mark.parametrize(
    ("text", "data", "expected"),
    [
        (  # AWS guide's nine nested functions (its template has one '{}' too many; see below)
            "States.Format('{}.{}', "
            "States.ArrayGetItem(States.StringSplit(States.ArrayGetItem("
            "States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), "
            "States.ArrayGetItem(States.StringSplit(States.ArrayGetItem("
            "States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 1))",
            {"ImageRecipe": {"Arn": "arn:aws:imagebuilder:us-east-1:1:image-recipe/my-recipe/1.0.0"}},
            "1.0",
        ),
        (  # AWS: the last part of the state machine name
            "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), "
            "States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))",
            None,
            "machine",
        ),
        ("States.ArrayLength(States.ArrayUnique(States.ArrayRange(1, 9, 2)))", None, 5),
        (
            "States.ArrayContains(States.ArrayPartition(States.Array(1, 2, 3), 2), States.Array(3))",
            None,
            True,
        ),
        ("States.Base64Decode(States.Base64Encode(States.JsonToString($)))", {"a": 1}, '{"a":1}'),
        ("States.Hash(States.Format('{}', 'abc'), 'MD5')", None, ABC_DIGESTS["MD5"]),
        ("States.StringToJson(States.Format('[{}]', States.MathAdd(1, 1)))", None, [2]),
    ],
)
def test_nested_calls(text: str, data: Any, expected: Any) -> None:
    assert run(text, data) == expected


def test_aws_guide_example_with_three_placeholders_and_two_values_is_rejected() -> None:
    text = (
        "States.Format('{}.{}.{}', States.ArrayGetItem(States.StringSplit($.Arn, '.'), 0), "
        "States.ArrayGetItem(States.StringSplit($.Arn, '.'), 1))"
    )
    assert "the template has 3 placeholder(s) but 2 value(s) follow" in str(syntax_error(text))


def test_failure_inside_nested_call_names_the_inner_function() -> None:
    cause = failure("States.Format('{}', States.ArrayGetItem(States.Array(1), 5))")
    assert cause.startswith("Invalid arguments in States.ArrayGetItem: ")


def test_evaluation_does_not_mutate_inputs() -> None:
    data = {"a": [3, 1, 3], "o": {"k": 1}}
    snapshot = {"a": [3, 1, 3], "o": {"k": 1}}
    for text in (
        "States.ArrayUnique($.a)",
        "States.ArrayPartition($.a, 1)",
        "States.JsonMerge($.o, $.o, false)",
        "States.Array($.a)",
    ):
        run(text, data)
    assert data == snapshot
