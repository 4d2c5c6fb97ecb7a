"""The priority loop: rules in order, actions, labels, Count, overrides, default action.

https://docs.aws.amazon.com/waf/latest/developerguide/web-acl-rule-actions.html
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wafpy import model as ast
from wafpy.decision import (
    ALLOW,
    BLOCK,
    CAPTCHA,
    CHALLENGE,
    COUNT,
    MATCH,
    NO_MATCH,
    NOT_APPLIED,
    UNDETERMINED,
    Decision,
    MatchDetail,
    RuleTrace,
)
from wafpy.engine.compile import CompiledACL, CompiledGroup, CompiledRule
from wafpy.engine.context import EvalContext, NotApplied
from wafpy.engine.fromlog import REASONS, action_of, replay_group
from wafpy.engine.responses import Response, block_response, captcha_response, challenge_response
from wafpy.engine.scan import GROUP
from wafpy.engine.services import Services
from wafpy.engine.tracing import TraceEntry, trace_builder
from wafpy.request import Request

ACTION_NAMES = {"Allow": ALLOW, "Block": BLOCK, "Count": COUNT, "Captcha": CAPTCHA, "Challenge": CHALLENGE}
HEADER_PREFIX = "x-amzn-waf-"


@dataclass(slots=True)
class _Terminal:
    action: str
    rule: CompiledRule
    response: Response | None
    custom: bool
    details: tuple[MatchDetail, ...]


@dataclass(slots=True)
class _State:
    staged: dict[str, tuple[str, str]] = field(default_factory=dict)  # lower name -> (name, value)
    non_terminating: list[dict[str, Any]] = field(default_factory=list)
    non_terminating_names: list[str] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    rates: list[dict[str, Any]] = field(default_factory=list)
    # Trace entries of rules that matched or were not applied, with the top-level rule index they
    # belong to; rules without an entry did not match (see `_trace_builder`). An entry is a
    # RuleTrace, or the arguments of one, made only if the trace is read.
    events: list[tuple[int, TraceEntry]] = field(default_factory=list)
    index: int = 0  # top-level rule being handled
    captcha: dict[str, Any] | None = None
    challenge: dict[str, Any] | None = None
    undetermined: tuple[str, str] | None = None  # (group id, reason): a group the log cannot replay


def _stage(state: _State, headers: tuple[ast.CustomHeader, ...]) -> None:
    # The same name from several rules: the last matching rule wins
    # (https://docs.aws.amazon.com/waf/latest/developerguide/customizing-the-incoming-request.html).
    for h in headers:
        name = HEADER_PREFIX + h.name
        state.staged[name.lower()] = (name, h.value)


def _match_entry(
    rule: CompiledRule, action: str, overridden: str | None, details: tuple[MatchDetail, ...]
) -> dict[str, Any]:
    entry: dict[str, Any] = {"ruleId": rule.name, "action": action}
    if overridden is not None:
        entry["overriddenAction"] = overridden
    entry["ruleMatchDetails"] = [d.to_log() for d in details if d.condition_type]
    return entry


def _run_rule(
    rule: CompiledRule,
    ctx: EvalContext,
    state: _State,
    group: CompiledGroup | None,
    group_entry: dict[str, Any] | None,
) -> _Terminal | None:
    """Evaluate one rule of a rule group (top-level rules run in the generated scanner)."""
    assert rule.matcher is not None
    if ctx.details:
        ctx.details = []
    matched: bool | None
    try:
        matched = rule.matcher(ctx)
    except NotApplied:
        matched = None
        ctx.pending_labels.clear()
    return _conclude(rule, ctx, state, matched, group, group_entry)


def _conclude(
    rule: CompiledRule,
    ctx: EvalContext,
    state: _State,
    matched: bool | None,
    group: CompiledGroup | None,
    group_entry: dict[str, Any] | None,
) -> _Terminal | None:
    """Labels, action and log entries of a rule whose statement was decided (None = not applied)."""
    if ctx.pending_labels:
        # Labels land after the whole rule, so the rule never sees its own
        # (https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-label-match.html).
        for label in ctx.pending_labels:
            ctx.add_label(label)
        ctx.pending_labels.clear()
    group_id = group.group_id if group is not None else None
    if not matched:
        if matched is None or group is not None:
            result = NOT_APPLIED if matched is None else NO_MATCH
            state.events.append((state.index, (rule.name, rule.priority, result, group_id)))
        return None

    details = tuple(ctx.details)
    action = rule.action
    assert action is not None
    overridden: str | None = None
    bodies = rule.bodies
    excluded = False
    if group is not None:
        override = group.overrides.get(rule.name)
        if override is not None:
            if override.kind != action.kind:
                overridden = ACTION_NAMES[action.kind]
            action, bodies = override, group.override_bodies
        elif rule.name in group.excluded:
            excluded = True
            overridden = ACTION_NAMES[action.kind]
            action = ast.Action("Count")
    for label in rule.labels:
        ctx.add_label(label)
    if rule.kind == "RATE_BASED":
        entry = ctx.memo.pop("rate_entry", None)
        if entry is not None:
            state.rates.append({"rateBasedRuleId": rule.path, "rateBasedRuleName": rule.name, **entry})
    name = ACTION_NAMES[action.kind]
    # The RuleTrace itself is made only if someone reads the trace.
    state.events.append(
        (state.index, (rule.name, rule.priority, MATCH, name, overridden, group_id, details, rule.labels))
    )
    if name == COUNT:
        _stage(state, action.insert_headers)
        _record_non_terminating(
            state, rule, group_entry, excluded, _match_entry(rule, COUNT, overridden, details)
        )
        return None
    if name == ALLOW:
        _stage(state, action.insert_headers)
        return _Terminal(ALLOW, rule, None, False, details)
    if name == BLOCK:
        response, custom = block_response(action, bodies)
        return _Terminal(BLOCK, rule, response, custom, details)

    immunity = rule.captcha_immunity if name == CAPTCHA else rule.challenge_immunity
    check = ctx.services.token_validator(ctx.request, name, immunity, ctx.now_ms)
    key = "captchaResponse" if name == CAPTCHA else "challengeResponse"
    if check.valid:
        # A valid token makes Captcha / Challenge behave like Count
        # (https://docs.aws.amazon.com/waf/latest/developerguide/waf-captcha-and-challenge.html).
        _stage(state, action.insert_headers)
        info = {"responseCode": 0, "solveTimestamp": check.solve_timestamp}
        entry = _match_entry(rule, name, overridden, details)
        entry[key] = info
        _record_non_terminating(state, rule, group_entry, excluded, entry)
        _set_token_response(state, name, info)
        return None
    accept = ctx.request.header_values(b"accept")
    response = captcha_response(accept) if name == CAPTCHA else challenge_response(accept)
    _set_token_response(
        state, name, {"responseCode": response[0], "solveTimestamp": 0, "failureReason": check.failure_reason}
    )
    return _Terminal(name, rule, response, False, details)


def _record_non_terminating(
    state: _State,
    rule: CompiledRule,
    group_entry: dict[str, Any] | None,
    excluded: bool,
    entry: dict[str, Any],
) -> None:
    if group_entry is not None:
        group_entry["nonTerminatingMatchingRules"].append(entry)
        if excluded:
            excluded_list = group_entry["excludedRules"] or []
            excluded_list.append({"exclusionType": "EXCLUDED_AS_COUNT", "ruleId": rule.name})
            group_entry["excludedRules"] = excluded_list
    else:
        state.non_terminating.append(entry)
        state.non_terminating_names.append(rule.name)


def _set_token_response(state: _State, name: str, info: dict[str, Any]) -> None:
    if name == CAPTCHA:
        state.captcha = info
    else:
        state.challenge = info


def _run_group(rule: CompiledRule, ctx: EvalContext, state: _State) -> _Terminal | None:
    group = rule.group
    assert group is not None
    entry: dict[str, Any] = {
        "ruleGroupId": group.group_id,
        "terminatingRule": None,
        "nonTerminatingMatchingRules": [],
        "excludedRules": None,
        "customerConfig": None,
    }
    state.groups.append(entry)
    mark = len(state.events)  # the referencing rule's own trace entry goes before its inner rules
    if group.scope_down is not None:
        ctx.details = []
        try:
            in_scope = group.scope_down(ctx)
        except NotApplied:
            in_scope = False
        if not in_scope:
            # Outside the scope-down the group does not match at all: no inner rule runs
            # (https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-scope-down-statements.html).
            state.events.insert(mark, (state.index, (rule.name, rule.priority, NO_MATCH, None)))
            return None
    if group.from_log:
        return _run_logged_group(rule, group, ctx, state, entry, mark)
    rules, i = group.rules, 0
    while i < len(rules):
        i, skipped = group.skip(i, ctx)
        if skipped is not None:
            state.events.append((state.index, skipped))  # proven not to match: no test run
            continue
        inner, i = rules[i], i + 1
        terminal = _run_rule(inner, ctx, state, group, entry)
        if terminal is None:
            continue
        entry["terminatingRule"] = {
            "ruleId": inner.name,
            "action": terminal.action,
            "ruleMatchDetails": [d.to_log() for d in terminal.details if d.condition_type],
        }
        return _group_terminal(rule, state, mark, terminal)
    state.events.insert(mark, (state.index, (rule.name, rule.priority, NO_MATCH, None)))
    return None


def _group_terminal(rule: CompiledRule, state: _State, mark: int, terminal: _Terminal) -> _Terminal | None:
    """The referencing rule's result once an inner rule ended the group."""
    if rule.override_count:
        # OverrideAction Count: the group's terminating result becomes a Count at the web ACL
        # level; no response, and the rules of the group after it are not evaluated
        # (https://docs.aws.amazon.com/waf/latest/APIReference/API_OverrideAction.html).
        own = RuleTrace(rule.name, rule.priority, MATCH, COUNT, terminal.action, None, terminal.details)
        state.events.insert(mark, (state.index, own))
        return None
    own = RuleTrace(rule.name, rule.priority, MATCH, terminal.action, None, None, terminal.details)
    state.events.insert(mark, (state.index, own))
    return _Terminal(terminal.action, rule, terminal.response, terminal.custom, terminal.details)


