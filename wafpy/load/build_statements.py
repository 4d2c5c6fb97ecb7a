"""Statement builder: JSON Statement -> `ast` statement, with placement and statement rules.

Placement (https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statements.html):
RateBased / RuleGroupReference / ManagedRuleGroup only as the top-level statement of a rule, the two
group statements never inside a rule group, scope-downs nestable only, depth at most 20. Resources
are resolved here through the context's resolver.
"""

from __future__ import annotations

from collections.abc import Callable

from wafpy import model as ast
from wafpy.errors import ResourceError, RulesetErrors
from wafpy.load.build_parts import (
    Broken,
    Context,
    action,
    fail,
    field_to_match,
    forwarded_ip,
    integer,
    items,
    member,
    obj,
    opt_integer,
    opt_text,
    single,
    span,
    text,
    transformations,
)
from wafpy.load.jsontree import JNumber, JObject, JString, JValue, to_python
from wafpy.load.semantics import (
    GROUP_STATEMENTS,
    MAX_STATEMENT_DEPTH,
    MIN_LOGICAL_STATEMENTS,
    TOP_ONLY_STATEMENTS,
    check_regex_pattern,
    contains_word_problem,
    decode_search_string,
    header_name_problem,
)
from wafpy.load.validate import join_path

_FINGERPRINTS = (ast.JA3Fingerprint, ast.JA4Fingerprint)
_PRE_PARSE_FIELDS = (ast.SingleQueryArgument, ast.AllQueryArguments)


def statement(node: JValue, path: str, ctx: Context, *, depth: int = 1, top: bool = False) -> ast.Statement:
    o = obj(node)
    kind, value = single(o)
    inner = obj(value)
    spath = join_path(path, kind)
    if depth > MAX_STATEMENT_DEPTH:
        ctx.error(f"statements nested deeper than {MAX_STATEMENT_DEPTH} levels", spath, inner)
        fail()
    if kind in TOP_ONLY_STATEMENTS and not top:
        ctx.error(
            f"{kind} can only be the top-level statement of a rule, not nested or a scope-down", spath, inner
        )
        fail()
    if kind in GROUP_STATEMENTS and ctx.in_rule_group:
        ctx.error(f"{kind} is not allowed inside a rule group", spath, inner)
        fail()
    builder = _BUILDERS_BY_NAME.get(kind)
    if builder is None:
        fail()
    return builder(inner, spath, ctx, depth)


def _children(kind: str, inner: JObject, spath: str, ctx: Context, depth: int) -> tuple[ast.Statement, ...]:
    lpath = join_path(spath, "Statements")
    nodes = items(inner, "Statements")
    listed = inner.get("Statements")
    if listed is not None and len(nodes) < MIN_LOGICAL_STATEMENTS:
        ctx.error(
            f"{kind} needs at least {MIN_LOGICAL_STATEMENTS} statements, got {len(nodes)}",
            lpath,
            listed,
            expected=f"at least {MIN_LOGICAL_STATEMENTS} statements",
        )
    return tuple(statement(child, join_path(lpath, i), ctx, depth=depth + 1) for i, child in enumerate(nodes))


def _and(inner: JObject, spath: str, ctx: Context, depth: int) -> ast.And:
    children = _children("AndStatement", inner, spath, ctx, depth)
    return ast.And(statements=children, span=span(inner, spath))


def _or(inner: JObject, spath: str, ctx: Context, depth: int) -> ast.Or:
    children = _children("OrStatement", inner, spath, ctx, depth)
    return ast.Or(statements=children, span=span(inner, spath))


def _not(inner: JObject, spath: str, ctx: Context, depth: int) -> ast.Not:
    s = span(inner, spath)
    child = statement(member(inner, "Statement"), join_path(spath, "Statement"), ctx, depth=depth + 1)
    return ast.Not(statement=child, span=s)


def _geo_match(inner: JObject, spath: str, ctx: Context, depth: int) -> ast.GeoMatch:
    s = span(inner, spath)
    codes = tuple(v.value if isinstance(v, JString) else fail() for v in items(inner, "CountryCodes"))
    fwd = forwarded_ip(inner.get("ForwardedIPConfig"), join_path(spath, "ForwardedIPConfig"))
    return ast.GeoMatch(country_codes=codes, forwarded_ip_config=fwd, span=s)


