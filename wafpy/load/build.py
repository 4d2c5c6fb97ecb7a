"""Validated JSON -> frozen `ast` nodes: rules, web ACLs, rule groups, IP sets, regex pattern sets.

Every node gets a `Span(line, column, path)`. Semantic problems (the rules of
`wafpy.load.semantics`, each citing AWS's documentation) are collected in the context while
building; a rule whose JSON is malformed is skipped (shape validation already reported it) so the
other rules are still checked.
"""

from __future__ import annotations

from wafpy import model as ast
from wafpy.load.build_parts import (
    Broken,
    Context,
    action,
    boolean,
    integer,
    items,
    member,
    obj,
    opt_integer,
    opt_text,
    single,
    span,
    text,
)
from wafpy.load.build_statements import is_group_statement, statement
from wafpy.load.jsontree import JObject, JString, JValue
from wafpy.load.semantics import check_cidr, check_label, check_regex_pattern, duplicates
from wafpy.load.validate import join_path

__all__ = [
    "BODY_LIMITS",
    "DEFAULT_ACCOUNT",
    "Context",
    "build_ip_set",
    "build_regex_pattern_set",
    "build_rule_group",
    "build_web_acl",
]

DEFAULT_ACCOUNT = "000000000000"
DEFAULT_REGION = "us-east-1"
# AssociationConfig SizeInspectionLimit values in bytes; the ALB default is 8 KB:
# https://docs.aws.amazon.com/waf/latest/developerguide/web-acl-setting-body-inspection-limit.html
BODY_LIMITS = {"KB_8": 8192, "KB_16": 16384, "KB_32": 32768, "KB_48": 49152, "KB_64": 65536}
DEFAULT_IMMUNITY = 300


def _account_of(arn: str | None) -> str | None:
    parts = arn.split(":") if arn else []
    return parts[4] if len(parts) > 5 and parts[4].isdigit() else None


def _visibility(o: JObject, path: str) -> ast.VisibilityConfig | None:
    node = o.get("VisibilityConfig")
    if node is None:
        return None
    v = obj(node)
    return ast.VisibilityConfig(
        sampled_requests_enabled=boolean(v, "SampledRequestsEnabled"),
        cloudwatch_metrics_enabled=boolean(v, "CloudWatchMetricsEnabled"),
        metric_name=text(v, "MetricName"),
        span=span(v, join_path(path, "VisibilityConfig")),
    )


def _immunity(o: JObject, key: str) -> int | None:
    node = o.get(key)
    if node is None:
        return None
    prop = obj(node).get("ImmunityTimeProperty")  # optional in the API: {} keeps the default
    return None if prop is None else integer(obj(prop), "ImmunityTime")


def _rule(node: JValue, path: str, ctx: Context, *, fms: bool = False) -> ast.Rule:
    o = obj(node)
    stmt_key = "FirewallManagerStatement" if fms else "Statement"
    stmt_node = member(o, stmt_key)
    group = is_group_statement(stmt_node)
    has_action, has_override = o.get("Action") is not None, o.get("OverrideAction") is not None
    if group and has_action:
        ctx.error(
            "a rule whose statement references a rule group takes OverrideAction, not Action",
            join_path(path, "Action"),
            o.get("Action"),
        )
    elif group and not has_override:
        ctx.error(
            "a rule whose statement references a rule group needs OverrideAction (None or Count)", path, o
        )
    elif not group and has_override:
        ctx.error(
            "OverrideAction is only for rule-group statements; this rule needs Action",
            join_path(path, "OverrideAction"),
            o.get("OverrideAction"),
        )
    elif not group and not has_action:
        ctx.error("missing Action (Allow, Block, Count, Captcha or Challenge)", path, o)
    labels = []
    for i, lnode in enumerate(items(o, "RuleLabels")):
        lpath = join_path(join_path(join_path(path, "RuleLabels"), i), "Name")
        name_node = obj(lnode).get("Name")
        name = text(obj(lnode), "Name")
        if group:
            ctx.error("RuleLabels are not allowed on a rule that references a rule group", lpath, name_node)
        elif reason := check_label(name):
            ctx.error(f"invalid rule label: {reason}", lpath, name_node, value=name)
        labels.append(name)
    stmt = statement(stmt_node, join_path(path, stmt_key), ctx, top=True)
    act = None if group or not has_action else action(member(o, "Action"), join_path(path, "Action"), ctx)
    override = single(obj(member(o, "OverrideAction")))[0] if group and has_override else None
    return ast.Rule(
        name=text(o, "Name"),
        priority=integer(o, "Priority"),
        statement=stmt,
        action=act,
        override_action=override,
        rule_labels=tuple(labels),
        visibility_config=_visibility(o, path),
        captcha_immunity=_immunity(o, "CaptchaConfig"),
        challenge_immunity=_immunity(o, "ChallengeConfig"),
        span=span(o, path),
    )


