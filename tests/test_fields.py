from __future__ import annotations

from collections.abc import Callable

import pytest

from wafpy import model as ast
from wafpy.errors import NotAvailableError
from wafpy.matching.fields import LOCATIONS, UNSPECIFIED_CHOICES, Extracted, extractor
from wafpy.request import Request

H = list[tuple[bytes, bytes]]

BASE_HEADERS: H = [
    (b"Host", b"www.example.com"),
    (b"User-Agent", b"ua/1"),
    (b"X-Api-Key", b"k1"),
    (b"Cookie", b"session=abc; role=admin"),
    (b"x-api-key", b"k2"),
]


def run(field: ast.FieldToMatch, request: Request, limit: int = 8192) -> Extracted:
    return extractor(field, None, limit)(request)


def elements(field: ast.FieldToMatch, request: Request) -> tuple[list[bytes], bool | None]:
    got = run(field, request)
    return got.elements, got.forced


def names(all_: bool = False, inc: tuple[str, ...] = (), exc: tuple[str, ...] = ()) -> ast.NameMatchPattern:
    return ast.NameMatchPattern(all=all_, included=inc, excluded=exc)


# ------------------------------------------------------------------------------------------------
# Single-element components


@pytest.mark.parametrize(
    ("field", "request_", "expected"),
    [
        (ast.UriPath(), Request(uri=b"/admin%2Fpanel", query=b"a=1"), [b"/admin%2Fpanel"]),
        (ast.QueryString(), Request(query=b"debug=1&trace=1"), [b"debug=1&trace=1"]),
        (ast.QueryString(), Request(query=b""), [b""]),
        (ast.QueryString(), Request(query=None), []),
        (ast.Method(), Request(method=b"DELETE"), [b"DELETE"]),
        (ast.Method(), Request(method=b"get"), [b"get"]),
        (ast.UriFragment(fallback_behavior="NO_MATCH"), Request(fragment=b"x=<y>"), [b"x=<y>"]),
        (ast.JA3Fingerprint(fallback_behavior="NO_MATCH"), Request(ja3="a" * 32), [b"a" * 32]),
        (ast.JA4Fingerprint(fallback_behavior="MATCH"), Request(ja4="t13d_x_y"), [b"t13d_x_y"]),
    ],
)
def test_simple_components(field: ast.FieldToMatch, request_: Request, expected: list[bytes]) -> None:
    assert elements(field, request_) == (expected, None)


@pytest.mark.parametrize(
    ("field", "request_", "forced"),
    [
        (ast.JA3Fingerprint(fallback_behavior="MATCH"), Request(), True),
        (ast.JA3Fingerprint(fallback_behavior="NO_MATCH"), Request(), False),
        (ast.JA3Fingerprint(fallback_behavior="MATCH"), Request(ja3=""), True),
        (ast.JA4Fingerprint(fallback_behavior="MATCH"), Request(ja3="x"), True),
        (ast.JA4Fingerprint(fallback_behavior="NO_MATCH"), Request(), False),
        (ast.UriFragment(fallback_behavior="MATCH"), Request(), True),
        (ast.UriFragment(), Request(), False),
    ],
)
def test_fallback_behaviour(field: ast.FieldToMatch, request_: Request, forced: bool) -> None:
    assert elements(field, request_) == ([], forced)


# ------------------------------------------------------------------------------------------------
# Query arguments


@pytest.mark.parametrize(
    ("field", "query", "expected", "expected_names"),
    [
        (ast.SingleQueryArgument(name="username"), b"USERNAME=root&x=1", [b"root"], [b"USERNAME"]),
        (
            ast.SingleQueryArgument(name="UserName"),
            b"username=alice&username=root",
            [b"alice", b"root"],
            None,
        ),
        (ast.SingleQueryArgument(name="user"), b"username=root", [], None),
        (ast.SingleQueryArgument(name="a"), b"a=1;b=2", [b"1;b=2"], None),
        (ast.SingleQueryArgument(name="a%20b"), b"a%20b=1&a b=2", [b"1"], None),
        (ast.SingleQueryArgument(name="flag"), b"flag&x=1", [b""], None),
        (ast.SingleQueryArgument(name="a"), None, [], None),
        (
            ast.AllQueryArguments(),
            b"file=..%2Fetc&etc/passwd=1",
            [b"..%2Fetc", b"1"],
            [b"file", b"etc/passwd"],
        ),
        (ast.AllQueryArguments(), b"a=1&&b=2=3", [b"1", b"2=3"], [b"a", b"b"]),
        (ast.AllQueryArguments(), b"", [], []),
    ],
)
def test_query_arguments(
    field: ast.FieldToMatch, query: bytes | None, expected: list[bytes], expected_names: list[bytes] | None
) -> None:
    got = run(field, Request(query=query))
    assert got.elements == expected
    assert got.forced is None
    assert got.location == "QUERY_STRING"
    if expected_names is not None:
        assert got.names == expected_names


