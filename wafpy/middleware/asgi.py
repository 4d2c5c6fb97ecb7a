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
compiled ACL is shared, and a blocked request costs less than a served one. This module holds its
options (the constructor) and the HTTP path; `inforce` the ACL in force (reload, watching,
closing) and `handling` the other request paths (evaluation, errors, a client that left,
WebSockets, its own endpoints). Its other parts: `config` (options), `scope` (what the app is
handed), `clientinfo`, `requestlog`, `responses`, `reload`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from os import PathLike
from typing import Any, Final, Literal

from wafpy.decision import ALLOW
from wafpy.engine.services import Services
from wafpy.load.managed import IpListsSpec, ManagedSpec
from wafpy.middleware import config
from wafpy.middleware.body import ReplayReceive, read_body
from wafpy.middleware.clientinfo import ClientInfo
from wafpy.middleware.config import ClientConfig, LogConfig, TokenConfig, WatchConfig
from wafpy.middleware.handling import NO_TRACE, RequestHandling
from wafpy.middleware.inforce import Active, logger
from wafpy.middleware.logsink import Sink
from wafpy.middleware.metrics import Metrics, metric_names
from wafpy.middleware.notices import Notices
from wafpy.middleware.ratebackend import configure_rate_backend
from wafpy.middleware.reload import AclSource, LifespanObserver, PollingWatcher, load_acl, watched_paths
from wafpy.middleware.requestlog import CLIENT_DISCONNECTED_FIELD, RequestLog
from wafpy.middleware.responses import Responder
from wafpy.middleware.scope import ASGIApp, Receive, Scope, Send, content_length, forward_scope
from wafpy.middleware.trace import new_trace, trace_of

__all__ = ["CLIENT_DISCONNECTED_FIELD", "UNSPECIFIED_CHOICES", "WAFMiddleware"]

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


class WAFMiddleware(RequestHandling):
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
        self._active = Active(first)

        # The watcher starts with the server (lifespan startup) or, when there is no lifespan, at the
        # first request; until then one flag on the hot path covers it and the endpoints.
        self._watch_pending = watching
        self._extras = watching or bool(self._special)

    # ------------------------------------------------------------------------------------------
    # ASGI: the HTTP path (the rest is in `handling`, the ACL in force in `inforce`)

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
            trace_of(scope.get("headers") or (), self._sink is not None) if self._trace else NO_TRACE
        )
        try:
            if self._shared is None:  # counted in the evaluation: no await on the usual path
                # `_decide`, inline: no coroutine on the usual path.
                now_ms = acl.services.clock_ms()
                request = self._clients.request(scope, body, body_size, request_id, now_ms)
                decision = acl.evaluate(request, now_ms=now_ms)
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
