"""The ASGI side of the middleware: its types, and the scope it reads and hands to the app.

The app is called with a shallow copy of the server's scope (never the server's own, which may be
reused): the `x-amzn-waf-*` headers of `InsertHeaders` and a new `X-Amzn-Trace-Id` added, and the
`Decision` in ``scope["state"]["waf"]`` (``request.state.waf`` in Starlette).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from wafpy.decision import Decision
from wafpy.middleware.trace import TRACE_HEADER

__all__ = [
    "ASGIApp",
    "Headers",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "content_length",
    "forward_scope",
    "with_headers",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
# Any ASGI 3 app; typed loosely so apps declaring their own Scope/Receive aliases fit.
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]


def content_length(scope: Scope) -> int | None:
    """The request's Content-Length, None when it has none or it is not a number."""
    for name, value in scope.get("headers") or ():
        if name == b"content-length" or name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def with_headers(scope: Scope, inserted: tuple[tuple[str, str], ...], new_header: bytes | None) -> Scope:
    """A shallow copy of `scope` with the `x-amzn-waf-*` headers (and the trace header) added."""
    pairs = [(name.lower().encode("latin-1"), value.encode("utf-8")) for name, value in inserted]
    names = {name for name, _ in pairs}
    # An existing header with exactly an inserted name is replaced, as AWS does
    # (https://docs.aws.amazon.com/waf/latest/developerguide/customizing-the-incoming-request.html).
    headers = [h for h in scope.get("headers") or () if h[0].lower() not in names]
    headers.extend(pairs)
    if new_header is not None:
        headers.append((TRACE_HEADER, new_header))
    scope = _copy(scope)
    scope["headers"] = headers
    return scope


def _copy(scope: Scope) -> Scope:
    # dict.copy is twice as fast as dict(scope); a server may hand any mapping.
    return scope.copy() if type(scope) is dict else dict(scope)


def forward_scope(scope: Scope, decision: Decision | None, new_header: bytes | None) -> Scope:
    """The scope the app sees: inserted headers, trace id, and the decision in state["waf"]."""
    inserted = decision.inserted_request_headers if decision is not None else ()
    if inserted:
        scope = with_headers(scope, inserted, new_header)
    elif new_header is not None:
        # Only the trace header to add (most requests): a shallow copy and one list concatenation.
        scope = _copy(scope)
        scope["headers"] = [*(scope.get("headers") or ()), (TRACE_HEADER, new_header)]
    state = scope.get("state")
    if state is None:
        state = scope["state"] = {}
    state["waf"] = decision
    return scope
