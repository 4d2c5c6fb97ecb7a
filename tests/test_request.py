from __future__ import annotations

import base64
from typing import Any

import pytest

from wafpy.request import (
    COOKIE_BYTES_LIMIT,
    COOKIE_COUNT_LIMIT,
    HEADER_BYTES_LIMIT,
    HEADER_COUNT_LIMIT,
    Request,
)


def _log(**over: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "clientIp": "203.0.113.10",
        "country": "US",
        "headers": [{"name": "Host", "value": "www.example.com"}, {"name": "X-A", "value": "1"}],
        "uri": "/a%2Fb",
        "args": "x=1&y=2",
        "httpVersion": "HTTP/1.1",
        "httpMethod": "POST",
        "requestId": "1-abc",
    }
    record.update(over)
    return record


def _scope(**over: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/a/b",
        "raw_path": b"/a%2Fb",
        "query_string": b"q=1",
        "headers": [(b"host", b"example.com"), (b"cookie", b"a=1")],
        "client": ("198.51.100.7", 5555),
        "http_version": "1.1",
        "scheme": "https",
    }
    scope.update(over)
    return scope


# ------------------------------------------------------------------------------------------------
# Keyword constructor


def test_defaults() -> None:
    r = Request()
    assert (r.method, r.uri, r.query, r.fragment, r.headers) == (b"GET", b"/", None, None, ())
    assert (r.body, r.body_size, r.client_ip, r.http_version) == (b"", 0, "127.0.0.1", "HTTP/1.1")
    assert r.body_available is True


@pytest.mark.parametrize(
    ("kwargs", "attr", "expected"),
    [
        ({"method": "DELETE"}, "method", b"DELETE"),
        ({"uri": "/caf\u00e9"}, "uri", "/caf\u00e9".encode()),
        ({"query": ""}, "query", b""),
        ({"query": "a=1"}, "query", b"a=1"),
        ({"fragment": "top"}, "fragment", b"top"),
        ({"body": "\u00e9"}, "body", b"\xc3\xa9"),
        ({"body": b"abc"}, "body_size", 3),
        ({"body": b"abc", "body_size": 9000}, "body_size", 9000),
        ({"headers": [("Host", "h")]}, "headers", ((b"Host", b"h"),)),
        ({"headers": [(b"A", b"1"), ("B", b"2")]}, "headers", ((b"A", b"1"), (b"B", b"2"))),
    ],
)
def test_keyword_constructor_normalizes_text_to_utf8_bytes(
    kwargs: dict[str, Any], attr: str, expected: object
) -> None:
    assert getattr(Request(**kwargs), attr) == expected


def test_replace_recomputes_body_size_and_memo() -> None:
    r = Request(body=b"abc", headers=[(b"Host", b"a")])
    assert r.header_values(b"host") == [b"a"]
    r2 = r.replace(body=b"abcdef", headers=((b"Host", b"b"),))
    assert r2.body_size == 6
    assert r2.header_values(b"host") == [b"b"]
    assert r.header_values(b"host") == [b"a"]


# ------------------------------------------------------------------------------------------------
# Query arguments (spec §3.2)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (None, []),
        (b"", []),
        (b"a=1&&b=2", [(b"a", b"1"), (b"b", b"2")]),
        (b"a", [(b"a", b"")]),
        (b"=x", [(b"", b"x")]),
        (b"a=1=2", [(b"a", b"1=2")]),
        (b"a=1;b=2", [(b"a", b"1;b=2")]),
        (b"&&&", []),
        (b"a=%26&b", [(b"a", b"%26"), (b"b", b"")]),
        (b"A=1&a=2", [(b"A", b"1"), (b"a", b"2")]),
        (b"a+b=c+d", [(b"a+b", b"c+d")]),
    ],
)
def test_query_args_table(query: bytes | None, expected: list[tuple[bytes, bytes]]) -> None:
    assert Request(query=query).query_args() == expected


def test_query_args_pre_parse_runs_before_split_and_is_memoized_per_key() -> None:
    calls: list[bytes] = []

    def semicolons(raw: bytes) -> bytes:
        calls.append(raw)
        return raw.replace(b";", b"&")

    r = Request(query=b"a=1;b=2")
    assert r.query_args(semicolons, "SEMI") == [(b"a", b"1"), (b"b", b"2")]
    assert r.query_args(semicolons, "SEMI") == [(b"a", b"1"), (b"b", b"2")]
    assert calls == [b"a=1;b=2"]
    # The chain-less view is separate.
    assert r.query_args() == [(b"a", b"1;b=2")]


