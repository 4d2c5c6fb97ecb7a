"""Shared pieces of the middleware tests: a real uvicorn server on 127.0.0.1, an echo app, small
web ACLs, and a minimal MaxMind-format database writer. The tests at the end check the pieces."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
import uvicorn

from tests import builders
from tests.builders import byte_rule, rule, sqli_match

ACCOUNT = "111122223333"
ARN = f"arn:aws:wafv2:eu-west-1:{ACCOUNT}:regional"


# ----------------------------------------------------------------------------------------------
# A real server


@contextlib.contextmanager
def serve(
    app: Any,
    *,
    http: str = "httptools",
    loop: str = "uvloop",
    lifespan: Literal["auto", "on", "off"] = "auto",
) -> Iterator[str]:
    """Run `app` under uvicorn on a free 127.0.0.1 port in a thread; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        http=http,
        loop=loop,
        lifespan=lifespan,
        log_level="warning",
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        # The middleware decides what a forwarded header means; uvicorn must not rewrite the client.
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop"


# ----------------------------------------------------------------------------------------------
# The app behind the middleware


class EchoApp:
    """Answers every HTTP request with JSON describing what reached it; echoes WebSocket text."""

    def __init__(self) -> None:
        self.calls = 0
        self.lifespan_events: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                self.lifespan_events.append(message["type"])
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "websocket":
            self.calls += 1
            assert (await receive())["type"] == "websocket.connect"
            await send({"type": "websocket.accept"})
            message = await receive()
            if message["type"] == "websocket.receive":
                await send({"type": "websocket.send", "text": "echo:" + (message.get("text") or "")})
                await send({"type": "websocket.close", "code": 1000})
            return
        self.calls += 1
        digest = hashlib.sha256()
        length = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            digest.update(chunk)
            length += len(chunk)
            if not message.get("more_body", False):
                break
        waf = (scope.get("state") or {}).get("waf")
        payload = {
            "sha256": digest.hexdigest(),
            "length": length,
            "headers": [[n.decode("latin-1"), v.decode("latin-1")] for n, v in scope["headers"]],
            "action": waf.action if waf is not None else None,
            "terminating_rule": waf.terminating_rule_id if waf is not None else None,
            "labels": list(waf.labels) if waf is not None else None,
        }
        body = json.dumps(payload).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def header(payload: dict[str, Any], name: str) -> list[str]:
    return [v for n, v in payload["headers"] if n == name]


# ----------------------------------------------------------------------------------------------
# Web ACLs (bare WebACL shape)


ACL_ID = "a1b2c3d4-0000-0000-0000-000000000001"


def web_acl(
    rules: list[dict[str, Any]], default: str = "Allow", name: str = "test-acl", **extra: Any
) -> dict[str, Any]:
    """A web ACL with an Id and an ARN, as the middleware's log records name them."""
    return builders.web_acl(
        rules,
        name=name,
        default=default,
        id=ACL_ID,
        arn=f"{ARN}/webacl/{name}/{ACL_ID}",
        metric=name + "-metric",
        **extra,
    )


def body_acl() -> dict[str, Any]:
    """Inspects the body (SQLi, oversize CONTINUE) and the query; Allow by default."""
    return web_acl(
        [
            rule("sqli-body", 10, sqli_match({"Body": {"OversizeHandling": "CONTINUE"}}, "URL_DECODE")),
            rule("sqli-query", 20, sqli_match({"AllQueryArguments": {}}, "URL_DECODE")),
        ]
    )


def blocking_acl(path_prefix: str, name: str) -> dict[str, Any]:
    """Blocks the URIs under `path_prefix`: two names tell a reload's old and new ACL apart."""
    return web_acl([byte_rule("block-" + name, 1, {"UriPath": {}}, path_prefix, "STARTS_WITH")], name=name)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# ----------------------------------------------------------------------------------------------
# A minimal MaxMind DB writer (IPv4 tree, 24-bit records), enough for country / region / ASN


def _mm_control(kind: int, size: int) -> bytes:
    if kind <= 7:
        first = bytes([(kind << 5) | size]) if size < 29 else bytes([(kind << 5) | 29, size - 29])
        return first
    first = bytes([size if size < 29 else 29])
    return first + bytes([kind - 7]) + (b"" if size < 29 else bytes([size - 29]))


