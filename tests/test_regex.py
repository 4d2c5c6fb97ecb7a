from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wafpy.errors import RulesetError
from wafpy.matching.regex import check_regex, compile_regex, compile_regex_set, regex_warnings

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _unsupported(what: str, construct: str, offset: int) -> str:
    return f"{what} {construct} at offset {offset} is not supported by AWS WAF"


REJECTED = [
    (r"(a)\1", _unsupported("backreference", r"\1", 3)),
    (r"(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)\10", _unsupported("backreference", r"\10", 30)),
    (r"(?<n>a)\k<n>", _unsupported("backreference", r"\k<n>", 7)),
    (r"(?<n>a)\k'n'", _unsupported("backreference", r"\k'n'", 7)),
    (r"(a)\g{1}", _unsupported("backreference", r"\g{1}", 3)),
    (r"(a)\g-1", _unsupported("backreference", r"\g-1", 3)),
    (r"(?P<n>a)(?P=n)", _unsupported("backreference", "(?P=n)", 8)),
    (r"a(?R)?b", _unsupported("recursion", "(?R)", 1)),
    (r"(a)(?1)", _unsupported("subroutine call", "(?1)", 3)),
    (r"(?<n>a)(?&n)", _unsupported("subroutine call", "(?&n)", 7)),
    (r"(?P<n>a)(?P>n)", _unsupported("subroutine call", "(?P>n)", 8)),
    (r"(a)\g<1>", _unsupported("subroutine call", r"\g<1>", 3)),
    (r"(a)?(?(1)b|c)", _unsupported("conditional", "(?(", 4)),
    (r"a(*SKIP)b", _unsupported("backtracking verb", "(*SKIP)", 1)),
    (r"(*FAIL)", _unsupported("backtracking verb", "(*FAIL)", 0)),
    (r"a\Cb", _unsupported("single-byte escape", r"\C", 1)),
    (r"a\Rb", _unsupported("newline-sequence escape", r"\R", 1)),
    (r"foo\Kbar", _unsupported("match-reset escape", r"\K", 3)),
    (r"a(?C1)b", _unsupported("callout", "(?C", 1)),
    (r"(?>a+)b", _unsupported("atomic group", "(?>", 0)),
    (r"a*+b", _unsupported("possessive quantifier", "*+", 1)),
    (r"a++b", _unsupported("possessive quantifier", "++", 1)),
    (r"a?+b", _unsupported("possessive quantifier", "?+", 1)),
    (r"a{2,5}+", _unsupported("possessive quantifier", "{2,5}+", 1)),
    (r"a{3}+", _unsupported("possessive quantifier", "{3}+", 1)),
    (r"joe(?=ann)", _unsupported("lookahead", "(?=", 3)),
    (r"joe(?!ann|jen)", _unsupported("negative lookahead", "(?!", 3)),
    (r"(?<=a)b", _unsupported("lookbehind", "(?<=", 0)),
    (r"(?<!a)b", _unsupported("negative lookbehind", "(?<!", 0)),
    # an escaped backslash does not protect what follows it
    (r"\\(?=a)", _unsupported("lookahead", "(?=", 2)),
    # the first unsupported construct is the one reported
    (r"(?=a)\1", _unsupported("lookahead", "(?=", 0)),
    ("", "the pattern is empty; AWS WAF requires 1 to 512 characters"),
    ("a" * 513, "the pattern is 513 characters long; AWS WAF allows at most 512"),
    ("(ab", "RE2 cannot compile the pattern: missing ): (ab"),
    ("a{1001}", "RE2 cannot compile the pattern: invalid repetition size: {1001}"),
    (r"[z-a]", "RE2 cannot compile the pattern: invalid character class range: z-a"),
]


@pytest.mark.parametrize(("pattern", "reason"), REJECTED, ids=[r[0][:30] or "empty" for r in REJECTED])
def test_rejected_pattern_reason(pattern: str, reason: str) -> None:
    assert check_regex(pattern) == reason


@pytest.mark.parametrize(("pattern", "reason"), REJECTED[:5], ids=[r[0] for r in REJECTED[:5]])
def test_compile_rejected_pattern_raises_ruleset_error(pattern: str, reason: str) -> None:
    with pytest.raises(RulesetError) as info:
        compile_regex(pattern)
    assert info.value.message == reason


