"""Text transformations against a plain-stdlib way of doing the same, on a 2 KiB form-encoded text.

Run with `pytest bench --benchmark-enable`. Besides pytest-benchmark's own statistics, each
benchmark records in `extra_info` the medians (microseconds) of wafpy and of the baseline,
measured interleaved in the same run, and `ratio_to_baseline`, the median of the per-round ratios
(< 1 means wafpy is faster). Absolute numbers drift between runs on a shared machine; the ratio is
the figure to compare.
"""

from __future__ import annotations

import html
import re
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest

from wafpy.matching.transforms import TRANSFORMS


def _form_text(size: int = 2048) -> bytes:
    """A urlencoded form body: + for spaces, %XX for punctuation (about 40 escapes in 2 KiB)."""
    fields = [
        (b"fullname", b"Jane Doe"),
        (b"email", b"jane.doe@example.com"),
        (b"street", b"12 Main Street, Springfield"),
        (b"message", b"Great product, would buy again! Shipping was fast; the box was intact."),
        (b"rating", b"5/5 (excellent)"),
        (b"tags", b"shoes red running"),
    ]
    parts: list[bytes] = []
    i = 0
    while sum(len(p) + 1 for p in parts) < size:
        name, value = fields[i % len(fields)]
        parts.append(name + b"%d=" % i + urllib.parse.quote_plus(value).encode("ascii"))
        i += 1
    return b"&".join(parts)[:size]


FORM = _form_text()


def _css_escaped(text: bytes, size: int = 2048) -> bytes:
    """The text with every fourth letter written as a CSS escape, so CSS_DECODE has work to do."""
    out = bytearray()
    for index, byte in enumerate(text):
        out += b"\\%x " % byte if index % 4 == 0 and chr(byte).isalpha() else bytes((byte,))
        if len(out) >= size:
            break
    return bytes(out)


CSS_ESCAPED = _css_escaped(FORM)

_WS_RUN = re.compile(rb"[\t\n\x0b\x0c\r \xa0]+")
_CSS_NAIVE = re.compile(rb"\\([0-9A-Fa-f]{1,6})[\t\n\x0c\r ]?")
_FORM_TEXT = FORM.decode("latin-1")


def _url_baseline(data: bytes) -> bytes:
    return urllib.parse.unquote_to_bytes(data.replace(b"+", b" "))


def _html_baseline(data: bytes) -> bytes:
    # html.unescape works on str; the decoding is not timed (the text is decoded once).
    return html.unescape(_FORM_TEXT).encode("latin-1", "replace")


def _compress_baseline(data: bytes) -> bytes:
    return _WS_RUN.sub(b" ", data)


def _css_baseline(data: bytes) -> bytes:
    return _CSS_NAIVE.sub(lambda m: bytes((int(m.group(1), 16) & 0xFF,)), data)


# (benchmark id, transformation, input, stdlib baseline name, baseline, outputs must be equal)
CASES: list[tuple[str, str, bytes, str, Callable[[bytes], bytes], bool]] = [
    ("URL_DECODE-form", "URL_DECODE", FORM, "unquote_to_bytes(+ -> space)", _url_baseline, True),
    ("HTML_ENTITY_DECODE-form", "HTML_ENTITY_DECODE", FORM, "html.unescape(str)", _html_baseline, False),
    ("COMPRESS_WHITE_SPACE-form", "COMPRESS_WHITE_SPACE", FORM, "re.sub", _compress_baseline, True),
    (
        "COMPRESS_WHITE_SPACE-decoded",
        "COMPRESS_WHITE_SPACE",
        _url_baseline(FORM),
        "re.sub",
        _compress_baseline,
        True,
    ),
    ("CSS_DECODE-form", "CSS_DECODE", FORM, "re.sub hex escapes", _css_baseline, True),
    ("CSS_DECODE-escaped", "CSS_DECODE", CSS_ESCAPED, "re.sub hex escapes", _css_baseline, True),
]


def _round_us(fn: Callable[[bytes], bytes], data: bytes, number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn(data)
    return (time.perf_counter() - start) / number * 1e6


def _interleaved(
    ours: Callable[[bytes], bytes], baseline: Callable[[bytes], bytes], data: bytes, rounds: int = 15
) -> dict[str, float]:
    """Medians of both and of the per-round ratio, rounds alternating which one runs first."""
    number = max(20, int(2000 / max(_round_us(baseline, data, 20), 0.05)) // 10)
    mine: list[float] = []
    base: list[float] = []
    for index in range(rounds):
        if index % 2:
            base.append(_round_us(baseline, data, number))
            mine.append(_round_us(ours, data, number))
        else:
            mine.append(_round_us(ours, data, number))
            base.append(_round_us(baseline, data, number))
    ratios = sorted(m / b for m, b in zip(mine, base, strict=True))
    return {
        "wafpy_us": round(sorted(mine)[rounds // 2], 3),
        "baseline_us": round(sorted(base)[rounds // 2], 3),
        "ratio_to_baseline": round(ratios[rounds // 2], 3),
    }


@pytest.mark.parametrize(
    ("kind", "data", "baseline_name", "baseline", "same_output"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_bench_transform(
    benchmark: Any,
    kind: str,
    data: bytes,
    baseline_name: str,
    baseline: Callable[[bytes], bytes],
    same_output: bool,
) -> None:
    transform = TRANSFORMS[kind]
    if same_output:
        assert transform(data) == baseline(data)
    benchmark.extra_info["input_bytes"] = len(data)
    benchmark.extra_info["baseline"] = baseline_name
    if not benchmark.disabled:
        benchmark.extra_info.update(_interleaved(transform, baseline, data))
    benchmark(transform, data)
