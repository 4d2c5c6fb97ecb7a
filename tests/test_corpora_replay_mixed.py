"""The real AWS WAF logs of the shared corpus replayed with `managed=["bundled", "log"]`
(`--managed bundled --managed log`): the groups wafpy bundles are evaluated with their rules,
every other one is taken from the record, and a request is undetermined only at a group that is
neither bundled nor in the record.

* the AWS Solutions "Security Automations for AWS WAF" test log (228 records, the Core rule set
  in every ruleGroupList) through that solution's v3 web ACL (the Core rule set alone, now
  bundled) and v4 web ACL (ten more managed groups the log never evaluated);
* the 2 AppSync records with Bot Control, a private-data group, through the Developer Guide's
  Bot Control rule: taken from the log as with `managed="log"`.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from tests.shared import shared_dir
from tests.test_corpora_managed import ACCOUNT, resolve
from tests.test_corpora_replay_managed import APPSYNC_LOG, AUTOMATIONS_LOG, _bot_control_acl, _replay
from wafpy import load_web_acl
from wafpy.engine.fromlog import REASONS
from wafpy.load.bundled import bundled_groups
from wafpy.load.managed import managed_groups
from wafpy.webacl import WebACL

pytestmark = pytest.mark.corpora

MIXED = ["bundled", "log"]
NO_ADDRESSES: dict[str, list[str]] = {
    "AWSManagedIPReputationList": [],
    "AWSManagedReconnaissanceList": [],
    "AWSManagedIPDDoSList": [],
    "AnonymousIPList": [],
    "HostingProviderIPList": [],
}


def _template_acl(rel: str, lists: dict[str, list[str]] | None = None) -> WebACL:
    base = shared_dir("corpora", "webacls")
    arns: dict[str, str] = {}
    source = resolve(json.loads((base / rel).read_text(encoding="utf-8")), arns)
    resources: dict[str, Any] = {
        arn: {
            "Name": n,
            "Id": "1",
            "ARN": arn,
            "Addresses": [],
            "IPAddressVersion": "IPV6" if "V6" in n else "IPV4",
        }
        for n, arn in arns.items()
    }
    return load_web_acl(source, resources=resources, managed=MIXED, managed_ip_lists=lists, account=ACCOUNT)


def _sources(acl: WebACL) -> dict[str, str]:
    return {group.removeprefix("AWS/"): s.rules_from or "" for group, _, s in managed_groups(acl.model)}


def test_v3_core_rule_set_bundled_reproduces_every_logged_action() -> None:
    acl = _template_acl("aws-waf-security-automations/v3--WAFWebACL.webacl.json")
    assert _sources(acl) == {"AWSManagedRulesCommonRuleSet": "bundled"}
    outcomes, comparison = _replay(acl, AUTOMATIONS_LOG)
    assert len(outcomes) == 228 and comparison.compared == 228 and comparison.cannot_tell == 0
    # The bundled equivalent reaches the logged decision on every record of this test log.
    assert comparison.changed == 0, dict(comparison.changes)


def test_bot_control_is_taken_from_the_log_as_with_log_alone() -> None:
    acl = _bot_control_acl()
    mixed = load_web_acl(_bot_doc(), managed=MIXED)
    assert _sources(mixed) == {"AWSManagedRulesBotControlRuleSet": "log"}
    outcomes, comparison = _replay(mixed, APPSYNC_LOG)
    assert len(outcomes) == 2 and comparison.cannot_tell == 0 and comparison.changed == 0
    alone, _ = _replay(acl, APPSYNC_LOG)
    assert [(o.action, o.rule_id, o.labels) for o in outcomes] == [
        (o.action, o.rule_id, o.labels) for o in alone
    ]


def _bot_doc() -> dict[str, Any]:
    base = shared_dir("corpora", "webacls")
    rule: dict[str, Any] = json.loads(
        (base / "aws-waf-developer-guide/web-acl-rule-group-settings--1.json").read_text(encoding="utf-8")
    )
    vis = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "test-graphql"}
    return {
        "Name": "test-graphql",
        "Id": "5451d59c-9607-4d72-a39a-6267f61fe753",
        "ARN": "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/test-graphql/5451d59c",
        "DefaultAction": {"Allow": {}},
        "VisibilityConfig": vis,
        "Rules": [rule],
    }


@pytest.mark.parametrize("lists", [None, NO_ADDRESSES], ids=["without IP lists", "with IP lists"])
def test_v4_is_undetermined_only_at_groups_neither_bundled_nor_logged(
    lists: dict[str, list[str]] | None,
) -> None:
    acl = _template_acl("aws-waf-security-automations/v4--WAFWebACL.webacl.json", lists)
    sources = _sources(acl)
    bundled = set(bundled_groups())
    for group, source in sources.items():
        ip_list = group in ("AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesAnonymousIpList")
        has_rules = group in bundled and (lists is not None or not ip_list)
        assert source == ("bundled" if has_rules else "log"), group
    outcomes, comparison = _replay(acl, AUTOMATIONS_LOG)
    assert len(outcomes) == 228
    from_log = sorted(
        (r for r in acl.model.rules if sources.get(getattr(r.statement, "name", "")) == "log"),
        key=lambda r: r.priority,
    )
    if not from_log:  # every group bundled: nothing left to the log, nothing undetermined
        assert comparison.cannot_tell == 0
        return
    # The log never evaluated these groups: the first one reached makes the request "cannot tell"
    # (no custom rule before it ends one of these records), never a bundled group.
    name = getattr(from_log[0].statement, "name", "")
    assert name not in bundled or lists is None
    assert comparison.cannot_tell == 228
    assert dict(comparison.undetermined) == {(f"AWS#{name}", REASONS["not in record"]): 228}
    assert Counter(o.rule_id for o in outcomes) == {from_log[0].name: 228}
    if lists is None:  # the IP reputation group, from the log without lists, comes first
        assert name == "AWSManagedRulesAmazonIpReputationList"
