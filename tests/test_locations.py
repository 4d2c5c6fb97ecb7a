"""Rules reading the country or ASN: which they are, and who warns when nothing answers them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.builders import byte_match, rule, visibility, web_acl
from tests.test_asgi_support import EchoApp, write_mmdb
from wafpy import WAFMiddleware, load_web_acl
from wafpy.cli.main import main
from wafpy.load.locations import LocationSources, LocationUse, describe, location_uses, unanswered
from wafpy.middleware import ClientConfig

Json = dict[str, Any]
FORWARDED = {"HeaderName": "X-Forwarded-For", "FallbackBehavior": "NO_MATCH"}
GEO: Json = {"GeoMatchStatement": {"CountryCodes": ["FR"]}}
GEO_FORWARDED: Json = {"GeoMatchStatement": {"CountryCodes": ["FR"], "ForwardedIPConfig": FORWARDED}}
ASN: Json = {"AsnMatchStatement": {"AsnList": [64496]}}
ASN_FORWARDED: Json = {"AsnMatchStatement": {"AsnList": [64496], "ForwardedIPConfig": FORWARDED}}
URI = byte_match({"UriPath": {}}, "/x")
RATE_ASN: Json = {
    "RateBasedStatement": {"Limit": 100, "AggregateKeyType": "CUSTOM_KEYS", "CustomKeys": [{"ASN": {}}]}
}
RATE_GEO_SCOPE: Json = {
    "RateBasedStatement": {"Limit": 100, "AggregateKeyType": "IP", "ScopeDownStatement": GEO}
}
GROUP_ARN = "arn:aws:wafv2:us-east-1:111122223333:regional/rulegroup/geo/1"


def group_rule() -> Json:
    return {
        "Name": "use-geo-group",
        "Priority": 0,
        "OverrideAction": {"None": {}},
        "VisibilityConfig": visibility("g"),
        "Statement": {"RuleGroupReferenceStatement": {"ARN": GROUP_ARN}},
    }


GEO_GROUP = {
    GROUP_ARN: {
        "Name": "geo",
        "Id": "1",
        "ARN": GROUP_ARN,
        "Capacity": 10,
        "VisibilityConfig": visibility("geo"),
        "Rules": [rule("inner-geo", 0, GEO)],
    }
}

# id -> (rule statement, the uses expected: (rule, attribute, forwarded, path suffix))
USES: dict[str, tuple[Json, list[tuple[str, str, bool, str]]]] = {
    "no location": (URI, []),
    "geo": (GEO, [("r", "country", False, "Statement.GeoMatchStatement")]),
    "geo of a forwarded ip": (GEO_FORWARDED, [("r", "country", True, "Statement.GeoMatchStatement")]),
    "asn": (ASN, [("r", "asn", False, "Statement.AsnMatchStatement")]),
    "asn of a forwarded ip": (ASN_FORWARDED, [("r", "asn", True, "Statement.AsnMatchStatement")]),
    "rate key asn": (RATE_ASN, [("r", "asn", False, "Statement.RateBasedStatement")]),
    "geo in a scope-down": (
        RATE_GEO_SCOPE,
        [("r", "country", False, "RateBasedStatement.ScopeDownStatement.GeoMatchStatement")],
    ),
    "geo under not and and": (
        {"NotStatement": {"Statement": {"AndStatement": {"Statements": [URI, GEO]}}}},
        [("r", "country", False, "AndStatement.Statements[1].GeoMatchStatement")],
    ),
    "geo and asn under or": (
        {"OrStatement": {"Statements": [ASN, GEO_FORWARDED]}},
        [
            ("r", "asn", False, "OrStatement.Statements[0].AsnMatchStatement"),
            ("r", "country", True, "OrStatement.Statements[1].GeoMatchStatement"),
        ],
    ),
    "geo inside a rule group": (
        {"RuleGroupReferenceStatement": {"ARN": GROUP_ARN}},
        [("use-geo-group > inner-geo", "country", False, ">geo.Rules[0].Statement.GeoMatchStatement")],
    ),
}


def acl_with(statement: Json) -> Json:
    if "RuleGroupReferenceStatement" in statement:
        return web_acl([group_rule()])
    return web_acl([rule("r", 0, statement)])


@pytest.mark.parametrize("case", list(USES))
def test_location_uses(case: str) -> None:
    statement, expected = USES[case]
    acl = load_web_acl(acl_with(statement), resources=GEO_GROUP)
    uses = location_uses(acl.model)
    assert [(u.rule, u.attribute, u.forwarded) for u in uses] == [e[:3] for e in expected]
    for use, (*_, suffix) in zip(uses, expected, strict=True):
        assert use.path.endswith(suffix), use.path


C, CF, A, AF = (
    LocationUse("c", "p", "country"),
    LocationUse("cf", "p", "country", True),
    LocationUse("a", "p", "asn"),
    LocationUse("af", "p", "asn", True),
)

# sources -> the rules among c (country), cf (country of a forwarded IP), a (ASN), af left unanswered
SOURCES: list[tuple[LocationSources, str]] = [
    (LocationSources(), "c cf a af"),
    (LocationSources(country=True), "cf a af"),
    (LocationSources(country=True, any_ip_country=True), "a af"),
    (LocationSources(asn=True), "c cf af"),
    (LocationSources(asn=True, any_ip_asn=True), "c cf"),
    (LocationSources(True, True, True, True), ""),
]


@pytest.mark.parametrize(("sources", "left"), SOURCES)
def test_unanswered(sources: LocationSources, left: str) -> None:
    assert " ".join(u.rule for u in unanswered((C, CF, A, AF), sources)) == left


def test_describe_names_each_rule_once_by_what_it_reads() -> None:
    assert describe((C, A, CF, C)) == "country: rule c; ASN: rule a; country of a forwarded IP: rule cf"
    assert describe((C, LocationUse("d", "q", "country"))) == "country: rules c, d"


# ----------------------------------------------------------------------------------------------
# The middleware warns once, naming the rules


@pytest.fixture
def databases(tmp_path: Path) -> dict[str, str]:
    geo, asn = tmp_path / "geo.mmdb", tmp_path / "asn.mmdb"
    write_mmdb(geo, {"203.0.113.0/24": {"country": {"iso_code": "FR"}}}, "GeoLite2-Country")
    write_mmdb(asn, {"203.0.113.0/24": {"autonomous_system_number": 64496}}, "GeoLite2-ASN")
    return {"geo": str(geo), "asn": str(asn)}


# (rule statement, ClientConfig keywords ("geo"/"asn" name the test databases), rules warned about)
MIDDLEWARE: dict[str, tuple[Json, Json, str | None]] = {
    "geo, nothing configured": (GEO, {}, "country: rule r"),
    "geo, country header": (GEO, {"country_header": "cloudfront-viewer-country"}, None),
    "geo, country database": (GEO, {"geoip_db": "geo"}, None),
    "forwarded geo, country header": (
        GEO_FORWARDED,
        {"country_header": "cloudfront-viewer-country"},
        "country of a forwarded IP: rule r",
    ),
    "forwarded geo, country database": (GEO_FORWARDED, {"geoip_db": "geo"}, None),
    "asn, country database": (ASN, {"geoip_db": "geo"}, "ASN: rule r"),
    "asn, asn header": (ASN, {"asn_header": "x-asn"}, None),
    "asn, asn database": (ASN, {"asn_db": "asn"}, None),
    "rate key asn, nothing": (RATE_ASN, {}, "ASN: rule r"),
    "no location": (URI, {}, None),
}


@pytest.mark.parametrize("case", list(MIDDLEWARE))
def test_middleware_warns_about_rules_it_cannot_locate(
    case: str, databases: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    statement, options, warned = MIDDLEWARE[case]
    keywords: dict[str, Any] = {k: databases.get(v, v) for k, v in options.items()}
    client = ClientConfig(**keywords)
    mw = WAFMiddleware(EchoApp(), acl_with(statement), client=client)
    if warned is None:
        assert mw.warnings == ()
        assert "location" not in caplog.text
    else:
        (warning,) = mw.warnings
        assert f"({warned})" in warning
        assert warning in caplog.text


def test_middleware_warns_again_only_for_rules_a_reload_brings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "acl.json"
    path.write_text(json.dumps(web_acl([rule("r", 0, URI)])))
    mw = WAFMiddleware(EchoApp(), str(path))
    assert not mw.warnings
    path.write_text(json.dumps(web_acl([rule("geo", 0, GEO)])))
    assert mw.reload()
    assert caplog.text.count("country: rule geo") == 1
    caplog.clear()
    path.write_text(json.dumps(web_acl([rule("geo", 0, GEO), rule("r", 1, URI)])))
    assert mw.reload()
    assert "location" not in caplog.text  # nothing new to say
    assert "country: rule geo" in mw.warnings[0]  # still listed for the ACL in force
    path.write_text(json.dumps(web_acl([rule("geo", 0, GEO), rule("asn", 1, ASN)])))
    assert mw.reload()
    assert "country: rule geo; ASN: rule asn" in caplog.text


# ----------------------------------------------------------------------------------------------
# wafpy explain warns when the log does not record what such rules read

ROOT = Path(__file__).resolve().parents[1]
LINE: Json = {"clientIp": "203.0.113.7", "httpMethod": "GET", "uri": "/", "headers": {"Host": "a"}}

# id -> (rule statement, log: "alb" or the request line's extra members, warned about or None)
EXPLAIN: dict[str, tuple[Json, str | Json, str | None]] = {
    "geo, request line with country": (GEO, {"country": "FR"}, None),
    "geo, request line without country": (GEO, {}, "country: rule r"),
    "geo, ALB access log": (GEO, "alb", "country: rule r"),
    "forwarded geo, with country": (GEO_FORWARDED, {"country": "FR"}, "country of a forwarded IP: rule r"),
    "asn, with country": (ASN, {"country": "FR"}, "ASN: rule r"),
    "no location, ALB access log": (URI, "alb", None),
}


@pytest.mark.parametrize("case", list(EXPLAIN))
def test_explain_warns_about_location_the_log_lacks(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    statement, log, warned = EXPLAIN[case]
    acl = tmp_path / "acl.json"
    acl.write_text(json.dumps(acl_with(statement)))
    if log == "alb":
        path = ROOT / "samples" / "alb-access.log"
    else:
        assert isinstance(log, dict)
        path = tmp_path / "request.jsonl"
        path.write_text(json.dumps({**LINE, **log}) + "\n")
    assert main(["explain", str(acl), str(path), "--search-string", "text"]) == 0
    out, err = capsys.readouterr()
    if warned is None:
        assert "does not record" not in err
        assert "needs data" not in out
    else:
        assert f"rules read what this log does not record ({warned})" in " ".join(err.split())
        assert "(needs data this request does not carry)" in " ".join(out.split())