def _semicolons(raw: bytes) -> bytes:
    return raw.replace(b";", b"&")


@pytest.mark.parametrize(
    ("field", "pre_parse", "query", "expected"),
    [
        (ast.SingleQueryArgument(name="b"), _semicolons, b"a=1;b=2", [b"2"]),
        (ast.SingleQueryArgument(name="b"), None, b"a=1;b=2", []),
        (ast.AllQueryArguments(), _semicolons, b"a=1;b=2", [b"1", b"2"]),
        (ast.AllQueryArguments(), ("NONE",), b"a=1;b=2", [b"1;b=2"]),
    ],
)
def test_pre_parse_callable_runs_on_raw_query_before_split(
    field: ast.FieldToMatch,
    pre_parse: Callable[[bytes], bytes] | tuple[str, ...] | None,
    query: bytes,
    expected: list[bytes],
) -> None:
    assert extractor(field, pre_parse, 8192)(Request(query=query)).elements == expected


def test_pre_parse_names_resolve_through_transforms() -> None:
    pytest.importorskip("wafpy.matching.transforms")
    ex = extractor(ast.AllQueryArguments(), ("REPLACE_SEMICOLONS_WITH_AMPERSANDS",), 8192)
    assert ex(Request(query=b"a=1;b=2")).elements == [b"1", b"2"]
    decoded = extractor(ast.SingleQueryArgument(name="b"), ("URL_DECODE",), 8192)
    assert decoded(Request(query=b"a=1%26b%3D2")).elements == [b"2"]


# ------------------------------------------------------------------------------------------------
# Headers


@pytest.mark.parametrize(
    ("field", "headers", "expected"),
    [
        (ast.SingleHeader(name="x-api-key"), BASE_HEADERS, [b"k1", b"k2"]),
        (ast.SingleHeader(name="X-API-KEY"), BASE_HEADERS, [b"k1", b"k2"]),
        (ast.SingleHeader(name="host"), BASE_HEADERS, [b"www.example.com"]),
        (ast.SingleHeader(name="x-api-key-old"), BASE_HEADERS, []),
        (ast.SingleHeader(name="referer"), [], []),
    ],
)
def test_single_header(field: ast.FieldToMatch, headers: H, expected: list[bytes]) -> None:
    assert elements(field, Request(headers=headers)) == (expected, None)


def test_single_header_beyond_limit_is_absent() -> None:
    headers = [(b"h%d" % i, b"v") for i in range(200)] + [(b"X-Late", b"late")]
    assert elements(ast.SingleHeader(name="x-late"), Request(headers=headers)) == ([], None)


@pytest.mark.parametrize(
    ("pattern", "scope", "expected"),
    [
        (names(all_=True), "KEY", [b"Host", b"User-Agent", b"X-Api-Key", b"Cookie", b"x-api-key"]),
        (names(inc=("x-api-key",)), "VALUE", [b"k1", b"k2"]),
        (names(inc=("X-API-KEY", "host")), "VALUE", [b"www.example.com", b"k1", b"k2"]),
        (names(inc=("x-api-key",)), "ALL", [b"X-Api-Key", b"k1", b"x-api-key", b"k2"]),
        (names(exc=("cookie", "X-Api-Key")), "VALUE", [b"www.example.com", b"ua/1"]),
        (names(inc=("absent",)), "ALL", []),
    ],
)
def test_headers_pattern_and_scope(pattern: ast.NameMatchPattern, scope: str, expected: list[bytes]) -> None:
    field = ast.Headers(match_pattern=pattern, match_scope=scope, oversize_handling="CONTINUE")
    got = run(field, Request(headers=BASE_HEADERS))
    assert (got.elements, got.forced, got.oversize, got.location) == (expected, None, None, "HEADER")
    assert got.names is not None and len(got.names) == len(expected)