def test_query_args_pre_parse_not_called_without_query() -> None:
    def boom(raw: bytes) -> bytes:
        raise AssertionError("called")

    assert Request(query=None).query_args(boom, "x") == []


# ------------------------------------------------------------------------------------------------
# Headers and their limits (spec §7.2)


def test_header_values_case_insensitive_all_values_in_order() -> None:
    r = Request(headers=[(b"X-A", b"1"), (b"x-b", b"2"), (b"x-a", b"3")])
    assert r.header_values(b"x-a") == [b"1", b"3"]
    assert r.header_values(b"x-c") == []


@pytest.mark.parametrize(
    ("count", "visible", "oversize"),
    [(199, 199, False), (200, 200, False), (201, 200, True), (450, 200, True)],
)
def test_header_count_limit(count: int, visible: int, oversize: bool) -> None:
    r = Request(headers=[(b"h%d" % i, b"v") for i in range(count)])
    assert len(r.visible_headers) == visible
    assert r.headers_oversize is oversize
    # A header beyond the limit is invisible to header_values.
    assert r.header_values(b"h%d" % (count - 1)) == ([b"v"] if count <= HEADER_COUNT_LIMIT else [])


def _sized_headers(total: int) -> list[tuple[bytes, bytes]]:
    # Two headers whose counted size (name + value + 4 each) adds up to `total`.
    first = (b"A", b"x" * 995)  # 1 + 995 + 4 = 1000
    rest = total - 1000 - 4 - 1
    return [first, (b"B", b"y" * rest)]


@pytest.mark.parametrize(
    ("total", "visible", "oversize"),
    [
        (HEADER_BYTES_LIMIT - 1, 2, False),
        (HEADER_BYTES_LIMIT, 2, False),
        (HEADER_BYTES_LIMIT + 1, 1, True),
    ],
)
def test_header_byte_limit_counts_name_value_plus_four(total: int, visible: int, oversize: bool) -> None:
    r = Request(headers=_sized_headers(total))
    assert len(r.visible_headers) == visible
    assert r.headers_oversize is oversize
    assert r.header_values(b"b") == ([] if oversize else [r.headers[1][1]])


# ------------------------------------------------------------------------------------------------
# Cookies (spec §3.5) and their limits


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], []),
        ([(b"Cookie", b"a=1; b=2")], [(b"a", b"1"), (b"b", b"2")]),
        ([(b"cookie", b" a=1 ;b=2;; ")], [(b"a", b"1"), (b"b", b"2")]),
        ([(b"Cookie", b"flag")], [(b"flag", b"")]),
        ([(b"Cookie", b"a=b=c")], [(b"a", b"b=c")]),
        ([(b"Cookie", b"a=%3Cx%3E")], [(b"a", b"%3Cx%3E")]),
        ([(b"Cookie", b"a=1"), (b"X", b"b=9"), (b"COOKIE", b"c=3")], [(b"a", b"1"), (b"c", b"3")]),
        ([(b"Set-Cookie", b"a=1")], []),
    ],
)
def test_cookie_parsing(headers: list[tuple[bytes, bytes]], expected: list[tuple[bytes, bytes]]) -> None:
    r = Request(headers=headers)
    assert r.cookies == expected
    assert r.cookies_oversize is False


@pytest.mark.parametrize(
    ("count", "visible", "oversize"),
    [(200, 200, False), (201, 200, True)],
)
def test_cookie_count_limit(count: int, visible: int, oversize: bool) -> None:
    # Spread over several Cookie headers: the limit applies to the concatenation.
    half = count // 2
    first = b"; ".join(b"c%d=1" % i for i in range(half))
    second = b"; ".join(b"c%d=1" % i for i in range(half, count))
    r = Request(headers=[(b"Cookie", first), (b"Cookie", second)])
    assert len(r.cookies) == visible
    assert r.cookies_oversize is oversize
    assert COOKIE_COUNT_LIMIT == 200


