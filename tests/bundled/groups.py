"""What every test of a bundled managed rule group reads: the group's file and its fidelity file
in rulesets/managed/, and a web ACL whose only rule runs the group, loaded with the ordinary files
choice (`managed=["rulesets/managed"]`) so the group goes through the normal loader.

The baseline groups' checks (`aws_baseline`) and the use-case groups' checks (`usecase_groups`)
are built on these.
"""

from __future__ import annotations

import json
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from wafpy import WebACL, load_web_acl

ROOT = Path(__file__).resolve().parents[2]
MANAGED = ROOT / "rulesets" / "managed"
TIERS = ("exact", "documented-examples", "heuristic")
VIS = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "m"}


def group_document(group: str) -> dict[str, Any]:
    """The group's get-rule-group document (VendorName beside RuleGroup)."""
    document: dict[str, Any] = json.loads((MANAGED / f"{group}.json").read_text(encoding="utf-8"))
    return document


def fidelity(group: str) -> dict[str, Any]:
    """The group's <GroupName>.fidelity.toml."""
    return tomllib.loads((MANAGED / f"{group}.fidelity.toml").read_text(encoding="utf-8"))


def check_fidelity(group: str) -> dict[str, Any]:
    """One [[rule]] per rule of the JSON, in the same order, each with a known tier and a basis;
    the notes are returned for checks of their own."""
    notes = fidelity(group)
    assert notes["group"] == group
    assert notes["source"].startswith("https://docs.aws.amazon.com/waf/")
    rules = [r["Name"] for r in group_document(group)["RuleGroup"]["Rules"]]
    assert [r["name"] for r in notes["rule"]] == rules
    for note in notes["rule"]:
        assert note["tier"] in TIERS, note
        assert note["basis"].strip(), note
    return notes


def web_acl_document(group: str, *, count_every_rule: bool = False) -> dict[str, Any]:
    """A web ACL whose only rule runs `group` (OverrideAction None); `count_every_rule` overrides
    each inner rule to Count, so every rule that matches adds its label and none stops the others."""
    statement: dict[str, Any] = {"VendorName": "AWS", "Name": group}
    if count_every_rule:
        rules = group_document(group)["RuleGroup"]["Rules"]
        statement["RuleActionOverrides"] = [{"Name": r["Name"], "ActionToUse": {"Count": {}}} for r in rules]
    return {
        "Name": "acl",
        "Id": "1",
        "ARN": "arn:aws:wafv2:us-east-1:111122223333:regional/webacl/acl/1",
        "DefaultAction": {"Allow": {}},
        "VisibilityConfig": VIS,
        "Rules": [
            {
                "Name": f"use-{group}",
                "Priority": 0,
                "OverrideAction": {"None": {}},
                "VisibilityConfig": VIS,
                "Statement": {"ManagedRuleGroupStatement": statement},
            }
        ],
    }


@cache
def loaded(group: str, *, count_every_rule: bool = False) -> WebACL:
    """The web ACL of `web_acl_document`, its managed group read from the bundled files."""
    return load_web_acl(web_acl_document(group, count_every_rule=count_every_rule), managed=[str(MANAGED)])
