"""Statements on the client address: IPSetReference, GeoMatch, AsnMatch, and the forwarded-IP rules
they share (https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-forwarded-ip-address.html)."""

from __future__ import annotations

from wafpy import model as ast
from wafpy.decision import MatchDetail
from wafpy.engine.context import EvalContext, Matcher, NotApplied
from wafpy.engine.statements.base import CompileContext
from wafpy.matching.iptools import CidrSet, parse_ip

# How many addresses of a forwarded header `ANY` inspects: the last ten
# (https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-ipset-match.html).
ANY_POSITION_LIMIT = 10


def forwarded_items(ctx: EvalContext, header: bytes) -> list[str]:
    """The comma-separated items of a forwarded-IP header; NotApplied when the header is absent."""
    values = ctx.request.header_values(header)
    if not values:
        raise NotApplied
    return [item.strip().decode("latin-1") for item in values[0].split(b",")]


def first_forwarded_ip(ctx: EvalContext, header: bytes) -> str | None:
    """The first forwarded address when it is a valid literal, else None (caller applies the fallback)."""
    first = forwarded_items(ctx, header)[0]
    return first if parse_ip(first) is not None else None


def client_address(ctx: EvalContext) -> tuple[int, int] | None:
    memo = ctx.memo
    parsed = memo.get("client_ip")
    if parsed is None:
        parsed = memo["client_ip"] = parse_ip(ctx.request.client_ip) or (0, -1)
    return None if parsed[1] < 0 else parsed


def ip_set(s: ast.IPSetReference, cc: CompileContext) -> Matcher:
    if s.ip_set is None:
        raise ValueError(f"IP set {s.arn} was not resolved")
    version = 6 if s.ip_set.ip_address_version == "IPV6" else 4
    cidrs = CidrSet(s.ip_set.addresses, version)
    path = cc.path
    name = "IPSetReferenceStatement"

    def hit(ctx: EvalContext, address: tuple[int, int], text: str, location: str) -> bool:
        if address[0] == version and address[1] in cidrs:
            ctx.details.append(
                MatchDetail(name, path, location, None, text.encode(), cidrs.containing_cidr(address[1]))
            )
            return True
        return False

    config = s.forwarded_ip_config
    if config is None:

        def match(ctx: EvalContext) -> bool:
            address = client_address(ctx)
            return address is not None and hit(ctx, address, ctx.request.client_ip, "CLIENT_IP")

        return match

    header = config.header_name.lower().encode("latin-1")
    fallback = config.fallback_behavior == "MATCH"
    position = config.position

    def match_forwarded(ctx: EvalContext) -> bool:
        items = forwarded_items(ctx, header)
        if position == "FIRST":
            items = items[:1]
        elif position == "LAST":
            items = items[-1:]
        else:
            items = items[-ANY_POSITION_LIMIT:]
        malformed = False
        for item in items:
            address = parse_ip(item)
            if address is None:
                malformed = True
            elif hit(ctx, address, item, "FORWARDED_IP"):
                return True
        if malformed:
            if fallback:
                ctx.details.append(
                    MatchDetail(name, path, "FORWARDED_IP", matched="malformed address: fallback MATCH")
                )
            return fallback
        return False

    return match_forwarded


def _country_of(ctx: EvalContext, ip: str, origin: bool) -> tuple[str, str | None]:
    """(country, region) with "XX" for unknown; the request's own country wins for the origin IP."""
    request = ctx.request
    resolver = ctx.services.geo
    found = resolver(ip) if resolver is not None else None
    if origin and request.country:
        region = found[1] if found is not None and found[0] == request.country else None
        return request.country, region
    if found is None:
        return "XX", None
    return found


def geo_match(s: ast.GeoMatch, cc: CompileContext) -> Matcher:
    codes = frozenset(s.country_codes)
    path = cc.path
    config = s.forwarded_ip_config
    cc.flags.has_geo = True
    header = config.header_name.lower().encode("latin-1") if config is not None else b""
    fallback = config is not None and config.fallback_behavior == "MATCH"
    kind = "clientip" if config is None else "forwardedip"
    # The two label strings per (country, region), built once: 250 countries at most, plus regions.
    label_cache: dict[tuple[str, str | None], tuple[str, str]] = {}

    def match(ctx: EvalContext) -> bool:
        if config is None:
            ip = ctx.request.client_ip
        else:
            forwarded = first_forwarded_ip(ctx, header)
            if forwarded is None:
                return fallback
            ip = forwarded
        country, region = _country_of(ctx, ip, config is None)
        # Geo labels are added whether or not the statement matches, after the rule
        # (https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-geo-match.html).
        labels = label_cache.get((country, region))
        if labels is None:
            labels = label_cache[(country, region)] = (
                f"awswaf:{kind}:geo:country:{country}",
                f"awswaf:{kind}:geo:region:{country}-{region or 'XX'}",
            )
        ctx.pending_labels.extend(labels)
        if country in codes:
            ctx.details.append(
                MatchDetail("GeoMatchStatement", path, "CLIENT_IP", None, ip.encode(), country)
            )
            return True
        return False

    return match


def asn_match(s: ast.AsnMatch, cc: CompileContext) -> Matcher:
    asns = frozenset(s.asn_list)
    path = cc.path
    config = s.forwarded_ip_config
    header = config.header_name.lower().encode("latin-1") if config is not None else b""
    fallback = config is not None and config.fallback_behavior == "MATCH"

    def match(ctx: EvalContext) -> bool:
        if config is None:
            ip = ctx.request.client_ip
            asn = ctx.request.asn
        else:
            forwarded = first_forwarded_ip(ctx, header)
            if forwarded is None:
                return fallback
            ip, asn = forwarded, None
        if asn is None:
            resolver = ctx.services.asn
            # An address whose ASN cannot be determined has ASN 0
            # (https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-asn-match.html).
            asn = (resolver(ip) if resolver is not None else None) or 0
        if asn in asns:
            ctx.details.append(
                MatchDetail("AsnMatchStatement", path, "CLIENT_IP", None, ip.encode(), f"AS{asn}")
            )
            return True
        return False

    return match
