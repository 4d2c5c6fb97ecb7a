"""Checks shared by the tests of the bundled Core rule set, Admin protection and Known bad inputs groups.

Each group is a get-rule-group document in rulesets/managed/ with a <GroupName>.fidelity.toml beside it.
The facts the tests hold them to come from AWS's description of the baseline rule groups:
https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tests.bundled import groups
from tests.bundled.groups import group_document, loaded
from wafpy import Request, load_rule_group
from wafpy import model as ast
from wafpy.load.capacity import MANAGED_CAPACITY, acl_capacity
from wafpy.matching.regex import regex_warnings

BASELINE_PAGE = "https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@dataclass(frozen=True)
class Documented:
    """One row of AWS's table for a group: rule name, the label AWS documents, its default action."""

    rule: str
    label: str
    action: str = "Block"


@dataclass(frozen=True)
class Example:
    """A request the rule must match, and a benign request close to it that it must leave alone."""

    rule: str
    attack: Request
    near_miss: Request


def request(
    uri: str = "/",
    *,
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (),
    body: str | bytes = b"",
    user_agent: str | None = BROWSER,
    host: str = "shop.example.com",
) -> Request:
    """A request as a browser sends it: Host and User-Agent set unless given otherwise."""
    names = {name.lower() for name, _ in headers}
    base = [("Host", host)] if "host" not in names else []
    if user_agent is not None and "user-agent" not in names:
        base.append(("User-Agent", user_agent))
    return Request(method=method, uri=uri, headers=[*base, *headers], body=body)


def labels(group: str, r: Request) -> tuple[str, ...]:
    """The labels `group` adds to `r` when every rule is evaluated (all overridden to Count)."""
    return loaded(group, count_every_rule=True).evaluate(r).labels


def check_documented(group: str, namespace: str, table: Sequence[Documented]) -> None:
    """The group's rules are AWS's, in AWS's order, with AWS's labels and default actions."""
    document = group_document(group)
    assert document["VendorName"] == "AWS"
    rule_group = document["RuleGroup"]
    assert rule_group["Name"] == group
    assert "Version" not in document  # serves every Version a statement may name
    assert rule_group["LabelNamespace"] == f"awswaf:managed:aws:{namespace}:"
    assert rule_group["Capacity"] == MANAGED_CAPACITY[("AWS", group)]
    found = [
        (
            r["Name"],
            r["Priority"],
            [rule_group["LabelNamespace"] + label["Name"] for label in r["RuleLabels"]],
            next(iter(r["Action"])),
        )
        for r in rule_group["Rules"]
    ]
    expected = [(d.rule, i, [d.label], d.action) for i, d in enumerate(table)]
    assert found == expected


def check_fidelity(group: str) -> None:
    """The fidelity file agrees with the JSON, and cites AWS's page of the baseline groups."""
    assert groups.check_fidelity(group)["source"] == BASELINE_PAGE


def _regexes(statement: ast.Statement) -> list[str]:
    if isinstance(statement, ast.RegexMatch):
        return [statement.regex_string]
    children: tuple[ast.Statement, ...] = ()
    if isinstance(statement, (ast.And, ast.Or)):
        children = statement.statements
    elif isinstance(statement, ast.Not):
        children = (statement.statement,)
    return [p for child in children for p in _regexes(child)]


def check_loads(group: str) -> ast.RuleGroup:
    """The group validates through the normal loader, fits its published WCU, and every regex stays
    inside AWS's quota (no loader warning)."""
    model = load_rule_group(group_document(group)["RuleGroup"], search_string="base64")
    assert model.name == group
    assert model.capacity is not None
    assert acl_capacity(model).total <= model.capacity
    patterns = [p for rule in model.rules for p in _regexes(rule.statement)]
    assert all(not regex_warnings(p) for p in patterns)
    acl = loaded(group)
    assert acl.managed_warnings == ()
    return model


def check_blocks(group: str, example: Example, label: str) -> None:
    """The web ACL blocks `example.attack` in `example.rule`, with its label; the near miss is allowed."""
    decision = loaded(group).evaluate(example.attack)
    assert decision.action == "BLOCK"
    assert decision.terminating_rule_id == f"use-{group}"
    assert decision.rule_group_list[0]["ruleGroupId"] == f"AWS#{group}"
    assert label in decision.labels
    allowed = loaded(group).evaluate(example.near_miss)
    assert (allowed.action, allowed.terminating_rule_id) == ("ALLOW", "Default_Action")
