"""Text transformations: every worked example of the spec plus edge cases, from data/transforms/*.json.

Data format: a list of {"type", "input" | "input_hex", "output" | "output_hex", "note"?, "table"?}.
Text fields hold one byte per character (U+0000-U+00FF, so byte 0xE9 is written "\\u00e9");
"table": "PRE_PARSE" selects the pre-parse registry.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wafpy.matching.transforms import PRE_PARSE, TRANSFORMS, UNSPECIFIED_CHOICES, chain, sort_transformations

DATA = Path(__file__).parent / "data" / "transforms"
ENUMS = Path(__file__).resolve().parents[1].parent / "shared" / "spec" / "wafv2-enums.json"

# The 31 TextTransformationType values of the WAFv2 API (botocore wafv2 2019-07-29), pinned here so
# the check works in a clone without the shared spec folder.
TEXT_TRANSFORMATION_TYPES = frozenset(
    {
        "NONE", "COMPRESS_WHITE_SPACE", "HTML_ENTITY_DECODE", "LOWERCASE", "CMD_LINE", "URL_DECODE",
        "BASE64_DECODE", "HEX_DECODE", "MD5", "REPLACE_COMMENTS", "ESCAPE_SEQ_DECODE", "SQL_HEX_DECODE",
        "CSS_DECODE", "JS_DECODE", "NORMALIZE_PATH", "NORMALIZE_PATH_WIN", "REMOVE_NULLS", "REPLACE_NULLS",
        "BASE64_DECODE_EXT", "URL_DECODE_UNI", "UTF8_TO_UNICODE", "REMOVE_WHITESPACE", "TRIM", "TRIM_LEFT",
        "TRIM_RIGHT", "REMOVE_COMMENTS_CHAR", "UPPERCASE", "CMD_LINE_WIN", "CMD_LINE_UNIX", "JS_DECODE_EXT",
        "SHA256",
    }
)  # fmt: skip
PRE_PARSE_TYPES = frozenset(
    {
        "NONE",
        "URL_DECODE",
        "URL_DECODE_UNI",
        "COMBINE_DUPLICATE_QUERY_ARGS_BY_COMMA",
        "REPLACE_SEMICOLONS_WITH_AMPERSANDS",
    }
)


def _bytes(case: dict[str, Any], field: str) -> bytes:
    if field + "_hex" in case:
        return bytes.fromhex(case[field + "_hex"])
    return str(case[field]).encode("latin-1")


def _load() -> list[Any]:
    params = []
    seen: set[str] = set()
    for path in sorted(DATA.glob("*.json")):
        for case in json.loads(path.read_text(encoding="utf-8")):
            table = case.get("table", "TRANSFORMS")
            shown = case.get("input", case.get("input_hex", ""))
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            base = ("PRE_PARSE:" if table == "PRE_PARSE" else "") + f"{case['type']}::{shown}"
            case_id, n = base, 2
            while case_id in seen:
                case_id, n = f"{base}#{n}", n + 1
            seen.add(case_id)
            params.append(
                pytest.param(table, case["type"], _bytes(case, "input"), _bytes(case, "output"), id=case_id)
            )
    return params


CASES = _load()


@pytest.mark.parametrize(("table", "kind", "data", "expected"), CASES)
def test_transformation_example(table: str, kind: str, data: bytes, expected: bytes) -> None:
    registry = PRE_PARSE if table == "PRE_PARSE" else TRANSFORMS
    assert registry[kind](data) == expected


def test_every_transformation_has_examples() -> None:
    covered = {param.values[1] for param in CASES if param.values[0] == "TRANSFORMS"}
    pre_parse = {param.values[1] for param in CASES if param.values[0] == "PRE_PARSE"}
    assert covered == set(TRANSFORMS)
    assert pre_parse == set(PRE_PARSE)


def test_registry_has_the_31_pinned_names() -> None:
    assert len(TEXT_TRANSFORMATION_TYPES) == 31
    assert set(TRANSFORMS) == TEXT_TRANSFORMATION_TYPES
    assert set(PRE_PARSE) == PRE_PARSE_TYPES


def test_registry_matches_enum_file() -> None:
    if not ENUMS.exists():
        message = "../shared/spec/wafv2-enums.json not found"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (required when CI=true)")
        pytest.skip(message)
    enums = json.loads(ENUMS.read_text(encoding="utf-8"))["enums"]
    assert set(TRANSFORMS) == set(enums["TextTransformationType"])
    assert set(PRE_PARSE) == set(enums["PreParseTextTransformationType"])
    assert set(enums["TextTransformationType"]) == TEXT_TRANSFORMATION_TYPES


def test_unspecified_choices_name_real_transformations() -> None:
    for key in UNSPECIFIED_CHOICES:
        name = key.removeprefix("PRE_PARSE ")
        assert name in TRANSFORMS or name in PRE_PARSE, key
        assert UNSPECIFIED_CHOICES[key]


# Inputs too large for the JSON files.
@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        ("HTML_ENTITY_DECODE", b"&#" + b"0" * 5000 + b"65;", b"A"),  # past int()'s 4300-digit limit
        ("HTML_ENTITY_DECODE", b"&#1" + b"0" * 5000 + b"66", b"B"),  # 10**5003 + 66: low byte 66
        ("HTML_ENTITY_DECODE", b"&#x1" + b"0" * 5000 + b"43", b"C"),
        ("COMPRESS_WHITE_SPACE", b"a" + b" \t" * 5000 + b"b", b"a b"),
        ("CMD_LINE", b"a" + b" ," * 5000 + b"/b", b"a/b"),
        ("URL_DECODE", b"%41" * 3000, b"A" * 3000),
        ("NORMALIZE_PATH", b"/a" * 2000 + b"/.." * 2001, b"/"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_large_inputs(kind: str, data: bytes, expected: bytes) -> None:
    assert TRANSFORMS[kind](data) == expected


# Fast paths: with nothing to decode, the very same object comes back (no copy per request).
@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("URL_DECODE", b"plain value"),
        ("URL_DECODE_UNI", b"plain value"),
        ("HTML_ENTITY_DECODE", b"plain value"),
        ("JS_DECODE", b"plain value"),
        ("JS_DECODE_EXT", b"plain value"),
        ("CSS_DECODE", b"plain value"),
        ("ESCAPE_SEQ_DECODE", b"plain value"),
        ("SQL_HEX_DECODE", b"plain value"),
        ("HEX_DECODE", b"plain value"),
        ("REPLACE_COMMENTS", b"plain value"),
        ("REMOVE_COMMENTS_CHAR", b"plain value"),
        ("NORMALIZE_PATH", b"/plain/path/"),
        ("UTF8_TO_UNICODE", b"plain value"),
        ("NONE", b"plain value"),
    ],
)
def test_nothing_to_do_returns_the_input_object(kind: str, data: bytes) -> None:
    assert TRANSFORMS[kind](data) is data


@pytest.mark.parametrize(
    ("types", "data", "expected"),
    [
        (["URL_DECODE", "LOWERCASE"], b"%41DMIN", b"admin"),
        (["LOWERCASE", "URL_DECODE"], b"%41DMIN", b"Admin"),
        (["URL_DECODE", "URL_DECODE"], b"%253Cscript%253E", b"<script>"),
        (["URL_DECODE", "HTML_ENTITY_DECODE"], b"%26lt%3Bx%26gt%3B", b"<x>"),
        (["HTML_ENTITY_DECODE", "URL_DECODE"], b"%26lt%3Bx%26gt%3B", b"&lt;x&gt;"),
        (["URL_DECODE", "COMPRESS_WHITE_SPACE", "LOWERCASE"], b"UNION%20%20%09SELECT", b"union select"),
        (["URL_DECODE", "COMPRESS_WHITE_SPACE", "LOWERCASE"], b"UNION%2520SELECT", b"union%20select"),
        (["NONE", "URL_DECODE", "NONE", "REMOVE_NULLS"], b"a%00b", b"ab"),
        (["BASE64_DECODE", "URL_DECODE", "LOWERCASE", "CMD_LINE"], b"Q01EJTIwL0M=", b"cmd/c"),
        (["NONE"], b"A%41", b"A%41"),
        ([], b"A%41", b"A%41"),
    ],
    ids=lambda value: ",".join(value) or "empty" if isinstance(value, list) else None,
)
def test_chain_applies_in_order(types: list[str], data: bytes, expected: bytes) -> None:
    assert chain(types)(data) == expected


def test_chain_pre_parse_table() -> None:
    steps = chain(["URL_DECODE", "REPLACE_SEMICOLONS_WITH_AMPERSANDS"], table=PRE_PARSE)
    assert steps(b"a%3B1+2;b") == b"a&1+2&b"


def test_chain_is_interned_and_drops_none() -> None:
    assert chain(["URL_DECODE", "LOWERCASE"]) is chain(("URL_DECODE", "LOWERCASE"))
    assert chain(["NONE", "LOWERCASE"]) is TRANSFORMS["LOWERCASE"]
    assert chain([]) is chain(["NONE"])
    assert chain(["URL_DECODE"], table=PRE_PARSE) is PRE_PARSE["URL_DECODE"]
    assert chain(["URL_DECODE"]) is not chain(["URL_DECODE"], table=PRE_PARSE)


@pytest.mark.parametrize("types", [["URL_DECODE", "NOPE"], ["COMBINE_DUPLICATE_QUERY_ARGS_BY_COMMA"]])
def test_chain_rejects_unknown_names(types: list[str]) -> None:
    with pytest.raises(ValueError, match="unknown text transformation"):
        chain(types)


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([(20, "LOWERCASE"), (3, "URL_DECODE")], ("URL_DECODE", "LOWERCASE")),
        ([(0, "NONE")], ("NONE",)),
        ([], ()),
        ([(30, "C"), (10, "A"), (20, "B")], ("A", "B", "C")),
    ],
)
def test_sort_transformations(items: list[tuple[int, str]], expected: tuple[str, ...]) -> None:
    assert sort_transformations(items) == expected


def test_sort_transformations_rejects_duplicate_priorities() -> None:
    with pytest.raises(ValueError, match="priority 1"):
        sort_transformations([(1, "URL_DECODE"), (1, "LOWERCASE")])


# -- properties ---------------------------------------------------------------------------------

# Random bytes rarely contain an escape; mix in the fragments the decoders look for.
FRAGMENTS = [b"%", b"\\", b"&", b"#", b";", b"u", b"U", b"x", b"X", b"{", b"}", b"ff", b"d8", b"dc", b"41"]
FRAGMENTS += [b"0", b"7", b"/", b"*", b"-", b"<!", b".", b"..", b"0x", b"=", b"+", b"lt", b"amp", b"\x00"]
FRAGMENTS += [b" ", b"\t", b"\n", b"\xa0", b"\xc3", b"\xa9", b"\xf0\x9f", b"\xff", b"A", b"^", b'"', b","]
ESCAPY = st.lists(st.sampled_from(FRAGMENTS) | st.binary(max_size=3), max_size=40).map(b"".join)
ANY_BYTES = st.binary(max_size=200) | ESCAPY

IDEMPOTENT = [
    "NONE", "LOWERCASE", "UPPERCASE", "TRIM", "TRIM_LEFT", "TRIM_RIGHT", "REMOVE_NULLS", "REPLACE_NULLS",
    "REMOVE_WHITESPACE", "COMPRESS_WHITE_SPACE", "NORMALIZE_PATH", "NORMALIZE_PATH_WIN", "CMD_LINE",
]  # fmt: skip


@pytest.mark.slow
@given(kind=st.sampled_from(sorted(TRANSFORMS)), data=ANY_BYTES)
def test_every_transformation_is_total(kind: str, data: bytes) -> None:
    assert type(TRANSFORMS[kind](data)) is bytes


@pytest.mark.slow
@given(kind=st.sampled_from(sorted(PRE_PARSE)), data=ANY_BYTES)
def test_every_pre_parse_transformation_is_total(kind: str, data: bytes) -> None:
    assert type(PRE_PARSE[kind](data)) is bytes


@pytest.mark.slow
@given(kind=st.sampled_from(IDEMPOTENT), data=ANY_BYTES)
def test_idempotent_transformations(kind: str, data: bytes) -> None:
    once = TRANSFORMS[kind](data)
    assert TRANSFORMS[kind](once) == once


@pytest.mark.slow
@given(data=ANY_BYTES)
def test_normalize_path_on_absolute_paths(data: bytes) -> None:
    once = TRANSFORMS["NORMALIZE_PATH"](b"/" + data)
    assert once.startswith(b"/")
    assert b"//" not in once and b"/./" not in once and b"/../" not in once
    assert TRANSFORMS["NORMALIZE_PATH"](once) == once


@given(data=st.binary(max_size=200))
def test_url_decode_inverts_quote(data: bytes) -> None:
    quoted = urllib.parse.quote_from_bytes(data).encode("ascii")
    assert TRANSFORMS["URL_DECODE"](quoted) == data
    assert TRANSFORMS["URL_DECODE_UNI"](quoted) == data
    assert PRE_PARSE["URL_DECODE"](quoted) == data


@pytest.mark.slow
@given(data=ANY_BYTES)
def test_url_decode_matches_stdlib_unquote_plus(data: bytes) -> None:
    # The stdlib keeps invalid escapes exactly as the spec requires.
    expected = urllib.parse.unquote_to_bytes(data.replace(b"+", b" "))
    assert TRANSFORMS["URL_DECODE"](data) == expected
    assert PRE_PARSE["URL_DECODE"](data) == urllib.parse.unquote_to_bytes(data)


VALID_ESCAPES = st.lists(
    st.sampled_from(
        [b"\\", b"\\x41", b"\\\\", b"%41", b"%5C", b"%5c%78", b"%ff", b"%00", b"+", b"a", b"\xe9"]
    ),
    max_size=30,
).map(b"".join)


@pytest.mark.slow
@given(data=VALID_ESCAPES)
def test_url_decode_with_only_valid_escapes_and_backslashes(data: bytes) -> None:
    # Only valid escapes: the fast path (through the C escape decoder) must still treat each
    # backslash as a plain byte.
    assert TRANSFORMS["URL_DECODE"](data) == urllib.parse.unquote_to_bytes(data.replace(b"+", b" "))
    assert TRANSFORMS["URL_DECODE_UNI"](data) == urllib.parse.unquote_to_bytes(data.replace(b"+", b" "))


@given(data=st.binary(max_size=200))
def test_binary_decoders_invert_their_encoders(data: bytes) -> None:
    assert TRANSFORMS["HEX_DECODE"](data.hex().encode()) == data
    assert TRANSFORMS["BASE64_DECODE"](base64.b64encode(data)) == data
    assert TRANSFORMS["BASE64_DECODE_EXT"](base64.urlsafe_b64encode(data)) == data
    spread = b" .".join(base64.b64encode(data)[i : i + 3] for i in range(0, 300, 3))
    assert TRANSFORMS["BASE64_DECODE_EXT"](spread) == data


@given(text=st.text(max_size=50))
def test_utf8_to_unicode_escapes_each_code_point(text: str) -> None:
    expected = "".join(ch if ord(ch) < 0x80 else f"%u{ord(ch):04x}" for ch in text)
    assert TRANSFORMS["UTF8_TO_UNICODE"](text.encode("utf-8")) == expected.encode("ascii")


@given(text=st.text(max_size=50))
def test_js_decode_ext_braced_escapes_give_utf8(text: str) -> None:
    escaped = "".join(f"\\u{{{ord(ch):x}}}" for ch in text).encode("ascii")
    assert TRANSFORMS["JS_DECODE_EXT"](escaped) == text.encode("utf-8")


ESCAPE_REFERENCES: list[tuple[str, Callable[[int], bytes], Callable[[int], bytes]]] = [
    # (type, how byte b is escaped, what comes back)
    ("URL_DECODE", lambda b: b"%%%02X" % b, lambda b: bytes((b,))),
    ("JS_DECODE", lambda b: b"\\x%02x" % b, lambda b: bytes((b,))),
    ("JS_DECODE", lambda b: b"\\u00%02x" % b, lambda b: bytes((b,))),
    ("JS_DECODE", lambda b: b"\\%03o" % b, lambda b: bytes((b,))),
    ("ESCAPE_SEQ_DECODE", lambda b: b"\\x%02x" % b, lambda b: bytes((b,))),
    ("CSS_DECODE", lambda b: b"\\%06x" % b, lambda b: bytes((b,))),
    ("HTML_ENTITY_DECODE", lambda b: b"&#%d;" % b, lambda b: bytes((b,))),
    ("URL_DECODE_UNI", lambda b: b"%%uff%02x" % b, lambda b: bytes((b + 0x20 if 0 < b < 0x5F else b,))),
    ("CSS_DECODE", lambda b: b"\\ff%02x" % b, lambda b: bytes((b + 0x20 if 0 < b < 0x5F else b,))),
]


@pytest.mark.parametrize(
    ("kind", "escape", "result"), ESCAPE_REFERENCES, ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_byte_value_escapes(
    kind: str, escape: Callable[[int], bytes], result: Callable[[int], bytes]
) -> None:
    for b in range(256):
        assert TRANSFORMS[kind](b"<" + escape(b) + b">") == b"<" + result(b) + b">", b
