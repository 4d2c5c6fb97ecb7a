"""The prefilter decides exactly like testing every rule in turn.

`compile_acl(prefilter=False)` tests every rule (the reference); the prefiltered form skips rules
whose literals a request lacks. Both must give identical decisions: action, terminating rule,
labels, counted rules, trace with match details, log fields, oversize flags. Compared on every
conformance web ACL, on the bundled managed rule groups (whatever `rulesets/managed/` holds), on a
500-rule web ACL and on requests built to hold the rules' literals, near misses, case variants and
encoded forms. Groups are searched here however few rules use them (`MIN_USERS`), so the small
conformance web ACLs exercise the prefilter too.
"""

from __future__ import annotations

import json
import pickle
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wafpy
from bench import large_acl, realistic_acl
from wafpy import model as ast
from wafpy.engine import prefilter
from wafpy.engine.compile import CompiledACL, compile_acl
from wafpy.engine.evaluate import evaluate
from wafpy.engine.services import Services
from wafpy.load.iplists import IP_LIST_GROUPS
from wafpy.matching.literals import LiteralSearch, fold, required_literals

ROOT = Path(__file__).resolve().parents[1]
CASES = sorted((ROOT / "tests" / "conformance").glob("*.json"))
MANAGED = ROOT / "rulesets" / "managed"
_LARGE = wafpy.load_web_acl(large_acl.web_acl(500), resources=realistic_acl.resources(), search_string="text")


@pytest.fixture(autouse=True)
def _every_group(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefilter, "MIN_USERS", 1)


def outcome(decision: wafpy.Decision) -> tuple[Any, ...]:
    return (
        decision.action,
        decision.terminating_rule_id,
        decision.terminating_rule_type,
        decision.labels,
        decision.non_terminating_matching_rules,
        decision.response_code,
        decision.terminating_rule_match_details,
        decision.log_non_terminating,
        decision.rule_group_list,
        decision.oversize_fields,
        decision.not_evaluable,
        decision.inserted_request_headers,
        decision.trace,
    )


_COMPILED: dict[tuple[int, bool, bool], CompiledACL] = {}


def _compiled(model: ast.WebACL, inline: bool, filtered: bool) -> CompiledACL:
    """Compiled once per test run for the shared large web ACL (compiling 500 rules takes a while)."""
    if model is not _LARGE.model:
        return compile_acl(model, inline=inline, prefilter=filtered)
    key = (id(model), inline, filtered)
    if key not in _COMPILED:
        _COMPILED[key] = compile_acl(model, inline=inline, prefilter=filtered)
    return _COMPILED[key]


def compare(model: ast.WebACL, raws: list[tuple[dict[str, Any], int]], *, body: bool = True) -> int:
    """Evaluate each request both ways (inline and closures); return how many were compared."""
    for inline in (True, False):
        fast = _compiled(model, inline, True)
        plain = _compiled(model, inline, False)
        s1, s2 = Services(), Services()
        for raw, timestamp in raws:
            a = evaluate(fast, wafpy.Request.from_log(raw, timestamp=timestamp, body_available=body), s1)
            b = evaluate(plain, wafpy.Request.from_log(raw, timestamp=timestamp, body_available=body), s2)
            assert outcome(a) == outcome(b), (raw, inline)
    return len(raws)