def _asn_match(inner: JObject, spath: str, ctx: Context, depth: int) -> ast.AsnMatch:
    s = span(inner, spath)
    asns = tuple(
        v.value if isinstance(v, JNumber) and isinstance(v.value, int) else fail()
        for v in items(inner, "AsnList")
    )
    fwd = forwarded_ip(inner.get("ForwardedIPConfig"), join_path(spath, "ForwardedIPConfig"))
    return ast.AsnMatch(asn_list=asns, forwarded_ip_config=fwd, span=s)


def _label_match(inner: JObject, spath: str, ctx: Context, depth: int) -> ast.LabelMatch:
    s = span(inner, spath)
    return ast.LabelMatch(scope=text(inner, "Scope"), key=text(inner, "Key"), span=s)


def _inspected(
    kind: str, inner: JObject, spath: str, ctx: Context
) -> tuple[ast.FieldToMatch, ast.Transformations, ast.Transformations]:
    """FieldToMatch, TextTransformations and PreParseTextTransformations of a statement inspecting a field."""
    ftm_path = join_path(spath, "FieldToMatch")
    ftm = field_to_match(member(inner, "FieldToMatch"), ftm_path)
    tts = transformations(inner, "TextTransformations", spath, ctx)
    pre = transformations(inner, "PreParseTextTransformations", spath, ctx)
    if pre and not isinstance(ftm, _PRE_PARSE_FIELDS):
        ctx.error(
            "PreParseTextTransformations only apply to SingleQueryArgument and AllQueryArguments",
            join_path(spath, "PreParseTextTransformations"),
            inner.get("PreParseTextTransformations"),
        )
    if isinstance(ftm, ast.SingleHeader) and (reason := header_name_problem(ftm.name)):
        header = obj(obj(member(inner, "FieldToMatch")).get("SingleHeader"))
        name_path = join_path(join_path(ftm_path, "SingleHeader"), "Name")
        ctx.error(reason, name_path, header.get("Name"), value=text(header, "Name"))
    if kind in ("SqliMatchStatement", "XssMatchStatement") and isinstance(ftm, _FINGERPRINTS):
        ctx.error(
            f"{kind} cannot inspect {type(ftm).__name__} (a fingerprint is not request text)",
            ftm_path,
            inner.get("FieldToMatch"),
        )
    return ftm, tts, pre


def _byte_match(inner: JObject, spath: str, ctx: Context, depth: int) -> ast.ByteMatch:
    s = span(inner, spath)
    ftm, tts, pre = _inspected("ByteMatchStatement", inner, spath, ctx)
    constraint = text(inner, "PositionalConstraint")
    return ast.ByteMatch(
        search_string=_search_string(inner, spath, ctx, constraint),
        field_to_match=ftm,
        positional_constraint=constraint,
        text_transformations=tts,
        pre_parse_transformations=pre,
        span=s,
    )


def _regex_match(inner: JObject, spath: str, ctx: Context, depth: int) -> ast.RegexMatch:
    s = span(inner, spath)
    ftm, tts, pre = _inspected("RegexMatchStatement", inner, spath, ctx)
    pattern = text(inner, "RegexString")
    _regex(pattern, join_path(spath, "RegexString"), inner.get("RegexString"), ctx)
    return ast.RegexMatch(
        regex_string=pattern,
        field_to_match=ftm,
        text_transformations=tts,
        pre_parse_transformations=pre,
        span=s,
    )


def _regex_pattern_set(inner: JObject, spath: str, ctx: Context, depth: int) -> ast.RegexPatternSetReference:
    s = span(inner, spath)
    ftm, tts, pre = _inspected("RegexPatternSetReferenceStatement", inner, spath, ctx)
    arn = _arn(inner)
    pset = _resolve(ctx, "regex_pattern_set", arn, *_arn_at(inner, spath))
    assert pset is None or isinstance(pset, ast.RegexPatternSet)
    return ast.RegexPatternSetReference(
        arn=arn,
        field_to_match=ftm,
        text_transformations=tts,
        pre_parse_transformations=pre,
        pattern_set=pset,
        span=s,
    )


