"""Where rate-based rules count, chosen by one URL everywhere: `WAFMiddleware(rate_backend=...)`,
`wafpy eval --rate-backend`, or the environment.

    memory://                          this process only (the default); ?max_keys=100000
    redis://[user:password@]host:6379/0   shared by every worker and machine using it
    rediss://...   unix:///run/redis.sock?db=0

Redis URLs take wafpy's options as query parameters, removed before the URL reaches the client:
`timeout` (seconds per call, connect included; 0.1), `retry` (seconds before trying again after
a failure; 1), `on_backend_error` (`allow`: count in memory meanwhile; `raise`), `prefix`
(`wafpy:rate:`), `max_keys` (of the in-memory fallback). Any other parameter is the `redis`
package's own.

The URL holds the credentials, so it is a secret of the deployment (like the token secret): give
it in `WAFPY_RATE_BACKEND`, or put it in a file (a mounted secret) named by
`WAFPY_RATE_BACKEND_FILE`; never in the web ACL.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from wafpy.decision import Decision
from wafpy.engine.ratelimit import MemoryRateCounter
from wafpy.request import Request
from wafpy.webacl import WebACL

if TYPE_CHECKING:
    from wafpy.middleware.redisrate import RedisRateCounter

ENV_URL = "WAFPY_RATE_BACKEND"
ENV_FILE = "WAFPY_RATE_BACKEND_FILE"
MEMORY = "memory://"
REDIS_SCHEMES = ("redis", "rediss", "unix")
_OPTIONS = {"timeout": float, "retry": float, "on_backend_error": str, "prefix": str, "max_keys": int}


def rate_backend_url(url: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """`url` if given, else `WAFPY_RATE_BACKEND`, else the file `WAFPY_RATE_BACKEND_FILE` names,
    else None (nothing configured). Both variables set is an error (which one is meant?)."""
    if url is not None:
        return url
    env = os.environ if environ is None else environ
    direct, path = env.get(ENV_URL), env.get(ENV_FILE)
    if direct and path:
        raise ValueError(f"both {ENV_URL} and {ENV_FILE} are set: set one")
    if direct:
        return direct.strip()
    if path:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    return None


def _split_options(url: str) -> tuple[str, dict[str, Any]]:
    parts = urlsplit(url)
    ours: dict[str, Any] = {}
    theirs: list[tuple[str, str]] = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        kind = _OPTIONS.get(name)
        if kind is None:
            theirs.append((name, value))
            continue
        try:
            ours[name] = kind(value)
        except ValueError:
            raise ValueError(f"rate backend option {name}={value!r} is not a {kind.__name__}") from None
    return urlunsplit(parts._replace(query=urlencode(theirs))), ours


def open_rate_backend(url: str) -> MemoryRateCounter | RedisRateCounter:
    """The counter a URL names (`memory://...` or a Redis URL); ValueError for anything else."""
    scheme = urlsplit(url).scheme
    plain, options = _split_options(url)
    if scheme == "memory":
        unknown = set(options) - {"max_keys"}
        if unknown or urlsplit(plain).query:
            raise ValueError(f"memory:// takes only max_keys, not {url!r}")
        return MemoryRateCounter(**options)
    if scheme in REDIS_SCHEMES:
        try:
            from wafpy.middleware.redisrate import RedisRateCounter
        except ImportError as exc:
            raise ValueError(
                f"a {scheme}:// rate backend needs the redis package: pip install 'wafpy-engine[redis]'"
            ) from exc
        return RedisRateCounter(plain, **options)
    shown = url.split("@")[-1]  # never print credentials
    raise ValueError(f"unknown rate backend {shown!r}: use memory:// or redis://host:port/db")


def configure_rate_backend(
    url: str | None, environ: Mapping[str, str] | None = None
) -> tuple[MemoryRateCounter | RedisRateCounter | None, SharedRates | None]:
    """(the counter to put in the ACL's services or None to keep theirs, the shared driver the
    request path awaits or None) for `WAFMiddleware(rate_backend=url)`."""
    chosen = rate_backend_url(url, environ)
    if chosen is None:
        return None, None
    counter = open_rate_backend(chosen)
    return counter, None if isinstance(counter, MemoryRateCounter) else SharedRates(counter)


class SharedRates:
    """Drives `WebACL.evaluate_counted` with a shared counter: one awaited batch per request."""

    __slots__ = ("counter",)

    def __init__(self, counter: RedisRateCounter) -> None:
        self.counter = counter

    async def evaluate(self, acl: WebACL, request: Request, now_ms: int) -> Decision:
        counter = self.counter
        steps = acl.evaluate_counted(request, now_ms=now_ms, guess=counter.guess)
        try:
            hits = next(steps)
            while True:
                hits = steps.send(await counter.hit_many_async(hits, now_ms))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
