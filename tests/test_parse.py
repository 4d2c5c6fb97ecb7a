"""wafpy.load.parse: strict JSON in, positioned jsontree out, syntax errors in plain words."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lark import Lark

from wafpy.errors import RulesetError
from wafpy.load.jsontree import JArray, JBool, JMember, JNull, JNumber, JObject, JString, JValue, to_python
from wafpy.load.parse import grammar_text, parse_json

REPO = Path(__file__).resolve().parent.parent

KEY = "a key (a double-quoted string and ':')"

# text -> (message, line, column)
MALFORMED: list[tuple[str, str | bytes, str, int, int]] = [
    ("missing comma", '{"a": 1 "b": 2}', "unexpected string \"b\" — expected ',' or '}'", 1, 9),
    ("missing comma in array", "[1 2]", "unexpected number 2 — expected ',' or ']'", 1, 4),
    ("missing comma after nested", '[[1] "x"]', "unexpected string \"x\" — expected ',' or ']'", 1, 6),
    (
        "trailing comma in object",
        '{"a": 1,\n}',
        "unexpected '}' after ',' — expected a key (JSON does not allow a trailing comma)",
        2,
        1,
    ),
    (
        "trailing comma in array",
        "[1, 2, ]",
        "unexpected ']' after ',' — expected a value (JSON does not allow a trailing comma)",
        1,
        8,
    ),
    ("unterminated string", '{"a": "abc}', "unterminated string — the document ends inside it", 1, 7),
    (
        "string across lines",
        '{"a": "abc\n"}',
        "unterminated string — a string must close on the line it starts",
        1,
        7,
    ),
    ("bad escape", '{"a": "a\\qb"}', "invalid escape '\\q' in string", 1, 9),
    (
        "bad unicode escape",
        '["\\u12G4"]',
        "invalid \\u escape in string — expected four hexadecimal digits",
        1,
        3,
    ),
    ("bad escape in key", '{"x": 1, "b\\q": 2}', "invalid escape '\\q' in string", 1, 12),
    ("raw tab in string", '{"a":\n  "x\ty"}', "control character U+0009 must be escaped in a string", 2, 5),
    ("bare word", '{"a": foo}', "unexpected 'foo' — expected a value", 1, 7),
    ("NaN", "[NaN]", "unexpected 'NaN' — expected a value or ']'", 1, 2),
    ("literal with suffix", "[trueish]", "unexpected 'trueish' — expected a value or ']'", 1, 2),
    ("leading zero", '{"a": 01}', "invalid number '01' — leading zeros are not allowed", 1, 7),
    ("negative leading zero", "-012", "invalid number '-012' — leading zeros are not allowed", 1, 1),
    ("fraction without digits", "[1.]", "invalid number '1.'", 1, 2),
    ("exponent without digits", "[1e]", "invalid number '1e'", 1, 2),
    ("lone minus", "[-]", "unexpected '-' — expected a value or ']'", 1, 2),
    ("unexpected EOF in object", '{"a": 1', "unexpected end of input — expected ',' or '}'", 1, 8),
    ("unexpected EOF after key", '{\n  "a":\n', "unexpected end of input — expected a value", 2, 7),
    ("unexpected EOF in array", "[1, [2]", "unexpected end of input — expected ',' or ']'", 1, 8),
    (
        "two top-level values",
        "{}\n{}",
        "unexpected '{' after the end of the JSON value — expected end of input",
        2,
        1,
    ),
    (
        "extra closing brace",
        '{"a":1}}',
        "unexpected '}' after the end of the JSON value — expected end of input",
        1,
        8,
    ),
    ("empty input", "", "empty document — expected a JSON value", 1, 1),
    ("blank input", " \n\t", "empty document — expected a JSON value", 1, 1),
    ("missing colon", '{"a" 1}', "unexpected '1' after the key \"a\" — expected ':'", 1, 6),
    ("missing colon, later key", '{"x": 1, "a"}', "unexpected '}' after the key \"a\" — expected ':'", 1, 13),
    (
        "single quotes",
        "{'a': 1}",
        f"unexpected \"'\" — expected {KEY} or '}}' (JSON strings use double quotes)",
        1,
        2,
    ),
    ("comment", '{"a": 1} // note', "unexpected '/' — expected end of input (JSON has no comments)", 1, 10),
    ("number as key", '{"a": 1, 2: 3}', f"unexpected '2' after ',' — expected {KEY}", 1, 10),
    ("double comma", "[1,,2]", "unexpected ',' — expected a value", 1, 4),
    ("leading comma", "[,1]", "unexpected ',' — expected a value or ']'", 1, 2),
    ("mismatched bracket", '{"a": [1,2}', "unexpected '}' — expected ',' or ']'", 1, 11),
    ("missing value", '{"a" : }', "unexpected '}' — expected a value", 1, 8),
    (
        "invalid UTF-8",
        b'{\n  "a": "caf\xe9"\n}',
        "invalid UTF-8: byte 0xe9 cannot start or continue a character",
        2,
        12,
    ),
]


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_text_is_reported_in_plain_words(
    text: str | bytes, message: str, line: int, column: int
) -> None:
    with pytest.raises(RulesetError) as info:
        parse_json(text, source="acl.json")
    error = info.value
    assert (error.message, error.line, error.column) == (message, line, column)
    assert error.source == "acl.json"
    assert str(error).startswith(f"acl.json:{line}:{column}: ")
    # The context is the offending line and a caret under the column.
    assert error.context is not None
    shown, caret = error.context.split("\n")
    assert caret == " " * (column - 1) + "^"
    assert len(shown) >= column - 1


def test_context_shows_the_offending_line() -> None:
    with pytest.raises(RulesetError) as info:
        parse_json('{\n  "a": 1,\n  "b": tru\n}')
    assert info.value.context == '  "b": tru\n       ^'


def test_context_of_a_long_line_is_a_window_around_the_column() -> None:
    text = "[" + ", ".join(["1"] * 200) + ", x]"
    with pytest.raises(RulesetError) as info:
        parse_json(text)
    error = info.value
    assert error.column == len(text) - 1
    shown, caret = (error.context or "").split("\n")
    assert shown.startswith("...") and len(shown) <= 110
    assert shown[len(caret) - 1] == "x"


def test_non_text_input_is_a_ruleset_error() -> None:
    with pytest.raises(RulesetError, match=r"expected JSON text \(str or bytes\), got dict"):
        parse_json({"a": 1})  # type: ignore[arg-type]


@pytest.mark.parametrize("text", [b'\xef\xbb\xbf{"a": 1}', '\ufeff{"a": 1}'], ids=["bytes", "str"])
def test_byte_order_mark_is_ignored(text: str | bytes) -> None:
    value = parse_json(text)
    assert isinstance(value, JObject)
    assert (value.line, value.column) == (1, 1)
    assert to_python(value) == {"a": 1}


def test_utf8_bytes_are_decoded() -> None:
    assert to_python(parse_json('{"k": "café ✓"}'.encode())) == {"k": "café ✓"}


POSITIONS_DOC = """{
    "Name": "acl",
    "Rules": [
        {
            "Priority": 1, "Tags": ["a",
                "b", 3,
            true, null, -2.5e1],
            "Nested": {"Empty": {}, "List": []}
        }
    ]
}"""


def test_values_and_keys_carry_their_positions() -> None:
    root = parse_json(POSITIONS_DOC)
    assert isinstance(root, JObject)
    assert (root.line, root.column) == (1, 1)
    name, rules = root.members
    assert (name.key, name.key_line, name.key_column) == ("Name", 2, 5)
    assert name.value == JString("acl", 2, 13)
    assert (rules.key_line, rules.key_column) == (3, 5)
    assert isinstance(rules.value, JArray) and (rules.value.line, rules.value.column) == (3, 14)
    rule = rules.value.items[0]
    assert isinstance(rule, JObject) and (rule.line, rule.column) == (4, 9)
    priority, tags, nested = rule.members
    assert (priority.key_line, priority.key_column, priority.value) == (5, 13, JNumber(1, "1", 5, 25))
    assert (tags.key_line, tags.key_column) == (5, 28)
    assert isinstance(tags.value, JArray)
    assert tags.value.items == (
        JString("a", 5, 37),
        JString("b", 6, 17),
        JNumber(3, "3", 6, 22),
        JBool(True, 7, 13),
        JNull(7, 19),
        JNumber(-25.0, "-2.5e1", 7, 25),
    )
    assert isinstance(nested.value, JObject)
    empty, empty_list = nested.value.members
    assert empty.value == JObject((), 8, 33)
    assert empty_list.value == JArray((), 8, 45)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"plain"', "plain"),
        ('"tab\\there"', "tab\there"),
        ('"quote \\" slash \\/ backslash \\\\"', 'quote " slash / backslash \\'),
        ('"\\b\\f\\n\\r"', "\b\f\n\r"),
        ('"caf\\u00e9"', "café"),
        ('"\\u00E9\\u4e2d"', "é中"),
        ('"\\ud83d\\ude00"', "\U0001f600"),  # a surrogate pair is one character
        ('"\\ud800"', "\ud800"),  # a lone surrogate is valid JSON text
        ('"raw é ✓"', "raw é ✓"),
    ],
)
def test_strings_are_unescaped(text: str, expected: str) -> None:
    assert parse_json(text) == JString(expected, 1, 1)
    # The same string as a key, as a first array item and as a later item (MORE_SCALARS).
    doc = parse_json(f"{{{text}: [{text}, {text}]}}")
    assert isinstance(doc, JObject)
    member = doc.members[0]
    assert member.key == expected
    assert isinstance(member.value, JArray)
    assert [item.value for item in member.value.items if isinstance(item, JString)] == [expected, expected]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("-0", 0),
        ("12", 12),
        ("-7", -7),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("2E-2", 0.02),
        ("-0.0", -0.0),
    ],
)
def test_numbers_are_int_without_fraction_or_exponent(text: str, value: int | float) -> None:
    node = parse_json(text)
    assert isinstance(node, JNumber)
    assert node.raw == text and node.value == value
    assert type(node.value) is type(value)


def _check_positions(text: str, value: JValue) -> None:
    """Every node's line:column points at its first character (keys: at their opening quote)."""
    lines = text.split("\n")

    def at(line: int | None, column: int | None) -> str:
        assert line is not None and column is not None
        return lines[line - 1][column - 1 :]

    def walk(node: JValue) -> None:
        rest = at(node.line, node.column)
        if isinstance(node, JObject):
            assert rest.startswith("{")
            for member in node.members:
                assert at(member.key_line, member.key_column).startswith(json.dumps(member.key)[:1])
                walk(member.value)
        elif isinstance(node, JArray):
            assert rest.startswith("[")
            for item in node.items:
                walk(item)
        elif isinstance(node, JString):
            assert rest.startswith('"')
        elif isinstance(node, JNumber):
            assert rest.startswith(node.raw)
        elif isinstance(node, JBool):
            assert rest.startswith("true" if node.value else "false")
        else:
            assert rest.startswith("null")

    walk(value)


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=5), children, max_size=5)
    ),
    max_leaves=25,
)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(value=_json_values, indent=st.sampled_from([None, 0, 2, 4]), ascii_only=st.booleans())
def test_parse_agrees_with_json_loads(value: Any, indent: int | None, ascii_only: bool) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=ascii_only)
    parsed = parse_json(text)
    assert to_python(parsed) == json.loads(text)
    _check_positions(text, parsed)


