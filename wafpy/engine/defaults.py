"""Decisions made without the evaluation loop: a web ACL without rules, and a request no rule
acted on under a plain Allow default (the usual case), plus the lists the loop shares with the
scanner's Count rules."""

from __future__ import annotations

from typing import Any

from wafpy.decision import ALLOW, Decision, RuleTrace
from wafpy.engine.compile import CompiledACL
from wafpy.engine.context import EvalContext
from wafpy.engine.tracing import trace_builder
from wafpy.request import Request


def _no_trace() -> tuple[RuleTrace, ...]:
    return ()


def empty_decision(acl: CompiledACL, request: Request, now_ms: int) -> Decision:
    """A web ACL without rules and with a plain Allow default: only the default action."""
    return Decision(
        action=ALLOW,
        terminating_rule_id="Default_Action",
        terminating_rule_type="REGULAR",
        trace_builder=_no_trace,
        web_acl_arn=acl.model.arn,
        request=request,
        evaluated_at_ms=now_ms,
    )


def share_counted(ctx: EvalContext, state: Any) -> None:
    """The loop's trace and non-terminating lists become the context's (the scanner appends to
    them as it concludes Count rules), keeping what the scanner recorded before the loop began."""
    if ctx.events is not None:
        state.events = ctx.events
        state.non_terminating = ctx.non_terminating
        state.non_terminating_names = ctx.non_terminating_names
    ctx.events = state.events
    ctx.non_terminating = state.non_terminating
    ctx.non_terminating_names = state.non_terminating_names


def allowed_by_default(acl: CompiledACL, ctx: EvalContext, groups: list[dict[str, Any]] | None) -> Decision:
    """Decision for a request no rule acted on, under a default Allow without inserted headers."""
    return Decision(
        action=ALLOW,
        terminating_rule_id="Default_Action",
        terminating_rule_type="REGULAR",
        labels=tuple(ctx.labels) if ctx.labels else (),
        non_terminating_matching_rules=tuple(ctx.non_terminating_names) if ctx.non_terminating_names else (),
        trace_builder=trace_builder(acl.rules, len(acl.rules) - 1, ctx.events or []),
        log_non_terminating=tuple(ctx.non_terminating) if ctx.non_terminating else (),
        rule_group_list=tuple(groups) if groups else (),
        oversize_fields=tuple(ctx.oversize) if ctx.oversize else (),
        not_evaluable=tuple(dict.fromkeys(ctx.not_evaluable)) if ctx.not_evaluable else (),
        web_acl_arn=acl.model.arn,
        request=ctx.request,
        evaluated_at_ms=ctx.now_ms,
    )
