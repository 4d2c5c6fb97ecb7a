"""The pluggable services an evaluation uses: IP databases, rate counters, tokens, clock.

They are the seams for what comes later (a Redis counter, a MaxMind database, libinjection,
a signed-token validator in the middleware) without touching the compiled ACL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from wafpy.engine.ratelimit import MemoryRateCounter, RateCounter
from wafpy.request import Request


class GeoResolver(Protocol):
    """Country and ISO 3166-2 region of an address: `("US", "OR")`, `("US", None)` or None."""

    def __call__(self, ip: str) -> tuple[str, str | None] | None: ...


class AsnResolver(Protocol):
    def __call__(self, ip: str) -> int | None: ...


@dataclass(frozen=True, slots=True)
class TokenCheck:
    """Result of checking the `aws-waf-token` for a Captcha or Challenge rule."""

    valid: bool
    failure_reason: str | None = None  # TOKEN_MISSING | TOKEN_EXPIRED | TOKEN_INVALID | TOKEN_DOMAIN_MISMATCH
    solve_timestamp: int = 0  # epoch seconds of the solve, for valid tokens


class TokenValidator(Protocol):
    def __call__(self, request: Request, kind: str, immunity_s: int, now_ms: int) -> TokenCheck: ...


def no_valid_token(request: Request, kind: str, immunity_s: int, now_ms: int) -> TokenCheck:
    """Default: wafpy cannot decrypt AWS tokens, so no token is ever valid (https://docs.aws.amazon.com/waf/latest/developerguide/waf-tokens.html)."""
    present = any(name == b"aws-waf-token" for name, _ in request.cookies)
    return TokenCheck(False, "TOKEN_INVALID" if present else "TOKEN_MISSING")


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class Services:
    geo: GeoResolver | None = None
    asn: AsnResolver | None = None
    rate_counter: RateCounter = field(default_factory=MemoryRateCounter)
    token_validator: TokenValidator = no_valid_token
    clock_ms: Callable[[], int] = wall_clock_ms
