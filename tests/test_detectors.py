from __future__ import annotations

import csv
import os
import re
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from string import ascii_lowercase

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wafpy.errors import NotAvailableError
from wafpy.matching.detectors import Detection, Detector, default_detector, libinjection_detector
from wafpy.matching.detectors import sqli as _sqli
from wafpy.matching.detectors import sqli_tokens as _sqli_tokens
from wafpy.matching.detectors import xss as _xss

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
LIBINJECTION_DATA = SHARED / "corpora" / "attacks" / "libinjection" / "data"
BENIGN = SHARED / "corpora" / "benign"
HTTPPARAMS = SHARED / "corpora" / "attacks" / "httpparams-dataset" / "payload_full.csv"

OWN = default_detector()

# Values as SqliMatch / XssMatch see them in the conformance files 05 and 06 (after URL_DECODE;
# the body rules inspect the whole form body, "q=" prefix included).
SQLI_CASES: list[tuple[bytes, str, bool]] = [
    (b"1' OR '1'='1", "LOW", True),
    (b"1 UNION SELECT username, password FROM users--", "LOW", True),
    (b"1; DROP TABLE users--", "LOW", True),
    (b"42", "LOW", False),
    (b"12345", "LOW", False),
    (b"price", "LOW", False),
    (b"q=1' UNION ALL SELECT NULL,NULL,NULL-- -", "HIGH", True),
    (b"comment=Great product, would buy again", "HIGH", False),
    # more attack shapes
    (b"admin'--", "LOW", True),
    (b"admin' #", "LOW", True),
    (b"' OR 'a'='a", "LOW", True),
    (b'" or ""="', "LOW", True),
    (b"1 AND 1=1", "LOW", True),
    (b"1) OR (1=1", "LOW", True),
    (b"1 AND SLEEP(5)", "LOW", True),
    (b"1' AND BENCHMARK(5000000,MD5(1))#", "LOW", True),
    (b"1'; WAITFOR DELAY '0:0:5'--", "LOW", True),
    (b"-1 UNION/**/SELECT 1,2,3", "LOW", True),
    (b"1 ORDER BY 10--", "LOW", True),
    (b"1 AND 1=(SELECT COUNT(*) FROM users)", "LOW", True),
    (b"' UNION SELECT table_name FROM information_schema.tables--", "LOW", True),
    (b"1' INTO OUTFILE 'shell.php", "LOW", True),
    # benign text at both sensitivities
    (b"red shoes", "HIGH", False),
    (b"O'Brien", "HIGH", False),
    (b"select a color", "HIGH", False),
    (b"john.doe@example.com", "HIGH", False),
    (b"Tom and Jerry", "HIGH", False),
    (b"cats or dogs and birds", "HIGH", False),
    (b"I'd like to order by phone", "HIGH", False),
    (b"rock 'n' roll", "HIGH", False),
    (b"3 - 1 = 2", "LOW", False),
    (b'MATS 5" BY 7"', "HIGH", False),
    # what HIGH adds
    (b"' --", "LOW", True),
    (b"1--", "LOW", False),
    (b"1--", "HIGH", True),
    (b"@@version", "LOW", False),
    (b"@@version", "HIGH", True),
    (b"sleep(5)", "HIGH", True),
]


@pytest.mark.parametrize(
    ("value", "sensitivity", "expected"), SQLI_CASES, ids=[f"{c[1]}:{c[0][:40]!r}" for c in SQLI_CASES]
)
def test_sqli_table(value: bytes, sensitivity: str, expected: bool) -> None:
    found = OWN.sqli(value, sensitivity)
    assert (found is not None) == expected
    if found is not None:
        assert found.kind == "SQL_INJECTION"
        assert found.matched and all(isinstance(m, str) and m for m in found.matched)


