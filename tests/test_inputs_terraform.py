"""`terraform show -json` state and plan output: WAFv2 resources mapped to the API model, errors
at Terraform addresses, references resolved among the resources of the same output."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import wafpy
from tests.replay_fixtures import run_cli
from wafpy import model as ast
from wafpy.errors import RulesetErrors
from wafpy.load.loader import load_rule_group_model, load_web_acl_model

DATA = Path(__file__).parent / "data" / "terraform"


def _load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DATA / name).read_text())
    return doc


def _resources(doc: dict[str, Any]) -> list[dict[str, Any]]:
    top = doc.get("values") or doc["planned_values"]
    resources: list[dict[str, Any]] = top["root_module"]["resources"]
    return resources


def _acl_values(doc: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in _resources(doc) if r["type"] == "aws_wafv2_web_acl")["values"]  # type: ignore[no-any-return]


def _rule(doc: dict[str, Any], name: str) -> dict[str, Any]:
    rule: dict[str, Any] = next(r for r in _acl_values(doc)["rule"] if r["name"] == name)
    return rule


@pytest.mark.parametrize("name", ["state.json", "plan.json"])
def test_web_acl_maps_to_the_api_model(name: str) -> None:
    model = load_web_acl_model(DATA / name)
    assert model.name == "shop"
    by_priority = sorted(model.rules, key=lambda r: r.priority)
    assert [r.name for r in by_priority] == ["bad-ips", "bots", "block-admin", "sqli", "rate"]
    by_name = {r.name: r for r in model.rules}
    admin = by_name["block-admin"].statement
    assert isinstance(admin, ast.ByteMatch)
    assert admin.search_string == b"/admin"  # text, as the provider takes it
    assert isinstance(admin.field_to_match, ast.UriPath)
    assert [t.type for t in admin.text_transformations] == ["LOWERCASE"]
    assert by_name["block-admin"].rule_labels == ("app:admin",)
    ips = by_name["bad-ips"].statement
    assert isinstance(ips, ast.IPSetReference) and ips.ip_set is not None
    assert ips.ip_set.addresses == ("198.51.100.0/24",)
    bots = by_name["bots"].statement
    assert isinstance(bots, ast.And) and len(bots.statements) == 2
    regex = bots.statements[0]
    assert isinstance(regex, ast.RegexPatternSetReference) and regex.pattern_set is not None
    assert regex.pattern_set.patterns == ("(?i)curl|wget",)
    assert isinstance(bots.statements[1], ast.Not)
    assert isinstance(by_name["rate"].statement, ast.RateBased)
    assert by_name["rate"].statement.limit == 2000


@pytest.mark.parametrize("name", ["state.json", "plan.json"])
@pytest.mark.parametrize(
    ("uri", "ip", "ua", "action", "rule"),
    [
        ("/", "203.0.113.5", "Mozilla/5.0", "ALLOW", "Default_Action"),
        ("/", "198.51.100.9", "Mozilla/5.0", "BLOCK", "bad-ips"),
        ("/Admin/users", "203.0.113.5", "Mozilla/5.0", "BLOCK", "block-admin"),
        ("/", "203.0.113.5", "curl/8.0", "ALLOW", "Default_Action"),  # bots only counts
    ],
)
def test_terraform_web_acl_evaluates(name: str, uri: str, ip: str, ua: str, action: str, rule: str) -> None:
    acl = wafpy.load_web_acl(DATA / name)
    request = wafpy.Request(method="GET", uri=uri, client_ip=ip, headers=[("User-Agent", ua)], country="US")
    decision = acl.evaluate(request)
    assert (decision.action, decision.terminating_rule_id) == (action, rule)


@pytest.mark.parametrize("name", ["state.json", "plan.json"])
def test_validate_names_a_terraform_document(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["validate", str(DATA / name)], capsys)
    assert code == 0
    assert "WebACL shop (terraform document, 5 rules): valid" in out
    assert "total 82 WCU" in out


def test_block_custom_response_and_bodies() -> None:
    model = load_web_acl_model(DATA / "state.json")
    admin = next(r for r in model.rules if r.name == "block-admin")
    assert admin.action is not None and admin.action.kind == "Block"
    assert admin.action.custom_response is not None
    assert admin.action.custom_response.response_code == 403
    assert "denied" in model.custom_response_bodies


def test_rule_group_and_resources_from_a_state(tmp_path: Path) -> None:
    state = _load("state.json")
    group_only = copy.deepcopy(state)
    group_only["values"]["root_module"]["resources"] = [
        r for r in _resources(group_only) if r["type"] == "aws_wafv2_rule_group"
    ]
    file = tmp_path / "group.json"
    file.write_text(json.dumps(group_only))
    group = load_rule_group_model(file)
    assert group.capacity == 50 and group.rules[0].name == "big-body"
    # The same state as a resources file for a web ACL written in the API's form.
    acl_doc = {
        "Name": "a",
        "DefaultAction": {"Allow": {}},
        "VisibilityConfig": {
            "SampledRequestsEnabled": True,
            "CloudWatchMetricsEnabled": True,
            "MetricName": "a",
        },
        "Rules": [
            {
                "Name": "ips",
                "Priority": 0,
                "Action": {"Block": {}},
                "Statement": {
                    "IPSetReferenceStatement": {
                        "ARN": _rule(state, "bad-ips")["statement"][0]["ip_set_reference_statement"][0]["arn"]
                    }
                },
                "VisibilityConfig": {
                    "SampledRequestsEnabled": True,
                    "CloudWatchMetricsEnabled": True,
                    "MetricName": "i",
                },
            }
        ],
    }
    acl = tmp_path / "acl.json"
    acl.write_text(json.dumps(acl_doc))
    model = load_web_acl_model(acl, resources=[DATA / "state.json"])
    statement = model.rules[0].statement
    assert isinstance(statement, ast.IPSetReference) and statement.ip_set is not None


Mutation = Callable[[dict[str, Any]], None]


def _set(path: list[Any], value: Any, rule: str) -> Mutation:
    def apply(doc: dict[str, Any]) -> None:
        node: Any = _rule(doc, rule)
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return apply


def _drop_ip_set(doc: dict[str, Any]) -> None:
    top = doc.get("values") or doc["planned_values"]
    top["root_module"]["resources"] = [r for r in _resources(doc) if r["type"] != "aws_wafv2_ip_set"]


def _bad_address(doc: dict[str, Any]) -> None:
    ip_set = next(r for r in _resources(doc) if r["type"] == "aws_wafv2_ip_set")
    ip_set["values"]["addresses"] = ["198.51.100.0/33"]


def _two_acls(doc: dict[str, Any]) -> None:
    acl = next(r for r in _resources(doc) if r["type"] == "aws_wafv2_web_acl")
    other = copy.deepcopy(acl)
    other["address"], other["name"] = "aws_wafv2_web_acl.other", "other"
    _resources(doc).append(other)


def _group_capacity(doc: dict[str, Any]) -> None:
    top = doc["values"]["root_module"]
    top["resources"] = [r for r in top["resources"] if r["type"] == "aws_wafv2_rule_group"]
    top["resources"][0]["values"]["capacity"] = 1  # the rule costs 1 + 10 (LOWERCASE)
    size = top["resources"][0]["values"]["rule"][0]["statement"][0]["size_constraint_statement"][0]
    size["text_transformation"][0]["type"] = "LOWERCASE"


SQLI = ["statement", 0, "sqli_match_statement", 0]
BAD: list[tuple[str, str, Mutation, str]] = [
    (
        "text-transformation-type",
        "state.json",
        _set([*SQLI, "text_transformation", 1, "type"], "HTML_DECODE", "sqli"),
        "aws_wafv2_web_acl.main.rule[{sqli}].statement[0].sqli_match_statement[0].text_transformation[1].type",
    ),
    (
        "positional-constraint",
        "state.json",
        _set(["statement", 0, "byte_match_statement", 0, "positional_constraint"], "BEGINS", "block-admin"),
        "aws_wafv2_web_acl.main.rule[{block-admin}].statement[0].byte_match_statement[0].positional_constraint",
    ),
    (
        "priority-type",
        "state.json",
        _set(["priority"], "5", "rate"),
        "aws_wafv2_web_acl.main.rule[{rate}].priority",
    ),
    (
        "unresolved-ip-set",
        "state.json",
        _drop_ip_set,
        "aws_wafv2_web_acl.main.rule[{bad-ips}].statement[0].ip_set_reference_statement[0]",
    ),
    (
        "plan-ip-set-missing",
        "plan.json",
        _drop_ip_set,
        "aws_wafv2_web_acl.main.rule[{bad-ips}].statement[0].ip_set_reference_statement[0]",
    ),
    ("two-web-acls", "state.json", _two_acls, "choose one by address"),
    ("referenced-ip-set", "state.json", _bad_address, "at aws_wafv2_ip_set.bad.addresses[0]"),
    ("rule-group-capacity", "state.json", _group_capacity, "aws_wafv2_rule_group.api.capacity"),
]


@pytest.mark.parametrize(("name", "fixture", "mutate", "where"), BAD, ids=[b[0] for b in BAD])
def test_errors_point_to_the_terraform_address(
    name: str, fixture: str, mutate: Mutation, where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = _load(fixture)
    mutate(doc)
    rules = _acl_values(doc)["rule"] if any(r["type"] == "aws_wafv2_web_acl" for r in _resources(doc)) else []
    for i, rule in enumerate(rules):
        where = where.replace(f"{{{rule['name']}}}", str(i))
    file = tmp_path / "tf.json"
    file.write_text(json.dumps(doc))
    code, out, _ = run_cli(["validate", str(file)], capsys)
    assert code == 1
    assert where in out, out
    if "rule[" in where:  # the library's error carries the same path
        with pytest.raises(RulesetErrors) as info:
            load_web_acl_model(file)
        assert any(e.json_path.startswith(where) for e in info.value.errors)


def test_rate_based_custom_keys_and_association_config(tmp_path: Path) -> None:
    state = _load("state.json")
    values = _acl_values(state)
    names = ["cookie", "forwarded_ip", "header", "ip", "label_namespace", "query_argument", "query_string"]
    keys: dict[str, list[Any]] = {key: [] for key in [*names, "uri_path", "http_method"]}
    header = {"name": "x-api-key", "text_transformation": [{"priority": 0, "type": "NONE"}]}
    rate = _rule(state, "rate")["statement"][0]["rate_based_statement"][0]
    rate["aggregate_key_type"] = "CUSTOM_KEYS"
    rate["custom_key"] = [{**keys, "header": [header]}, {**keys, "http_method": [{}]}]
    body = {"cloudfront": [{"default_size_inspection_limit": "KB_64"}], "api_gateway": []}
    values["association_config"] = [{"request_body": [body]}]
    file = tmp_path / "tf.json"
    file.write_text(json.dumps(state))
    model = load_web_acl_model(file)
    statement = next(r for r in model.rules if r.name == "rate").statement
    assert isinstance(statement, ast.RateBased)
    assert len(statement.custom_keys) == 2


def test_plan_inside_a_module_resolves_references(tmp_path: Path) -> None:
    """Resources of a module: addresses `module.waf.<type>.<name>`, configuration under
    `module_calls.waf.module`, references relative to the module."""
    plan = _load("plan.json")
    resources = _resources(plan)
    for res in resources:
        res["address"] = f"module.waf.{res['address']}"
    plan["planned_values"]["root_module"] = {
        "child_modules": [{"address": "module.waf", "resources": resources}]
    }
    module = plan["configuration"]["root_module"]
    plan["configuration"]["root_module"] = {"module_calls": {"waf": {"source": "./waf", "module": module}}}
    file = tmp_path / "plan.json"
    file.write_text(json.dumps(plan))
    acl = wafpy.load_web_acl(file)
    request = wafpy.Request(method="GET", uri="/", client_ip="198.51.100.9", country="US")
    assert acl.evaluate(request).terminating_rule_id == "bad-ips"


def test_rule_json_is_read_in_the_api_form(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = _load("state.json")
    values = _acl_values(state)
    vis = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "g"}
    rule = {"Name": "geo", "Priority": 0, "Action": {"Block": {}}, "VisibilityConfig": vis}
    values["rule"] = []
    values["rule_json"] = json.dumps([{**rule, "Statement": {"GeoMatchStatement": {"CountryCodes": ["NL"]}}}])
    file = tmp_path / "tf.json"
    file.write_text(json.dumps(state))
    assert [r.name for r in load_web_acl_model(file).rules] == ["geo"]
    values["rule_json"] = json.dumps([{**rule, "Statement": {"GeoMatchStatement": {"CountryCodes": "NL"}}}])
    file.write_text(json.dumps(state))
    code, out, _ = run_cli(["validate", str(file)], capsys)
    assert code == 1
    assert "aws_wafv2_web_acl.main.rule_json[0].Statement.GeoMatchStatement.CountryCodes" in out
    values["rule_json"] = "[{"
    file.write_text(json.dumps(state))
    code, out, _ = run_cli(["validate", str(file)], capsys)
    assert code == 1
    assert "rule_json is not JSON" in out and "at aws_wafv2_web_acl.main.rule_json" in out
