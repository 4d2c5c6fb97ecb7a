"""Compile a validated web ACL model into closures, once; the model tree is not walked per request."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from wafpy import model as ast
from wafpy.decision import NO_MATCH, RuleTrace
from wafpy.engine.context import EvalContext, Matcher
from wafpy.engine.prefilter import Group, Prefilter, check
from wafpy.engine.scan import Scanner, ScannerSource
from wafpy.engine.statements import labels, logic, match, network, rate
from wafpy.engine.statements.base import CompileContext, Flags
from wafpy.errors import NotAvailableError
from wafpy.loggedgroups import managed_label_prefixes
from wafpy.matching.detectors import Detector, default_detector

BUILDERS: dict[type[Any], Callable[[Any, CompileContext], Matcher]] = {
    ast.ByteMatch: match.byte_match,
    ast.RegexMatch: match.regex_match,
    ast.RegexPatternSetReference: match.regex_pattern_set,
    ast.SqliMatch: match.sqli_match,
    ast.XssMatch: match.xss_match,
    ast.SizeConstraint: match.size_constraint,
    ast.GeoMatch: network.geo_match,
    ast.IPSetReference: network.ip_set,
    ast.AsnMatch: network.asn_match,
    ast.LabelMatch: labels.label_match,
    ast.And: logic.and_statement,
    ast.Or: logic.or_statement,
    ast.Not: logic.not_statement,
    ast.RateBased: rate.rate_based,
}
# Statements that are compiled as a group of rules, not a matcher, with their log terminatingRuleType.
GROUP_RULE_KINDS: dict[type[Any], str] = {
    ast.RuleGroupReference: "GROUP",
    ast.ManagedRuleGroup: "MANAGED_RULE_GROUP",
}


def compile_statement(statement: ast.Statement, cc: CompileContext) -> Matcher:
    builder = BUILDERS.get(type(statement))
    if builder is None:
        raise NotAvailableError(f"{type(statement).__name__} cannot be nested at {cc.path}")
    matcher = builder(statement, cc.at(ast.STATEMENT_NAMES[type(statement)]))
    leaf = cc.prefilter.leaf(statement, scanner=False) if cc.prefilter is not None else None
    if leaf is None:
        return matcher
    # A text test whose literals the request lacks is false: its own search is skipped.
    key, hits, mask = leaf[0].memo_key, leaf[0].hits, leaf[1]

    def filtered(ctx: EvalContext) -> bool:
        return bool((ctx.memo.get(key) or hits(ctx)) & mask) and matcher(ctx)

    return filtered


@dataclass(frozen=True, slots=True)
class CompiledGroup:
    group_id: str  # rule group ARN, or "<Vendor>#<Name>" for managed groups (log ruleGroupId)
    rules: tuple[CompiledRule, ...]
    scope_down: Matcher | None
    overrides: Mapping[str, ast.Action]
    excluded: frozenset[str]
    override_bodies: Mapping[str, ast.CustomResponseBody]  # overrides are defined in the web ACL
    # managed="log": no rules here; the outcome is rebuilt from the request's log record
    # (wafpy.engine.fromlog), and the record's labels under these prefixes are the group's.
    from_log: bool = False
    label_prefixes: tuple[str, ...] = ()
    # managed="log": logged label -> the inner rule that adds it, where documented (the bundled
    # group's file); other labels are linked by name (wafpy.engine.fromlog).
    label_rules: Mapping[str, str] = field(default_factory=dict)
    # The prefilter (wafpy.engine.prefilter): per rule, whether it may match (None: always tested);
    # runs of rules sharing one check, by first index: (end index, check); and each rule's trace
    # entry when it is skipped. Empty when compiled without the prefilter.
    checks: tuple[Callable[[EvalContext], bool] | None, ...] = ()
    runs: Mapping[int, tuple[int, Callable[[EvalContext], bool]]] = field(default_factory=dict)
    skipped: tuple[RuleTrace, ...] = ()

    def skip(self, i: int, ctx: EvalContext) -> tuple[int, list[RuleTrace] | None]:
        """(the rule to go on from, the trace of rules from `i` that the prefilter proves do not
        match, or None when rule `i` must be tested)."""
        if not self.checks:
            return i, None
        run = self.runs.get(i)
        if run is not None and not run[1](ctx):
            return run[0], list(self.skipped[i : run[0]])
        check = self.checks[i]
        if check is not None and not check(ctx):
            return i + 1, [self.skipped[i]]
        return i, None


@dataclass(frozen=True, slots=True)
class CompiledRule:
    name: str
    priority: int
    kind: str  # REGULAR | RATE_BASED | GROUP | MANAGED_RULE_GROUP (log terminatingRuleType)
    matcher: Matcher | None
    action: ast.Action | None
    labels: tuple[str, ...]  # fully qualified
    bodies: Mapping[str, ast.CustomResponseBody]
    captcha_immunity: int
    challenge_immunity: int
    group: CompiledGroup | None = None
    override_count: bool = False
    path: str = ""


@dataclass(frozen=True, slots=True)
class CompiledACL:
    model: ast.WebACL
    rules: tuple[CompiledRule, ...]  # pre-process groups, rules, post-process groups, in order
    scan: Scanner  # runs `rules` inline until one needs attention (wafpy.engine.scan)
    needs_body: bool
    has_geo: bool
    plain_default: bool  # the default action is Allow with no inserted headers
    scanner_source: str  # the Python text of `scan`, as generated (for reading and tracebacks)


@dataclass(frozen=True, slots=True)
class _Scope:
    """Where rules are defined: a web ACL or a rule group."""

    label_prefix: str
    bodies: Mapping[str, ast.CustomResponseBody]
    captcha_immunity: int
    challenge_immunity: int
    uid: str


def _compile_rule(
    rule: ast.Rule,
    scope: _Scope,
    path: str,
    detector: Detector,
    flags: Flags,
    acl: ast.WebACL,
    prefilter: Prefilter | None,
    scanner: ScannerSource | None = None,
) -> CompiledRule:
    cc = CompileContext(
        label_prefix=scope.label_prefix,
        body_limit=acl.body_inspection_limit,
        path=f"{path}.Statement",
        rule_uid=f"{scope.uid}/{rule.name}",
        compile_statement=compile_statement,
        detector=detector,
        flags=flags,
        prefilter=prefilter,
    )
    statement = rule.statement
    captcha = rule.captcha_immunity or scope.captcha_immunity
    challenge = rule.challenge_immunity or scope.challenge_immunity
    fq_labels = tuple(scope.label_prefix + label for label in rule.rule_labels)
    if isinstance(statement, (ast.RuleGroupReference, ast.ManagedRuleGroup)):
        group = _compile_group(statement, cc, path, detector, flags, acl, captcha, challenge, prefilter)
        kind = GROUP_RULE_KINDS[type(statement)]
        if scanner is not None:
            scanner.add_group(name=rule.name, priority=rule.priority, path=path)
        return CompiledRule(
            rule.name,
            rule.priority,
            kind,
            None,
            None,
            fq_labels,
            scope.bodies,
            captcha,
            challenge,
            group=group,
            override_count=rule.override_action == "Count",
            path=path,
        )
    kind = "RATE_BASED" if isinstance(statement, ast.RateBased) else "REGULAR"
    matcher: Matcher | None = None
    if scanner is not None:
        # Top-level rules run inside the generated scanner; only group rules keep a matcher.
        need = prefilter.need(statement, scanner=scanner.inline) if prefilter is not None else None
        action = rule.action
        plain_count = (
            kind == "REGULAR" and action is not None and action.kind == "Count" and not action.insert_headers
        )
        scanner.add_rule(
            statement,
            cc,
            compile_statement,
            name=rule.name,
            priority=rule.priority,
            path=path,
            need=need,
            count_labels=fq_labels if plain_count else None,
        )
    else:
        matcher = compile_statement(statement, cc)
    return CompiledRule(
        rule.name,
        rule.priority,
        kind,
        matcher,
        rule.action,
        fq_labels,
        scope.bodies,
        captcha,
        challenge,
        path=path,
    )


def _compile_group(
    statement: ast.RuleGroupReference | ast.ManagedRuleGroup,
    cc: CompileContext,
    path: str,
    detector: Detector,
    flags: Flags,
    acl: ast.WebACL,
    captcha: int,
    challenge: int,
    prefilter: Prefilter | None,
) -> CompiledGroup:
    group = statement.rule_group
    scope_down = None
    from_log = False
    prefixes: tuple[str, ...] = ()
    if isinstance(statement, ast.ManagedRuleGroup):
        from_log = statement.rules_from == "log"
        prefixes = managed_label_prefixes(statement.vendor_name, statement.name) if from_log else ()
        group_id = f"{statement.vendor_name}#{statement.name}"
        if group is None:
            raise NotAvailableError(
                f"managed rule group {statement.vendor_name}/{statement.name} at {path} is not available: "
                "its rules are not published; say how to evaluate it with managed= when loading"
            )
        if statement.scope_down is not None:
            scope_down = compile_statement(
                statement.scope_down, cc.at("ManagedRuleGroupStatement.ScopeDownStatement")
            )
    else:
        group_id = statement.arn
        if group is None:
            raise NotAvailableError(f"rule group {statement.arn} at {path} was not resolved")
    # Inner rules inherit immunity times from the web ACL unless they set their own:
    # https://docs.aws.amazon.com/waf/latest/developerguide/waf-tokens-immunity-times.html
    scope = _Scope(
        group.label_namespace, group.custom_response_bodies, captcha, challenge, f"{cc.rule_uid}@{group_id}"
    )
    ordered = sorted(enumerate(group.rules), key=lambda item: item[1].priority)
    rules = tuple(
        _compile_rule(r, scope, f"{path}>{group.name}.Rules[{i}]", detector, flags, acl, prefilter)
        for i, r in ordered
    )
    filtered: dict[str, Any] = {}
    if prefilter is not None and not from_log:
        filtered = _group_prefilter(prefilter, [r.statement for _, r in ordered], rules, group_id)
    return CompiledGroup(
        group_id,
        rules,
        scope_down,
        {o.name: o.action_to_use for o in statement.rule_action_overrides},
        frozenset(statement.excluded_rules),
        acl.custom_response_bodies,
        from_log,
        prefixes,
        group.label_rules if from_log else {},
        **filtered,
    )


def _group_prefilter(
    prefilter: Prefilter,
    statements: list[ast.Statement],
    rules: tuple[CompiledRule, ...],
    group_id: str,
) -> dict[str, Any]:
    """The prefilter checks of a rule group's rules, and runs of rules that share one field."""
    needs = [prefilter.need(s, scanner=False) for s in statements]
    if not any(needs):
        return {}
    runs: dict[int, tuple[int, Callable[[EvalContext], bool]]] = {}
    i = 0
    while i < len(needs):
        # A run of consecutive rules with needs: one check, over the groups in the order the rules
        # first read them, skips them all (wafpy.engine.prefilter).
        end = i
        masks: dict[Group, int] = {}
        while end < len(needs) and (need := needs[end]) is not None:
            for group, mask in need:
                masks[group] = masks.get(group, 0) | mask
            end += 1
        if end - i > 1:
            runs[i] = (end, check(tuple(masks.items())))
        i = max(end, i + 1)
    return {
        "checks": tuple(check(n) if n is not None else None for n in needs),
        "runs": runs,
        "skipped": tuple(RuleTrace(r.name, r.priority, NO_MATCH, group=group_id) for r in rules),
    }


