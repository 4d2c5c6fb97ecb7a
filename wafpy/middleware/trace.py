"""`X-Amzn-Trace-Id`, as an Application Load Balancer adds it.

An ALB adds `X-Amzn-Trace-Id: Root=1-<8 hex digits of epoch seconds>-<24 hex digits>` to a
request that has none and keeps the one it has; the WAF log's `requestId` carries the trace id.

This runs for every request the middleware forwards, so it is kept small: the
`1-<epoch seconds>-` prefix is formatted once per second, and the random part is 24 hex digits
cut from a string of a non-cryptographic generator's bits made 256 ids at a time.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterable

TRACE_HEADER = b"x-amzn-trace-id"

# Not a secret: a trace id only needs to be unique. getrandbits(96) as 12 bytes, then hex, is the
# cheapest spelling (Random.randbytes is a Python wrapper around it; os.urandom is a system call).
_random = random.Random()
_getrandbits = _random.getrandbits
_clock = time.time
_BATCH = 256  # ids per refill of the random digits


class _Digits:
    """Random hex digits made in bulk; each id takes the next 24 (one slice instead of three calls)."""

    __slots__ = ("pos", "text")

    def __init__(self) -> None:
        self.text = ""
        self.pos = 0

    def reset(self) -> None:
        _random.seed()
        self.text = ""
        self.pos = 0


_digits = _Digits()
if hasattr(os, "register_at_fork"):
    # A worker forked from a process that imported wafpy (gunicorn --preload) would otherwise
    # repeat the parent's sequence, and its siblings' trace ids with it.
    os.register_at_fork(after_in_child=_digits.reset)


def _random24() -> str:
    digits = _digits
    pos = digits.pos
    if pos >= len(digits.text):
        digits.text = _getrandbits(96 * _BATCH).to_bytes(12 * _BATCH, "little").hex()
        pos = 0
    digits.pos = pos + 24
    return digits.text[pos : pos + 24]


class _Prefix:
    """`1-<8 hex digits>-` for the current epoch second, re-formatted when the second changes."""

    __slots__ = ("end", "start", "text")

    def __init__(self) -> None:
        self.start = self.end = 0.0
        self.text = ""

    def refresh(self, now: float) -> str:
        second = int(now)
        self.start = float(second)
        self.end = float(second + 1)
        self.text = f"1-{second:08x}-"
        return self.text


_prefix = _Prefix()


def new_request_id() -> str:
    """A fresh trace id without the `Root=` key (`1-65f0c0de-<24 hex digits>`): the log's requestId."""
    now = _clock()
    prefix = _prefix
    # Both bounds: the wall clock may also step backwards.
    text = prefix.text if prefix.start <= now < prefix.end else prefix.refresh(now)
    return text + _random24()


def new_trace() -> tuple[str, bytes]:
    """(request id, `X-Amzn-Trace-Id` header value as bytes) for a request that has none."""
    now = _clock()
    prefix = _prefix
    text = prefix.text if prefix.start <= now < prefix.end else prefix.refresh(now)
    request_id = text + _random24()
    return request_id, b"Root=" + request_id.encode()


def new_trace_id() -> str:
    """A fresh `X-Amzn-Trace-Id` value: `Root=1-<epoch seconds>-<24 hex digits>`."""
    return "Root=" + new_request_id()


def request_id_of(trace: str) -> str:
    """The log's `requestId` for a trace header: the `Root=` value (`1-65f0c0de-...`)."""
    if trace.startswith("Root="):
        # The usual shape (an ALB's own header): the first part is the root.
        value = trace[5:].partition(";")[0].rstrip()
        if value:
            return value
    for part in trace.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "root" and value:
            return value
    return trace


def trace_of(headers: Iterable[tuple[bytes, bytes]], make_new: bool) -> tuple[str | None, bytes | None, bool]:
    """(request id, new header value, whether the request lacks one) for a request's ASGI headers.

    A request with its own trace header keeps it (no new header). One without gets a new id now
    when `make_new`, else (None, None, True): the caller makes one later, where it is shown.
    """
    for name, value in headers:
        if name == TRACE_HEADER:  # ASGI servers give header names lower-cased
            return request_id_of(value.decode("latin-1")), None, False
    if make_new:
        request_id, new_header = new_trace()
        return request_id, new_header, True
    return None, None, True
