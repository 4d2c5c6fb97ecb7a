"""wafpy.load.documents: document shapes, CloudFormation intrinsics, and the shared corpus."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from wafpy.errors import RulesetError
from wafpy.load.documents import DocumentKind, detect_resource, parse_document, synthetic_arn, unwrap
from wafpy.load.jsontree import from_python, to_python
from wafpy.load.parse import parse_json

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora" / "webacls"

NEEDS_AWS = "cannot load: Ref needs a value only AWS has"
ACL = {"Name": "acl", "DefaultAction": {"Allow": {}}, "Rules": []}


def _template(**resources: Any) -> dict[str, Any]:
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}


def _res(kind: str, props: dict[str, Any]) -> dict[str, Any]:
    return {"Type": f"AWS::WAFv2::{kind}", "Properties": props}


SHAPES: list[tuple[str, Any, DocumentKind, str, str]] = [
    ("bare", ACL, "WebACL", "bare", ""),
    (
        "get-web-acl",
        {"WebACL": ACL, "LockToken": "t", "ApplicationIntegrationURL": "u"},
        "WebACL",
        "api",
        "WebACL",
    ),
    ("get-web-acl-for-resource", {"WebACL": ACL}, "WebACL", "api", "WebACL"),
    ("get-ip-set", {"IPSet": {"Addresses": []}, "LockToken": "t"}, "IPSet", "api", "IPSet"),
    (
        "get-regex-pattern-set",
        {"RegexPatternSet": {"Name": "r"}},
        "RegexPatternSet",
        "api",
        "RegexPatternSet",
    ),
    ("get-rule-group", {"RuleGroup": {"Rules": []}, "LockToken": "t"}, "RuleGroup", "api", "RuleGroup"),
    (
        "template",
        _template(MyAcl=_res("WebACL", ACL)),
        "WebACL",
        "cloudformation",
        "Resources.MyAcl.Properties",
    ),
    ("resource", _res("WebACL", ACL), "WebACL", "cloudformation", "Properties"),
    (
        "template without version",
        {"Resources": {"G": _res("RuleGroup", {"Capacity": 10, "Rules": []})}},
        "RuleGroup",
        "cloudformation",
        "Resources.G.Properties",
    ),
]


@pytest.mark.parametrize(
    ("doc", "expect", "origin", "path"), [s[1:] for s in SHAPES], ids=[s[0] for s in SHAPES]
)
def test_shapes_unwrap(doc: Any, expect: DocumentKind, origin: str, path: str) -> None:
    got = unwrap(parse_json(json.dumps(doc, indent=2)), expect=expect)
    assert (got.kind, got.origin, got.path) == (expect, origin, path)
    assert got.value.line is not None  # the inner object keeps its position


def test_template_picks_the_expected_type_and_lists_the_others() -> None:
    ipset = {"Name": "deny", "Scope": "CLOUDFRONT", "IPAddressVersion": "IPV4", "Addresses": ["192.0.2.0/24"]}
    doc = _template(Deny=_res("IPSet", ipset), Acl=_res("WebACL", ACL), Log={"Type": "AWS::S3::Bucket"})
    got = unwrap(from_python(doc), expect="WebACL", account="123456789012")
    assert got.logical_id == "Acl"
    assert [(r.logical_id, r.kind) for r in got.others] == [("Deny", "IPSet")]
    arn = "arn:aws:wafv2:us-east-1:123456789012:global/ipset/deny/Deny"
    assert got.others[0].arn == arn
    assert to_python(got.arns[arn]) == ipset


@pytest.mark.parametrize(
    ("doc", "expect", "kwargs", "message"),
    [
        (
            _template(A=_res("WebACL", ACL), B=_res("WebACL", ACL)),
            "WebACL",
            {},
            "the template has 2 AWS::WAFv2::WebACL resources (A, B); choose one by logical id",
        ),
        (
            _template(A=_res("WebACL", ACL)),
            "WebACL",
            {"logical_id": "B"},
            "no AWS::WAFv2::WebACL resource with logical id 'B' (the template has: A)",
        ),
        (
            _template(S=_res("IPSet", {})),
            "WebACL",
            {},
            "the template has no AWS::WAFv2::WebACL resource (it has S (IPSet))",
        ),
        ({"IPSet": {}}, "WebACL", {}, "this is an IPSet document (get-* output), expected a WebACL"),
        (
            _res("RuleGroup", {}),
            "WebACL",
            {},
            "this is an AWS::WAFv2::RuleGroup resource, expected AWS::WAFv2::WebACL",
        ),
        ([ACL], "WebACL", {}, "expected a WebACL JSON object, got a JSON array"),
    ],
    ids=["several", "unknown logical id", "none of that type", "other get output", "other resource", "array"],
)
def test_wrong_shapes_are_explained(doc: Any, expect: DocumentKind, kwargs: Any, message: str) -> None:
    with pytest.raises(RulesetError) as info:
        unwrap(from_python(doc), expect=expect, **kwargs)
    assert info.value.message == message


def test_logical_id_picks_one_of_several() -> None:
    doc = _template(A=_res("WebACL", {**ACL, "Name": "a"}), B=_res("WebACL", {**ACL, "Name": "b"}))
    got = unwrap(from_python(doc), expect="WebACL", logical_id="B")
    assert (got.logical_id, to_python(got.value)["Name"]) == ("B", "b")


def test_intrinsics_that_need_no_aws_are_resolved() -> None:
    acl = {
        "Name": {"Fn::Sub": "acl-${Env}-${!Literal}"},
        "Description": {"Fn::Join": ["-", [{"Ref": "Env"}, "x", {"Ref": "AWS::Partition"}]]},
        "DefaultAction": {"Fn::If": ["IsProd", {"Block": {}}, {"Allow": {}}]},
        "Rules": [
            {
                "Name": "ips",
                "Statement": {"IPSetReferenceStatement": {"ARN": {"Fn::GetAtt": ["Deny", "Arn"]}}},
                "RuleLabels": {"Ref": "AWS::NoValue"},
            },
            {"Name": "rate", "Statement": {"RateBasedStatement": {"Limit": {"Ref": "Limit"}}}},
            {
                "Name": "sub",
                "Statement": {"RegexPatternSetReferenceStatement": {"ARN": {"Fn::Sub": "${Pats.Arn}"}}},
            },
        ],
    }
    doc = _template(
        Acl=_res("WebACL", acl),
        Deny=_res("IPSet", {"Name": "deny", "Addresses": []}),
        Pats=_res("RegexPatternSet", {"Name": {"Ref": "Env"}, "RegularExpressionList": ["^a"]}),
    )
    doc["Parameters"] = {
        "Env": {"Type": "String", "Default": "prod"},
        "Limit": {"Type": "Number", "Default": 500},
    }
    doc["Conditions"] = {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}}
    got = parse_document(json.dumps(doc, indent=2), expect="WebACL")
    value = to_python(got.value)
    deny = synthetic_arn("IPSet", "deny", "Deny")
    pats = "arn:aws:wafv2:us-east-1:000000000000:regional/regexpatternset/Pats/Pats"
    assert value["Name"] == "acl-prod-${Literal}"
    assert value["Description"] == "prod-x-aws"
    assert value["DefaultAction"] == {"Block": {}}
    assert value["Rules"][0] == {"Name": "ips", "Statement": {"IPSetReferenceStatement": {"ARN": deny}}}
    assert value["Rules"][1]["Statement"]["RateBasedStatement"]["Limit"] == 500
    assert value["Rules"][2]["Statement"]["RegexPatternSetReferenceStatement"]["ARN"] == pats
    assert to_python(got.arns[deny]) == {"Name": "deny", "Addresses": []}
    assert to_python(got.arns[pats])["Name"] == "prod"


@pytest.mark.parametrize(
    ("template", "name"),
    [
        ("acl-${Env}-${Env", "acl-prod-${Env"),  # an unclosed reference is text
        ("${Env}${${${", "prod${${${"),
        ("${!Env", "${!Env"),
        ("a}${Env}}", "a}prod}"),
    ],
)
def test_sub_keeps_unclosed_references_as_text(template: str, name: str) -> None:
    doc = _template(Acl=_res("WebACL", {**ACL, "Name": {"Fn::Sub": template}}))
    doc["Parameters"] = {"Env": {"Type": "String", "Default": "prod"}}
    got = parse_document(json.dumps(doc), expect="WebACL")
    assert to_python(got.value)["Name"] == name


@pytest.mark.parametrize(
    ("value", "message", "path"),
    [
        (
            {"Fn::ImportValue": "Shared"},
            "cannot load: Fn::ImportValue needs a value only AWS has",
            "Rules[0].Name",
        ),
        (
            {"Ref": "NoDefault"},
            NEEDS_AWS + " (NoDefault is not a template parameter with a Default)",
            "Rules[0].Name",
        ),
        (
            {"Fn::GetAtt": ["Bucket", "Arn"]},
            "cannot load: Fn::GetAtt needs a value only AWS has (Bucket.Arn is not a WAFv2 IP set,"
            " regex pattern set or rule group of this template)",
            "Rules[0].Name",
        ),
        (
            {"Fn::Sub": "${AWS::Region}-x"},
            NEEDS_AWS + " (AWS::Region is not a template parameter with a Default)",
            "Rules[0].Name",
        ),
    ],
    ids=["ImportValue", "Ref without default", "GetAtt of other resource", "Sub of region"],
)
def test_intrinsics_needing_aws_are_errors_with_their_path(value: Any, message: str, path: str) -> None:
    doc = _template(Acl=_res("WebACL", {**ACL, "Rules": [{"Name": value}]}))
    doc["Parameters"] = {"NoDefault": {"Type": "String"}}
    with pytest.raises(RulesetError) as info:
        parse_document(json.dumps(doc, indent=2), expect="WebACL", source="t.json")
    error = info.value
    assert (error.message, error.json_path) == (message, f"Resources.Acl.Properties.{path}")
    assert error.source == "t.json" and error.line is not None


def test_intrinsics_outside_a_template_are_refused() -> None:
    with pytest.raises(RulesetError) as info:
        unwrap(from_python({**ACL, "Name": {"Ref": "Stack"}}), expect="WebACL")
    assert info.value.json_path == "Name"
    assert info.value.message.startswith("cannot load: Ref is a CloudFormation intrinsic function")


@pytest.mark.parametrize(
    "text",
    ["AWSTemplateFormatVersion: '2010-09-09'\nResources: {}\n", "---\nName: acl\n", "# comment\nName: acl\n"],
)
def test_yaml_is_read_as_yaml(text: str) -> None:
    # YAML is read now (tests/test_inputs_yaml.py), no longer refused as "not JSON".
    try:
        got = parse_document(text, expect="WebACL")
    except RulesetError as exc:
        assert "no AWS::WAFv2::WebACL resource" in exc.message
    else:
        assert to_python(got.value) == {"Name": "acl"}


@pytest.mark.parametrize(
    ("doc", "kind"),
    [
        ({"IPSet": {}}, "IPSet"),
        ({"Name": "x", "Addresses": []}, "IPSet"),
        ({"Name": "x", "RegularExpressionList": []}, "RegexPatternSet"),
        ({"Name": "x", "Capacity": 5, "Rules": []}, "RuleGroup"),
        (_res("RegexPatternSet", {}), "RegexPatternSet"),
        (_template(G=_res("RuleGroup", {}), A=_res("WebACL", ACL)), "RuleGroup"),
    ],
)
def test_detect_resource(doc: Any, kind: str) -> None:
    assert detect_resource(from_python(doc)) == kind


def test_detect_resource_refuses_a_web_acl() -> None:
    with pytest.raises(RulesetError, match="not an IP set, regex pattern set or rule group"):
        detect_resource(from_python(ACL))


# --------------------------------------------------------------------------------------------
# The shared corpus of real documents


def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the shared corpus is missing: {CORPUS}")
        pytest.skip("the shared corpus (../shared/corpora/webacls) is not available")
    return sorted(CORPUS.rglob("*.json"))


# Complete documents in the corpus and what they unwrap to (kind, origin, or the intrinsic refused).
COMPLETE = {
    "aws-cli-examples/get-web-acl--output.json": ("WebACL", "api"),
    "aws-cli-examples/get-web-acl-for-resource--output.json": ("WebACL", "api"),
    "aws-cli-examples/get-rule-group--output.json": ("RuleGroup", "api"),
    "aws-cli-examples/get-ip-set--output.json": ("IPSet", "api"),
    "aws-cli-examples/get-regex-pattern-set--output.json": ("RegexPatternSet", "api"),
    "aws-cdk-integ/integ-wafv2-add-override--CfnWebACL.webacl.json": ("WebACL", "bare"),
    "aws-cloudformation-user-guide/aws-resource-wafv2-webacl--example-1.json": ("WebACL", "bare"),
    "aws-waf-developer-guide/customizing-the-incoming-request--0.json": ("WebACL", "bare"),
    "cfn-resource-provider-wafv2/test-data-webacl/test-webacl.json": ("WebACL", "bare"),
    "cfn-resource-provider-wafv2/test-data-rulegroup/test-rulegroup.json": ("RuleGroup", "bare"),
    "cfn-resource-provider-wafv2/test-data-ipset/test-ipset-v4.json": ("IPSet", "bare"),
    "checkov-tests/CVE202144228-PASSED--Pass.webacl.json": ("WebACL", "bare"),
    # CloudFormation Properties copied out of their template keep Ref / Fn::* (no parameters).
    "aws-waf-security-automations/v4--WAFWebACL.webacl.json": ("WebACL", "Ref"),
    "aws-samples-waf-firewall-manager-terraform/3-aws-waf-rate-based--SampleRuleGroup.rulegroup.json": (
        "RuleGroup",
        "Ref",
    ),
}


@pytest.mark.corpora
def test_every_corpus_json_file_parses() -> None:
    files = _corpus_files()
    assert len(files) > 100
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert to_python(parse_json(text, source=path.name)) == json.loads(text), path


@pytest.mark.corpora
def test_corpus_invalid_as_published_files_are_rejected_with_a_position() -> None:
    _corpus_files()
    for path in sorted(CORPUS.rglob("invalid-as-published/*.txt")):
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            with pytest.raises(RulesetError) as info:
                parse_json(path.read_bytes(), source=path.name)
            assert info.value.line is not None and info.value.context, path


@pytest.mark.corpora
@pytest.mark.parametrize("name", sorted(COMPLETE))
def test_corpus_complete_documents_unwrap(name: str) -> None:
    _corpus_files()
    kind, outcome = COMPLETE[name]
    value = parse_json((CORPUS / name).read_bytes(), source=name)
    if outcome in ("api", "bare"):
        got = unwrap(value, expect=kind)  # type: ignore[arg-type]
        assert (got.kind, got.origin) == (kind, outcome)
        if kind != "WebACL":
            assert detect_resource(value) == kind
    else:
        with pytest.raises(RulesetError, match=f"cannot load: {outcome} is a CloudFormation intrinsic"):
            unwrap(value, expect=kind)  # type: ignore[arg-type]
