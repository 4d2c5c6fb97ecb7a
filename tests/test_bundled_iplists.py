"""The bundled IP-list groups (Amazon IP reputation list, anonymous IP list) on the user's lists:
AWS's rule names, order, labels and default actions, the user's addresses (`managed_ip_lists=`,
`--managed-ip-lists`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wafpy import Decision, NotAvailableError, Request, RulesetErrors, WAFMiddleware, load_web_acl
from wafpy.cli.main import main
from wafpy.load import bundled

VIS = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "m"}
REPUTATION = "AWSManagedRulesAmazonIpReputationList"
ANONYMOUS = "AWSManagedRulesAnonymousIpList"
REP = "awswaf:managed:aws:amazon-ip-list:"
ANON = "awswaf:managed:aws:anonymous-ip-list:"

LISTS: dict[str, list[str]] = {
    "AWSManagedIPReputationList": ["192.0.2.0/24", "2001:db8:1::/48"],
    "AWSManagedReconnaissanceList": ["192.0.2.128/25"],  # inside the reputation list too
    "AWSManagedIPDDoSList": ["198.51.100.7/32", "2001:db8:dd05::/48"],
    "AnonymousIPList": ["203.0.113.0/24", "192.0.2.0/24"],
    "HostingProviderIPList": ["2001:db8:cafe::/48"],
}


@pytest.fixture(autouse=True)
def the_packaged_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    """The repository's own rulesets/managed/, whatever another test pointed the folder at."""
    monkeypatch.setattr(bundled, "folder_override", None)


def managed_rule(name: str, priority: int = 0, **statement: Any) -> dict[str, Any]:
    return {
        "Name": f"use-{name}",
        "Priority": priority,
        "OverrideAction": {"None": {}},
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


BOTH = web_acl(managed_rule(REPUTATION), managed_rule(ANONYMOUS, 1))


def decide(doc: dict[str, Any], ip: str, lists: Any = None) -> Decision:
    acl = load_web_acl(doc, managed="bundled", managed_ip_lists=LISTS if lists is None else lists)
    return acl.evaluate(Request(uri="/", client_ip=ip))


# client IP -> (action, terminating rule, labels)
CASES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # The first rule in AWS's order ends the group: the reconnaissance list is never reached.
    "192.0.2.200": ("BLOCK", f"use-{REPUTATION}", (REP + "AWSManagedIPReputationList",)),
    "2001:db8:1::5": ("BLOCK", f"use-{REPUTATION}", (REP + "AWSManagedIPReputationList",)),
    # AWSManagedIPDDoSList counts by default: labelled, and the next group runs.
    "198.51.100.7": ("ALLOW", "Default_Action", (REP + "AWSManagedIPDDoSList",)),
    "2001:db8:dd05::9": ("ALLOW", "Default_Action", (REP + "AWSManagedIPDDoSList",)),
    "203.0.113.50": ("BLOCK", f"use-{ANONYMOUS}", (ANON + "AnonymousIPList",)),
    "2001:db8:cafe::1": ("BLOCK", f"use-{ANONYMOUS}", (ANON + "HostingProviderIPList",)),
    "10.1.2.3": ("ALLOW", "Default_Action", ()),
    "2001:db8:ffff::1": ("ALLOW", "Default_Action", ()),
}


@pytest.mark.parametrize("ip", sorted(CASES))
def test_aws_rule_names_labels_order_and_actions_on_the_users_lists(ip: str) -> None:
    decision = decide(BOTH, ip)
    assert (decision.action, decision.terminating_rule_id, decision.labels) == CASES[ip]


def test_rules_in_aws_order_and_count_overrides() -> None:
    acl = load_web_acl(BOTH, managed="bundled", managed_ip_lists=LISTS)
    statement = acl.model.rules[0].statement
    group = getattr(statement, "rule_group", None)
    assert group is not None and group.capacity == 25 and group.label_namespace == REP
    assert [(r.name, r.action.kind if r.action else None) for r in group.rules] == [
        ("AWSManagedIPReputationList", "Block"),
        ("AWSManagedReconnaissanceList", "Block"),
        ("AWSManagedIPDDoSList", "Count"),
    ]
    assert all(r.fidelity is not None and r.fidelity.tier == "exact" for r in group.rules)
    counted = web_acl(
        managed_rule(
            REPUTATION,
            RuleActionOverrides=[{"Name": "AWSManagedIPReputationList", "ActionToUse": {"Count": {}}}],
        ),
        managed_rule(
            ANONYMOUS, 1, RuleActionOverrides=[{"Name": "AnonymousIPList", "ActionToUse": {"Count": {}}}]
        ),
    )
    decision = decide(counted, "192.0.2.200")
    # Counted, the reputation rule lets the reconnaissance rule run; the anonymous one counts too.
    assert decision.action == "BLOCK" and decision.terminating_rule_id == f"use-{REPUTATION}"
    assert decision.labels == (REP + "AWSManagedIPReputationList", REP + "AWSManagedReconnaissanceList")
    decision = decide(counted, "203.0.113.1")
    assert (decision.action, decision.labels) == ("ALLOW", (ANON + "AnonymousIPList",))


def test_the_origin_ip_is_read_not_a_forwarded_header() -> None:
    """AWS: these rules use the web request origin's address, not X-Forwarded-For."""
    acl = load_web_acl(BOTH, managed="bundled", managed_ip_lists=LISTS)
    request = Request(uri="/", client_ip="10.0.0.1", headers=[("X-Forwarded-For", "203.0.113.50")])
    assert acl.evaluate(request).action == "ALLOW"


