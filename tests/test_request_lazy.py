"""The lazy request view against an eager reference: same parts, whenever and in whatever order read.

`Request.from_asgi` and `Request.from_log` leave their decoded parts unset until one is read. The
references below build every part at once, the way the constructors did before they became lazy;
each case compares all public attributes, reading them in different orders.
"""

from __future__ import annotations

import copy
import pickle
from typing import Any
from urllib.parse import quote

import pytest

from wafpy.request import Request

_VERSIONS = {"1.0": "HTTP/1.0", "1.1": "HTTP/1.1", "2": "HTTP/2.0", "3": "HTTP/3.0"}
_PUBLIC = (
    "method",
    "uri",
    "query",
    "fragment",
    "headers",
    "body",
    "body_size",
    "client_ip",
    "http_version",
    "scheme",
    "host",
    "timestamp_ms",
    "request_id",
    "body_available",
)


def eager_from_asgi(scope: dict[str, Any], body: bytes = b"") -> dict[str, Any]:
    """The reference: every part of the view of an ASGI scope, made at once."""
    raw = scope.get("raw_path")
    if raw is None:
        raw = quote(scope.get("path", "/"), safe="/:@!$&'()*+,;=~").encode("ascii")
    fragment = None
    raw = raw.partition(b"?")[0]
    if b"#" in raw:
        raw, _, fragment = raw.partition(b"#")
    headers = tuple((bytes(n), bytes(v)) for n, v in scope.get("headers") or ())
    host = next((v.decode("latin-1") for n, v in headers if n.lower() == b"host"), None)
    version = scope.get("http_version") or "1.1"
    client = scope.get("client")
    return {
        "method": scope["method"].encode("latin-1"),
        "uri": raw,
        "query": scope.get("query_string") or None,
        "fragment": fragment,
        "headers": headers,
        "body": body,
        "body_size": len(body),
        "client_ip": client[0] if client else "",
        "http_version": _VERSIONS.get(version) or f"HTTP/{version if '.' in version else version + '.0'}",
        "scheme": scope.get("scheme") or "http",
        "host": host,
        "timestamp_ms": None,
        "request_id": None,
        "body_available": True,
    }


def _scope(**changes: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/a b",
        "raw_path": b"/a%20b",
        "query_string": b"q=1&r=2",
        "http_version": "1.1",
        "scheme": "https",
        "headers": [(b"host", b"shop.example.com"), (b"user-agent", b"curl/8"), (b"cookie", b"a=1; b=2")],
        "client": ("198.51.100.7", 5000),
    }
    scope.update(changes)
    return scope


SCOPES = {
    "plain": _scope(),
    "no raw_path": {k: v for k, v in _scope().items() if k != "raw_path"},
    "target in raw_path": _scope(raw_path=b"/p?x=1#frag", query_string=b"x=1"),
    "fragment only": _scope(raw_path=b"/p#frag"),
    "list headers": _scope(headers=[[b"Host", b"h.example"], [b"X-A", b"1"]]),
    "mixed-case host": _scope(headers=[(b"HOST", b"upper.example")]),
    "no headers, no client": _scope(headers=[], client=None),
    "http/2": _scope(http_version="2", method="PROPFIND"),
    "empty query": _scope(query_string=b""),
    "no scheme": {k: v for k, v in _scope().items() if k != "scheme"},
}


@pytest.mark.parametrize("name", list(SCOPES))
@pytest.mark.parametrize("order", ["forward", "backward", "memo first"])
def test_from_asgi_matches_the_eager_reference(name: str, order: str) -> None:
    scope = SCOPES[name]
    request = Request.from_asgi(scope, b"body")
    expected = eager_from_asgi(scope, b"body")
    names = list(_PUBLIC) if order != "backward" else list(reversed(_PUBLIC))
    if order == "memo first":
        assert request.header_values(b"host") == [v for n, v in expected["headers"] if n.lower() == b"host"]
    assert {n: getattr(request, n) for n in names} == expected


def test_from_asgi_takes_a_snapshot_of_the_scope() -> None:
    scope = _scope()
    request = Request.from_asgi(scope)
    expected = eager_from_asgi(scope)
    scope["headers"].append((b"x-late", b"1"))  # the app may change the scope afterwards
    scope["raw_path"] = b"/changed"
    assert request.headers == expected["headers"]
    assert request.uri == expected["uri"]


def test_a_lazy_view_pickles_and_copies_whole() -> None:
    for request in (
        Request.from_asgi(_scope()),
        Request.from_log({"httpMethod": "GET", "uri": "/x", "clientIp": "192.0.2.1", "headers": []}),
    ):
        for twin in (pickle.loads(pickle.dumps(request)), copy.copy(request), copy.deepcopy(request)):
            assert twin == request
            assert twin.header_values(b"host") == request.header_values(b"host")


def test_from_log_still_checks_every_field_when_called() -> None:
    base = {"httpMethod": "GET", "uri": "/", "clientIp": "192.0.2.1"}
    for headers, message in (
        ([{"name": 1, "value": "x"}], "headers[0].name"),
        ([{"name": "a", "value": 2}], "headers[0].value"),
        (["a"], "headers[0] must be an object"),
        ({"a": "b"}, "headers must be a list"),
    ):
        with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
            Request.from_log({**base, "headers": headers})


def test_from_log_is_the_keyword_constructor() -> None:
    record = {
        "httpMethod": "POST",
        "uri": "/é",
        "args": "a=1",
        "fragment": "f",
        "clientIp": "192.0.2.1",
        "headers": [{"name": "Host", "value": "h.example"}, {"name": "X", "value": None}],
        "body": "hi",
    }
    lazy = Request.from_log(record)
    eager = Request(
        method="POST",
        uri="/é",
        query="a=1",
        fragment="f",
        client_ip="192.0.2.1",
        headers=[("Host", "h.example"), ("X", "")],
        body="hi",
        host="h.example",
    )
    assert lazy == eager
    assert lazy.host == "h.example"