XSS_CASES: list[tuple[bytes, bool]] = [
    (b"<script>alert(1)</script>", True),
    (b"<img src=x onerror=alert(1)>", True),
    (b"hello world", False),
    (b"Tom and Jerry", False),
    (b"comment=<script>alert(1)</script>", True),
    (b"comment=<svg onload=alert(1)>", True),
    (b"comment=great product, five stars", False),
    # more attack shapes
    (b"<ScRiPt src=//evil.example/x.js>", True),
    (b"</script><script>alert(1)//", True),
    (b"<iframe src=//evil.example>", True),
    (b"<body onload=alert(1)>", True),
    (b"<object data=x.swf>", True),
    (b"<embed src=x.swf>", True),
    (b"<base href=//evil.example/>", True),
    (b"<meta http-equiv=refresh content=0;url=//evil.example>", True),
    (b"<form action=javascript:alert(1)><input type=submit>", True),
    (b'<a href="javascript:alert(1)">x</a>', True),
    (b'<a href="jav&#x09;ascript:alert(1)">x</a>', True),
    (b'<a href="java\tscript:alert(1)">x</a>', True),
    (b"<a href='vbscript:msgbox(1)'>", True),
    (b'<iframe src="data:text/html,<script>alert(1)</script>">', True),
    (b'<div style="width:expression(alert(1))">', True),
    (b'" onmouseover="alert(1)', True),
    (b"' autofocus onfocus='alert(1)", True),
    (b"javascript:alert(document.cookie)", True),
    (b'<!--<img src="--><img src=x onerror=alert(1)//">', True),
    # benign markup and prose
    (b"<b>bold</b> and <i>italic</i>", False),
    (b'<p>Hello</p><a href="/about">About us</a>', False),
    (b"3 < 5 and 7 > 2", False),
    (b"x<y", False),
    (b"<3 love it", False),
    (b"<!-- a comment -->", False),
    (b"see https://example.com/path?a=1&b=2", False),
    (b"online=true", False),
    (b"expression of interest", False),
]


@pytest.mark.parametrize(("value", "expected"), XSS_CASES, ids=[repr(c[0][:40]) for c in XSS_CASES])
def test_xss_table(value: bytes, expected: bool) -> None:
    found = OWN.xss(value)
    assert (found is not None) == expected
    if found is not None:
        assert found.kind == "XSS"
        assert found.matched


def test_matched_data_names_the_tokens() -> None:
    assert OWN.sqli(b"1' OR '1'='1", "LOW") == Detection("SQL_INJECTION", ("'1'", "OR", "'1'", "=", "'1"))
    assert OWN.xss(b"<script>alert(1)</script>") == Detection("XSS", ("<", "script"))
    assert OWN.xss(b"<img src=x onerror=alert(1)>") == Detection("XSS", ("onerror", "="))


def test_high_flags_everything_low_flags() -> None:
    for value, _sensitivity, _expected in SQLI_CASES:
        if OWN.sqli(value, "LOW") is not None:
            assert OWN.sqli(value, "HIGH") is not None, value


def test_detectors_accept_any_bytes() -> None:
    for value in (b"", b"\x00", bytes(range(256)), b"'" * 5000, b"<" * 5000, b"/*" * 3000, b"\xff\xfe'--"):
        assert OWN.sqli(value, "HIGH") is None or OWN.sqli(value, "HIGH") is not None
        OWN.xss(value)


def test_default_detector_satisfies_protocol() -> None:
    detector: Detector = default_detector()
    assert detector is default_detector()


# --- corpus measurement -------------------------------------------------------------------------


def _need(path: Path) -> None:
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path.name} is missing: the shared corpora are required in CI")
        pytest.skip(f"shared corpora not available next to the repository ({path.name})")


def _libinjection_lines(path: Path) -> list[bytes]:
    """libinjection's reader rules: right-trim, skip empty and '#' lines, URL-decode once."""
    out = []
    for raw in path.read_bytes().splitlines():
        line = raw.rstrip()
        if not line or line.startswith(b"#"):
            continue
        out.append(urllib.parse.unquote_to_bytes(line.replace(b"+", b" ")))
    return out


