"""Choice Rules (JSONPath): every operator, both forms, type mismatches, paths, checks.

Expectations come from the ASL specification ("Choice Rules", "Timestamps") and the AWS
Step Functions documentation ("Choice workflow state"): a value of the wrong type compares
false, booleans are not numbers, string order is Java's String.compareTo, timestamps are
RFC 3339 with uppercase T/Z compared as instants, StringMatches treats only ``*`` as special
(``\\*`` and ``\\\\`` escape), and a path that selects nothing raises States.Runtime except
under IsPresent.
"""

from __future__ import annotations

from typing import Any

import pytest

from runtime.asl.choice import (
    ChoiceRule,
    check_choice_rule,
    compile_choice_rule,
    is_timestamp,
    timestamp_key,
)
from runtime.asl.errors import DefinitionError, StatesError, StatesNames

P = "/States/Check/Choices/0"
T0 = "2016-03-14T01:59:00Z"
EMOJI = "\U0001f600"  # a supplementary character: two UTF-16 code units, D83D DE00


def evaluate(rule: dict[str, Any], data: Any, context: Any = None, variables: Any = None) -> bool:
    return compile_choice_rule(rule).matches(data, context, variables or {})


def cause(path: str) -> str:
    return f"Invalid path '{path}': The choice state's condition path references an invalid value."


# ---------------------------------------------------------------------------------------------
# Literal operands: (operator, operand, selected value, expected)
# ---------------------------------------------------------------------------------------------

STRING_CASES: list[tuple[str, Any, Any, bool]] = [
    ("StringEquals", "abc", "abc", True),
    ("StringEquals", "abc", "abd", False),
    ("StringEquals", "abc", "ABC", False),
    ("StringEquals", "abc", "abc ", False),
    ("StringEquals", "", "", True),
    ("StringEquals", "     ", " ", False),
    ("StringEquals", "\t\r\n", "\t\n", False),
    ("StringEquals", "é", "é", True),
    ("StringEquals", "é", "e\u0301", False),  # no Unicode normalisation
    ("StringEquals", EMOJI, EMOJI, True),
    ("StringEquals", T0, T0, True),  # timestamps are strings too
    ("StringEquals", "1", 1, False),
    ("StringEquals", "1.5", 1.5, False),
    ("StringEquals", "true", True, False),
    ("StringEquals", "false", False, False),
    ("StringEquals", "null", None, False),
    ("StringEquals", "abc", ["abc"], False),
    ("StringEquals", "abc", {"abc": "abc"}, False),
    ("StringEquals", "", [], False),
    ("StringEquals", "", {}, False),
    ("StringLessThan", "b", "a", True),
    ("StringLessThan", "b", "b", False),
    ("StringLessThan", "b", "c", False),
    ("StringLessThan", "AB", "A", True),
    ("StringLessThan", "A", "AB", False),
    ("StringLessThan", "a", "", True),
    ("StringLessThan", "", "", False),
    ("StringLessThan", "a", "Z", True),  # uppercase sorts first
    ("StringLessThan", "9", "10", True),  # lexicographic, not numeric
    ("StringLessThan", "z", "é", False),
    ("StringLessThan", "abd", "abc", True),
    ("StringLessThan", "日本語", "日本", True),
    # Java compareTo orders UTF-16 code units: a supplementary character (D83D..) sorts
    # before U+E000..U+FFFF, unlike code-point order.
    ("StringLessThan", "\uffff", EMOJI, True),
    ("StringLessThan", EMOJI, "\uffff", False),
    ("StringLessThan", "\ue000", "\U00010000", True),
    ("StringLessThan", "\U00010000", "\ue000", False),
    ("StringLessThan", "\U00010000", "\ud7ff", True),  # D7FF < D800 in both orders
    ("StringLessThan", "\U0001f601", EMOJI, True),
    ("StringLessThan", EMOJI + "y", EMOJI + "x", True),
    ("StringLessThan", "b", 1, False),
    ("StringLessThan", "b", None, False),
    ("StringLessThan", "b", True, False),
    ("StringLessThan", "b", ["a"], False),
    ("StringGreaterThan", "a", "b", True),
    ("StringGreaterThan", "a", "a", False),
    ("StringGreaterThan", "b", "a", False),
    ("StringGreaterThan", "", "", False),
    ("StringGreaterThan", "A", "A ", True),
    ("StringGreaterThan", "A", "A\t\n\r", True),
    ("StringGreaterThan", "AB", "ABC", True),
    ("StringGreaterThan", "ABC", "AB", False),
    ("StringGreaterThan", EMOJI, "\uffff", True),
    ("StringGreaterThan", "\uffff", EMOJI, False),
    ("StringGreaterThan", "4", 5, False),
    ("StringGreaterThan", "", {"a": 1}, False),
    ("StringGreaterThan", "", False, False),
    ("StringLessThanEquals", "b", "b", True),
    ("StringLessThanEquals", "b", "a", True),
    ("StringLessThanEquals", "b", "c", False),
    ("StringLessThanEquals", "", "", True),
    ("StringLessThanEquals", "AB", "A", True),
    ("StringLessThanEquals", "A", "AB", False),
    ("StringLessThanEquals", "\uffff", EMOJI, True),
    ("StringLessThanEquals", EMOJI, "\uffff", False),
    ("StringLessThanEquals", "b", [], False),
    ("StringLessThanEquals", "b", 0, False),
    ("StringGreaterThanEquals", "b", "b", True),
    ("StringGreaterThanEquals", "b", "c", True),
    ("StringGreaterThanEquals", "b", "a", False),
    ("StringGreaterThanEquals", "", "", True),
    ("StringGreaterThanEquals", "A", "AB", True),
    ("StringGreaterThanEquals", "AB", "A", False),
    ("StringGreaterThanEquals", EMOJI, "\uffff", True),
    ("StringGreaterThanEquals", "\uffff", EMOJI, False),
    ("StringGreaterThanEquals", "", None, False),
    ("StringGreaterThanEquals", "", 1.1, False),
]

NUMERIC_CASES: list[tuple[str, Any, Any, bool]] = [
    ("NumericEquals", 1, 1, True),
    ("NumericEquals", 1, 1.0, True),
    ("NumericEquals", 1.0, 1, True),
    ("NumericEquals", 1, 2, False),
    ("NumericEquals", 1, 1.0000001, False),
    ("NumericEquals", 0, 0.0, True),
    ("NumericEquals", 0, -0.0, True),
    ("NumericEquals", -0.0, 0, True),
    ("NumericEquals", -5, -5, True),
    ("NumericEquals", 1.5, 1.5, True),
    ("NumericEquals", 0.3, 0.30000000000000004, False),
    ("NumericEquals", 1e308, 1e308, True),
    ("NumericEquals", 5e-324, 5e-324, True),
    ("NumericEquals", 5e-324, 0, False),
    ("NumericEquals", 9007199254740991, 9007199254740991, True),
    ("NumericEquals", 10**20, 10**20, True),
    ("NumericEquals", 1, "1", False),
    ("NumericEquals", 1, True, False),  # a boolean is never a number
    ("NumericEquals", 0, False, False),
    ("NumericEquals", 1, None, False),
    ("NumericEquals", 1, [1], False),
    ("NumericEquals", 1, {"a": 1}, False),
    ("NumericLessThan", 10, 9, True),
    ("NumericLessThan", 10, 9.999, True),
    ("NumericLessThan", 10, 10, False),
    ("NumericLessThan", 10, 10.0, False),
    ("NumericLessThan", 10, 11, False),
    ("NumericLessThan", 10, -1e308, True),
    ("NumericLessThan", 0, -0.0, False),
    ("NumericLessThan", -1, -1.5, True),
    ("NumericLessThan", 1.5, 1.4999999999, True),
    ("NumericLessThan", 10, "9", False),
    ("NumericLessThan", 10, False, False),
    ("NumericLessThan", 10, True, False),
    ("NumericLessThan", 10, None, False),
    ("NumericLessThan", 10, [], False),
    ("NumericGreaterThan", 10, 11, True),
    ("NumericGreaterThan", 10, 10.0001, True),
    ("NumericGreaterThan", 10, 10, False),
    ("NumericGreaterThan", 10, 9, False),
    ("NumericGreaterThan", 0, 5e-324, True),
    ("NumericGreaterThan", -1e308, 1e308, True),
    ("NumericGreaterThan", 0, True, False),
    ("NumericGreaterThan", 0, "1", False),
    ("NumericGreaterThan", 0, {}, False),
    ("NumericLessThanEquals", 10, 10, True),
    ("NumericLessThanEquals", 10, 10.0, True),
    ("NumericLessThanEquals", 10, 9, True),
    ("NumericLessThanEquals", 10, 11, False),
    ("NumericLessThanEquals", 10, 10.000001, False),
    ("NumericLessThanEquals", 10, "10", False),
    ("NumericLessThanEquals", 1, True, False),
    ("NumericLessThanEquals", 0, None, False),
    ("NumericGreaterThanEquals", 10, 10, True),
    ("NumericGreaterThanEquals", 10, 11, True),
    ("NumericGreaterThanEquals", 10, 9.99, False),
    ("NumericGreaterThanEquals", -0.0, 0, True),
    ("NumericGreaterThanEquals", 0, -0.0, True),
    ("NumericGreaterThanEquals", 0, False, False),
    ("NumericGreaterThanEquals", 0, [], False),
    ("NumericGreaterThanEquals", 0, "", False),
]

