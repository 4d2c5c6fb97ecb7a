"""`managed="log"` links a logged label to the inner rule that adds it by AWS's documented rule ->
label table (the bundled group's file), not only by the label's last part: the Core rule set's
`UserAgent_BadBots_HEADER` adds `...:core-rule-set:BadBots_Header`
(https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html).

It matters when the candidate web ACL stops the group at that rule: its label is the rule's and
is kept, while the labels of the rules after it are dropped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.replay_fixtures import describe
from tests.test_replay_managed import (
    CRS,
    CRS_ID,
    NS,
    SIZE_LABEL,
    _override,
    entry,
    group_rule,
    match,
    record,
    replay,
    web_acl,
)
from wafpy import load_web_acl
from wafpy.decision import MATCH
from wafpy.engine.fromlog import replay_group
from wafpy.load import bundled
from wafpy.load.bundled import bundled_label_rules
from wafpy.logs.rulegroups import logged_groups
from wafpy.request import Request

BAD_BOTS = "UserAgent_BadBots_HEADER"
BAD_BOTS_LABEL = NS + "BadBots_Header"

# The logged web ACL counted BadBots (overridden from Block); SizeRestrictions_BODY then blocked.
COUNTED_THEN_BLOCKED = record(
    [entry(match("SizeRestrictions_BODY", "BLOCK"), (match(BAD_BOTS, "COUNT", "BLOCK"),))],
    action="BLOCK",
    rule="crs",
    labels=(BAD_BOTS_LABEL, SIZE_LABEL),
)

# (candidate's rules, expected)
CASES: dict[str, tuple[list[dict[str, Any]], str]] = {
    # BadBots blocks again: its own label is kept, SizeRestrictions' (never reached) is not.
    "its override removed": ([group_rule()], f"BLOCK crs [{BAD_BOTS_LABEL}]"),
    "now Allow": ([group_rule(**_override(BAD_BOTS, "Allow"))], f"ALLOW crs [{BAD_BOTS_LABEL}]"),
    # Every logged match reached: both labels, as logged.
    "same web ACL": (
        [group_rule(**_override(BAD_BOTS, "Count"))],
        f"BLOCK crs [{BAD_BOTS_LABEL}, {SIZE_LABEL}]",
    ),
    "group counted": (
        [group_rule(override_count=True, **_override(BAD_BOTS, "Count"))],
        f"ALLOW Default_Action [{BAD_BOTS_LABEL}, {SIZE_LABEL}]",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_label_that_is_not_the_rule_name_stays_with_its_rule(case: str) -> None:
    rules, expected = CASES[case]
    assert describe(replay(rules, COUNTED_THEN_BLOCKED)) == expected


def _request(rec: dict[str, Any]) -> Request:
    labels = tuple(label["name"] for label in rec.get("labels", ()))
    return Request(logged_groups=logged_groups(rec["ruleGroupList"], labels))


def test_the_trace_shows_the_label_on_the_rule_that_added_it() -> None:
    acl = load_web_acl(web_acl(group_rule()), managed="log", search_string="text")
    decision = acl.evaluate(_request(COUNTED_THEN_BLOCKED))
    inner = [t for t in decision.trace if t.rule == BAD_BOTS]
    assert len(inner) == 1 and inner[0].result == MATCH
    assert inner[0].labels_added == (BAD_BOTS_LABEL,)
    assert decision.labels == (BAD_BOTS_LABEL,)


def test_the_table_is_read_from_the_bundled_group() -> None:
    table = bundled_label_rules("AWS", CRS)
    assert table[BAD_BOTS_LABEL] == BAD_BOTS
    assert table[NS + "NoUserAgent_Header"] == "NoUserAgent_HEADER"
    assert bundled_label_rules("aws", CRS) == table  # the vendor in any case, as the loader takes it
    assert bundled_label_rules("Other", CRS) == {}
    assert bundled_label_rules("AWS", "AWSManagedRulesBotControlRuleSet") == {}  # never bundled


def test_the_loaded_group_carries_the_table_and_other_groups_none() -> None:
    acl = load_web_acl(web_acl(group_rule()), managed="log", search_string="text")
    (rule,) = acl.model.rules
    group = getattr(rule.statement, "rule_group", None)
    assert group is not None and group.rules == ()
    assert group.label_rules[BAD_BOTS_LABEL] == BAD_BOTS


def _group_doc(rules: list[tuple[str, str]]) -> dict[str, Any]:
    vis = {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": "g"}
    return {
        "VendorName": "AWS",
        "RuleGroup": {
            "Name": "AWSManagedRulesCommonRuleSet",
            "Capacity": 1,
            "LabelNamespace": NS,
            "VisibilityConfig": vis,
            "Rules": [
                {"Name": name, "Priority": i, "RuleLabels": [{"Name": label}], "Action": {"Block": {}}}
                for i, (name, label) in enumerate(rules)
            ],
        },
    }


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (json.dumps(_group_doc([("RuleA", "Other_Name"), ("RuleB", "RuleB")])), {"Other_Name": "RuleA"}),
        ("not json", {}),
        (json.dumps({"RuleGroup": {"Rules": []}}), {}),  # no namespace
        (json.dumps({"RuleGroup": {"LabelNamespace": NS, "Rules": [{"Name": 3}, "x"]}}), {}),
    ],
    ids=["a renamed label", "unreadable", "no namespace", "malformed rules"],
)
def test_the_table_of_any_bundled_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, expected: dict[str, str]
) -> None:
    (tmp_path / f"{CRS}.json").write_text(content, encoding="utf-8")
    monkeypatch.setattr(bundled, "folder_override", tmp_path)
    table = bundled_label_rules("AWS", CRS)
    assert {k.removeprefix(NS): v for k, v in table.items() if k != NS + "RuleB"} == expected


def test_by_name_still_links_a_group_without_a_table() -> None:
    """A label whose last part is the rule name (in any case) is that rule's, table or not."""
    logged = entry(match("SizeRestrictions_BODY", "BLOCK"), (match("NoUserAgent_HEADER", "COUNT", "BLOCK"),))
    request = _request(record([logged], labels=(NS + "NoUserAgent_Header", SIZE_LABEL)))
    out = replay_group(CRS_ID, (NS,), {}, frozenset(), request)
    assert [(s.rule_id, s.labels) for s in out.steps] == [
        ("NoUserAgent_HEADER", (NS + "NoUserAgent_Header",))
    ]
    renamed = replay_group(CRS_ID, (NS,), {}, frozenset(), request, {NS + "NoUserAgent_Header": "Elsewhere"})
    assert renamed.steps[0].labels == ()
