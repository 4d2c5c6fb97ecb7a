"""What the `Request` constructors accept, and what they refuse with a message saying why.

The keyword constructor splits a whole request target given as `uri` (as AWS WAF separates UriPath
and QueryString), takes headers as pairs or as a mapping, and refuses what it cannot read;
`Request.from_log` takes a whole log record as well as its `httpRequest`, and says a body is
available only when the object carries one.
"""

from __future__ import annotations

from typing import Any

import pytest

import wafpy
from wafpy.request import Request

# ------------------------------------------------------------------------------------------------
# uri, query and fragment


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"uri": "/search"}, (b"/search", None, None)),
        ({"uri": "/search?q=<script>"}, (b"/search", b"q=<script>", None)),
        ({"uri": "/search?"}, (b"/search", b"", None)),
        ({"uri": "/a?x=1?y=2"}, (b"/a", b"x=1?y=2", None)),
        ({"uri": "/a#top"}, (b"/a", None, b"top")),
        ({"uri": "/a?x=1#top"}, (b"/a", b"x=1", b"top")),
        ({"uri": "/a#f?x"}, (b"/a", None, b"f?x")),
        ({"uri": b"/a?x=%00"}, (b"/a", b"x=%00", None)),
        ({"uri": "/a", "query": "x=1"}, (b"/a", b"x=1", None)),
        ({"uri": "/a?x=1", "fragment": "f"}, (b"/a", b"x=1", b"f")),
        ({"uri": "/a%3Fb"}, (b"/a%3Fb", None, None)),
    ],
)
def test_uri_is_split_like_the_request_line(kwargs: dict[str, Any], expected: tuple[Any, ...]) -> None:
    r = Request(**kwargs)
    assert (r.uri, r.query, r.fragment) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"uri": "/a?x=1", "query": "y=2"}, "query="),
        ({"uri": "/a?", "query": ""}, "query="),
        ({"uri": "/a#f", "fragment": "g"}, "fragment="),
    ],
)
def test_a_part_given_twice_is_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Request(**kwargs)


def test_the_query_in_uri_reaches_query_string_rules() -> None:
    acl = wafpy.load_web_acl(
        {
            "Name": "xss",
            "DefaultAction": {"Allow": {}},
            "VisibilityConfig": {
                "SampledRequestsEnabled": False,
                "CloudWatchMetricsEnabled": False,
                "MetricName": "xss",
            },
            "Rules": [
                {
                    "Name": "xss-query",
                    "Priority": 0,
                    "Action": {"Block": {}},
                    "VisibilityConfig": {
                        "SampledRequestsEnabled": False,
                        "CloudWatchMetricsEnabled": False,
                        "MetricName": "xss-query",
                    },
                    "Statement": {
                        "XssMatchStatement": {
                            "FieldToMatch": {"QueryString": {}},
                            "TextTransformations": [{"Priority": 0, "Type": "URL_DECODE"}],
                        }
                    },
                }
            ],
        }
    )
    assert acl.evaluate(Request(uri="/search?q=<script>alert(1)</script>")).action == "BLOCK"


def test_replace_keeps_the_split() -> None:
    r = Request(uri="/a?x=1")
    assert r.replace(method="POST") == Request(method="POST", uri="/a", query="x=1")
    assert r.replace(uri="/b", query=None) == Request(uri="/b")
    with pytest.raises(ValueError, match="query="):
        r.replace(uri="/b?y=2")
    # A logged uri holding '?' (not something AWS writes) stays as read when other parts change.
    logged = Request.from_log({"httpMethod": "GET", "uri": "/a?b", "args": "x=1", "clientIp": "192.0.2.1"})
    assert (logged.uri, logged.query) == (b"/a?b", b"x=1")
    copy = logged.replace(client_ip="192.0.2.2")
    assert (copy.uri, copy.query, copy.client_ip) == (b"/a?b", b"x=1", "192.0.2.2")