@pytest.mark.parametrize(
    ("size", "visible", "oversize"),
    [(COOKIE_BYTES_LIMIT, 2, False), (COOKIE_BYTES_LIMIT + 1, 1, True)],
)
def test_cookie_byte_limit(size: int, visible: int, oversize: bool) -> None:
    # "a=" + 998 bytes = 1000; "; " = 2; "b=" + rest.
    rest = size - 1000 - 2 - 2
    value = b"a=" + b"x" * 998 + b"; b=" + b"y" * rest
    r = Request(headers=[(b"Cookie", value)])
    assert len(value) == size
    assert len(r.cookies) == visible
    assert r.cookies_oversize is oversize


# ------------------------------------------------------------------------------------------------
# from_log


def test_from_log_fields() -> None:
    r = Request.from_log(_log(fragment="frag", scheme="https", ja3Fingerprint="abc"), 1700000000123)
    assert r.method == b"POST"
    assert r.uri == b"/a%2Fb"
    assert r.query == b"x=1&y=2"
    assert r.fragment == b"frag"
    assert r.headers == ((b"Host", b"www.example.com"), (b"X-A", b"1"))
    assert (r.client_ip, r.country, r.http_version) == ("203.0.113.10", "US", "HTTP/1.1")
    assert (r.request_id, r.scheme, r.host, r.ja3, r.ja4) == (
        "1-abc",
        "https",
        "www.example.com",
        "abc",
        None,
    )
    assert r.timestamp_ms == 1700000000123
    # A log record carries no body: body statements are not evaluable unless the caller says so.
    assert (r.body, r.body_size, r.body_available) == (b"", 0, False)


@pytest.mark.parametrize(
    ("over", "attr", "expected"),
    [
        ({"args": ""}, "query", None),
        ({"args": None}, "query", None),
        ({"fragment": ""}, "fragment", None),
        ({"country": "-"}, "country", None),
        ({"body": "caf\u00e9"}, "body", b"caf\xc3\xa9"),
        ({"bodyBase64": base64.b64encode(b"\x00\xff").decode()}, "body", b"\x00\xff"),
        ({"bodyBase64": base64.b64encode(b"\x00\xff").decode()}, "body_size", 2),
        ({"host": "h.example"}, "host", "h.example"),
        ({"httpVersion": "HTTP/2.0"}, "http_version", "HTTP/2.0"),
        ({"headers": [{"name": "X", "value": None}]}, "headers", ((b"X", b""),)),
    ],
)
def test_from_log_choices(over: dict[str, Any], attr: str, expected: object) -> None:
    assert getattr(Request.from_log(_log(**over)), attr) == expected