def _run_logged_group(
    rule: CompiledRule,
    group: CompiledGroup,
    ctx: EvalContext,
    state: _State,
    entry: dict[str, Any],
    mark: int,
) -> _Terminal | None:
    """A managed group replayed from the request's log record (`managed="log"`, wafpy.engine.fromlog)."""
    replay = replay_group(group.group_id, group.label_prefixes, group.overrides, group.excluded, ctx.request)
    if replay.reason is not None:
        # The record cannot tell what the group does here: the evaluation stops, undetermined.
        reason = REASONS[replay.reason] + (f" ({replay.detail})" if replay.detail else "")
        state.undetermined = (group.group_id, reason)
        own = RuleTrace(rule.name, rule.priority, MATCH, UNDETERMINED, None, None)
        state.events.insert(mark, (state.index, own))
        return _Terminal(UNDETERMINED, rule, None, False, ())
    group_id = group.group_id
    for step in replay.steps:
        for label in step.labels:
            ctx.add_label(label)
        state.events.append(
            (
                state.index,
                RuleTrace(
                    step.rule_id, 0, MATCH, step.action, step.overridden, group_id, step.details, step.labels
                ),
            )
        )
        log: dict[str, Any] = {"ruleId": step.rule_id, "action": step.action}
        if step.overridden is not None:
            log["overriddenAction"] = step.overridden
        log["ruleMatchDetails"] = [d.to_log() for d in step.details if d.condition_type]
        action = action_of(step)
        key = "captchaResponse" if step.action == CAPTCHA else "challengeResponse"
        if not step.terminal:
            _stage(state, action.insert_headers)
            if step.token is not None:
                log[key] = step.token
                _set_token_response(state, step.action, step.token)
            entry["nonTerminatingMatchingRules"].append(log)
            if step.excluded:
                excluded = entry["excludedRules"] or []
                excluded.append({"exclusionType": "EXCLUDED_AS_COUNT", "ruleId": step.rule_id})
                entry["excludedRules"] = excluded
            continue
        entry["terminatingRule"] = log
        for label in replay.group_labels:
            ctx.add_label(label)
        response: Response | None = None
        custom = False
        if step.action == ALLOW:
            _stage(state, action.insert_headers)
        elif step.action == BLOCK:
            # A managed rule's own Block is the default response; an override's custom response
            # uses the web ACL's bodies (the override is defined there).
            response, custom = block_response(action, group.override_bodies if step.override else {})
        else:
            accept = ctx.request.header_values(b"accept")
            response = captcha_response(accept) if step.action == CAPTCHA else challenge_response(accept)
            reason = step.token["failureReason"] if step.token else "TOKEN_MISSING"
            info = {"responseCode": response[0], "solveTimestamp": 0, "failureReason": reason}
            _set_token_response(state, step.action, info)
        terminal = _Terminal(step.action, rule, response, custom, step.details)
        return _group_terminal(rule, state, mark, terminal)
    for label in replay.group_labels:
        ctx.add_label(label)
    state.events.insert(mark, (state.index, (rule.name, rule.priority, NO_MATCH, None)))
    return None


