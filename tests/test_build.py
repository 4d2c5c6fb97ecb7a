"""Validated JSON -> typed model: names, ordering, namespaces, ARNs, limits, resources."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from tests.builders import byte_match, rule, visibility, web_acl
from wafpy import model as ast
from wafpy.load.loader import load_rule_group_model, load_web_acl_model

VIS = visibility()
IPSET = "arn:aws:wafv2:us-east-1:111122223333:regional/ipset/s/1"


def acl(*statements: dict[str, Any], **extra: Any) -> dict[str, Any]:
    rules = [rule(f"r{i}", i, s, metric="m") for i, s in enumerate(statements)]
    return web_acl(rules, name="test01", metric="m", **extra)


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ({"SingleHeader": {"Name": "User-Agent"}}, ast.SingleHeader("user-agent")),
        ({"SingleQueryArgument": {"Name": "UserName"}}, ast.SingleQueryArgument("username")),
        ({"Body": {}}, ast.Body("CONTINUE")),
        ({"Body": {"OversizeHandling": "MATCH"}}, ast.Body("MATCH")),
        ({"UriFragment": {}}, ast.UriFragment("NO_MATCH")),
        (
            {"JsonBody": {"MatchPattern": {"IncludedPaths": ["/a"]}, "MatchScope": "VALUE"}},
            ast.JsonBody(ast.JsonMatchPattern(included_paths=("/a",)), "VALUE", None, "CONTINUE"),
        ),
        (
            {
                "Headers": {
                    "MatchPattern": {"ExcludedHeaders": ["a"]},
                    "MatchScope": "KEY",
                    "OversizeHandling": "NO_MATCH",
                }
            },
            ast.Headers(ast.NameMatchPattern(excluded=("a",)), "KEY", "NO_MATCH"),
        ),
    ],
)
def test_field_to_match(field: dict[str, Any], expected: ast.FieldToMatch) -> None:
    stmt = load_web_acl_model(acl(byte_match(field))).rules[0].statement
    assert isinstance(stmt, ast.ByteMatch)
    assert stmt.field_to_match == expected


def test_transformations_sorted_by_priority() -> None:
    tts = [{"Priority": 5, "Type": "LOWERCASE"}, {"Priority": 1, "Type": "URL_DECODE"}]
    stmt = load_web_acl_model(acl(byte_match({"UriPath": {}}, text_transformations=tts))).rules[0].statement
    assert isinstance(stmt, ast.ByteMatch)
    assert [t.type for t in stmt.text_transformations] == ["URL_DECODE", "LOWERCASE"]


@pytest.mark.parametrize(
    ("mode", "written", "expected"),
    [
        ("text", "dGVzdA==", b"dGVzdA=="),
        ("base64", "dGVzdA==", b"test"),
    ],
)
def test_search_string_modes(mode: str, written: str, expected: bytes) -> None:
    doc = acl(byte_match({"UriPath": {}}, written))
    stmt = load_web_acl_model(doc, search_string=mode).rules[0].statement  # type: ignore[arg-type]
    assert isinstance(stmt, ast.ByteMatch) and stmt.search_string == expected


def test_search_string_auto_is_base64_for_get_output_and_text_otherwise() -> None:
    doc = acl(byte_match({"UriPath": {}}, base64.b64encode(b"\x00\xffbin").decode()))
    wrapped = load_web_acl_model({"WebACL": doc, "LockToken": "t"}).rules[0].statement
    bare = load_web_acl_model(doc).rules[0].statement
    assert isinstance(wrapped, ast.ByteMatch) and wrapped.search_string == b"\x00\xffbin"
    assert isinstance(bare, ast.ByteMatch) and bare.search_string == b"AP9iaW4="


def test_search_string_base64_member_is_decoded() -> None:
    doc = acl(byte_match({"UriPath": {}}))
    stmt_json = doc["Rules"][0]["Statement"]["ByteMatchStatement"]
    stmt_json["SearchStringBase64"] = base64.b64encode(b"hello").decode()
    del stmt_json["SearchString"]
    stmt = load_web_acl_model(doc, search_string="text").rules[0].statement
    assert isinstance(stmt, ast.ByteMatch) and stmt.search_string == b"hello"


@pytest.mark.parametrize(
    ("extra", "account", "namespace", "arn_start"),
    [
        (
            {},
            None,
            "awswaf:000000000000:webacl:test01:",
            "arn:aws:wafv2:us-east-1:000000000000:regional/webacl/test01/local",
        ),
        ({}, "111122223333", "awswaf:111122223333:webacl:test01:", "arn:aws:wafv2:us-east-1:111122223333:"),
        (
            {"ARN": "arn:aws:wafv2:us-west-2:123456789012:regional/webacl/test01/abc", "Id": "abc"},
            "999999999999",
            "awswaf:123456789012:webacl:test01:",
            "arn:aws:wafv2:us-west-2:123456789012:",
        ),
        ({"LabelNamespace": "awswaf:5:webacl:test01:"}, None, "awswaf:5:webacl:test01:", "arn:aws:wafv2:"),
    ],
)
def test_label_namespace_and_arn(
    extra: dict[str, Any], account: str | None, namespace: str, arn_start: str
) -> None:
    model = load_web_acl_model(acl(byte_match({"UriPath": {}}), **extra), account=account)
    assert model.label_namespace == namespace
    assert model.arn.startswith(arn_start)


def test_cloudformation_logical_id_in_synthesized_arn() -> None:
    template = {
        "Resources": {"MyAcl": {"Type": "AWS::WAFv2::WebACL", "Properties": acl(byte_match({"UriPath": {}}))}}
    }
    model = load_web_acl_model(template, account="111122223333")
    assert model.arn == "arn:aws:wafv2:us-east-1:111122223333:regional/webacl/test01/MyAcl"
    assert model.id == "MyAcl"


@pytest.mark.parametrize(
    ("config", "limit"),
    [
        (None, 8192),
        ({"RequestBody": {"APPLICATION_LOAD_BALANCER": {"DefaultSizeInspectionLimit": "KB_16"}}}, 16384),
        ({"RequestBody": {"APPLICATION_LOAD_BALANCER": {"DefaultSizeInspectionLimit": "KB_64"}}}, 65536),
        ({"RequestBody": {"CLOUDFRONT": {"DefaultSizeInspectionLimit": "KB_32"}}}, 8192),
    ],
)
def test_body_inspection_limit(config: dict[str, Any] | None, limit: int) -> None:
    extra = {"AssociationConfig": config} if config else {}
    assert load_web_acl_model(acl(byte_match({"Body": {}}), **extra)).body_inspection_limit == limit


def test_immunity_times() -> None:
    doc = acl(byte_match({"UriPath": {}}), CaptchaConfig={"ImmunityTimeProperty": {"ImmunityTime": 600}})
    doc["Rules"][0]["ChallengeConfig"] = {"ImmunityTimeProperty": {"ImmunityTime": 900}}
    model = load_web_acl_model(doc)
    assert (model.captcha_immunity, model.challenge_immunity) == (600, 300)
    assert model.rules[0].challenge_immunity == 900


def test_firewall_manager_groups_become_rules() -> None:
    fms = {
        "Name": "fms",
        "Priority": 0,
        "OverrideAction": {"Count": {}},
        "VisibilityConfig": VIS,
        "FirewallManagerStatement": {
            "ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesAnonymousIpList"}
        },
    }
    from wafpy.load.loader import load_document

    model = load_document(
        acl(byte_match({"UriPath": {}}), PreProcessFirewallManagerRuleGroups=[fms]), "WebACL"
    ).model
    assert isinstance(model, ast.WebACL)
    (rule,) = model.pre_process_rules
    assert rule.override_action == "Count"
    assert isinstance(rule.statement, ast.ManagedRuleGroup)


def test_resources_embedded_and_addresses_masked() -> None:
    ipset = {"Name": "s", "Id": "1", "ARN": IPSET, "IPAddressVersion": "IPV4", "Addresses": ["192.0.2.5/24"]}
    model = load_web_acl_model(acl({"IPSetReferenceStatement": {"ARN": IPSET}}), resources={IPSET: ipset})
    stmt = model.rules[0].statement
    assert isinstance(stmt, ast.IPSetReference) and stmt.ip_set is not None
    assert stmt.ip_set.addresses == ("192.0.2.0/24",)


def test_spans_carry_path_and_position() -> None:
    text = (
        '{"Name": "a", "DefaultAction": {"Allow": {}},\n"VisibilityConfig": '
        + str(VIS).replace("'", '"').replace("True", "true")
        + ',\n"Rules": [{"Name": "r", "Priority": 0, "Action": {"Count": {}}, "VisibilityConfig": '
        + str(VIS).replace("'", '"').replace("True", "true")
        + ',\n "Statement": {"GeoMatchStatement": {"CountryCodes": ["US"]}}}]}'
    )
    model = load_web_acl_model(text)
    span = model.rules[0].statement.span
    assert span is not None
    assert (span.path, span.line) == ("Rules[0].Statement.GeoMatchStatement", 4)


def test_rule_group_namespace_and_body_keys_are_its_own() -> None:
    group = {
        "Name": "g",
        "Capacity": 10,
        "VisibilityConfig": VIS,
        "CustomResponseBodies": {"k": {"ContentType": "TEXT_PLAIN", "Content": "no"}},
        "Rules": [
            {
                "Name": "r",
                "Priority": 0,
                "Statement": byte_match({"UriPath": {}}),
                "VisibilityConfig": VIS,
                "Action": {"Block": {"CustomResponse": {"ResponseCode": 403, "CustomResponseBodyKey": "k"}}},
            }
        ],
    }
    model = load_rule_group_model(copy.deepcopy(group), account="111122223333")
    assert model.label_namespace == "awswaf:111122223333:rulegroup:g:"
    assert model.rules[0].action is not None and model.rules[0].action.custom_response is not None
    assert model.custom_response_bodies["k"].content == "no"