OVERSIZE_HEADERS: H = [(b"h%d" % i, b"v") for i in range(199)] + [(b"X-Evil", b"jndi"), (b"X-Late", b"x")]


@pytest.mark.parametrize(
    ("handling", "expected", "forced"),
    [
        ("CONTINUE", [b"jndi"], None),
        ("MATCH", [], True),
        ("NO_MATCH", [], False),
    ],
)
def test_headers_oversize_handling(handling: str, expected: list[bytes], forced: bool | None) -> None:
    field = ast.Headers(
        match_pattern=names(inc=("x-evil", "x-late")), match_scope="VALUE", oversize_handling=handling
    )
    got = run(field, Request(headers=OVERSIZE_HEADERS))
    assert (got.elements, got.forced, got.oversize) == (expected, forced, "REQUEST_HEADERS")


def test_headers_not_oversize_ignore_handling() -> None:
    field = ast.Headers(match_pattern=names(all_=True), match_scope="VALUE", oversize_handling="MATCH")
    got = run(field, Request(headers=[(b"A", b"1")]))
    assert (got.elements, got.forced, got.oversize) == ([b"1"], None, None)


# ------------------------------------------------------------------------------------------------
# Cookies


COOKIE_HEADERS: H = [(b"Cookie", b"session=abc123; role=admin; Role=x"), (b"cookie", b"prefs=<s>; flag")]


@pytest.mark.parametrize(
    ("pattern", "scope", "expected"),
    [
        (names(inc=("role",)), "VALUE", [b"admin"]),
        (names(inc=("ROLE",)), "VALUE", []),
        (names(all_=True), "KEY", [b"session", b"role", b"Role", b"prefs", b"flag"]),
        (names(exc=("prefs", "session")), "VALUE", [b"admin", b"x", b""]),
        (names(inc=("flag",)), "ALL", [b"flag", b""]),
        (names(inc=("session",)), "ALL", [b"session", b"abc123"]),
    ],
)
def test_cookies_pattern_and_scope(pattern: ast.NameMatchPattern, scope: str, expected: list[bytes]) -> None:
    field = ast.Cookies(match_pattern=pattern, match_scope=scope, oversize_handling="CONTINUE")
    assert elements(field, Request(headers=COOKIE_HEADERS)) == (expected, None)


def test_cookies_absent_header_yields_nothing() -> None:
    field = ast.Cookies(match_pattern=names(all_=True), match_scope="ALL", oversize_handling="MATCH")
    assert elements(field, Request(headers=[(b"Host", b"h")])) == ([], None)


@pytest.mark.parametrize(
    ("handling", "forced", "count"),
    [("CONTINUE", None, 200), ("MATCH", True, 0), ("NO_MATCH", False, 0)],
)
def test_cookies_oversize_handling(handling: str, forced: bool | None, count: int) -> None:
    value = b"; ".join(b"c%d=1" % i for i in range(201))
    field = ast.Cookies(match_pattern=names(all_=True), match_scope="VALUE", oversize_handling=handling)
    got = run(field, Request(headers=[(b"Cookie", value)]))
    assert (len(got.elements), got.forced, got.oversize) == (count, forced, "REQUEST_COOKIES")


# ------------------------------------------------------------------------------------------------
# HeaderOrder


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            [
                (b"Host", b"h"),
                (b"User-Agent", b"u"),
                (b"Accept-Encoding", b"g"),
                (b"Accept", b"*"),
                (b"Connection", b"k"),
            ],
            [b"Host:User-Agent:Accept-Encoding:Accept:Connection"],
        ),
        ([(b"a", b"1"), (b"a", b"2")], [b"a:a"]),
        ([(b"host", b"h")], [b"host"]),
        ([], []),
    ],
)
def test_header_order(headers: H, expected: list[bytes]) -> None:
    assert elements(ast.HeaderOrder(oversize_handling="MATCH"), Request(headers=headers)) == (expected, None)


@pytest.mark.parametrize(("handling", "forced"), [("MATCH", True), ("NO_MATCH", False)])
def test_header_order_oversize(handling: str, forced: bool) -> None:
    got = run(ast.HeaderOrder(oversize_handling=handling), Request(headers=OVERSIZE_HEADERS))
    assert (got.elements, got.forced, got.oversize) == ([], forced, "REQUEST_HEADERS")