@pytest.mark.slow
@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_conformance_acls_agree(path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    acl = wafpy.load_web_acl(
        doc["webacl"], resources=doc.get("resources") or {}, account=doc.get("account"), search_string="text"
    )
    cases = [(case["request"], case["timestamp"]) for case in doc["cases"]]
    compare(acl.model, cases)
    compare(acl.model, cases, body=False)  # as replayed from logs: no body


def _bundled() -> Iterator[tuple[str, Path]]:
    """(vendor, name) and file of each rule group in rulesets/managed/ (get-rule-group JSON)."""
    for path in sorted(MANAGED.rglob("*.json")) if MANAGED.is_dir() else []:
        doc = json.loads(path.read_text(encoding="utf-8"))
        group = doc.get("RuleGroup", doc) if isinstance(doc, dict) else None
        if not isinstance(group, dict) or "Name" not in group or "Rules" not in group:
            continue
        namespace = str(group.get("LabelNamespace") or "")
        managed = namespace.startswith("awswaf:managed:")
        vendor = doc.get("VendorName") or (namespace.split(":")[2] if managed else "AWS")
        yield f"{vendor}/{group['Name']}", path


def _managed_acl(vendor_name: str, count: bool) -> dict[str, Any]:
    vendor, name = vendor_name.split("/", 1)
    document = realistic_acl.web_acl()
    document["Rules"].append(
        {
            "Name": "managed",
            "Priority": 1000,
            "Statement": {"ManagedRuleGroupStatement": {"VendorName": vendor, "Name": name}},
            "OverrideAction": {"Count": {}} if count else {"None": {}},
            "VisibilityConfig": large_acl.rule_group("x", [])["RuleGroup"]["VisibilityConfig"],
        }
    )
    return document


def _standin_acl() -> tuple[dict[str, Any], dict[str, Any]]:
    """The realistic web ACL with generated rule groups of the managed groups' sizes."""
    document = realistic_acl.web_acl()
    resources = realistic_acl.resources()
    first = 0
    for n, (name, size) in enumerate(large_acl.STANDIN_SIZES.items()):
        group = large_acl.rule_group(name, large_acl.generated_rules(size, first_priority=0, seed=first))[
            "RuleGroup"
        ]
        resources[group["ARN"]] = group
        document["Rules"].append(
            {
                "Name": name,
                "Priority": 1000 + n,
                "Statement": {"RuleGroupReferenceStatement": {"ARN": group["ARN"]}},
                "OverrideAction": {"None": {}},
                "VisibilityConfig": group["VisibilityConfig"],
            }
        )
        first += size
    return document, resources


def _probes() -> list[tuple[dict[str, Any], int]]:
    probes = [(raw, 0) for _, raw in realistic_acl.probe_requests()]
    return [*probes, (realistic_acl.browser_get(), 0), (realistic_acl.json_post(), 0)]


@pytest.mark.slow
@pytest.mark.parametrize("bundled", list(_bundled()), ids=[name for name, _ in _bundled()])
def test_bundled_groups_agree(bundled: tuple[str, Path]) -> None:
    name, _path = bundled
    group = name.split("/", 1)[1]
    # The IP-list groups test the user's lists: one IPv4 and one IPv6 range per rule.
    ip_lists = {rule: ["192.0.2.0/24", "2001:db8::/32"] for rule in IP_LIST_GROUPS.get(group, ())}
    for count in (False, True):
        acl = wafpy.load_web_acl(
            _managed_acl(name, count),
            resources=realistic_acl.resources(),
            managed="bundled",  # as users load them: their SearchStrings are base64, as AWS returns them
            managed_ip_lists=ip_lists or None,
            search_string="text",  # the realistic web ACL's own rules
        )
        places = ["uri", "query", "body", "user-agent", "cookie", "referer"]
        hows = ["same", "upper", "miss", "encoded"]
        attacks = [
            (_attack(_variant(t, hows[i % 4]), places[i % 6]), 0) for i, t in enumerate(_tokens(acl.model))
        ]
        compare(acl.model, _probes() + attacks)


def test_standin_groups_agree() -> None:
    document, resources = _standin_acl()
    acl = wafpy.load_web_acl(document, resources=resources, search_string="text")
    requests = [(_attack(t, where), 0) for t in _tokens(acl.model) for where in ("uri", "query", "body")]
    assert compare(acl.model, _probes() + requests) > 100


def _tokens(model: ast.WebACL) -> list[str]:
    """The search strings and regex literals of a web ACL's rules, its groups' included."""
    found: list[str] = []

    def walk(statement: Any) -> None:
        if isinstance(statement, ast.ByteMatch):
            found.append(statement.search_string.decode("latin-1"))
        elif isinstance(statement, ast.RegexMatch):
            found.extend(x.decode("latin-1") for x in required_literals(statement.regex_string) or ())
        for child in getattr(statement, "statements", ()) or ():
            walk(child)
        if isinstance(statement, ast.Not):
            walk(statement.statement)
        group = getattr(statement, "rule_group", None)
        if group is not None:
            for rule in group.rules:
                walk(rule.statement)

    for rule in model.rules:
        walk(rule.statement)
    return list(dict.fromkeys(found))


TOKENS = _tokens(_LARGE.model)


def _attack(text: str, where: str) -> dict[str, Any]:
    raw = realistic_acl.browser_get() if where != "body" else realistic_acl.json_post()
    quoted = urllib.parse.quote(text, safe="")
    if where == "uri":
        raw["uri"] = "/catalog/" + quoted
    elif where == "query":
        raw["args"] = f"q={quoted}&page=1"
    elif where == "body":
        raw["body"] = raw["body"][:-1] + f', "x": "{text}"}}'
    else:
        raw["headers"] = [*raw["headers"], {"name": where, "value": text}]
    return raw


def _variant(token: str, how: str) -> str:
    if how == "upper":
        return token.upper()
    if how == "miss" and token:
        return token[:-1] + chr((ord(token[-1]) + 1) % 128)  # a near miss: last character changed
    if how == "encoded":
        return "".join(f"%{ord(c):02X}" if c.isalpha() else c for c in token)
    if how == "html":
        return "".join(f"&#{ord(c)};" if c.isalpha() else c for c in token)
    if how == "split":
        return token[: len(token) // 2] + " " + token[len(token) // 2 :]
    return token


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tokens=st.lists(st.sampled_from(TOKENS), min_size=1, max_size=3),
    how=st.sampled_from(["same", "upper", "miss", "encoded", "html", "split"]),
    where=st.sampled_from(["uri", "query", "body", "user-agent", "referer", "cookie"]),
    body=st.booleans(),
)
def test_large_acl_agrees_on_requests_holding_literals(
    tokens: list[str], how: str, where: str, body: bool
) -> None:
    text = "".join(_variant(t, how) for t in tokens)
    raw = _attack(text if where != "cookie" else f"a={text}", where)
    compare(_LARGE.model, [(raw, 0)], body=body)


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [
        ("abc", {b"abc"}),
        ("(?i)UNION\\s+select", {b"select"}),  # the longest; lower case
        ("(curl|wget)/[0-9.]+$", {b"curl", b"wget"}),
        ("\\$\\{jndi:", {b"${jndi:"}),
        ("(?i:AB)C", {b"abc"}),
        ("[=(]abc", {b"abc"}),  # "[=" without "=]" is no POSIX class
        ("x?yz", {b"yz"}),
    ],
)
def test_required_literals(pattern: str, literals: set[bytes]) -> None:
    assert required_literals(pattern) == frozenset(literals)


