"""`WAFMiddleware`: a web ACL in front of any ASGI app, where an Application Load Balancer would be.

    app.add_middleware(WAFMiddleware, acl="webacl.json", resources=["ipsets.json"])

For each HTTP request (and WebSocket handshake) it does what an ALB with a web ACL does (spec 11):
it reads the body up to the inspection limit when a rule needs it, builds the request exactly as
received (raw path, raw query, headers in order), evaluates the web ACL, then either answers itself
(Block, CAPTCHA, Challenge; the app is never called) or calls the app with the `x-amzn-waf-*`
headers inserted, an `X-Amzn-Trace-Id` when the request has none, the buffered body replayed byte
for byte and the rest of the body streamed through. The app finds the `Decision` in
``scope["state"]["waf"]`` (``request.state.waf`` in Starlette).

A client that leaves while its body is being read gets nothing and the app is not called; the
request is still evaluated on what arrived, counted and logged, marked as such (UNSPECIFIED_CHOICES).

It is a plain ASGI callable (never `BaseHTTPMiddleware`): per-request state lives in locals, the
compiled ACL is shared, and a blocked request costs less than a served one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import replace
from os import PathLike
from typing import Any, Final, Literal

from wafpy.decision import ALLOW, Decision
from wafpy.engine.services import Services
from wafpy.middleware.body import BodyRead, ReplayReceive, read_body
from wafpy.middleware.clientinfo import ClientResolver, MaxMindDatabase, header_reader
from wafpy.middleware.config import ClientConfig, LogConfig, TokenConfig, WatchConfig, group_options
from wafpy.middleware.logfile import FailureReport, LogRecordLost
from wafpy.middleware.logsink import LoggingFilter, Redactor, Sink, make_sink
from wafpy.middleware.metrics import Metrics
from wafpy.middleware.reload import AclSource, PollingWatcher, load_acl, watched_paths
from wafpy.middleware.tokens import HmacTokenValidator, solve_response, token_key, token_secret_from_env
from wafpy.middleware.trace import TRACE_HEADER, new_trace, request_id_of
from wafpy.request import Request
from wafpy.webacl import WebACL

__all__ = ["CLIENT_DISCONNECTED_FIELD", "UNSPECIFIED_CHOICES", "WAFMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
# Any ASGI 3 app; typed loosely so apps declaring their own Scope/Receive aliases fit.
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

logger = logging.getLogger("wafpy.middleware.asgi")

# Not an AWS field: marks the log record of a request whose client left before its body ended.
CLIENT_DISCONNECTED_FIELD = "wafpyClientDisconnected"

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

_ERROR_BODY = (
    b"<html><head><title>500 Internal Server Error</title></head><body>"
    b"<center><h1>500 Internal Server Error</h1></center></body></html>\n"
)
_RESPONSE_CACHE_SIZE = 256


class _Active:
    """The web ACL in force and what the hot path needs of it; replaced whole on reload."""

    __slots__ = ("acl", "limit", "needs_body")

    def __init__(self, acl: WebACL) -> None:
        self.acl = acl
        self.needs_body = acl.needs_body
        self.limit = acl.body_inspection_limit


def _metric_names(acl: WebACL) -> tuple[str, dict[str, str]]:
    model = acl.model
    web_acl = model.visibility_config.metric_name if model.visibility_config else model.name
    rules = {
        r.name: (r.visibility_config.metric_name if r.visibility_config else r.name) for r in model.rules
    }
    return web_acl, rules


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or ():
        if name == b"content-length" or name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _with_headers(scope: Scope, inserted: tuple[tuple[str, str], ...], new_header: bytes | None) -> Scope:
    """A shallow copy of `scope` with the `x-amzn-waf-*` headers and the trace header added."""
    headers = scope.get("headers") or ()
    if inserted:
        pairs = [(name.lower().encode("latin-1"), value.encode("utf-8")) for name, value in inserted]
        names = {name for name, _ in pairs}
        # An existing header with exactly an inserted name is replaced (spec 6.6).
        kept = [h for h in headers if h[0].lower() not in names]
        kept.extend(pairs)
        if new_header is not None:
            kept.append((TRACE_HEADER, new_header))
        headers = kept
    else:
        assert new_header is not None
        headers = [*headers, (TRACE_HEADER, new_header)]
    scope = _copy(scope)
    scope["headers"] = headers
    return scope


# The two message types of a response: to an HTTP request, or refusing a WebSocket handshake
# (the ASGI "websocket.http.response" extension).
HTTP_RESPONSE: Final = ("http.response.start", "http.response.body")
WEBSOCKET_RESPONSE: Final = ("websocket.http.response.start", "websocket.http.response.body")


async def send_response(
    send: Send, status: int, headers: Headers, body: bytes, kinds: tuple[str, str] = HTTP_RESPONSE
) -> None:
    """Send a whole response: its start (status, raw headers) and its one body message."""
    await send({"type": kinds[0], "status": status, "headers": headers})
    await send({"type": kinds[1], "body": body})


def _copy(scope: Scope) -> Scope:
    # dict.copy is twice as fast as dict(scope); a server may hand any mapping.
    return scope.copy() if type(scope) is dict else dict(scope)


class WAFMiddleware:
    """Evaluate an AWS WAF web ACL before the wrapped ASGI app, as an ALB does.

    `acl`: a path to a web ACL document (any shape `load_web_acl` reads), a dict, or a `WebACL`.
    `resources`, `account`, `search_string`: passed to `load_web_acl`. `services`: the `Services`
    (rate counter, resolvers, clock) given to the loaded ACL.

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
        services: Services | None = None,
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
        options = group_options(
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
        tok, client_cfg, log_cfg = options.tokens, options.client, options.logs
        # Every worker process reads the same secret, so a token one issues the others accept.
        secret_key = token_secret_from_env() if tok.secret is None else token_key(tok.secret)
        if tok.solve_path is not None and secret_key is None:
            raise ValueError(
                "solve_path needs a token secret (token_secret=, WAFPY_TOKEN_SECRET or "
                "WAFPY_TOKEN_SECRET_FILE) to sign the tokens it hands out"
            )
        self.app = app
        self._source: AclSource = acl
        self._load_options: dict[str, Any] = {"resources": resources, "search_string": search_string}
        if account is not None:
            self._load_options["account"] = account
        self._services = services
        self._on_error_block = on_error == "block"
        self._trace = trace_id

        # Who the client is. Each resolver is None unless configured, so the hot path skips it.
        proxies = list(client_cfg.trusted_proxies)
        self._proxies = ClientResolver(proxies, client_cfg.forwarded_header) if proxies else None
        self._country_header = header_reader(client_cfg.country_header) if client_cfg.country_header else None
        self._asn_header = header_reader(client_cfg.asn_header) if client_cfg.asn_header else None
        geoip_db, asn_db = client_cfg.geoip_db, client_cfg.asn_db
        self._geo_db = MaxMindDatabase(geoip_db) if geoip_db is not None else None
        self._asn_db = (
            self._geo_db
            if asn_db is not None and asn_db == geoip_db
            else MaxMindDatabase(asn_db)
            if asn_db is not None
            else None
        )
        self._client_info = any(
            x is not None
            for x in (self._proxies, self._country_header, self._asn_header, self._geo_db, self._asn_db)
        )
        self._token_secret = secret_key

        self._sink = make_sink(log_cfg.destination) if log_cfg.destination is not None else None
        self._log_failures = FailureReport("logging requests")  # a sink or a record that raised
        self._log_filter = LoggingFilter(log_cfg.filter) if log_cfg.filter is not None else None
        redacted = list(log_cfg.redacted_fields)
        self._redactor = Redactor(redacted) if redacted else None
        self._source_id = log_cfg.http_source_id

        self._special: dict[str, Callable[[Scope, Receive, Send], Awaitable[None]]] = {}
        if metrics_path is not None:
            self._special[metrics_path] = self._serve_metrics
        if tok.solve_path is not None:
            self._special[tok.solve_path] = self._serve_solve

        self._responses: dict[tuple[Any, ...], Headers] = {}
        # The last response sent by the middleware: (headers tuple, status, length, raw headers).
        # Decisions of one rule share their headers tuple, so an identity test finds it again.
        self._last_response: tuple[tuple[tuple[str, str], ...], int, int, Headers] | None = None
        self.last_error: BaseException | None = None
        self._reload_lock = threading.Lock()  # reload() runs in the watcher's thread and the caller's
        self._watcher: PollingWatcher | None = None
        watching = options.watch is not None
        if options.watch is not None:
            if not watched_paths(acl, resources):
                raise ValueError("watch=True needs the web ACL (or its resources) given as file paths")
            # Made before loading: the files are looked at now, so a change during the load is seen.
            self._watcher = PollingWatcher(self._watched_paths, self.reload, options.watch.interval)
        first = self._prepare(load_acl(acl, self._load_options, services))
        web_acl_metric, rule_metrics = _metric_names(first)
        self.metrics = Metrics(web_acl_metric, rule_metrics)
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

    def _prepare(self, acl: WebACL) -> WebACL:
        """Plug this middleware's resolvers and token validator into the ACL's services."""
        overrides: dict[str, Any] = {}
        if self._geo_db is not None:
            overrides["geo"] = self._geo_db.geo
        if self._asn_db is not None:
            overrides["asn"] = self._asn_db.asn
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
        self.metrics.rename(*_metric_names(acl))
        self._active = _Active(acl)  # one attribute store: a request sees the old ACL or the new one
        self.last_error = None
        logger.info("wafpy: web ACL %r in force (%d rules)", acl.name, len(acl.rule_names))

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
        for resource in (self._sink, self._geo_db, self._asn_db):
            close = getattr(resource, "close", None)
            if close is not None:
                close()

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
                self._client_left(scope, read, active)
                return
            messages = read.messages
            body = read.body
            body_size = read.size
            if not read.complete:
                body_size = max(body_size, _content_length(scope) or 0)
            if len(body) > active.limit:
                # WAF sees the first `limit` bytes; the size says the body was longer (oversize).
                body = body[: active.limit]
        # X-Amzn-Trace-Id: the request's own, or a new one. A new one is made only when something
        # will show it: the log record (now), the forwarded request (after an Allow).
        request_id, new_header, add_trace = self._trace_of(scope, self._sink is not None)
        try:
            request, decision = self._evaluate(acl, scope, body, body_size, request_id)
        except Exception:
            if add_trace and new_header is None:
                new_header = new_trace()[1]
            await self._failed(
                scope, receive if messages is None else ReplayReceive(messages, receive), send, new_header
            )
            return
        self.metrics.record(decision)
        if self._sink is not None:
            self._log(decision, scope, messages is not None, active.limit)
        if decision.action == ALLOW:
            if add_trace and new_header is None:
                # The id is made after the evaluation (no rule reads it); the request the app
                # finds in state["waf"] carries it like a logged one.
                request.request_id, new_header = new_trace()
            await self.app(
                self._forward_scope(scope, decision, new_header),
                receive if messages is None else ReplayReceive(messages, receive),
                send,
            )
        else:
            await self._respond(
                send, decision.response_code or 403, decision.response_headers, decision.response_body
            )

    async def _not_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "lifespan" and self._watcher is not None:
            await self.app(scope, _LifespanObserver(self, receive), send)
        else:
            await self.app(scope, receive, send)

    def _client(self, scope: Scope) -> tuple[str | None, str | None, int | None]:
        ip: str | None = None
        if self._proxies is not None:
            ip = self._proxies.origin_ip(scope)
        if ip is None:
            client = scope.get("client")
            ip = client[0] if client else ""
        country = asn = None
        if self._country_header is not None:
            found = self._country_header(scope)
            country = found.upper() if found else None
        if country is None and self._geo_db is not None:
            country = self._geo_db.country(ip)
        if self._asn_header is not None:
            text = self._asn_header(scope)
            if text is not None:
                try:
                    asn = int(text.upper().removeprefix("AS"))
                except ValueError:
                    asn = None
        if asn is None and self._asn_db is not None:
            asn = self._asn_db.asn(ip)
        return ip, country, asn

    def _trace_of(self, scope: Scope, make_new: bool) -> tuple[str | None, bytes | None, bool]:
        """(request id, new trace header value, whether the request lacks one) for this request.

        Without `trace_id` all is None/False. A request with its own trace header keeps it (no new
        header). One without gets a new id now when `make_new`, else later where it is shown.
        """
        if not self._trace:
            return None, None, False
        for name, value in scope.get("headers") or ():
            if name == TRACE_HEADER:  # ASGI servers give header names lower-cased
                return request_id_of(value.decode("latin-1")), None, False
        if make_new:
            request_id, new_header = new_trace()
            return request_id, new_header, True
        return None, None, True

    def _evaluate(
        self, acl: WebACL, scope: Scope, body: bytes, body_size: int | None, request_id: str | None
    ) -> tuple[Request, Decision]:
        """Build the request WAF sees (client address and location resolved) and evaluate it."""
        now_ms = acl.services.clock_ms()
        ip, country, asn = self._client(scope) if self._client_info else (None, None, None)
        request = Request.from_asgi(
            scope,
            body,
            body_size,
            client_ip=ip,
            country=country,
            asn=asn,
            timestamp_ms=now_ms,
            request_id=request_id,
        )
        return request, acl.evaluate(request, now_ms=now_ms)

    async def _failed(self, scope: Scope, receive: Receive, send: Send, new_header: bytes | None) -> None:
        self.metrics.errors += 1
        if self._on_error_block:
            logger.exception("wafpy: evaluating the web ACL failed; answering 500 (on_error='block')")
            if scope["type"] == "http":
                await self._respond(send, 500, (("content-type", "text/html"),), _ERROR_BODY)
            else:
                await self._deny_websocket(scope, receive, send, 500, (), b"")
            return
        logger.exception("wafpy: evaluating the web ACL failed; forwarding the request (on_error='allow')")
        await self.app(self._forward_scope(scope, None, new_header), receive, send)

    def _forward_scope(self, scope: Scope, decision: Decision | None, new_header: bytes | None) -> Scope:
        """The scope the app sees: inserted headers, trace id, and the decision in state["waf"]."""
        inserted = decision.inserted_request_headers if decision is not None else ()
        if inserted or new_header is not None:
            scope = _with_headers(scope, inserted, new_header)
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        state["waf"] = decision
        return scope

    def _response_headers(self, status: int, headers: tuple[tuple[str, str], ...], length: int) -> Headers:
        key = (status, headers, length)
        found = self._responses.get(key)
        if found is None:
            found = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
            found.append((b"content-length", str(length).encode("ascii")))
            if len(self._responses) >= _RESPONSE_CACHE_SIZE:
                self._responses.clear()
            self._responses[key] = found
        return found

    async def _respond(
        self, send: Send, status: int, headers: tuple[tuple[str, str], ...], body: bytes
    ) -> None:
        length = len(body)
        last = self._last_response
        if last is not None and last[0] is headers and last[1] == status and last[2] == length:
            raw = last[3]
        else:
            raw = self._response_headers(status, headers, length)
            self._last_response = (headers, status, length, raw)
        # Fresh messages and a fresh header list each time: middlewares outside this one may edit
        # them in place (Starlette's CORSMiddleware appends to the headers list).
        await send_response(send, status, raw[:], body)

    def _client_left(self, scope: Scope, read: BodyRead, active: _Active) -> None:
        """The client left before its body ended: evaluate what arrived, count and log it (see
        UNSPECIFIED_CHOICES); nothing is sent and the app is not called."""
        self.metrics.client_disconnects += 1
        request_id = self._trace_of(scope, True)[0] if self._sink is not None else None
        try:
            decision = self._evaluate(active.acl, scope, read.body[: active.limit], read.size, request_id)[1]
        except Exception:
            self.metrics.errors += 1
            logger.exception("wafpy: evaluating the web ACL failed for a request whose client left")
            return
        self.metrics.record(decision)
        if self._sink is not None:
            self._log(decision, scope, True, active.limit, client_left=True)

    def _log(
        self, decision: Decision, scope: Scope, body_read: bool, limit: int, client_left: bool = False
    ) -> None:
        try:
            if self._log_filter is not None and not self._log_filter.keep(decision):
                return
            record = decision.to_log_record(http_source_name="ALB", http_source_id=self._source_id)
            if not body_read:
                # The body was not needed and not read: report what the client announced.
                size = _content_length(scope) or 0
                record["requestBodySize"] = size
                record["requestBodySizeInspectedByWAF"] = min(size, limit)
            if client_left:
                record["responseCodeSent"] = None
                record["requestHeadersInserted"] = None
                record[CLIENT_DISCONNECTED_FIELD] = True
            if self._redactor is not None:
                self._redactor(record)
            assert self._sink is not None
            self._sink(record)
        except LogRecordLost:
            self.metrics.log_records_lost += 1  # the file sink reported it already
        except Exception as exc:
            # One line per failure run, not a traceback per request; the first one keeps the
            # traceback of an exception that is not an I/O error (a bug worth seeing once).
            self.metrics.log_records_lost += 1
            self._log_failures.failed(
                f"{type(exc).__name__}: {exc}", exc_info=None if isinstance(exc, OSError) else exc
            )
        else:
            if self._log_failures.active:
                self._log_failures.recovered()

    # ------------------------------------------------------------------------------------------
    # WebSocket handshakes: evaluated like the HTTP GET they are.

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._watch_pending:
            self._start_watch()
        request_id, new_header, _ = self._trace_of(scope, True)
        try:
            decision = self._evaluate(self._active.acl, {**scope, "method": "GET"}, b"", 0, request_id)[1]
        except Exception:
            await self._failed(scope, receive, send, new_header)
            return
        self.metrics.record(decision)
        if self._sink is not None:
            self._log(decision, scope, True, self._active.limit)
        if decision.action == ALLOW:
            await self.app(self._forward_scope(scope, decision, new_header), receive, send)
        else:
            await self._deny_websocket(
                scope,
                receive,
                send,
                decision.response_code or 403,
                decision.response_headers,
                decision.response_body,
            )

    async def _deny_websocket(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        headers: tuple[tuple[str, str], ...],
        body: bytes,
    ) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return  # the client left during the handshake
        if "websocket.http.response" in (scope.get("extensions") or {}):
            raw = list(self._response_headers(status, headers, len(body)))
            await send_response(send, status, raw, body, WEBSOCKET_RESPONSE)
        else:
            # Closing before accepting makes the server refuse the handshake (HTTP 403).
            await send({"type": "websocket.close", "code": 1008})

    # ------------------------------------------------------------------------------------------
    # Endpoints answered by the middleware itself (never evaluated)

    async def _serve_metrics(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = self.metrics.prometheus().encode("utf-8")
        headers = [
            (b"content-type", b"text/plain; version=0.0.4; charset=utf-8"),
            (b"content-length", str(len(body)).encode("ascii")),
        ]
        await send_response(send, 200, headers, body)

    async def _serve_solve(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self._token_secret is not None
        host = None
        for name, value in scope.get("headers") or ():
            if name.lower() == b"host":
                host = value.decode("latin-1")
                break
        status, headers, body = solve_response(
            self._token_secret,
            host,
            scope.get("query_string") or b"",
            secure=scope.get("scheme") in ("https", "wss"),
        )
        headers.append((b"content-length", str(len(body)).encode("ascii")))
        await send_response(send, status, headers, body)


class _LifespanObserver:
    """Passes lifespan messages through unchanged, starting the file watcher at startup and
    stopping it at shutdown."""

    __slots__ = ("_middleware", "_receive")

    def __init__(self, middleware: WAFMiddleware, receive: Receive) -> None:
        self._middleware = middleware
        self._receive = receive

    async def __call__(self) -> Message:
        message = await self._receive()
        kind = message.get("type")
        if kind == "lifespan.startup":
            self._middleware._start_watch()
        elif kind == "lifespan.shutdown":
            self._middleware._stop_watch()
        return message
