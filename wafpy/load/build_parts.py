"""Shared pieces of the builder: the build context, defensive accessors, transformations,
FieldToMatch and actions. See `wafpy.load.build` for the document level.

The builder runs even when shape validation found problems (so semantic problems in the other
rules are reported in the same pass); accessors raise `Broken` on a malformed part and the caller
skips that rule. Shape validation has already reported why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NoReturn

from wafpy import model as ast
from wafpy.errors import ErrorList, RulesetError
from wafpy.load.jsontree import JArray, JBool, JNumber, JObject, JString, JValue
from wafpy.load.managed import ManagedRules
from wafpy.load.resources import ResourceResolver
from wafpy.load.semantics import SUPPORTED_RESPONSE_CODES, check_header_names
from wafpy.load.validate import join_path

SearchMode = Literal["base64", "text"]


class Broken(Exception):
    """A part of the document does not have the shape the builder needs (already reported)."""


@dataclass
class Context(ErrorList):
    source: str | None
    search_string: SearchMode
    account: str
    resolver: ResourceResolver
    errors: list[RulesetError] = field(default_factory=list)
    in_rule_group: bool = False
    body_keys: frozenset[str] = frozenset()
    # where managed groups the resolver does not supply come from (the `managed=` choice)
    managed: ManagedRules | None = None
    # (vendor/name[/version], path) of managed rule groups neither the resolver nor `managed` supplied
    managed_missing: list[tuple[str, str]] = field(default_factory=list)
    # paths of parts skipped because their JSON was malformed; expected only when validation failed
    broken: list[str] = field(default_factory=list)


def fail() -> NoReturn:
    raise Broken


def span(node: JValue, path: str) -> ast.Span:
    return ast.Span(node.line, node.column, path)


def obj(node: JValue | None) -> JObject:
    return node if isinstance(node, JObject) else fail()


def member(o: JObject, key: str) -> JValue:
    value = o.get(key)
    return value if value is not None else fail()


def text(o: JObject, key: str) -> str:
    value = o.get(key)
    return value.value if isinstance(value, JString) else fail()


def opt_text(o: JObject, key: str) -> str | None:
    value = o.get(key)
    if value is None:
        return None
    return value.value if isinstance(value, JString) else fail()


def integer(o: JObject, key: str) -> int:
    value = o.get(key)
    if isinstance(value, JNumber) and isinstance(value.value, int):
        return value.value
    fail()


def opt_integer(o: JObject, key: str) -> int | None:
    return None if o.get(key) is None else integer(o, key)


def boolean(o: JObject, key: str) -> bool:
    value = o.get(key)
    return value.value if isinstance(value, JBool) else fail()


def items(o: JObject, key: str) -> tuple[JValue, ...]:
    value = o.get(key)
    if value is None:
        return ()
    return value.items if isinstance(value, JArray) else fail()


def single(o: JObject) -> tuple[str, JValue]:
    """The one member of a union structure."""
    if len(o.members) != 1:
        fail()
    return o.members[0].key, o.members[0].value


# --------------------------------------------------------------------------------------------


def transformations(o: JObject, key: str, path: str, ctx: Context) -> ast.Transformations:
    """TextTransformations sorted by priority; priorities must be unique within the list."""
    out = []
    seen: set[int] = set()
    for i, node in enumerate(items(o, key)):
        t = obj(node)
        ipath = join_path(join_path(path, key), i)
        priority = integer(t, "Priority")
        if priority in seen:
            ctx.error(
                "duplicate transformation priority",
                join_path(ipath, "Priority"),
                member(t, "Priority"),
                value=priority,
                expected="priorities unique within the list",
            )
        seen.add(priority)
        out.append(ast.TextTransformation(priority=priority, type=text(t, "Type"), span=span(t, ipath)))
    return tuple(sorted(out, key=lambda t: t.priority))


def field_to_match(node: JValue, path: str) -> ast.FieldToMatch:
    o = obj(node)
    kind, value = single(o)
    inner = obj(value)
    s = span(inner, join_path(path, kind))
    match kind:
        case "UriPath":
            return ast.UriPath(span=s)
        case "QueryString":
            return ast.QueryString(span=s)
        case "Method":
            return ast.Method(span=s)
        case "AllQueryArguments":
            return ast.AllQueryArguments(span=s)
        case "SingleHeader":
            return ast.SingleHeader(name=text(inner, "Name").lower(), span=s)
        case "SingleQueryArgument":
            return ast.SingleQueryArgument(name=text(inner, "Name").lower(), span=s)
        case "Body":
            return ast.Body(oversize_handling=opt_text(inner, "OversizeHandling") or "CONTINUE", span=s)
        case "Headers" | "Cookies":
            pattern = obj(member(inner, "MatchPattern"))
            names = "Headers" if kind == "Headers" else "Cookies"
            nmp = ast.NameMatchPattern(
                all=pattern.get("All") is not None,
                included=tuple(_strings(pattern, f"Included{names}")),
                excluded=tuple(_strings(pattern, f"Excluded{names}")),
                span=span(pattern, join_path(s.path, "MatchPattern")),
            )
            cls = ast.Headers if kind == "Headers" else ast.Cookies
            return cls(
                match_pattern=nmp,
                match_scope=text(inner, "MatchScope"),
                oversize_handling=text(inner, "OversizeHandling"),
                span=s,
            )
        case "JsonBody":
            pattern = obj(member(inner, "MatchPattern"))
            jmp = ast.JsonMatchPattern(
                all=pattern.get("All") is not None,
                included_paths=tuple(_strings(pattern, "IncludedPaths")),
                span=span(pattern, join_path(s.path, "MatchPattern")),
            )
            return ast.JsonBody(
                match_pattern=jmp,
                match_scope=text(inner, "MatchScope"),
                invalid_fallback_behavior=opt_text(inner, "InvalidFallbackBehavior"),
                oversize_handling=opt_text(inner, "OversizeHandling") or "CONTINUE",
                span=s,
            )
        case "HeaderOrder":
            return ast.HeaderOrder(oversize_handling=text(inner, "OversizeHandling"), span=s)
        case "JA3Fingerprint":
            return ast.JA3Fingerprint(fallback_behavior=text(inner, "FallbackBehavior"), span=s)
        case "JA4Fingerprint":
            return ast.JA4Fingerprint(fallback_behavior=text(inner, "FallbackBehavior"), span=s)
        case "UriFragment":
            return ast.UriFragment(
                fallback_behavior=opt_text(inner, "FallbackBehavior") or "NO_MATCH", span=s
            )
    fail()


def _strings(o: JObject, key: str) -> list[str]:
    return [v.value if isinstance(v, JString) else fail() for v in items(o, key)]


def headers(o: JObject, key: str, path: str, ctx: Context, *, response: bool) -> tuple[ast.CustomHeader, ...]:
    out = []
    nodes = items(o, key)
    for i, node in enumerate(nodes):
        h = obj(node)
        out.append(
            ast.CustomHeader(
                name=text(h, "Name"), value=text(h, "Value"), span=span(h, join_path(join_path(path, key), i))
            )
        )
    for i, reason in check_header_names([h.name for h in out], response=response):
        hpath = join_path(join_path(join_path(path, key), i), "Name")
        ctx.error(reason, hpath, obj(nodes[i]).get("Name"), value=out[i].name)
    return tuple(out)


def action(node: JValue, path: str, ctx: Context, *, default: bool = False) -> ast.Action:
    """A RuleAction or DefaultAction. Block may carry a custom response, the others inserted headers."""
    o = obj(node)
    kind, value = single(o)
    inner = obj(value)
    apath = join_path(path, kind)
    if kind == "Monetize":
        ctx.error(
            "Monetize is a CloudFront-only action; an Application Load Balancer web ACL cannot use it",
            apath,
            inner,
        )
        fail()
    if default and kind not in ("Allow", "Block"):
        ctx.error("a default action is Allow or Block", apath, inner, value=kind)
        fail()
    if kind == "Block":
        response = None
        cr = inner.get("CustomResponse")
        if cr is not None:
            response = _custom_response(obj(cr), join_path(apath, "CustomResponse"), ctx)
        return ast.Action(kind=kind, custom_response=response, span=span(o, path))
    inserted: tuple[ast.CustomHeader, ...] = ()
    handling = inner.get("CustomRequestHandling")
    if handling is not None:
        inserted = headers(
            obj(handling), "InsertHeaders", join_path(apath, "CustomRequestHandling"), ctx, response=False
        )
    return ast.Action(kind=kind, insert_headers=inserted, span=span(o, path))


def _custom_response(cr: JObject, path: str, ctx: Context) -> ast.CustomResponse:
    code = integer(cr, "ResponseCode")
    if code not in SUPPORTED_RESPONSE_CODES:
        ctx.error(
            "unsupported custom response code",
            join_path(path, "ResponseCode"),
            cr.get("ResponseCode"),
            value=code,
            expected="one of " + ", ".join(map(str, sorted(SUPPORTED_RESPONSE_CODES))),
        )
    key = opt_text(cr, "CustomResponseBodyKey")
    if key is not None and key not in ctx.body_keys:
        where = "rule group" if ctx.in_rule_group else "web ACL"
        known = ", ".join(sorted(ctx.body_keys)) or "none defined"
        ctx.error(
            f"CustomResponseBodyKey {key!r} is not defined in the {where}'s CustomResponseBodies",
            join_path(path, "CustomResponseBodyKey"),
            cr.get("CustomResponseBodyKey"),
            value=key,
            expected=f"a key of CustomResponseBodies ({known})",
        )
    return ast.CustomResponse(
        response_code=code,
        custom_response_body_key=key,
        response_headers=headers(cr, "ResponseHeaders", path, ctx, response=True),
        span=span(cr, path),
    )


def forwarded_ip(node: JValue | None, path: str) -> ast.ForwardedIPConfig | None:
    if node is None:
        return None
    o = obj(node)
    return ast.ForwardedIPConfig(
        header_name=text(o, "HeaderName"), fallback_behavior=text(o, "FallbackBehavior"), span=span(o, path)
    )
