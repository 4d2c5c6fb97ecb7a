"""Which part of a request every rate-based rule of a web ACL keys on, so a replay can be split by it.

A rate-based rule counts requests per aggregation key over time: every request of one key must
be counted by one counter, in time order. A replay may therefore evaluate in several processes
(or Spark tasks) when all the rate-based statements of the web ACL, rule groups included, share
one key component that can be read from the request before evaluating it:

* the client IP: `AggregateKeyType` IP, or an `IP` entry among the custom keys;
* one forwarded-IP header: `AggregateKeyType` FORWARDED_IP, or a `ForwardedIP` custom key
  (https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-aggregation-options.html).

Two requests with the same aggregation key then have the same value of that component, so
sending every request with the same component value to the same partition, in order, gives each
key's counter exactly the requests it would have seen in one process. Requests without the
component (no forwarded header) are never counted by those rules; they may go anywhere.

Where no component is shared (a CONSTANT key, label-namespace or header-only custom keys, rules
keyed on different components) the replay runs one ordered pass, and `RatePlan.reason` says why.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from wafpy import model as ast
from wafpy.matching.iptools import parse_ip
from wafpy.request import Request

__all__ = ["CLIENT_IP", "INVALID_FORWARDED", "RatePlan", "partition_value", "rate_plan"]

CLIENT_IP = "IP"
# The key of every request whose forwarded header's first item is not an address (with the
# fallback MATCH they are all counted under this one key), as the engine writes it.
INVALID_FORWARDED = "INVALID"


@dataclass(frozen=True, slots=True)
class RatePlan:
    """How a replay of a web ACL may be split.

    `rate_based`: the web ACL has rate-based statements. `component`: what to split by, `"IP"` for
    the client IP or the lower-case name of a forwarded-IP header; None when the replay must run
    in one ordered pass (then `reason` says why) or has no rate-based statement at all.
    """

    rate_based: bool
    component: str | None = None
    reason: str | None = None

    @property
    def partitioned(self) -> bool:
        """Whether requests may be evaluated in several ordered partitions."""
        return not self.rate_based or self.component is not None

    def describe(self) -> str:
        if not self.rate_based:
            return "no rate-based rules"
        if self.component == CLIENT_IP:
            return "rate-based rules partitioned by client IP"
        if self.component is not None:
            return f"rate-based rules partitioned by the forwarded IP in header {self.component}"
        return f"rate-based rules replayed in one ordered pass: {self.reason}"


def _statements(statement: object, where: str) -> Iterator[tuple[str, ast.RateBased]]:
    """(rule name, statement) for every rate-based statement below `statement`."""
    if isinstance(statement, ast.RateBased):
        yield where, statement
        if statement.scope_down is not None:
            yield from _statements(statement.scope_down, where)
    elif isinstance(statement, ast.And | ast.Or):
        for inner in statement.statements:
            yield from _statements(inner, where)
    elif isinstance(statement, ast.Not):
        yield from _statements(statement.statement, where)
    elif isinstance(statement, ast.ManagedRuleGroup | ast.RuleGroupReference):
        if isinstance(statement, ast.ManagedRuleGroup) and statement.scope_down is not None:
            yield from _statements(statement.scope_down, where)
        group = statement.rule_group
        if group is not None:
            for rule in group.rules:
                yield from _statements(rule.statement, f"{where} > {rule.name}")


def _components(statement: ast.RateBased) -> set[str]:
    """The key components of a rate-based statement that can be read before evaluating."""
    kind = statement.aggregate_key_type
    config = statement.forwarded_ip_config
    forwarded = config.header_name.lower() if config is not None else None
    if kind == "IP":
        return {CLIENT_IP}
    if kind == "FORWARDED_IP":
        return {forwarded} if forwarded else set()
    if kind == "CUSTOM_KEYS":
        found: set[str] = set()
        for key in statement.custom_keys:
            if key.kind == "IP":
                found.add(CLIENT_IP)
            elif key.kind == "ForwardedIP" and forwarded:
                found.add(forwarded)
        return found
    return set()  # CONSTANT: one counter for every request


def rate_plan(model: ast.WebACL) -> RatePlan:
    """The component every rate-based statement of `model` keys on, derived from the web ACL."""
    rules = (*model.pre_process_rules, *model.rules, *model.post_process_rules)
    shared: set[str] | None = None
    for rule in rules:
        for where, statement in _statements(rule.statement, rule.name):
            found = _components(statement)
            if not found:
                why = (
                    "it counts every request under one key"
                    if statement.aggregate_key_type == "CONSTANT"
                    else "its key has neither the client IP nor a forwarded IP"
                )
                return RatePlan(True, None, f"rule {where}: {why}")
            shared = found if shared is None else shared & found
            if not shared:
                return RatePlan(
                    True, None, f"rule {where} keys on another component than the rules before it"
                )
    if shared is None:
        return RatePlan(False)
    return RatePlan(True, CLIENT_IP if CLIENT_IP in shared else min(shared))


def partition_value(request: Request, component: str) -> str | None:
    """The value of `component` for `request`, equal for any two requests with equal rate keys.

    None when the request lacks it (no such header): no rate-based rule counts such a request.
    """
    if component == CLIENT_IP:
        return request.client_ip
    values = request.header_values(component.encode("latin-1"))
    if not values:
        return None
    first = values[0].split(b",")[0].strip().decode("latin-1")
    return first if parse_ip(first) is not None else INVALID_FORWARDED