def _sqli_match(inner: JObject, spath: str, ctx: Context, depth: int) -> ast.SqliMatch:
    s = span(inner, spath)
    ftm, tts, pre = _inspected("SqliMatchStatement", inner, spath, ctx)
    return ast.SqliMatch(
        field_to_match=ftm,
        text_transformations=tts,
        sensitivity_level=opt_text(inner, "SensitivityLevel") or "LOW",
        pre_parse_transformations=pre,
        span=s,
    )


def _xss_match(inner: JObject, spath: str, ctx: Context, depth: int) -> ast.XssMatch:
    s = span(inner, spath)
    ftm, tts, pre = _inspected("XssMatchStatement", inner, spath, ctx)
    return ast.XssMatch(field_to_match=ftm, text_transformations=tts, pre_parse_transformations=pre, span=s)


def _size_constraint(inner: JObject, spath: str, ctx: Context, depth: int) -> ast.SizeConstraint:
    s = span(inner, spath)
    ftm, tts, pre = _inspected("SizeConstraintStatement", inner, spath, ctx)
    return ast.SizeConstraint(
        field_to_match=ftm,
        comparison_operator=text(inner, "ComparisonOperator"),
        size=integer(inner, "Size"),
        text_transformations=tts,
        pre_parse_transformations=pre,
        span=s,
    )


def _search_string(inner: JObject, spath: str, ctx: Context, constraint: str) -> bytes:
    node = inner.get("SearchStringBase64")
    key = "SearchStringBase64"
    if node is None:
        node, key = member(inner, "SearchString"), "SearchString"
    if not isinstance(node, JString):
        fail()
    b64 = key == "SearchStringBase64" or ctx.search_string == "base64"
    data, problem = decode_search_string(node.value, base64_encoded=b64)
    path = join_path(spath, key)
    if data is None:
        ctx.error(f"{key} {problem}", path, node, value=node.value)
        return b""
    if constraint == "CONTAINS_WORD" and (reason := contains_word_problem(data)):
        ctx.error(reason, path, node, value=data.decode("latin-1"))
    return data


def _arn(inner: JObject) -> str:
    return text(inner, "Arn") if inner.get("ARN") is None else text(inner, "ARN")


def _arn_at(inner: JObject, spath: str) -> tuple[str, JValue | None]:
    key = "Arn" if inner.get("ARN") is None else "ARN"
    return join_path(spath, key), inner.get(key)


def _regex(pattern: str, path: str, at: JValue | None, ctx: Context) -> None:
    reason = check_regex_pattern(pattern)
    if reason:
        ctx.error(f"regular expression not accepted by AWS WAF: {reason}", path, at, value=pattern)


def _resolve(ctx: Context, method: str, arn: str, path: str, at: JValue | None) -> object:
    """Look `arn` up through the resolver; an unresolved or invalid resource is an error here."""
    what = {"ip_set": "IP set", "regex_pattern_set": "regex pattern set", "rule_group": "rule group"}[method]
    try:
        return getattr(ctx.resolver, method)(arn)
    except RulesetErrors as exc:
        ctx.errors.extend(exc.errors)
        ctx.error(
            f"the {what} {arn} is invalid (see the errors of {exc.source or 'that document'})", path, at
        )
    except ResourceError as exc:
        ctx.error(
            f"unresolved {what} ARN {arn}: {exc}; supply it with resources= (a mapping ARN -> "
            f"get-* output or object, or a list of files) or `wafpy validate --resources FILE`",
            path,
            at,
            value=arn,
        )
    return None


def _ip_set_reference(inner: JObject, spath: str, ctx: Context, depth: int) -> ast.IPSetReference:
    s = span(inner, spath)
    arn = _arn(inner)
    fwd = None
    node = inner.get("IPSetForwardedIPConfig")
    if node is not None:
        f = obj(node)
        fwd = ast.IPSetForwardedIPConfig(
            header_name=text(f, "HeaderName"),
            fallback_behavior=text(f, "FallbackBehavior"),
            position=text(f, "Position"),
            span=span(f, join_path(spath, "IPSetForwardedIPConfig")),
        )
    ipset = _resolve(ctx, "ip_set", arn, *_arn_at(inner, spath))
    assert ipset is None or isinstance(ipset, ast.IPSet)
    return ast.IPSetReference(arn=arn, forwarded_ip_config=fwd, ip_set=ipset, span=s)