BOOLEAN_CASES: list[tuple[str, Any, Any, bool]] = [
    ("BooleanEquals", True, True, True),
    ("BooleanEquals", True, False, False),
    ("BooleanEquals", True, 1, False),
    ("BooleanEquals", True, 1.0, False),
    ("BooleanEquals", True, "true", False),
    ("BooleanEquals", True, None, False),
    ("BooleanEquals", True, [True], False),
    ("BooleanEquals", False, False, True),
    ("BooleanEquals", False, True, False),
    ("BooleanEquals", False, 0, False),
    ("BooleanEquals", False, "", False),
    ("BooleanEquals", False, None, False),
    ("BooleanEquals", False, [], False),
    ("BooleanEquals", False, {}, False),
]

TIMESTAMP_CASES: list[tuple[str, Any, Any, bool]] = [
    ("TimestampEquals", T0, T0, True),
    ("TimestampEquals", T0, "2016-03-14T01:59:00.000Z", True),
    ("TimestampEquals", T0, "2016-03-14T02:59:00+01:00", True),
    ("TimestampEquals", T0, "2016-03-13T20:59:00-05:00", True),
    ("TimestampEquals", T0, "2016-03-14T01:59:00+00:00", True),
    ("TimestampEquals", T0, "2016-03-14T01:59:00-00:00", True),
    ("TimestampEquals", "2015-12-31T23:30:00Z", "2016-01-01T00:30:00+01:00", True),
    ("TimestampEquals", "2016-03-14T01:59:00.5Z", "2016-03-14T01:59:00.500000000Z", True),
    ("TimestampEquals", T0, "2016-03-14T01:59:01Z", False),
    ("TimestampEquals", T0, "2016-03-14T01:59:00.001Z", False),
    ("TimestampEquals", T0, "2016-03-14T01:59:00.000000001Z", False),
    ("TimestampEquals", T0, "2016-03-14T01:59:00+01:00", False),
    ("TimestampEquals", T0, "2016-03-14T01:59:00", False),  # no zone: not a timestamp
    ("TimestampEquals", T0, "2016-03-14t01:59:00z", False),
    ("TimestampEquals", T0, "2016-03-14 01:59:00Z", False),
    ("TimestampEquals", T0, "2016-03-14", False),
    ("TimestampEquals", T0, "not a date", False),
    ("TimestampEquals", T0, "", False),
    ("TimestampEquals", T0, 1457920740, False),
    ("TimestampEquals", T0, None, False),
    ("TimestampEquals", T0, True, False),
    ("TimestampEquals", T0, [T0], False),
    ("TimestampEquals", T0, {"t": T0}, False),
    ("TimestampLessThan", T0, "2016-03-14T01:58:59.999Z", True),
    ("TimestampLessThan", T0, "2016-03-14T01:58:59Z", True),
    ("TimestampLessThan", T0, "2015-12-31T23:59:59Z", True),
    ("TimestampLessThan", T0, "2016-03-14T02:58:00+01:00", True),
    ("TimestampLessThan", T0, T0, False),
    ("TimestampLessThan", T0, "2016-03-14T02:59:00+01:00", False),
    ("TimestampLessThan", T0, "2016-03-14T01:59:00.0000001Z", False),
    ("TimestampLessThan", T0, "2016-03-14T01:59:00-00:01", False),
    ("TimestampLessThan", T0, "2016-02-30T00:00:00Z", False),  # invalid date
    ("TimestampLessThan", T0, "1999-01-01T00:00:00", False),
    ("TimestampLessThan", T0, 0, False),
    ("TimestampGreaterThan", "2016-03-14T01:59:00.5Z", "2016-03-14T01:59:00.50001Z", True),
    ("TimestampGreaterThan", "2016-03-14T01:59:00.5Z", "2016-03-14T01:59:00.5000Z", False),
    ("TimestampGreaterThan", "2016-03-14T01:59:00.5Z", "2016-03-14T01:59:00.49999Z", False),
    ("TimestampGreaterThan", "2016-03-14T01:59:00.5Z", "2016-03-14T01:59:01Z", True),
    ("TimestampGreaterThan", "2016-02-28T23:59:59Z", "2016-02-29T00:00:00Z", True),
    ("TimestampGreaterThan", "2015-02-28T23:59:59Z", "2015-02-29T00:00:00Z", False),
    ("TimestampGreaterThan", T0, "2016-03-14T24:00:00Z", False),
    ("TimestampGreaterThan", T0, "2016-03-14T01:59:00-01:00", True),
    ("TimestampGreaterThan", T0, "2016-03-14T01:59:00+01:00", False),
    ("TimestampGreaterThan", T0, "9999-12-31T23:59:59.999999999Z", True),
    ("TimestampGreaterThan", T0, "0001-01-01T00:00:00Z", False),
    ("TimestampGreaterThan", T0, None, False),
    ("TimestampLessThanEquals", T0, T0, True),
    ("TimestampLessThanEquals", T0, "2016-03-14T03:59:00+02:00", True),
    ("TimestampLessThanEquals", T0, "2016-03-14T01:58:00Z", True),
    ("TimestampLessThanEquals", T0, "2016-03-14T01:59:00.1Z", False),
    ("TimestampLessThanEquals", T0, "2016-03-14T01:59:00", False),
    ("TimestampLessThanEquals", T0, [], False),
    ("TimestampGreaterThanEquals", T0, T0, True),
    ("TimestampGreaterThanEquals", T0, "2016-03-14T00:59:00-01:00", True),
    ("TimestampGreaterThanEquals", T0, "2016-03-14T01:59:00.000001Z", True),
    ("TimestampGreaterThanEquals", T0, "2016-03-14T01:58:59.999999Z", False),
    ("TimestampGreaterThanEquals", T0, 1, False),
    ("TimestampGreaterThanEquals", T0, "2016-03-14T01:59:00Z ", False),
]