def _corpus(prefix: str) -> list[bytes]:
    _need(LIBINJECTION_DATA)
    values: list[bytes] = []
    for path in sorted(LIBINJECTION_DATA.glob(f"{prefix}-*.txt")):
        values += _libinjection_lines(path)
    return values


def _benign() -> dict[str, list[bytes]]:
    _need(BENIGN)
    uas = [
        line.strip()
        for line in (BENIGN / "user-agents" / "crs-popularUAs.data").read_bytes().splitlines()
        if line.strip() and not line.startswith(b"#")
    ]
    sets = {
        "false_positives": _libinjection_lines(BENIGN / "libinjection" / "false_positives.txt"),
        "user_agents": uas,
    }
    if HTTPPARAMS.exists():
        with HTTPPARAMS.open(encoding="utf-8", errors="surrogateescape", newline="") as fh:
            sets["httpparams_norm"] = [
                row["payload"].encode("utf-8", "surrogateescape")
                for row in csv.DictReader(fh)
                if row["label"] == "norm"
            ]
    return sets


def _rate(values: list[bytes], hit: Callable[[bytes], object]) -> float:
    return sum(1 for v in values if hit(v) is not None) / len(values)


# Measured: SQLi 96.4 % (LOW) / 98.2 % (HIGH) of 17,149 lines, XSS 99.7 % of 1,645 lines;
# flagged benign values: false_positives.txt 14 (LOW) / 53 (HIGH) of 421, popular UAs 0 / 0,
# HttpParams "norm" 0 / 1 of 19,304, XSS 0 everywhere. Thresholds sit just below.
DETECTION_FLOORS = [("sqli", "LOW", 0.960), ("sqli", "HIGH", 0.978), ("xss", "", 0.995)]
FP_CEILINGS = {
    ("sqli", "LOW"): {"false_positives": 16, "user_agents": 0, "httpparams_norm": 2},
    ("sqli", "HIGH"): {"false_positives": 56, "user_agents": 1, "httpparams_norm": 4},
    ("xss", ""): {"false_positives": 1, "user_agents": 0, "httpparams_norm": 2},
}


def _own(kind: str, sensitivity: str) -> Callable[[bytes], object]:
    if kind == "sqli":
        return lambda v: OWN.sqli(v, sensitivity)
    return OWN.xss


@pytest.mark.corpora
@pytest.mark.parametrize(("kind", "sensitivity", "floor"), DETECTION_FLOORS)
def test_corpus_detection_rate(kind: str, sensitivity: str, floor: float) -> None:
    values = _corpus(kind)
    rate = _rate(values, _own(kind, sensitivity))
    print(f"\nown {kind} {sensitivity}: {rate:.4f} of {len(values)}")
    assert rate >= floor


@pytest.mark.corpora
@pytest.mark.parametrize(("kind", "sensitivity"), list(FP_CEILINGS))
def test_corpus_false_positives(kind: str, sensitivity: str) -> None:
    detect = _own(kind, sensitivity)
    for name, values in _benign().items():
        flagged = [v for v in values if detect(v) is not None]
        print(f"\nown {kind} {sensitivity} on {name}: {len(flagged)} of {len(values)}")
        assert len(flagged) <= FP_CEILINGS[(kind, sensitivity)][name], flagged[:10]


