"""A realistic 20-rule web ACL for benchmarks, and requests to send through it.

IP sets, geo, a bad-bot regex set, byte and regex matches with transformations, SQLi/XSS on the
query and the body, size limits, a Count rule that labels and a rate-based rule scoped by it.
`bench/floor.py` hand-writes the same checks in plain Python.
"""

from __future__ import annotations

import random
from typing import Any

from tests import builders
from tests.builders import (
    byte_match,
    rule,
    size_constraint,
    sqli_match,
    transformations,
)

ACCOUNT = "111122223333"
REGION_ARN = f"arn:aws:wafv2:eu-west-1:{ACCOUNT}:regional"
BLOCKLIST_ARN = f"{REGION_ARN}/ipset/blocklist/11111111-1111-1111-1111-111111111111"
OFFICE_ARN = f"{REGION_ARN}/ipset/office/22222222-2222-2222-2222-222222222222"
BOTS_ARN = f"{REGION_ARN}/regexpatternset/bad-bots/33333333-3333-3333-3333-333333333333"

BAD_BOT_PATTERNS = [
    "sqlmap",
    "nikto",
    "masscan",
    "zgrab",
    "nmap scripting engine",
    "python-requests/1\\.",
    "(curl|wget)/[0-9.]+$",
    "acunetix",
    "dirbuster",
    "^$",
]
BLOCKED_COUNTRIES = ["KP", "IR", "SY", "CU"]
OFFICE_CIDRS = ["198.51.100.0/24", "2001:db8:1::/48"]


