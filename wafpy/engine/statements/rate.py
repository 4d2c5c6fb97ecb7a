"""RateBasedStatement: aggregation keys, scope-down, counting and limiting.

https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based.html

A request is counted only when it reaches the rule, matches the scope-down and has every key
component; the rule matches while its key's count in the window exceeds the limit. Counting goes
through the `RateCounter` service so a shared store can replace the in-memory one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wafpy import model as ast
from wafpy.decision import MatchDetail
from wafpy.engine.context import EvalContext, Matcher
from wafpy.engine.statements.base import CompileContext
from wafpy.engine.statements.network import forwarded_items
from wafpy.matching.fields import extractor
from wafpy.matching.iptools import parse_ip

# A key part: (log key token, name, value getter). The getter returns None when the request
# lacks the component, and then the request is neither counted nor limited.
KeyPart = tuple[str, str | None, Callable[[EvalContext], str | None]]

# JA3/JA4 absent with FallbackBehavior MATCH: one shared key
# (https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-aggregation-options.html).
MISSING_FINGERPRINT = "MISSING"
INVALID_FORWARDED = "INVALID"


def _field_key(
    field: ast.FieldToMatch, transformations: ast.Transformations, cc: CompileContext
) -> Callable[[EvalContext], str | None]:
    ex = extractor(field, (), cc.body_limit)
    types = tuple(t.type for t in transformations if t.type != "NONE")
    extract_key = cc.flags.intern(ex.key)
    plan = cc.flags.plan(ex.key, types)

    def get(ctx: EvalContext) -> str | None:
        forced, elements, _, _ = ctx.values(ex, extract_key, plan)
        if forced is not None or not elements or (not elements[0] and isinstance(field, ast.QueryString)):
            return None  # several values: the first occurrence counts (wafpy's choice)
        return elements[0].decode("latin-1")

    return get


def _forwarded_key(header: bytes, fallback_match: bool) -> Callable[[EvalContext], str | None]:
    def get(ctx: EvalContext) -> str | None:
        first = forwarded_items(ctx, header)[0]  # NotApplied when absent: not counted
        if parse_ip(first) is not None:
            return first
        return INVALID_FORWARDED if fallback_match else None

    return get


def _label_namespace_key(namespace: str) -> Callable[[EvalContext], str | None]:
    def get(ctx: EvalContext) -> str | None:
        found = sorted(label for label in ctx.labels if label.startswith(namespace))
        return ",".join(found) if found else None

    return get


def _fingerprint_key(attribute: str, fallback: str | None) -> Callable[[EvalContext], str | None]:
    def get(ctx: EvalContext) -> str | None:
        value: str | None = getattr(ctx.request, attribute)
        if value:
            return value
        return MISSING_FINGERPRINT if fallback == "MATCH" else None

    return get


def _asn_key(ctx: EvalContext) -> str | None:
    asn = ctx.request.asn
    if asn is None and ctx.services.asn is not None:
        asn = ctx.services.asn(ctx.request.client_ip)
    return str(asn or 0)


def _custom_key(key: ast.RateKey, s: ast.RateBased, cc: CompileContext) -> KeyPart:
    kind = key.kind
    tt = key.text_transformations
    if kind == "Header":
        assert key.name is not None
        return "HEADER", key.name, _field_key(ast.SingleHeader(key.name.lower()), tt, cc)
    if kind == "Cookie":
        assert key.name is not None
        pattern = ast.NameMatchPattern(included=(key.name,))
        return "COOKIE", key.name, _field_key(ast.Cookies(pattern, "VALUE", "CONTINUE"), tt, cc)
    if kind == "QueryArgument":
        assert key.name is not None
        return "QUERY_ARG", key.name, _field_key(ast.SingleQueryArgument(key.name.lower()), tt, cc)
    if kind == "QueryString":
        return "QUERY_STRING", None, _field_key(ast.QueryString(), tt, cc)
    if kind == "UriPath":
        return "URI_PATH", None, _field_key(ast.UriPath(), tt, cc)
    if kind == "HTTPMethod":
        return "HTTP_METHOD", None, lambda ctx: ctx.request.method.decode("latin-1")
    if kind == "IP":
        return "IP", None, lambda ctx: ctx.request.client_ip
    if kind == "ForwardedIP":
        config = s.forwarded_ip_config
        assert config is not None
        header = config.header_name.lower().encode("latin-1")
        return "FORWARDED_IP", None, _forwarded_key(header, config.fallback_behavior == "MATCH")
    if kind == "LabelNamespace":
        assert key.namespace is not None
        return "LABEL_NAMESPACE", key.namespace, _label_namespace_key(key.namespace)
    if kind == "JA3Fingerprint":
        return "JA3", None, _fingerprint_key("ja3", key.fallback_behavior)
    if kind == "JA4Fingerprint":
        return "JA4", None, _fingerprint_key("ja4", key.fallback_behavior)
    if kind == "ASN":
        return "ASN", None, _asn_key
    raise ValueError(f"unknown rate-based custom key {kind}")


def _key_parts(s: ast.RateBased, cc: CompileContext) -> list[KeyPart]:
    if s.aggregate_key_type == "IP":
        return [("IP", None, lambda ctx: ctx.request.client_ip)]
    if s.aggregate_key_type == "FORWARDED_IP":
        config = s.forwarded_ip_config
        assert config is not None
        header = config.header_name.lower().encode("latin-1")
        return [("FORWARDED_IP", None, _forwarded_key(header, config.fallback_behavior == "MATCH"))]
    if s.aggregate_key_type == "CONSTANT":
        return [("CONSTANT", None, lambda ctx: "")]
    return [_custom_key(k, s, cc) for k in s.custom_keys]


def rate_based(s: ast.RateBased, cc: CompileContext) -> Matcher:
    scope_down = cc.child(s.scope_down, "ScopeDownStatement") if s.scope_down else None
    parts = _key_parts(s, cc)
    limit = s.limit
    window = s.evaluation_window_sec
    # Changing any rate setting resets the counts, so the settings are part of the id:
    # https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-caveats.html
    rule_uid = f"{cc.rule_uid}|{limit}|{window}|{s.aggregate_key_type}|{len(parts)}"
    path = cc.path
    limit_key = "CUSTOMKEYS" if s.aggregate_key_type == "CUSTOM_KEYS" else s.aggregate_key_type

    def match(ctx: EvalContext) -> bool:
        if scope_down is not None:
            mark = len(ctx.details)
            matched = scope_down(ctx)
            del ctx.details[mark:]
            if not matched:
                return False
        values: list[str] = []
        for _, _, get in parts:
            value = get(ctx)
            if value is None:
                return False
            values.append(value)
        key = tuple(values)
        count = ctx.services.rate_counter.hit(rule_uid, key, ctx.now_ms, window)
        if count <= limit:
            return False
        entry: dict[str, Any] = {
            "limitKey": limit_key,
            "maxRateAllowed": limit,
            "evaluationWindowSec": str(window),
        }
        if limit_key == "CUSTOMKEYS":
            entry["customValues"] = [
                {"key": token, "name": name, "value": value} if name else {"key": token, "value": value}
                for (token, name, _), value in zip(parts, values, strict=True)
            ]
        elif limit_key != "CONSTANT":
            entry["limitValue"] = values[0]
        ctx.memo["rate_entry"] = entry
        ctx.details.append(
            MatchDetail("RateBasedStatement", path, matched=f"{count} requests > limit {limit}")
        )
        return True

    return match
