"""`X-Amzn-Trace-Id`, as an Application Load Balancer adds it.

An ALB adds `X-Amzn-Trace-Id: Root=1-<8 hex digits of epoch seconds>-<24 hex digits>` to a
request that has none and keeps the one it has; the WAF log's `requestId` carries the trace id.
"""

from __future__ import annotations

import random
import time

TRACE_HEADER = b"x-amzn-trace-id"

# Not a secret: a trace id only needs to be unique, and getrandbits is 10x cheaper than urandom.
_random = random.Random()


def new_trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{_random.getrandbits(96):024x}"


def request_id_of(trace: str) -> str:
    """The log's `requestId` for a trace header: the `Root=` value (`1-65f0c0de-...`)."""
    for part in trace.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "root" and value:
            return value
    return trace
