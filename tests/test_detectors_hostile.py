"""Hostile values cost the detectors time linear in their length, and no length hides an attack.

A request is hostile input: the SQLi and XSS detectors read every value whole, whatever its length
or content, in time proportional to it. Times are never compared with a constant: each test
compares the cost of one value with that of a value ten times as long (or twice as long, for the
pattern that used to be exponential), measured in the same run.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from string import ascii_lowercase

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wafpy.matching.detectors import sqli_tokens
from wafpy.matching.detectors import xss as _xss
from wafpy.matching.detectors.sqli import detect_sqli
from wafpy.matching.detectors.sqli_reading import Reading
from wafpy.matching.detectors.xss import detect_xss

pytestmark = pytest.mark.slow  # timing checks on hostile input

# Linear time makes the cost of a value ten times as long about ten times as high; quadratic time
# a hundred times, and the patterns this replaces were worse than that.
LINEAR_CEILING = 15.0


def _cost(fn: Callable[[bytes], object], value: bytes) -> float:
    """CPU seconds for one call: the best of five rounds, each repeated to at least 20 ms."""
    fn(value)
    number = 1
    while True:
        start = time.process_time()
        for _ in range(number):
            fn(value)
        elapsed = time.process_time() - start
        if elapsed >= 0.02:
            break
        number *= 2
    best = elapsed / number
    for _ in range(4):
        start = time.process_time()
        for _ in range(number):
            fn(value)
        best = min(best, (time.process_time() - start) / number)
    return best


def _repeat(unit: bytes, size: int) -> bytes:
    return (unit * (size // len(unit) + 1))[:size]


def _sqli_low(value: bytes) -> object:
    return detect_sqli(value, "LOW")


def _sqli_high(value: bytes) -> object:
    return detect_sqli(value, "HIGH")


def test_xss_quote_break_with_slashes_is_not_exponential() -> None:
    """``onabc= "a=/a=/...>``: an attribute value may hold "/", which also separates attributes;
    a backtracking engine tried every split (each two more repeats cost four times as much)."""

    def value(repeats: int) -> bytes:
        return b'onabc= "' + b"a=/" * repeats + b">"

    assert _cost(detect_xss, value(24)) / _cost(detect_xss, value(12)) < 6  # linear: about 2
    assert _cost(detect_xss, value(30_000)) / _cost(detect_xss, value(3_000)) < LINEAR_CEILING


# (name, detector, value of a given size): hostile shapes for every step of each detector. The
# sizes compared, 1.5 KB and 15 KB, stay under the 16 KB that long values were once cut to.
FAMILIES: list[tuple[str, Callable[[bytes], object], Callable[[int], bytes]]] = [
    ("xss: unclosed tags", detect_xss, lambda n: _repeat(b"<a ", n)),
    ("xss: unclosed tags with handlers", detect_xss, lambda n: _repeat(b"<a onabc ", n)),
    ("xss: unclosed tags with styles", detect_xss, lambda n: _repeat(b"<a/ style ", n)),
    ("xss: quote breaks", detect_xss, lambda n: _repeat(b"'a=", n) + b" onabc="),
    ("xss: attribute values with slashes", detect_xss, lambda n: b'onabc= "' + _repeat(b"a=/", n) + b">"),
    ("xss: one run of on", detect_xss, lambda n: _repeat(b"on", n)),
    ("xss: handlers without a call", detect_xss, lambda n: _repeat(b" onabc=", n)),
    ("xss: quotes of every kind", detect_xss, lambda n: _repeat(b"'\"`", n) + b" onabc="),
    ("xss: CSS comment openers", detect_xss, lambda n: _repeat(b"/*", n) + b"expression("),
    ("xss: HTML comment openers", detect_xss, lambda n: _repeat(b"<!--", n)),
    ("xss: character references", detect_xss, lambda n: _repeat(b"&#1", n) + b"javascript:"),
    ("xss: schemes in words", detect_xss, lambda n: _repeat(b"ajavascript:", n)),
    ("sqli: quote breaks before arithmetic", _sqli_low, lambda n: _repeat(b"'-", n)),
    ("sqli: quote breaks in words", _sqli_high, lambda n: _repeat(b"x'-y ", n)),
    ("sqli: quote breaks before comments", _sqli_low, lambda n: _repeat(b"x' /*", n)),
    ("sqli: quote breaks before line comments", _sqli_low, lambda n: _repeat(b"x'-- ", n)),
    ("sqli: AND/OR before operands", _sqli_low, lambda n: _repeat(b"y=1 or 1 y ", n)),
    ("sqli: windows starting off every chain", _sqli_low, lambda n: _repeat(b"<||", n)),
    ("sqli: unclosed bracketed names", _sqli_high, lambda n: _repeat(b"[||char(", n)),
    ("sqli: a string never closed", _sqli_low, lambda n: b"x' or '" + _repeat(b"a", n)),
    ("sqli: a comment never closed", _sqli_low, lambda n: b"1 or 1=" + _repeat(b"/*", n)),
    ("sqli: calls", _sqli_high, lambda n: _repeat(b"(sleep ", n)),
    ("sqli: statements", _sqli_high, lambda n: _repeat(b"; declare ", n)),
    ("sqli: backslashes in strings", _sqli_low, lambda n: b"' or '" + _repeat(b"\\'", n)),
]


@pytest.mark.parametrize(("name", "detect", "value"), FAMILIES, ids=[f[0] for f in FAMILIES])
def test_cost_grows_linearly_with_the_value(
    name: str, detect: Callable[[bytes], object], value: Callable[[int], bytes]
) -> None:
    small, large = _cost(detect, value(1_500)), _cost(detect, value(15_000))
    assert large / small < LINEAR_CEILING, f"{name}: 15 KB costs {large / small:.1f} x 1.5 KB"


# --- no length hides an attack ----------------------------------------------------------------
# Paddings that are benign on their own, including ones dense with places where an injection
# could start (a bounded number of such places used to be read, the first ones).
PADDINGS = {
    "letters": b"a",
    "prose": b"Great shirt, and the delivery was quick: would buy again. ",
    "json": b'{"id": 7, "name": "Blue shirt", "qty": 2, "note": "gift wrap it"}, ',
    "quote breaks": b"x'-y ",
    "or operands": b"1 or 1 y ",
}
SQLI_ATTACKS = [
    b" 1' OR '1'='1",
    b" 1 UNION SELECT username, password FROM users--",
    b" 1; DROP TABLE users--",
]
XSS_ATTACKS = [
    b" <script>alert(1)</script>",
    b' "><img src=x onerror=alert(1)>',
    b' <a href="javascript:alert(1)">x</a>',
]
SIZES = [8 * 1024, 16 * 1024, 64 * 1024]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("padding", list(PADDINGS))
def test_sqli_after_long_padding_is_found(padding: str, size: int) -> None:
    pad = _repeat(PADDINGS[padding], size)
    for sensitivity in ("LOW", "HIGH"):
        assert detect_sqli(pad, sensitivity) is None
        for attack in SQLI_ATTACKS:
            found = detect_sqli(pad + attack, sensitivity)
            assert found is not None and all(found), (padding, size, sensitivity, attack)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("padding", list(PADDINGS))
def test_xss_after_long_padding_is_found(padding: str, size: int) -> None:
    pad = _repeat(PADDINGS[padding], size)
    assert detect_xss(pad) is None
    for attack in XSS_ATTACKS:
        assert detect_xss(pad + attack) is not None, (padding, size, attack)


def test_many_benign_triggers_do_not_hide_an_injection() -> None:
    """Twenty benign quote breaks, 100 bytes, used to exhaust the windows read per value."""
    value = b"x'-y " * 20 + b" x' OR '1'='1"
    assert detect_sqli(b"x'-y " * 20, "LOW") is None
    assert detect_sqli(value, "LOW") == ("'-y  x'", "OR", "'1'", "=", "'1")


# --- the linear XSS patterns answer as the backtracking ones did ----------------------------------
# The patterns detect_xss used before it read values whole, kept here to check the linear ones
# against on short values, where backtracking is still quick. Values are lower-cased first.
_OLD_TAG = r"<[\x00/\s]*(?:[a-z][a-z0-9_-]*:)?([a-z][a-z0-9_-]*)"
_OLD_IN_TAG = r"<[\x00/]*[a-z][^>]*?[\s/\"'`\x00](on[a-z]{3,})[\s\x00]*="
_OLD_RISKY = (
    r"<[\x00/]*[a-z][^>]*?[\s/\"'`\x00](style|datasrc|datafld|dataformatas|xmlns(?::[a-z]+)?"
    r"|formaction)[\s\x00]*="
)
_OLD_AFTER_QUOTE = r"[\"'`][\s/\x00]*(?:[a-z-]+(?:=[^\s>]*)?[\s/]+)*(on[a-z]{3,})[\s\x00]*="
_OLD_LOOSE = r"(on[a-z]{3,})[\s\x00]*=[^=&]*[(`]"

_PIECES = [
    "<", ">", "/", "=", "'", '"', "`", " ", "\t", "\x00", "\x0b", "\x85", "\xa0", "a", "on", "onload",
    "onerror=", "<a", "<img", "<svg", "svg:", "script", "x", "-", "\n", "(", "style", "xmlns:a", "data",
    "=/", "1", "<!", "<?x",
]  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=14).map("".join))
def test_linear_xss_patterns_agree_with_the_backtracking_ones(lower: str) -> None:
    tag = re.compile(_OLD_TAG, re.IGNORECASE)
    in_tag = re.compile(_OLD_IN_TAG, re.IGNORECASE | re.DOTALL)
    risky = re.compile(_OLD_RISKY, re.IGNORECASE | re.DOTALL)
    after_quote = re.compile(_OLD_AFTER_QUOTE, re.IGNORECASE)
    loose = re.compile(_OLD_LOOSE, re.IGNORECASE)
    raw = lower.encode("latin-1")

    bad = next(
        (m.group(1) for m in tag.finditer(lower) if m.group(1) in _xss._BAD_TAGS - _xss._NEEDS_MORE), None
    )
    m = _xss._BAD_TAG.search(lower)
    assert (m.group(1) if m else None) == bad
    for old, new, tail in (
        (in_tag, _xss._HANDLER_IN_TAG, ascii_lowercase),
        (risky, _xss._RISKY_ATTRIBUTE, ascii_lowercase + ":"),
        (after_quote, _xss._HANDLER_AFTER_QUOTE, ascii_lowercase),
    ):
        found = old.search(lower)
        assert _xss._attribute(new, raw, lower, tail) == (found.group(1) if found else None)
    first = next(
        (
            m.group(1)
            for m in loose.finditer(lower)
            if m.start() == 0 or lower[m.start() - 1] in " \t\n\r\f\v\x00/"
        ),
        None,
    )
    m = _xss._HANDLER_LOOSE.search(lower)
    assert (m.group(1) if m else None) == first
    # the pre-check stays a necessary condition of every handler pattern
    if _xss._ON_ATTRIBUTE.search(lower) is None:
        assert not (in_tag.search(lower) or after_quote.search(lower) or first)


# --- long values are read in shared chains, as the window tokenizer reads them ----------------------
_SQL_PIECES = [
    "'", '"', "`", "[", "]", "\\", "''", " ", "  ", "\n", "\t", "--", "#", "/*", "*/", "/*!50", "1",
    "0x1f", "a", "or", "and", "order", "by", "group", "select", "union", "sleep", "(", ")", "=", "<", ">",
    ";", ",", ".", "@", "@@v", "x", "char", "\x00", "\xa0", "\xe9", "-", "|", "||", "&&", "!",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_shared_reading_gives_each_window_the_tokens_it_would_read_alone(data: st.DataObject) -> None:
    pieces = data.draw(st.lists(st.sampled_from(_SQL_PIECES), max_size=50))
    long_token = data.draw(st.sampled_from(["", "'", '"', "/*", "--", "`", "[", " "]))
    # a token longer than the reader's look-ahead, in the middle
    text = "".join(pieces[:10]) + (long_token + "x" * 600 if long_token else "") + "".join(pieces[10:])
    reading = Reading(text)
    starts = data.draw(st.lists(st.integers(0, len(text)), min_size=1, max_size=8))
    for start in sorted(starts):
        size = data.draw(st.sampled_from([16, 3, 40]))
        expected, end = sqli_tokens.tokens(text, start, size)
        assert reading.classes(start, size) == ("".join(t[0] for t in expected), end < len(text))


def test_shared_reading_folds_order_by_as_each_window_would() -> None:
    text = "1 order by 5-- and more text after it to make the value long enough"
    reading = Reading(text)
    assert reading.classes(0, 16) == ("nOnc", False)
    assert reading.classes(2, 3) == ("Onc", False)
    # a window that ends at ORDER stops there, though the chain it reads folded ORDER BY
    assert reading.classes(0, 2) == ("nb", True)


def test_reading_many_windows_of_a_random_value_matches_reading_each_alone() -> None:
    rng = random.Random(7)
    for _ in range(200):
        text = "".join(rng.choice(_SQL_PIECES) for _ in range(rng.randint(1, 300)))
        reading = Reading(text)
        for start in sorted(rng.randint(0, len(text)) for _ in range(20)):
            expected, end = sqli_tokens.tokens(text, start, 16)
            assert reading.classes(start, 16) == ("".join(t[0] for t in expected), end < len(text)), (
                text,
                start,
            )


def test_detector_choices_are_documented() -> None:
    from pathlib import Path

    from wafpy.matching.detectors import UNSPECIFIED_CHOICES

    page = (Path(__file__).resolve().parents[1] / "docs" / "unspecified.md").read_text(encoding="utf-8")
    assert [key for key in UNSPECIFIED_CHOICES if f"| {key} |" not in page] == []
