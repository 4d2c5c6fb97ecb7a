"""Which statements of a web ACL inspect request parts a log does not carry.

The engine itself reports body statements it could not evaluate (`Decision.not_evaluable`), because
`Request` knows whether it has a body. Other gaps are a property of the log format, not of the
request: an ALB access log has only the Host and User-Agent headers, no cookies; a WAF log with
redacted headers lacks those. `missing_statements(model, available)` lists, once per combination of
available parts, the statements that read something outside `available`; the replay counts them
for every request of such a log (whether or not evaluation reached the statement: the point is
that the log cannot tell what AWS would have seen).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from wafpy import model as ast

__all__ = [
    "STATEMENT_PARTS",
    "acl_parts",
    "field_part",
    "has_rate_based",
    "missing_statements",
    "statement_parts",
]


def field_part(field: object) -> str | None:
    """The `LogEntry.available` part a FieldToMatch reads; None for the body (the engine reports it)."""
    if isinstance(field, ast.SingleHeader):
        return f"header:{field.name}"
    if isinstance(field, ast.Headers | ast.HeaderOrder):
        return "headers"
    if isinstance(field, ast.Cookies):
        return "cookies"
    if isinstance(field, ast.UriPath):
        return "uri"
    if isinstance(field, ast.QueryString | ast.AllQueryArguments | ast.SingleQueryArgument):
        return "query"
    if isinstance(field, ast.Method):
        return "method"
    if isinstance(field, ast.JA3Fingerprint):
        return "ja3"
    if isinstance(field, ast.JA4Fingerprint):
        return "ja4"
    if isinstance(field, ast.UriFragment):
        return "fragment"
    return None


def _ip_part(config: object) -> str:
    header = getattr(config, "header_name", None)
    return f"header:{header.lower()}" if isinstance(header, str) else "client_ip"


def _rate_key_parts(key: ast.RateKey) -> Iterator[str]:
    kind = key.kind
    if kind == "Header" and key.name:
        yield f"header:{key.name.lower()}"
    elif kind == "Cookie":
        yield "cookies"
    elif kind in ("QueryArgument", "QueryString"):
        yield "query"
    elif kind == "HTTPMethod":
        yield "method"
    elif kind == "UriPath":
        yield "uri"
    elif kind in ("IP", "ASN"):
        yield "client_ip"
    elif kind == "JA3Fingerprint":
        yield "ja3"
    elif kind == "JA4Fingerprint":
        yield "ja4"


def statement_parts(statement: object, path: str) -> Iterator[tuple[str, str]]:
    """(statement path, part) for every leaf statement below `statement`, rule groups included."""
    kind: Any = type(statement)
    name = ast.STATEMENT_NAMES.get(kind, kind.__name__)
    field = getattr(statement, "field_to_match", None)
    if field is not None:
        part = field_part(field)
        if part is not None:
            yield f"{path}.{name}", part
    yield from STATEMENT_PARTS[kind](statement, path, f"{path}.{name}")


def _no_parts(statement: Any, path: str, at: str) -> Iterator[tuple[str, str]]:
    """Parts read through `field_to_match` (done above for every statement) or none at all."""
    return iter(())


def _ip_parts(statement: Any, path: str, at: str) -> Iterator[tuple[str, str]]:
    yield at, _ip_part(statement.forwarded_ip_config)


def _logical_parts(statement: ast.And | ast.Or, path: str, at: str) -> Iterator[tuple[str, str]]:
    for i, inner in enumerate(statement.statements):
        yield from statement_parts(inner, f"{at}.Statements[{i}]")


def _not_parts(statement: ast.Not, path: str, at: str) -> Iterator[tuple[str, str]]:
    yield from statement_parts(statement.statement, f"{at}.Statement")


def _rate_parts(statement: ast.RateBased, path: str, at: str) -> Iterator[tuple[str, str]]:
    if statement.aggregate_key_type == "FORWARDED_IP":
        yield at, _ip_part(statement.forwarded_ip_config)
    for key in statement.custom_keys:
        for part in _rate_key_parts(key):
            yield at, part
    if statement.scope_down is not None:
        yield from statement_parts(statement.scope_down, f"{at}.ScopeDownStatement")


def _group_parts(
    statement: ast.ManagedRuleGroup | ast.RuleGroupReference, path: str, at: str
) -> Iterator[tuple[str, str]]:
    if isinstance(statement, ast.ManagedRuleGroup) and statement.scope_down is not None:
        yield from statement_parts(statement.scope_down, f"{at}.ScopeDownStatement")
    group = statement.rule_group
    if group is not None:
        for i, rule in enumerate(group.rules):
            yield from statement_parts(rule.statement, f"{path}>{group.name}.Rules[{i}].Statement")


# The request parts a statement reads besides its FieldToMatch (children included), per statement class.
STATEMENT_PARTS: dict[type[Any], Callable[[Any, str, str], Iterator[tuple[str, str]]]] = {
    ast.ByteMatch: _no_parts,
    ast.RegexMatch: _no_parts,
    ast.RegexPatternSetReference: _no_parts,
    ast.SqliMatch: _no_parts,
    ast.XssMatch: _no_parts,
    ast.SizeConstraint: _no_parts,
    ast.LabelMatch: _no_parts,
    ast.GeoMatch: _ip_parts,
    ast.AsnMatch: _ip_parts,
    ast.IPSetReference: _ip_parts,
    ast.And: _logical_parts,
    ast.Or: _logical_parts,
    ast.Not: _not_parts,
    ast.RateBased: _rate_parts,
    ast.RuleGroupReference: _group_parts,
    ast.ManagedRuleGroup: _group_parts,
}


def acl_parts(model: ast.WebACL) -> tuple[tuple[str, str], ...]:
    """(statement path, part) for every statement of the web ACL, paths written as the engine writes them."""
    out: list[tuple[str, str]] = []
    for section, rules in (
        ("PreProcessFirewallManagerRuleGroups", model.pre_process_rules),
        ("Rules", model.rules),
        ("PostProcessFirewallManagerRuleGroups", model.post_process_rules),
    ):
        for i, rule in enumerate(rules):
            out.extend(statement_parts(rule.statement, f"{section}[{i}].Statement"))
    return tuple(dict.fromkeys(out))


def missing_statements(parts: tuple[tuple[str, str], ...], available: frozenset[str]) -> tuple[str, ...]:
    """Statement paths (each "path: part") reading a part outside `available`."""
    out = []
    for path, part in parts:
        if part in available:
            continue
        if part.startswith("header:") and "headers" in available:
            continue
        out.append(f"{path}: {part.replace('header:', 'header ')}")
    return tuple(dict.fromkeys(out))


def has_rate_based(model: ast.WebACL) -> bool:
    """Whether any rule (rule groups included) holds a rate-based statement."""
    rules = (*model.pre_process_rules, *model.rules, *model.post_process_rules)
    return any(_has_rate(rule.statement) for rule in rules)


def _has_rate(statement: object) -> bool:
    if isinstance(statement, ast.RateBased):
        return True
    if isinstance(statement, ast.And | ast.Or):
        return any(_has_rate(s) for s in statement.statements)
    if isinstance(statement, ast.Not):
        return _has_rate(statement.statement)
    if isinstance(statement, ast.ManagedRuleGroup | ast.RuleGroupReference):
        if (
            isinstance(statement, ast.ManagedRuleGroup)
            and statement.scope_down is not None
            and _has_rate(statement.scope_down)
        ):
            return True
        group = statement.rule_group
        return group is not None and any(_has_rate(r.statement) for r in group.rules)
    return False
