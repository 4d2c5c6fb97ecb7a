"""WAFMiddleware's options by group: each flat keyword maps onto its config object, never both."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import MutableMapping
from typing import Any

import pytest

from tests.builders import byte_rule
from tests.test_asgi_support import EchoApp, web_acl
from wafpy.middleware import ClientConfig, LogConfig, TokenConfig, WAFMiddleware, WatchConfig
from wafpy.middleware.config import FLAT_KEYWORDS, GROUP_KEYWORDS, GroupedOptions, group_options

SECRET = "a-secret-of-at-least-16-bytes"
LOG_FILTER = {
    "DefaultBehavior": "DROP",
    "Filters": [
        {
            "Behavior": "KEEP",
            "Requirement": "MEETS_ANY",
            "Conditions": [{"ActionCondition": {"Action": "BLOCK"}}],
        }
    ],
}

# (flat keyword, a value for it, the config object it must map to)
TABLE: list[tuple[str, Any, Any]] = [
    ("trusted_proxies", ["10.0.0.0/8"], ClientConfig(trusted_proxies=("10.0.0.0/8",))),
    ("forwarded_header", "x-real-ip", ClientConfig(forwarded_header="x-real-ip")),
    ("country_header", "cloudfront-viewer-country", ClientConfig(country_header="cloudfront-viewer-country")),
    ("geoip_db", "GeoLite2-Country.mmdb", ClientConfig(geoip_db="GeoLite2-Country.mmdb")),
    ("asn_header", "x-asn", ClientConfig(asn_header="x-asn")),
    ("asn_db", "GeoLite2-ASN.mmdb", ClientConfig(asn_db="GeoLite2-ASN.mmdb")),
    ("token_secret", SECRET, TokenConfig(secret=SECRET)),
    ("solve_path", "/.wafpy/solve", TokenConfig(solve_path="/.wafpy/solve")),
    ("log", "waf.jsonl", LogConfig(destination="waf.jsonl")),
    ("log_filter", LOG_FILTER, LogConfig(filter=LOG_FILTER)),
    ("redacted_fields", [{"QueryString": {}}], LogConfig(redacted_fields=({"QueryString": {}},))),
    ("http_source_id", "111122223333-app/my-alb", LogConfig(http_source_id="111122223333-app/my-alb")),
]


def _group_field(options: GroupedOptions, config: Any) -> Any:
    return getattr(options, GROUP_KEYWORDS[type(config)])


def test_the_table_covers_every_flat_keyword_of_the_signature() -> None:
    parameters = inspect.signature(WAFMiddleware.__init__).parameters
    assert set(FLAT_KEYWORDS) <= set(parameters)
    assert {name for name, _, _ in TABLE} | {"watch_interval"} == set(FLAT_KEYWORDS)
    for group in GROUP_KEYWORDS.values():
        assert group in parameters


@pytest.mark.parametrize(("keyword", "value", "config"), TABLE, ids=[row[0] for row in TABLE])
def test_each_flat_keyword_maps_to_the_same_config_as_the_object_form(
    keyword: str, value: Any, config: Any
) -> None:
    flat = group_options(**{keyword: value})
    grouped = group_options(**{GROUP_KEYWORDS[type(config)]: config})
    assert flat == grouped
    assert _group_field(flat, config) == config
    # Nothing else changed: every other group keeps its defaults.
    defaults = group_options()
    for name in GroupedOptions._fields:
        if name != GROUP_KEYWORDS[type(config)]:
            assert getattr(flat, name) == getattr(defaults, name)


def test_flat_keywords_of_one_group_fill_one_config() -> None:
    flat = group_options(
        trusted_proxies=("10.0.0.0/8", "192.0.2.0/24"), forwarded_header="x-real-ip", asn_header="x-asn"
    )
    assert flat.client == ClientConfig(
        trusted_proxies=["10.0.0.0/8", "192.0.2.0/24"], forwarded_header="x-real-ip", asn_header="x-asn"
    )


def test_watch_flat_and_object_forms() -> None:
    assert group_options().watch is None
    assert group_options(watch=False, watch_interval=2.5).watch is None  # accepted and unused, as before
    assert group_options(watch=True).watch == WatchConfig() == WatchConfig(interval=1.0)
    assert group_options(watch=True, watch_interval=2.5).watch == WatchConfig(interval=2.5)
    assert group_options(watch=WatchConfig(interval=2.5)).watch == WatchConfig(interval=2.5)


CONFLICTS: list[tuple[dict[str, Any], str]] = [
    ({"client": ClientConfig(), "trusted_proxies": ["10.0.0.0/8"]}, "trusted_proxies="),
    ({"client": ClientConfig(), "forwarded_header": "x-forwarded-for"}, "forwarded_header="),
    ({"tokens": TokenConfig(), "token_secret": SECRET}, "token_secret="),
    ({"logs": LogConfig(destination="a.jsonl"), "log": "b.jsonl"}, "log="),
    ({"logs": LogConfig(), "http_source_id": "-"}, "http_source_id="),
    ({"watch": WatchConfig(), "watch_interval": 2.0}, "watch_interval="),
]


@pytest.mark.parametrize(("kwargs", "named"), CONFLICTS, ids=[row[1] for row in CONFLICTS])
def test_a_config_object_and_a_flat_keyword_of_its_group_is_a_type_error(
    kwargs: dict[str, Any], named: str
) -> None:
    with pytest.raises(TypeError, match=f"{named}.*both given") as info:
        WAFMiddleware(EchoApp(), web_acl([]), **kwargs)
    group = next(key for key in kwargs if key in GROUP_KEYWORDS.values())
    assert f"{group}=" in str(info.value)


def test_flat_keywords_of_other_groups_mix_with_a_config_object() -> None:
    options = group_options(client=ClientConfig(asn_header="x-asn"), log="waf.jsonl", token_secret=SECRET)
    assert options.client == ClientConfig(asn_header="x-asn")
    assert options.logs == LogConfig(destination="waf.jsonl")
    assert options.tokens == TokenConfig(secret=SECRET)


def test_a_config_object_of_the_wrong_group_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="client= takes a ClientConfig, not LogConfig"):
        group_options(client=LogConfig())  # type: ignore[arg-type]


def test_configs_are_frozen() -> None:
    config = ClientConfig(trusted_proxies=["10.0.0.0/8"])
    with pytest.raises(AttributeError):
        config.forwarded_header = "x-real-ip"  # type: ignore[misc]
    assert config.trusted_proxies == ("10.0.0.0/8",)


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def _get(mw: WAFMiddleware, headers: list[tuple[bytes, bytes]], peer: str) -> int:
    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "method": "GET",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [(b"host", b"example.com"), *headers],
        "client": (peer, 5000),
        "scheme": "http",
        "http_version": "1.1",
    }
    asyncio.run(mw(scope, _no_body, send))
    status: int = sent[0]["status"]
    return status


@pytest.mark.parametrize("form", ["flat", "objects"])
def test_both_forms_behave_the_same(form: str) -> None:
    records: list[dict[str, Any]] = []
    acl = web_acl([byte_rule("block-bad", 0, {"SingleHeader": {"Name": "x-bad"}}, "yes")])
    if form == "flat":
        mw = WAFMiddleware(
            EchoApp(),
            acl,
            trusted_proxies=["10.0.0.0/8"],
            forwarded_header="x-real-ip",
            log=records.append,
            http_source_id="my-alb",
            redacted_fields=[{"SingleHeader": {"Name": "x-bad"}}],
        )
    else:
        mw = WAFMiddleware(
            EchoApp(),
            acl,
            client=ClientConfig(trusted_proxies=["10.0.0.0/8"], forwarded_header="x-real-ip"),
            logs=LogConfig(
                records.append,
                http_source_id="my-alb",
                redacted_fields=[{"SingleHeader": {"Name": "x-bad"}}],
            ),
        )
    assert _get(mw, [(b"x-real-ip", b"203.0.113.9")], "10.1.2.3") == 200
    assert _get(mw, [(b"x-bad", b"yes")], "192.0.2.1") == 403
    assert [r["httpRequest"]["clientIp"] for r in records] == ["203.0.113.9", "192.0.2.1"]
    assert {r["httpSourceId"] for r in records} == {"my-alb"}
    assert [h["value"] for h in records[1]["httpRequest"]["headers"] if h["name"] == "x-bad"] == ["REDACTED"]
