"""Which rules of a web ACL read the request's country or ASN, and what answers them.

AWS WAF finds a request's country and autonomous system number itself, from the client address
(https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-geo-match.html,
https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-asn-match.html).
wafpy needs a source for them: a country or ASN recorded with the request (a CDN's header, an AWS
WAF log's `country`), or an IP database. Without one, a `GeoMatchStatement` sees the country "XX"
and an `AsnMatchStatement` the ASN 0, so such rules silently never match a listed country or ASN.

`location_uses` lists every statement that reads one of them, rule groups included;
`unanswered` keeps those the configured `LocationSources` cannot answer; `describe` names their
rules. The middleware, `wafpy explain` and the replay all ask the same questions here, and each
adds its own advice on what to configure.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from wafpy import model as ast

__all__ = ["LocationSources", "LocationUse", "describe", "location_uses", "unanswered"]

Attribute = Literal["country", "asn"]


@dataclass(frozen=True)
class LocationUse:
    """One statement reading the country or ASN.

    `rule` is the web ACL rule's name ("outer > inner" for a rule of a rule group); `forwarded` is
    True when the statement reads the address in a forwarded-IP header rather than the client's,
    which only an IP database can locate (a header or a log gives the client's country only).
    """

    rule: str
    path: str
    attribute: Attribute
    forwarded: bool = False


@dataclass(frozen=True)
class LocationSources:
    """What can locate an address: the client's own country / ASN (a header, a log field, or a
    database), and the country / ASN of any address (a database only)."""

    country: bool = False
    asn: bool = False
    any_ip_country: bool = False
    any_ip_asn: bool = False

    def answers(self, use: LocationUse) -> bool:
        if use.attribute == "country":
            return self.any_ip_country or (self.country and not use.forwarded)
        return self.any_ip_asn or (self.asn and not use.forwarded)


def _statement(statement: object, rule: str, path: str) -> Iterator[LocationUse]:
    name = ast.STATEMENT_NAMES.get(type(statement), type(statement).__name__)  # type: ignore[arg-type]
    at = f"{path}.{name}"
    if isinstance(statement, ast.GeoMatch):
        yield LocationUse(rule, at, "country", statement.forwarded_ip_config is not None)
    elif isinstance(statement, ast.AsnMatch):
        yield LocationUse(rule, at, "asn", statement.forwarded_ip_config is not None)
    elif isinstance(statement, ast.And | ast.Or):
        for i, inner in enumerate(statement.statements):
            yield from _statement(inner, rule, f"{at}.Statements[{i}]")
    elif isinstance(statement, ast.Not):
        yield from _statement(statement.statement, rule, f"{at}.Statement")
    elif isinstance(statement, ast.RateBased):
        if any(key.kind == "ASN" for key in statement.custom_keys):
            yield LocationUse(rule, at, "asn")
        if statement.scope_down is not None:
            yield from _statement(statement.scope_down, rule, f"{at}.ScopeDownStatement")
    elif isinstance(statement, ast.ManagedRuleGroup | ast.RuleGroupReference):
        if isinstance(statement, ast.ManagedRuleGroup) and statement.scope_down is not None:
            yield from _statement(statement.scope_down, rule, f"{at}.ScopeDownStatement")
        group = statement.rule_group
        if group is not None:
            yield from _rules(group.rules, f"{at}>{group.name}.Rules", f"{rule} > ")


def _rules(rules: Sequence[ast.Rule], section: str, prefix: str = "") -> Iterator[LocationUse]:
    for i, rule in enumerate(rules):
        yield from _statement(rule.statement, prefix + rule.name, f"{section}[{i}].Statement")


def location_uses(model: ast.WebACL | ast.RuleGroup) -> tuple[LocationUse, ...]:
    """Every statement of `model` reading the country or ASN, in evaluation order."""
    if isinstance(model, ast.RuleGroup):
        return tuple(_rules(model.rules, "Rules"))
    return (
        *_rules(model.pre_process_rules, "PreProcessFirewallManagerRuleGroups"),
        *_rules(model.rules, "Rules"),
        *_rules(model.post_process_rules, "PostProcessFirewallManagerRuleGroups"),
    )


def unanswered(uses: Iterable[LocationUse], sources: LocationSources) -> tuple[LocationUse, ...]:
    """The uses `sources` cannot answer: their rules see the country "XX" or the ASN 0."""
    return tuple(use for use in uses if not sources.answers(use))


def describe(uses: Iterable[LocationUse]) -> str:
    """Which rules read what, e.g. 'country: rule geo-block; ASN (of a forwarded IP): rule asn'."""
    groups: dict[str, list[str]] = {}
    for use in uses:
        what = "country" if use.attribute == "country" else "ASN"
        key = f"{what} of a forwarded IP" if use.forwarded else what
        names = groups.setdefault(key, [])
        if use.rule not in names:
            names.append(use.rule)
    return "; ".join(
        f"{key}: rule{'s' if len(names) != 1 else ''} {', '.join(names)}" for key, names in groups.items()
    )