def _rate_based(inner: JObject, spath: str, ctx: Context, depth: int) -> ast.RateBased:
    agg = text(inner, "AggregateKeyType")
    scope = inner.get("ScopeDownStatement")
    scope_down = None
    if scope is not None:
        scope_down = statement(scope, join_path(spath, "ScopeDownStatement"), ctx, depth=depth + 1)
    fwd = forwarded_ip(inner.get("ForwardedIPConfig"), join_path(spath, "ForwardedIPConfig"))
    keys = tuple(
        _rate_key(k, join_path(join_path(spath, "CustomKeys"), i), ctx)
        for i, k in enumerate(items(inner, "CustomKeys"))
    )
    if agg == "CONSTANT" and scope_down is None:
        ctx.error("AggregateKeyType CONSTANT needs a ScopeDownStatement", spath, inner)
    if agg == "FORWARDED_IP" and fwd is None:
        ctx.error("AggregateKeyType FORWARDED_IP needs a ForwardedIPConfig", spath, inner)
    if agg == "CUSTOM_KEYS" and not keys:
        ctx.error("AggregateKeyType CUSTOM_KEYS needs CustomKeys", spath, inner)
    if agg != "CUSTOM_KEYS" and keys:
        ctx.error(
            f"CustomKeys are only used with AggregateKeyType CUSTOM_KEYS, not {agg}",
            join_path(spath, "CustomKeys"),
            inner.get("CustomKeys"),
        )
    kinds = [k.kind for k in keys]
    if "ForwardedIP" in kinds and fwd is None:
        ctx.error("a ForwardedIP custom key needs the statement's ForwardedIPConfig", spath, inner)
    for ip_kind in ("IP", "ForwardedIP"):
        if kinds == [ip_kind]:
            ctx.error(
                f"a {ip_kind} custom key must be combined with at least one other key",
                join_path(spath, "CustomKeys"),
                inner.get("CustomKeys"),
            )
    window = opt_integer(inner, "EvaluationWindowSec")
    if window is not None and window not in (60, 120, 300, 600):
        ctx.error(
            "invalid EvaluationWindowSec",
            join_path(spath, "EvaluationWindowSec"),
            inner.get("EvaluationWindowSec"),
            value=window,
            expected="one of 60, 120, 300, 600",
        )
    return ast.RateBased(
        limit=integer(inner, "Limit"),
        aggregate_key_type=agg,
        evaluation_window_sec=window or 300,
        scope_down=scope_down,
        forwarded_ip_config=fwd,
        custom_keys=keys,
        span=span(inner, spath),
    )


def _rate_key(node: JValue, path: str, ctx: Context) -> ast.RateKey:
    o = obj(node)
    kind, value = single(o)
    inner = obj(value)
    kpath = join_path(path, kind)
    namespace = opt_text(inner, "Namespace") if kind == "LabelNamespace" else None
    if namespace is not None and not namespace.endswith(":"):
        # A namespace key may be fully qualified (awswaf:clientip:geo:...), so reserved words are fine.
        ctx.error(
            "a LabelNamespace key must end with ':'",
            join_path(kpath, "Namespace"),
            inner.get("Namespace"),
            value=namespace,
        )
    return ast.RateKey(
        kind=kind,
        name=opt_text(inner, "Name"),
        namespace=namespace,
        text_transformations=transformations(inner, "TextTransformations", kpath, ctx),
        fallback_behavior=opt_text(inner, "FallbackBehavior"),
        span=span(inner, kpath),
    )


def _overrides(
    inner: JObject, spath: str, ctx: Context
) -> tuple[tuple[str, ...], tuple[ast.RuleActionOverride, ...]]:
    excluded = tuple(text(obj(e), "Name") for e in items(inner, "ExcludedRules"))
    overrides = []
    for i, node in enumerate(items(inner, "RuleActionOverrides")):
        o = obj(node)
        opath = join_path(join_path(spath, "RuleActionOverrides"), i)
        try:
            act = action(member(o, "ActionToUse"), join_path(opath, "ActionToUse"), ctx)
        except Broken:
            ctx.broken.append(opath)
            continue
        overrides.append(ast.RuleActionOverride(name=text(o, "Name"), action_to_use=act, span=span(o, opath)))
    return excluded, tuple(overrides)