MATCHES_CASES: list[tuple[str, Any, Any, bool]] = [
    ("StringMatches", "log-*.txt", "log-1.txt", True),
    ("StringMatches", "log-*.txt", "log-.txt", True),
    ("StringMatches", "log-*.txt", "log-2024-01-01.txt", True),
    ("StringMatches", "log-*.txt", "log-1.txt.bak", False),
    ("StringMatches", "log-*.txt", "xlog-1.txt", False),
    ("StringMatches", "log-*.txt", "LOG-1.TXT", False),
    ("StringMatches", "foo*.log", "foo23.log", True),
    ("StringMatches", "*.log", "zebra.log", True),
    ("StringMatches", "foo*.*", "foobar.zebra", True),
    ("StringMatches", "*", "", True),
    ("StringMatches", "*", "anything at all", True),
    ("StringMatches", "**", "x", True),
    ("StringMatches", "", "", True),
    ("StringMatches", "", "a", False),
    ("StringMatches", "abc", "abc", True),
    ("StringMatches", "abc", "abcd", False),
    ("StringMatches", "abc", "ab", False),
    ("StringMatches", "a*b*c", "abc", True),
    ("StringMatches", "a*b*c", "aXXbYYc", True),
    ("StringMatches", "a*b*c", "acb", False),
    ("StringMatches", "a*a", "a", False),
    ("StringMatches", "a*a", "aa", True),
    ("StringMatches", "*ab*ab*", "abab", True),
    ("StringMatches", "*ab*ab*", "aba", False),
    ("StringMatches", "*x", "xxx", True),
    ("StringMatches", "x*", "x", True),
    ("StringMatches", "*.txt", "a\nb.txt", True),  # * also matches line breaks
    # only * is special: regex and glob metacharacters are literal
    ("StringMatches", "a.c", "abc", False),
    ("StringMatches", "a.c", "a.c", True),
    ("StringMatches", "a?c", "abc", False),
    ("StringMatches", "a?c", "a?c", True),
    ("StringMatches", "[ab]", "a", False),
    ("StringMatches", "[ab]", "[ab]", True),
    ("StringMatches", "^x$", "^x$", True),
    ("StringMatches", "(a|b)+", "(a|b)+", True),
    # escapes: \* is a literal star, \\ a literal backslash
    ("StringMatches", "\\*", "*", True),
    ("StringMatches", "\\*", "x", False),
    ("StringMatches", "\\*", "", False),
    ("StringMatches", "a\\*b", "a*b", True),
    ("StringMatches", "a\\*b", "aXb", False),
    ("StringMatches", "*\\**", "x*y", True),
    ("StringMatches", "*\\**", "xy", False),
    ("StringMatches", "\\\\", "\\", True),
    ("StringMatches", "\\\\", "\\\\", False),
    ("StringMatches", "\\\\*", "\\anything", True),  # escaped backslash, then a wildcard
    ("StringMatches", "\\\\*", "anything", False),
    ("StringMatches", "\\\\\\*", "\\*", True),  # escaped backslash, then escaped star
    ("StringMatches", "\\\\\\*", "\\x", False),
    ("StringMatches", "C:\\\\*\\\\*.log", "C:\\logs\\app.log", True),
    ("StringMatches", "a\\b", "a\\b", True),  # a backslash before another character is literal
    ("StringMatches", "a\\", "a\\", True),
    ("StringMatches", "é*", "ecole", False),
    ("StringMatches", "é*", "épée", True),
    ("StringMatches", EMOJI + "*", EMOJI + "!", True),
    # no catastrophic backtracking on a long non-matching input
    ("StringMatches", "*a*a*a*a*a*a*a*c", "a" * 100_000 + "b", False),
    ("StringMatches", "*a*a*a*a*a*a*a*b", "a" * 100_000 + "b", True),
    ("StringMatches", "*", 5, False),
    ("StringMatches", "*", None, False),
    ("StringMatches", "*", True, False),
    ("StringMatches", "*", ["a"], False),
    ("StringMatches", "*", {"a": "b"}, False),
]

LITERAL_CASES = STRING_CASES + NUMERIC_CASES + BOOLEAN_CASES + TIMESTAMP_CASES + MATCHES_CASES


def _case_id(case: tuple[str, Any, Any, bool]) -> str:
    op, operand, value, expected = case
    text = f"{op}-{operand!r}-{value!r}-{expected}"
    return text if len(text) < 90 else text[:87] + "..."


@pytest.mark.parametrize(
    ("op", "operand", "value", "expected"), LITERAL_CASES, ids=list(map(_case_id, LITERAL_CASES))
)
def test_literal_operator(op: str, operand: Any, value: Any, expected: bool) -> None:
    rule = {"Variable": "$.v", op: operand, "Next": "Match"}
    assert evaluate(rule, {"v": value}) is expected


PATH_CASES = [case for case in LITERAL_CASES if case[0] != "StringMatches"]


@pytest.mark.parametrize(
    ("op", "operand", "value", "expected"), PATH_CASES, ids=list(map(_case_id, PATH_CASES))
)
def test_path_operator_compares_like_the_literal_form(
    op: str, operand: Any, value: Any, expected: bool
) -> None:
    rule = {"Variable": "$.a", f"{op}Path": "$.b", "Next": "Match"}
    assert evaluate(rule, {"a": value, "b": operand}) is expected


# ---------------------------------------------------------------------------------------------
# *Path: the compared value selected at run time may itself have the wrong type
# ---------------------------------------------------------------------------------------------

PATH_MISMATCH_CASES: list[tuple[str, Any, Any, bool]] = [
    ("StringEqualsPath", "1", 1, False),
    ("StringEqualsPath", 1, 1, False),  # both sides numbers: not strings
    ("StringEqualsPath", None, None, False),
    ("StringEqualsPath", True, True, False),
    ("StringEqualsPath", ["a"], ["a"], False),
    ("StringEqualsPath", {"a": 1}, {"a": 1}, False),
    ("StringLessThanPath", "a", 5, False),
    ("StringLessThanPath", 1, 2, False),
    ("StringGreaterThanPath", 2, 1, False),
    ("StringGreaterThanPath", 1, "0", False),
    ("StringLessThanEqualsPath", "a", None, False),
    ("StringGreaterThanEqualsPath", "a", True, False),
    ("NumericEqualsPath", 1, "1", False),
    ("NumericEqualsPath", "1", "1", False),
    ("NumericEqualsPath", True, True, False),
    ("NumericEqualsPath", 1, True, False),
    ("NumericEqualsPath", 0, False, False),
    ("NumericEqualsPath", None, None, False),
    ("NumericLessThanPath", 1, True, False),
    ("NumericLessThanPath", False, 1, False),
    ("NumericGreaterThanPath", 1, False, False),
    ("NumericGreaterThanPath", "2", "1", False),
    ("NumericLessThanEqualsPath", 1, None, False),
    ("NumericGreaterThanEqualsPath", 1, [1], False),
    ("BooleanEqualsPath", True, "true", False),
    ("BooleanEqualsPath", 1, 1, False),
    ("BooleanEqualsPath", 0, False, False),
    ("BooleanEqualsPath", None, None, False),
    ("BooleanEqualsPath", True, True, True),
    ("BooleanEqualsPath", False, False, True),
    ("BooleanEqualsPath", True, False, False),
    ("TimestampEqualsPath", T0, "not a timestamp", False),
    ("TimestampEqualsPath", "2016-03-14T01:59:00", "2016-03-14T01:59:00", False),
    ("TimestampEqualsPath", 1, 1, False),
    ("TimestampLessThanPath", "2015-01-01T00:00:00Z", "2016-03-14", False),
    ("TimestampLessThanPath", "2015-01-01T00:00:00Z", None, False),
    ("TimestampGreaterThanPath", "x", T0, False),
    ("TimestampLessThanEqualsPath", T0, 0, False),
    ("TimestampGreaterThanEqualsPath", T0, [T0], False),
]


@pytest.mark.parametrize(
    ("op", "a", "b", "expected"), PATH_MISMATCH_CASES, ids=list(map(_case_id, PATH_MISMATCH_CASES))
)
def test_path_operator_type_mismatch(op: str, a: Any, b: Any, expected: bool) -> None:
    rule = {"Variable": "$.a", op: "$.b", "Next": "Match"}
    assert evaluate(rule, {"a": a, "b": b}) is expected


# ---------------------------------------------------------------------------------------------
# Type tests: (operator, selected value, result for true); the false form is the negation
# ---------------------------------------------------------------------------------------------

TYPE_TEST_CASES: list[tuple[str, Any, bool]] = [
    ("IsNull", None, True),
    ("IsNull", 0, False),
    ("IsNull", "", False),
    ("IsNull", "null", False),
    ("IsNull", False, False),
    ("IsNull", [], False),
    ("IsNull", {}, False),
    ("IsNumeric", 0, True),
    ("IsNumeric", 0.0, True),
    ("IsNumeric", -1, True),
    ("IsNumeric", 1.1, True),
    ("IsNumeric", 10**30, True),
    ("IsNumeric", 1e-300, True),
    ("IsNumeric", True, False),
    ("IsNumeric", False, False),
    ("IsNumeric", "1", False),
    ("IsNumeric", None, False),
    ("IsNumeric", [1], False),
    ("IsNumeric", {}, False),
    ("IsString", "", True),
    ("IsString", " ", True),
    ("IsString", "HelloWorld", True),
    ("IsString", T0, True),
    ("IsString", 1, False),
    ("IsString", None, False),
    ("IsString", True, False),
    ("IsString", ["a"], False),
    ("IsString", {"a": "b"}, False),
    ("IsBoolean", True, True),
    ("IsBoolean", False, True),
    ("IsBoolean", 0, False),
    ("IsBoolean", 1, False),
    ("IsBoolean", "true", False),
    ("IsBoolean", None, False),
    ("IsBoolean", [], False),
    ("IsTimestamp", T0, True),
    ("IsTimestamp", "2012-10-09T19:00:55+01:00", True),
    ("IsTimestamp", "2016-03-14T01:59:00.123456789Z", True),
    ("IsTimestamp", "2012-10-09T19:00:55", False),
    ("IsTimestamp", "2023-02-24", False),
    ("IsTimestamp", "2023-02-24 12:15:56.832957", False),
    ("IsTimestamp", "HelloWorld", False),
    ("IsTimestamp", "", False),
    ("IsTimestamp", 1457920740, False),
    ("IsTimestamp", None, False),
    ("IsTimestamp", True, False),
    ("IsTimestamp", [T0], False),
]


