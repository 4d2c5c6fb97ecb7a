"""Forms the inline scanner generates for speed decide exactly like the reference closures.

`compile_acl(..., inline=False)` keeps every statement a closure call and returns to the
evaluation loop for every rule that matched; the inline scanner concludes plain Count rules
itself (labels, trace entry, log entry) and writes IP-set, label and size tests inline. Each
case here compares the two forms on the whole Decision a user can see.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

import wafpy
from tests import builders
from tests.builders import byte_match, rule, size_constraint
from wafpy.engine.compile import compile_acl
from wafpy.engine.evaluate import evaluate
from wafpy.engine.services import Services

ACCOUNT = "111122223333"
IPSET = f"arn:aws:wafv2:eu-west-1:{ACCOUNT}:regional/ipset/office/22222222-2222-2222-2222-222222222222"
FORWARDED = f"arn:aws:wafv2:eu-west-1:{ACCOUNT}:regional/ipset/fwd/33333333-3333-3333-3333-333333333333"
URI: dict[str, Any] = {"UriPath": {}}


def _resources() -> dict[str, Any]:
    return {
        IPSET: {
            "Name": "office",
            "Id": "22222222-2222-2222-2222-222222222222",
            "ARN": IPSET,
            "IPAddressVersion": "IPV4",
            "Addresses": ["198.51.100.0/24", "203.0.113.7/32"],
        },
        FORWARDED: {
            "Name": "fwd",
            "Id": "33333333-3333-3333-3333-333333333333",
            "ARN": FORWARDED,
            "IPAddressVersion": "IPV4",
            "Addresses": ["192.0.2.0/24"],
        },
    }


def _web_acl() -> dict[str, Any]:
    label = {"LabelMatchStatement": {"Scope": "LABEL", "Key": "flow:office"}}
    rules = [
        rule(
            "count-office",
            0,
            {"IPSetReferenceStatement": {"ARN": IPSET}},
            "Count",
            RuleLabels=[{"Name": "flow:office"}, {"Name": "seen"}],
        ),
        rule(
            "count-geo",
            1,
            {"GeoMatchStatement": {"CountryCodes": ["FR", "DE"]}},
            "Count",
            RuleLabels=[{"Name": "geo:eu"}],
        ),
        rule(
            "count-forwarded",
            2,
            {
                "IPSetReferenceStatement": {
                    "ARN": FORWARDED,
                    "IPSetForwardedIPConfig": {
                        "HeaderName": "X-Forwarded-For",
                        "FallbackBehavior": "NO_MATCH",
                        "Position": "FIRST",
                    },
                }
            },
            "Count",
        ),
        rule(
            "count-headers",
            3,
            byte_match(URI, "/api", "STARTS_WITH", "LOWERCASE"),
            "Count",
            action_body={"CustomRequestHandling": {"InsertHeaders": [{"Name": "api", "Value": "1"}]}},
            RuleLabels=[{"Name": "api"}],
        ),
        rule("count-big", 4, size_constraint({"QueryString": {}}, "GT", 20, "NONE"), "Count"),
        rule("office-login", 5, {"AndStatement": {"Statements": [label, byte_match(URI, "/login")]}}),
        rule("block-admin", 6, byte_match(URI, "/admin", "STARTS_WITH", "LOWERCASE")),
        rule("count-late", 7, {"NotStatement": {"Statement": label}}, "Count", RuleLabels=[{"Name": "late"}]),
    ]
    arn = f"arn:aws:wafv2:eu-west-1:{ACCOUNT}:regional/webacl/forms/44444444-4444-4444-4444-444444444444"
    return builders.web_acl(rules, name="forms", arn=arn)


def _outcome(decision: wafpy.Decision) -> tuple[Any, ...]:
    return (
        decision.action,
        decision.terminating_rule_id,
        decision.labels,
        decision.non_terminating_matching_rules,
        decision.log_non_terminating,
        decision.inserted_request_headers,
        decision.response_code,
        decision.trace,
    )


REQUESTS = [
    ("198.51.100.9", "FR", "/", "", []),
    ("198.51.100.9", "US", "/login", "", []),
    ("198.51.100.9", "DE", "/ADMIN/x", "", []),
    ("10.0.0.1", "DE", "/api/v1", "q=aaaaaaaaaaaaaaaaaaaaaaaaaaaaa", []),
    ("10.0.0.1", "US", "/login", "", [{"name": "X-Forwarded-For", "value": "192.0.2.4"}]),
    ("203.0.113.7", "FR", "/api/login", "x=1", [{"name": "X-Forwarded-For", "value": "bogus"}]),
    ("10.0.0.1", "US", "/", "", []),
]


@pytest.mark.parametrize("ip,country,uri,args,headers", REQUESTS)
def test_inline_forms_decide_like_the_closures(
    ip: str, country: str, uri: str, args: str, headers: list[dict[str, str]]
) -> None:
    acl = wafpy.load_web_acl(_web_acl(), resources=_resources(), search_string="text")
    inline = compile_acl(acl.model, inline=True)
    closures = compile_acl(acl.model, inline=False)
    raw = {
        "clientIp": ip,
        "country": country,
        "uri": uri,
        "args": args,
        "httpMethod": "GET",
        "httpVersion": "HTTP/1.1",
        "headers": [{"name": "Host", "value": "example.com"}, *headers],
    }
    decisions = [
        evaluate(form, wafpy.Request.from_log(raw, 1_000, body_available=True), Services())
        for form in (inline, closures)
    ]
    assert _outcome(decisions[0]) == _outcome(decisions[1])


def test_count_rules_are_concluded_inside_the_scanner() -> None:
    acl = wafpy.load_web_acl(_web_acl(), resources=_resources(), search_string="text")
    source = acl.scanner_source
    assert "count_office_counted(ctx)" in source
    assert "count_geo_counted(ctx)" in source
    # Inserted headers take the evaluation loop.
    assert "count_headers_counted" not in source
    decision = acl.evaluate(
        wafpy.Request(uri="/", client_ip="198.51.100.9", country="FR", headers=[("Host", "example.com")])
    )
    assert decision.action == "ALLOW"
    assert decision.non_terminating_matching_rules == ("count-office", "count-geo")
    logged = [e["ruleId"] for e in decision.log_non_terminating]
    assert logged == list(decision.non_terminating_matching_rules)
    assert "awswaf:111122223333:webacl:forms:flow:office" in decision.labels


def _fields(decision: wafpy.Decision) -> dict[str, Any]:
    out = {f.name: getattr(decision, f.name) for f in dataclasses.fields(decision)}
    out["trace_builder"] = decision.trace
    return out


@pytest.mark.parametrize("default", ["Allow", "Block"])
def test_an_empty_web_acl_decides_like_the_general_path(default: str) -> None:
    acl = wafpy.load_web_acl(builders.web_acl([], name="empty", default=default))
    compiled = compile_acl(acl.model)
    # Rules given as a list, not the tuple the fast path tests for: the general path.
    general = dataclasses.replace(compiled, rules=[])  # type: ignore[arg-type]
    request = wafpy.Request(uri="/x", query="a=1", headers=[("Host", "example.com")], timestamp_ms=5)
    fast = evaluate(compiled, request, Services())
    assert _fields(fast) == _fields(evaluate(general, request, Services()))
    assert fast.action == default.upper()