@pytest.mark.corpora
@pytest.mark.parametrize("kind", ["sqli", "xss"])
def test_compare_with_libinjection(kind: str) -> None:
    pytest.importorskip("libinjection", reason="libinjection-python (optional GPL extra) not installed")
    lib = libinjection_detector()
    values = _corpus(kind)
    if kind == "sqli":
        own = [OWN.sqli(v, "LOW") is not None for v in values]
        theirs = [lib.sqli(v, "LOW") is not None for v in values]
    else:
        own = [OWN.xss(v) is not None for v in values]
        theirs = [lib.xss(v) is not None for v in values]
    agreement = sum(a == b for a, b in zip(own, theirs, strict=True)) / len(values)
    print(
        f"\n{kind}: own {sum(own) / len(values):.4f}, libinjection {sum(theirs) / len(values):.4f}, "
        f"agreement {agreement:.4f} on {len(values)}"
    )
    assert sum(theirs) / len(values) > 0.99  # libinjection's own data: the adapter must work
    assert agreement > 0.95


def test_libinjection_adapter_flags_attack_when_installed() -> None:
    pytest.importorskip("libinjection", reason="libinjection-python (optional GPL extra) not installed")
    lib = libinjection_detector()
    found = lib.sqli(b"1' OR '1'='1", "LOW")
    assert found is not None and found.kind == "SQL_INJECTION" and "OR" in found.matched
    assert lib.sqli(b"red shoes", "HIGH") is None
    assert lib.xss(b"<script>alert(1)</script>") is not None
    assert lib.xss(b"hello world") is None


def test_libinjection_missing_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import wafpy.matching.detectors.libinjection_adapter as adapter

    monkeypatch.setattr(adapter, "_lib", None)
    with pytest.raises(NotAvailableError, match=r"wafpy-engine\[libinjection\]"):
        libinjection_detector()


# --- fast path against a slow reference -----------------------------------------------------------
# The detectors take shortcuts for speed (one regex match per token, all rules in one pattern,
# pre-checks that skip work which cannot change the answer). The references below are the
# straightforward versions of the same rules; on any input both must answer the same, matched
# tokens included.
#
# For SQLi this holds for short values only (at most ``_sqli._SHORT`` bytes): the reference reads
# the first 64 tokens of the whole value in three contexts, while a longer value is, by design,
# only read in bounded windows around the places an injection could start, anywhere in the value
# (see ``wafpy.matching.detectors.sqli_windows``). Long values are covered by the tests after these.

_REF_TOKEN = re.compile(
    r"""
    (?P<ws>[\s\x00\x0b\xa0]+)
  | (?P<cmt>--[^\n]*|\#[^\n]*|/\*(?!!).*?(?:\*/|\Z)|\*/)
  | (?P<exe>/\*!\d*)
  | (?P<str>'(?:[^'\\]|\\.|'')*'?|"(?:[^"\\]|\\.|"")*"?)
  | (?P<num>0x[0-9a-f]*|0b[01]+|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?[a-z_]*)
  | (?P<var>@@?[\w.$]*)
  | (?P<word>[a-z_$\x80-\xff][\w$\x80-\xff]*|`[^`]*`?|\[[^\]]*\]?)
  | (?P<cmp><=>|<>|!=|<=|>=|!<|!>|[=<>](?![<>]))
  | (?P<op>\|\||&&|::|:=|<<|>>|[!~^|&%*/+\-])
  | (?P<punct>[(),;.])
  | (?P<other>.)
    """,
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)


def _ref_tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text) and len(out) < 64:
        m = _REF_TOKEN.match(text, pos)
        assert m is not None
        kind, value, pos = m.lastgroup, m.group(0), m.end()
        if kind in ("ws", "exe") or value == "*/":
            continue
        if kind == "word":
            low = value.lower()
            cls = _sqli_tokens.KEYWORDS.get(low, "b")
            if re.match(r"\s*\(", text[pos:]):
                name = low.rsplit(".", 1)[-1]
                if name in _sqli_tokens.DANGEROUS or low in _sqli_tokens.DANGEROUS:
                    cls = "F"
                elif name in _sqli_tokens.FUNCTIONS:
                    cls = "f"
            if low == "by" and out and out[-1][1].lower() in ("order", "group"):
                out.pop()
                cls = "O"
        else:
            cls = {"cmt": "c", "str": "s", "num": "n", "cmp": "o", "other": "x"}.get(kind or "", "")
            if kind == "var":
                cls = "V" if value.startswith("@@") else "v"
            elif kind == "op":
                cls = "&" if value in ("||", "&&") else "a"
            elif kind == "punct":
                cls = value
        out.append((cls, value))
    return out