def test_header_order_oversize_continue_uses_visible_headers() -> None:
    got = run(ast.HeaderOrder(oversize_handling="CONTINUE"), Request(headers=OVERSIZE_HEADERS))
    assert got.elements[0].endswith(b":h198:X-Evil")
    assert got.oversize == "REQUEST_HEADERS"


# ------------------------------------------------------------------------------------------------
# Body


def _body_request(size: int, content_type: bytes = b"application/x-www-form-urlencoded") -> Request:
    return Request(method=b"POST", headers=[(b"Content-Type", content_type)], body=b"a" * size)


@pytest.mark.parametrize(
    ("size", "handling", "inspected", "forced", "oversize"),
    [
        (0, "CONTINUE", 0, None, None),
        (8192, "CONTINUE", 8192, None, None),
        (8192, "MATCH", 8192, None, None),
        (8193, "CONTINUE", 8192, None, "REQUEST_BODY"),
        (8193, "MATCH", None, True, "REQUEST_BODY"),
        (9000, "NO_MATCH", None, False, "REQUEST_BODY"),
        (4000, "NO_MATCH", 4000, None, None),
    ],
)
def test_body_limit_and_oversize(
    size: int, handling: str, inspected: int | None, forced: bool | None, oversize: str | None
) -> None:
    got = run(ast.Body(oversize_handling=handling), _body_request(size))
    assert got.forced is forced
    assert got.oversize == oversize
    assert [len(e) for e in got.elements] == ([] if inspected is None else [inspected])


def test_body_oversize_from_body_size_when_only_a_prefix_is_buffered() -> None:
    r = Request(body=b"x" * 8193, body_size=100_000)
    got = run(ast.Body(oversize_handling="CONTINUE"), r, limit=16384)
    assert (len(got.elements[0]), got.oversize) == (8193, "REQUEST_BODY")


def test_body_limit_is_configurable() -> None:
    got = run(ast.Body(), _body_request(9000), limit=16384)
    assert (len(got.elements[0]), got.oversize) == (9000, None)


@pytest.mark.parametrize(
    "content_type", [b"application/grpc", b"application/grpc+proto", b"Application/GRPC-web"]
)
def test_grpc_body_does_not_match(content_type: bytes) -> None:
    assert elements(ast.Body(), _body_request(10, content_type)) == ([], False)


def test_body_not_available_is_not_evaluable() -> None:
    got = run(ast.Body(), Request(body_available=False))
    assert (got.elements, got.forced, got.evaluable) == ([], None, False)


# ------------------------------------------------------------------------------------------------
# JsonBody


def jb(
    scope: str = "VALUE",
    paths: tuple[str, ...] | None = None,
    fallback: str | None = None,
    oversize: str = "CONTINUE",
) -> ast.JsonBody:
    pattern = ast.JsonMatchPattern(all=paths is None, included_paths=paths or ())
    return ast.JsonBody(
        match_pattern=pattern,
        match_scope=scope,
        invalid_fallback_behavior=fallback,
        oversize_handling=oversize,
    )


def _json(body: bytes) -> Request:
    return Request(method=b"POST", headers=[(b"Content-Type", b"application/json")], body=body)


@pytest.mark.parametrize(
    ("field", "body", "expected", "forced"),
    [
        # conformance 25
        (jb("KEY", ("/profile",)), b'{"profile":{"name":"bob","isAdmin":true}}', [b"name", b"isAdmin"], None),
        (jb("KEY", ("/profile",)), b'{"isAdmin":true,"profile":{"name":"bob"}}', [b"name"], None),
        (jb("KEY", ("/profile",)), b'{"profile":"isAdmin"}', [], None),
        (jb("ALL"), b'{"sudo":false}', [b"sudo", b"false"], None),
        (jb("KEY", ("/a/b",)), b'{"a":{"c":"d","b":{"e":{"f":"g"}}}}', [b"e", b"f"], None),
        (jb("VALUE", ("/dogs/0/name",)), b'{"dogs":[{"name":"Fido"},{"name":"Rex"}]}', [b"Fido"], None),
        # conformance 26: fallbacks
        (jb(fallback="MATCH"), b'{"a": @}', [], True),
        (jb(fallback="MATCH"), b'{"a":"b"}', [b"b"], None),
        (jb(fallback="MATCH"), b'{"key1":"value1""key2":"value2"}', [b"value1", b"value2"], None),
        (jb(fallback="MATCH"), b'{"a":"1","a":"2"}', [], True),
        (jb(fallback="MATCH"), b'"just a string"', [], True),
        (jb(fallback="MATCH"), b'{"a":"b"', [], True),
        (jb(fallback="NO_MATCH"), b'{"note":"evil", @}', [], False),
        (jb(fallback="EVALUATE_AS_STRING"), b'{"note":"evil", @}', [b'{"note":"evil", @}'], None),
        (jb(fallback="EVALUATE_AS_STRING"), b'{"evil":"fine"}', [b"fine"], None),
        (jb(), b'{"note":"evil","x": @}', [b"evil"], None),
        (jb(), b'{"x": @, "note":"evil"}', [], None),
        # empty body: no document, no fallback
        (jb(fallback="MATCH"), b"", [], None),
    ],
)
def test_json_body(field: ast.JsonBody, body: bytes, expected: list[bytes], forced: bool | None) -> None:
    assert elements(field, _json(body)) == (expected, forced)


