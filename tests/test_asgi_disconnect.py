"""A client that leaves while sending its body: nothing is forwarded or answered, but the request is
logged (evaluated on what arrived, marked as such) and counted."""

from __future__ import annotations

import socket
import time
from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest

from tests.test_asgi_support import EchoApp, body_acl, run, serve
from wafpy import WAFMiddleware
from wafpy.middleware.asgi import CLIENT_DISCONNECTED_FIELD, UNSPECIFIED_CHOICES

SQLI = b"user=admin' OR 1=1--"


def scope(content_length: int) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/login",
        "raw_path": b"/login",
        "query_string": b"",
        "headers": [
            (b"host", b"shop.example.com"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(content_length).encode()),
        ],
        "client": ("203.0.113.7", 50000),
        "server": ("127.0.0.1", 8000),
    }


CASES = [
    # (what arrived before the client left, action evaluated on it, terminating rule)
    ([], "ALLOW", "Default_Action"),
    ([b"user=alice&pass"], "ALLOW", "Default_Action"),
    ([b"user=admin' OR ", b"1=1--"], "BLOCK", "sqli-body"),
]


@pytest.mark.parametrize(("chunks", "action", "rule"), CASES)
def test_client_leaving_mid_body_is_logged_and_counted(chunks: list[bytes], action: str, rule: str) -> None:
    app = EchoApp()
    records: list[dict[str, Any]] = []
    mw = WAFMiddleware(app, body_acl(), log=records.append, http_source_id="alb-1")
    arrived = b"".join(chunks)
    messages = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]
    messages.append({"type": "http.disconnect"})
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    run(mw(scope(len(arrived) + 1000), receive, send))

    assert app.calls == 0 and sent == []  # nothing forwarded, nothing answered: nobody to answer
    [record] = records
    assert record[CLIENT_DISCONNECTED_FIELD] is True
    assert (record["action"], record["terminatingRuleId"]) == (action, rule)
    assert record["requestBodySize"] == len(arrived)  # what arrived, not the announced length
    assert record["requestBodySizeInspectedByWAF"] == len(arrived)
    assert record["responseCodeSent"] is None and record["requestHeadersInserted"] is None
    assert record["httpRequest"]["uri"] == "/login" and record["httpSourceId"] == "alb-1"
    assert mw.metrics.client_disconnects == 1
    assert mw.metrics.snapshot()["ALL"] == {"AllowedRequests" if action == "ALLOW" else "BlockedRequests": 1}
    assert "wafpy_client_disconnects_total{" in mw.metrics.prometheus()


@pytest.mark.slow
def test_complete_requests_carry_no_disconnect_marker() -> None:
    records: list[dict[str, Any]] = []
    mw = WAFMiddleware(EchoApp(), body_acl(), log=records.append)
    with serve(mw) as url:
        httpx.post(url + "/login", content=b"user=alice")
    assert CLIENT_DISCONNECTED_FIELD not in records[0]
    assert mw.metrics.client_disconnects == 0


def test_the_choice_is_recorded() -> None:
    assert CLIENT_DISCONNECTED_FIELD in UNSPECIFIED_CHOICES["client disconnect during the body"]


@pytest.mark.slow
@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_a_real_client_leaving_mid_body_is_logged(http: str) -> None:
    app = EchoApp()
    records: list[dict[str, Any]] = []
    mw = WAFMiddleware(app, body_acl(), log=records.append, metrics_path="/metrics")
    with serve(mw, http=http) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            head = (
                b"POST /login HTTP/1.1\r\nHost: shop.example.com\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000\r\n\r\n"
            )
            sock.sendall(head + SQLI)
            time.sleep(0.2)  # let the server read the part, then leave before the rest
        deadline = time.monotonic() + 20
        while not records and time.monotonic() < deadline:
            time.sleep(0.02)
        metrics = httpx.get(url + "/metrics").text
    assert app.calls == 0
    [record] = records
    assert record[CLIENT_DISCONNECTED_FIELD] is True
    assert (record["action"], record["terminatingRuleId"]) == ("BLOCK", "sqli-body")
    assert record["requestBodySize"] == len(SQLI)
    assert 'wafpy_client_disconnects_total{webacl="test-acl-metric"} 1' in metrics
    assert 'wafpy_blocked_requests_total{webacl="test-acl-metric",rule="sqli-body"} 1' in metrics