ACCEPTED = [
    r"^(GET|HEAD)$",  # grouping parentheses are accepted (treated as non-capturing)
    r"[a++]",  # '+' inside a class is a literal
    r"a\+\+",  # escaped '+' is not possessive
    r"a+?b*?c??",  # lazy quantifiers
    r"[(?=]",  # lookahead spelling inside a class is literal
    r"\(\?=",  # ...and escaped
    r"\Q(?=a)++\E",  # ...and quoted
    r"(?#(?=a is a comment)x",  # a comment ends at the first ")"
    r"(?<year>\d{4})-(?P<m>\d\d)-(?'d'\d\d)",
    r"(?|a|b)",
    r"[[:alpha:]][[:digit:]]+",
    r"\h\v\H\V\s\S",
    r"[\h\v]",
    r"\bword\B\A\z\Z",
    r"[]a]",
    r"[^]a]",
    r"a{,3}",
    r"\x41\x{42}\101\0",
    r"(?i)abc(?-i:DEF)",
    r"(?s).",
    r"(?m)^a$",
    "a" * 512,
]


@pytest.mark.parametrize("pattern", ACCEPTED, ids=[p[:30] for p in ACCEPTED])
def test_accepted_pattern(pattern: str) -> None:
    assert check_regex(pattern) is None
    compile_regex(pattern)  # must not raise


@pytest.mark.parametrize(
    ("pattern", "warnings"),
    [
        ("a" * 200, []),
        ("a" * 201, ["the pattern is 201 characters long; the AWS WAF quota is 200 characters per regex"]),
        ("short", []),
    ],
)
def test_regex_warnings(pattern: str, warnings: list[str]) -> None:
    assert regex_warnings(pattern) == warnings


MATCHING = [
    # pattern, subject, expected match (None = no match)
    ("nikto", b"Mozilla/5.00 (Nikto/2.1.6)", None),  # case-sensitive by default
    ("(?i)nikto", b"Mozilla/5.00 (Nikto/2.1.6)", b"Nikto"),
    ("(?i)nmap|masscan", b"NMAP Scripting Engine", b"NMAP"),
    ("(?i)caf\u00e9", "CAF\u00c9".encode(), None),  # (?i) folds ASCII only, as PCRE without UTF
    (r"^/api/v[0-9]+/users/[0-9]+$", b"/api/v12/users/7", b"/api/v12/users/7"),
    (r"^/api/v[0-9]+/users/[0-9]+$", b"/v2/api/v1/users/1", None),
    (r"\.bak$|\.old$", b"/db.bak.sql", None),
    (r"\.bak$|\.old$", b"/index.old", b".old"),
    # PCRE's $ also matches before a final newline (RE2's does not: translated)
    (r"\.env$", b"/.env\n", b".env\n"),
    (r"\.env$", b"/.env\n\n", None),
    (r"\.env\z", b"/.env\n", None),
    (r"\.env\Z", b"/.env\n", b".env\n"),
    (r"(?m)^b$", b"a\nb\nc", b"b"),
    # bytes >= 0x80: one byte per '.', no UTF-8 decoding of the subject
    (r"^.$", b"\xff", b"\xff"),
    (r"^.$", "\u00e9".encode(), None),  # two bytes in UTF-8
    (r"^..$", "\u00e9".encode(), "\u00e9".encode()),
    ("\u00e9", "caf\u00e9".encode(), "\u00e9".encode()),  # a pattern character is its UTF-8 bytes
    ("\u00e9", b"caf\xe9", None),
    (r"\xe9", b"caf\xe9", b"\xe9"),
    (r"[\x80-\xff]+", b"ab\x80\x81\xfe", b"\x80\x81\xfe"),
    (r"\w+", b"\xe9t\xe9", b"t"),  # \w is ASCII only
    (r"\h+", b"a \t\xa0b", b" \t\xa0"),
    (r"\v", b"a\x85b", b"\x85"),
    (r"\v", b"a\x0bb", b"\x0b"),
    (r"\s", b"a\x0bb", b"\x0b"),  # PCRE >= 8.34 counts VT as \s
    (r"[^\S]", b"a\x0bb", b"\x0b"),
    (r"[\H]+", b" \tab", b"ab"),
    (r"\Qa.b\E", b"axb a.b", b"a.b"),
    (r"(?<w>x+)y", b"axxy", b"xxy"),
    (r"(?|a|b)c", b"zbc", b"bc"),
    (r"a{,3}", b"a{,3}", b"a{,3}"),  # not a quantifier in PCRE: literal text
    (r"[\1]", b"x\x01", b"\x01"),  # octal inside a class
    (r"\101\60", b"xA0", b"A0"),
    (r"(a)\12", b"a\n", b"a\n"),  # one group only: \12 is octal (newline)
    (r"[\b]", b"x\x08", b"\x08"),  # backspace inside a class
    (r"\e\cA", b"\x1b\x01", b"\x1b\x01"),
    (r"[[:alpha:]]+", b"12abc3", b"abc"),
    (r"(a|ab)(c|bcd)(d*)", b"abcd", b"abcd"),  # leftmost match, PCRE alternation order
    (r"x*", b"abc", b""),  # an empty match is a match
]


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"), MATCHING, ids=[f"{m[0]}~{m[1]!r}"[:40] for m in MATCHING]
)
def test_matching(pattern: str, subject: bytes, expected: bytes | None) -> None:
    assert compile_regex(pattern)(subject) == expected