@pytest.mark.parametrize("flag", [True, False])
@pytest.mark.parametrize(("op", "value", "is_type"), TYPE_TEST_CASES, ids=list(map(repr, TYPE_TEST_CASES)))
def test_type_test(op: str, value: Any, is_type: bool, flag: bool) -> None:
    rule = {"Variable": "$.v", op: flag, "Next": "Match"}
    assert evaluate(rule, {"v": value}) is (is_type == flag)


IS_PRESENT_CASES: list[tuple[str, Any, Any, dict[str, Any], bool]] = [
    ("$.a", {"a": 1}, None, {}, True),
    ("$.a", {"a": None}, None, {}, True),  # present, with a null value
    ("$.a", {"a": False}, None, {}, True),
    ("$.a", {"a": ""}, None, {}, True),
    ("$.a", {"a": []}, None, {}, True),
    ("$.a", {}, None, {}, False),
    ("$.a", {"A": 1}, None, {}, False),
    ("$.a.b", {"a": {"b": 0}}, None, {}, True),
    ("$.a.b", {"a": {}}, None, {}, False),
    ("$.a.b", {"a": "text"}, None, {}, False),
    ("$.a.b", {"a": None}, None, {}, False),
    ("$.a[1]", {"a": [0, 1]}, None, {}, True),
    ("$.a[2]", {"a": [0, 1]}, None, {}, False),
    ("$.a[0]", {"a": {"0": 1}}, None, {}, False),
    ("$", None, None, {}, True),
    ("$", "text", None, {}, True),
    ("$['a-b']", {"a-b": 1}, None, {}, True),
    ("$$.Execution.Input.x", {}, {"Execution": {"Input": {"x": 1}}}, {}, True),
    ("$$.Execution.Input.y", {}, {"Execution": {"Input": {"x": 1}}}, {}, False),
    ("$$.Map.Item.Index", {}, None, {}, False),
    ("$total", {}, None, {"total": 0}, True),
    ("$total", {}, None, {"total": None}, True),
    ("$total", {}, None, {}, False),
    ("$order.id", {}, None, {"order": {"id": "x"}}, True),
    ("$order.id", {}, None, {"order": {}}, False),
    ("$order.id", {"order": {"id": "x"}}, None, {}, False),  # the input is not a variable
]


@pytest.mark.parametrize("flag", [True, False])
@pytest.mark.parametrize(("path", "data", "context", "variables", "present"), IS_PRESENT_CASES)
def test_is_present(
    path: str, data: Any, context: Any, variables: dict[str, Any], present: bool, flag: bool
) -> None:
    rule = {"Variable": path, "IsPresent": flag, "Next": "Match"}
    assert evaluate(rule, data, context, variables) is (present == flag)


# ---------------------------------------------------------------------------------------------
# Roots: $ (input), $$ (context object), $name (variables), for Variable and *Path operands
# ---------------------------------------------------------------------------------------------

CONTEXT = {
    "Execution": {"Id": "arn:exec", "Input": {"limit": 10, "mode": "fast"}, "StartTime": T0},
    "State": {"Name": "Check", "RetryCount": 0},
    "Map": {"Item": {"Index": 3, "Value": {"sku": "A-1"}}},
}
VARIABLES = {"threshold": 5, "name": "alice", "order": {"items": [{"qty": 2}, {"qty": 7}]}, "flag": True}

ROOT_CASES: list[tuple[dict[str, Any], Any, bool]] = [
    ({"Variable": "$", "StringEquals": "No messages"}, "No messages", True),
    ({"Variable": "$", "StringEquals": "No messages"}, {"a": 1}, False),
    ({"Variable": "$", "IsNumeric": True}, 3, True),
    ({"Variable": "$[0]", "NumericEquals": 5}, [5, 6], True),
    ({"Variable": "$.a[-1]", "NumericEquals": 6}, {"a": [5, 6]}, True),
    ({"Variable": "$['a-b'].c", "BooleanEquals": True}, {"a-b": {"c": True}}, True),
    ({"Variable": '$["a b"]', "StringEquals": "x"}, {"a b": "x"}, True),
    ({"Variable": "$.é", "StringEquals": "ü"}, {"é": "ü"}, True),
    ({"Variable": "$$.Execution.Input.limit", "NumericEquals": 10}, {}, True),
    ({"Variable": "$$.Execution.Input.mode", "StringMatches": "f*"}, {}, True),
    ({"Variable": "$$.State.RetryCount", "NumericGreaterThan": 0}, {}, False),
    ({"Variable": "$$.Execution.StartTime", "TimestampEquals": "2016-03-14T02:59:00+01:00"}, {}, True),
    ({"Variable": "$$.Map.Item.Value.sku", "StringEquals": "A-1"}, {}, True),
    ({"Variable": "$threshold", "NumericEquals": 5}, {"threshold": 6}, True),
    ({"Variable": "$name", "StringEquals": "alice"}, {}, True),
    ({"Variable": "$order.items[1].qty", "NumericGreaterThan": 5}, {}, True),
    ({"Variable": "$order.items[0].qty", "NumericGreaterThan": 5}, {}, False),
    ({"Variable": "$flag", "BooleanEquals": True}, {}, True),
    ({"Variable": "$.n", "NumericLessThanPath": "$threshold"}, {"n": 4}, True),
    ({"Variable": "$.n", "NumericLessThanPath": "$threshold"}, {"n": 5}, False),
    ({"Variable": "$.n", "NumericLessThanEqualsPath": "$$.Execution.Input.limit"}, {"n": 10}, True),
    ({"Variable": "$.who", "StringEqualsPath": "$name"}, {"who": "alice"}, True),
    ({"Variable": "$threshold", "NumericEqualsPath": "$.n"}, {"n": 5.0}, True),
    ({"Variable": "$$.Map.Item.Index", "NumericGreaterThanEqualsPath": "$order.items[0].qty"}, {}, True),
    (
        {"Variable": "$.t", "TimestampGreaterThanPath": "$$.Execution.StartTime"},
        {"t": "2016-03-14T02:00:00Z"},
        True,
    ),
    ({"Variable": "$flag", "BooleanEqualsPath": "$.f"}, {"f": True}, True),
    ({"Variable": "$.a", "StringEqualsPath": "$.a"}, {"a": "same"}, True),
    ({"Variable": "$", "NumericEqualsPath": "$"}, 1, True),
]


@pytest.mark.parametrize(("rule", "data", "expected"), ROOT_CASES, ids=[str(r) for r, _, _ in ROOT_CASES])
def test_roots(rule: dict[str, Any], data: Any, expected: bool) -> None:
    assert evaluate(rule, data, CONTEXT, VARIABLES) is expected


# ---------------------------------------------------------------------------------------------
# A path that selects nothing: States.Runtime with AWS's cause (all but IsPresent)
# ---------------------------------------------------------------------------------------------

