"""The request paths of `WAFMiddleware` besides the HTTP hot path (`WAFMiddleware.__call__`):
building and evaluating the request WAF sees (a shared rate backend awaited once), what an
evaluation error does (`on_error`), the client that left during its body, WebSocket handshakes,
and the endpoints the middleware answers itself.

`RequestHandling` is a base of `WAFMiddleware` (`wafpy.middleware.asgi`), whose constructor sets
every attribute it declares.
"""

from __future__ import annotations

from typing import Final

from wafpy.decision import ALLOW, Decision
from wafpy.middleware.body import BodyRead
from wafpy.middleware.inforce import AclInForce, Active, logger
from wafpy.middleware.ratebackend import SharedRates
from wafpy.middleware.requestlog import RequestLog
from wafpy.middleware.responses import ERROR_BODY, Responder, send_metrics, send_solve
from wafpy.middleware.scope import ASGIApp, Receive, Scope, Send, forward_scope
from wafpy.middleware.trace import trace_of
from wafpy.request import Request
from wafpy.webacl import WebACL

__all__ = ["NO_TRACE", "RequestHandling"]

NO_TRACE: Final = (None, None, False)  # trace_id=False: no request id, no header to add


class RequestHandling(AclInForce):
    """Evaluation, failures, clients that left, WebSockets and the middleware's own endpoints."""

    app: ASGIApp
    # The shared rate counts awaited per request (None: counted synchronously in the evaluation).
    _shared: SharedRates | None
    _on_error_block: bool
    _trace: bool
    _requests: RequestLog
    _responder: Responder

    async def _decide(
        self, acl: WebACL, scope: Scope, body: bytes, body_size: int | None, request_id: str | None
    ) -> tuple[Request, Decision]:
        """Build the request WAF sees (client address and location resolved) and evaluate it, the
        rate counts of a shared backend awaited in one call when there is one (the HTTP path in
        `asgi` has this inline, without a coroutine, when there is none)."""
        now_ms = acl.services.clock_ms()
        request = self._clients.request(scope, body, body_size, request_id, now_ms)
        if self._shared is None:
            return request, acl.evaluate(request, now_ms=now_ms)
        return request, await self._shared.evaluate(acl, request, now_ms)

    async def _failed(self, scope: Scope, receive: Receive, send: Send, new_header: bytes | None) -> None:
        self.metrics.errors += 1
        if self._on_error_block:
            logger.exception("wafpy: evaluating the web ACL failed; answering 500 (on_error='block')")
            if scope["type"] == "http":
                await self._responder.respond(send, 500, (("content-type", "text/html"),), ERROR_BODY)
            else:
                await self._responder.deny_websocket(scope, receive, send, 500, (), b"")
            return
        logger.exception("wafpy: evaluating the web ACL failed; forwarding the request (on_error='allow')")
        await self.app(forward_scope(scope, None, new_header), receive, send)

    async def _client_left(self, scope: Scope, read: BodyRead, active: Active) -> None:
        """The client left before its body ended: evaluate what arrived, count and log it (see
        UNSPECIFIED_CHOICES); nothing is sent and the app is not called."""
        self.metrics.client_disconnects += 1
        request_id = (
            trace_of(scope.get("headers") or (), True)[0] if self._trace and self._sink is not None else None
        )
        try:
            body = read.body[: active.limit]
            decision = (await self._decide(active.acl, scope, body, read.size, request_id))[1]
        except Exception:
            self.metrics.errors += 1
            logger.exception("wafpy: evaluating the web ACL failed for a request whose client left")
            return
        self.metrics.record(decision)
        if self._sink is not None:
            self._requests.write(self.metrics, decision, scope, True, active.limit, client_left=True)

    # ------------------------------------------------------------------------------------------
    # WebSocket handshakes: evaluated like the HTTP GET they are.

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._watch_pending:
            self._start_watch()
        request_id, new_header, _ = trace_of(scope.get("headers") or (), True) if self._trace else NO_TRACE
        try:
            handshake = {**scope, "method": "GET"}
            decision = (await self._decide(self._active.acl, handshake, b"", 0, request_id))[1]
        except Exception:
            await self._failed(scope, receive, send, new_header)
            return
        self.metrics.record(decision)
        if self._sink is not None:
            self._requests.write(self.metrics, decision, scope, True, self._active.limit)
        if decision.action == ALLOW:
            await self.app(forward_scope(scope, decision, new_header), receive, send)
        else:
            await self._responder.deny_websocket(
                scope,
                receive,
                send,
                decision.response_code or 403,
                decision.response_headers,
                decision.response_body,
            )

    # ------------------------------------------------------------------------------------------
    # Endpoints answered by the middleware itself (never evaluated)

    async def _serve_metrics(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_metrics(send, self.metrics)

    async def _serve_solve(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self._token_secret is not None
        await send_solve(scope, send, self._token_secret)
