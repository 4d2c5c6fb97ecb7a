"""Every complete web ACL, rule group, IP set and regex set of the shared corpus: outcome per file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from wafpy import model as ast
from wafpy.errors import NotAvailableError, RulesetErrors
from wafpy.load.capacity import acl_capacity
from wafpy.load.loader import load_document, load_rule_group_model, load_web_acl_model

pytestmark = pytest.mark.corpora
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def corpus(rel: str) -> Path:
    base = SHARED / "corpora" / "webacls"
    if not base.exists():
        message = "shared corpora not found at ../shared/corpora/webacls"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return base / rel


# file -> (kind, origin, number of rules or None, WCU total or None)
LOADS = {
    "aws-cli-examples/get-web-acl--output.json": ("WebACL", "api", 1, 3),
    "aws-cli-examples/get-web-acl-for-resource--output.json": ("WebACL", "api", 1, None),
    "aws-cli-examples/get-rule-group--output.json": ("RuleGroup", "api", 1, 1),
    "aws-cli-examples/get-ip-set--output.json": ("IPSet", "api", None, None),
    "aws-cli-examples/get-regex-pattern-set--output.json": ("RegexPatternSet", "api", None, None),
    "aws-cloudformation-user-guide/aws-resource-wafv2-webacl--example-1.json": ("WebACL", "bare", 6, 193),
    "aws-cloudformation-user-guide/aws-resource-wafv2-webacl--example-5.json": (
        "WebACL",
        "cloudformation",
        None,
        None,
    ),
    "aws-cloudformation-user-guide/aws-resource-wafv2-rulegroup--example-1.json": (
        "RuleGroup",
        "cloudformation",
        None,
        None,
    ),
    "aws-cloudformation-user-guide/aws-resource-wafv2-ipset--example-1.json": (
        "IPSet",
        "cloudformation",
        None,
        None,
    ),
    "aws-cloudformation-user-guide/aws-resource-wafv2-regexpatternset--example-1.json": (
        "RegexPatternSet",
        "cloudformation",
        None,
        None,
    ),
    "aws-waf-developer-guide/customizing-the-incoming-request--0.json": ("WebACL", "bare", None, None),
    "aws-waf-developer-guide/customizing-the-response-for-blocked-requests--0.json": (
        "RuleGroup",
        "bare",
        1,
        1,
    ),
    "cfn-resource-provider-wafv2/test-data-rulegroup/test-rulegroup.json": ("RuleGroup", "bare", 3, 32),
}

# Managed rule groups: the document is valid, but the group's rules are not available without a
# managed= choice (tests/test_corpora_managed.py loads them with one).
CRS = "AWS/AWSManagedRulesCommonRuleSet"
BAD_INPUTS = "AWS/AWSManagedRulesKnownBadInputsRuleSet"
MANAGED = {
    "aws-cloudformation-user-guide/aws-resource-wafv2-webacl--example-3.json": CRS,
    "checkov-tests/CVE202144228-FAILED--RuleCount.webacl.json": BAD_INPUTS,
    "checkov-tests/CVE202144228-FAILED--RuleGroupCount.webacl.json": BAD_INPUTS,
    "checkov-tests/CVE202144228-FAILED--WrongRule.webacl.json": "AWS/AWSManagedRulesAnonymousIpList",
    "checkov-tests/CVE202144228-PASSED--Pass.webacl.json": BAD_INPUTS,
}

# Invalid as published: (kind, json path of one error, words of its message)
INVALID = {
    "aws-cdk-integ/integ-wafv2-add-override--CfnWebACL.webacl.json": (
        "WebACL",
        "Rules[0].Statement.ByteMatchStatement.FieldToMatch.SingleHeader.name",
        "unknown member 'name' in SingleHeader; did you mean 'Name'?",
    ),
    "aws-samples-waf-firewall-manager-terraform/3-aws-waf-rate-based--SampleRuleGroup.rulegroup.json": (
        "RuleGroup",
        "Rules[0].Statement.RateBasedStatement.Limit",
        "Ref is a CloudFormation intrinsic function",
    ),
    "aws-waf-developer-guide/waf-tokens-block-missing-tokens--0.json": (
        "WebACL",
        "Rules[1].Statement.AndStatement.Statements[0].Statement",
        "unknown member 'Statement' in Statement",
    ),
    "aws-waf-security-automations/v3--WAFWebACL.webacl.json": (
        "WebACL",
        "Name",
        "Ref is a CloudFormation intrinsic function",
    ),
    "aws-waf-security-automations/v4--WAFWebACL.webacl.json": (
        "WebACL",
        "Name",
        "Ref is a CloudFormation intrinsic function",
    ),
    "nonstandard-casing/chenghit-aws-waf-rules-reviewer--web-acl-example.snake_case.json": (
        "WebACL",
        "web_acl",
        "unknown member 'web_acl' in WebACL",
    ),
    # The rule group it references is not supplied: an unresolved ARN names how to supply it.
    "cfn-resource-provider-wafv2/test-data-webacl/test-webacl.json": (
        "WebACL",
        "Rules[3].Statement.RuleGroupReferenceStatement.Arn",
        "unresolved rule group ARN arn:aws:wafv2:",
    ),
}


@pytest.mark.parametrize("rel", sorted(LOADS))
def test_corpus_document_loads(rel: str) -> None:
    kind, origin, rules, wcu = LOADS[rel]
    loaded = load_document(corpus(rel), kind)  # type: ignore[arg-type]
    assert loaded.origin == origin
    assert not loaded.managed_missing
    model = loaded.model
    if rules is not None:
        assert isinstance(model, (ast.WebACL, ast.RuleGroup))
        assert len(model.rules) == rules
    if wcu is not None:
        assert isinstance(model, (ast.WebACL, ast.RuleGroup))
        assert acl_capacity(model).total == wcu


@pytest.mark.parametrize("rel", sorted(MANAGED))
def test_corpus_managed_group_is_not_available(rel: str) -> None:
    with pytest.raises(NotAvailableError, match=MANAGED[rel]) as info:
        load_web_acl_model(corpus(rel))
    assert 'managed="none"' in str(info.value)  # the message names the choices
    loaded = load_document(corpus(rel), "WebACL")
    assert loaded.managed_missing[0][0] == MANAGED[rel]


@pytest.mark.parametrize("rel", sorted(INVALID))
def test_corpus_invalid_as_published(rel: str) -> None:
    kind, path, words = INVALID[rel]
    loader = load_rule_group_model if kind == "RuleGroup" else load_web_acl_model
    with pytest.raises(RulesetErrors) as info:
        loader(corpus(rel))
    hits = [e for e in info.value.errors if e.json_path == path]
    assert hits, [e.json_path for e in info.value.errors]
    assert words in hits[0].message
    assert hits[0].line is not None
    assert info.value.source == str(corpus(rel))


def test_corpus_webacl_with_its_rule_group_supplied() -> None:
    acl_path = corpus("cfn-resource-provider-wafv2/test-data-webacl/test-webacl.json")
    group = json.loads(
        corpus("cfn-resource-provider-wafv2/test-data-rulegroup/test-rulegroup.json").read_text()
    )
    arn = json.loads(acl_path.read_text())["Rules"][3]["Statement"]["RuleGroupReferenceStatement"]["Arn"]
    acl = load_web_acl_model(acl_path, resources={arn: group})
    ref = acl.rules[3].statement
    assert isinstance(ref, ast.RuleGroupReference)
    assert ref.rule_group is not None and ref.rule_group.name == group["Name"]
    # A referenced group costs its stated Capacity.
    assert acl_capacity(acl).rules[3].wcu == group["Capacity"]


def test_corpus_resources_from_files_resolve_by_arn() -> None:
    from wafpy.load.loader import resolver_from_files

    resolver = resolver_from_files(
        [
            corpus("aws-cli-examples/get-ip-set--output.json"),
            corpus("aws-cli-examples/get-regex-pattern-set--output.json"),
        ]
    )
    ipset_arn = json.loads(corpus("aws-cli-examples/get-ip-set--output.json").read_text())["IPSet"]["ARN"]
    assert resolver.ip_set(ipset_arn).arn == ipset_arn
