"""The responses the middleware sends itself: decisions that are not Allow, errors, refused
WebSocket handshakes, and its own endpoints (metrics, tokens).

A Block, CAPTCHA or Challenge response is the same few header lists over and over, so the raw
headers are built once per (status, headers, length) and the last one sent is found again by an
identity test; each send still gets a fresh list, since middlewares outside this one may edit it.
"""

from __future__ import annotations

from typing import Any, Final

from wafpy.middleware.metrics import Metrics
from wafpy.middleware.scope import Headers, Receive, Scope, Send
from wafpy.middleware.tokens import solve_response

__all__ = [
    "ERROR_BODY",
    "HTTP_RESPONSE",
    "WEBSOCKET_RESPONSE",
    "Responder",
    "send_metrics",
    "send_response",
    "send_solve",
]

# The two message types of a response: to an HTTP request, or refusing a WebSocket handshake
# (the ASGI "websocket.http.response" extension).
HTTP_RESPONSE: Final = ("http.response.start", "http.response.body")
WEBSOCKET_RESPONSE: Final = ("websocket.http.response.start", "websocket.http.response.body")

ERROR_BODY: Final = (
    b"<html><head><title>500 Internal Server Error</title></head><body>"
    b"<center><h1>500 Internal Server Error</h1></center></body></html>\n"
)
_CACHE_SIZE = 256


async def send_response(
    send: Send, status: int, headers: Headers, body: bytes, kinds: tuple[str, str] = HTTP_RESPONSE
) -> None:
    """Send a whole response: its start (status, raw headers) and its one body message."""
    await send({"type": kinds[0], "status": status, "headers": headers})
    await send({"type": kinds[1], "body": body})


class Responder:
    """Sends responses given as (status, headers as str pairs, body), caching their raw headers."""

    __slots__ = ("_cache", "_last")

    def __init__(self) -> None:
        self._cache: dict[tuple[Any, ...], Headers] = {}
        # The last response sent: (headers tuple, status, length, raw headers). Decisions of one
        # rule share their headers tuple, so an identity test finds it again.
        self._last: tuple[tuple[tuple[str, str], ...], int, int, Headers] | None = None

    def raw_headers(self, status: int, headers: tuple[tuple[str, str], ...], length: int) -> Headers:
        """The headers as ASGI sends them, Content-Length last (shared: copy before handing out)."""
        key = (status, headers, length)
        found = self._cache.get(key)
        if found is None:
            found = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
            found.append((b"content-length", str(length).encode("ascii")))
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = found
        return found

    async def respond(
        self, send: Send, status: int, headers: tuple[tuple[str, str], ...], body: bytes
    ) -> None:
        """Answer an HTTP request."""
        length = len(body)
        last = self._last
        if last is not None and last[0] is headers and last[1] == status and last[2] == length:
            raw = last[3]
        else:
            raw = self.raw_headers(status, headers, length)
            self._last = (headers, status, length, raw)
        # Fresh messages and a fresh header list each time: middlewares outside this one may edit
        # them in place (Starlette's CORSMiddleware appends to the headers list).
        await send_response(send, status, raw[:], body)

    async def deny_websocket(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        headers: tuple[tuple[str, str], ...],
        body: bytes,
    ) -> None:
        """Refuse a WebSocket handshake: with the response itself where the server can send one."""
        message = await receive()
        if message["type"] != "websocket.connect":
            return  # the client left during the handshake
        if "websocket.http.response" in (scope.get("extensions") or {}):
            raw = list(self.raw_headers(status, headers, len(body)))
            await send_response(send, status, raw, body, WEBSOCKET_RESPONSE)
        else:
            # Closing before accepting makes the server refuse the handshake (HTTP 403).
            await send({"type": "websocket.close", "code": 1008})


async def send_metrics(send: Send, metrics: Metrics) -> None:
    """The metrics as Prometheus text."""
    body = metrics.prometheus().encode("utf-8")
    headers = [
        (b"content-type", b"text/plain; version=0.0.4; charset=utf-8"),
        (b"content-length", str(len(body)).encode("ascii")),
    ]
    await send_response(send, 200, headers, body)


async def send_solve(scope: Scope, send: Send, secret: bytes) -> None:
    """A fresh `aws-waf-token` cookie for the request's host (see `tokens.solve_response`)."""
    host = None
    for name, value in scope.get("headers") or ():
        if name.lower() == b"host":
            host = value.decode("latin-1")
            break
    status, headers, body = solve_response(
        secret,
        host,
        scope.get("query_string") or b"",
        secure=scope.get("scheme") in ("https", "wss"),
    )
    headers.append((b"content-length", str(len(body)).encode("ascii")))
    await send_response(send, status, headers, body)
