"""Signed `aws-waf-token` cookies, so Captcha and Challenge rules can be passed outside AWS.

AWS tokens are encrypted with keys only AWS has. wafpy issues its own, with this exact grammar::

    token     = payload "." signature
    payload   = base64url, no padding, 2 to 512 characters, of the compact UTF-8 JSON
                {"c": captcha solve time, "d": domain, "h": challenge solve time}
                (keys sorted, no spaces, epoch seconds as integers from 0 to 2**53 - 1, "c" / "h"
                absent when not solved, exactly as `issue_token` writes it)
    signature = base64url, no padding, exactly 43 characters: HMAC-SHA256 of the payload text

Both parts must be canonical base64url (the unused low bits of the last character are zero), and
nothing may precede or follow them: a token that differs by one character from the one issued is
refused, even where a lenient decoder would read the same bytes. Signatures compare in constant time.

The secret is at least `MIN_SECRET_BYTES` bytes. It is given in code (`token_secret=`) or, when not,
read from the environment by `token_secret_from_env`: `WAFPY_TOKEN_SECRET` (the value, UTF-8) or
`WAFPY_TOKEN_SECRET_FILE` (a file holding it, as container secrets are mounted; one trailing
newline is removed). Every process given the same secret accepts the others' tokens, which is what
several workers of one server need.

`HmacTokenValidator` checks a token as AWS does
(https://docs.aws.amazon.com/waf/latest/developerguide/waf-tokens.html): present, authentic, for an
acceptable domain (the request's Host, or a domain in the web ACL's `TokenDomains` or one of its
sub-domains), and solved within the rule's immunity time. Plug it into
`acl.services.token_validator`; `WAFMiddleware(token_secret=...)` does that for you.

`solve_response` is the optional endpoint (`WAFMiddleware(solve_path="/.wafpy/solve")`) that hands
a fresh token to whoever asks. It exists for tests and demos; it proves nothing about the caller.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from wafpy.engine.services import TokenCheck
from wafpy.errors import WafpyError
from wafpy.request import Request

COOKIE_NAME = "aws-waf-token"
SECRET_ENV = "WAFPY_TOKEN_SECRET"
SECRET_FILE_ENV = "WAFPY_TOKEN_SECRET_FILE"
MIN_SECRET_BYTES = 16
_COOKIE_BYTES = COOKIE_NAME.encode()
# A solve time this far in the future is not a clock skew but a forged or foreign token.
_MAX_SKEW_S = 300
_MAX_PAYLOAD_CHARS = 512
_MAX_SOLVE_TIME = 2**53 - 1  # any later time is no solve time (and stays an exact JSON integer)
# The whole grammar above in one anchored pattern. It cannot backtrack beyond one scan: neither
# character class holds the ".". 43 characters carry 258 bits for the 256 of a SHA-256 MAC, so the
# last one is among the 16 whose two low bits are zero.
_TOKEN = re.compile(
    "([A-Za-z0-9_-]{2," + str(_MAX_PAYLOAD_CHARS) + r"})\.([A-Za-z0-9_-]{42}[AEIMQUYcgkosw048])"
)


class TokenSecretError(WafpyError, ValueError):
    """The token secret is missing where needed, too short, or its environment variables conflict."""


def token_key(secret: str | bytes, *, origin: str = "the token secret") -> bytes:
    """The HMAC key of `secret` (UTF-8 for a str); refuses fewer than `MIN_SECRET_BYTES` bytes."""
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if len(key) < MIN_SECRET_BYTES:
        raise TokenSecretError(
            f"{origin} must be at least {MIN_SECRET_BYTES} bytes, it has {len(key)}: anyone could mint "
            "valid tokens with a short one. Make one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )
    return key


def token_secret_from_env(environ: Mapping[str, str] | None = None) -> bytes | None:
    """The token secret from `WAFPY_TOKEN_SECRET` or `WAFPY_TOKEN_SECRET_FILE`, None when neither is set.

    Raises `TokenSecretError` when both are set, when one is set but empty, when the file cannot be
    read (naming it), or when the secret is shorter than `MIN_SECRET_BYTES`.
    """
    env = os.environ if environ is None else environ
    value, file = env.get(SECRET_ENV), env.get(SECRET_FILE_ENV)
    if value is not None and file is not None:
        raise TokenSecretError(f"both {SECRET_ENV} and {SECRET_FILE_ENV} are set: set only one")
    if value is not None:
        if not value:
            raise TokenSecretError(f"{SECRET_ENV} is empty")
        return token_key(value, origin=f"the token secret in {SECRET_ENV}")
    if file is None:
        return None
    if not file:
        raise TokenSecretError(f"{SECRET_FILE_ENV} is empty: it should name the file holding the secret")
    try:
        data = Path(file).read_bytes()
    except OSError as exc:
        raise TokenSecretError(
            f"{SECRET_FILE_ENV} names a file that cannot be read: {file!r} ({exc.strerror or exc})"
        ) from exc
    # Secrets written with `echo` or an editor end with a newline that is not part of them.
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    return token_key(data, origin=f"the token secret in {file!r} ({SECRET_FILE_ENV})")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes | None:
    """Strict base64url without padding: the bytes, or None unless `text` is their canonical form."""
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except binascii.Error:
        return None
    return data if _b64(data) == text else None


def _payload_json(payload: Mapping[str, Any]) -> bytes:
    # Compact, keys sorted, UTF-8: one spelling per payload, compared byte for byte when read.
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def _signature(key: bytes, body: str) -> str:
    # hashlib and hmac on use: they load OpenSSL (about 4 MB resident), which a process that
    # never issues nor reads a token does not need.
    import hashlib
    import hmac

    return _b64(hmac.new(key, body.encode("ascii"), hashlib.sha256).digest())


def issue_token(
    secret: str | bytes, domain: str, *, captcha_ts: int | None = None, challenge_ts: int | None = None
) -> str:
    """A token for `domain`, solved at `captcha_ts` / `challenge_ts` (epoch seconds; None = not solved).

    Example: ``issue_token(secret, "app.example.com", challenge_ts=int(time.time()))``, sent as
    the cookie ``aws-waf-token=<token>``.
    """
    key = token_key(secret)
    if not domain:
        raise ValueError("a token needs a domain")
    payload: dict[str, Any] = {"d": domain.lower()}
    for name, value in (("c", captcha_ts), ("h", challenge_ts)):
        if value is not None:
            if not 0 <= int(value) <= _MAX_SOLVE_TIME:
                raise ValueError(f"a solve time is epoch seconds, not {value!r}")
            payload[name] = int(value)
    body = _b64(_payload_json(payload))
    if len(body) > _MAX_PAYLOAD_CHARS:
        raise ValueError(f"domain too long for a token: {domain[:40]!r}...")
    return f"{body}.{_signature(key, body)}"


def _read(key: bytes, token: str) -> dict[str, Any] | None:
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    body, signature = match.group(1, 2)
    # The pattern admits only the canonical 43-character spelling of 32 bytes, so comparing the
    # text compares the MACs (in constant time), with nothing to decode.
    import hmac

    if not hmac.compare_digest(signature, _signature(key, body)):
        return None
    # Authentic: only this secret's holder could have made it. Its shape is still checked, so that
    # one token has one spelling and nothing but issue_token's output is ever accepted.
    raw = _unb64(body)
    if raw is None:
        return None
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(payload, dict) or not payload.keys() <= {"c", "d", "h"}:
        return None
    domain = payload.get("d")
    if not isinstance(domain, str) or not domain:
        return None
    for name in ("c", "h"):
        solved = payload.get(name)
        if solved is not None and (type(solved) is not int or not 0 <= solved <= _MAX_SOLVE_TIME):
            return None
    if _payload_json(payload) != raw:
        return None
    return payload


def read_token(secret: str | bytes, token: str) -> dict[str, Any] | None:
    """The payload of an authentic, well-formed token; None when malformed or not signed by `secret`."""
    return _read(token_key(secret), token)


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
        self._secret = token_key(secret)
        self.token_domains = tuple(token_domains)

    def __call__(self, request: Request, kind: str, immunity_s: int, now_ms: int) -> TokenCheck:
        raw = None
        for name, value in request.cookies:
            if name == _COOKIE_BYTES:
                raw = value
        if raw is None:
            return TokenCheck(False, "TOKEN_MISSING")
        try:
            payload = _read(self._secret, raw.decode("ascii"))
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
