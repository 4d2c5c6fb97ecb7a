"""The hand-written floor: the realistic ACL's checks fused into one plain-Python function.

It extracts every field once, exits at the first terminating rule and uses the same primitives
as the engine (the detectors, the HTML entity decoder, RE2), so the engine's ratio to it measures
what compiling a generic web ACL costs over code written for one ACL.
"""

from __future__ import annotations

import socket
from bisect import bisect_right
from collections import defaultdict, deque
from urllib.parse import unquote_to_bytes

import re2

from bench import realistic_acl
from wafpy.matching.detectors.sqli import detect_sqli
from wafpy.matching.detectors.xss import detect_xss
from wafpy.matching.iptools import CidrSet
from wafpy.matching.transforms import TRANSFORMS
from wafpy.request import Request

_html = TRANSFORMS["HTML_ENTITY_DECODE"]
# The same detector functions the engine calls (the default detector's token fast path).
_sqli = detect_sqli
_xss = detect_xss


def _ranges(cidrs: list[str]) -> tuple[list[int], list[int]]:
    merged = CidrSet(cidrs, 4)
    return merged._starts, merged._ends  # the same merged ranges a hand-tuned check would build


_BLOCK_STARTS, _BLOCK_ENDS = _ranges(realistic_acl.blocklist_cidrs())
_OFFICE_STARTS, _OFFICE_ENDS = _ranges(realistic_acl.OFFICE_CIDRS[:1])
_BOTS = re2.compile("|".join(f"(?:{p})" for p in realistic_acl.BAD_BOT_PATTERNS).encode(), re2.Options())
_SCRIPT = re2.compile(rb"\.(php|asp|aspx|jsp|cgi)$")
_METHODS = {b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS"}
_COUNTRIES = set(realistic_acl.BLOCKED_COUNTRIES)
_login_hits: dict[str, deque[int]] = defaultdict(deque)


def _in(starts: list[int], ends: list[int], ip: str) -> bool:
    try:
        address = int.from_bytes(socket.inet_aton(ip), "big")
    except OSError:
        return False
    i = bisect_right(starts, address) - 1
    return i >= 0 and address <= ends[i]


def _url_decode(value: bytes) -> bytes:
    return unquote_to_bytes(value.replace(b"+", b" ")) if b"%" in value or b"+" in value else value


def hand_written_check(request: Request, now_ms: int = 0) -> tuple[str, str]:
    """(action, terminating rule) for the realistic ACL, written by hand for it alone."""
    ip = request.client_ip
    if _in(_BLOCK_STARTS, _BLOCK_ENDS, ip):
        return "BLOCK", "ip-blocklist"
    if request.country in _COUNTRIES:
        return "BLOCK", "geo-block"
    ua = host = None
    for name, value in request.headers[:200]:
        lower = name.lower()
        if lower == b"user-agent" and ua is None:
            ua = value
        elif lower == b"host" and host is None:
            host = value
    if ua is not None and _BOTS.search(ua.lower()) is not None:
        return "BLOCK", "bad-bots"
    if ua is None:
        return "BLOCK", "no-user-agent"
    if host is None or host.lower() != b"shop.example.com":
        return "BLOCK", "host-check"
    uri = request.uri
    if b"../" in _url_decode(uri):
        return "BLOCK", "path-traversal"
    lower_uri = uri.lower()
    if lower_uri.startswith(b"/admin") and not _in(_OFFICE_STARTS, _OFFICE_ENDS, ip):
        return "BLOCK", "admin-outside-office"
    values = []
    if request.query:
        for piece in request.query.split(b"&"):
            if piece:
                values.append(_url_decode(piece.partition(b"=")[2]))
    for value in values:
        if _sqli(value, "LOW") is not None:
            return "BLOCK", "sqli-query"
    body = request.body[:8192]
    decoded_body = _url_decode(body)
    if _sqli(decoded_body, "LOW") is not None:
        return "BLOCK", "sqli-body"
    for value in values:
        if _xss(_html(value)) is not None:
            return "BLOCK", "xss-query"
    if _xss(_html(decoded_body)) is not None:
        return "BLOCK", "xss-body"
    if request.body_size > 8192:
        return "BLOCK", "body-too-large"
    if len(uri) > 2048:
        return "BLOCK", "uri-too-long"
    if request.query is not None and len(request.query) > 4096:
        return "BLOCK", "query-too-long"
    if request.method == b"POST" and lower_uri.startswith(b"/api/login"):
        hits = _login_hits[ip]
        hits.append(now_ms)
        while hits and hits[0] <= now_ms - 300_000:
            hits.popleft()
        if len(hits) > 100:
            return "BLOCK", "login-rate"
    if _SCRIPT.search(lower_uri) is not None:
        return "BLOCK", "script-probe"
    for _, value in request.headers[:200]:
        if b"() {" in value:
            return "BLOCK", "shellshock"
    if request.method not in _METHODS:
        return "BLOCK", "method-allowlist"
    if b"wp-login" in lower_uri:
        return "BLOCK", "wp-login-probe"
    return "ALLOW", "Default_Action"
