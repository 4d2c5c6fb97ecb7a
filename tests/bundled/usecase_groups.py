"""What the tests of the bundled use-case managed rule groups share (SQL database, Linux, POSIX,
Windows, PHP, WordPress): AWS's documented table of each group checked against its file, the
fidelity file beside it, and requests evaluated through a web ACL that references the group with
the ordinary files choice, `managed=["rulesets/managed"]`.

AWS's descriptions: https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-use-case.html
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.bundled.groups import check_fidelity as check_fidelity  # the same check for every group
from tests.bundled.groups import group_document as document
from tests.bundled.groups import loaded
from wafpy import Decision, Request
from wafpy import model as ast
from wafpy.load.capacity import acl_capacity
from wafpy.load.loader import load_document

# Where a rule inspects, as the FieldToMatch member of its statements.
QUERY_ARGUMENTS = "AllQueryArguments"
QUERY_STRING = "QueryString"
BODY = "Body"
HEADERS = "Headers"
COOKIES = "Cookies"
URI_PATH = "UriPath"
# AWS documents these components with a size limit and the Continue oversize handling.
_OVERSIZE = {BODY, HEADERS, COOKIES}


@dataclass(frozen=True)
class Documented:
    """One row of AWS's table for a group: the rule, its label, default action and component."""

    name: str
    label: str  # the full label AWS documents
    action: str  # "Block" or "Count"
    inspects: str  # FieldToMatch member
    sensitivity: str | None = None  # the built-in SQLi statement's level, when AWS names it


@dataclass(frozen=True)
class Case:
    """A request that must add `rule`'s label, and a near miss that must leave the group quiet."""

    rule: str
    attack: Request
    near_miss: Request


def get(uri: str, headers: dict[str, str] | None = None) -> Request:
    pairs = [("Host", "example.com"), *(headers or {}).items()]
    return Request(uri=uri, headers=pairs)


def post(body: str, uri: str = "/submit") -> Request:
    headers = [("Host", "example.com"), ("Content-Type", "application/x-www-form-urlencoded")]
    return Request(method="POST", uri=uri, headers=headers, body=body)


def _fields(statement: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(kind, inner) of every inspecting statement under `statement`."""
    ((kind, inner),) = statement.items()
    if kind in ("OrStatement", "AndStatement"):
        return [f for s in inner["Statements"] for f in _fields(s)]
    if kind == "NotStatement":
        return _fields(inner["Statement"])
    return [(kind, inner)]


def check_documented(group: str, capacity: int, namespace: str, table: list[Documented]) -> None:
    """The file says what AWS documents: names in order, priorities, labels, actions, components."""
    doc = document(group)
    assert doc["VendorName"] == "AWS" and "Version" not in doc
    rg = doc["RuleGroup"]
    assert (rg["Name"], rg["Capacity"], rg["LabelNamespace"]) == (group, capacity, namespace)
    rules = rg["Rules"]
    assert [r["Name"] for r in rules] == [d.name for d in table]
    for position, (rule, row) in enumerate(zip(rules, table, strict=True)):
        assert rule["Priority"] == position
        assert list(rule["Action"]) == [row.action]
        labels = [namespace + label["Name"] for label in rule["RuleLabels"]]
        assert labels == [row.label], rule["Name"]
        for kind, inner in _fields(rule["Statement"]):
            ((member, options),) = inner["FieldToMatch"].items()
            assert member == row.inspects, rule["Name"]
            if member in _OVERSIZE:
                assert options["OversizeHandling"] == "CONTINUE", rule["Name"]
            if row.sensitivity is not None:
                assert (kind, inner["SensitivityLevel"]) == ("SqliMatchStatement", row.sensitivity)
            else:
                assert kind == "RegexMatchStatement", rule["Name"]
                assert len(inner["RegexString"]) <= 512  # AWS's limit on a regex pattern


def check_loads(group: str) -> None:
    """The group validates through the normal loader, and fits the capacity AWS documents."""
    loaded = load_document(json.dumps(document(group)["RuleGroup"]), "RuleGroup", search_string="base64")
    assert isinstance(loaded.model, ast.RuleGroup)
    report = acl_capacity(loaded.model)
    assert loaded.model.capacity is not None and report.total <= loaded.model.capacity


def labels_of(group: str, namespace: str, request: Request) -> set[str]:
    """The labels `group` adds to `request` when every one of its rules counts."""
    decision = loaded(group, count_every_rule=True).evaluate(request)
    return {label for label in decision.labels if label.startswith(namespace)}


def check_case(group: str, namespace: str, table: list[Documented], case: Case) -> None:
    label = next(d.label for d in table if d.name == case.rule)
    assert label in labels_of(group, namespace, case.attack), case.rule
    assert labels_of(group, namespace, case.near_miss) == set(), case.rule


def check_blocks(group: str, request: Request, label: str) -> Decision:
    """With the default actions the group blocks `request`, and its label is in the decision."""
    decision = loaded(group).evaluate(request)
    assert (decision.action, decision.terminating_rule_id) == ("BLOCK", f"use-{group}")
    assert label in decision.labels
    return decision