def evaluate(
    acl: CompiledACL, request: Request, services: Services, *, now_ms: int | None = None
) -> Decision:
    if now_ms is None:
        now_ms = request.timestamp_ms if request.timestamp_ms is not None else services.clock_ms()
    ctx = EvalContext(request, services, now_ms)
    rules = acl.rules
    scan = acl.scan
    count = len(rules)
    terminal: _Terminal | None = None
    index, matched = scan(ctx, 0)
    quiet: list[dict[str, Any]] | None = None
    while matched == GROUP and index < count and _quiet(rules[index].group, ctx.request):
        # A group replayed from the log where no inner rule matched: only its log entry remains.
        quiet = quiet or []
        quiet.append(_quiet_entry(rules[index].group))
        index, matched = scan(ctx, index + 1)
    if index >= count and acl.plain_default:
        # The common case: no rule needed attention and the default action is a plain Allow.
        return _allowed_by_default(acl, ctx, quiet)
    state = _State()
    if quiet:
        state.groups += quiet
    while True:
        if index >= count:
            break
        rule = rules[index]
        state.index = index
        if matched == GROUP:
            if _quiet(rule.group, ctx.request):
                state.groups.append(_quiet_entry(rule.group))
                index, matched = scan(ctx, index + 1)
                continue
            terminal = _run_group(rule, ctx, state)
        else:
            terminal = _conclude(rule, ctx, state, matched, None, None)  # type: ignore[arg-type]
        if terminal is not None:
            break
        if ctx.details:
            ctx.details.clear()
        index, matched = scan(ctx, index + 1)
    return _finish(acl, ctx, state, terminal, min(index, count - 1))