def build_rules(o: JObject, key: str, path: str, ctx: Context, *, fms: bool = False) -> tuple[ast.Rule, ...]:
    """The rules of one list; names and priorities must be unique within it."""
    lpath = join_path(path, key)
    try:
        nodes = items(o, key)
    except Broken:
        ctx.broken.append(lpath)
        return ()
    rules = []
    for i, node in enumerate(nodes):
        try:
            rules.append(_rule(node, join_path(lpath, i), ctx, fms=fms))
        except Broken:
            ctx.broken.append(join_path(lpath, i))
    for what, values in (("Name", [r.name for r in rules]), ("Priority", [r.priority for r in rules])):
        for i in duplicates(values):
            rule = rules[i]
            assert rule.span is not None
            at = obj(nodes[int(rule.span.path.rsplit("[", 1)[1][:-1])]).get(what)
            ctx.error(
                f"duplicate rule {what.lower()} in {key}",
                join_path(rule.span.path, what),
                at,
                value=values[i],
                expected=f"{what.lower()}s unique within {key}",
            )
    return tuple(rules)


def _bodies(o: JObject, path: str) -> dict[str, ast.CustomResponseBody]:
    node = o.get("CustomResponseBodies")
    if node is None:
        return {}
    out = {}
    for m in obj(node).members:
        b = obj(m.value)
        out[m.key] = ast.CustomResponseBody(
            content_type=text(b, "ContentType"),
            content=text(b, "Content"),
            span=span(b, join_path(join_path(path, "CustomResponseBodies"), m.key)),
        )
    return out


def _identity(o: JObject, kind: str, ctx: Context, logical_id: str | None) -> tuple[str, str, str, str]:
    """(name, id, arn, account); documents from templates lack Id/ARN, so both are synthesized."""
    name = text(o, "Name")
    arn = opt_text(o, "ARN") or opt_text(o, "Arn")
    ident = opt_text(o, "Id") or logical_id or "local"
    account = _account_of(arn) or ctx.account
    if arn is None:
        arn = f"arn:aws:wafv2:{DEFAULT_REGION}:{account}:regional/{kind}/{name}/{ident}"
    return name, ident, arn, account


def build_web_acl(o: JObject, path: str, ctx: Context, *, logical_id: str | None = None) -> ast.WebACL | None:
    """The web ACL, or None when a malformed part stops the build (already reported)."""
    try:
        name, ident, arn, account = _identity(o, "webacl", ctx, logical_id)
        bodies = _bodies(o, path)
        ctx.body_keys = frozenset(bodies)
        ctx.in_rule_group = False
        default = action(member(o, "DefaultAction"), join_path(path, "DefaultAction"), ctx, default=True)
        rules = build_rules(o, "Rules", path, ctx)
        pre = build_rules(o, "PreProcessFirewallManagerRuleGroups", path, ctx, fms=True)
        post = build_rules(o, "PostProcessFirewallManagerRuleGroups", path, ctx, fms=True)
        limit = BODY_LIMITS["KB_8"]
        assoc = o.get("AssociationConfig")
        if assoc is not None:
            body = obj(obj(assoc).get("RequestBody") or JObject(()))
            alb = body.get("APPLICATION_LOAD_BALANCER")
            if alb is not None:
                limit = BODY_LIMITS.get(text(obj(alb), "DefaultSizeInspectionLimit"), limit)
        return ast.WebACL(
            name=name,
            id=ident,
            arn=arn,
            default_action=default,
            rules=rules,
            label_namespace=opt_text(o, "LabelNamespace") or f"awswaf:{account}:webacl:{name}:",
            account=account,
            description=opt_text(o, "Description"),
            visibility_config=_visibility(o, path),
            custom_response_bodies=bodies,
            captcha_immunity=_immunity(o, "CaptchaConfig") or DEFAULT_IMMUNITY,
            challenge_immunity=_immunity(o, "ChallengeConfig") or DEFAULT_IMMUNITY,
            token_domains=tuple(v.value for v in items(o, "TokenDomains") if isinstance(v, JString)),
            body_inspection_limit=limit,
            pre_process_rules=pre,
            post_process_rules=post,
            capacity=opt_integer(o, "Capacity"),
            span=span(o, path),
        )
    except Broken:
        ctx.broken.append(path)
        return None