def blocklist_cidrs(n: int = 1000, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    cidrs = []
    for _ in range(n):
        prefix = rng.choice([16, 20, 24, 24, 28, 32, 32])
        address = rng.randrange(0x0B000000, 0xDF000000) & ((0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF)
        cidrs.append(
            f"{address >> 24}.{(address >> 16) & 255}.{(address >> 8) & 255}.{address & 255}/{prefix}"
        )
    return cidrs


QUERY_ARGS: dict[str, Any] = {"AllQueryArguments": {}}
BODY: dict[str, Any] = {"Body": {"OversizeHandling": "CONTINUE"}}
URI: dict[str, Any] = {"UriPath": {}}
USER_AGENT: dict[str, Any] = {"SingleHeader": {"Name": "user-agent"}}


def web_acl() -> dict[str, Any]:
    rules = [
        rule("ip-blocklist", 0, {"IPSetReferenceStatement": {"ARN": BLOCKLIST_ARN}}),
        rule("geo-block", 1, {"GeoMatchStatement": {"CountryCodes": BLOCKED_COUNTRIES}}),
        rule(
            "bad-bots",
            2,
            {
                "RegexPatternSetReferenceStatement": {
                    "ARN": BOTS_ARN,
                    "FieldToMatch": {"SingleHeader": {"Name": "user-agent"}},
                    "TextTransformations": transformations("LOWERCASE"),
                }
            },
        ),
        rule(
            "no-user-agent",
            3,
            {"NotStatement": {"Statement": size_constraint(USER_AGENT, "GE", 0)}},
        ),
        rule(
            "host-check",
            4,
            {
                "NotStatement": {
                    "Statement": byte_match(
                        {"SingleHeader": {"Name": "host"}}, "shop.example.com", "EXACTLY", "LOWERCASE"
                    )
                }
            },
        ),
        rule("path-traversal", 5, byte_match(URI, "../", "CONTAINS", "URL_DECODE")),
        rule(
            "admin-outside-office",
            6,
            {
                "AndStatement": {
                    "Statements": [
                        byte_match(URI, "/admin", "STARTS_WITH", "LOWERCASE"),
                        {"NotStatement": {"Statement": {"IPSetReferenceStatement": {"ARN": OFFICE_ARN}}}},
                    ]
                }
            },
        ),
        rule(
            "sqli-query",
            7,
            sqli_match(QUERY_ARGS, "URL_DECODE"),
        ),
        rule(
            "sqli-body",
            8,
            sqli_match(BODY, "URL_DECODE"),
        ),
        rule(
            "xss-query",
            9,
            {
                "XssMatchStatement": {
                    "FieldToMatch": QUERY_ARGS,
                    "TextTransformations": transformations("URL_DECODE", "HTML_ENTITY_DECODE"),
                }
            },
        ),
        rule(
            "xss-body",
            10,
            {
                "XssMatchStatement": {
                    "FieldToMatch": BODY,
                    "TextTransformations": transformations("URL_DECODE", "HTML_ENTITY_DECODE"),
                }
            },
        ),
        rule(
            "body-too-large",
            11,
            {
                "SizeConstraintStatement": {
                    "FieldToMatch": {"Body": {"OversizeHandling": "MATCH"}},
                    "ComparisonOperator": "GT",
                    "Size": 8192,
                    "TextTransformations": transformations("NONE"),
                }
            },
        ),
        rule("uri-too-long", 12, size_constraint(URI, "GT", 2048)),
        rule("query-too-long", 13, size_constraint({"QueryString": {}}, "GT", 4096)),
        rule(
            "label-login",
            14,
            {
                "AndStatement": {
                    "Statements": [
                        byte_match({"Method": {}}, "POST", "EXACTLY", "NONE"),
                        byte_match(URI, "/api/login", "STARTS_WITH", "LOWERCASE"),
                    ]
                }
            },
            action="Count",
            RuleLabels=[{"Name": "flow:login"}],
        ),
        rule(
            "login-rate",
            15,
            {
                "RateBasedStatement": {
                    "Limit": 100,
                    "EvaluationWindowSec": 300,
                    "AggregateKeyType": "IP",
                    "ScopeDownStatement": {"LabelMatchStatement": {"Scope": "LABEL", "Key": "flow:login"}},
                }
            },
        ),
        rule(
            "script-probe",
            16,
            {
                "RegexMatchStatement": {
                    "FieldToMatch": URI,
                    "RegexString": "\\.(php|asp|aspx|jsp|cgi)$",
                    "TextTransformations": transformations("LOWERCASE"),
                }
            },
        ),
        rule(
            "shellshock",
            17,
            {
                "ByteMatchStatement": {
                    "FieldToMatch": {
                        "Headers": {
                            "MatchPattern": {"All": {}},
                            "MatchScope": "VALUE",
                            "OversizeHandling": "CONTINUE",
                        }
                    },
                    "SearchString": "() {",
                    "PositionalConstraint": "CONTAINS",
                    "TextTransformations": transformations("NONE"),
                }
            },
        ),
        rule(
            "method-allowlist",
            18,
            {
                "NotStatement": {
                    "Statement": {
                        "RegexMatchStatement": {
                            "FieldToMatch": {"Method": {}},
                            "RegexString": "^(GET|HEAD|POST|PUT|DELETE|OPTIONS)$",
                            "TextTransformations": transformations("NONE"),
                        }
                    }
                }
            },
        ),
        rule("wp-login-probe", 19, byte_match(URI, "wp-login", "CONTAINS", "LOWERCASE")),
    ]
    return builders.web_acl(
        rules,
        name="bench-shop",
        id="44444444-4444-4444-4444-444444444444",
        arn=f"{REGION_ARN}/webacl/bench-shop/44444444-4444-4444-4444-444444444444",
    )


def resources() -> dict[str, Any]:
    return {
        BLOCKLIST_ARN: {
            "Name": "blocklist",
            "Id": "11111111-1111-1111-1111-111111111111",
            "ARN": BLOCKLIST_ARN,
            "IPAddressVersion": "IPV4",
            "Addresses": blocklist_cidrs(),
        },
        OFFICE_ARN: {
            "Name": "office",
            "Id": "22222222-2222-2222-2222-222222222222",
            "ARN": OFFICE_ARN,
            "IPAddressVersion": "IPV4",
            "Addresses": OFFICE_CIDRS[:1],
        },
        BOTS_ARN: {
            "Name": "bad-bots",
            "Id": "33333333-3333-3333-3333-333333333333",
            "ARN": BOTS_ARN,
            "RegularExpressionList": [{"RegexString": p} for p in BAD_BOT_PATTERNS],
        },
    }


BROWSER_HEADERS = [
    ("Host", "shop.example.com"),
    ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("Accept-Language", "en-GB,en;q=0.5"),
    ("Accept-Encoding", "gzip, deflate, br"),
    ("Referer", "https://shop.example.com/catalog"),
    ("Connection", "keep-alive"),
    ("Cookie", "session=3f2a9c1e77; cart=2; consent=yes; theme=dark; ab=b"),
    ("Upgrade-Insecure-Requests", "1"),
    ("Sec-Fetch-Dest", "document"),
    ("Sec-Fetch-Mode", "navigate"),
]


def browser_get() -> dict[str, Any]:
    return {
        "clientIp": "203.0.113.77",
        "country": "GB",
        "httpMethod": "GET",
        "uri": "/catalog/shoes",
        "args": "q=red+shoes&page=2&sort=price_asc&utm_source=newsletter",
        "httpVersion": "HTTP/1.1",
        "headers": [{"name": n, "value": v} for n, v in BROWSER_HEADERS],
    }


def json_post(size: int = 4096) -> dict[str, Any]:
    items: list[str] = []
    rng = random.Random(3)
    while len(",".join(items)) < size - 120:
        sku, qty = rng.randrange(99999), rng.randrange(1, 5)
        items.append(f'{{"sku": "SKU-{sku:05d}", "qty": {qty}, "note": "gift wrap please"}}')
    body = '{"customer": "c-1029", "items": [' + ",".join(items) + '], "coupon": "WINTER"}'
    headers = [h for h in BROWSER_HEADERS if h[0] not in {"Accept", "Upgrade-Insecure-Requests"}]
    headers += [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    return {
        "clientIp": "203.0.113.78",
        "country": "FR",
        "httpMethod": "POST",
        "uri": "/api/cart",
        "args": "",
        "httpVersion": "HTTP/1.1",
        "headers": [{"name": n, "value": v} for n, v in headers],
        "body": body,
    }


def probe_requests() -> list[tuple[str, dict[str, Any]]]:
    """Requests that each exercise one rule, to check the floor and the engine agree."""
    get, post = browser_get(), json_post()

    def variant(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
        return {**base, **changes}

    def headers(
        base: dict[str, Any],
        drop: str = "",
        add: tuple[str, str] | None = None,
        replace: tuple[str, str] | None = None,
    ) -> list[dict[str, str]]:
        out = [h for h in base["headers"] if h["name"].lower() != drop]
        if replace:
            out = [
                {"name": h["name"], "value": replace[1]} if h["name"].lower() == replace[0] else h
                for h in out
            ]
        if add:
            out.append({"name": add[0], "value": add[1]})
        return out

    blocked_ip = blocklist_cidrs()[0].split("/")[0]
    return [
        ("get", get),
        ("post", post),
        ("blocklist", variant(get, clientIp=blocked_ip)),
        ("geo", variant(get, country="KP")),
        ("bad-bot", variant(get, headers=headers(get, replace=("user-agent", "sqlmap/1.7.2#stable")))),
        ("no-ua", variant(get, headers=headers(get, drop="user-agent"))),
        ("host", variant(get, headers=headers(get, replace=("host", "evil.example")))),
        ("traversal", variant(get, uri="/static/%2e%2e/../etc/passwd")),
        ("admin-out", variant(get, uri="/Admin/users")),
        ("admin-in", variant(get, uri="/admin/users", clientIp="198.51.100.9")),
        ("sqli-q", variant(get, args="q=1%27%20OR%201%3D1--&page=2")),
        ("sqli-b", variant(post, body="user=admin' OR '1'='1' --&pw=x")),
        ("xss-q", variant(get, args="q=%3Cscript%3Ealert(1)%3C/script%3E")),
        ("xss-b", variant(post, body='{"comment": "<img src=x onerror=alert(1)>"}')),
        ("big-body", variant(post, body="a" * 9000)),
        ("long-uri", variant(get, uri="/" + "x" * 2100)),
        ("long-query", variant(get, args="q=" + "y" * 4100)),
        ("login", variant(post, uri="/api/login")),
        ("php", variant(get, uri="/index.PHP")),
        ("shellshock", variant(get, headers=headers(get, add=("X-Test", "() { :; }; echo")))),
        ("method", variant(get, httpMethod="PROPFIND")),
        ("wp", variant(get, uri="/blog/WP-LOGIN.php")),
    ]
