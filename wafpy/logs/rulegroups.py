"""A record's `ruleGroupList`, `labels` and token responses -> `LoggedGroups` (for `managed="log"`).

The fields: https://docs.aws.amazon.com/waf/latest/developerguide/logging-fields.html

Both log readers use this one function: the reference parser (`wafpy.logs.waflog`), which turns
its ValueError into a LogFormatError, and the fast decoder (`wafpy.logs.decode`), which declines
the line instead so that the reference parser words the error. Unknown members are ignored, as
everywhere in a record; a member of the wrong type is an error.
"""

from __future__ import annotations

from typing import Any

from wafpy.loggedgroups import LoggedDetail, LoggedGroup, LoggedGroups, LoggedRuleMatch, TokenState

__all__ = ["logged_groups"]

# Entries without a match are most of a real log, and alike: shared, one per group id.
_EMPTY: dict[str, LoggedGroup] = {}
_EMPTY_MAX = 1024
_NO_GROUPS: dict[tuple[str, ...], LoggedGroups] = {}
_PLAIN: dict[tuple[tuple[LoggedGroup, ...], tuple[str, ...]], LoggedGroups] = {}


def _text(value: Any, where: str) -> str:
    if type(value) is not str:
        raise ValueError(f"{where} must be a string, got {type(value).__name__}")
    return value


def _opt(value: Any) -> str | None:
    return value if type(value) is str else None


def _details(value: Any, where: str) -> tuple[LoggedDetail, ...]:
    if not value:
        return ()
    if type(value) is not list:
        raise ValueError(f"{where} must be a list, got {type(value).__name__}")
    out = []
    for item in value:
        if type(item) is not dict:
            continue
        data = item.get("matchedData")
        matched = tuple(d for d in data if type(d) is str) if type(data) is list else ()
        get = item.get
        out.append(
            (
                _opt(get("conditionType")),
                _opt(get("location")),
                matched,
                _opt(get("sensitivityLevel")),
                _opt(get("matchedFieldName")),
            )
        )
    return tuple(out)


def _match(value: Any, where: str) -> LoggedRuleMatch:
    if type(value) is not dict:
        raise ValueError(f"{where} must be an object, got {type(value).__name__}")
    overridden = value.get("overriddenAction")
    return LoggedRuleMatch(
        _text(value.get("ruleId"), f"{where}.ruleId"),
        _text(value.get("action"), f"{where}.action"),
        None if overridden is None else _text(overridden, f"{where}.overriddenAction"),
        _details(value.get("ruleMatchDetails"), f"{where}.ruleMatchDetails"),
    )


def _group(value: Any, where: str) -> LoggedGroup:
    if type(value) is not dict:
        raise ValueError(f"{where} must be an object, got {type(value).__name__}")
    group_id = _text(value.get("ruleGroupId"), f"{where}.ruleGroupId")
    terminating = value.get("terminatingRule")
    counted = value.get("nonTerminatingMatchingRules")
    excluded = value.get("excludedRules")
    if terminating is None and not counted and not excluded:
        found = _EMPTY.get(group_id)
        if found is None:
            if len(_EMPTY) >= _EMPTY_MAX:
                _EMPTY.clear()
            found = _EMPTY[group_id] = LoggedGroup(group_id)
        return found
    if counted is not None and type(counted) is not list:
        raise ValueError(f"{where}.nonTerminatingMatchingRules must be a list")
    if excluded is not None and type(excluded) is not list:
        raise ValueError(f"{where}.excludedRules must be a list")
    return LoggedGroup(
        group_id,
        None if terminating is None else _match(terminating, f"{where}.terminatingRule"),
        tuple(
            _match(item, f"{where}.nonTerminatingMatchingRules[{i}]") for i, item in enumerate(counted or ())
        ),
        tuple(
            _text(item.get("ruleId") if type(item) is dict else None, f"{where}.excludedRules[{i}].ruleId")
            for i, item in enumerate(excluded or ())
        ),
    )


def _token(value: Any, where: str) -> TokenState | None:
    if value is None:
        return None
    if type(value) is not dict:
        raise ValueError(f"{where} must be an object, got {type(value).__name__}")
    code, solved, reason = value.get("responseCode"), value.get("solveTimestamp"), value.get("failureReason")
    return TokenState(
        valid=code == 0 and reason is None,
        solve_timestamp=solved if type(solved) is int else 0,
        failure_reason=reason if type(reason) is str else None,
    )


def logged_groups(
    rule_groups: Any, labels: tuple[str, ...], captcha: Any = None, challenge: Any = None
) -> LoggedGroups | None:
    """The record's rule-group outcomes; None when it has no `ruleGroupList` (null or missing).

    `labels` are the record's label names, already read. Raises ValueError for a malformed value.
    """
    if rule_groups is None:
        return None
    if not rule_groups and type(rule_groups) is list and captcha is None and challenge is None:
        found = _NO_GROUPS.get(labels)  # no rule group evaluated (the web ACL has none)
        if found is None:
            if len(_NO_GROUPS) >= _EMPTY_MAX:
                _NO_GROUPS.clear()
            found = _NO_GROUPS[labels] = LoggedGroups((), labels)
        return found
    if type(rule_groups) is not list:
        raise ValueError(f"ruleGroupList must be a list, got {type(rule_groups).__name__}")
    groups = tuple([_group(item, f"ruleGroupList[{i}]") for i, item in enumerate(rule_groups)])
    if captcha is None and challenge is None and all(g is _EMPTY.get(g.group_id) for g in groups):
        # The usual record: no match in any group. Its outcome is shared with records like it.
        key = (groups, labels)
        found = _PLAIN.get(key)
        if found is None:
            if len(_PLAIN) >= _EMPTY_MAX:
                _PLAIN.clear()
            found = _PLAIN[key] = LoggedGroups(groups, labels)
        return found
    tokens = _token(captcha, "captchaResponse"), _token(challenge, "challengeResponse")
    return LoggedGroups(groups, labels, *tokens)
