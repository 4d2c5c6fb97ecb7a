"""`WAFMiddleware`: a web ACL in front of any ASGI app, where an Application Load Balancer would be.

    app.add_middleware(WAFMiddleware, acl="webacl.json", resources=["ipsets.json"])

For each HTTP request (and WebSocket handshake) it does what an ALB with a web ACL does: it reads
the body up to the inspection limit when a rule needs it (8 KB for an ALB,
https://docs.aws.amazon.com/waf/latest/developerguide/web-acl-setting-body-inspection-limit.html),
builds the request exactly as received (raw path, raw query, headers in order), evaluates the web
ACL, then either answers itself (Block, CAPTCHA, Challenge; the app is never called) or calls the
app with the `x-amzn-waf-*` headers inserted, an `X-Amzn-Trace-Id` when the request has none, the
buffered body replayed byte for byte and the rest of the body streamed through. The app finds the
`Decision` in ``scope["state"]["waf"]`` (``request.state.waf`` in Starlette).

A client that leaves while its body is being read gets nothing and the app is not called; the
request is still evaluated on what arrived, counted and logged, marked as such (UNSPECIFIED_CHOICES).

It is a plain ASGI callable (never `BaseHTTPMiddleware`): per-request state lives in locals, the
compiled ACL is shared, and a blocked request costs less than a served one. Its parts: `config`
(options), `scope` (what the app is handed), `clientinfo`, `requestlog`, `responses`, `reload`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from os import PathLike
from typing import Any, Final, Literal

from wafpy.decision import ALLOW, Decision
from wafpy.engine.services import Services
from wafpy.load.managed import IpListsSpec, ManagedSpec
from wafpy.middleware import config
from wafpy.middleware.body import BodyRead, ReplayReceive, read_body
from wafpy.middleware.clientinfo import ClientInfo
from wafpy.middleware.config import ClientConfig, LogConfig, TokenConfig, WatchConfig
from wafpy.middleware.logsink import Sink
from wafpy.middleware.metrics import Metrics, metric_names
from wafpy.middleware.notices import Notices
from wafpy.middleware.ratebackend import configure_rate_backend
from wafpy.middleware.reload import AclSource, LifespanObserver, PollingWatcher, load_acl, watched_paths
from wafpy.middleware.requestlog import CLIENT_DISCONNECTED_FIELD, RequestLog
from wafpy.middleware.responses import ERROR_BODY, Responder, send_metrics, send_solve
from wafpy.middleware.scope import ASGIApp, Receive, Scope, Send, content_length, forward_scope
from wafpy.middleware.tokens import HmacTokenValidator
from wafpy.middleware.trace import new_trace, trace_of
from wafpy.request import Request
from wafpy.webacl import WebACL

__all__ = ["CLIENT_DISCONNECTED_FIELD", "UNSPECIFIED_CHOICES", "WAFMiddleware"]

logger = logging.getLogger("wafpy.middleware.asgi")

# Where AWS documents nothing, the one choice the middleware makes (also in docs/unspecified.md).
UNSPECIFIED_CHOICES: Final[Mapping[str, str]] = {
    "client disconnect during the body": (
        "AWS does not say whether WAF sees a request whose client leaves before the ALB has its "
        "body. The middleware evaluates the web ACL on the headers and the body that arrived, "
        "forwards nothing and answers nothing, counts the decision in the metrics as usual and in "
        "wafpy_client_disconnects_total, and writes its log record with the evaluated action, "
        "requestBodySize = the bytes that arrived, responseCodeSent and requestHeadersInserted null "
        f"(nothing was sent or forwarded), and {CLIENT_DISCONNECTED_FIELD}: true. Rate-based rules "
        "count it like any request evaluated."
    ),
}

_NO_TRACE: Final = (None, None, False)  # trace_id=False: no request id, no header to add


class _Active:
    """The web ACL in force and what the hot path needs of it; replaced whole on reload."""

    __slots__ = ("acl", "limit", "needs_body")

    def __init__(self, acl: WebACL) -> None:
        self.acl = acl
        self.needs_body = acl.needs_body
        self.limit = acl.body_inspection_limit


class WAFMiddleware:
    """Evaluate an AWS WAF web ACL before the wrapped ASGI app, as an ALB does.

    `acl`: a path to a web ACL document (any shape `load_web_acl` reads), a dict, or a `WebACL`.
    `resources`, `account`, `search_string`, `managed`: passed to `load_web_acl`, at construction
    and at every reload. `managed` says how AWS managed rule groups are evaluated: rule group files
    or folders, "bundled" (wafpy's equivalents; `managed_ip_lists` for its IP-list groups) or "none"
    (no inner rule matches; warned, listed in `warnings`); "log" (replay only) is refused.
    `services`: the `Services` (rate counter, resolvers, clock) given to the loaded ACL.

    The ACL is loaded and validated here: a document error raises `RulesetErrors` (its text is what
    `wafpy validate` prints, `file:line:col: message at JSON.path`), managed groups without a
    `managed=` choice raise `NotAvailableError` naming them. `warnings` lists what makes the ACL
    in force answer other than AWS would (also logged): managed groups evaluated as "none", rules
    reading the country or ASN with no source configured.

    `rate_backend`: where rate-based rules count, a URL: `"memory://"` or `"redis://host:6379/0"`
    (shared by all workers and machines; `wafpy.middleware.ratebackend`). None reads
    `WAFPY_RATE_BACKEND(_FILE)`, else keeps the counter of `services` (in memory by default).

    Options by group (`wafpy.middleware.config`), each a frozen dataclass:

    * `client=ClientConfig(...)`: trusted proxies and the forwarded header, country and ASN
      from headers or MaxMind databases;
    * `tokens=TokenConfig(...)`: the `aws-waf-token` secret (else from the environment,
      `WAFPY_TOKEN_SECRET` or `WAFPY_TOKEN_SECRET_FILE`) and the `solve_path` endpoint;
    * `logs=LogConfig(...)`: where AWS WAF log records go, `LoggingFilter`, `RedactedFields`,
      `httpSourceId`. A log file found moved or removed is reopened (within a second);
      `reopen_logs()` does it now;
    * `watch=True` or `watch=WatchConfig(interval=...)`: a thread of its own polls the ACL files
      and reloads, whatever the async library (asyncio, trio).

    Every option of a group can be given flat instead (`trusted_proxies=`, `forwarded_header=`,
    `country_header=`, `geoip_db=`, `asn_header=`, `asn_db=`; `token_secret=`, `solve_path=`;
    `log=`, `log_filter=`, `redacted_fields=`, `http_source_id=`; `watch_interval=`), but not both
    ways for one group (`TypeError`).

    Metrics: `mw.metrics.snapshot()`; `metrics_path` (off by default) serves them as Prometheus text.
    `metrics_path` and `solve_path` are answered by the middleware and are not evaluated by the ACL.

    Operations: `reload()`, `on_error="allow"` (log and forward) or `"block"` (HTTP 500, like an ALB
    without fail-open), and `trace_id=False` to leave `X-Amzn-Trace-Id` alone.
    """

    def __init__(
        self,
        app: ASGIApp,
        acl: AclSource,
        *,
        resources: Mapping[str, Any] | Sequence[str | PathLike[str]] | None = None,
        account: str | None = None,
        search_string: str = "auto",
        managed: ManagedSpec = None,
        managed_ip_lists: IpListsSpec = None,
        services: Services | None = None,
        rate_backend: str | None = None,
        client: ClientConfig | None = None,
        tokens: TokenConfig | None = None,
        logs: LogConfig | None = None,
        metrics_path: str | None = None,
        watch: bool | WatchConfig = False,
        on_error: Literal["allow", "block"] = "allow",
        trace_id: bool = True,
        # The same options, flat (see ClientConfig, TokenConfig, LogConfig, WatchConfig).
        trusted_proxies: Iterable[str] | None = None,
        forwarded_header: str | None = None,
        country_header: str | None = None,
        geoip_db: str | PathLike[str] | None = None,
        asn_header: str | None = None,
        asn_db: str | PathLike[str] | None = None,
        token_secret: str | bytes | None = None,
        solve_path: str | None = None,
        log: str | PathLike[str] | logging.Logger | Sink | None = None,
        log_filter: Mapping[str, Any] | None = None,
        redacted_fields: Iterable[Mapping[str, Any]] | None = None,
        http_source_id: str | None = None,
        watch_interval: float | None = None,
    ) -> None:
        options = config.group_options(
            client=client,
            tokens=tokens,
            logs=logs,
            watch=watch,
            trusted_proxies=trusted_proxies,
            forwarded_header=forwarded_header,
            country_header=country_header,
            geoip_db=geoip_db,
            asn_header=asn_header,
            asn_db=asn_db,
            token_secret=token_secret,
            solve_path=solve_path,
            log=log,
            log_filter=log_filter,
            redacted_fields=redacted_fields,
            http_source_id=http_source_id,
            watch_interval=watch_interval,
        )
        if on_error not in ("allow", "block"):
            raise ValueError(f"on_error must be 'allow' or 'block', not {on_error!r}")
        tok = options.tokens
        secret_key = tok.key()  # the same in every worker, so a token one issues the others accept
        self.app = app
        self._source: AclSource = acl
        ip_lists = managed_ip_lists
        self._load_options = config.load_options(acl, resources, account, search_string, managed, ip_lists)
        self._services = services
        # The rate counter put in every ACL's services (None: keep theirs), and the shared one the
        # request path awaits (None: counted synchronously in the evaluation).
        self._rate_counter, self._shared = configure_rate_backend(rate_backend)
        self._on_error_block = on_error == "block"
        self._trace = trace_id

        # Who the client is; skipped on the hot path unless configured.
        self._clients = ClientInfo(options.client)
        self._token_secret = secret_key
        self._requests = RequestLog(options.logs)
        self._sink = self._requests.sink  # None: nothing is logged

        self._special: dict[str, Callable[[Scope, Receive, Send], Awaitable[None]]] = {}
        if metrics_path is not None:
            self._special[metrics_path] = self._serve_metrics
        if tok.solve_path is not None:
            self._special[tok.solve_path] = self._serve_solve

        self._responder = Responder()
        self.last_error: BaseException | None = None
        self._reload_lock = threading.Lock()  # reload() runs in the watcher's thread and the caller's
        self._watcher: PollingWatcher | None = None
        watching = options.watch is not None
        if options.watch is not None:
            if not watched_paths(acl, resources):
                raise ValueError("watch=True needs the web ACL (or its resources) given as file paths")
            # Made before loading: the files are looked at now, so a change during the load is seen.
            self._watcher = PollingWatcher(self._watched_paths, self.reload, options.watch.interval)
        try:
            first = self._prepare(load_acl(acl, self._load_options, services))
        except Exception as exc:
            # Also logged: Starlette builds `add_middleware` middleware at the server's startup, where
            # uvicorn's default lifespan mode would take this exception for "lifespan unsupported".
            logger.error("wafpy: the web ACL could not be loaded:\n%s", exc)
            raise
        self._notices = Notices(options.client)
        self._notices.check(first)
        web_acl_metric, rule_metrics = metric_names(first)
        self.metrics = Metrics(web_acl_metric, rule_metrics)
        self.metrics.managed_none = tuple(w.group for w in first.managed_warnings)
        if self._shared is not None:
            self._shared.counter.on_error = self.metrics.rate_backend_failed
        self._active = _Active(first)

        # The watcher starts with the server (lifespan startup) or, when there is no lifespan, at the
        # first request; until then one flag on the hot path covers it and the endpoints.
        self._watch_pending = watching
        self._extras = watching or bool(self._special)

    # ------------------------------------------------------------------------------------------
    # The ACL in force

    @property
    def acl(self) -> WebACL:
        """The web ACL currently in force."""
        return self._active.acl

    @property
    def warnings(self) -> tuple[str, ...]:
        """What makes the ACL in force answer other than AWS would (`wafpy.middleware.notices`)."""
        return self._notices.current

    def _prepare(self, acl: WebACL) -> WebACL:
        """Plug this middleware's resolvers and token validator into the ACL's services."""
        overrides: dict[str, Any] = {}
        if self._rate_counter is not None:
            overrides["rate_counter"] = self._rate_counter
        if self._clients.geo_db is not None:
            overrides["geo"] = self._clients.geo_db.geo
        if self._clients.asn_db is not None:
            overrides["asn"] = self._clients.asn_db.asn
        if self._token_secret is not None:
            overrides["token_validator"] = HmacTokenValidator(self._token_secret, acl.model.token_domains)
        if overrides:
            # A new Services per ACL (sharing the rate counter): a reload never changes the services
            # of an ACL that requests in flight are still using.
            acl.services = replace(acl.services, **overrides)
        return acl

    def reload(self, source: AclSource | None = None) -> bool:
        """Load the ACL again (or `source`) and put it in force atomically.

        Requests already being evaluated finish with the ACL they started with. When the new ACL
        fails to load, the old one stays in force, the error is logged (with line:column for a
        document error) and kept in `last_error`, and False is returned.
        """
        with self._reload_lock:  # two reloads at once would race to install
            try:
                chosen = source if source is not None else self._source
                acl = self._prepare(load_acl(chosen, self._load_options, self._services))
            except Exception as exc:
                self.last_error = exc
                logger.error(
                    "wafpy: the web ACL could not be loaded; the previous one stays in force:\n%s", exc
                )
                return False
            if source is not None:
                self._source = source
            self._install(acl)
            return True

    def _install(self, acl: WebACL) -> None:
        self.metrics.rename(*metric_names(acl))
        self.metrics.managed_none = tuple(w.group for w in acl.managed_warnings)
        self._active = _Active(acl)  # one attribute store: a request sees the old ACL or the new one
        self.last_error = None
        n = len(acl.rule_names)
        logger.info("wafpy: web ACL %r reloaded and in force (%d rule%s)", acl.name, n, "s" * (n != 1))
        self._notices.check(acl)

    def _watched_paths(self) -> list[str]:
        return watched_paths(self._source, self._load_options["resources"])

    @property
    def watching(self) -> bool:
        """Whether the thread polling the ACL files (`watch=True`) is running."""
        return self._watcher is not None and self._watcher.running

    def _start_watch(self) -> None:
        if self._watcher is None:
            return
        self._watcher.start()
        self._watch_pending = False
        self._extras = bool(self._special)

    def _stop_watch(self, *, restartable: bool = True) -> None:
        if self._watcher is None:
            return
        self._watcher.stop()
        # After a lifespan shutdown the app may be served again: the next startup or request
        # restarts the watcher. After close() it stays stopped.
        self._watch_pending = restartable
        self._extras = restartable or bool(self._special)

    def reopen_logs(self) -> bool:
        """Reopen the log file now (after a rotation); False if it failed or there is no file."""
        reopen = getattr(self._sink, "reopen", None)
        return bool(reopen()) if reopen is not None else False

    def close(self) -> None:
        """Stop watching and close the log file and databases (the server's shutdown does it too)."""
        self._stop_watch(restartable=False)
        close = getattr(self._sink, "close", None)
        if close is not None:
            close()
        self._clients.close()

    # ------------------------------------------------------------------------------------------
    # ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The HTTP path is inline (no inner coroutine per request); everything it does not need on
        # every request is behind one flag or None test.
        if scope["type"] != "http":
            await self._not_http(scope, receive, send)
            return
        if self._extras:
            if self._watch_pending:
                self._start_watch()
            if self._special:
                handler = self._special.get(scope["path"])
                if handler is not None:
                    await handler(scope, receive, send)
                    return
        active = self._active
        acl = active.acl
        messages = None
        body = b""
        body_size: int | None = 0
        if active.needs_body:
            read = await read_body(receive, active.limit)
            if read.disconnected:
                # Nobody to answer and nothing to forward; still a request that came: log it.
                await self._client_left(scope, read, active)
                return
            messages = read.messages
            body = read.body
            body_size = read.size
            if not read.complete:
                body_size = max(body_size, content_length(scope) or 0)
            if len(body) > active.limit:
                # WAF sees the first `limit` bytes; the size says the body was longer (oversize).
                body = body[: active.limit]
        # X-Amzn-Trace-Id: the request's own, or a new one. A new one is made only when something
        # will show it: the log record (now), the forwarded request (after an Allow).
        request_id, new_header, add_trace = (
            trace_of(scope.get("headers") or (), self._sink is not None) if self._trace else _NO_TRACE
        )
        try:
            if self._shared is None:  # counted in the evaluation: no await on the usual path
                request, decision = self._evaluate(acl, scope, body, body_size, request_id)
            else:
                request, decision = await self._decide(acl, scope, body, body_size, request_id)
        except Exception:
            if add_trace and new_header is None:
                new_header = new_trace()[1]
            await self._failed(
                scope, receive if messages is None else ReplayReceive(messages, receive), send, new_header
            )
            return
        self.metrics.record(decision)
        if self._sink is not None:
            self._requests.write(self.metrics, decision, scope, messages is not None, active.limit)
        if decision.action == ALLOW:
            if add_trace and new_header is None:
                # The id is made after the evaluation (no rule reads it); the request the app
                # finds in state["waf"] carries it like a logged one.
                request.request_id, new_header = new_trace()
            await self.app(
                forward_scope(scope, decision, new_header),
                receive if messages is None else ReplayReceive(messages, receive),
                send,
            )
        else:
            await self._responder.respond(
                send, decision.response_code or 403, decision.response_headers, decision.response_body
            )

    async def _not_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "lifespan" and self._watcher is not None:
            await self.app(scope, LifespanObserver(self._start_watch, self._stop_watch, receive), send)
        else:
            await self.app(scope, receive, send)

    def _evaluate(
        self, acl: WebACL, scope: Scope, body: bytes, body_size: int | None, request_id: str | None
    ) -> tuple[Request, Decision]:
        """Build the request WAF sees (client address and location resolved) and evaluate it."""
        now_ms = acl.services.clock_ms()
        request = self._clients.request(scope, body, body_size, request_id, now_ms)
        return request, acl.evaluate(request, now_ms=now_ms)

    async def _decide(
        self, acl: WebACL, scope: Scope, body: bytes, body_size: int | None, request_id: str | None
    ) -> tuple[Request, Decision]:
        """`_evaluate`, with the rate counts of a shared backend awaited in one call when there is one."""
        if self._shared is None:
            return self._evaluate(acl, scope, body, body_size, request_id)
        now_ms = acl.services.clock_ms()
        request = self._clients.request(scope, body, body_size, request_id, now_ms)
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

    async def _client_left(self, scope: Scope, read: BodyRead, active: _Active) -> None:
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
        request_id, new_header, _ = trace_of(scope.get("headers") or (), True) if self._trace else _NO_TRACE
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
