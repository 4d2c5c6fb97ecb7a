"""The real AWS WAF logs of the shared corpus replay, with `managed="log"`, through the web ACLs
they came from (or the closest published one), and every logged action is reproduced.

* 228 records of the AWS Solutions "Security Automations for AWS WAF" test log
  (`AWSWAFSecurityAutomations-Prod`, `AWS#AWSManagedRulesCommonRuleSet` in every ruleGroupList)
  through that solution's v3 web ACL template, whose one managed group is that group;
* 2 AppSync records with `AWS#AWSManagedRulesBotControlRuleSet` through the AWS WAF Developer
  Guide's Bot Control rule (the closest published ACL: that rule under a default Allow).

The solution's v4 template adds ten more managed groups the log never evaluated: there every
record is "cannot tell from this log", never silently ALLOW.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.shared import shared_dir
from tests.test_corpora_managed import ACCOUNT, resolve
from wafpy import load_web_acl
from wafpy.engine.fromlog import REASONS
from wafpy.replay import Outcome, Replay, ReplayOptions
from wafpy.replay.compare import Comparison
from wafpy.webacl import WebACL

pytestmark = pytest.mark.corpora

AUTOMATIONS_LOG = "aws-waf-security-automations--test_waf_log.jsonl"
APPSYNC_LOG = "centralized-logging-with-opensearch--waf.log.jsonl"


def _template_acl(rel: str) -> WebACL:
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
    return load_web_acl(source, resources=resources, managed="log", account=ACCOUNT)


def _bot_control_acl() -> WebACL:
    base = shared_dir("corpora", "webacls")
    rule: dict[str, Any] = json.loads(
        (base / "aws-waf-developer-guide/web-acl-rule-group-settings--1.json").read_text(encoding="utf-8")
    )
    vis = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "test-graphql"}
    doc = {
        "Name": "test-graphql",
        "Id": "5451d59c-9607-4d72-a39a-6267f61fe753",
        "ARN": "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/test-graphql/5451d59c",
        "DefaultAction": {"Allow": {}},
        "VisibilityConfig": vis,
        "Rules": [rule],
    }
    return load_web_acl(doc, managed="log")


def _replay(acl: WebACL, log: str) -> tuple[list[Outcome], Comparison]:
    path = shared_dir("corpora", "logs", "aws-waf") / log
    comparison = Comparison(rule_names=[r.name for r in acl.model.rules])
    outcomes = []
    for item in Replay(acl, [str(path)], ReplayOptions()):
        assert isinstance(item, Outcome), item
        comparison.add(item)
        outcomes.append(item)
    return outcomes, comparison


@pytest.mark.parametrize(
    ("log", "acl", "count"),
    [
        (
            AUTOMATIONS_LOG,
            lambda: _template_acl("aws-waf-security-automations/v3--WAFWebACL.webacl.json"),
            228,
        ),
        (APPSYNC_LOG, _bot_control_acl, 2),
    ],
    ids=["security-automations-v3", "appsync-bot-control"],
)
def test_every_logged_action_is_reproduced(log: str, acl: Any, count: int) -> None:
    outcomes, comparison = _replay(acl(), log)
    assert len(outcomes) == count
    assert comparison.compared == count and comparison.cannot_tell == 0
    assert comparison.changed == 0, dict(comparison.changes)
    for outcome in outcomes:
        assert outcome.logged is not None
        assert (outcome.action, outcome.rule_id) == (
            outcome.logged.action,
            outcome.logged.terminating_rule_id,
        )


def test_groups_the_log_never_evaluated_are_undetermined_not_allowed() -> None:
    acl = _template_acl("aws-waf-security-automations/v4--WAFWebACL.webacl.json")
    outcomes, comparison = _replay(acl, AUTOMATIONS_LOG)
    assert len(outcomes) == 228 and comparison.compared == 0 and comparison.cannot_tell == 228
    assert {o.action for o in outcomes} == {"UNDETERMINED"}
    ((group, reason),) = comparison.undetermined
    assert group.startswith("AWS#AWSManagedRules") and group != "AWS#AWSManagedRulesCommonRuleSet"
    assert reason == REASONS["not in record"]
