"""What an AWS WAF log record says happened inside the rule groups it evaluated.

A record's `ruleGroupList` has, for every rule group AWS evaluated, the inner rule that ended the
group (`terminatingRule`), the inner rules that matched without ending it, in evaluation order
(`nonTerminatingMatchingRules`, each with the `action` applied and, when the web ACL overrode it,
the rule's own `overriddenAction`) and the legacy `excludedRules` that matched
(https://docs.aws.amazon.com/waf/latest/developerguide/logging-fields.html). With the record's
`labels` and the token state it shows (`captchaResponse`, `challengeResponse`), that is what a
replay with `managed="log"` knows of a managed rule group whose rules AWS does not publish.

`Request.logged_groups` carries one `LoggedGroups` from the log reader to the engine; requests
that do not come from an AWS WAF record have None. The log readers (`wafpy.logs`) build it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "MANAGED_LABEL_NAMESPACES",
    "TOKEN_LABEL_NAMESPACE",
    "LoggedDetail",
    "LoggedGroup",
    "LoggedGroups",
    "LoggedRuleMatch",
    "TokenState",
    "managed_label_prefixes",
]

# Label namespaces of AWS managed rule groups, as the AWS WAF Developer Guide lists them for each
# group (https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-list.html).
MANAGED_LABEL_NAMESPACES: Final[Mapping[str, str]] = {
    "AWSManagedRulesCommonRuleSet": "awswaf:managed:aws:core-rule-set:",
    "AWSManagedRulesAdminProtectionRuleSet": "awswaf:managed:aws:admin-protection:",
    "AWSManagedRulesKnownBadInputsRuleSet": "awswaf:managed:aws:known-bad-inputs:",
    "AWSManagedRulesSQLiRuleSet": "awswaf:managed:aws:sql-database:",
    "AWSManagedRulesLinuxRuleSet": "awswaf:managed:aws:linux-os:",
    "AWSManagedRulesUnixRuleSet": "awswaf:managed:aws:posix-os:",
    "AWSManagedRulesWindowsRuleSet": "awswaf:managed:aws:windows-os:",
    "AWSManagedRulesPHPRuleSet": "awswaf:managed:aws:php-app:",
    "AWSManagedRulesWordPressRuleSet": "awswaf:managed:aws:wordpress-app:",
    "AWSManagedRulesAmazonIpReputationList": "awswaf:managed:aws:amazon-ip-list:",
    "AWSManagedRulesAnonymousIpList": "awswaf:managed:aws:anonymous-ip-list:",
    "AWSManagedRulesBotControlRuleSet": "awswaf:managed:aws:bot-control:",
    "AWSManagedRulesATPRuleSet": "awswaf:managed:aws:atp:",
    "AWSManagedRulesACFPRuleSet": "awswaf:managed:aws:acfp:",
    "AWSManagedRulesAntiDDoSRuleSet": "awswaf:managed:aws:anti-ddos:",
}
# The token labels AWS adds when a group that uses tokens runs (Bot Control, ATP, ACFP, anti-DDoS):
# https://docs.aws.amazon.com/waf/latest/developerguide/waf-tokens-labeling.html
TOKEN_LABEL_NAMESPACE: Final = "awswaf:managed:token:"
_TOKEN_GROUPS = frozenset(
    {
        "AWSManagedRulesBotControlRuleSet",
        "AWSManagedRulesATPRuleSet",
        "AWSManagedRulesACFPRuleSet",
        "AWSManagedRulesAntiDDoSRuleSet",
    }
)


def managed_label_prefixes(vendor: str, name: str) -> tuple[str, ...]:
    """The label prefixes a managed group's rules write: () for a group wafpy does not know."""
    if vendor.upper() != "AWS" or name not in MANAGED_LABEL_NAMESPACES:
        return ()
    own = MANAGED_LABEL_NAMESPACES[name]
    return (own, TOKEN_LABEL_NAMESPACE) if name in _TOKEN_GROUPS else (own,)


# One `ruleMatchDetails` item: (conditionType, location, matchedData, sensitivityLevel,
# matchedFieldName); the engine turns it into a `MatchDetail` (this module stays a leaf).
LoggedDetail = tuple[str | None, str | None, tuple[str, ...], str | None, str | None]


@dataclass(frozen=True, slots=True)
class LoggedRuleMatch:
    """One inner rule that matched: its name, the action applied, and its own action when overridden."""

    rule_id: str
    action: str  # as applied and logged: ALLOW, BLOCK, COUNT, CAPTCHA, CHALLENGE
    overridden_action: str | None = None  # the rule's own action, when the web ACL overrode it
    details: tuple[LoggedDetail, ...] = ()  # ruleMatchDetails (SQLi / XSS conditions)


@dataclass(frozen=True, slots=True)
class LoggedGroup:
    """One `ruleGroupList` entry: what happened inside one rule group."""

    group_id: str  # the rule group ARN, or "<Vendor>#<Name>" for a managed group
    terminating: LoggedRuleMatch | None = None
    non_terminating: tuple[LoggedRuleMatch, ...] = ()
    excluded: tuple[str, ...] = ()  # rules excluded as Count (legacy ExcludedRules) that matched


@dataclass(frozen=True, slots=True)
class TokenState:
    """A CAPTCHA or challenge token as the record shows it (`captchaResponse` / `challengeResponse`)."""

    valid: bool
    solve_timestamp: int = 0
    failure_reason: str | None = None


@dataclass(frozen=True, slots=True)
class LoggedGroups:
    """The rule-group part of one AWS WAF log record, for `managed="log"`."""

    groups: tuple[LoggedGroup, ...] = ()
    labels: tuple[str, ...] = ()  # every label of the record, fully qualified, in logged order
    captcha: TokenState | None = None
    challenge: TokenState | None = None
    _by_id: dict[str, LoggedGroup] = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        for group in self.groups:
            self._by_id.setdefault(group.group_id, group)

    def get(self, group_id: str) -> LoggedGroup | None:
        """The first entry for `group_id`, or None when the record has none."""
        return self._by_id.get(group_id)
