"""managed="bundled": where the bundled groups are found, their fidelity tiers, the groups that
stand on AWS's private data, and AWS's override semantics inside a bundled group.

A small group in the bundled format, in a folder of the test's own (`bundled.folder_override`),
keeps these tests independent of which groups `rulesets/managed/` holds.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from wafpy import NotAvailableError, Request, RulesetErrors, WAFMiddleware, load_web_acl
from wafpy import model as ast
from wafpy.cli.main import main
from wafpy.load import bundled
from wafpy.load.fidelity import parse_fidelity
from wafpy.load.managed import ManagedChoice, parse_managed
from wafpy.replay.htmlreport import bundled_label_tiers, render_html
from wafpy.replay.summary import Summary

ROOT = Path(__file__).resolve().parents[1]
VIS = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "m"}
GROUP = "AWSManagedRulesTestRuleSet"
NAMESPACE = "awswaf:managed:aws:test-rule-set:"
AT = "Rules[0].Statement.ManagedRuleGroupStatement"


def contains(name: str, text: str, action: str = "Block") -> dict[str, Any]:
    """A rule of the test group: `action` when the URI path contains `text` (SearchString base64,
    as get-rule-group prints it), labelled with its own name."""
    return {
        "Name": name,
        "Priority": 0,
        "Action": {action: {}},
        "RuleLabels": [{"Name": name}],
        "VisibilityConfig": VIS,
        "Statement": {
            "ByteMatchStatement": {
                "SearchString": base64.b64encode(text.encode()).decode(),
                "FieldToMatch": {"UriPath": {}},
                "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
                "PositionalConstraint": "CONTAINS",
            }
        },
    }


RULES = [
    contains("CountA", "a", "Count"),  # Count by default, as AWS's AWSManagedIPDDoSList
    contains("BlockB", "b"),
    contains("BlockC", "c"),
]
TIERS = ("exact", "documented-examples", "heuristic")


def group_doc(rules: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    rules = [dict(r, Priority=i) for i, r in enumerate(rules or RULES)]
    return {
        "VendorName": "AWS",
        "RuleGroup": {
            "Name": GROUP,
            "Id": "1",
            "ARN": f"arn:aws:wafv2:us-east-1:000000000000:regional/rulegroup/{GROUP}/1",
            "Capacity": 30,
            "LabelNamespace": NAMESPACE,
            "VisibilityConfig": VIS,
            "Rules": rules,
        },
    }


def fidelity_toml(names: list[str], tiers: tuple[str, ...] = TIERS, group: str = GROUP) -> str:
    lines = [f'group = "{group}"', 'source = "https://docs.aws.amazon.com/waf/"', ""]
    for name, tier in zip(names, tiers, strict=False):
        lines += ["[[rule]]", f'name = "{name}"', f'tier = "{tier}"', f'basis = "why {name} is {tier}"', ""]
    return "\n".join(lines)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A bundled folder holding the test group (and its tiers), used by managed="bundled"."""
    folder = tmp_path / "managed"
    folder.mkdir()
    (folder / f"{GROUP}.json").write_text(json.dumps(group_doc()))
    (folder / f"{GROUP}.fidelity.toml").write_text(fidelity_toml([r["Name"] for r in RULES]))
    monkeypatch.setattr(bundled, "folder_override", folder)
    return folder


def managed_rule(
    name: str = GROUP, priority: int = 0, override: str = "None", **statement: Any
) -> dict[str, Any]:
    return {
        "Name": f"use-{name}",
        "Priority": priority,
        "OverrideAction": {override: {}},
        "VisibilityConfig": VIS,
        "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": name, **statement}},
    }


def web_acl(*rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "Name": "acl",
        "Id": "1",
        "ARN": "arn:aws:wafv2:us-east-1:111122223333:regional/webacl/acl/1",
        "DefaultAction": {"Allow": {}},
        "VisibilityConfig": VIS,
        "Rules": list(rules),
    }


# --------------------------------------------------------------------------------------------
# Where the bundled groups are