def test_compile_regex_caches_each_pattern() -> None:
    assert compile_regex(r"cache-me\d") is compile_regex(r"cache-me\d")


def test_hostile_input_completes_without_backtracking() -> None:
    assert compile_regex(r"(a+)+$")(b"a" * 30 + b"!") is None
    assert compile_regex(r"^(a|aa)+$")(b"a" * 5000 + b"!") is None


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300))
def test_compile_regex_never_raises_on_bytes(data: bytes) -> None:
    for pattern in (r"(a+)+$", r"(?i)<script", r"\.env$", r"[\x80-\xff]{2}", r"\h\v$"):
        found = compile_regex(pattern)(data)
        assert found is None or found in data


@pytest.mark.slow
@settings(max_examples=500, deadline=None)
@given(pattern=st.text(alphabet="ab()[]{}\\?*+|^$.:=!<>PRk0123,-'&#CKQEzZhv", max_size=20))
def test_check_regex_never_raises(pattern: str) -> None:
    reason = check_regex(pattern)
    if reason is None:
        compile_regex(pattern)(b"ab(])")  # an accepted pattern always compiles and runs
    else:
        assert reason


SET_CASES = [
    (["^curl/", "^python-requests/", "Go-http-client"], b"curl/8.4.0", b"curl/"),
    (["^curl/", "^python-requests/", "Go-http-client"], b"Mozilla/5.0 curl/8.4.0", None),
    (["^curl/", "^python-requests/", "Go-http-client"], b"Go-http-client/1.1", b"Go-http-client"),
    (["^curl/", "^python-requests/", "Go-http-client"], b"Python-Requests/2.31.0", None),
    # several patterns hit: the first in list order supplies the matched text
    (["b+", "a"], b"abb", b"bb"),
    (["a", "b+"], b"abb", b"a"),
    (["\\.env$"], b"/.env", b".env"),
    ([], b"anything", None),
]


@pytest.mark.parametrize(("patterns", "subject", "expected"), SET_CASES)
def test_compile_regex_set(patterns: list[str], subject: bytes, expected: bytes | None) -> None:
    assert compile_regex_set(patterns)(subject) == expected


def test_compile_regex_set_rejects_invalid_member() -> None:
    with pytest.raises(RulesetError) as info:
        compile_regex_set(["ok", "a++"])
    assert "possessive quantifier ++" in info.value.message


def _conformance(name: str) -> dict[str, object]:
    path = SHARED / "conformance" / name
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"conformance file {name} is missing")
        pytest.skip(f"conformance file {name} is not available next to the repository")
    data: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _field(request: dict[str, object], field: dict[str, object]) -> bytes:
    if "UriPath" in field:
        return str(request["uri"]).encode()
    wanted = str(field["SingleHeader"]["Name"]).lower()  # type: ignore[index]
    for header in request["headers"]:  # type: ignore[attr-defined]
        if header["name"].lower() == wanted:
            return str(header["value"]).encode()
    return b""


@pytest.mark.parametrize("name", ["03-regex-match.json", "04-regex-pattern-set.json"])
def test_conformance_regex_cases(name: str) -> None:
    # A miniature evaluator (field, LOWERCASE/NONE, regex) over the files' rules and cases, so the
    # regex dialect is checked against the expected decisions independently of the engine.
    doc = _conformance(name)
    resources: dict[str, dict[str, object]] = doc["resources"]  # type: ignore[assignment]
    rules = sorted(doc["webacl"]["Rules"], key=lambda r: r["Priority"])  # type: ignore[index]
    compiled = []
    for rule in rules:
        ((kind, stmt),) = rule["Statement"].items()
        if kind == "RegexMatchStatement":
            patterns = [stmt["RegexString"]]
        else:
            patterns = [e["RegexString"] for e in resources[stmt["ARN"]]["RegularExpressionList"]]  # type: ignore[attr-defined]
        for p in patterns:
            assert check_regex(p) is None, p
        lower = any(t["Type"] == "LOWERCASE" for t in stmt["TextTransformations"])
        compiled.append((rule["Name"], stmt["FieldToMatch"], lower, compile_regex_set(patterns)))
    for case in doc["cases"]:  # type: ignore[attr-defined]
        verdict = "Default_Action"
        for rule_name, field, lower, search in compiled:
            value = _field(case["request"], field)
            if search(value.lower() if lower else value) is not None:
                verdict = rule_name
                break
        assert verdict == case["expect"]["terminatingRuleId"], case["name"]