def test_lists_from_a_json_file(tmp_path: Path) -> None:
    file = tmp_path / "lists.json"
    file.write_text(json.dumps(LISTS))
    assert decide(BOTH, "203.0.113.50", file).action == "BLOCK"
    assert decide(BOTH, "203.0.113.50", str(file)).action == "BLOCK"


# case -> (lists, words of the error)
BAD: dict[str, tuple[Any, str]] = {
    "an unknown rule": ({**LISTS, "TorList": []}, "'TorList' is not a rule of a bundled IP-list group"),
    "no prefix length": ({**LISTS, "AnonymousIPList": ["203.0.113.9"]}, "needs a prefix length"),
    "not an address": ({**LISTS, "AnonymousIPList": ["example.com/32"]}, "is not a valid CIDR"),
    "a /0": ({**LISTS, "AnonymousIPList": ["0.0.0.0/0"]}, "a /0 prefix is not allowed"),
    "a rule of a used group missing": (
        {k: v for k, v in LISTS.items() if k != "HostingProviderIPList"},
        "no list for HostingProviderIPList of AWSManagedRulesAnonymousIpList",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_lists_are_load_errors(case: str) -> None:
    lists, words = BAD[case]
    with pytest.raises(RulesetErrors, match=words):
        decide(BOTH, "10.0.0.1", lists)


def test_bad_list_files_say_where(tmp_path: Path) -> None:
    file = tmp_path / "lists.json"
    file.write_text('{\n  "AnonymousIPList": ["203.0.113.9"],\n  "HostingProviderIPList": 3\n}\n')
    with pytest.raises(RulesetErrors) as info:
        decide(web_acl(managed_rule(ANONYMOUS)), "10.0.0.1", file)
    text = str(info.value)
    assert f"{file}:2:23: invalid address '203.0.113.9'" in text
    assert f"{file}:3:28: expected a list of CIDRs" in text


def test_only_the_rules_of_the_groups_used_need_a_list() -> None:
    only_anonymous = {"AnonymousIPList": ["203.0.113.0/24"], "HostingProviderIPList": []}
    assert decide(web_acl(managed_rule(ANONYMOUS)), "203.0.113.1", only_anonymous).action == "BLOCK"


def test_without_lists_the_groups_are_refused_with_the_option_named() -> None:
    with pytest.raises(NotAvailableError) as info:
        load_web_acl(BOTH, managed="bundled")
    message = str(info.value)
    for words in ("--managed-ip-lists", "AWSManagedIPDDoSList", "HostingProviderIPList", 'managed="log"'):
        assert words in message


def test_the_middleware_takes_the_lists() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("not reached")

    mw = WAFMiddleware(app, BOTH, managed="bundled", managed_ip_lists=LISTS)
    assert mw.warnings == ()
    with pytest.raises(NotAvailableError, match="managed_ip_lists="):
        WAFMiddleware(app, BOTH, managed="bundled")


def test_wafpy_eval_and_validate_take_managed_ip_lists(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    acl_file = tmp_path / "acl.json"
    acl_file.write_text(json.dumps(BOTH))
    lists = tmp_path / "lists.json"
    lists.write_text(json.dumps(LISTS))
    requests = tmp_path / "requests.jsonl"
    lines = [{"httpMethod": "GET", "uri": "/", "clientIp": ip} for ip in ("203.0.113.50", "10.0.0.1")]
    requests.write_text("".join(json.dumps(line) + "\n" for line in lines))
    argv = ["eval", str(acl_file), str(requests), "--managed", "bundled", "--managed-ip-lists", str(lists)]
    assert main([*argv, "--output", str(tmp_path / "out.jsonl"), "--format", "jsonl"]) == 0
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [o["action"] for o in out] == ["BLOCK", "ALLOW"]
    capsys.readouterr()
    assert main(["validate", str(acl_file), "--managed", "bundled", "--managed-ip-lists", str(lists)]) == 0
    assert "evaluated with wafpy's bundled equivalent" in capsys.readouterr().out
    assert main(["validate", str(acl_file), "--managed", "none", "--managed-ip-lists", str(lists)]) == 1
    assert 'needs managed="bundled"' in capsys.readouterr().err


def test_a_case_file_takes_bundled_and_its_ip_lists(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "acl.json").write_text(json.dumps(BOTH))
    (tmp_path / "lists.json").write_text(json.dumps(LISTS))
    case = {"request": {"clientIp": "203.0.113.50", "uri": "/"}, "expect": {"action": "BLOCK"}}
    labelled = {
        "request": {"clientIp": "198.51.100.7", "uri": "/"},
        "expect": {"action": "ALLOW", "labels": [REP + "AWSManagedIPDDoSList"]},
    }
    doc = {
        "webacl": "acl.json",
        "managed": "bundled",
        "managedIpLists": "lists.json",
        "cases": [case, labelled],
    }
    (tmp_path / "ip.waftest.json").write_text(json.dumps(doc))
    assert main(["test", str(tmp_path / "ip.waftest.json")]) == 0, capsys.readouterr().out
    inline = {**doc, "managedIpLists": LISTS}
    (tmp_path / "inline.waftest.json").write_text(json.dumps(inline))
    assert main(["test", str(tmp_path / "inline.waftest.json")]) == 0, capsys.readouterr().out