def test_from_log_body_available_keyword() -> None:
    r = Request.from_log(_log(), body_available=False, body_size=120)
    assert r.body_available is False
    assert r.body_size == 120


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"uri": None}, "uri"),
        ({"uri": 5}, "uri"),
        ({"httpMethod": ["GET"]}, "httpMethod"),
        ({"clientIp": None}, "clientIp"),
        ({"args": 3}, "args"),
        ({"headers": "Host: x"}, "headers"),
        ({"headers": [["Host", "x"]]}, "headers[0]"),
        ({"headers": [{"name": 1, "value": "x"}]}, "headers[0].name"),
        ({"headers": [{"name": "a", "value": 1}]}, "headers[0].value"),
        ({"bodyBase64": "***"}, "bodyBase64"),
        ({"bodyBase64": 12}, "bodyBase64"),
        ({"body": b"raw"}, "body"),
        ({"body": "a", "bodyBase64": "YQ=="}, "bodyBase64"),
        ({"country": 1}, "country"),
    ],
)
def test_from_log_malformed_names_the_field(over: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        Request.from_log(_log(**over))


def test_from_log_rejects_non_mapping() -> None:
    with pytest.raises(ValueError, match="httpRequest"):
        Request.from_log(["not", "a", "dict"])  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# from_asgi (spec §11)


def test_from_asgi_fields() -> None:
    r = Request.from_asgi(_scope(), b"body", 10, country="NL", ja3="j3", timestamp_ms=5)
    assert r.method == b"GET"
    assert r.uri == b"/a%2Fb"  # raw_path, not the decoded path
    assert r.query == b"q=1"
    assert r.headers == ((b"host", b"example.com"), (b"cookie", b"a=1"))
    assert (r.body, r.body_size) == (b"body", 10)
    assert (r.client_ip, r.country, r.ja3, r.timestamp_ms) == ("198.51.100.7", "NL", "j3", 5)
    assert (r.http_version, r.scheme, r.host) == ("HTTP/1.1", "https", "example.com")
    assert r.cookies == [(b"a", b"1")]


@pytest.mark.parametrize(
    ("over", "attr", "expected"),
    [
        ({"query_string": b""}, "query", None),
        ({"raw_path": None, "path": "/caf\u00e9 x"}, "uri", b"/caf%C3%A9%20x"),
        ({"raw_path": b"/p?x=1"}, "uri", b"/p"),
        ({"raw_path": b"/p#frag"}, "fragment", b"frag"),
        ({"http_version": "2"}, "http_version", "HTTP/2.0"),
        ({"client": None}, "client_ip", ""),
        ({"headers": [[b"a", b"1"]]}, "headers", ((b"a", b"1"),)),
        ({"headers": ((b"a", b"1"),)}, "headers", ((b"a", b"1"),)),
        ({"headers": []}, "host", None),
        ({"raw_path": b"/p?x=1#f"}, "uri", b"/p"),
        ({"http_version": "1.0"}, "http_version", "HTTP/1.0"),
        ({"http_version": "3"}, "http_version", "HTTP/3.0"),
        ({"http_version": "2.0"}, "http_version", "HTTP/2.0"),
        ({"http_version": None}, "http_version", "HTTP/1.1"),
        ({"method": "PROPFIND"}, "method", b"PROPFIND"),
        ({"method": "get"}, "method", b"get"),  # kept as sent, not upper-cased
        ({"headers": [(b"accept", b"*/*"), (b"HOST", b"h.example")]}, "host", "h.example"),
        ({"headers": [(b"hosts", b"x"), (b"hos", b"y"), (b"Host", b"z")]}, "host", "z"),
    ],
)
def test_from_asgi_mapping(over: dict[str, Any], attr: str, expected: object) -> None:
    scope = _scope(**over)
    if scope.get("raw_path") is None:
        del scope["raw_path"]
    assert getattr(Request.from_asgi(scope), attr) == expected


def test_from_asgi_client_ip_override() -> None:
    assert Request.from_asgi(_scope(), client_ip="192.0.2.1").client_ip == "192.0.2.1"


# ------------------------------------------------------------------------------------------------
# to_http_request round trips


@pytest.mark.parametrize(
    "record",
    [
        _log(host="www.example.com"),
        _log(args="", host="www.example.com"),
        _log(country="-", fragment="f", scheme="https", host="h", args="a=%C3%A9&b=\u00e9"),
        _log(headers=[], httpVersion="HTTP/2.0", host="h"),
    ],
)
def test_log_round_trip(record: dict[str, Any]) -> None:
    r = Request.from_log(record)
    out = r.to_http_request()
    assert out == record
    assert Request.from_log(out) == r


def test_asgi_to_http_request() -> None:
    out = Request.from_asgi(_scope(query_string=b"")).to_http_request()
    assert out == {
        "clientIp": "198.51.100.7",
        "country": "-",
        "headers": [{"name": "host", "value": "example.com"}, {"name": "cookie", "value": "a=1"}],
        "uri": "/a%2Fb",
        "args": "",
        "httpVersion": "HTTP/1.1",
        "httpMethod": "GET",
        "scheme": "https",
        "host": "example.com",
    }


def test_to_http_request_non_utf8_bytes_fall_back_to_latin1() -> None:
    out = Request(uri=b"/\xff", headers=[(b"X", b"\xe9")]).to_http_request()
    assert out["uri"] == "/\u00ff"
    assert out["headers"] == [{"name": "X", "value": "\u00e9"}]


def test_equality_ignores_memo() -> None:
    a = Request(headers=[(b"Cookie", b"a=1")])
    b = Request(headers=[(b"Cookie", b"a=1")])
    assert a.cookies == [(b"a", b"1")]
    assert a == b and hash(a) == hash(b)
    assert a != Request(headers=[(b"Cookie", b"a=2")])


def test_limits_constants() -> None:
    assert (HEADER_COUNT_LIMIT, HEADER_BYTES_LIMIT, COOKIE_BYTES_LIMIT) == (200, 8192, 8192)
