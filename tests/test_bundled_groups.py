"""Every group in rulesets/managed/, whatever it holds: it validates, loads with managed="bundled",
each rule has a fidelity tier, and a web ACL using it runs in the middleware and in `wafpy eval`.

In CI (CI=true) an empty folder fails: the bundled groups are part of what wafpy ships.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from wafpy import WAFMiddleware, load_web_acl
from wafpy import model as ast
from wafpy.cli.main import main
from wafpy.load import bundled
from wafpy.load.capacity import MANAGED_CAPACITY
from wafpy.load.fidelity import TIERS, fidelity_path
from wafpy.load.iplists import BUNDLED_IPSET, IP_LIST_GROUPS
from wafpy.loggedgroups import MANAGED_LABEL_NAMESPACES

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "rulesets" / "managed"
GROUPS = sorted(p.name.removesuffix(".json") for p in FOLDER.glob("*.json")) if FOLDER.is_dir() else []
VIS = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "m"}
# Lists for the IP-list groups: one documentation address per rule.
_IP_RULES = [r for rules in IP_LIST_GROUPS.values() for r in rules]
IP_LISTS = {rule: [f"192.0.2.{i}/32", f"2001:db8::{i}/128"] for i, rule in enumerate(_IP_RULES, 1)}
# The address of each IP-list group's first rule (Block by default).
FIRST_IP = {group: f"192.0.2.{_IP_RULES.index(rules[0]) + 1}" for group, rules in IP_LIST_GROUPS.items()}


@pytest.fixture(autouse=True)
def the_repository_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundled, "folder_override", None)


def web_acl(group: str) -> dict[str, Any]:
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
                "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": group}},
            }
        ],
    }


def test_the_folder_holds_groups() -> None:
    if not GROUPS and os.environ.get("CI") == "true":
        pytest.fail("rulesets/managed/ holds no bundled group")
    if not GROUPS:
        pytest.skip("rulesets/managed/ holds no bundled group yet")
    assert bundled.bundled_folder() == FOLDER and bundled.bundled_groups() == GROUPS


def test_every_fidelity_file_has_its_group() -> None:
    orphans = [
        p.name
        for p in FOLDER.glob("*.fidelity.toml")
        if not p.with_name(p.name.split(".")[0] + ".json").exists()
    ]
    assert orphans == []


@pytest.mark.parametrize("group", GROUPS)
def test_the_group_file_follows_the_format(group: str) -> None:
    doc = json.loads((FOLDER / f"{group}.json").read_text(encoding="utf-8"))
    assert doc.get("VendorName") == "AWS" and "Version" not in doc
    rule_group = doc["RuleGroup"]
    assert rule_group["Name"] == group
    if group in MANAGED_LABEL_NAMESPACES:
        assert rule_group["LabelNamespace"] == MANAGED_LABEL_NAMESPACES[group]
    if ("AWS", group) in MANAGED_CAPACITY:
        assert rule_group["Capacity"] == MANAGED_CAPACITY[("AWS", group)]
    rules = rule_group["Rules"]
    assert [r["Priority"] for r in rules] == list(range(len(rules)))
    # One label per rule, as AWS documents it: mostly the rule name, in another case at times
    # (NoUserAgent_HEADER adds ...:NoUserAgent_Header), another name at others
    # (UserAgent_BadBots_HEADER adds ...:BadBots_Header).
    assert all(len(r.get("RuleLabels", [])) == 1 for r in rules)
    named = [r for r in rules if r["RuleLabels"][0]["Name"].casefold() == r["Name"].casefold()]
    assert len(named) * 2 >= len(rules)
    assert fidelity_path(FOLDER / f"{group}.json").is_file()


@pytest.mark.parametrize("group", GROUPS)
def test_wafpy_validate_accepts_the_group(
    group: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The RuleGroup as AWS would take it (shapes, limits, capacity); the VendorName beside it is
    wafpy's addition for managed rule group files, which validate reads past."""
    argv = ["validate", str(FOLDER / f"{group}.json")]
    for rule in IP_LIST_GROUPS.get(group, ()):  # the user's lists, as IP sets
        for version in ("IPV4", "IPV6"):
            arn = BUNDLED_IPSET.format(rule=rule, version=version)
            ip_set = {"Name": f"{rule}_{version}", "Id": "1", "ARN": arn, "IPAddressVersion": version}
            (tmp_path / f"{rule}_{version}.json").write_text(
                json.dumps({"IPSet": {**ip_set, "Addresses": []}})
            )
            argv += ["--resources", str(tmp_path / f"{rule}_{version}.json")]
    assert main(argv) == 0, capsys.readouterr().out


@pytest.mark.parametrize("group", GROUPS)
def test_the_group_loads_bundled_with_a_tier_per_rule(group: str) -> None:
    acl = load_web_acl(web_acl(group), managed="bundled", managed_ip_lists=IP_LISTS)
    statement = acl.model.rules[0].statement
    assert isinstance(statement, ast.ManagedRuleGroup) and statement.rules_from == "bundled"
    assert statement.rule_group is not None and statement.rule_group.rules
    for rule in statement.rule_group.rules:
        assert rule.fidelity is not None and rule.fidelity.rule == rule.name, rule.name
        assert rule.fidelity.tier in TIERS and rule.fidelity.basis.strip(), rule.name


async def _through_starlette(mw: WAFMiddleware, client_ip: str, paths: list[str]) -> list[int]:
    transport = httpx.ASGITransport(app=mw, client=(client_ip, 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.example.com") as client:
        return [(await client.get(path, headers={"User-Agent": "Mozilla/5.0"})).status_code for path in paths]


@pytest.mark.parametrize("group", GROUPS)
def test_the_middleware_runs_a_web_acl_using_the_group(group: str) -> None:
    async def home(request: StarletteRequest) -> PlainTextResponse:
        return PlainTextResponse("hello")

    app = Starlette(routes=[Route("/", home), Route("/shop", home)])
    mw = WAFMiddleware(app, web_acl(group), managed="bundled", managed_ip_lists=IP_LISTS)
    assert mw.warnings == ()
    statuses = asyncio.run(_through_starlette(mw, FIRST_IP.get(group, "198.51.100.1"), ["/", "/shop"]))
    assert all(status in (200, 403) for status in statuses)
    if group in IP_LIST_GROUPS:  # from the address of the group's first rule
        assert statuses == [403, 403]


@pytest.mark.parametrize("group", GROUPS)
def test_wafpy_eval_runs_a_web_acl_using_the_group(group: str, tmp_path: Path) -> None:
    acl_file = tmp_path / "acl.json"
    acl_file.write_text(json.dumps(web_acl(group)))
    lists = tmp_path / "lists.json"
    lists.write_text(json.dumps(IP_LISTS))
    requests = tmp_path / "requests.jsonl"
    lines = [
        {"httpMethod": "GET", "uri": "/", "clientIp": "198.51.100.1"},
        {"httpMethod": "GET", "uri": "/index.html", "clientIp": FIRST_IP.get(group, "192.0.2.1")},
    ]
    requests.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "out.jsonl"
    argv = ["eval", str(acl_file), str(requests), "--format", "jsonl", "--output", str(out)]
    assert main([*argv, "--managed", "bundled", "--managed-ip-lists", str(lists)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 2
    if group in IP_LIST_GROUPS:
        assert [r["action"] for r in records] == ["ALLOW", "BLOCK"]