def _survey(prefilter: Prefilter, acl: ast.WebACL, inline: bool) -> None:
    """Tell the prefilter every rule it may filter, top-level (in the scanner) and in groups."""
    for rule in (*acl.pre_process_rules, *acl.rules, *acl.post_process_rules):
        statement = rule.statement
        if isinstance(statement, (ast.RuleGroupReference, ast.ManagedRuleGroup)):
            if statement.rule_group is not None:
                for inner in statement.rule_group.rules:
                    prefilter.survey(inner.statement, scanner=False)
        else:
            prefilter.survey(statement, scanner=inline)


def compile_acl(
    acl: ast.WebACL, *, detector: Detector | None = None, inline: bool = True, prefilter: bool = True
) -> CompiledACL:
    """Compile `acl`; `inline=False` keeps every statement a closure call and `prefilter=False`
    tests every rule in turn (together, the reference form)."""
    detector = detector or default_detector()
    flags = Flags()
    literals = Prefilter(flags, acl.body_inspection_limit) if prefilter else None
    scope = _Scope(
        acl.label_namespace, acl.custom_response_bodies, acl.captcha_immunity, acl.challenge_immunity, acl.arn
    )
    compiled: list[CompiledRule] = []
    scanner = ScannerSource(inline=inline, acl_name=acl.name)
    if literals is not None:
        _survey(literals, acl, inline)
    for member, rules in (
        ("PreProcessFirewallManagerRuleGroups", acl.pre_process_rules),
        ("Rules", acl.rules),
        ("PostProcessFirewallManagerRuleGroups", acl.post_process_rules),
    ):
        ordered = sorted(enumerate(rules), key=lambda item: item[1].priority)
        compiled += [
            _compile_rule(r, scope, f"{member}[{i}]", detector, flags, acl, literals, scanner)
            for i, r in ordered
        ]
    if literals is not None:
        literals.finish()
    default = acl.default_action
    plain_default = default.kind == "Allow" and not default.insert_headers
    scan, source = scanner.build()
    return CompiledACL(
        acl, tuple(compiled), scan, flags.needs_body, flags.has_geo, plain_default, scanner_source=source
    )