def _quiet(group: CompiledGroup | None, request: Request) -> bool:
    """A group replayed from the log, without scope-down, whose record entry lists no match: it
    does nothing but appear in the log (the usual case, so it skips the full machinery)."""
    if group is None or not group.from_log or group.scope_down is not None:
        return False
    logged = request.logged_groups
    if logged is None:
        return False
    entry = logged.get(group.group_id)
    if entry is None or entry.terminating is not None or entry.non_terminating or entry.excluded:
        return False
    # The group's labels without a match (token labels, say) take the full path.
    prefixes = group.label_prefixes
    return not (logged.labels and prefixes and any(label.startswith(prefixes) for label in logged.labels))


def _quiet_entry(group: CompiledGroup | None) -> dict[str, Any]:
    assert group is not None
    return {
        "ruleGroupId": group.group_id,
        "terminatingRule": None,
        "nonTerminatingMatchingRules": [],
        "excludedRules": None,
        "customerConfig": None,
    }


def _allowed_by_default(acl: CompiledACL, ctx: EvalContext, groups: list[dict[str, Any]] | None) -> Decision:
    """Decision for a request no rule acted on, under a default Allow without inserted headers."""
    return Decision(
        action=ALLOW,
        terminating_rule_id="Default_Action",
        terminating_rule_type="REGULAR",
        labels=tuple(ctx.labels) if ctx.labels else (),
        trace_builder=trace_builder(acl.rules, len(acl.rules) - 1, []),
        rule_group_list=tuple(groups) if groups else (),
        oversize_fields=tuple(ctx.oversize) if ctx.oversize else (),
        not_evaluable=tuple(dict.fromkeys(ctx.not_evaluable)) if ctx.not_evaluable else (),
        web_acl_arn=acl.model.arn,
        request=ctx.request,
        evaluated_at_ms=ctx.now_ms,
    )


def _finish(
    acl: CompiledACL, ctx: EvalContext, state: _State, terminal: _Terminal | None, last: int
) -> Decision:
    model = acl.model
    response: Response | None
    if terminal is None:
        default = model.default_action
        rule_id, rule_type = "Default_Action", "REGULAR"
        details: tuple[MatchDetail, ...] = ()
        if default.kind == "Allow":
            _stage(state, default.insert_headers)
            action, response, custom = ALLOW, None, False
        else:
            action = BLOCK
            response, custom = block_response(default, model.custom_response_bodies)
    else:
        action, response, custom, details = (
            terminal.action,
            terminal.response,
            terminal.custom,
            terminal.details,
        )
        rule_id, rule_type = terminal.rule.name, terminal.rule.kind
    code, headers, body = response if response is not None else (None, (), b"")
    # Most requests match nothing: skip the conversions of empty collections (this runs per request).
    return Decision(
        action=action,
        terminating_rule_id=rule_id,
        terminating_rule_type=rule_type,
        labels=tuple(ctx.labels) if ctx.labels else (),
        non_terminating_matching_rules=tuple(state.non_terminating_names)
        if state.non_terminating_names
        else (),
        response_code=code,
        response_headers=headers,
        response_body=body,
        inserted_request_headers=tuple(state.staged.values()) if action == ALLOW and state.staged else (),
        trace_builder=trace_builder(acl.rules, last, state.events),
        terminating_rule_match_details=tuple([d for d in details if d.condition_type]) if details else (),
        log_non_terminating=tuple(state.non_terminating) if state.non_terminating else (),
        rule_group_list=tuple(state.groups) if state.groups else (),
        rate_based_rule_list=tuple(state.rates) if state.rates else (),
        custom_response=custom,
        captcha_response=state.captcha,
        challenge_response=state.challenge,
        oversize_fields=tuple(ctx.oversize) if ctx.oversize else (),
        not_evaluable=tuple(dict.fromkeys(ctx.not_evaluable)) if ctx.not_evaluable else (),
        web_acl_arn=model.arn,
        request=ctx.request,
        evaluated_at_ms=ctx.now_ms,
        undetermined=(state.undetermined,) if state.undetermined is not None else (),
    )
