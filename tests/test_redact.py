"""RedactedFields: a redacted value appears nowhere in the log record, at any level.

One web ACL surfaces every request field in every place a record can show it: top-level Count
rules, a rule group whose terminating rule is overridden to Count (group `terminatingRule`) with
Count rules of its own (group `nonTerminatingMatchingRules`), a rule group that terminates the
request (top-level `terminatingRuleMatchDetails`), rate-based rules keyed on each field and on a
forwarded IP (`rateBasedRuleList`). SQL injection rules log the matched tokens, so each field's
value reaches the match details.
"""

from __future__ import annotations

import copy
import string
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import rule, sqli_match, visibility
from tests.test_asgi_support import ARN, web_acl
from wafpy import Request, load_web_acl
from wafpy.decision import Decision
from wafpy.logs.logrecord import decision_to_log_record
from wafpy.middleware.redact import REDACTED, Redactor

LIMIT = 10  # rate-based rules act from the 11th request with the same key

FIELDS: dict[str, dict[str, Any]] = {
    "uri": {"UriPath": {}},
    "query": {"QueryString": {}},
    "arg": {"SingleQueryArgument": {"Name": "q"}},
    "args": {"AllQueryArguments": {}},
    "header": {"SingleHeader": {"Name": "x-secret"}},
    "headers": {
        "Headers": {"MatchPattern": {"All": {}}, "MatchScope": "VALUE", "OversizeHandling": "CONTINUE"}
    },
    "cookies": {
        "Cookies": {"MatchPattern": {"All": {}}, "MatchScope": "VALUE", "OversizeHandling": "CONTINUE"}
    },
    "method": {"Method": {}},
}

# The RedactedFields kinds, each with the request field it hides.
REDACTIONS: dict[str, dict[str, Any]] = {
    "uri": {"UriPath": {}},
    "query": {"QueryString": {}},
    "method": {"Method": {}},
    "header": {"SingleHeader": {"Name": "X-Secret"}},
    "cookie": {"SingleHeader": {"Name": "cookie"}},
    "forwarded": {"SingleHeader": {"Name": "x-forwarded-for"}},
}


def sqli(name: str, priority: int, field: dict[str, Any], action: str = "Count", lower: bool = False) -> Any:
    types = ("URL_DECODE", "LOWERCASE") if lower else ("URL_DECODE",)
    return rule(name, priority, sqli_match(field, *types), action=action)


