"""Hostile and malformed requests never make evaluation raise, on every web ACL we have.

Arbitrary bytes in the path, query, headers, cookies and body; odd client addresses; duplicate,
empty and oversized headers; broken JSON bodies and forwarded-IP headers. Each must come back as a
Decision with one of AWS's actions (an exception here would be a crash in front of an app).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wafpy
from bench import realistic_acl
from wafpy.logs.logrecord import decision_to_log_record

pytestmark = pytest.mark.slow  # property tests over many generated requests

_CASES = sorted((Path(__file__).parent / "conformance").glob("*.json"))


def _acls() -> list[wafpy.WebACL]:
    acls = [
        wafpy.load_web_acl(realistic_acl.web_acl(), resources=realistic_acl.resources(), search_string="text")
    ]
    for path in _CASES:
        doc = json.loads(path.read_text(encoding="utf-8"))
        acls.append(
            wafpy.load_web_acl(
                doc["webacl"],
                resources=doc.get("resources") or {},
                account=doc.get("account"),
                search_string="text",
            )
        )
    return acls


ACLS = _acls()
_NAMES = st.sampled_from(
    [
        b"host",
        b"user-agent",
        b"cookie",
        b"x-forwarded-for",
        b"content-type",
        b"accept",
        b"X-Api-Key",
        b"",
        b"\xff",
    ]
)
_VALUES = st.one_of(
    st.binary(max_size=64),
    st.sampled_from(
        [
            b"1.2.3.4, 5.6.7.8",
            b"::1",
            b"[::1]:80",
            b"unknown",
            b"a=1; b; =c; ;;",
            b"application/json",
            b"application/grpc",
            b"' OR 1=1--",
            b"<script>",
            b"\x00\xff" * 10,
        ]
    ),
)
_BODIES = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([b'{"a": [1, {"b": "<x>"}]}', b'{"a":1,"a":2}', b"[" * 500, b'{"k" "v"}', b"x" * 9000]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    acl_index=st.integers(min_value=0, max_value=len(ACLS) - 1),
    method=st.one_of(st.sampled_from([b"GET", b"POST", b"PROPFIND"]), st.binary(max_size=8)),
    uri=st.binary(max_size=80),
    query=st.one_of(st.none(), st.binary(max_size=80)),
    headers=st.lists(st.tuples(_NAMES, _VALUES), max_size=12),
    body=_BODIES,
    client_ip=st.sampled_from(["203.0.113.7", "2001:db8::1", "not-an-ip", "", "::ffff:1.2.3.4"]),
    country=st.sampled_from([None, "US", "KP", "XX", ""]),
)
def test_evaluation_never_raises(
    acl_index: int,
    method: bytes,
    uri: bytes,
    query: bytes | None,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    client_ip: str,
    country: str | None,
) -> None:
    if query is not None:
        # A path holds no raw '?' (the request line's first '?' starts the query): with the query
        # given on its own, Request refuses a second one in `uri`, so escape it as a client would.
        uri = uri.replace(b"?", b"%3F")
    request = wafpy.Request(
        method=method,
        uri=uri,
        query=query,
        headers=tuple(headers),
        body=body,
        client_ip=client_ip,
        country=country or None,
        timestamp_ms=0,
    )
    decision = ACLS[acl_index].evaluate(request)
    assert decision.action in {"ALLOW", "BLOCK", "CAPTCHA", "CHALLENGE"}
    record = decision_to_log_record(decision)
    json.dumps(record)  # the log record is always serialisable
    assert decision.trace is not None


@settings(max_examples=200, deadline=None)
@given(
    raw_path=st.binary(max_size=60),
    query_string=st.binary(max_size=60),
    headers=st.lists(st.tuples(_NAMES, _VALUES), max_size=8),
    http_version=st.sampled_from(["1.0", "1.1", "2", "3"]),
)
def test_asgi_scopes_become_requests(
    raw_path: bytes, query_string: bytes, headers: list[tuple[bytes, bytes]], http_version: str
) -> None:
    scope = {
        "type": "http",
        "method": "GET",
        "path": raw_path.decode("latin-1"),
        "raw_path": raw_path,
        "query_string": query_string,
        "headers": headers,
        "client": ("198.51.100.1", 1234),
        "http_version": http_version,
        "scheme": "https",
    }
    request = wafpy.Request.from_asgi(scope, b"", 0)
    assert ACLS[0].evaluate(request).action in {"ALLOW", "BLOCK", "CAPTCHA", "CHALLENGE"}