EVERY_OPERATOR: list[tuple[str, Any]] = [
    ("StringEquals", "x"),
    ("StringLessThan", "x"),
    ("StringGreaterThan", "x"),
    ("StringLessThanEquals", "x"),
    ("StringGreaterThanEquals", "x"),
    ("StringMatches", "*"),
    ("NumericEquals", 1),
    ("NumericLessThan", 1),
    ("NumericGreaterThan", 1),
    ("NumericLessThanEquals", 1),
    ("NumericGreaterThanEquals", 1),
    ("BooleanEquals", True),
    ("TimestampEquals", T0),
    ("TimestampLessThan", T0),
    ("TimestampGreaterThan", T0),
    ("TimestampLessThanEquals", T0),
    ("TimestampGreaterThanEquals", T0),
    ("StringEqualsPath", "$.other"),
    ("StringLessThanPath", "$.other"),
    ("StringGreaterThanPath", "$.other"),
    ("StringLessThanEqualsPath", "$.other"),
    ("StringGreaterThanEqualsPath", "$.other"),
    ("NumericEqualsPath", "$.other"),
    ("NumericLessThanPath", "$.other"),
    ("NumericGreaterThanPath", "$.other"),
    ("NumericLessThanEqualsPath", "$.other"),
    ("NumericGreaterThanEqualsPath", "$.other"),
    ("BooleanEqualsPath", "$.other"),
    ("TimestampEqualsPath", "$.other"),
    ("TimestampLessThanPath", "$.other"),
    ("TimestampGreaterThanPath", "$.other"),
    ("TimestampLessThanEqualsPath", "$.other"),
    ("TimestampGreaterThanEqualsPath", "$.other"),
    ("IsNull", True),
    ("IsNull", False),
    ("IsNumeric", True),
    ("IsString", False),
    ("IsBoolean", True),
    ("IsTimestamp", False),
]

MISSING_VARIABLES: list[tuple[str, Any, Any, dict[str, Any]]] = [
    ("$.missing", {"other": 1}, None, {}),
    ("$.a.b", {"a": "text", "other": 1}, None, {}),
    ("$.list[5]", {"list": [1], "other": 1}, None, {}),
    ("$$.Execution.Nope", {"other": 1}, CONTEXT, {}),
    ("$$.Execution.Input", {"other": 1}, None, {}),
    ("$undeclared", {"other": 1}, None, {"declared": 1}),
    ("$declared.deeper", {"other": 1}, None, {"declared": 1}),
]


@pytest.mark.parametrize(("op", "operand"), EVERY_OPERATOR)
@pytest.mark.parametrize(("path", "data", "context", "variables"), MISSING_VARIABLES)
def test_missing_variable_raises_runtime_error(
    op: str, operand: Any, path: str, data: Any, context: Any, variables: dict[str, Any]
) -> None:
    rule = compile_choice_rule({"Variable": path, op: operand, "Next": "Match"})
    with pytest.raises(StatesError) as info:
        rule.matches(data, context, variables)
    assert info.value.error == StatesNames.RUNTIME
    assert info.value.cause == cause(path)


PATH_OPERATORS = [op for op, operand in EVERY_OPERATOR if op.endswith("Path")]


@pytest.mark.parametrize("op", PATH_OPERATORS)
@pytest.mark.parametrize("operand", ["$.missing", "$$.Execution.Nope", "$undeclared", "$.a[3]"])
def test_missing_path_operand_raises_runtime_error(op: str, operand: str) -> None:
    rule = compile_choice_rule({"Variable": "$.a[0]", op: operand, "Next": "Match"})
    with pytest.raises(StatesError) as info:
        rule.matches({"a": [1]}, {"Execution": {}}, {})
    assert info.value.error == StatesNames.RUNTIME
    assert info.value.cause == cause(operand)


def test_missing_variable_is_reported_before_missing_operand() -> None:
    rule = compile_choice_rule({"Variable": "$.x", "NumericEqualsPath": "$.y", "Next": "Match"})
    with pytest.raises(StatesError) as info:
        rule.matches({}, None, {})
    assert info.value.cause == cause("$.x")


def test_runtime_error_output_is_error_and_cause() -> None:
    rule = compile_choice_rule({"Variable": "$.approved", "BooleanEquals": True, "Next": "Match"})
    with pytest.raises(StatesError) as info:
        rule.matches({"status": "PENDING"}, None, {})
    assert info.value.to_output() == {"Error": "States.Runtime", "Cause": cause("$.approved")}


# ---------------------------------------------------------------------------------------------
# And / Or / Not
# ---------------------------------------------------------------------------------------------

A_IS_1 = {"Variable": "$.a", "NumericEquals": 1}
B_IS_X = {"Variable": "$.b", "StringEquals": "x"}
MISSING = {"Variable": "$.missing", "StringEquals": "boom"}

LOGIC_CASES: list[tuple[dict[str, Any], Any, bool]] = [
    ({"And": [A_IS_1, B_IS_X]}, {"a": 1, "b": "x"}, True),
    ({"And": [A_IS_1, B_IS_X]}, {"a": 1, "b": "y"}, False),
    ({"And": [A_IS_1, B_IS_X]}, {"a": 2, "b": "x"}, False),
    ({"And": [A_IS_1]}, {"a": 1}, True),
    ({"Or": [A_IS_1, B_IS_X]}, {"a": 2, "b": "x"}, True),
    ({"Or": [A_IS_1, B_IS_X]}, {"a": 1, "b": "y"}, True),
    ({"Or": [A_IS_1, B_IS_X]}, {"a": 2, "b": "y"}, False),
    ({"Or": [A_IS_1]}, {"a": 0}, False),
    ({"Not": A_IS_1}, {"a": 1}, False),
    ({"Not": A_IS_1}, {"a": 2}, True),
    ({"Not": {"Not": A_IS_1}}, {"a": 1}, True),
    ({"Not": {"Variable": "$.a", "NumericEquals": 1}}, {"a": "1"}, True),  # mismatch is false
    (
        {"And": [{"Not": A_IS_1}, {"Or": [B_IS_X, {"Variable": "$.c", "IsNull": True}]}]},
        {"a": 0, "b": "", "c": None},
        True,
    ),
    (
        {"And": [{"Not": A_IS_1}, {"Or": [B_IS_X, {"Variable": "$.c", "IsNull": True}]}]},
        {"a": 0, "b": "", "c": 1},
        False,
    ),
    (
        {"Or": [{"And": [A_IS_1, B_IS_X]}, {"Not": {"Variable": "$.c", "IsPresent": True}}]},
        {"a": 1, "b": "y"},
        True,
    ),
    (
        {"Or": [{"And": [A_IS_1, B_IS_X]}, {"Not": {"Variable": "$.c", "IsPresent": True}}]},
        {"a": 1, "b": "y", "c": 0},
        False,
    ),
    # AWS's documented guard: IsPresent first, so the comparison is never evaluated
    (
        {"And": [{"Variable": "$.key", "IsPresent": True}, {"Variable": "$.key", "StringEquals": "foo"}]},
        {},
        False,
    ),
    (
        {"And": [{"Variable": "$.key", "IsPresent": True}, {"Variable": "$.key", "StringEquals": "foo"}]},
        {"key": "foo"},
        True,
    ),
    ({"And": [A_IS_1, MISSING]}, {"a": 2}, False),  # short-circuits before the missing path
    ({"Or": [A_IS_1, MISSING]}, {"a": 1}, True),
    ({"Not": {"And": [A_IS_1, MISSING]}}, {"a": 2}, True),
]


@pytest.mark.parametrize(
    ("rule", "data", "expected"), LOGIC_CASES, ids=[str(i) for i in range(len(LOGIC_CASES))]
)
def test_boolean_operators(rule: dict[str, Any], data: Any, expected: bool) -> None:
    assert evaluate({**rule, "Next": "Match"}, data) is expected


@pytest.mark.parametrize(
    "rule",
    [
        {"And": [A_IS_1, MISSING]},
        {"Or": [{"Not": A_IS_1}, MISSING]},
        {"Not": MISSING},
        {"And": [{"Or": [{"Not": {"Not": MISSING}}]}]},
    ],
)
def test_boolean_operators_propagate_runtime_error(rule: dict[str, Any]) -> None:
    with pytest.raises(StatesError) as info:
        evaluate({**rule, "Next": "Match"}, {"a": 1})
    assert info.value.cause == cause("$.missing")


@pytest.mark.parametrize("depth", [1, 2, 3, 50, 199, 200])
def test_not_nests_to_depth(depth: int) -> None:
    rule: dict[str, Any] = A_IS_1
    for _ in range(depth):
        rule = {"Not": rule}
    assert check_choice_rule({**rule, "Next": "N"}, P, True) == []
    assert evaluate({**rule, "Next": "N"}, {"a": 1}) is (depth % 2 == 0)