def build_rule_group(
    o: JObject, path: str, ctx: Context, *, logical_id: str | None = None
) -> ast.RuleGroup | None:
    try:
        name, ident, arn, account = _identity(o, "rulegroup", ctx, logical_id)
        bodies = _bodies(o, path)
        ctx.body_keys = frozenset(bodies)
        ctx.in_rule_group = True
        rules = build_rules(o, "Rules", path, ctx)
        labels = {
            k: tuple(text(obj(v), "Name") for v in items(o, k)) for k in ("AvailableLabels", "ConsumedLabels")
        }
        return ast.RuleGroup(
            name=name,
            id=ident,
            arn=arn,
            capacity=opt_integer(o, "Capacity"),
            rules=rules,
            label_namespace=opt_text(o, "LabelNamespace") or f"awswaf:{account}:rulegroup:{name}:",
            custom_response_bodies=bodies,
            visibility_config=_visibility(o, path),
            description=opt_text(o, "Description"),
            available_labels=labels["AvailableLabels"],
            consumed_labels=labels["ConsumedLabels"],
            span=span(o, path),
        )
    except Broken:
        ctx.broken.append(path)
        return None


def build_ip_set(o: JObject, path: str, ctx: Context, *, logical_id: str | None = None) -> ast.IPSet | None:
    try:
        name, ident, arn, _ = _identity(o, "ipset", ctx, logical_id)
        version = text(o, "IPAddressVersion")
        addresses = []
        for i, node in enumerate(items(o, "Addresses")):
            if not isinstance(node, JString):
                raise Broken
            network, reason = check_cidr(node.value, version)
            if reason:
                ctx.error(
                    f"invalid IP set address: {reason}",
                    join_path(join_path(path, "Addresses"), i),
                    node,
                    value=node.value,
                    expected=f"an {version} CIDR with a prefix length 1..",
                )
            else:
                assert network is not None
                addresses.append(network)
        return ast.IPSet(
            name=name,
            id=ident,
            arn=arn,
            ip_address_version=version,
            addresses=tuple(addresses),
            description=opt_text(o, "Description"),
            span=span(o, path),
        )
    except Broken:
        ctx.broken.append(path)
        return None


def build_regex_pattern_set(
    o: JObject, path: str, ctx: Context, *, logical_id: str | None = None
) -> ast.RegexPatternSet | None:
    try:
        name, ident, arn, _ = _identity(o, "regexpatternset", ctx, logical_id)
        patterns = []
        for i, node in enumerate(items(o, "RegularExpressionList")):
            ipath = join_path(join_path(path, "RegularExpressionList"), i)
            at: JValue | None
            if isinstance(node, JString):  # CloudFormation lists plain strings
                pattern, at, rpath = node.value, node, ipath
            else:
                pattern, at, rpath = (
                    text(obj(node), "RegexString"),
                    obj(node).get("RegexString"),
                    ipath + ".RegexString",
                )
            if reason := check_regex_pattern(pattern):
                ctx.error(f"regular expression not accepted by AWS WAF: {reason}", rpath, at, value=pattern)
            patterns.append(pattern)
        return ast.RegexPatternSet(
            name=name,
            id=ident,
            arn=arn,
            patterns=tuple(patterns),
            description=opt_text(o, "Description"),
            span=span(o, path),
        )
    except Broken:
        ctx.broken.append(path)
        return None