def _big_json(total: int) -> bytes:
    head = b'{"a":"evil","pad":"'
    return head + b"x" * (total - len(head) - 2) + b'"}'


@pytest.mark.parametrize(
    ("field", "expected", "forced"),
    [
        (jb(oversize="MATCH"), [], True),
        (jb(oversize="NO_MATCH"), [], False),
        # CONTINUE: the truncated body counts as a parse failure.
        (jb(oversize="CONTINUE"), [b"evil"], None),
        (jb(oversize="CONTINUE", fallback="MATCH"), [], True),
        (jb(oversize="CONTINUE", fallback="NO_MATCH"), [], False),
    ],
)
def test_json_body_oversize(field: ast.JsonBody, expected: list[bytes], forced: bool | None) -> None:
    got = run(field, _json(_big_json(9000)))
    assert (got.elements, got.forced, got.oversize) == (expected, forced, "REQUEST_JSON_BODY")


def test_json_body_oversize_as_string_inspects_the_truncated_body() -> None:
    got = run(jb(oversize="CONTINUE", fallback="EVALUATE_AS_STRING"), _json(_big_json(9000)))
    assert [len(e) for e in got.elements] == [8192]


def test_json_body_oversize_even_if_prefix_parses() -> None:
    body = b'{"a":"evil"}' + b" " * 9000
    got = run(jb(oversize="CONTINUE", fallback="MATCH"), _json(body))
    assert (got.forced, got.oversize) == (True, "REQUEST_JSON_BODY")


def test_json_body_grpc_and_unavailable() -> None:
    grpc = Request(headers=[(b"content-type", b"application/grpc")], body=b'{"a":1}')
    assert elements(jb(fallback="MATCH"), grpc) == ([], False)
    got = run(jb(), Request(body=b"", body_available=False))
    assert got.evaluable is False


# ------------------------------------------------------------------------------------------------
# Keys, locations, errors


def test_equal_fields_share_a_key_whatever_their_span() -> None:
    a = ast.SingleHeader(name="x", span=ast.Span(1, 1, "Rules[0]"))
    b = ast.SingleHeader(name="x", span=ast.Span(9, 9, "Rules[5]"))
    assert extractor(a, None, 8192).key == extractor(b, None, 8192).key
    assert extractor(a, None, 8192).key != extractor(ast.SingleHeader(name="y"), None, 8192).key


def test_pre_parse_is_part_of_the_key() -> None:
    field = ast.AllQueryArguments()
    assert extractor(field, None, 8192).key == extractor(field, ("NONE",), 8192).key
    assert extractor(field, None, 8192).key != extractor(field, _semicolons, 8192).key


def test_body_limit_is_part_of_the_key() -> None:
    assert extractor(ast.Body(), None, 8192).key != extractor(ast.Body(), None, 16384).key


@pytest.mark.parametrize(("cls", "location"), list(LOCATIONS.items()))
def test_every_field_has_a_log_location(cls: type, location: str) -> None:
    assert location in {"URI", "QUERY_STRING", "HEADER", "BODY", "UNKNOWN"}


def test_unknown_field_type_is_rejected() -> None:
    with pytest.raises(NotAvailableError):
        extractor(ast.Span(1, 1, "x"), None, 8192)  # type: ignore[arg-type]


def test_unspecified_choices_are_documented() -> None:
    assert len(UNSPECIFIED_CHOICES) >= 15
    assert all(isinstance(v, str) and v for v in UNSPECIFIED_CHOICES.values())
