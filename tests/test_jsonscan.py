"""wafpy.load.jsonscan: the lark-free reader builds exactly what the lark parser builds, or gives up.

Also: a process that imports wafpy, or loads a valid web ACL, does not import lark, OpenSSL
(hashlib) or the command-line tools; each of those costs resident memory for good.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_parse import MALFORMED
from wafpy.errors import RulesetError
from wafpy.load import parse
from wafpy.load.jsonscan import parse_json, scan_json

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
)
_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=4), children, max_size=5)
    ),
    max_leaves=30,
)
_blanks = st.text(alphabet=" \t\n\r", max_size=3)


def _write(value: Any, draw_blank: Callable[[], str], ascii_only: bool) -> str:
    """JSON text of `value` with drawn whitespace at every place JSON allows it."""
    if isinstance(value, dict):
        if not value:
            return "{" + draw_blank() + "}"
        parts = [
            draw_blank()
            + json.dumps(k, ensure_ascii=ascii_only)
            + draw_blank()
            + ":"
            + draw_blank()
            + _write(v, draw_blank, ascii_only)
            + draw_blank()
            for k, v in value.items()
        ]
        return "{" + ",".join(parts) + "}"
    if isinstance(value, list):
        if not value:
            return "[" + draw_blank() + "]"
        return (
            "["
            + ",".join(draw_blank() + _write(v, draw_blank, ascii_only) + draw_blank() for v in value)
            + "]"
        )
    text: str = json.dumps(value, ensure_ascii=ascii_only)
    return text


@settings(max_examples=300, deadline=None)
@given(value=_values, ascii_only=st.booleans(), data=st.data())
def test_scanner_builds_what_the_lark_parser_builds(value: Any, ascii_only: bool, data: Any) -> None:
    def blank() -> str:
        drawn: str = data.draw(_blanks)
        return drawn

    text = blank() + _write(value, blank, ascii_only) + blank()
    scanned = scan_json(text)
    assert scanned is not None
    assert scanned == parse.parse_json(text)  # values, raw numbers, lines and columns


@pytest.mark.parametrize(
    "text",
    [
        '{"a": "x\\"y\\u00e9\\ud83d\\ude00", "b\\n": [1, -0.5e+3, 0, true, false, null]}',
        '\r\n\t{"a":\r\n[ {"b" :{}} , [ ], "c"\n,\n2]\r}\n',
        "12",
        '"top"',
        "[" * 100 + "]" * 100,
    ],
)
def test_scanner_agrees_on_escapes_blanks_scalars_and_depth(text: str) -> None:
    assert scan_json(text) == parse.parse_json(text)


@pytest.mark.parametrize("case", MALFORMED, ids=[case[0] for case in MALFORMED])
def test_scanner_gives_up_on_malformed_text_and_lark_reports_it(
    case: tuple[str, str | bytes, str, int, int],
) -> None:
    _, text, message, line, column = case
    if isinstance(text, str):
        assert scan_json(text) is None
    with pytest.raises(RulesetError) as caught:
        parse_json(text)
    assert (caught.value.message, caught.value.line, caught.value.column) == (message, line, column)


@pytest.mark.parametrize(
    "text", ["tru", "[1,]", '{"a" 1}', "01", "1.", "[1]x", "", " ", '"\x01"', "nul", "-"]
)
def test_scanner_gives_up_on_what_is_not_json(text: str) -> None:
    assert scan_json(text) is None


def test_bytes_and_byte_order_mark_read_without_lark() -> None:
    text = '{"a": [1, "é"]}'
    expected = parse.parse_json(text)
    assert parse_json(text.encode()) == expected
    assert parse_json(b"\xef\xbb\xbf" + text.encode()) == expected
    assert parse_json("\ufeff" + text) == expected


_PROBE = """
import sys
import wafpy
from wafpy import WAFMiddleware
heavy = ("lark", "hashlib", "_hashlib", "rich", "difflib", "socket", "yaml", "msgspec", "tempfile",
         "wafpy.cli", "wafpy.replay", "wafpy.logs", "wafpy.load.parse")
print(sorted(m for m in heavy if m in sys.modules))
wafpy.load_web_acl('''{"Name": "a", "DefaultAction": {"Allow": {}}, "Rules": [{"Name": "r", "Priority": 1,
  "Statement": {"ByteMatchStatement": {"SearchString": "x", "FieldToMatch": {"UriPath": {}},
  "TextTransformations": [{"Priority": 0, "Type": "NONE"}], "PositionalConstraint": "CONTAINS"}},
  "Action": {"Block": {}}, "VisibilityConfig": {"SampledRequestsEnabled": false,
  "CloudWatchMetricsEnabled": false, "MetricName": "r"}}],
  "VisibilityConfig": {"SampledRequestsEnabled": false, "CloudWatchMetricsEnabled": false,
  "MetricName": "a"}}''')
print(sorted(m for m in heavy if m in sys.modules))
"""


def test_import_and_a_valid_load_leave_heavy_modules_unloaded() -> None:
    # A fresh interpreter: this test process has long imported everything.
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["[]", "[]"]
