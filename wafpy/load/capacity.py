"""Web ACL capacity units (WCU): https://docs.aws.amazon.com/waf/latest/developerguide/aws-waf-capacity-units.html

The plain sum AWS documents: a base cost per statement, doubled for JsonBody, plus 10 per text
transformation (NONE is free: the CLI example AND(ByteMatch EXACTLY+NONE, SizeConstraint+NONE)
costs 3), 10 per pre-parse transformation (NONE free likewise), 10 for AllQueryArguments, and
1 WCU per 5 rule labels across the ACL or group. For a web ACL the stated Capacity (get-* output)
is AWS's own figure and only shown beside this one; a rule group's declared Capacity is what the
group reserves, and `wafpy validate` refuses one below this sum, as AWS refuses to create it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wafpy import model as ast

__all__ = [
    "MANAGED_CAPACITY",
    "STATEMENT_WCU",
    "CapacityReport",
    "RuleCapacity",
    "acl_capacity",
    "rule_capacity",
    "statement_capacity",
]

# Published capacities of AWS managed rule groups (vendor-defined ones are absent):
# https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-list.html
MANAGED_CAPACITY: dict[tuple[str, str], int] = {
    ("AWS", "AWSManagedRulesCommonRuleSet"): 700,
    ("AWS", "AWSManagedRulesAdminProtectionRuleSet"): 100,
    ("AWS", "AWSManagedRulesKnownBadInputsRuleSet"): 200,
    ("AWS", "AWSManagedRulesSQLiRuleSet"): 200,
    ("AWS", "AWSManagedRulesLinuxRuleSet"): 200,
    ("AWS", "AWSManagedRulesUnixRuleSet"): 100,
    ("AWS", "AWSManagedRulesWindowsRuleSet"): 200,
    ("AWS", "AWSManagedRulesPHPRuleSet"): 100,
    ("AWS", "AWSManagedRulesWordPressRuleSet"): 100,
    ("AWS", "AWSManagedRulesAmazonIpReputationList"): 25,
    ("AWS", "AWSManagedRulesAnonymousIpList"): 50,
}
LABELS_PER_WCU = 5
TRANSFORMATION_WCU = 10
ALL_QUERY_ARGUMENTS_WCU = 10
RATE_BASED_WCU = 2
RATE_KEY_WCU = 30


@dataclass(frozen=True, slots=True)
class RuleCapacity:
    name: str
    priority: int
    wcu: int
    exact: bool = True  # False when a managed group's capacity is unknown (counted as 0 or its rules' sum)
    section: str = "Rules"  # or PreProcessFirewallManagerRuleGroups / PostProcess...


@dataclass(frozen=True, slots=True)
class CapacityReport:
    rules: tuple[RuleCapacity, ...]
    label_wcu: int  # 1 per 5 RuleLabels across the document, rounded up
    total: int
    stated: int | None  # the Capacity the document itself states (get-* output), if any

    @property
    def exact(self) -> bool:
        return all(r.exact for r in self.rules)


def _transformations(tts: ast.Transformations) -> int:
    return sum(TRANSFORMATION_WCU for t in tts if t.type != "NONE")


def _inspecting(base: int, ftm: ast.FieldToMatch, tts: ast.Transformations, pre: ast.Transformations) -> int:
    if isinstance(ftm, ast.JsonBody):
        base *= 2
    if isinstance(ftm, ast.AllQueryArguments):
        base += ALL_QUERY_ARGUMENTS_WCU
    return base + _transformations(tts) + _transformations(pre)


def _group_sum(group: ast.RuleGroup) -> int:
    return sum(rule_capacity(r) for r in group.rules) + _label_wcu(group.rules)


def _text(base: int) -> Callable[[Any], tuple[int, bool]]:
    """WCU of a statement inspecting a FieldToMatch with a fixed base cost."""
    return lambda s: (
        _inspecting(base, s.field_to_match, s.text_transformations, s.pre_parse_transformations),
        True,
    )


def _byte_match(s: ast.ByteMatch) -> tuple[int, bool]:
    base = 2 if s.positional_constraint in ("EXACTLY", "STARTS_WITH", "ENDS_WITH") else 10
    return _text(base)(s)


def _sqli_match(s: ast.SqliMatch) -> tuple[int, bool]:
    return _text(30 if s.sensitivity_level == "HIGH" else 20)(s)


def _ip_set(s: ast.IPSetReference) -> tuple[int, bool]:
    fwd = s.forwarded_ip_config
    return (5 if fwd is not None and fwd.position == "ANY" else 1), True


def _logical(s: ast.And | ast.Or) -> tuple[int, bool]:
    parts = [_statement(c) for c in s.statements]
    return sum(p[0] for p in parts), all(p[1] for p in parts)


def _scope_down(s: ast.RateBased | ast.ManagedRuleGroup) -> tuple[int, bool]:
    return _statement(s.scope_down) if s.scope_down is not None else (0, True)


def _rate_based(s: ast.RateBased) -> tuple[int, bool]:
    wcu, exact = _scope_down(s)
    return RATE_BASED_WCU + RATE_KEY_WCU * len(s.custom_keys) + wcu, exact


def _rule_group(s: ast.RuleGroupReference) -> tuple[int, bool]:
    group = s.rule_group
    if group is None:
        return 0, False
    return (group.capacity if group.capacity is not None else _group_sum(group)), True


def _managed(s: ast.ManagedRuleGroup) -> tuple[int, bool]:
    wcu, exact = _scope_down(s)
    known = MANAGED_CAPACITY.get((s.vendor_name, s.name))
    if known is not None:
        return known + wcu, exact
    group = s.rule_group
    if group is not None and group.capacity is not None:
        return group.capacity + wcu, exact
    if group is not None:
        return _group_sum(group) + wcu, False
    return wcu, False


# (WCU, exact) of one statement and its children, per statement class.
STATEMENT_WCU: dict[type[Any], Callable[[Any], tuple[int, bool]]] = {
    ast.ByteMatch: _byte_match,
    ast.RegexMatch: _text(3),
    ast.RegexPatternSetReference: _text(25),
    ast.SizeConstraint: _text(1),
    ast.SqliMatch: _sqli_match,
    ast.XssMatch: _text(40),
    ast.GeoMatch: lambda s: (1, True),
    ast.AsnMatch: lambda s: (1, True),
    ast.LabelMatch: lambda s: (1, True),
    ast.IPSetReference: _ip_set,
    ast.And: _logical,
    ast.Or: _logical,
    ast.Not: lambda s: _statement(s.statement),
    ast.RateBased: _rate_based,
    ast.RuleGroupReference: _rule_group,
    ast.ManagedRuleGroup: _managed,
}


def _statement(s: ast.Statement) -> tuple[int, bool]:
    """(WCU, exact) of one statement and its children."""
    return STATEMENT_WCU[type(s)](s)


def statement_capacity(statement: ast.Statement) -> int:
    return _statement(statement)[0]


def rule_capacity(rule: ast.Rule) -> int:
    """WCU of one rule's statement (rule labels are charged per document, see acl_capacity)."""
    return _statement(rule.statement)[0]


def _label_wcu(rules: tuple[ast.Rule, ...]) -> int:
    count = sum(len(r.rule_labels) for r in rules)
    return -(-count // LABELS_PER_WCU)


def acl_capacity(acl: ast.WebACL | ast.RuleGroup) -> CapacityReport:
    """Per-rule WCU and the total of a web ACL (Firewall Manager groups included) or a rule group."""
    sections: list[tuple[str, tuple[ast.Rule, ...]]] = [("Rules", acl.rules)]
    if isinstance(acl, ast.WebACL):
        sections = [
            ("PreProcessFirewallManagerRuleGroups", acl.pre_process_rules),
            *sections,
            ("PostProcessFirewallManagerRuleGroups", acl.post_process_rules),
        ]
    out = []
    for section, rules in sections:
        for r in sorted(rules, key=lambda r: r.priority):
            wcu, exact = _statement(r.statement)
            out.append(RuleCapacity(r.name, r.priority, wcu, exact, section))
    every = tuple(r for _, rules in sections for r in rules)
    labels = _label_wcu(every)
    return CapacityReport(tuple(out), labels, sum(r.wcu for r in out) + labels, acl.capacity)
