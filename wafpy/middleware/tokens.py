"""Signed `aws-waf-token` cookies, so Captcha and Challenge rules can be passed outside AWS.

AWS tokens are encrypted with keys only AWS has. wafpy issues its own: the token is
``<payload>.<signature>``, both base64url without padding, where the payload is compact JSON
``{"d": domain, "c": captcha solve time, "h": challenge solve time}`` (epoch seconds, absent when
not solved) and the signature is HMAC-SHA256 of the payload with a secret only the server knows.

`HmacTokenValidator` checks a token as AWS does (spec 6.8): present, authentic, for an acceptable
domain (the request's Host, or a domain in the web ACL's `TokenDomains` or one of its
sub-domains), and solved within the rule's immunity time. Plug it into
`acl.services.token_validator`; `WAFMiddleware(token_secret=...)` does that for you.

`solve_response` is the optional endpoint (`WAFMiddleware(solve_path="/.wafpy/solve")`) that hands
a fresh token to whoever asks. It exists for tests and demos; it proves nothing about the caller.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from typing import Any

from wafpy.request import Request
from wafpy.services import TokenCheck

COOKIE_NAME = "aws-waf-token"
_COOKIE_BYTES = COOKIE_NAME.encode()
# A solve time this far in the future is not a clock skew but a forged or foreign token.
_MAX_SKEW_S = 300


def _key(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_token(
    secret: str | bytes, domain: str, *, captcha_ts: int | None = None, challenge_ts: int | None = None
) -> str:
    """A token for `domain`, solved at `captcha_ts` / `challenge_ts` (epoch seconds; None = not solved).

    Example: ``issue_token("s3cret", "app.example.com", challenge_ts=int(time.time()))``, sent as
    the cookie ``aws-waf-token=<token>``.
    """
    payload: dict[str, Any] = {"d": domain.lower()}
    if captcha_ts is not None:
        payload["c"] = int(captcha_ts)
    if challenge_ts is not None:
        payload["h"] = int(challenge_ts)
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    signature = hmac.new(_key(secret), body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{_b64(signature)}"


def read_token(secret: str | bytes, token: str) -> dict[str, Any] | None:
    """The payload of an authentic token, None when the token is malformed or not signed by `secret`."""
    body, dot, signature = token.partition(".")
    if not dot or not body:
        return None
    try:
        given = _unb64(signature)
        expected = hmac.new(_key(secret), body.encode("ascii"), hashlib.sha256).digest()
        if not hmac.compare_digest(given, expected):
            return None
        payload = json.loads(_unb64(body))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("d"), str):
        return None
    return payload


def domain_accepted(token_domain: str, host: str | None, token_domains: Iterable[str]) -> bool:
    """AWS's rule: the token's domain is the protected host, or is (under) a configured token domain."""
    if host is not None:
        host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if token_domain == host.lower():
            return True
    for allowed in token_domains:
        allowed = allowed.lower()
        if token_domain == allowed or token_domain.endswith("." + allowed):
            return True
    return False


class HmacTokenValidator:
    """`Services.token_validator` for tokens made by `issue_token` with the same secret."""

    __slots__ = ("_secret", "token_domains")

    def __init__(self, secret: str | bytes, token_domains: Iterable[str] = ()) -> None:
        self._secret = _key(secret)
        self.token_domains = tuple(token_domains)

    def __call__(self, request: Request, kind: str, immunity_s: int, now_ms: int) -> TokenCheck:
        raw = None
        for name, value in request.cookies:
            if name == _COOKIE_BYTES:
                raw = value
        if raw is None:
            return TokenCheck(False, "TOKEN_MISSING")
        try:
            payload = read_token(self._secret, raw.decode("ascii"))
        except UnicodeDecodeError:
            payload = None
        if payload is None:
            return TokenCheck(False, "TOKEN_INVALID")
        host = request.host
        if host is None:
            values = request.header_values(b"host")
            host = values[0].decode("latin-1") if values else None
        if not domain_accepted(payload["d"], host, self.token_domains):
            return TokenCheck(False, "TOKEN_DOMAIN_MISMATCH")
        solved = payload.get("c" if kind == "CAPTCHA" else "h")
        if not isinstance(solved, int):
            # A challenge-only token has never seen a CAPTCHA: as if it had no CAPTCHA token.
            return TokenCheck(False, "TOKEN_MISSING")
        now_s = now_ms // 1000
        if solved > now_s + _MAX_SKEW_S:
            return TokenCheck(False, "TOKEN_INVALID")
        if now_s - solved > immunity_s:
            return TokenCheck(False, "TOKEN_EXPIRED")
        return TokenCheck(True, None, solved)


def solve_response(
    secret: str | bytes, host: str | None, query: bytes, *, secure: bool
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The solve endpoint: a new token as a cookie and as JSON.

    ``?kind=challenge`` gives a challenge-only token; anything else (the default, ``captcha``) a
    token with both solve times, as solving an AWS CAPTCHA also passes the silent challenge.
    """
    domain = (host or "localhost").rsplit(":", 1)[0].lower()
    now = int(time.time())
    challenge_only = b"kind=challenge" in query.split(b"&")
    token = issue_token(secret, domain, captcha_ts=None if challenge_only else now, challenge_ts=now)
    cookie = f"{COOKIE_NAME}={token}; Path=/; SameSite=Lax; HttpOnly" + ("; Secure" if secure else "")
    body = json.dumps(
        {"token": token, "domain": domain, "kind": "challenge" if challenge_only else "captcha"}
    )
    headers = [
        (b"content-type", b"application/json"),
        (b"cache-control", b"no-store"),
        (b"set-cookie", cookie.encode("ascii")),
    ]
    return 200, headers, body.encode("utf-8")