def _mm_encode(value: Any) -> bytes:
    if isinstance(value, str):
        data = value.encode()
        return _mm_control(2, len(data)) + data
    if isinstance(value, bool):
        raise TypeError("not needed")
    if isinstance(value, int):
        data = value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""
        return _mm_control(6, len(data)) + data  # uint32
    if isinstance(value, dict):
        out = _mm_control(7, len(value))
        for key, item in value.items():
            out += _mm_encode(key) + _mm_encode(item)
        return out
    if isinstance(value, list):
        out = _mm_control(11, len(value))
        for item in value:
            out += _mm_encode(item)
        return out
    raise TypeError(type(value))


def _mm_uint16(value: int) -> bytes:
    return _mm_control(5, 2) + value.to_bytes(2, "big")


def write_mmdb(path: Path, networks: dict[str, dict[str, Any]], database_type: str = "wafpy-test") -> None:
    """Write an IPv4 MaxMind DB mapping each CIDR to its record."""
    data = b""
    offsets = []
    for record in networks.values():
        offsets.append(len(data))
        data += _mm_encode(record)
    # Binary trie: node -> [left, right]; a leaf value ("data", i) or None.
    nodes: list[list[Any]] = [[None, None]]
    for index, cidr in enumerate(networks):
        net = ipaddress.ip_network(cidr)
        bits = int(net.network_address)
        node = 0
        for depth in range(net.prefixlen):
            bit = (bits >> (31 - depth)) & 1
            if depth == net.prefixlen - 1:
                nodes[node][bit] = ("data", index)
            else:
                child = nodes[node][bit]
                if not isinstance(child, int):
                    nodes.append([child, child])
                    child = nodes[node][bit] = len(nodes) - 1
                node = child
    count = len(nodes)
    tree = b""
    for left, right in nodes:
        for item in (left, right):
            if item is None:
                value = count
            elif isinstance(item, tuple):
                value = count + 16 + offsets[item[1]]
            else:
                value = item
            tree += value.to_bytes(3, "big")
    metadata: dict[str, Any] = {
        "node_count": count,
        "ip_version": 4,
        "database_type": database_type,
        "languages": ["en"],
        "description": {"en": "wafpy test database"},
        "build_epoch": 1700000000,
    }
    meta = _mm_control(7, len(metadata) + 3)
    for key, value in metadata.items():
        meta += _mm_encode(key)
        if key == "ip_version":
            meta += _mm_uint16(value)
        elif key == "build_epoch":
            meta += _mm_control(9, 8) + value.to_bytes(8, "big")  # uint64, as libmaxminddb insists
        else:
            meta += _mm_encode(value)
    meta += _mm_encode("record_size") + _mm_uint16(24)
    meta += _mm_encode("binary_format_major_version") + _mm_uint16(2)
    meta += _mm_encode("binary_format_minor_version") + _mm_uint16(0)
    path.write_bytes(tree + b"\x00" * 16 + data + b"\xab\xcd\xefMaxMind.com" + meta)


# ----------------------------------------------------------------------------------------------
# Tests of the helpers themselves


def test_mmdb_writer_is_read_by_maxminddb(tmp_path: Path) -> None:
    import maxminddb

    db = tmp_path / "geo.mmdb"
    write_mmdb(
        db,
        {
            "203.0.113.0/24": {"country": {"iso_code": "NL"}, "subdivisions": [{"iso_code": "NH"}]},
            "198.51.100.0/25": {"country": {"iso_code": "US"}, "autonomous_system_number": 64500},
        },
    )
    with maxminddb.open_database(str(db)) as reader:
        assert reader.get("203.0.113.77") == {
            "country": {"iso_code": "NL"},
            "subdivisions": [{"iso_code": "NH"}],
        }
        assert reader.get("198.51.100.1") == {
            "country": {"iso_code": "US"},
            "autonomous_system_number": 64500,
        }
        assert reader.get("198.51.100.200") is None
        assert reader.get("192.0.2.1") is None


@pytest.mark.slow
def test_server_fixture_serves_and_stops() -> None:
    import httpx

    app = EchoApp()
    with serve(app) as url:
        response = httpx.get(url + "/ping")
        assert response.status_code == 200
        assert response.json()["action"] is None
    assert app.lifespan_events == ["lifespan.startup", "lifespan.shutdown"]