@pytest.mark.parametrize("depth", [1, 10, 100])
def test_and_or_nest_to_depth(depth: int) -> None:
    rule: dict[str, Any] = A_IS_1
    for level in range(depth):
        rule = (
            {"And": [rule, {"Variable": "$.a", "IsPresent": True}]} if level % 2 else {"Or": [B_IS_X, rule]}
        )
    assert check_choice_rule({**rule, "Next": "N"}, P, True) == []
    assert evaluate({**rule, "Next": "N"}, {"a": 1, "b": "y"}) is True
    assert evaluate({**rule, "Next": "N"}, {"a": 2, "b": "y"}) is False


def test_compiled_rule_is_reusable_and_keeps_next() -> None:
    rule = compile_choice_rule({"Variable": "$.n", "NumericLessThan": 3, "Next": "Small", "Comment": "c"})
    assert isinstance(rule, ChoiceRule)
    assert rule.next == "Small"
    assert [rule.matches({"n": n}, None, {}) for n in (1, 2, 3, 4)] == [True, True, False, False]


def test_nested_rule_has_no_next() -> None:
    assert compile_choice_rule({"Variable": "$.n", "IsNull": False}).next is None


def test_choice_rule_base_class_is_abstract() -> None:
    with pytest.raises(NotImplementedError):
        ChoiceRule().matches({}, None, {})


@pytest.mark.parametrize(
    "rule",
    [
        {"Variable": "$.a", "NumericEquals": "1", "Next": "N"},
        {"Variable": "$.a[*]", "IsNull": True, "Next": "N"},
        {"StringEquals": "x", "Next": "N"},
        {"And": [], "Next": "N"},
        {"Variable": "$.a", "TimestampEquals": "2016-03-14", "Next": "N"},
    ],
)
def test_compile_rejects_invalid_rule(rule: dict[str, Any]) -> None:
    with pytest.raises(DefinitionError) as info:
        compile_choice_rule(rule)
    assert info.value.problems


# ---------------------------------------------------------------------------------------------
# Timestamps
# ---------------------------------------------------------------------------------------------

TIMESTAMPS: list[tuple[Any, bool]] = [
    ("2016-03-14T01:59:00Z", True),
    ("2016-03-14T01:59:00.1Z", True),
    ("2016-03-14T01:59:00.123456789012Z", True),
    ("2016-03-14T01:59:00+00:00", True),
    ("2016-03-14T01:59:00-00:00", True),
    ("2016-03-14T01:59:00+05:30", True),
    ("2016-03-14T01:59:00-12:00", True),
    ("2016-03-14T01:59:00+23:59", True),
    ("2016-03-14T01:59:00.5-08:00", True),
    ("2000-02-29T23:59:59Z", True),
    ("0001-01-01T00:00:00Z", True),
    ("9999-12-31T23:59:59Z", True),
    ("2016-03-14T23:59:59Z", True),
    ("2016-03-14T01:59:00", False),
    ("2016-03-14t01:59:00Z", False),
    ("2016-03-14T01:59:00z", False),
    ("2016-03-14 01:59:00Z", False),
    ("2016-03-14T01:59Z", False),
    ("2016-03-14T1:59:00Z", False),
    ("2016-3-14T01:59:00Z", False),
    ("16-03-14T01:59:00Z", False),
    ("2016-03-14T24:00:00Z", False),
    ("2016-03-14T23:60:00Z", False),
    ("2016-13-01T00:00:00Z", False),
    ("2016-00-10T00:00:00Z", False),
    ("2016-01-00T00:00:00Z", False),
    ("2016-02-30T00:00:00Z", False),
    ("2015-02-29T00:00:00Z", False),
    ("2016-04-31T00:00:00Z", False),
    ("2016-03-14T01:59:00.Z", False),
    ("2016-03-14T01:59:00,5Z", False),
    ("2016-03-14T01:59:00+0100", False),
    ("2016-03-14T01:59:00+01", False),
    ("2016-03-14T01:59:00+24:00", False),
    ("2016-03-14T01:59:00+01:60", False),
    ("2016-03-14T01:59:00Z+01:00", False),
    (" 2016-03-14T01:59:00Z", False),
    ("2016-03-14T01:59:00Z ", False),
    ("2016-03-14T01:59:00Z\n", False),
    ("\uff12\uff10\uff11\uff16-03-14T01:59:00Z", False),  # fullwidth digits
    ("20160314T015900Z", False),
    ("2016-03-14", False),
    ("", False),
    (20160314, False),
    (None, False),
    (True, False),
    ([T0], False),
]


@pytest.mark.parametrize(("value", "expected"), TIMESTAMPS, ids=[repr(v) for v, _ in TIMESTAMPS])
def test_is_timestamp(value: Any, expected: bool) -> None:
    assert is_timestamp(value) is expected


ORDERED_PAIRS: list[tuple[str, str, int]] = [
    (T0, "2016-03-14T02:59:00+01:00", 0),
    (T0, "2016-03-14T01:59:00.000000Z", 0),
    ("2016-03-14T01:59:00.10Z", "2016-03-14T01:59:00.1Z", 0),
    ("2016-12-31T23:00:00-01:00", "2017-01-01T00:00:00Z", 0),
    ("2016-03-14T01:59:00.09Z", "2016-03-14T01:59:00.1Z", -1),
    ("2016-03-14T01:59:00.9Z", "2016-03-14T01:59:01Z", -1),
    ("2016-03-14T01:59:00.999999999Z", "2016-03-14T01:59:01Z", -1),
    ("2016-03-14T01:59:00Z", "2016-03-14T01:59:00.000000001Z", -1),
    ("2016-03-14T01:59:00+01:00", T0, -1),
    ("2016-03-14T01:59:00-01:00", T0, 1),
    ("1999-12-31T23:59:59Z", "2000-01-01T00:00:00Z", -1),
]


@pytest.mark.parametrize(("a", "b", "order"), ORDERED_PAIRS)
def test_timestamp_key_orders_instants(a: str, b: str, order: int) -> None:
    ka, kb = timestamp_key(a), timestamp_key(b)
    assert ka is not None and kb is not None
    assert (ka > kb) - (ka < kb) == order


# ---------------------------------------------------------------------------------------------
# check_choice_rule: structure problems and their pointers
# ---------------------------------------------------------------------------------------------

VALID_OPERANDS: list[tuple[str, Any]] = [
    ("StringEquals", ""),
    ("StringLessThan", "m"),
    ("StringGreaterThan", "m"),
    ("StringLessThanEquals", "m"),
    ("StringGreaterThanEquals", "m"),
    ("StringMatches", "a\\*b*"),
    ("NumericEquals", 0),
    ("NumericLessThan", -1.5),
    ("NumericGreaterThan", 1e300),
    ("NumericLessThanEquals", 10**20),
    ("NumericGreaterThanEquals", 0.0),
    ("BooleanEquals", False),
    ("TimestampEquals", T0),
    ("TimestampLessThan", "2016-03-14T01:59:00.5+01:00"),
    ("TimestampGreaterThan", "2016-03-14T01:59:00-00:00"),
    ("TimestampLessThanEquals", T0),
    ("TimestampGreaterThanEquals", T0),
    ("StringEqualsPath", "$.b"),
    ("StringLessThanPath", "$$.Execution.Input.b"),
    ("StringGreaterThanPath", "$var"),
    ("StringLessThanEqualsPath", "$var.b[0]"),
    ("StringGreaterThanEqualsPath", "$['b']"),
    ("NumericEqualsPath", "$"),
    ("NumericLessThanPath", "$$"),
    ("NumericGreaterThanPath", "$.b[2].c"),
    ("NumericLessThanEqualsPath", "$$.Map.Item.Index"),
    ("NumericGreaterThanEqualsPath", "$.b"),
    ("BooleanEqualsPath", "$.b"),
    ("TimestampEqualsPath", "$.b"),
    ("TimestampLessThanPath", "$.b"),
    ("TimestampGreaterThanPath", "$.b"),
    ("TimestampLessThanEqualsPath", "$.b"),
    ("TimestampGreaterThanEqualsPath", "$.b"),
    ("IsNull", True),
    ("IsPresent", False),
    ("IsNumeric", True),
    ("IsString", False),
    ("IsBoolean", True),
    ("IsTimestamp", False),
]


