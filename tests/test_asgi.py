"""WAFMiddleware end to end: real uvicorn on 127.0.0.1, real httpx and curl clients."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.builders import byte_rule, rule, sqli_match
from tests.test_asgi_support import EchoApp, body_acl, header, serve, web_acl
from wafpy import WAFMiddleware
from wafpy.engine.responses import DEFAULT_BLOCK_BODY

pytestmark = pytest.mark.slow  # a real uvicorn server per test

TRACE_RE = re.compile(r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$")


def chunks(data: bytes, seed: int) -> Iterator[bytes]:
    """`data` in odd-sized pieces, so httpx sends it with chunked transfer encoding."""
    rng = random.Random(seed)
    i = 0
    while i < len(data):
        size = rng.choice([1, 7, 333, 1021, 4099, 65537])
        yield data[i : i + size]
        i += size


SIZES = [0, 1, 8191, 8192, 8193, 1024 * 1024]


@pytest.mark.parametrize("stack", [("httptools", "uvloop"), ("h11", "asyncio")])
def test_benign_bodies_reach_the_app_byte_for_byte(stack: tuple[str, str]) -> None:
    app = EchoApp()
    mw = WAFMiddleware(app, body_acl())
    assert mw.acl.needs_body
    rng = random.Random(1)
    with serve(mw, http=stack[0], loop=stack[1]) as url, httpx.Client(base_url=url) as client:
        for size in SIZES:
            # Random bytes never spell an SQL injection after URL_DECODE: letters only.
            data = bytes(rng.choice(b"abcdefghij \n") for _ in range(size))
            response = client.post("/upload", content=chunks(data, size))
            assert response.status_code == 200, (size, response.text[:200])
            payload = response.json()
            assert payload["length"] == size
            assert payload["sha256"] == hashlib.sha256(data).hexdigest()
            assert header(payload, "transfer-encoding") == ["chunked"] or size == 0
            # Sent with Content-Length too.
            response = client.post("/upload", content=data)
            assert response.json()["sha256"] == hashlib.sha256(data).hexdigest()
    assert app.calls == 2 * len(SIZES)


def test_sqli_in_body_is_blocked_and_app_never_called() -> None:
    app = EchoApp()
    mw = WAFMiddleware(app, body_acl())
    with serve(mw) as url:
        response = httpx.post(url + "/login", content=b"user=admin' OR '1'='1&pass=x")
        assert response.status_code == 403
        assert response.content == DEFAULT_BLOCK_BODY
        assert response.headers["content-type"] == "text/html"
        response = httpx.get(url + "/search", params={"q": "1 UNION SELECT password FROM users--"})
        assert response.status_code == 403
    assert app.calls == 0
    assert mw.metrics.snapshot()["sqli-body"] == {"BlockedRequests": 1}
    assert mw.metrics.snapshot()["sqli-query"] == {"BlockedRequests": 1}


def test_sqli_after_the_inspection_limit_is_not_seen() -> None:
    # Like AWS: only the first 8 KB reach WAF; the rest streams to the app uninspected.
    app = EchoApp()
    mw = WAFMiddleware(app, body_acl())
    data = b"a" * 9000 + b"' OR '1'='1"
    with serve(mw) as url:
        response = httpx.post(url + "/x", content=chunks(data, 3))
    assert response.status_code == 200
    assert response.json()["sha256"] == hashlib.sha256(data).hexdigest()


def test_custom_response_code_headers_and_body() -> None:
    acl = web_acl(
        [
            byte_rule(
                "no-admin",
                1,
                {"UriPath": {}},
                "/admin",
                "STARTS_WITH",
                action_body={
                    "CustomResponse": {
                        "ResponseCode": 429,
                        "CustomResponseBodyKey": "slow-down",
                        "ResponseHeaders": [{"Name": "Retry-After", "Value": "30"}],
                    }
                },
            )
        ],
        CustomResponseBodies={
            "slow-down": {"ContentType": "APPLICATION_JSON", "Content": '{"error":"slow"}'}
        },
    )
    app = EchoApp()
    with serve(WAFMiddleware(app, acl)) as url:
        response = httpx.get(url + "/admin/users")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "30"
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "slow"}
    assert app.calls == 0


def test_default_block_with_allow_rule_and_inserted_headers() -> None:
    insert = {"CustomRequestHandling": {"InsertHeaders": [{"Name": "user-tier", "Value": "gold"}]}}
    acl = web_acl(
        [
            byte_rule(
                "vip",
                1,
                {"SingleHeader": {"Name": "x-vip"}},
                "yes",
                "EXACTLY",
                action="Allow",
                action_body=insert,
            )
        ],
        default="Block",
    )
    app = EchoApp()
    with serve(WAFMiddleware(app, acl)) as url:
        assert httpx.get(url + "/").status_code == 403
        # The client's own x-amzn-waf-user-tier is replaced, not kept next to WAF's.
        response = httpx.get(url + "/", headers={"x-vip": "yes", "x-amzn-waf-user-tier": "forged"})
    assert response.status_code == 200
    payload = response.json()
    assert header(payload, "x-amzn-waf-user-tier") == ["gold"]
    assert payload["action"] == "ALLOW" and payload["terminating_rule"] == "vip"
    assert app.calls == 1


def test_count_rule_labels_reach_the_app_state() -> None:
    acl = web_acl(
        [
            byte_rule(
                "tag-curl",
                1,
                {"SingleHeader": {"Name": "user-agent"}},
                "curl",
                "STARTS_WITH",
                action="Count",
                RuleLabels=[{"Name": "client:curl"}],
            )
        ]
    )
    app = EchoApp()
    mw = WAFMiddleware(app, acl)
    with serve(mw) as url:
        payload = httpx.get(url + "/", headers={"user-agent": "curl/8.0"}).json()
    assert payload["labels"] == ["awswaf:111122223333:webacl:test-acl:client:curl"]
    assert payload["action"] == "ALLOW" and payload["terminating_rule"] == "Default_Action"
    assert mw.metrics.snapshot()["tag-curl"] == {"CountedRequests": 1}


def test_trace_id_added_when_absent_kept_when_present_and_logged() -> None:
    records: list[dict[str, Any]] = []
    app = EchoApp()
    with serve(WAFMiddleware(app, body_acl(), log=records.append)) as url:
        added = header(httpx.get(url + "/").json(), "x-amzn-trace-id")
        given = "Root=1-65f0c0de-0123456789abcdef01234567;Sampled=1"
        kept = header(httpx.get(url + "/", headers={"X-Amzn-Trace-Id": given}).json(), "x-amzn-trace-id")
    assert len(added) == 1 and TRACE_RE.match(added[0])
    assert kept == [given]
    assert records[0]["httpRequest"]["requestId"] == added[0].removeprefix("Root=")
    assert records[1]["httpRequest"]["requestId"] == "1-65f0c0de-0123456789abcdef01234567"


def test_raw_path_and_query_are_inspected_as_sent() -> None:
    # WAF sees %2F, not the decoded "/": an EXACTLY match on the raw path proves it.
    acl = web_acl([byte_rule("raw", 1, {"UriPath": {}}, "/files/a%2Fb", "EXACTLY")])
    app = EchoApp()
    with serve(WAFMiddleware(app, acl)) as url:
        assert httpx.get(url + "/files/a%2Fb").status_code == 403
        assert httpx.get(url + "/files/a/b").status_code == 200


LOG_TYPES: dict[str, type | tuple[type, ...]] = {
    "timestamp": int,
    "formatVersion": int,
    "webaclId": str,
    "terminatingRuleId": str,
    "terminatingRuleType": str,
    "action": str,
    "terminatingRuleMatchDetails": list,
    "httpSourceName": str,
    "httpSourceId": str,
    "ruleGroupList": list,
    "rateBasedRuleList": list,
    "nonTerminatingMatchingRules": list,
    "requestHeadersInserted": (list, type(None)),
    "responseCodeSent": (int, type(None)),
    "httpRequest": dict,
    "requestBodySize": int,
    "requestBodySizeInspectedByWAF": int,
}
HTTP_REQUEST_TYPES = {
    "clientIp": str,
    "country": str,
    "headers": list,
    "uri": str,
    "args": str,
    "httpVersion": str,
    "httpMethod": str,
    "requestId": str,
}


def check_log_record(record: dict[str, Any]) -> None:
    for key, kind in LOG_TYPES.items():
        assert isinstance(record[key], kind), (key, record.get(key))
    assert record["formatVersion"] == 1
    assert record["httpSourceName"] == "ALB"
    assert record["action"] in ("ALLOW", "BLOCK", "CAPTCHA", "CHALLENGE")
    for key, kind in HTTP_REQUEST_TYPES.items():
        assert isinstance(record["httpRequest"][key], kind), key
    for item in record["httpRequest"]["headers"]:
        assert set(item) == {"name", "value"}
    for label in record.get("labels", []):
        assert set(label) == {"name"}


def test_log_file_has_one_valid_record_per_request(tmp_path: Path) -> None:
    path = tmp_path / "waf.jsonl"
    mw = WAFMiddleware(
        EchoApp(), body_acl(), log=str(path), http_source_id="111122223333-app/demo/50dc6c495c0c9188"
    )
    with serve(mw) as url:
        httpx.post(url + "/ok?x=1", content=b"hello")
        httpx.get(url + "/q", params={"id": "1' OR '1'='1"})
        httpx.post(url + "/big", content=b"z" * 9000)
    mw.close()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(records) == 3
    for record in records:
        check_log_record(record)
    assert records[0]["action"] == "ALLOW" and records[0]["httpRequest"]["args"] == "x=1"
    assert records[0]["requestBodySize"] == 5
    assert records[0]["httpSourceId"] == "111122223333-app/demo/50dc6c495c0c9188"
    assert records[1]["action"] == "BLOCK" and records[1]["terminatingRuleId"] == "sqli-query"
    assert records[1]["terminatingRuleMatchDetails"][0]["conditionType"] == "SQL_INJECTION"
    assert records[2]["requestBodySize"] == 9000 and records[2]["requestBodySizeInspectedByWAF"] == 8192


def test_log_filter_and_redaction_end_to_end() -> None:
    records: list[dict[str, Any]] = []
    mw = WAFMiddleware(
        EchoApp(),
        body_acl(),
        log=records.append,
        log_filter={
            "DefaultBehavior": "DROP",
            "Filters": [
                {
                    "Behavior": "KEEP",
                    "Requirement": "MEETS_ANY",
                    "Conditions": [{"ActionCondition": {"Action": "BLOCK"}}],
                }
            ],
        },
        redacted_fields=[{"QueryString": {}}, {"SingleHeader": {"Name": "Authorization"}}],
    )
    with serve(mw) as url:
        httpx.get(url + "/fine?token=abc", headers={"authorization": "Bearer s3cret"})
        httpx.get(url + "/bad", params={"q": "1' OR '1'='1"}, headers={"authorization": "Bearer s3cret"})
    assert len(records) == 1
    http = records[0]["httpRequest"]
    assert http["args"] == "REDACTED"
    assert [h["value"] for h in http["headers"] if h["name"] == "authorization"] == ["REDACTED"]
    assert records[0]["terminatingRuleMatchDetails"][0]["matchedData"] == ["REDACTED"]
    assert "s3cret" not in json.dumps(records[0])


def test_metrics_endpoint_is_not_evaluated_and_serves_prometheus_text() -> None:
    acl = web_acl(
        [
            rule(
                "count-all",
                1,
                {
                    "SizeConstraintStatement": {
                        "FieldToMatch": {"UriPath": {}},
                        "ComparisonOperator": "GE",
                        "Size": 0,
                        "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
                    }
                },
                action="Count",
                metric="CountAllMetric",
            )
        ],
        default="Block",
    )
    mw = WAFMiddleware(EchoApp(), acl, metrics_path="/metrics")
    with serve(mw) as url:
        assert httpx.get(url + "/page").status_code == 403
        response = httpx.get(url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert 'wafpy_blocked_requests_total{webacl="test-acl-metric",rule="ALL"} 1' in text
    assert 'wafpy_blocked_requests_total{webacl="test-acl-metric",rule="Default_Action"} 1' in text
    assert 'wafpy_counted_requests_total{webacl="test-acl-metric",rule="CountAllMetric"} 1' in text
    assert mw.metrics.snapshot() == {
        "ALL": {"BlockedRequests": 1},
        "Default_Action": {"BlockedRequests": 1},
        "CountAllMetric": {"CountedRequests": 1},
    }


def test_curl_sees_block_and_allow() -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed (apt-get install -y curl)")
    app = EchoApp()
    with serve(WAFMiddleware(app, body_acl())) as url:
        ok = subprocess.run(
            [curl, "-s", "-o", "-", "-w", "\n%{http_code}", "--data-binary", "@-", url + "/x"],
            input=b"plain text body",
            capture_output=True,
            timeout=30,
            check=True,
        )
        body, _, code = ok.stdout.rpartition(b"\n")
        assert code == b"200"
        assert json.loads(body)["sha256"] == hashlib.sha256(b"plain text body").hexdigest()
        blocked = subprocess.run(
            [
                curl,
                "-s",
                "-o",
                os.devnull,
                "-w",
                "%{http_code}",
                "--path-as-is",
                url + "/x?id=1%27%20OR%20%271%27=%271",
            ],
            capture_output=True,
            timeout=30,
            check=True,
        )
        assert blocked.stdout == b"403"
    assert app.calls == 1


def test_lifespan_passes_through_with_and_without_watch(tmp_path: Path) -> None:
    path = tmp_path / "acl.json"
    path.write_text(json.dumps(web_acl([])))
    for watch in (False, True):
        app = EchoApp()
        with serve(WAFMiddleware(app, str(path), watch=watch), lifespan="on") as url:
            assert httpx.get(url + "/").status_code == 200
        assert app.lifespan_events == ["lifespan.startup", "lifespan.shutdown"]


def test_sqli_rule_on_json_like_query_stays_quiet_for_benign_text() -> None:
    app = EchoApp()
    acl = web_acl([rule("q", 1, sqli_match({"QueryString": {}}, "URL_DECODE"))])
    with serve(WAFMiddleware(app, acl)) as url:
        response = httpx.get(url + "/search", params={"q": "red shoes", "page": "2", "sort": "price_asc"})
    assert response.status_code == 200
