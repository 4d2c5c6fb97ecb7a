"""`wafpy eval --rate-backend URL`: where the replay's rate-based rules count.

The same URLs as the middleware (`wafpy.middleware.ratebackend`): `memory://` (the default) or a
Redis URL, so a replay can count together with, or against the state of, a running deployment.
Without the option, `WAFPY_RATE_BACKEND` or `WAFPY_RATE_BACKEND_FILE` is read. The replay
evaluates synchronously, in log order, with the logs' timestamps.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from wafpy.middleware.ratebackend import open_rate_backend, rate_backend_url
from wafpy.webacl import WebACL


def add_rate_backend_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rate-backend",
        metavar="URL",
        help="where rate-based rules count: memory:// (default) or redis://host:6379/0 "
        "(else WAFPY_RATE_BACKEND or WAFPY_RATE_BACKEND_FILE)",
    )


def use_rate_backend(url: str | None, acl: WebACL) -> Callable[[], None] | None:
    """Put the chosen counter in `acl`'s services; return what closes it, or None (error printed)."""
    try:
        chosen = rate_backend_url(url)
        counter = open_rate_backend(chosen) if chosen is not None else None
    except (ValueError, OSError) as exc:
        print(f"error: --rate-backend: {exc}", file=sys.stderr)
        return None
    if counter is None:
        return lambda: None
    acl.services.rate_counter = counter
    closer: Callable[[], None] = getattr(counter, "close", lambda: None)
    return closer