def _ref_check(tokens: list[tuple[str, str]], high: bool) -> tuple[str, ...] | None:
    folded: list[tuple[str, str]] = []
    for i, tok in enumerate(tokens):
        if tok[0] == "c" and i < len(tokens) - 1:
            continue
        if folded and tok[0] in "bs" and folded[-1][0] == tok[0]:
            folded[-1] = (tok[0], folded[-1][1] + " " + tok[1])
        else:
            folded.append(tok)
    fp = "".join(t[0] for t in folded)
    for _name, rule, _needs in _sqli._LOW_RULES + (_sqli._HIGH_RULES if high else []):
        m = re.search(rule, fp)
        if m:
            start, end = m.span()
            return tuple(t[1] for t in folded[start : max(end, start + 1)] if t[0] != "X")
    return None


def _ref_sqli(data: bytes, sensitivity: str) -> tuple[str, ...] | None:
    low = data.lower()
    plain = len(data.translate(None, _sqli._SPECIALS)) == len(data)
    if plain and (b"union" not in low or b"select" not in low):
        return None
    high = sensitivity == "HIGH"
    text = data.decode("latin-1")
    for quote in ("'", '"'):
        i, close = 0, -1
        while i < len(text):  # the first quote that is neither escaped nor doubled
            if text[i] == "\\" or text[i : i + 2] == quote * 2:
                i += 2
            elif text[i] == quote:
                close = i
                break
            else:
                i += 1
        if close >= 0:
            found = _ref_check([("s", quote + text[: close + 1]), *_ref_tokens(text[close + 1 :])], high)
            if found:
                return found
    return _ref_check([("X", ""), *_ref_tokens(text)], high)


def _ref_xss(data: bytes) -> tuple[str, ...] | None:
    """detect_xss without its pre-checks: every step runs on every value."""
    if not _xss._TRIGGERS.search(data):
        return None
    text = data.decode("latin-1")
    lower = text.lower()
    raw = data.lower()
    if "<" in lower:
        m = _xss._BAD_TAG.search(lower)
        if m:
            return ("<", m.group(1))
        name = _xss._attribute(_xss._HANDLER_IN_TAG, raw, lower, ascii_lowercase) or _xss._attribute(
            _xss._RISKY_ATTRIBUTE, raw, lower, ascii_lowercase + ":"
        )
        if name:
            return (name, "=")
        m_decl = _xss._DECLARATION.search(lower)
        if m_decl:
            return ("<", m_decl.group(1))
    name = _xss._attribute(_xss._HANDLER_AFTER_QUOTE, raw, lower, ascii_lowercase)
    if name:
        return (name, "=")
    m3 = _xss._HANDLER_LOOSE.search(lower)
    if m3:
        return (m3.group(1), "=")
    squeezed = _xss._normalized(text)
    for m in _xss._SCHEME.finditer(squeezed):
        if m.start() == 0 or squeezed[m.start() - 1] in _xss._BEFORE_SCHEME:
            return (m.group(0),)
    if "expression(" in squeezed or "binding" in squeezed or "behavio" in squeezed or "url(" in squeezed:
        m5 = _xss._CSS.search(_xss._CSS_COMMENT.sub("", squeezed))
        if m5:
            return (m5.group(1),)
    elif "/*" in squeezed and "ression(" in squeezed:
        m6 = _xss._CSS.search(_xss._CSS_COMMENT.sub("", squeezed))
        if m6:
            return (m6.group(1),)
    return None