def test_the_checkout_folder_is_found_when_the_package_has_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundled, "folder_override", None)
    assert not (ROOT / "wafpy" / "rulesets").exists()  # an editable install: no packaged copy
    assert bundled.bundled_folder() == ROOT / "rulesets" / "managed"


def test_the_packaged_folder_wins_when_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wheel ships rulesets/ as wafpy/rulesets/ (pyproject force-include)."""
    (tmp_path / "wafpy" / "rulesets" / "managed").mkdir(parents=True)
    monkeypatch.setattr(bundled, "folder_override", None)
    monkeypatch.setattr(bundled, "PACKAGE_DIR", tmp_path / "wafpy")
    assert bundled.bundled_folder() == tmp_path / "wafpy" / "rulesets" / "managed"
    assert 'force-include]\n"grammars" = "wafpy/grammars"\n"rulesets" = "wafpy/rulesets"' in (
        ROOT / "pyproject.toml"
    ).read_text(encoding="utf-8")


def test_bundled_groups_lists_the_folder(folder: Path) -> None:
    assert bundled.bundled_groups() == [GROUP]


# --------------------------------------------------------------------------------------------
# The choice


PARSED: dict[str, tuple[Any, ManagedChoice]] = {
    "alone": ("bundled", ManagedChoice("bundled")),
    "first": (["bundled", "mine/"], ManagedChoice("bundled", ("mine/",), 0)),
    "after a path": (["mine/", "bundled", "more.json"], ManagedChoice("bundled", ("mine/", "more.json"), 1)),
}


@pytest.mark.parametrize("case", sorted(PARSED))
def test_parse_bundled_among_paths(case: str) -> None:
    value, expected = PARSED[case]
    assert parse_managed(value) == expected


REFUSED: dict[str, tuple[Any, Any, str]] = {
    "twice": (["bundled", "bundled"], None, "given twice"),
    "with none": (["bundled", "none"], None, 'managed="none" cannot be combined'),
    "log with none": (["log", "bundled", "none"], None, 'managed="none" cannot be combined'),
    "log twice": (["bundled", "log", "log"], None, 'managed="log" is given twice'),
    "ip lists without bundled": ("none", {"AnonymousIPList": []}, 'needs managed="bundled"'),
    "ip lists of another type": ("bundled", 3, "expected a path or a mapping"),
    "ip lists as one string": ("bundled", {"AnonymousIPList": "192.0.2.0/24"}, "rule name -> list of CIDRs"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_parse_bundled_refuses(case: str) -> None:
    value, lists, words = REFUSED[case]
    with pytest.raises(ValueError, match=words):
        parse_managed(value, lists)


def test_paths_and_bundled_are_searched_in_the_order_written(folder: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps(group_doc([contains("Mine", "z")])))
    doc = web_acl(managed_rule())
    bundled_first = load_web_acl(doc, managed=["bundled", str(mine)])
    assert bundled_first.evaluate(Request(uri="/b")).action == "BLOCK"
    mine_first = load_web_acl(doc, managed=[str(mine), "bundled"])
    assert mine_first.evaluate(Request(uri="/b")).action == "ALLOW"
    assert mine_first.evaluate(Request(uri="/z")).action == "BLOCK"
    statement = mine_first.model.rules[0].statement
    assert isinstance(statement, ast.ManagedRuleGroup) and statement.rules_from == f"file:{mine}"


def test_a_group_not_bundled_is_refused_by_name_listing_the_bundled_ones(
    folder: Path, tmp_path: Path
) -> None:
    doc = web_acl(managed_rule("AWSManagedRulesSomethingElse"))
    with pytest.raises(NotAvailableError) as info:
        load_web_acl(doc, managed="bundled")
    message = str(info.value)
    assert f"AWS/AWSManagedRulesSomethingElse (at {AT}) is not available" in message
    assert f"wafpy bundles no equivalent of it (bundled: {GROUP})" in message
    with pytest.raises(NotAvailableError, match=f"is not available \\(not in {tmp_path} either\\)"):
        load_web_acl(doc, managed=["bundled", str(tmp_path)])
    # Another vendor's group is never AWS's bundled one.
    other = web_acl(managed_rule())
    other["Rules"][0]["Statement"]["ManagedRuleGroupStatement"]["VendorName"] = "Fortinet"
    with pytest.raises(NotAvailableError, match=f"Fortinet/{GROUP}"):
        load_web_acl(other, managed="bundled")


PRIVATE = {
    "AWSManagedRulesBotControlRuleSet": "bot signatures",
    "AWSManagedRulesATPRuleSet": "stolen-credential database",
    "AWSManagedRulesACFPRuleSet": "account-creation tracking",
    "AWSManagedRulesAntiDDoSRuleSet": "DDoS event detection",
    "AWSManagedRulesAmazonIpReputationList": "managed_ip_lists=",
    "AWSManagedRulesAnonymousIpList": "managed_ip_lists=",
}


@pytest.mark.parametrize("group", sorted(PRIVATE))
def test_groups_on_private_data_are_refused_with_a_pointer(group: str) -> None:
    with pytest.raises(NotAvailableError) as info:
        load_web_acl(web_acl(managed_rule(group)), managed="bundled")
    message = str(info.value)
    assert f"AWS/{group} (at {AT})" in message
    assert PRIVATE[group] in message
    assert 'managed="log"' in message  # replay from AWS WAF logs


# --------------------------------------------------------------------------------------------
# Fidelity tiers


def test_each_inner_rule_carries_its_tier(folder: Path) -> None:
    acl = load_web_acl(web_acl(managed_rule()), managed="bundled")
    statement = acl.model.rules[0].statement
    assert isinstance(statement, ast.ManagedRuleGroup) and statement.rules_from == "bundled"
    assert statement.rule_group is not None
    assert [(r.name, r.fidelity) for r in statement.rule_group.rules] == [
        (name, ast.RuleFidelity(name, tier, f"why {name} is {tier}"))
        for name, tier in zip(["CountA", "BlockB", "BlockC"], TIERS, strict=True)
    ]
    assert bundled.rule_tiers([statement])[(f"AWS#{GROUP}", "BlockC")].tier == "heuristic"


NAMES = ["CountA", "BlockB", "BlockC"]
# case -> (TOML text, words of the error)
BAD_FIDELITY: dict[str, tuple[str, str]] = {
    "a rule missing": (fidelity_toml(NAMES[:2]), "no [[rule]] entry for BlockC"),
    "an unknown rule": (fidelity_toml([*NAMES, "Other"], (*TIERS, "exact")), "Other is not a rule of"),
    "a rule twice": (fidelity_toml([*NAMES, "BlockB"], (*TIERS, "exact")), "BlockB is listed twice"),
    "an unknown tier": (fidelity_toml(NAMES, ("exact", "exactish", "heuristic")), "tier = 'exactish'"),
    "another group": (fidelity_toml(NAMES, group="Other"), "group = 'Other', expected"),
    "another order": (fidelity_toml(["BlockB", "CountA", "BlockC"]), "not in the order of the JSON's rules"),
    "no basis": (fidelity_toml(NAMES).replace('basis = "why CountA is exact"', ""), "basis is missing"),
    "an unknown key": (fidelity_toml(NAMES) + "\nversion = 2\n", "unknown keys version"),
    "not TOML": ("group = ", "not valid TOML"),
}


@pytest.mark.parametrize("case", sorted(BAD_FIDELITY))
def test_a_bad_fidelity_file_is_a_precise_load_error(case: str, folder: Path) -> None:
    text, words = BAD_FIDELITY[case]
    (folder / f"{GROUP}.fidelity.toml").write_text(text)
    with pytest.raises(RulesetErrors) as info:
        load_web_acl(web_acl(managed_rule()), managed="bundled")
    assert words in str(info.value)
    assert f"{GROUP}.fidelity.toml" in str(info.value)


def test_a_missing_fidelity_file_is_a_load_error(folder: Path) -> None:
    (folder / f"{GROUP}.fidelity.toml").unlink()
    with pytest.raises(RulesetErrors, match="cannot read the fidelity file"):
        load_web_acl(web_acl(managed_rule()), managed="bundled")


def test_parse_fidelity_keeps_the_json_order() -> None:
    doc = {"group": "G", "source": "u", "rule": [{"name": "a", "tier": "exact", "basis": "b"}]}
    assert parse_fidelity(doc, "G", ["a"], source="s") == (ast.RuleFidelity("a", "exact", "b"),)


# --------------------------------------------------------------------------------------------
# AWS's semantics inside a managed group
# (https://docs.aws.amazon.com/waf/latest/developerguide/waf-managed-rule-group-override-options.html)


def outcome(acl_doc: dict[str, Any], uri: str) -> tuple[str, str, list[str], list[tuple[str, str | None]]]:
    """(action, terminating rule, labels, [(inner rule, action)] of the inner rules that matched)."""
    acl = load_web_acl(acl_doc, managed="bundled")
    decision = acl.evaluate(Request(uri=uri))
    inner = [(t.rule, t.action) for t in decision.trace if t.group is not None and t.result == "MATCH"]
    return decision.action, decision.terminating_rule_id, list(decision.labels), inner


def label(*names: str) -> list[str]:
    return [NAMESPACE + n for n in names]


# case -> (statement members, OverrideAction, URI, expected outcome)
SEMANTICS: dict[str, tuple[dict[str, Any], str, str, tuple[str, str, list[str], list[Any]]]] = {
    "the first terminating inner rule stops the group": (
        {},
        "None",
        "/abc",
        ("BLOCK", f"use-{GROUP}", label("CountA", "BlockB"), [("CountA", "COUNT"), ("BlockB", "BLOCK")]),
    ),
    "an override to Count lets evaluation go on, labels kept": (
        {"RuleActionOverrides": [{"Name": "BlockB", "ActionToUse": {"Count": {}}}]},
        "None",
        "/abc",
        (
            "BLOCK",
            f"use-{GROUP}",
            label("CountA", "BlockB", "BlockC"),
            [("CountA", "COUNT"), ("BlockB", "COUNT"), ("BlockC", "BLOCK")],
        ),
    ),
    "ExcludedRules count the rule": (
        {"ExcludedRules": [{"Name": "BlockB"}, {"Name": "BlockC"}]},
        "None",
        "/abc",
        (
            "ALLOW",
            "Default_Action",
            label("CountA", "BlockB", "BlockC"),
            [("CountA", "COUNT"), ("BlockB", "COUNT"), ("BlockC", "COUNT")],
        ),
    ),
    "an override to Allow ends the group with Allow": (
        {"RuleActionOverrides": [{"Name": "CountA", "ActionToUse": {"Allow": {}}}]},
        "None",
        "/abc",
        ("ALLOW", f"use-{GROUP}", label("CountA"), [("CountA", "ALLOW")]),
    ),
    "OverrideAction Count: the group's block becomes a count": (
        {},
        "Count",
        "/bc",
        ("ALLOW", "Default_Action", label("BlockB"), [("BlockB", "BLOCK")]),
    ),
    "outside the scope-down no inner rule runs": (
        {
            "ScopeDownStatement": {
                "ByteMatchStatement": {
                    "SearchString": "/api",  # a bare web ACL: text, as CloudFormation writes it
                    "FieldToMatch": {"UriPath": {}},
                    "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
                    "PositionalConstraint": "STARTS_WITH",
                }
            }
        },
        "None",
        "/abc",
        ("ALLOW", "Default_Action", [], []),
    ),
    "inside the scope-down the rules run": (
        {
            "ScopeDownStatement": {
                "ByteMatchStatement": {
                    "SearchString": "/api",  # a bare web ACL: text, as CloudFormation writes it
                    "FieldToMatch": {"UriPath": {}},
                    "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
                    "PositionalConstraint": "STARTS_WITH",
                }
            }
        },
        "None",
        "/api/c",
        ("BLOCK", f"use-{GROUP}", label("CountA", "BlockC"), [("CountA", "COUNT"), ("BlockC", "BLOCK")]),
    ),
    "a Version is served by the bundled group, which has none": (
        {"Version": "Version_1.0"},
        "None",
        "/c",
        ("BLOCK", f"use-{GROUP}", label("BlockC"), [("BlockC", "BLOCK")]),
    ),
    "nothing matches: no label": ({}, "None", "/x", ("ALLOW", "Default_Action", [], [])),
}


@pytest.mark.parametrize("case", sorted(SEMANTICS))
def test_aws_semantics_inside_a_bundled_group(case: str, folder: Path) -> None:
    members, override, uri, expected = SEMANTICS[case]
    assert outcome(web_acl(managed_rule(override=override, **members)), uri) == expected


def test_a_later_rule_sees_the_labels_of_a_counted_inner_rule(folder: Path) -> None:
    later = {
        "Name": "block-labelled",
        "Priority": 1,
        "Action": {"Block": {}},
        "VisibilityConfig": VIS,
        "Statement": {"LabelMatchStatement": {"Scope": "LABEL", "Key": NAMESPACE + "CountA"}},
    }
    doc = web_acl(managed_rule(), later)
    assert outcome(doc, "/a")[:2] == ("BLOCK", "block-labelled")


def test_the_search_string_option_does_not_change_how_bundled_files_read(folder: Path) -> None:
    acl = load_web_acl(web_acl(managed_rule()), managed="bundled", search_string="text")
    assert acl.evaluate(Request(uri="/b")).action == "BLOCK"


# --------------------------------------------------------------------------------------------
# Where tiers are shown


def test_explain_shows_each_bundled_rule_with_its_tier(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    acl_file = tmp_path / "acl.json"
    acl_file.write_text(json.dumps(web_acl(managed_rule())))
    log = tmp_path / "requests.jsonl"
    log.write_text(json.dumps({"httpMethod": "GET", "uri": "/ab"}) + "\n")
    assert main(["explain", str(acl_file), str(log), "--managed", "bundled"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "[inner rules: wafpy's bundled equivalent, not AWS's; [tier]: fidelity to AWS's rule]" in out
    assert "CountA MATCH → COUNT" in out and "[exact]" in out
    assert "BlockB MATCH → BLOCK" in out and "[documented-examples]" in out
    assert "documented-examples: why BlockB is documented-examples" in out  # why, when it matched


def test_the_html_report_names_bundled_rules_with_their_tier(folder: Path) -> None:
    acl = load_web_acl(web_acl(managed_rule()), managed="bundled")
    tiers = bundled_label_tiers(acl.model)
    assert tiers[NAMESPACE + "BlockB"] == (GROUP, "BlockB", "documented-examples")
    summary = Summary()
    summary.labels.add(NAMESPACE + "BlockB", 7)
    page = render_html(summary, tiers=tiers)
    assert f"{NAMESPACE}BlockB [documented-examples]" in page
    assert "<section id='bundled'>" in page and "wafpy's own equivalents, not AWS's rules" in page
    assert '>BlockB</td><td class="wrap">documented-examples</td><td class="num">7</td>' in page
    assert "<section id='bundled'>" not in render_html(summary)


def test_validate_counts_the_tiers(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    acl_file = tmp_path / "acl.json"
    acl_file.write_text(json.dumps(web_acl(managed_rule())))
    assert main(["validate", str(acl_file), "--managed", "bundled"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"AWS/{GROUP} (at {AT}) evaluated with wafpy's bundled equivalent, not AWS's rules" in out
    assert "(rule tiers: 1 exact, 1 documented-examples, 1 heuristic)" in out


def test_the_middleware_takes_bundled(folder: Path) -> None:
    mw = WAFMiddleware(lambda scope, receive, send: None, web_acl(managed_rule()), managed="bundled")  # type: ignore[arg-type, return-value]
    assert mw.warnings == ()