# ------------------------------------------------------------------------------------------------
# headers


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([("Host", "a.example")], ((b"Host", b"a.example"),)),
        ([[b"Host", b"a.example"]], ((b"Host", b"a.example"),)),
        ({"Host": "a.example", "X-A": "1"}, ((b"Host", b"a.example"), (b"X-A", b"1"))),
        ({b"Host": b"a.example"}, ((b"Host", b"a.example"),)),
        ({"Cookie": ["a=1", "b=2"]}, ((b"Cookie", b"a=1"), (b"Cookie", b"b=2"))),
        ({}, ()),
        ((), ()),
        (iter([("A", "1")]), ((b"A", b"1"),)),
    ],
)
def test_headers_as_pairs_or_a_mapping(headers: Any, expected: tuple[tuple[bytes, bytes], ...]) -> None:
    r = Request(headers=headers)
    assert r.headers == expected
    assert r.header_values(b"host") == [v for n, v in expected if n.lower() == b"host"]


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ("Host: a.example", "not a string"),
        (b"Host: a.example", "not a string"),
        ([("Host", "a.example", "extra")], "pairs"),
        ([("Host",)], "pairs"),
        (["Host"], "pairs"),
        ([("Host", 1)], "not a string"),
        ([(1, "x")], "not a string"),
        ({"Host": 1}, "not a string"),
        ({1: "x"}, "not a string"),
        ({"Cookie": [1]}, "not a string"),
        (42, "int"),
    ],
)
def test_bad_headers_are_a_type_error(headers: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        Request(headers=headers)


# ------------------------------------------------------------------------------------------------
# from_log: a whole record, and whether a body is available

HTTP_REQUEST: dict[str, Any] = {
    "clientIp": "203.0.113.10",
    "country": "US",
    "headers": [{"name": "Host", "value": "www.example.com"}],
    "uri": "/a",
    "args": "x=1",
    "httpVersion": "HTTP/1.1",
    "httpMethod": "GET",
}


def test_a_whole_log_record_is_read() -> None:
    record = {
        "timestamp": 1700000000123,
        "action": "ALLOW",
        "ja3Fingerprint": "j3",
        "ja4Fingerprint": "j4",
        "httpRequest": HTTP_REQUEST,
    }
    r = Request.from_log(record)
    assert r == Request.from_log(HTTP_REQUEST, 1700000000123, ja3="j3", ja4="j4")
    assert (r.uri, r.query, r.client_ip, r.timestamp_ms, r.ja3, r.ja4) == (
        b"/a",
        b"x=1",
        "203.0.113.10",
        1700000000123,
        "j3",
        "j4",
    )
    # The arguments win over the record's own fields.
    given = Request.from_log(record, 5, ja3="mine")
    assert (given.timestamp_ms, given.ja3, given.ja4) == (5, "mine", "j4")


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"httpRequest": "GET /"}, "httpRequest must be an object"),
        ({"httpRequest": {**HTTP_REQUEST, "uri": None}}, "httpRequest.uri is missing"),
        ({"httpRequest": HTTP_REQUEST, "timestamp": "yesterday"}, "timestamp must be an integer"),
        ({"httpRequest": HTTP_REQUEST, "ja3Fingerprint": 3}, "ja3Fingerprint must be a string"),
    ],
)
def test_a_bad_log_record_names_the_field(record: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Request.from_log(record)


@pytest.mark.parametrize(
    ("source", "keywords", "expected"),
    [
        (HTTP_REQUEST, {}, False),
        ({"httpRequest": HTTP_REQUEST}, {}, False),
        ({**HTTP_REQUEST, "body": ""}, {}, True),
        ({**HTTP_REQUEST, "body": "a=1"}, {}, True),
        ({**HTTP_REQUEST, "bodyBase64": "YT0x"}, {}, True),
        (HTTP_REQUEST, {"body_available": True}, True),
        ({**HTTP_REQUEST, "body": "a=1"}, {"body_available": False}, False),
    ],
)
def test_from_log_body_available_is_what_the_source_carries(
    source: dict[str, Any], keywords: dict[str, Any], expected: bool
) -> None:
    assert Request.from_log(source, **keywords).body_available is expected


def test_the_keyword_constructor_has_its_body() -> None:
    assert Request().body_available is True
    assert Request(body=b"a=1").body_available is True
