"""The user's IP lists for the bundled IP-list groups (`managed_ip_lists=`, `--managed-ip-lists`).

AWS's IP reputation groups match the request's origin IP against lists AWS keeps private
(https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-ip-rep.html). wafpy
bundles the two groups with AWS's rule names, order, labels and default actions, and evaluates
them against lists the user supplies: one JSON object, rule name -> CIDRs (IPv4 and IPv6 mixed,
written as in an IP set, e.g. "192.0.2.0/24", "2001:db8::/32"):

    {"AWSManagedIPReputationList": ["192.0.2.0/24"], "AWSManagedReconnaissanceList": [],
     "AWSManagedIPDDoSList": ["2001:db8::/32"], "AnonymousIPList": [], "HostingProviderIPList": []}

Every rule of a group the web ACL uses needs an entry (`[]` matches nothing): a rule never matches
nothing silently. An unknown rule name or a malformed CIDR is an error at its line:column.

In the bundled group files each rule is an `OrStatement` of two `IPSetReferenceStatement`s (an IP
set holds one IP version) whose ARNs name the rule and version (`BUNDLED_IPSET`); `IpListResolver`
answers them from the user's lists and passes every other reference on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from wafpy import model as ast
from wafpy.errors import RulesetError, RulesetErrors
from wafpy.load.jsontree import JArray, JObject, JString, JValue
from wafpy.load.resources import ResourceResolver
from wafpy.load.semantics import check_cidr

__all__ = [
    "BUNDLED_IPSET",
    "IP_LIST_GROUPS",
    "IpListResolver",
    "IpLists",
    "IpListsSpec",
    "read_ip_lists",
]

IpListsSpec: TypeAlias = "str | os.PathLike[str] | Mapping[str, Sequence[str]] | None"

# Group -> its rules, in AWS's order
# (https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-ip-rep.html).
IP_LIST_GROUPS: Final[Mapping[str, tuple[str, ...]]] = {
    "AWSManagedRulesAmazonIpReputationList": (
        "AWSManagedIPReputationList",
        "AWSManagedReconnaissanceList",
        "AWSManagedIPDDoSList",
    ),
    "AWSManagedRulesAnonymousIpList": ("AnonymousIPList", "HostingProviderIPList"),
}
_RULES: Final = tuple(rule for rules in IP_LIST_GROUPS.values() for rule in rules)

# The IP set ARNs the bundled files reference: BUNDLED_IPSET.format(rule=..., version="IPV4" | "IPV6")
BUNDLED_IPSET: Final = "arn:aws:wafv2:us-east-1:000000000000:regional/ipset/{rule}_{version}/user-list"
_PREFIX, _, _SUFFIX = BUNDLED_IPSET.partition("{rule}_{version}")


def _bundled_ipset(arn: str) -> tuple[str, str] | None:
    """(rule, version) of a bundled IP-list group's IP set ARN, else None."""
    if not (arn.startswith(_PREFIX) and arn.endswith(_SUFFIX)):
        return None
    rule, _, version = arn[len(_PREFIX) : len(arn) - len(_SUFFIX)].rpartition("_")
    return (rule, version) if version in ("IPV4", "IPV6") and rule in _RULES else None


@dataclass(frozen=True)
class IpLists:
    """The user's lists: rule name -> (IPv4 CIDRs, IPv6 CIDRs), and where they were read."""

    source: str
    lists: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]

    def missing(self, group: str) -> list[str]:
        """The rules of `group` the user gave no list for."""
        return [rule for rule in IP_LIST_GROUPS.get(group, ()) if rule not in self.lists]


def read_ip_lists(spec: IpListsSpec, read: Callable[[Any], tuple[JValue, str]]) -> IpLists:
    """Read and check the lists (a path, or a mapping); RulesetErrors at each bad entry."""
    assert spec is not None
    value, source = read(spec if isinstance(spec, Mapping) else os.fspath(spec))
    errors: list[RulesetError] = []

    def error(message: str, node: JValue, path: str) -> None:
        line, column = node.line, node.column
        errors.append(RulesetError(message, source=source, json_path=path, line=line, column=column))

    lists: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    if not isinstance(value, JObject):
        error("managed IP lists: expected a JSON object, rule name -> list of CIDRs", value, "")
    else:
        for member in value.members:
            if member.key not in _RULES:
                error(
                    f"{member.key!r} is not a rule of a bundled IP-list group; expected one of "
                    + ", ".join(_RULES),
                    member.value,
                    member.key,
                )
                continue
            if not isinstance(member.value, JArray):
                example = '["192.0.2.0/24", "2001:db8::/32"]'
                error(f"expected a list of CIDRs (e.g. {example})", member.value, member.key)
                continue
            v4: list[str] = []
            v6: list[str] = []
            for i, item in enumerate(member.value.items):
                where = f"{member.key}[{i}]"
                if not isinstance(item, JString):
                    error("expected a CIDR string", item, where)
                    continue
                version = "IPV6" if ":" in item.value else "IPV4"
                network, reason = check_cidr(item.value, version)
                if reason is not None or network is None:
                    error(f"invalid address {item.value!r}: {reason}", item, where)
                    continue
                (v6 if version == "IPV6" else v4).append(network)
            lists[member.key] = (tuple(v4), tuple(v6))
    if errors:
        raise RulesetErrors(errors, source=source)
    return IpLists(source, lists)


class IpListResolver:
    """Answers the bundled IP-list groups' IP set references from the user's lists; everything
    else from `base`."""

    def __init__(self, lists: IpLists, base: ResourceResolver) -> None:
        self.lists = lists
        self.base = base

    def ip_set(self, arn: str) -> ast.IPSet:
        found = _bundled_ipset(arn)
        if found is None or found[0] not in self.lists.lists:
            return self.base.ip_set(arn)
        rule, version = found
        v4, v6 = self.lists.lists[rule]
        return ast.IPSet(
            name=f"{rule}_{version}",
            id="user-list",
            arn=arn,
            ip_address_version=version,
            addresses=v4 if version == "IPV4" else v6,
            description=f"{rule}: the user's list, from {self.lists.source}",
        )

    def regex_pattern_set(self, arn: str) -> ast.RegexPatternSet:
        return self.base.regex_pattern_set(arn)

    def rule_group(self, arn: str) -> ast.RuleGroup:
        return self.base.rule_group(arn)

    def managed_rule_group(self, vendor: str, name: str, version: str | None) -> ast.RuleGroup | None:
        return self.base.managed_rule_group(vendor, name, version)
