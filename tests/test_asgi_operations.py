"""WAFMiddleware: tokens, WebSockets, client info, errors and reloads, against a real uvicorn."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets.sync.client
from websockets.exceptions import InvalidStatus

from tests.builders import byte_rule, rule
from tests.test_asgi_support import ARN, EchoApp, blocking_acl, header, serve, web_acl, write_mmdb
from wafpy import Services, WAFMiddleware, load_web_acl
from wafpy.middleware.tokens import COOKIE_NAME, issue_token

pytestmark = pytest.mark.slow  # a real uvicorn server per test

SECRET = "test-secret-of-32-bytes-for-hmac"


def captcha_acl(**extra: Any) -> dict[str, Any]:
    immunity = {"ImmunityTimeProperty": {"ImmunityTime": 300}}
    return web_acl(
        [
            byte_rule(
                "captcha-login",
                1,
                {"UriPath": {}},
                "/login",
                "STARTS_WITH",
                action="Captcha",
                CaptchaConfig=immunity,
            ),
            byte_rule(
                "challenge-shop",
                2,
                {"UriPath": {}},
                "/shop",
                "STARTS_WITH",
                action="Challenge",
                ChallengeConfig=immunity,
            ),
        ],
        **extra,
    )


def test_captcha_and_challenge_without_token_answer_405_and_202() -> None:
    app = EchoApp()
    records: list[dict[str, Any]] = []
    with serve(WAFMiddleware(app, captcha_acl(), token_secret=SECRET, log=records.append)) as url:
        captcha = httpx.get(url + "/login", headers={"accept": "text/html"})
        challenge = httpx.get(url + "/shop", headers={"accept": "application/json"})
    assert captcha.status_code == 405 and captcha.headers["x-amzn-waf-action"] == "captcha"
    assert b"<html" in captcha.content.lower()
    assert challenge.status_code == 202 and challenge.headers["x-amzn-waf-action"] == "challenge"
    assert challenge.content == b""  # not an HTML request
    assert app.calls == 0
    assert records[0]["captchaResponse"] == {
        "responseCode": 405,
        "solveTimestamp": 0,
        "failureReason": "TOKEN_MISSING",
    }
    assert records[1]["challengeResponse"]["failureReason"] == "TOKEN_MISSING"


def test_solve_endpoint_token_passes_captcha_and_challenge() -> None:
    app = EchoApp()
    records: list[dict[str, Any]] = []
    mw = WAFMiddleware(
        app, captcha_acl(), token_secret=SECRET, solve_path="/.wafpy/solve", log=records.append
    )
    with serve(mw) as url, httpx.Client(base_url=url) as client:
        solved = client.get("/.wafpy/solve")
        assert solved.status_code == 200 and COOKIE_NAME in client.cookies
        login = client.get("/login")
        shop = client.get("/shop")
    assert login.status_code == 200 and shop.status_code == 200
    assert login.json()["action"] == "ALLOW"
    assert len(records) == 2  # the solve endpoint itself is not evaluated
    entry = records[0]["nonTerminatingMatchingRules"][0]
    assert entry["ruleId"] == "captcha-login" and entry["action"] == "CAPTCHA"
    assert entry["captchaResponse"]["responseCode"] == 0
    assert mw.metrics.snapshot()["captcha-login"] == {"CaptchaRequests": 1}


def test_challenge_only_token_does_not_pass_captcha() -> None:
    with (
        serve(WAFMiddleware(EchoApp(), captcha_acl(), token_secret=SECRET, solve_path="/solve")) as url,
        httpx.Client(base_url=url) as client,
    ):
        client.get("/solve", params={"kind": "challenge"})
        assert client.get("/shop").status_code == 200
        assert client.get("/login").status_code == 405


@pytest.mark.parametrize(
    ("token_args", "reason"),
    [
        ({"domain": "127.0.0.1", "captcha_ts": int(time.time()) - 3600}, "TOKEN_EXPIRED"),
        ({"domain": "other.example.net", "captcha_ts": int(time.time())}, "TOKEN_DOMAIN_MISMATCH"),
        ({"domain": "apiexample.com", "captcha_ts": int(time.time())}, "TOKEN_DOMAIN_MISMATCH"),
        (
            {"domain": "127.0.0.1", "captcha_ts": int(time.time()), "secret": "a-wrong-secret-of-16+bytes"},
            "TOKEN_INVALID",
        ),
    ],
)
def test_bad_tokens_are_refused_with_aws_failure_reasons(token_args: dict[str, Any], reason: str) -> None:
    records: list[dict[str, Any]] = []
    secret = token_args.pop("secret", SECRET)
    token = issue_token(secret, token_args.pop("domain"), **token_args)
    acl = captcha_acl(TokenDomains=["example.com"])
    with serve(WAFMiddleware(EchoApp(), acl, token_secret=SECRET, log=records.append)) as url:
        response = httpx.get(url + "/login", cookies={COOKIE_NAME: token})
    assert response.status_code == 405
    assert records[0]["captchaResponse"]["failureReason"] == reason


def test_token_domains_accept_sub_domains() -> None:
    token = issue_token(SECRET, "api.example.com", captcha_ts=int(time.time()))
    acl = captcha_acl(TokenDomains=["example.com"])
    with serve(WAFMiddleware(EchoApp(), acl, token_secret=SECRET)) as url:
        assert httpx.get(url + "/login", cookies={COOKIE_NAME: token}).status_code == 200


# ----------------------------------------------------------------------------------------------
# WebSockets


def ws_acl() -> dict[str, Any]:
    return web_acl([byte_rule("no-admin-socket", 1, {"UriPath": {}}, "/admin", "STARTS_WITH")])


def test_websocket_allowed_and_blocked() -> None:
    app = EchoApp()
    mw = WAFMiddleware(app, ws_acl())
    with serve(mw) as url:
        ws_url = url.replace("http://", "ws://")
        with websockets.sync.client.connect(ws_url + "/chat", open_timeout=10) as ws:
            ws.send("hi")
            assert ws.recv(timeout=10) == "echo:hi"
        with (
            pytest.raises(InvalidStatus) as refused,
            websockets.sync.client.connect(ws_url + "/admin", open_timeout=10),
        ):
            pass
    assert refused.value.response.status_code == 403
    assert b"403 Forbidden" in refused.value.response.body
    assert app.calls == 1
    assert mw.metrics.snapshot()["no-admin-socket"] == {"BlockedRequests": 1}


def test_websocket_blocked_without_the_denial_extension_is_closed() -> None:
    sent: list[MutableMapping[str, Any]] = []
    mw = WAFMiddleware(EchoApp(), ws_acl())
    scope = {
        "type": "websocket",
        "path": "/admin",
        "raw_path": b"/admin",
        "query_string": b"",
        "headers": [(b"host", b"example.com")],
        "client": ("192.0.2.1", 5000),
        "scheme": "ws",
        "http_version": "1.1",
        "subprotocols": [],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    asyncio.run(mw(scope, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008}]


# ----------------------------------------------------------------------------------------------
# The per-request path, driven in process


def _http_scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "client": ("192.0.2.1", 5000),
        "scheme": "http",
        "http_version": "1.1",
    }


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def _call(mw: WAFMiddleware, scope: dict[str, Any]) -> list[MutableMapping[str, Any]]:
    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    asyncio.run(mw(scope, _no_body, send))
    return sent


class _Recorder:
    def __init__(self) -> None:
        self.scopes: list[MutableMapping[str, Any]] = []

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.parametrize("logged", [False, True])
def test_new_trace_id_reaches_the_app_the_request_and_the_log(logged: bool) -> None:
    app = _Recorder()
    records: list[dict[str, Any]] = []
    mw = WAFMiddleware(app, web_acl([]), log=records.append if logged else None)
    headers = [(b"host", b"example.com")]
    scope = _http_scope("/", headers)
    _call(mw, scope)
    seen = app.scopes[0]
    assert seen is not scope and scope["headers"] == [
        (b"host", b"example.com")
    ]  # the server's scope is untouched
    name, value = seen["headers"][-1]
    assert name == b"x-amzn-trace-id" and re.fullmatch(rb"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", value)
    assert seen["headers"][:-1] == headers
    decision = seen["state"]["waf"]
    assert decision.request is not None and decision.request.request_id == value.decode()[5:]
    if logged:
        assert records[0]["httpRequest"]["requestId"] == value.decode()[5:]


def test_request_with_a_trace_id_is_forwarded_as_it_came() -> None:
    app = _Recorder()
    mw = WAFMiddleware(app, web_acl([]))
    trace = b"Root=1-5f84c7a6-0123456789abcdef01234567;Sampled=1"
    scope = _http_scope("/", [(b"host", b"example.com"), (b"x-amzn-trace-id", trace)])
    _call(mw, scope)
    assert app.scopes[0] is scope and len(scope["headers"]) == 2
    request = scope["state"]["waf"].request
    assert request is not None and request.request_id == "1-5f84c7a6-0123456789abcdef01234567"


def test_blocked_responses_are_fresh_messages_each_time() -> None:
    mw = WAFMiddleware(
        _Recorder(), web_acl([byte_rule("no-admin", 1, {"UriPath": {}}, "/admin", "STARTS_WITH")])
    )
    first = _call(mw, _http_scope("/admin", [(b"host", b"example.com")]))
    # What a middleware outside could do to what it was sent (CORSMiddleware appends headers).
    first[0]["headers"].append((b"access-control-allow-origin", b"*"))
    first[0]["status"] = 599
    second = _call(mw, _http_scope("/admin/x", [(b"host", b"example.com")]))
    assert [m["type"] for m in second] == ["http.response.start", "http.response.body"]
    assert second[0]["status"] == 403
    assert second[0]["headers"] == [
        (b"content-type", b"text/html"),
        (b"content-length", str(len(second[1]["body"])).encode()),
    ]
    assert second[0] is not first[0] and second[0]["headers"] is not first[0]["headers"]
    assert mw.metrics.snapshot() == {"ALL": {"BlockedRequests": 2}, "no-admin": {"BlockedRequests": 2}}


# ----------------------------------------------------------------------------------------------
# Client IP, country, ASN


def ipset_acl() -> tuple[dict[str, Any], dict[str, Any]]:
    arn = f"{ARN}/ipset/bad/11111111-2222-3333-4444-555555555555"
    ipset = {
        "IPSet": {
            "Name": "bad",
            "Id": "11111111-2222-3333-4444-555555555555",
            "ARN": arn,
            "IPAddressVersion": "IPV4",
            "Addresses": ["203.0.113.0/24"],
        }
    }
    acl = web_acl([rule("bad-ips", 1, {"IPSetReferenceStatement": {"ARN": arn}})])
    return acl, {arn: ipset}


def test_forwarded_header_counts_only_behind_trusted_proxies() -> None:
    acl, resources = ipset_acl()
    records: list[dict[str, Any]] = []
    trusting = WAFMiddleware(
        EchoApp(), acl, resources=resources, trusted_proxies=["127.0.0.0/8", "10.0.0.0/8"], log=records.append
    )
    naive = WAFMiddleware(EchoApp(), acl, resources=resources)
    with serve(trusting) as url:
        assert httpx.get(url + "/", headers={"x-forwarded-for": "203.0.113.7, 10.1.2.3"}).status_code == 403
        # The first hop from the right that is not a trusted proxy is the origin.
        assert httpx.get(url + "/", headers={"x-forwarded-for": "203.0.113.7, 192.0.2.9"}).status_code == 200
        assert httpx.get(url + "/").status_code == 200
    assert [r["httpRequest"]["clientIp"] for r in records] == ["203.0.113.7", "192.0.2.9", "127.0.0.1"]
    with serve(naive) as url:
        assert httpx.get(url + "/", headers={"x-forwarded-for": "203.0.113.7"}).status_code == 200


def geo_rule(*countries: str, priority: int = 1) -> dict[str, Any]:
    return rule("geo", priority, {"GeoMatchStatement": {"CountryCodes": list(countries)}})


def test_country_from_a_header() -> None:
    records: list[dict[str, Any]] = []
    mw = WAFMiddleware(
        EchoApp(), web_acl([geo_rule("NL")]), country_header="CloudFront-Viewer-Country", log=records.append
    )
    with serve(mw) as url:
        assert httpx.get(url + "/", headers={"cloudfront-viewer-country": "NL"}).status_code == 403
        allowed = httpx.get(url + "/", headers={"cloudfront-viewer-country": "US"})
    assert allowed.status_code == 200
    assert "awswaf:clientip:geo:country:US" in allowed.json()["labels"]
    assert [r["httpRequest"]["country"] for r in records] == ["NL", "US"]


def test_country_region_and_asn_from_a_maxmind_database(tmp_path: Path) -> None:
    db = tmp_path / "geo.mmdb"
    write_mmdb(
        db,
        {
            "127.0.0.0/8": {
                "country": {"iso_code": "FR"},
                "subdivisions": [{"iso_code": "IDF"}],
                "autonomous_system_number": 64500,
            }
        },
    )
    acl = web_acl(
        [
            rule("asn", 1, {"AsnMatchStatement": {"AsnList": [64500]}}, action="Count"),
            geo_rule("DE", priority=2),
        ]
    )
    records: list[dict[str, Any]] = []
    mw = WAFMiddleware(EchoApp(), acl, geoip_db=db, asn_db=db, log=records.append)
    with serve(mw) as url:
        payload = httpx.get(url + "/").json()
    mw.close()
    assert "awswaf:clientip:geo:country:FR" in payload["labels"]
    assert "awswaf:clientip:geo:region:FR-IDF" in payload["labels"]
    assert records[0]["httpRequest"]["country"] == "FR"
    assert records[0]["nonTerminatingMatchingRules"][0]["ruleId"] == "asn"


# ----------------------------------------------------------------------------------------------
# Errors and reloads


def failing_acl() -> Any:
    def boom(ip: str) -> tuple[str, str | None] | None:
        raise RuntimeError("geo database unavailable")

    return load_web_acl(web_acl([geo_rule("NL")]), services=Services(geo=boom))


def test_on_error_allow_forwards_and_block_answers_500(caplog: pytest.LogCaptureFixture) -> None:
    app = EchoApp()
    allow = WAFMiddleware(app, failing_acl())
    block = WAFMiddleware(app, failing_acl(), on_error="block")
    with serve(allow) as url:
        response = httpx.get(url + "/")
    assert response.status_code == 200 and response.json()["action"] is None
    assert TRACE_HEADER_VALUE.match(header(response.json(), "x-amzn-trace-id")[0])
    with serve(block) as url:
        response = httpx.get(url + "/")
    assert response.status_code == 500
    assert app.calls == 1
    assert allow.metrics.errors == 1 and block.metrics.errors == 1
    assert "geo database unavailable" in caplog.text


TRACE_HEADER_VALUE = re.compile(r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$")


@pytest.mark.slow
def test_reload_under_load_loses_no_request() -> None:
    mw = WAFMiddleware(EchoApp(), blocking_acl("/blocked", "first"))
    other = blocking_acl("/blocked", "second")
    results: list[tuple[str, int]] = []
    n = 400

    def load() -> None:
        with httpx.Client(base_url=url, timeout=10) as client:
            for i in range(n):
                path = "/blocked" if i % 2 else "/ok"
                results.append((path, client.get(path).status_code))

    with serve(mw) as url:
        worker = threading.Thread(target=load)
        worker.start()
        for i in range(8):
            assert mw.reload(other if i % 2 == 0 else blocking_acl("/blocked", "first"))
            time.sleep(0.02)
        worker.join(120)
    assert len(results) == n
    assert all(code == (403 if path == "/blocked" else 200) for path, code in results)
    assert mw.acl.name == "first"


def test_reload_failure_keeps_the_old_acl(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "acl.json"
    path.write_text(json.dumps(blocking_acl("/a", "first"), indent=2))
    mw = WAFMiddleware(EchoApp(), str(path))
    path.write_text('{\n  "Name": "broken",\n  "Rules": [}\n')
    assert mw.reload() is False
    assert mw.acl.name == "first"
    assert re.search(r"acl\.json:3:\d+", str(mw.last_error)), str(mw.last_error)
    assert "could not be loaded" in caplog.text


@pytest.mark.slow
def test_watch_reloads_on_file_change(tmp_path: Path) -> None:
    path = tmp_path / "acl.json"
    path.write_text(json.dumps(blocking_acl("/a", "first")))
    mw = WAFMiddleware(EchoApp(), str(path), watch=True, watch_interval=0.05)
    with serve(mw) as url, httpx.Client(base_url=url) as client:
        assert client.get("/a").status_code == 403
        assert client.get("/b").status_code == 200
        path.write_text(json.dumps(blocking_acl("/b", "second")) + "\n")
        for _ in range(200):
            if client.get("/b").status_code == 403:
                break
            time.sleep(0.05)
        assert client.get("/b").status_code == 403 and client.get("/a").status_code == 200
        path.write_text("{ not json")
        for _ in range(200):
            if mw.last_error is not None:
                break
            time.sleep(0.05)
        assert mw.last_error is not None
        assert client.get("/b").status_code == 403  # the second ACL stays in force
    assert not mw.watching