def test_duplicate_keys_are_kept_in_order() -> None:
    doc = parse_json('{"a": 1, "b": 2, "a": 3}')
    assert isinstance(doc, JObject)
    assert [(m.key, to_python(m.value)) for m in doc.members] == [("a", 1), ("b", 2), ("a", 3)]
    assert isinstance(doc.members[2], JMember)


def test_key_after_nested_value_is_not_taken_for_an_array_item() -> None:
    # After a nested value both a next key and further array scalars may follow in the grammar.
    doc = parse_json('{"a": [1], "b": {"c": [2, "x"]}, "d": "e"}')
    assert to_python(doc) == {"a": [1], "b": {"c": [2, "x"]}, "d": "e"}


def test_grammar_has_no_collisions_or_conflicts() -> None:
    # strict=True makes lark raise on shift/reduce conflicts and on terminals that can match the
    # same text at the same priority (checked with interegular).
    parser = Lark(grammar_text(), parser="lalr", lexer="contextual", strict=True)
    assert parser.parse('{"a": [1, "b", {"c": null}]}') is not None


def test_grammar_file_is_the_one_shipped_at_repo_top_level() -> None:
    assert grammar_text() == (REPO / "grammars" / "webacl.lark").read_text(encoding="utf-8")


@pytest.mark.slow
def test_grammar_is_found_from_another_working_directory(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    code = "from wafpy.load.parse import parse_json; print(parse_json('[1, 2]').items[1].column)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "5"