@pytest.mark.parametrize(
    "pattern",
    [
        "^$",
        "a|",  # an empty alternative matches anywhere
        "[[:alpha:]]abc",  # Python would read a literal "]abc"
        "a{,3}bc",  # newer PCRE reads {,3} as a quantifier
        "(?x) a b",
        "\\Qabc\\E",  # not Python syntax
        "ab\\vcd",  # PCRE's vertical-space class, a vertical tab to Python
        "(?:abc)?",
        "[a-z]+",
    ],
)
def test_unsure_patterns_give_no_literal_or_a_safe_one(pattern: str) -> None:
    found = required_literals(pattern)
    assert found is None or all(b"]" not in x and b"\x0b" not in x for x in found)


def test_latin1_letters_are_folded_on_both_sides() -> None:
    # RE2 in Latin-1 mode may fold É and é under (?i): the literal and the text are both folded.
    assert required_literals("(?i)caf\\xc9x") == frozenset([b"caf\xe9x"])
    assert b"caf\xe9x" in fold(b"CAF\xe9X") and b"caf\xe9x" in fold(b"caf\xc9x")


def test_a_literal_search_pickles() -> None:
    search = LiteralSearch([b"select", b"elect", b"union", b"<script"])
    copy = pickle.loads(pickle.dumps(search))
    assert copy.found(b"xselect union") == search.found(b"xselect union") == {0, 1, 2}
