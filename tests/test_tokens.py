"""Signed `aws-waf-token` cookies: the secret, the exact token grammar, and tokens shared by processes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.builders import byte_rule
from tests.test_asgi_support import EchoApp, web_acl
from wafpy import WAFMiddleware
from wafpy.middleware.tokens import (
    COOKIE_NAME,
    MIN_SECRET_BYTES,
    SECRET_ENV,
    SECRET_FILE_ENV,
    HmacTokenValidator,
    TokenSecretError,
    issue_token,
    read_token,
    token_secret_from_env,
)
from wafpy.request import Request

ROOT = Path(__file__).resolve().parents[1]
SECRET = "0123456789abcdef-test-secret"  # 28 bytes
DOMAIN = "shop.example.com"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signed_text(body: str, secret: str = SECRET) -> str:
    """`body` signed as wafpy signs a token: HMAC-SHA256 of the base64url payload text."""
    return body + "." + b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())


def signed(payload: bytes, secret: str = SECRET) -> str:
    return signed_text(b64(payload), secret)


GOOD = issue_token(SECRET, DOMAIN, captcha_ts=1_700_000_000, challenge_ts=1_700_000_000)
BODY, _, SIG = GOOD.partition(".")


def test_a_token_is_payload_dot_signature_and_round_trips() -> None:
    assert read_token(SECRET, GOOD) == {"d": DOMAIN, "c": 1_700_000_000, "h": 1_700_000_000}
    assert len(SIG) == 43  # 32 bytes of HMAC-SHA256, base64url without padding
    assert signed(b'{"c":1700000000,"d":"shop.example.com","h":1700000000}') == GOOD
    assert read_token("another-secret-of-16+bytes", GOOD) is None


def _non_canonical_last_char(sig: str) -> str:
    # 43 characters carry 258 bits for 256: the last character's two low bits are unused and must
    # be zero. Setting one decodes to the same bytes, so a lenient decoder would accept it.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return sig[:-1] + alphabet[alphabet.index(sig[-1]) | 1]


MALFORMED = {
    # appended or inserted junk
    "junk appended": GOOD + "!!~~",
    "junk inside the signature": BODY + "." + SIG[:10] + "!!~~" + SIG[10:],
    "newline appended": GOOD + "\n",
    "newline inside": BODY + "." + SIG[:20] + "\n" + SIG[20:],
    "space before": " " + GOOD,
    "space after": GOOD + " ",
    "NUL appended": GOOD + "\x00",
    # padding
    "padding on the signature": GOOD + "=",
    "double padding on the signature": GOOD + "==",
    "padding on the payload": BODY + "=." + SIG,
    # lengths
    "signature one short": GOOD[:-1],
    "signature one long": GOOD + "A",
    "signature empty": BODY + ".",
    "payload empty": "." + SIG,
    "payload one character": BODY[:1] + "." + SIG,
    "payload too long": signed(json.dumps({"d": "a" * 600, "h": 1}, separators=(",", ":")).encode()),
    "empty": "",
    "non-canonical last signature character": BODY + "." + _non_canonical_last_char(SIG),
    "non-canonical last payload character (signed)": signed_text(
        _non_canonical_last_char(b64(b'{"d":"ab.example.com"}'))
    ),
    # separators
    "no separator": BODY + SIG,
    "colon": BODY + ":" + SIG,
    "comma": BODY + "," + SIG,
    "two dots": BODY + ".." + SIG,
    "trailing dot": GOOD + ".",
    "three fields": GOOD + "." + SIG,
    # alphabet
    "standard base64 alphabet": BODY.replace("i", "+") + "." + SIG,
    "non-ascii in payload": BODY[:5] + "é" + BODY[5:] + "." + SIG,
    "non-ascii appended": GOOD + "é",
    "full-width dot": BODY + "\uff0e" + SIG,
    # authentic (signed with the secret) but not what issue_token writes
    "extra field": signed(b'{"c":1,"d":"shop.example.com","h":1,"x":1}'),
    "spaces in the JSON": signed(b'{"c": 1, "d": "shop.example.com", "h": 1}'),
    "keys out of order": signed(b'{"d":"shop.example.com","c":1}'),
    "boolean timestamp": signed(b'{"c":true,"d":"shop.example.com"}'),
    "float timestamp": signed(b'{"c":1.5,"d":"shop.example.com"}'),
    "negative timestamp": signed(b'{"c":-1,"d":"shop.example.com"}'),
    "empty domain": signed(b'{"c":1,"d":""}'),
    "no domain": signed(b'{"c":1}'),
    "not an object": signed(b'["shop.example.com",1]'),
    "not JSON": signed(b"shop.example.com|1|1"),
    "duplicate key": signed(b'{"c":1,"c":2,"d":"shop.example.com"}'),
}


@pytest.mark.parametrize("token", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_tokens_are_rejected(token: str) -> None:
    assert read_token(SECRET, token) is None
    if token.strip(" \t") == GOOD:
        return  # spaces around a cookie value are not part of it (RFC 6265): the cookie holds GOOD
    # The same through the validator, as the cookie value a client sends.
    validator = HmacTokenValidator(SECRET)
    cookie = f"{COOKIE_NAME}={token}".encode()  # UTF-8 for the non-ASCII cases
    request = Request(headers=[(b"Host", DOMAIN.encode()), (b"Cookie", cookie)])
    check = validator(request, "CAPTCHA", 300, 1_700_000_000 * 1000)
    assert not check.valid and check.failure_reason in ("TOKEN_INVALID", "TOKEN_MISSING")


def test_well_formed_tokens_of_every_shape_are_accepted() -> None:
    for kwargs in ({}, {"captcha_ts": 0}, {"challenge_ts": 5}, {"captcha_ts": 1, "challenge_ts": 2}):
        token = issue_token(SECRET, "x.example", **kwargs)
        expected: dict[str, object] = {"d": "x.example"}
        expected.update({"c" if k == "captcha_ts" else "h": v for k, v in kwargs.items()})
        assert read_token(SECRET, token) == expected
    assert read_token(SECRET, issue_token(SECRET, "a" * 253, challenge_ts=2**40)) is not None


# ----------------------------------------------------------------------------------------------
# The secret


@pytest.mark.parametrize("secret", ["", b"", "short", "15-bytes-secret", "é" * 7, b"\x00" * 15])
def test_short_secrets_are_refused_everywhere(secret: str | bytes) -> None:
    assert MIN_SECRET_BYTES == 16
    with pytest.raises(TokenSecretError, match="at least 16 bytes"):
        WAFMiddleware(EchoApp(), web_acl([]), token_secret=secret)
    with pytest.raises(TokenSecretError, match="at least 16 bytes"):
        issue_token(secret, DOMAIN)
    with pytest.raises(TokenSecretError, match="at least 16 bytes"):
        read_token(secret, GOOD)
    with pytest.raises(TokenSecretError, match="at least 16 bytes"):
        HmacTokenValidator(secret)
    assert issubclass(TokenSecretError, ValueError)


def test_sixteen_bytes_is_enough() -> None:
    assert read_token("16-bytes-secret!", issue_token("16-bytes-secret!", DOMAIN)) == {"d": DOMAIN}
    assert read_token(b"\x00" * 16, issue_token(b"\x00" * 16, DOMAIN)) == {"d": DOMAIN}


def test_secret_from_the_environment(tmp_path: Path) -> None:
    assert token_secret_from_env({}) is None
    assert token_secret_from_env({SECRET_ENV: SECRET}) == SECRET.encode()
    path = tmp_path / "token_secret"
    # As a container secret is mounted: the file's bytes, one trailing newline removed.
    for content, expected in [
        (SECRET + "\n", SECRET),
        (SECRET + "\r\n", SECRET),
        (SECRET, SECRET),
        (SECRET + "\n\n", SECRET + "\n"),
        (" " + SECRET + " \n", " " + SECRET + " "),
    ]:
        path.write_bytes(content.encode())
        assert token_secret_from_env({SECRET_FILE_ENV: str(path)}) == expected.encode(), content
    path.write_bytes(bytes(range(32)))  # binary secrets are fine
    assert token_secret_from_env({SECRET_FILE_ENV: str(path)}) == bytes(range(32))


def test_secret_environment_errors(tmp_path: Path) -> None:
    path = tmp_path / "token_secret"
    path.write_text(SECRET + "\n")
    with pytest.raises(TokenSecretError, match=f"both {SECRET_ENV} and {SECRET_FILE_ENV}"):
        token_secret_from_env({SECRET_ENV: SECRET, SECRET_FILE_ENV: str(path)})
    missing = tmp_path / "missing"
    with pytest.raises(TokenSecretError, match=f"{SECRET_FILE_ENV}.*cannot be read.*{missing.name}"):
        token_secret_from_env({SECRET_FILE_ENV: str(missing)})
    with pytest.raises(TokenSecretError, match=f"cannot be read.*{tmp_path.name}"):
        token_secret_from_env({SECRET_FILE_ENV: str(tmp_path)})  # a directory
    with pytest.raises(TokenSecretError, match=f"{SECRET_ENV} is empty"):
        token_secret_from_env({SECRET_ENV: ""})
    with pytest.raises(TokenSecretError, match=f"{SECRET_FILE_ENV} is empty"):
        token_secret_from_env({SECRET_FILE_ENV: ""})
    path.write_text("short\n")
    with pytest.raises(TokenSecretError, match=f"{path.name}.*at least 16 bytes"):
        token_secret_from_env({SECRET_FILE_ENV: str(path)})
    with pytest.raises(TokenSecretError, match=f"{SECRET_ENV} must be at least 16 bytes"):
        token_secret_from_env({SECRET_ENV: "short"})


def captcha_acl() -> dict[str, Any]:
    immunity = {"ImmunityTimeProperty": {"ImmunityTime": 300}}
    login = byte_rule(
        "captcha-login", 1, {"UriPath": {}}, "/login", "STARTS_WITH", action="Captcha", CaptchaConfig=immunity
    )
    return web_acl([login])


def _validates(mw: WAFMiddleware, token: str) -> bool:
    validator = mw.acl.services.token_validator
    request = Request(headers=[(b"Host", DOMAIN.encode()), (b"Cookie", f"{COOKIE_NAME}={token}".encode())])
    return bool(validator(request, "CAPTCHA", 300, int(time.time()) * 1000).valid)


def test_middleware_reads_the_secret_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = issue_token(SECRET, DOMAIN, captcha_ts=int(time.time()))
    monkeypatch.setenv(SECRET_ENV, SECRET)
    assert _validates(WAFMiddleware(EchoApp(), captcha_acl(), solve_path="/solve"), token)
    # An explicit token_secret wins over the environment.
    explicit = WAFMiddleware(EchoApp(), captcha_acl(), token_secret="another-secret-of-16+bytes")
    assert not _validates(explicit, token)

    monkeypatch.delenv(SECRET_ENV)
    path = tmp_path / "secret"
    path.write_text(SECRET + "\n")
    monkeypatch.setenv(SECRET_FILE_ENV, str(path))
    assert _validates(WAFMiddleware(EchoApp(), captcha_acl()), token)

    monkeypatch.setenv(SECRET_ENV, SECRET)
    with pytest.raises(TokenSecretError, match="both"):
        WAFMiddleware(EchoApp(), captcha_acl())
    monkeypatch.delenv(SECRET_ENV)
    path.unlink()
    with pytest.raises(TokenSecretError, match=path.name):
        WAFMiddleware(EchoApp(), captcha_acl())


def test_without_any_secret_no_token_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    monkeypatch.delenv(SECRET_FILE_ENV, raising=False)
    mw = WAFMiddleware(EchoApp(), captcha_acl())
    token = issue_token(SECRET, DOMAIN, captcha_ts=int(time.time()))
    assert not _validates(mw, token)
    with pytest.raises(ValueError, match="solve_path needs a token secret"):
        WAFMiddleware(EchoApp(), captcha_acl(), solve_path="/solve")


# ----------------------------------------------------------------------------------------------
# Several worker processes share one secret

WORKER_APP = '''
"""A CAPTCHA-protected app that says which worker process answered."""
import json
import os

from wafpy import WAFMiddleware

immunity = {"ImmunityTimeProperty": {"ImmunityTime": 300}}
ACL = {
    "Name": "workers", "DefaultAction": {"Allow": {}},
    "VisibilityConfig": {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False,
                         "MetricName": "workers"},
    "Rules": [{
        "Name": "captcha-login", "Priority": 1, "Action": {"Captcha": {}}, "CaptchaConfig": immunity,
        "VisibilityConfig": {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False,
                             "MetricName": "captcha-login"},
        "Statement": {"ByteMatchStatement": {
            "FieldToMatch": {"UriPath": {}}, "SearchString": "/login",
            "PositionalConstraint": "STARTS_WITH",
            "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}},
    }],
}


async def inner(scope, receive, send):
    if scope["type"] != "http":
        return
    body = json.dumps({"pid": os.getpid()}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


waf = WAFMiddleware(inner, ACL, solve_path="/solve")  # the secret comes from the environment


async def app(scope, receive, send):
    async def send_with_pid(message):
        if message["type"] == "http.response.start":
            message["headers"] = [*message["headers"], (b"x-worker-pid", str(os.getpid()).encode())]
        await send(message)

    await waf(scope, receive, send_with_pid)
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_uvicorn(
    app_dir: Path, port: int, env: dict[str, str], workers: int, app: str = "worker_app:app"
) -> subprocess.Popen[bytes]:
    """`uvicorn <app> --workers <workers>` on 127.0.0.1:<port>, a process of its own."""
    command = [sys.executable, "-m", "uvicorn", app, "--app-dir", str(app_dir)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    command += ["--log-level", "warning", "--no-proxy-headers", "--lifespan", "off"]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def get_new_connection(url: str, token: str | None = None) -> httpx.Response:
    # A new connection per request, so that the kernel may hand it to either worker.
    headers = {"Connection": "close", "Host": DOMAIN}
    if token is not None:
        headers["Cookie"] = f"{COOKIE_NAME}={token}"
    with httpx.Client(headers=headers) as client:
        return client.get(url)


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.communicate()[0].decode()
            raise RuntimeError(f"uvicorn exited ({process.returncode}):\n{output}")
        try:
            get_new_connection(url + "/")
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("uvicorn did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate(timeout=20)


@pytest.fixture
def worker_app(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    (tmp_path / "worker_app.py").write_text(textwrap.dedent(WORKER_APP))
    env = {k: v for k, v in os.environ.items() if k not in (SECRET_ENV, SECRET_FILE_ENV)}
    env["PYTHONPATH"] = str(ROOT)
    yield tmp_path, env


@pytest.mark.slow
def test_uvicorn_workers_accept_each_others_tokens(worker_app: tuple[Path, dict[str, str]]) -> None:
    app_dir, env = worker_app
    secret_file = app_dir / "token_secret"
    secret_file.write_text(SECRET + "\n")
    env[SECRET_FILE_ENV] = str(secret_file)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_uvicorn(app_dir, port, env, workers=2)
    try:
        wait_ready(url, process)
        solved = get_new_connection(url + "/solve")
        minted_by = solved.headers["x-worker-pid"]
        token = solved.json()["token"]
        assert get_new_connection(url + "/login").status_code == 405  # no token: the CAPTCHA answers
        answered_by: dict[str, int] = {}
        deadline = time.monotonic() + 60
        while len(answered_by) < 2 and time.monotonic() < deadline:
            response = get_new_connection(url + "/login", token)
            pid = response.headers["x-worker-pid"]
            assert response.status_code == 200, (pid, minted_by, response.text)
            answered_by[pid] = answered_by.get(pid, 0) + 1
        assert len(answered_by) == 2, f"only worker {list(answered_by)} answered"
        assert minted_by in answered_by  # and the other worker accepted the token too
    finally:
        stop(process)


@pytest.mark.slow
def test_two_servers_with_the_same_env_secret_accept_each_others_tokens(
    worker_app: tuple[Path, dict[str, str]],
) -> None:
    app_dir, env = worker_app
    env[SECRET_ENV] = SECRET
    ports = [free_port(), free_port()]
    processes = [start_uvicorn(app_dir, port, env, workers=1) for port in ports]
    other_env = {**env, SECRET_ENV: "a-different-secret-for-a-third"}
    third_port = free_port()
    processes.append(start_uvicorn(app_dir, third_port, other_env, workers=1))
    try:
        urls = [f"http://127.0.0.1:{port}" for port in (*ports, third_port)]
        for url, process in zip(urls, processes, strict=True):
            wait_ready(url, process)
        first = get_new_connection(urls[0] + "/solve")
        token = first.json()["token"]
        second = get_new_connection(urls[1] + "/login", token)
        assert second.status_code == 200
        assert second.headers["x-worker-pid"] != first.headers["x-worker-pid"]
        # A server with another secret refuses it.
        assert get_new_connection(urls[2] + "/login", token).status_code == 405
    finally:
        for process in processes:
            stop(process)
