"""The inlined scanner decides exactly like the compiled closures it replaces.

The closures (`compile_acl(..., inline=False)`) are the reference semantics; the generated code
must give the same decisions, labels, rule traces and match details on the conformance web ACLs
and on the realistic benchmark ACL, for the conformance requests and for random variations.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wafpy
from bench import realistic_acl
from wafpy.engine.compile import compile_acl
from wafpy.engine.evaluate import evaluate
from wafpy.engine.services import Services

pytestmark = pytest.mark.slow  # every conformance and realistic ACL compiled both ways

CASES = sorted((Path(__file__).parent / "conformance").glob("*.json"))


def _outcome(decision: wafpy.Decision) -> tuple[Any, ...]:
    return (
        decision.action,
        decision.terminating_rule_id,
        decision.labels,
        decision.non_terminating_matching_rules,
        decision.log_non_terminating,
        decision.response_code,
        [
            (t.rule, t.result, t.action, [(d.statement, d.path, d.matched, d.field_name) for d in t.details])
            for t in decision.trace
        ],
    )


def _both(model: Any, raw: dict[str, Any], timestamp: int) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    inline = compile_acl(model, inline=True)
    closures = compile_acl(model, inline=False)
    request = wafpy.Request.from_log(raw, timestamp=timestamp, body_available=True)
    return (
        _outcome(evaluate(inline, request, Services())),
        _outcome(
            evaluate(
                closures, wafpy.Request.from_log(raw, timestamp=timestamp, body_available=True), Services()
            )
        ),
    )


def test_conformance_acls_agree() -> None:
    compared = 0
    for path in CASES:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if "rate-based" in path.name:
            continue  # two compiled copies would share nothing of the counting state; covered below
        acl = wafpy.load_web_acl(
            doc["webacl"],
            resources=doc.get("resources") or {},
            account=doc.get("account"),
            search_string="text",
        )
        for case in doc["cases"]:
            inline, closures = _both(acl.model, case["request"], case["timestamp"])
            assert inline == closures, f"{path.name}::{case['name']}"
            compared += 1
    assert compared > 350


def test_rate_based_agrees_in_sequence() -> None:
    doc = json.loads(
        (Path(__file__).parent / "conformance" / "18-rate-based-ip.json").read_text(encoding="utf-8")
    )
    acl = wafpy.load_web_acl(doc["webacl"], account=doc.get("account"), search_string="text")
    inline, closures = compile_acl(acl.model, inline=True), compile_acl(acl.model, inline=False)
    s1, s2 = Services(), Services()
    actions = []
    for case in doc["cases"]:
        a = evaluate(
            inline,
            wafpy.Request.from_log(case["request"], timestamp=case["timestamp"], body_available=True),
            s1,
        )
        b = evaluate(
            closures,
            wafpy.Request.from_log(case["request"], timestamp=case["timestamp"], body_available=True),
            s2,
        )
        assert _outcome(a) == _outcome(b), case["name"]
        actions.append(a.action)
    assert "BLOCK" in actions and "ALLOW" in actions


_ACL = wafpy.load_web_acl(realistic_acl.web_acl(), resources=realistic_acl.resources(), search_string="text")
_PIECES = [
    "",
    "x",
    "../",
    "%2e%2e/",
    "<script>",
    "' OR 1=1--",
    "/admin",
    ".php",
    "() {",
    "wp-login",
    "%27",
    "+",
]


@settings(max_examples=150, deadline=None)
@given(
    probe=st.sampled_from(realistic_acl.probe_requests()),
    uri_extra=st.lists(st.sampled_from(_PIECES), max_size=3),
    query=st.lists(st.sampled_from(_PIECES), max_size=4),
    drop_header=st.sampled_from(["", "user-agent", "host", "cookie"]),
    method=st.sampled_from(["GET", "POST", "PROPFIND", "HEAD"]),
)
def test_realistic_acl_agrees(
    probe: tuple[str, dict[str, Any]], uri_extra: list[str], query: list[str], drop_header: str, method: str
) -> None:
    raw = dict(probe[1])
    raw["uri"] = raw["uri"] + "".join(uri_extra)
    raw["args"] = "&".join(f"a{i}={p}" for i, p in enumerate(query))
    raw["headers"] = [h for h in raw["headers"] if h["name"].lower() != drop_header]
    raw["httpMethod"] = method
    inline, closures = _both(_ACL.model, raw, 0)
    assert inline == closures
