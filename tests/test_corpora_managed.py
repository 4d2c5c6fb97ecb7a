"""Every complete web ACL of the shared corpus loads with `managed="none"`, unless it is invalid as
published for a reason of its own; each managed group it uses is then listed as a warning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.shared import shared_dir
from wafpy import RulesetErrors, load_web_acl

pytestmark = pytest.mark.corpora
ACCOUNT = "111122223333"

# Complete web ACL -> (managed rule groups it uses, how it loads): "loads"; "template" (a
# CloudFormation template's Properties: its intrinsics resolved first, see `resolve`); "its rule
# group" (the rule group it references supplied); otherwise words of the error that refuses it
# as published, which has nothing to do with managed groups.
COMPLETE: dict[str, tuple[int, str]] = {
    "aws-cli-examples/get-web-acl--output.json": (0, "loads"),
    "aws-cli-examples/get-web-acl-for-resource--output.json": (0, "loads"),
    "aws-cloudformation-user-guide/aws-resource-wafv2-webacl--example-1.json": (0, "loads"),
    "aws-cloudformation-user-guide/aws-resource-wafv2-webacl--example-3.json": (1, "loads"),
    "aws-cloudformation-user-guide/aws-resource-wafv2-webacl--example-5.json": (0, "loads"),
    "aws-waf-developer-guide/customizing-the-incoming-request--0.json": (0, "loads"),
    "checkov-tests/CVE202144228-FAILED--RuleCount.webacl.json": (1, "loads"),
    "checkov-tests/CVE202144228-FAILED--RuleGroupCount.webacl.json": (1, "loads"),
    "checkov-tests/CVE202144228-FAILED--WrongRule.webacl.json": (1, "loads"),
    "checkov-tests/CVE202144228-PASSED--Pass.webacl.json": (1, "loads"),
    "aws-waf-security-automations/v3--WAFWebACL.webacl.json": (1, "template"),
    "aws-waf-security-automations/v4--WAFWebACL.webacl.json": (11, "template"),
    "cfn-resource-provider-wafv2/test-data-webacl/test-webacl.json": (0, "its rule group"),
    "aws-cdk-integ/integ-wafv2-add-override--CfnWebACL.webacl.json": (
        0,
        "unknown member 'name' in SingleHeader",
    ),
    "aws-waf-developer-guide/waf-tokens-block-missing-tokens--0.json": (
        1,
        "unknown member 'Statement' in Statement",
    ),
    "nonstandard-casing/chenghit-aws-waf-rules-reviewer--web-acl-example.snake_case.json": (
        2,
        "unknown member 'web_acl' in WebACL",
    ),
}

# Values for the template parameters the security-automations web ACLs refer to.
PARAMETERS: dict[str, Any] = {
    "RegionScope": "REGIONAL",
    "RequestThreshold": 2000,
    "SqlInjectionProtectionSensitivityLevelParam": "LOW",
}
_NO_VALUE = object()


def _sub(text: str) -> str:
    """Fn::Sub: each ${Name} replaced by its parameter value, or by Name."""
    out, rest = [], text
    while "${" in rest and "}" in rest.split("${", 1)[1]:
        before, after = rest.split("${", 1)
        name, rest = after.split("}", 1)
        out += [before, str(PARAMETERS.get(name, name))]
    return "".join(out) + rest


def resolve(node: Any, arns: dict[str, str]) -> Any:
    """A template's Properties with every intrinsic function resolved: the true branch of each
    Fn::If, parameters from PARAMETERS, an IP set ARN for each Fn::GetAtt (recorded in `arns`)."""
    if isinstance(node, list):
        return [v for v in (resolve(x, arns) for x in node) if v is not _NO_VALUE]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, arg),) = node.items()
        if key == "Fn::If":
            return resolve(arg[1], arns)
        if key == "Ref":
            return _NO_VALUE if arg == "AWS::NoValue" else PARAMETERS.get(arg, arg)
        if key == "Fn::Sub":
            return _sub(arg if isinstance(arg, str) else arg[0])
        if key == "Fn::Join":
            return str(arg[0]).join(resolve(arg[1], arns))
        if key == "Fn::Split":
            return str(resolve(arg[1], arns)).split(arg[0])
        if key == "Fn::GetAtt":
            logical = arg[0] if isinstance(arg, list) else str(arg).split(".")[0]
            arns[logical] = f"arn:aws:wafv2:us-east-1:{ACCOUNT}:regional/ipset/{logical}/1"
            return arns[logical]
    resolved = ((k, resolve(v, arns)) for k, v in node.items())
    return {k: v for k, v in resolved if v is not _NO_VALUE}


def _is_complete_web_acl(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    if isinstance(value.get("WebACL"), dict) or isinstance(value.get("web_acl"), dict):
        return True
    if "DefaultAction" in value and "Rules" in value:
        return True
    resources = value.get("Resources", value)
    typed = [r for r in resources.values() if isinstance(r, dict) and "Type" in r]
    return any(r["Type"] == "AWS::WAFv2::WebACL" for r in typed)


def _complete_web_acls(base: Path) -> set[str]:
    found = set()
    for path in base.rglob("*.json"):
        rel = path.relative_to(base).as_posix()
        if "invalid-as-published" in rel or "resource-schema" in rel:
            continue
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if _is_complete_web_acl(value):
            found.add(rel)
    return found


def test_the_table_lists_every_complete_web_acl() -> None:
    base = shared_dir("corpora", "webacls")
    assert _complete_web_acls(base) == set(COMPLETE)
    with_managed = [rel for rel, (groups, _) in COMPLETE.items() if groups]
    loading = [rel for rel, (_, how) in COMPLETE.items() if how in ("loads", "template", "its rule group")]
    # 16 complete web ACLs, 9 of them with managed groups; 13 load with managed="none", 7 of those 9.
    assert (len(COMPLETE), len(with_managed), len(loading)) == (16, 9, 13)
    assert len(set(with_managed) & set(loading)) == 7


def _ip_set(name: str, arn: str) -> dict[str, Any]:
    version = "IPV6" if "V6" in name else "IPV4"
    return {"Name": name, "Id": "1", "ARN": arn, "Addresses": [], "IPAddressVersion": version}


def _rule_group_of_test_webacl(base: Path, doc: dict[str, Any]) -> dict[str, Any]:
    group = json.loads(
        (base / "cfn-resource-provider-wafv2/test-data-rulegroup/test-rulegroup.json").read_text()
    )
    arn = doc["Rules"][3]["Statement"]["RuleGroupReferenceStatement"]["Arn"]
    return {arn: group}


@pytest.mark.parametrize("rel", sorted(COMPLETE))
def test_complete_web_acl_loads_with_managed_none(rel: str) -> None:
    base = shared_dir("corpora", "webacls")
    groups, how = COMPLETE[rel]
    source: Any = base / rel
    resources: dict[str, Any] | None = None
    if how == "template":
        arns: dict[str, str] = {}
        source = resolve(json.loads((base / rel).read_text(encoding="utf-8")), arns)
        resources = {
            arn: {
                "Name": name,
                "Id": "1",
                "ARN": arn,
                "Addresses": [],
                "IPAddressVersion": "IPV6" if "V6" in name else "IPV4",
            }
            for name, arn in arns.items()
        }
    elif how == "its rule group":
        resources = _rule_group_of_test_webacl(base, json.loads((base / rel).read_text(encoding="utf-8")))
    if how in ("loads", "template", "its rule group"):
        acl = load_web_acl(source, resources=resources, managed="none", account=ACCOUNT)
        assert len(acl.managed_warnings) == groups
        assert all(w.group.startswith("AWS/AWSManagedRules") for w in acl.managed_warnings)
        return
    with pytest.raises(RulesetErrors) as info:
        load_web_acl(source, managed="none")
    assert how in str(info.value)
