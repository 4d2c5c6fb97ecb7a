"""A managed rule group replayed from the AWS WAF log record (`managed="log"`).

AWS does not publish the rules inside its managed groups, but a log record says what happened
inside each group it evaluated (`ruleGroupList`): the inner rules that matched without ending the
group, in evaluation order, then the one that ended it, with the action applied and, when the web
ACL overrode it, the rule's own action (`overriddenAction`); the legacy `excludedRules` that
matched; and the record's labels (https://docs.aws.amazon.com/waf/latest/developerguide/logging-fields.html).
Every inner rule the record does not list either did not match or was never reached.

From that, `replay_group` rebuilds the group under the candidate web ACL's configuration
(https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-managed-rule-group.html):
each listed rule takes the candidate's `RuleActionOverrides`, else Count when the candidate
excludes it (`ExcludedRules`), else its own action; the walk stops at the first rule whose action
terminates. The group's `OverrideAction` and `ScopeDownStatement` are applied by the caller
(`wafpy.engine.evaluate`), the scope-down evaluated on the logged request.

The answer is "undetermined", with a reason, when the record cannot give it: the request carries
no record, the record has no entry for the group (the logged web ACL stopped before it, or did not
use it), the logged terminating rule no longer terminates (the rules after it were never
evaluated), a rule's own action is hidden by a logged exclusion, or a Captcha / Challenge needs a
token state the record does not show.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from wafpy import model as ast
from wafpy.decision import ALLOW, BLOCK, CAPTCHA, CHALLENGE, COUNT, MatchDetail
from wafpy.loggedgroups import LoggedDetail, LoggedGroups, LoggedRuleMatch
from wafpy.request import Request

__all__ = ["REASONS", "GroupReplay", "Step", "replay_group"]

_ACTIONS = {"Allow": ALLOW, "Block": BLOCK, "Count": COUNT, "Captcha": CAPTCHA, "Challenge": CHALLENGE}
_KINDS = {v: k for k, v in _ACTIONS.items()}
TOKEN_COOKIE = b"aws-waf-token"
_NO_TABLE: Final[Mapping[str, str]] = MappingProxyType({})

# The reasons a group's outcome is undetermined (keys of `GroupReplay.reason`, for counting).
REASONS: Final[Mapping[str, str]] = {
    "no record": "no AWS WAF log record with ruleGroupList came with the request",
    "not in record": "not in the record's ruleGroupList (the logged web ACL stopped before it or lacked it)",
    "not reached": "the logged terminating rule no longer terminates; later rules were never evaluated",
    "own action": "a rule the log shows excluded as Count matched; its own action is not in the log",
    "token": "a Captcha or Challenge needs a token state the record does not show",
}


@dataclass(frozen=True, slots=True)
class Step:
    """One inner rule that matched, as the candidate web ACL acts on it."""

    rule_id: str
    action: str  # ALLOW, BLOCK, COUNT, CAPTCHA, CHALLENGE
    overridden: str | None  # the rule's own action, when the candidate replaced it
    excluded: bool  # Count through the candidate's legacy ExcludedRules
    terminal: bool
    details: tuple[MatchDetail, ...]
    labels: tuple[str, ...]
    override: ast.Action | None  # the candidate's RuleActionOverride (headers, custom response)
    token: dict[str, Any] | None = None  # captchaResponse / challengeResponse of a Captcha / Challenge


@dataclass(slots=True)
class GroupReplay:
    steps: list[Step] = field(default_factory=list)
    # The record's labels of the group that name no matched rule (Bot Control categories, token
    # labels): added when the candidate reaches every logged match, also when none matched.
    group_labels: tuple[str, ...] = ()
    reason: str | None = None  # a key of REASONS when undetermined
    detail: str = ""  # the rule the reason is about, if any

    @property
    def terminal(self) -> Step | None:
        return self.steps[-1] if self.steps and self.steps[-1].terminal else None


def _details(logged: tuple[LoggedDetail, ...]) -> tuple[MatchDetail, ...]:
    return tuple(
        MatchDetail(
            "ManagedRuleGroupStatement", "(from the log)", location, name, None, None, condition, level, data
        )
        for condition, location, data, level, name in logged
    )


def _has_token(request: Request) -> bool:
    return any(name == TOKEN_COOKIE for name, _ in request.cookies)


def _matches(
    logged: LoggedGroups, group_id: str
) -> tuple[list[LoggedRuleMatch], frozenset[str], bool] | None:
    """The matched rules in evaluation order, the rules the log shows excluded, and whether the
    last one ended the group; None when the record has no entry for the group."""
    entry = logged.get(group_id)
    if entry is None:
        return None
    matches = list(entry.non_terminating)
    listed = {m.rule_id for m in matches}
    if entry.terminating is not None:
        listed.add(entry.terminating.rule_id)
    # An excluded rule that matched is logged as a Count match; an entry that lists it only under
    # excludedRules gives no position: it goes last among the non-terminating ones.
    matches += [LoggedRuleMatch(r, COUNT) for r in entry.excluded if r not in listed]
    if entry.terminating is not None:
        matches.append(entry.terminating)
    return matches, frozenset(entry.excluded), entry.terminating is not None


def _labels(
    logged: LoggedGroups,
    prefixes: tuple[str, ...],
    matches: list[LoggedRuleMatch],
    label_rules: Mapping[str, str],
) -> tuple[dict[str, list[str]], list[str]]:
    """The record's labels of the group, by the matched rule that adds each, and the ones no
    matched rule adds (a group-wide label). A label's rule is the one `label_rules` documents
    for it, else the rule its last component names (in any case)."""
    names = {m.rule_id.casefold() for m in matches}
    by_rule: dict[str, list[str]] = {}
    rest: list[str] = []
    if not prefixes:
        return by_rule, rest
    for label in logged.labels:
        if label.startswith(prefixes):
            owner = label_rules.get(label)
            rule = owner.casefold() if owner is not None else label.rpartition(":")[2].casefold()
            if rule in names:
                by_rule.setdefault(rule, []).append(label)
            else:
                rest.append(label)
    return by_rule, rest


def replay_group(
    group_id: str,
    prefixes: tuple[str, ...],
    overrides: Mapping[str, ast.Action],
    excluded: frozenset[str],
    request: Request,
    label_rules: Mapping[str, str] = _NO_TABLE,
) -> GroupReplay:
    """The candidate's outcome of one managed group, from the record the request came from.
    `label_rules`: label -> the inner rule that adds it, where documented (else by its name)."""
    logged = request.logged_groups
    if logged is None:
        return GroupReplay(reason="no record")
    found = _matches(logged, group_id)
    if found is None:
        return GroupReplay(reason="not in record")
    matches, logged_excluded, ended = found
    by_rule, group_wide = _labels(logged, prefixes, matches, label_rules)
    out = GroupReplay()
    last = len(matches) - 1
    for i, match in enumerate(matches):
        own_known = match.overridden_action is not None or match.rule_id not in logged_excluded
        own = match.overridden_action or match.action
        override = overrides.get(match.rule_id)
        is_excluded = False
        if override is not None:
            action = _ACTIONS[override.kind]
        elif match.rule_id in excluded:
            action, is_excluded = COUNT, True
        elif own_known:
            action = own
        else:
            return GroupReplay(reason="own action", detail=match.rule_id)
        overridden = own if own_known and action != own else None
        labels = tuple(by_rule.get(match.rule_id.casefold(), ()))
        token: dict[str, Any] | None = None
        terminal = action in (ALLOW, BLOCK)
        if action in (CAPTCHA, CHALLENGE):
            valid = _token_valid(logged, match, action, i == last and ended, request)
            if valid is None:
                return GroupReplay(reason="token", detail=match.rule_id)
            state = logged.captcha if action == CAPTCHA else logged.challenge
            if valid:
                token = {"responseCode": 0, "solveTimestamp": state.solve_timestamp if state else 0}
            else:
                reason = (
                    state.failure_reason if state is not None and state.failure_reason else "TOKEN_MISSING"
                )
                token = {"failureReason": reason}
                terminal = True
        elif action not in (COUNT, ALLOW, BLOCK):
            action, terminal = COUNT, False  # an action this log format does not know: Count
        out.steps.append(
            Step(
                match.rule_id,
                action,
                overridden,
                is_excluded,
                terminal,
                _details(match.details),
                labels,
                override,
                token,
            )
        )
        if terminal:
            if i == last:  # every logged match reached: the group's own labels too
                out.group_labels = tuple(group_wide)
            return out
    if ended:
        return GroupReplay(reason="not reached", detail=matches[-1].rule_id)
    out.group_labels = tuple(group_wide)
    return out


def _token_valid(
    logged: LoggedGroups, match: LoggedRuleMatch, action: str, logged_terminal: bool, request: Request
) -> bool | None:
    """Whether the request's token passes this Captcha / Challenge, as the record shows it."""
    if match.action == action:  # AWS applied this very action to this rule: its outcome says
        return not logged_terminal
    state = logged.captcha if action == CAPTCHA else logged.challenge
    if state is not None:
        return state.valid
    if not _has_token(request):
        return False  # no aws-waf-token cookie: TOKEN_MISSING
    return None


def action_of(step: Step) -> ast.Action:
    """The action object a step applies (the override's, for its headers and custom response)."""
    return step.override if step.override is not None else ast.Action(_KINDS[step.action])
