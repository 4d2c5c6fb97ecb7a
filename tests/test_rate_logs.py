"""`rateBasedRuleList` entries for every aggregate key type and custom key kind, as AWS logs them
(https://docs.aws.amazon.com/waf/latest/developerguide/logging-fields.html and the rate-based
examples in https://docs.aws.amazon.com/waf/latest/developerguide/logging-examples.html), the same
whether the counts come from the synchronous counter or a batched one."""

from __future__ import annotations

from typing import Any

import pytest

import wafpy
from tests.builders import byte_match, rule, web_acl
from wafpy.engine.ratecount import drive
from wafpy.engine.ratelimit import MemoryRateCounter
from wafpy.logs.logrecord import decision_to_log_record

Json = dict[str, Any]
LIMIT = 10
NAMESPACE = "awswaf:000000000000:webacl:rates:"  # the labels of the web ACL below
FORWARDED = {"HeaderName": "X-Forwarded-For", "FallbackBehavior": "MATCH"}


def _tt(*types: str) -> list[Json]:
    return [{"Priority": i, "Type": t} for i, t in enumerate(types)] or [{"Priority": 0, "Type": "NONE"}]


# (id, statement fields besides Limit/EvaluationWindowSec, the entry's fields besides the common ones)
CASES: list[tuple[str, Json, Json]] = [
    ("IP", {"AggregateKeyType": "IP"}, {"limitKey": "IP", "limitValue": "198.51.100.7"}),
    (
        "FORWARDED_IP",
        {"AggregateKeyType": "FORWARDED_IP", "ForwardedIPConfig": FORWARDED},
        {"limitKey": "FORWARDED_IP", "limitValue": "203.0.113.9"},
    ),
    (
        "CONSTANT",
        {
            "AggregateKeyType": "CONSTANT",
            "ScopeDownStatement": byte_match({"UriPath": {}}, "/", "STARTS_WITH"),
        },
        {"limitKey": "CONSTANT"},
    ),
    (
        "Header with transformations",
        {"CustomKeys": [{"Header": {"Name": "X-Dog", "TextTransformations": _tt("LOWERCASE", "TRIM")}}]},
        {"customValues": [{"key": "HEADER", "name": "X-Dog", "value": "ella"}]},
    ),
    (
        "Cookie",
        {"CustomKeys": [{"Cookie": {"Name": "session", "TextTransformations": _tt()}}]},
        {"customValues": [{"key": "COOKIE", "name": "session", "value": "abc"}]},
    ),
    (
        "QueryArgument",
        {"CustomKeys": [{"QueryArgument": {"Name": "user", "TextTransformations": _tt("URL_DECODE")}}]},
        {"customValues": [{"key": "QUERY_ARG", "name": "user", "value": "a b"}]},
    ),
    (
        "QueryString",
        {"CustomKeys": [{"QueryString": {"TextTransformations": _tt()}}]},
        {"customValues": [{"key": "QUERY_STRING", "value": "user=a%20b"}]},
    ),
    (
        "UriPath",
        {"CustomKeys": [{"UriPath": {"TextTransformations": _tt("LOWERCASE")}}]},
        {"customValues": [{"key": "URI_PATH", "value": "/login"}]},
    ),
    (
        "HTTPMethod and IP",
        {"CustomKeys": [{"HTTPMethod": {}}, {"IP": {}}]},
        {"customValues": [{"key": "HTTP_METHOD", "value": "POST"}, {"key": "IP", "value": "198.51.100.7"}]},
    ),
    (
        "ForwardedIP and ASN",
        {"CustomKeys": [{"ForwardedIP": {}}, {"ASN": {}}], "ForwardedIPConfig": FORWARDED},
        {"customValues": [{"key": "FORWARDED_IP", "value": "203.0.113.9"}, {"key": "ASN", "value": "0"}]},
    ),
    (
        "LabelNamespace",
        {"CustomKeys": [{"LabelNamespace": {"Namespace": f"{NAMESPACE}tier:"}}]},
        {
            "customValues": [
                {"key": "LABEL_NAMESPACE", "name": f"{NAMESPACE}tier:", "value": f"{NAMESPACE}tier:gold"}
            ]
        },
    ),
    (
        "JA3 and JA4 missing",
        {
            "CustomKeys": [
                {"JA3Fingerprint": {"FallbackBehavior": "MATCH"}},
                {"JA4Fingerprint": {"FallbackBehavior": "MATCH"}},
            ]
        },
        {"customValues": [{"key": "JA3", "value": "MISSING"}, {"key": "JA4", "value": "MISSING"}]},
    ),
]


def _acl(fields: Json) -> wafpy.WebACL:
    statement = {"RateBasedStatement": {"Limit": LIMIT, "EvaluationWindowSec": 120, **fields}}
    if "CustomKeys" in fields:
        statement["RateBasedStatement"]["AggregateKeyType"] = "CUSTOM_KEYS"
    labeller = rule(
        "gold",
        0,
        byte_match({"UriPath": {}}, "/", "STARTS_WITH"),
        "Count",
        RuleLabels=[{"Name": "tier:gold"}],
    )
    return wafpy.load_web_acl(web_acl([labeller, rule("limit", 1, statement)], name="rates"))


def _request(t_ms: int) -> wafpy.Request:
    headers = [
        {"name": "Host", "value": "shop.example.com"},
        {"name": "X-Dog", "value": "  Ella "},
        {"name": "X-Forwarded-For", "value": "203.0.113.9, 10.0.0.1"},
        {"name": "Cookie", "value": "session=abc"},
    ]
    raw = {
        "clientIp": "198.51.100.7",
        "httpMethod": "POST",
        "uri": "/Login",
        "args": "user=a%20b",
        "headers": headers,
    }
    return wafpy.Request.from_log(raw, timestamp=t_ms)


@pytest.mark.parametrize(("fields", "expected"), [(f, e) for _, f, e in CASES], ids=[c[0] for c in CASES])
@pytest.mark.parametrize("batched", [False, True], ids=["sync", "batched"])
def test_rate_based_rule_list_entry(fields: Json, expected: Json, batched: bool) -> None:
    acl = _acl(fields)
    counter = MemoryRateCounter()
    decisions = []
    for i in range(LIMIT + 1):
        t = 1_700_000_000_000 + i
        if batched:
            steps = acl.evaluate_counted(_request(t), guess=counter.limited)
            decisions.append(drive(steps, counter.hit_many, t))
        else:
            decisions.append(acl.evaluate(_request(t)))
    assert all(not d.rate_based_rule_list for d in decisions[:LIMIT])
    last = decisions[-1]
    assert (last.action, last.terminating_rule_id, last.terminating_rule_type) == (
        "BLOCK",
        "limit",
        "RATE_BASED",
    )
    limit_key = expected.get("limitKey", "CUSTOMKEYS")
    entry = {
        "rateBasedRuleId": last.rate_based_rule_list[0]["rateBasedRuleId"],
        "rateBasedRuleName": "limit",
        "limitKey": limit_key,
        "maxRateAllowed": LIMIT,
        "evaluationWindowSec": "120",
        **{k: v for k, v in expected.items() if k != "limitKey"},
    }
    assert list(last.rate_based_rule_list) == [entry]
    record = decision_to_log_record(last)
    assert record["rateBasedRuleList"] == [entry]
    assert record["terminatingRuleType"] == "RATE_BASED"