# fmt: off
_FRAGMENTS = [
    b"1", b"42", b"0x1f", b"'", b'"', b"`", b"''", b"\\", b"\\'", b" ", b"\t", b"\n", b"\x00", b"--", b"#",
    b"/*", b"*/", b"/*!50000", b";", b"(", b")", b",", b".", b"=", b"<", b">", b"!=", b"||", b"&&", b"@",
    b"@@version", b"OR", b"and", b"union", b"SELECT", b"from", b"order", b"by", b"sleep", b"char",
    b"exp", b"outfile", b"drop", b"red shoes", b"O'Brien", b"[x]", b"{", b"}", b":", b"-",
    b"<script>", b"<img src=x", b" onerror=", b"alert(1)", b"javascript:", b"jav&#x09;ascript:",
    b"java\tscript:", b"&colon;", b"&amp;", b"data:text/html", b"style=", b"expression(", b"/**/",
    b"url(", b"-moz-binding", b"<b>", b"</a>", b"<!--", b"href=", b"online=true", b"\xe9", b"\xa0",
]
# fmt: on
_VALUES = st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.binary(max_size=4)), max_size=24).map(b"".join)


@pytest.mark.slow
@settings(max_examples=600, deadline=None)
@given(_VALUES)
def test_fast_sqli_agrees_with_reference(value: bytes) -> None:
    for sensitivity in ("LOW", "HIGH"):
        found = _sqli.detect_sqli(value, sensitivity)
        if len(value) <= _sqli._SHORT:
            assert found == _ref_sqli(value, sensitivity)
        else:  # windowed: a different reading by design, same kind of answer
            assert found is None or (found and all(found))


@pytest.mark.slow
@settings(max_examples=600, deadline=None)
@given(_VALUES)
def test_fast_xss_agrees_with_reference(value: bytes) -> None:
    assert _xss.detect_xss(value) == _ref_xss(value)


@pytest.mark.corpora
def test_fast_paths_agree_with_reference_on_corpora() -> None:
    values = _corpus("sqli") + _corpus("xss") + [v for vs in _benign().values() for v in vs[:3000]]
    for value in values:
        if len(value) <= _sqli._SHORT:
            assert _sqli.detect_sqli(value, "LOW") == _ref_sqli(value, "LOW"), value
            assert _sqli.detect_sqli(value, "HIGH") == _ref_sqli(value, "HIGH"), value
        assert _xss.detect_xss(value) == _ref_xss(value), value


def test_long_values_agree_with_reference() -> None:
    """XSS only: long SQLi values are read in windows (next tests), not like the reference."""
    body = (
        b'{"customer": {"name": "Jane Doe", "email": "jane.doe@example.com"}, "note": '
        b'"Please gift wrap it, and leave it at the door if nobody is home.", "qty": 2}, '
    ) * 40
    for value in (body, body + b"x' OR '1'='1", b"q=" + body.replace(b'"', b"'"), b" " * 9000 + b"1'--"):
        assert _xss.detect_xss(value) == _ref_xss(value)


