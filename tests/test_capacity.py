"""WCU per statement and modifier (spec §8.1)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.builders import rule, visibility, web_acl
from wafpy import model as ast
from wafpy.load.capacity import acl_capacity, rule_capacity, statement_capacity
from wafpy.load.loader import load_web_acl_model, mapping_resolver

VIS = visibility()
NONE = [{"Priority": 0, "Type": "NONE"}]
LOWER = [{"Priority": 0, "Type": "LOWERCASE"}]
URI: dict[str, Any] = {"UriPath": {}}
IPSET = "arn:aws:wafv2:us-east-1:111122223333:regional/ipset/s/1"
REGEXSET = "arn:aws:wafv2:us-east-1:111122223333:regional/regexpatternset/r/1"
RESOURCES = {
    IPSET: {"Name": "s", "Id": "1", "ARN": IPSET, "IPAddressVersion": "IPV4", "Addresses": ["10.0.0.0/8"]},
    REGEXSET: {"Name": "r", "Id": "1", "ARN": REGEXSET, "RegularExpressionList": [{"RegexString": "a"}]},
}


def byte(
    constraint: str = "EXACTLY", field: dict[str, Any] = URI, tts: list[Any] = NONE, **extra: Any
) -> dict[str, Any]:
    return {
        "ByteMatchStatement": {
            "SearchString": "x",
            "FieldToMatch": field,
            "TextTransformations": tts,
            "PositionalConstraint": constraint,
            **extra,
        }
    }


def inspect(kind: str, field: dict[str, Any] = URI, tts: list[Any] = NONE, **extra: Any) -> dict[str, Any]:
    return {kind: {"FieldToMatch": field, "TextTransformations": tts, **extra}}


JSON_BODY = {"JsonBody": {"MatchPattern": {"All": {}}, "MatchScope": "ALL"}}
GEO = {"GeoMatchStatement": {"CountryCodes": ["US"]}}

# id -> (statement, WCU)
CASES: dict[str, tuple[dict[str, Any], int]] = {
    "byte exactly": (byte(), 2),
    "byte starts_with": (byte("STARTS_WITH"), 2),
    "byte contains": (byte("CONTAINS"), 10),
    "byte contains_word": (byte("CONTAINS_WORD"), 10),
    "byte + lowercase": (byte(tts=LOWER), 12),
    "byte + two transformations": (
        byte(tts=[{"Priority": 0, "Type": "LOWERCASE"}, {"Priority": 1, "Type": "URL_DECODE"}]),
        22,
    ),
    "byte all query args": (byte(field={"AllQueryArguments": {}}), 12),
    "byte json body doubles": (byte("CONTAINS", field=JSON_BODY), 20),
    "byte json body + transformation": (byte("CONTAINS", field=JSON_BODY, tts=LOWER), 30),
    "byte pre-parse": (
        byte(
            field={"SingleQueryArgument": {"Name": "a"}},
            PreParseTextTransformations=[{"Priority": 0, "Type": "URL_DECODE"}],
        ),
        12,
    ),
    "regex": (inspect("RegexMatchStatement", RegexString="a+"), 3),
    "regex set": (inspect("RegexPatternSetReferenceStatement", ARN=REGEXSET), 25),
    "size": (inspect("SizeConstraintStatement", ComparisonOperator="GT", Size=1), 1),
    "sqli low": (inspect("SqliMatchStatement"), 20),
    "sqli high": (inspect("SqliMatchStatement", SensitivityLevel="HIGH"), 30),
    "xss": (inspect("XssMatchStatement"), 40),
    "xss headers": (
        inspect(
            "XssMatchStatement",
            field={
                "Headers": {"MatchPattern": {"All": {}}, "MatchScope": "ALL", "OversizeHandling": "CONTINUE"}
            },
        ),
        40,
    ),
    "geo": (GEO, 1),
    "asn": ({"AsnMatchStatement": {"AsnList": [64496]}}, 1),
    "label": ({"LabelMatchStatement": {"Scope": "LABEL", "Key": "a"}}, 1),
    "ip set": ({"IPSetReferenceStatement": {"ARN": IPSET}}, 1),
    "ip set forwarded any": (
        {
            "IPSetReferenceStatement": {
                "ARN": IPSET,
                "IPSetForwardedIPConfig": {
                    "HeaderName": "X-Forwarded-For",
                    "FallbackBehavior": "MATCH",
                    "Position": "ANY",
                },
            }
        },
        5,
    ),
    "ip set forwarded first": (
        {
            "IPSetReferenceStatement": {
                "ARN": IPSET,
                "IPSetForwardedIPConfig": {
                    "HeaderName": "X-Forwarded-For",
                    "FallbackBehavior": "MATCH",
                    "Position": "FIRST",
                },
            }
        },
        1,
    ),
    "and (cli example)": (
        {
            "AndStatement": {
                "Statements": [
                    byte(),
                    inspect(
                        "SizeConstraintStatement", field={"QueryString": {}}, ComparisonOperator="EQ", Size=0
                    ),
                ]
            }
        },
        3,
    ),
    "or": ({"OrStatement": {"Statements": [byte("CONTAINS"), GEO]}}, 11),
    "not": ({"NotStatement": {"Statement": byte("CONTAINS")}}, 10),
    "rate ip": ({"RateBasedStatement": {"Limit": 100, "AggregateKeyType": "IP"}}, 2),
    "rate with scope-down": (
        {
            "RateBasedStatement": {
                "Limit": 100,
                "AggregateKeyType": "IP",
                "ScopeDownStatement": byte("CONTAINS"),
            }
        },
        12,
    ),
    "rate two keys": (
        {
            "RateBasedStatement": {
                "Limit": 100,
                "AggregateKeyType": "CUSTOM_KEYS",
                "CustomKeys": [{"HTTPMethod": {}}, {"IP": {}}],
            }
        },
        62,
    ),
}


def _acl(statement: dict[str, Any], *, labels: int = 0) -> dict[str, Any]:
    extra: dict[str, Any] = {"RuleLabels": [{"Name": f"l{i}"} for i in range(labels)]} if labels else {}
    return web_acl([rule("r", 0, statement, "Count", metric="m", **extra)], name="a", metric="m")


@pytest.mark.parametrize("case", sorted(CASES))
def test_statement_capacity(case: str) -> None:
    statement, wcu = CASES[case]
    acl = load_web_acl_model(_acl(statement), resources=RESOURCES, search_string="text")
    assert statement_capacity(acl.rules[0].statement) == wcu
    assert rule_capacity(acl.rules[0]) == wcu


@pytest.mark.parametrize(("labels", "extra"), [(0, 0), (1, 1), (5, 1), (6, 2), (11, 3)])
def test_rule_labels_cost_one_per_five(labels: int, extra: int) -> None:
    acl = load_web_acl_model(_acl(GEO, labels=labels))
    report = acl_capacity(acl)
    assert report.label_wcu == extra
    assert report.total == 1 + extra


@pytest.mark.parametrize(
    ("name", "scope_down", "wcu", "exact"),
    [
        ("AWSManagedRulesCommonRuleSet", None, 700, True),
        ("AWSManagedRulesCommonRuleSet", GEO, 701, True),
        ("AWSManagedRulesAmazonIpReputationList", None, 25, True),
        ("AWSManagedRulesBotControlRuleSet", None, 0, False),
    ],
)
def test_managed_group_capacity(name: str, scope_down: Any, wcu: int, exact: bool) -> None:
    from wafpy.load.loader import load_document

    stmt: dict[str, Any] = {"VendorName": "AWS", "Name": name}
    if scope_down:
        stmt["ScopeDownStatement"] = scope_down
    doc = _acl({"ManagedRuleGroupStatement": stmt})
    rule = doc["Rules"][0]
    del rule["Action"]
    rule["OverrideAction"] = {"None": {}}
    report = acl_capacity(load_document(doc, "WebACL").model)  # type: ignore[arg-type]
    assert (report.rules[0].wcu, report.exact) == (wcu, exact)


def test_rule_group_reference_costs_stated_capacity_or_sum() -> None:
    arn = "arn:aws:wafv2:us-east-1:111122223333:regional/rulegroup/g/1"
    group = {
        "Name": "g",
        "Id": "1",
        "ARN": arn,
        "Capacity": 50,
        "VisibilityConfig": VIS,
        "Rules": [_acl(byte("CONTAINS"))["Rules"][0]],
    }
    doc = _acl({"RuleGroupReferenceStatement": {"ARN": arn}})
    doc["Rules"][0]["OverrideAction"] = {"None": {}}
    del doc["Rules"][0]["Action"]
    acl = load_web_acl_model(doc, resources={arn: group})
    assert rule_capacity(acl.rules[0]) == 50
    ref = acl.rules[0].statement
    assert isinstance(ref, ast.RuleGroupReference) and ref.rule_group is not None
    unstated = ast.RuleGroupReference(
        arn,
        rule_group=ast.RuleGroup(
            name="g", id="1", arn=arn, capacity=None, rules=ref.rule_group.rules, label_namespace="x:"
        ),
    )
    assert statement_capacity(unstated) == 10


def test_managed_resolver_supplies_rules() -> None:
    group = {
        "Name": "crs",
        "Id": "1",
        "ARN": "arn:aws:wafv2:us-east-1:111122223333:regional/rulegroup/crs/1",
        "Capacity": 700,
        "VisibilityConfig": VIS,
        "LabelNamespace": "awswaf:managed:aws:core-rule-set:",
        "Rules": [_acl(byte("CONTAINS"))["Rules"][0]],
    }
    doc = _acl({"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}})
    doc["Rules"][0]["OverrideAction"] = {"None": {}}
    del doc["Rules"][0]["Action"]
    resolver = mapping_resolver(managed={"AWS/AWSManagedRulesCommonRuleSet": group})
    acl = load_web_acl_model(doc, resolver=resolver)
    managed = acl.rules[0].statement
    assert isinstance(managed, ast.ManagedRuleGroup) and managed.rule_group is not None
    assert managed.rule_group.label_namespace == "awswaf:managed:aws:core-rule-set:"
    assert rule_capacity(acl.rules[0]) == 700