def _rule_group_reference(inner: JObject, spath: str, ctx: Context, depth: int) -> ast.RuleGroupReference:
    arn = _arn(inner)
    excluded, overrides = _overrides(inner, spath, ctx)
    group = _resolve(ctx, "rule_group", arn, *_arn_at(inner, spath))
    assert group is None or isinstance(group, ast.RuleGroup)
    if group is not None:
        # Naming a rule the group does not have is an API error for customer rule groups:
        # https://docs.aws.amazon.com/waf/latest/APIReference/API_RuleGroupReferenceStatement.html
        names = {r.name for r in group.rules}
        for key, listed in (
            ("ExcludedRules", excluded),
            ("RuleActionOverrides", tuple(o.name for o in overrides)),
        ):
            for i, name in enumerate(listed):
                if name not in names:
                    at = obj(items(inner, key)[i])
                    ctx.error(
                        f"rule {name!r} is not in rule group {group.name}",
                        join_path(join_path(spath, key), i),
                        at.get("Name"),
                        value=name,
                        expected="one of " + ", ".join(sorted(names)),
                    )
    return ast.RuleGroupReference(
        arn=arn,
        excluded_rules=excluded,
        rule_action_overrides=overrides,
        rule_group=group,
        span=span(inner, spath),
    )


def _managed(inner: JObject, spath: str, ctx: Context, depth: int) -> ast.ManagedRuleGroup:
    vendor, name, version = text(inner, "VendorName"), text(inner, "Name"), opt_text(inner, "Version")
    scope = inner.get("ScopeDownStatement")
    scope_down = None
    if scope is not None:
        scope_down = statement(scope, join_path(spath, "ScopeDownStatement"), ctx, depth=depth + 1)
    excluded, overrides = _overrides(inner, spath, ctx)
    configs = tuple(to_python(c) for c in items(inner, "ManagedRuleGroupConfigs"))
    key = f"{vendor}/{name}" + (f"/{version}" if version else "")
    # The caller's resolver first, then the `managed=` choice (wafpy.load.managed).
    group = ctx.resolver.managed_rule_group(vendor, name, version)
    rules_from = "resolver" if group is not None else None
    if group is None and ctx.managed is not None:
        try:
            found = ctx.managed.lookup(vendor, name, version)
        except RulesetErrors as exc:
            ctx.errors.extend(exc.errors)
            ctx.error(
                f"managed rule group {key}: the rule groups supplied with managed= have errors "
                f"(see the errors of {exc.source or 'that document'})",
                spath,
                inner,
            )
            found = None
        if found is not None:
            group, rules_from = found
    if group is None:
        ctx.managed_missing.append((key, spath))
    return ast.ManagedRuleGroup(
        vendor_name=vendor,
        name=name,
        version=version,
        scope_down=scope_down,
        excluded_rules=excluded,
        rule_action_overrides=overrides,
        managed_rule_group_configs=configs,
        rule_group=group,
        rules_from=rules_from,
        span=span(inner, spath),
    )


# JSON statement -> model node, per statement class: (statement object, its path, context, depth).
STATEMENT_BUILDERS: dict[type[ast.StatementNode], Callable[[JObject, str, Context, int], ast.Statement]] = {
    ast.ByteMatch: _byte_match,
    ast.RegexMatch: _regex_match,
    ast.RegexPatternSetReference: _regex_pattern_set,
    ast.SqliMatch: _sqli_match,
    ast.XssMatch: _xss_match,
    ast.SizeConstraint: _size_constraint,
    ast.GeoMatch: _geo_match,
    ast.IPSetReference: _ip_set_reference,
    ast.LabelMatch: _label_match,
    ast.AsnMatch: _asn_match,
    ast.And: _and,
    ast.Or: _or,
    ast.Not: _not,
    ast.RateBased: _rate_based,
    ast.RuleGroupReference: _rule_group_reference,
    ast.ManagedRuleGroup: _managed,
}
_BUILDERS_BY_NAME = {ast.STATEMENT_NAMES[cls]: build for cls, build in STATEMENT_BUILDERS.items()}


def is_group_statement(node: JValue) -> bool:
    return isinstance(node, JObject) and len(node.members) == 1 and node.members[0].key in GROUP_STATEMENTS