# --- long values: windowed SQLi scanning -----------------------------------------------------------
# A realistic 4 KiB JSON order whose notes hold apostrophes (an apostrophe early in the body hid
# any later quote break from the whole-value reading), and 4 KiB of prose.
_ITEM = (
    '{"id": %d, "sku": "A-%d", "name": "Blue cotton shirt (men\'s)", "qty": 2, "price": 19.99, '
    '"note": "It\'s a gift: please wrap it, and leave it at the door if nobody\'s home.", '
    '"tags": ["summer", "sale"], "active": true, "ref": null, "updated": "2024-05-01T10:00:00Z"}'
)
_JSON_4K = (
    '{"customer": {"name": "Jane O\'Brien", "email": "jane.obrien@example.com"}, "items": ['
    + ", ".join(_ITEM % (i, i) for i in range(40))
).encode()[:4096]
_PROSE_4K = (
    b"I ordered the blue shirt last week and it's lovely, but the sleeves are a bit long. My wife "
    b"doesn't like the colour or the fit, so we'll probably return it. Customer service was helpful "
    b"and quick; they said returns are free within 30 days (or 60 for members). O'Brien's shop down "
    b"the road sells the same one in red for less, which is a shame! Still, delivery was fast and "
    b"the box arrived intact: 5 stars for shipping, 3 for the shirt. Would I buy again? Maybe, if "
    b"the sizes run true - the 'slim fit' one isn't, and the \"regular\" one is too wide. "
) * 10
_PROSE_4K = _PROSE_4K[:4096]
_FORM_2K = (
    b"name=Jane+Doe&email=jane.doe%40example.com&address=12+Main+Street%2C+Springfield&"
    b"comment=Great+product%2C+would+buy+again.+Shipping+was+fast+and+the+box+was+intact.+"
) * 12
_PADDING = {"json": _JSON_4K[:3072], "prose": _PROSE_4K[:3072], "form": _FORM_2K[:3072]}
_LATE_ATTACKS = [
    b"x' OR '1'='1",
    b"1' UNION SELECT username, password FROM users--",
    b"1 OR 1=1",
    b"1'; DROP TABLE users--",
    b"1' AND SLEEP(5)#",
    b"1) OR (1=1",
    b"' OR ''='",
    b"1 AND 1=(SELECT COUNT(*) FROM users)",
]


@pytest.mark.parametrize("sensitivity", ["LOW", "HIGH"])
@pytest.mark.parametrize("value", [_JSON_4K, _PROSE_4K, _FORM_2K], ids=["json_4k", "prose_4k", "form_2k"])
def test_long_benign_values_not_flagged(value: bytes, sensitivity: str) -> None:
    assert len(value) > _sqli._SHORT
    assert _sqli.detect_sqli(value, sensitivity) is None


@pytest.mark.parametrize("attack", _LATE_ATTACKS, ids=[a.decode()[:24] for a in _LATE_ATTACKS])
@pytest.mark.parametrize("padding", list(_PADDING))
def test_attack_after_3k_of_benign_text_detected(padding: str, attack: bytes) -> None:
    value = _PADDING[padding] + b" " + attack
    for sensitivity in ("LOW", "HIGH"):
        found = _sqli.detect_sqli(value, sensitivity)
        assert found is not None and all(found), (sensitivity, value[-80:])


def test_attack_after_3k_of_json_was_missed_by_whole_value_reading() -> None:
    """The improvement windows bring: the reference (the whole-value reading, first 64 tokens)
    misses an injection 3 KiB into a JSON body; the windowed reading finds it."""
    value = _JSON_4K[:3072] + b", \"q\": \"x' OR '1'='1\"}"
    assert _ref_sqli(value, "LOW") is None
    assert _sqli.detect_sqli(value, "LOW") == ("'x'", "OR", "'1'", "=", "'1\"}")
    inside = _JSON_4K[:3072] + b', "id": "1 OR 1=1"}'  # numeric injection inside a JSON string
    assert _ref_sqli(inside, "LOW") is None
    assert _sqli.detect_sqli(inside, "LOW") is not None


def test_attack_at_start_of_long_value_detected() -> None:
    for attack in (b"1' OR '1'='1' -- ", b"1 UNION SELECT 1,2,3-- ", b"admin'--", b"1; DROP TABLE users"):
        value = attack + b" " + _PROSE_4K
        assert _sqli.detect_sqli(value, "LOW") is not None, attack


def test_window_budget_bounds_work_on_hostile_values() -> None:
    """Many triggers (each benign alone) cost at most the whole-value reading's token budget;
    the answer stays well-formed."""
    for value in (b"1 or x " * 1200, b"' or '" * 1300, b"(sleep " * 1000, b"; select " * 900):
        found = _sqli.detect_sqli(value, "HIGH")
        assert found is None or all(found)