@pytest.mark.parametrize("top_level", [True, False])
@pytest.mark.parametrize(("op", "operand"), VALID_OPERANDS)
def test_check_accepts_every_operator(op: str, operand: Any, top_level: bool) -> None:
    rule = {"Variable": "$.a", op: operand, **({"Next": "N"} if top_level else {})}
    assert check_choice_rule(rule, P, top_level) == []


@pytest.mark.parametrize(
    ("rule", "top_level"),
    [
        (
            {"Variable": "$.a", "StringEquals": "x", "Next": "N", "Comment": "why", "Assign": {"x.$": "$.a"}},
            True,
        ),
        ({"Variable": "$.a", "StringEquals": "x", "Comment": "nested"}, False),
        ({"Variable": "$$.Execution.Input.a", "IsPresent": True, "Next": "N"}, True),
        ({"Variable": "$v", "IsNull": False, "Next": "N"}, True),
        ({"And": [A_IS_1, B_IS_X], "Next": "N"}, True),
        ({"Or": [A_IS_1], "Next": "N", "Comment": "c"}, True),
        ({"Not": A_IS_1, "Next": "N", "Assign": {}}, True),
        ({"Not": {**A_IS_1, "Comment": "nested comment"}}, False),
        ({"And": [{"Or": [{"Not": A_IS_1, "Comment": "c"}]}], "Next": "N"}, True),
    ],
)
def test_check_accepts_valid_rules(rule: dict[str, Any], top_level: bool) -> None:
    assert check_choice_rule(rule, P, top_level) == []


NESTED_BAD = {"Variable": "$.a", "StringEquals": 1}

INVALID_RULES: list[tuple[str, Any, bool, list[str]]] = [
    ("not an object", "x", True, [P]),
    ("array", [A_IS_1], True, [P]),
    ("null", None, False, [P]),
    ("empty", {}, True, [P, P]),
    ("empty nested", {}, False, [P]),
    ("no operator", {"Variable": "$.a", "Next": "N"}, True, [P]),
    ("no Next at top level", {"Variable": "$.a", "StringEquals": "x"}, True, [P]),
    ("Next in nested rule", {"Variable": "$.a", "StringEquals": "x", "Next": "N"}, False, [f"{P}/Next"]),
    ("Next not a string", {"Variable": "$.a", "StringEquals": "x", "Next": 3}, True, [f"{P}/Next"]),
    ("Next empty", {"Variable": "$.a", "StringEquals": "x", "Next": ""}, True, [f"{P}/Next"]),
    ("Next null", {"Variable": "$.a", "StringEquals": "x", "Next": None}, True, [f"{P}/Next"]),
    ("no Variable", {"StringEquals": "x", "Next": "N"}, True, [P]),
    ("no Variable with path op", {"NumericEqualsPath": "$.b", "Next": "N"}, True, [P]),
    ("Variable with And", {"Variable": "$.a", "And": [A_IS_1], "Next": "N"}, True, [f"{P}/Variable"]),
    ("Variable with Not", {"Variable": "$.a", "Not": A_IS_1, "Next": "N"}, True, [f"{P}/Variable"]),
    (
        "two comparisons",
        {"Variable": "$.a", "StringEquals": "x", "NumericEquals": 1, "Next": "N"},
        True,
        [f"{P}/NumericEquals"],
    ),
    (
        "comparison and path form",
        {"Variable": "$.a", "NumericEquals": 1, "NumericEqualsPath": "$.b", "Next": "N"},
        True,
        [f"{P}/NumericEqualsPath"],
    ),
    ("And and Or", {"And": [A_IS_1], "Or": [B_IS_X], "Next": "N"}, True, [f"{P}/Or"]),
    (
        "comparison and And",
        {"Variable": "$.a", "IsNull": True, "And": [A_IS_1], "Next": "N"},
        True,
        [f"{P}/And"],
    ),
    (
        "three operators",
        {"Variable": "$.a", "IsNull": True, "IsString": True, "IsBoolean": True, "Next": "N"},
        True,
        [f"{P}/IsString", f"{P}/IsBoolean"],
    ),
    ("unknown field", {"Variable": "$.a", "StringEquals": "x", "Next": "N", "Foo": 1}, True, [f"{P}/Foo"]),
    (
        "wrong case Variable",
        {"variable": "$.a", "StringEquals": "x", "Next": "N"},
        True,
        [P, f"{P}/variable"],
    ),
    (
        "wrong case operator",
        {"Variable": "$.a", "stringEquals": "x", "Next": "N"},
        True,
        [P, f"{P}/stringEquals"],
    ),
    (
        "StringMatchesPath",
        {"Variable": "$.a", "StringMatchesPath": "$.b", "Next": "N"},
        True,
        [P, f"{P}/StringMatchesPath"],
    ),
    ("IsNullPath", {"Variable": "$.a", "IsNullPath": "$.b", "Next": "N"}, True, [P, f"{P}/IsNullPath"]),
    ("JSONata Condition", {"Condition": "{% $a = 1 %}", "Next": "N"}, True, [P, f"{P}/Condition"]),
    ("JSONata Output", {"Variable": "$.a", "IsNull": True, "Output": {}, "Next": "N"}, True, [f"{P}/Output"]),
    (
        "Comment not a string",
        {"Variable": "$.a", "IsNull": True, "Comment": 1, "Next": "N"},
        True,
        [f"{P}/Comment"],
    ),
    (
        "Assign not an object",
        {"Variable": "$.a", "IsNull": True, "Assign": [], "Next": "N"},
        True,
        [f"{P}/Assign"],
    ),
    ("Assign in nested rule", {"And": [{**A_IS_1, "Assign": {}}], "Next": "N"}, True, [f"{P}/And/0/Assign"]),
    (
        "field name with slash",
        {"Variable": "$.a", "IsNull": True, "a/b": 1, "Next": "N"},
        True,
        [f"{P}/a~1b"],
    ),
    (
        "field name with tilde",
        {"Variable": "$.a", "IsNull": True, "m~n": 1, "Next": "N"},
        True,
        [f"{P}/m~0n"],
    ),
    ("field name with both", {"Variable": "$.a", "IsNull": True, "~/": 1, "Next": "N"}, True, [f"{P}/~0~1"]),
    # operand types
    ("StringEquals number", {"Variable": "$.a", "StringEquals": 1, "Next": "N"}, True, [f"{P}/StringEquals"]),
    (
        "StringLessThan null",
        {"Variable": "$.a", "StringLessThan": None, "Next": "N"},
        True,
        [f"{P}/StringLessThan"],
    ),
    (
        "StringMatches number",
        {"Variable": "$.a", "StringMatches": 5, "Next": "N"},
        True,
        [f"{P}/StringMatches"],
    ),
    (
        "NumericEquals string",
        {"Variable": "$.a", "NumericEquals": "1", "Next": "N"},
        True,
        [f"{P}/NumericEquals"],
    ),
    (
        "NumericEquals boolean",
        {"Variable": "$.a", "NumericEquals": True, "Next": "N"},
        True,
        [f"{P}/NumericEquals"],
    ),
    (
        "NumericLessThan NaN",
        {"Variable": "$.a", "NumericLessThan": float("nan"), "Next": "N"},
        True,
        [f"{P}/NumericLessThan"],
    ),
    (
        "NumericGreaterThan inf",
        {"Variable": "$.a", "NumericGreaterThan": float("inf"), "Next": "N"},
        True,
        [f"{P}/NumericGreaterThan"],
    ),
    (
        "NumericGreaterThanEquals list",
        {"Variable": "$.a", "NumericGreaterThanEquals": [1], "Next": "N"},
        True,
        [f"{P}/NumericGreaterThanEquals"],
    ),
    (
        "BooleanEquals string",
        {"Variable": "$.a", "BooleanEquals": "true", "Next": "N"},
        True,
        [f"{P}/BooleanEquals"],
    ),
    (
        "BooleanEquals number",
        {"Variable": "$.a", "BooleanEquals": 1, "Next": "N"},
        True,
        [f"{P}/BooleanEquals"],
    ),
    (
        "TimestampEquals date only",
        {"Variable": "$.a", "TimestampEquals": "2016-03-14", "Next": "N"},
        True,
        [f"{P}/TimestampEquals"],
    ),
    (
        "TimestampLessThan no zone",
        {"Variable": "$.a", "TimestampLessThan": "2016-03-14T01:59:00", "Next": "N"},
        True,
        [f"{P}/TimestampLessThan"],
    ),
    (
        "TimestampGreaterThan lowercase",
        {"Variable": "$.a", "TimestampGreaterThan": "2016-03-14t01:59:00z", "Next": "N"},
        True,
        [f"{P}/TimestampGreaterThan"],
    ),
    (
        "TimestampLessThanEquals number",
        {"Variable": "$.a", "TimestampLessThanEquals": 1457920740, "Next": "N"},
        True,
        [f"{P}/TimestampLessThanEquals"],
    ),
    (
        "TimestampGreaterThanEquals bad date",
        {"Variable": "$.a", "TimestampGreaterThanEquals": "2016-02-30T00:00:00Z", "Next": "N"},
        True,
        [f"{P}/TimestampGreaterThanEquals"],
    ),
    ("IsNull string", {"Variable": "$.a", "IsNull": "true", "Next": "N"}, True, [f"{P}/IsNull"]),
    ("IsPresent number", {"Variable": "$.a", "IsPresent": 1, "Next": "N"}, True, [f"{P}/IsPresent"]),
    ("IsTimestamp null", {"Variable": "$.a", "IsTimestamp": None, "Next": "N"}, True, [f"{P}/IsTimestamp"]),
    # paths
    ("Variable number", {"Variable": 5, "IsNull": True, "Next": "N"}, True, [f"{P}/Variable"]),
    ("Variable no dollar", {"Variable": "a.b", "IsNull": True, "Next": "N"}, True, [f"{P}/Variable"]),
    ("Variable invalid", {"Variable": "$.", "IsNull": True, "Next": "N"}, True, [f"{P}/Variable"]),
    ("Variable wildcard", {"Variable": "$.a[*]", "IsNull": True, "Next": "N"}, True, [f"{P}/Variable"]),
    ("Variable filter", {"Variable": "$.a[?(@.b)]", "IsNull": True, "Next": "N"}, True, [f"{P}/Variable"]),
    ("Variable deep scan", {"Variable": "$..a", "IsNull": True, "Next": "N"}, True, [f"{P}/Variable"]),
    ("Variable slice", {"Variable": "$.a[0:2]", "IsNull": True, "Next": "N"}, True, [f"{P}/Variable"]),
    (
        "Variable intrinsic",
        {"Variable": "States.ArrayLength($.a)", "NumericEquals": 1, "Next": "N"},
        True,
        [f"{P}/Variable"],
    ),
    (
        "Path operand number",
        {"Variable": "$.a", "StringEqualsPath": 5, "Next": "N"},
        True,
        [f"{P}/StringEqualsPath"],
    ),
    (
        "Path operand literal",
        {"Variable": "$.a", "StringEqualsPath": "foo", "Next": "N"},
        True,
        [f"{P}/StringEqualsPath"],
    ),
    (
        "Path operand wildcard",
        {"Variable": "$.a", "NumericEqualsPath": "$.b[*]", "Next": "N"},
        True,
        [f"{P}/NumericEqualsPath"],
    ),
    (
        "both paths bad",
        {"Variable": "$..a", "TimestampEqualsPath": "$.b[*]", "Next": "N"},
        True,
        [f"{P}/TimestampEqualsPath", f"{P}/Variable"],
    ),
    # And / Or / Not
    ("And empty", {"And": [], "Next": "N"}, True, [f"{P}/And"]),
    ("And object", {"And": A_IS_1, "Next": "N"}, True, [f"{P}/And"]),
    ("And string", {"And": "x", "Next": "N"}, True, [f"{P}/And"]),
    ("Or empty", {"Or": [], "Next": "N"}, True, [f"{P}/Or"]),
    ("Or null", {"Or": None, "Next": "N"}, True, [f"{P}/Or"]),
    ("Not array", {"Not": [A_IS_1], "Next": "N"}, True, [f"{P}/Not"]),
    ("Not empty object", {"Not": {}, "Next": "N"}, True, [f"{P}/Not"]),
    (
        "And element bad operand",
        {"And": [A_IS_1, NESTED_BAD], "Next": "N"},
        True,
        [f"{P}/And/1/StringEquals"],
    ),
    ("And element not object", {"And": [A_IS_1, 7], "Next": "N"}, True, [f"{P}/And/1"]),
    ("And element with Next", {"And": [{**A_IS_1, "Next": "N"}], "Next": "N"}, True, [f"{P}/And/0/Next"]),
    ("Or element missing Variable", {"Or": [{"IsNull": True}], "Next": "N"}, True, [f"{P}/Or/0"]),
    ("Not with Next inside", {"Not": {**A_IS_1, "Next": "N"}, "Next": "N"}, True, [f"{P}/Not/Next"]),
    (
        "deep nested bad",
        {"And": [{"Or": [A_IS_1, {"Not": {"Variable": "$.a", "IsNull": "no"}}]}], "Next": "N"},
        True,
        [f"{P}/And/0/Or/1/Not/IsNull"],
    ),
    (
        "several nested",
        {"Or": [NESTED_BAD, {"And": []}, {"Not": {"Foo": 1}}]},
        False,
        [f"{P}/Or/0/StringEquals", f"{P}/Or/1/And", f"{P}/Or/2/Not", f"{P}/Or/2/Not/Foo"],
    ),
    (
        "several at once",
        {"Variable": "$..a", "NumericEquals": "1", "Bar": 2},
        True,
        [P, f"{P}/Bar", f"{P}/NumericEquals", f"{P}/Variable"],
    ),
]