def group(name: str, rules: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    arn = f"{ARN}/rulegroup/{name}/a1b2c3d4-0000-0000-0000-00000000000{len(rules)}"
    document = {
        "Name": name,
        "Id": arn.rsplit("/", 1)[1],
        "ARN": arn,
        "Capacity": 1000,
        "VisibilityConfig": visibility(name),
        "Rules": rules,
    }
    return arn, document


def group_rule(name: str, priority: int, arn: str, override: str) -> dict[str, Any]:
    return {
        "Name": name,
        "Priority": priority,
        "Statement": {"RuleGroupReferenceStatement": {"ARN": arn}},
        "OverrideAction": {override: {}},
        "VisibilityConfig": visibility(name),
    }


def rate_rule(name: str, priority: int, statement: dict[str, Any]) -> dict[str, Any]:
    return rule(name, priority, {"RateBasedStatement": {"Limit": LIMIT, **statement}}, action="Count")


COUNTED_ARN, COUNTED = group(
    "counted-group",
    [sqli(f"g-count-{kind}", i, field, lower=i % 2 == 0) for i, (kind, field) in enumerate(FIELDS.items())]
    + [sqli("g-block-query", 100, {"QueryString": {}}, action="Block")],
)
FINAL_ARN, FINAL = group("final-group", [sqli("g-block-header", 1, FIELDS["header"], action="Block")])
TEXT = [{"Priority": 0, "Type": "NONE"}]
ACL = load_web_acl(
    web_acl(
        [
            group_rule("counted", 1, COUNTED_ARN, "Count"),
            *(sqli(f"count-{kind}", 10 + i, field) for i, (kind, field) in enumerate(FIELDS.items())),
            rate_rule(
                "rate-fields",
                30,
                {
                    "AggregateKeyType": "CUSTOM_KEYS",
                    "CustomKeys": [
                        {"Header": {"Name": "x-secret", "TextTransformations": TEXT}},
                        {"Cookie": {"Name": "session", "TextTransformations": TEXT}},
                        {"QueryArgument": {"Name": "q", "TextTransformations": TEXT}},
                        {"QueryString": {"TextTransformations": TEXT}},
                        {"UriPath": {"TextTransformations": TEXT}},
                    ],
                },
            ),
            rate_rule(
                "rate-method-ip",
                31,
                {
                    "AggregateKeyType": "CUSTOM_KEYS",
                    "CustomKeys": [{"HTTPMethod": {}}, {"ForwardedIP": {}}],
                    "ForwardedIPConfig": {"HeaderName": "X-Forwarded-For", "FallbackBehavior": "MATCH"},
                },
            ),
            rate_rule(
                "rate-forwarded",
                32,
                {
                    "AggregateKeyType": "FORWARDED_IP",
                    "ForwardedIPConfig": {"HeaderName": "X-Forwarded-For", "FallbackBehavior": "MATCH"},
                },
            ),
            group_rule("final", 40, FINAL_ARN, "None"),
        ]
    ),
    resources={COUNTED_ARN: {"RuleGroup": COUNTED}, FINAL_ARN: {"RuleGroup": FINAL}},
)


def attack(secret: str) -> str:
    """A value that the SQL injection rules match, with `secret` among the logged tokens."""
    return f"'{secret}' OR 1=1--"


def request(secrets: dict[str, str]) -> Request:
    quoted = attack(secrets["query"]).replace("'", "%27").replace(" ", "%20").replace("=", "%3D")
    return Request(
        method=attack(secrets["method"]),
        uri=f"/shop/{attack(secrets['uri'])}",
        query=f"q={quoted}&page=2",
        headers=[
            ("Host", "shop.example.com"),
            ("X-Secret", attack(secrets["header"])),
            ("Cookie", f"session={attack(secrets['cookie'])}; theme=dark"),
            ("X-Forwarded-For", f"{secrets['forwarded']}, 10.0.0.1"),
        ],
        client_ip="198.51.100.1",
    )


def decide(secrets: dict[str, str]) -> Decision:
    """The decision for the request once the rate-based rules act on it."""
    req = request(secrets)
    for _ in range(LIMIT):
        ACL.evaluate(req)
    return ACL.evaluate(req)


def outside_http(record: dict[str, Any]) -> bytes:
    return orjson.dumps({k: v for k, v in record.items() if k != "httpRequest"}).lower()


def secret_text(kind: str) -> st.SearchStrategy[str]:
    return st.text(string.ascii_letters + string.digits, min_size=4, max_size=16).map(
        lambda s: f"zq{kind}{s}"
    )


def apart(secrets: dict[str, str]) -> bool:
    """No secret inside another: finding one must mean finding that one."""
    values = [v.lower() for v in secrets.values()]
    return not any(a in b for a in values for b in values if a is not b)


def secrets_strategy() -> st.SearchStrategy[dict[str, str]]:
    texts = {kind: secret_text(kind) for kind in ("uri", "query", "method", "header", "cookie")}
    forwarded_ip = st.integers(2, 254).map(lambda n: f"203.0.113.{n}")
    return st.fixed_dictionaries({**texts, "forwarded": forwarded_ip}).filter(apart)


SAMPLE = {
    "uri": "zqUriSecret1",
    "query": "zqQuerySecret2",
    "method": "zqMethodSecret3",
    "header": "zqHeaderSecret4",
    "cookie": "zqCookieSecret5",
    "forwarded": "203.0.113.77",
}


def test_each_value_reaches_places_beyond_http_request_without_redaction() -> None:
    """The ACL really puts every field's value outside httpRequest: the test below means something."""
    record = decision_to_log_record(decide(SAMPLE))
    text = outside_http(record)
    for kind, secret in SAMPLE.items():
        assert secret.lower().encode() in text, kind
    group = next(g for g in record["ruleGroupList"] if g["ruleGroupId"] == COUNTED_ARN)
    assert group["terminatingRule"]["ruleMatchDetails"]  # the defect's place: a group's terminating rule
    assert group["nonTerminatingMatchingRules"]
    assert record["terminatingRuleMatchDetails"] and record["rateBasedRuleList"]


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(secrets=secrets_strategy(), redacted=st.sets(st.sampled_from(sorted(REDACTIONS)), min_size=1))
def test_a_redacted_value_appears_nowhere_in_the_record(secrets: dict[str, str], redacted: set[str]) -> None:
    decision = decide(secrets)
    before = copy.deepcopy(
        (decision.rule_group_list, decision.log_non_terminating, decision.rate_based_rule_list)
    )
    record = decision_to_log_record(decision)
    Redactor([REDACTIONS[kind] for kind in sorted(redacted)])(record)
    text = orjson.dumps(record).lower()
    for kind in redacted:
        assert secrets[kind].lower().encode() not in text, kind
    for kind in set(REDACTIONS) - redacted:
        assert secrets[kind].lower().encode() in text, kind  # what is not redacted stays
    # The decision the app may hold is not edited through the record.
    assert (decision.rule_group_list, decision.log_non_terminating, decision.rate_based_rule_list) == before


def where(record: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every request value of a record, in order, with its place (named after the unredacted
    record's rule ids and field names): httpRequest fields, match details, rate-based values."""
    out: list[tuple[str, Any]] = []
    http = record["httpRequest"]
    for key in ("uri", "args", "httpMethod", "host", "requestId"):
        out.append((f"http.{key}", http.get(key)))
    for header in http["headers"]:
        out.append((f"http.header.{header['name'].lower()}", header["value"]))

    def details(prefix: str, items: list[dict[str, Any]]) -> None:
        for item in items:
            name = item.get("matchedFieldName")
            out.append((f"{prefix}:{item['location']}:{name}", (name, item["matchedData"])))

    details("top", record["terminatingRuleMatchDetails"])
    for entry in record["nonTerminatingMatchingRules"]:
        details(f"top/{entry['ruleId']}", entry["ruleMatchDetails"])
    for entry in record["ruleGroupList"]:
        if entry["terminatingRule"]:
            details(
                f"group/{entry['terminatingRule']['ruleId']}", entry["terminatingRule"]["ruleMatchDetails"]
            )
        for inner in entry["nonTerminatingMatchingRules"]:
            details(f"group/{inner['ruleId']}", inner["ruleMatchDetails"])
    for entry in record["rateBasedRuleList"]:
        name = entry["rateBasedRuleName"]
        if "limitValue" in entry:
            out.append((f"rate/{name}/limitValue", entry["limitValue"]))
        for value in entry.get("customValues") or ():
            out.append((f"rate/{name}/{value['key']}:{value.get('name')}", value["value"]))
    return out


# Redacted field -> the places it hides (everything else stays as it was).
HIDDEN = {
    "uri": {
        "http.uri",
        "top/count-uri:URI:None",
        "group/g-count-uri:URI:None",
        "rate/rate-fields/URI_PATH:None",
    },
    "query": {
        "http.args",
        "top/count-query:QUERY_STRING:None",
        "top/count-arg:QUERY_STRING:q",  # the argument name is part of the query string
        "top/count-args:QUERY_STRING:q",
        "group/g-count-query:QUERY_STRING:None",
        "group/g-count-arg:QUERY_STRING:q",
        "group/g-count-args:QUERY_STRING:q",
        "group/g-block-query:QUERY_STRING:None",
        "rate/rate-fields/QUERY_ARG:q",
        "rate/rate-fields/QUERY_STRING:None",
    },
    "method": {
        "http.httpMethod",
        "top/count-method:UNKNOWN:None",
        "group/g-count-method:UNKNOWN:None",
        "rate/rate-method-ip/HTTP_METHOD:None",
    },
    "header": {
        "http.header.x-secret",
        "top:HEADER:x-secret",
        "top/count-header:HEADER:x-secret",
        "top/count-headers:HEADER:X-Secret",  # Headers, not SingleHeader: hidden all the same
        "group/g-count-header:HEADER:x-secret",
        "group/g-count-headers:HEADER:X-Secret",
        "group/g-block-header:HEADER:x-secret",
        "rate/rate-fields/HEADER:x-secret",
    },
    "cookie": {
        "http.header.cookie",
        "top/count-cookies:HEADER:session",  # a cookie's name: part of the Cookie header
        "group/g-count-cookies:HEADER:session",
        "rate/rate-fields/COOKIE:session",
    },
    "forwarded": {
        "http.header.x-forwarded-for",
        "rate/rate-forwarded/limitValue",
        "rate/rate-method-ip/FORWARDED_IP:None",
    },
}


@pytest.mark.parametrize("kind", sorted(HIDDEN))
def test_each_redacted_field_hides_exactly_its_places(kind: str) -> None:
    decision = decide(SAMPLE)
    plain = decision_to_log_record(decision)
    record = decision_to_log_record(decision)
    Redactor([REDACTIONS[kind]])(record)
    before, after = where(plain), where(record)
    assert len(before) == len(after)
    changed = {place for (place, old), (_, new) in zip(before, after, strict=True) if old != new}
    assert changed == HIDDEN[kind]
    for (place, old), (_, new) in zip(before, after, strict=True):
        if place in changed:
            assert REDACTED in orjson.dumps(new).decode() and old != new, place


def test_host_and_trace_headers_hide_the_fields_made_from_them() -> None:
    record = Request(
        uri="/",
        headers=[
            ("Host", "private.example.com"),
            ("X-Amzn-Trace-Id", "Root=1-65f0c0de-0123456789abcdef01234567"),
        ],
        host="private.example.com",
        request_id="1-65f0c0de-0123456789abcdef01234567",
    )
    log = decision_to_log_record(ACL.evaluate(record))
    Redactor([{"SingleHeader": {"Name": "Host"}}, {"SingleHeader": {"Name": "x-amzn-trace-id"}}])(log)
    http = log["httpRequest"]
    assert (http["host"], http["requestId"]) == (REDACTED, REDACTED)
    assert [h["value"] for h in http["headers"]] == [REDACTED, REDACTED]