@pytest.mark.parametrize(
    ("rule", "top_level", "pointers"),
    [case[1:] for case in INVALID_RULES],
    ids=[case[0] for case in INVALID_RULES],
)
def test_check_reports_problems_at_pointers(rule: Any, top_level: bool, pointers: list[str]) -> None:
    problems = check_choice_rule(rule, P, top_level)
    assert sorted(p.pointer for p in problems) == sorted(pointers)
    for problem in problems:
        assert problem.rule == "SCHEMA_VALIDATION_FAILED"
        assert problem.severity == "error"
        assert problem.message
        assert problem.hint


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("/States/A~1B/Choices/2", "/States/A~1B/Choices/2/And/0/StringEquals"),
        ("/States/x~0y/Choices/0", "/States/x~0y/Choices/0/And/0/StringEquals"),
        ("", "/And/0/StringEquals"),
        (
            "/States/M/ItemProcessor/States/C/Choices/5",
            "/States/M/ItemProcessor/States/C/Choices/5/And/0/StringEquals",
        ),
    ],
)
def test_check_extends_the_given_pointer(base: str, expected: str) -> None:
    problems = check_choice_rule({"And": [NESTED_BAD], "Next": "N"}, base, True)
    assert [p.pointer for p in problems] == [expected]


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ({"Variable": "$.a", "NumericEquals": "1", "Next": "N"}, ["NumericEquals", "number"]),
        ({"Variable": "$.a", "TimestampEquals": "2016-03-14", "Next": "N"}, ["TimestampEquals", "timestamp"]),
        ({"Variable": "$.a", "BooleanEquals": "true", "Next": "N"}, ["BooleanEquals", "boolean"]),
        ({"Variable": "$.a[*]", "IsNull": True, "Next": "N"}, ["Variable", "Reference Path"]),
        ({"Variable": "$.a", "IsNull": True}, ["Next", "required"]),
        ({"Variable": "$.a", "IsNull": True, "Foo": 1, "Next": "N"}, ["Foo", "not supported"]),
        ({"And": [], "Next": "N"}, ["And", "non-empty"]),
        ({"StringEquals": "x", "Next": "N"}, ["Variable", "required"]),
    ],
)
def test_check_message_names_the_field_and_the_fault(rule: dict[str, Any], words: list[str]) -> None:
    (problem,) = check_choice_rule(rule, P, True)
    for word in words:
        assert word in problem.message


@pytest.mark.parametrize(
    ("field", "suggestion"),
    [
        ("variable", "Variable"),
        ("stringequals", "StringEquals"),
        ("NEXT", "Next"),
        ("isPresent", "IsPresent"),
    ],
)
def test_check_hint_suggests_the_right_case(field: str, suggestion: str) -> None:
    rule = {"Variable": "$.a", "IsNull": True, "Next": "N", field: 1}
    hints = [p.hint for p in check_choice_rule(rule, P, True) if p.pointer == f"{P}/{field}"]
    assert len(hints) == 1 and f"'{suggestion}'" in hints[0]
