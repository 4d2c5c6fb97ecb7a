"""The web ACL in force in `WAFMiddleware`: loaded with the middleware's services, replaced whole
on reload (requests in flight keep the one they started with), the files watched by a thread of
its own, the log file and databases closed at the end.

`AclInForce` is the base of `WAFMiddleware` (`wafpy.middleware.asgi`), whose constructor sets
every attribute it declares; the request paths are in `wafpy.middleware.handling`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from wafpy.engine.ratelimit import MemoryRateCounter
from wafpy.engine.services import Services
from wafpy.middleware.clientinfo import ClientInfo
from wafpy.middleware.logsink import Sink
from wafpy.middleware.metrics import Metrics, metric_names
from wafpy.middleware.notices import Notices
from wafpy.middleware.reload import AclSource, PollingWatcher, load_acl, watched_paths
from wafpy.middleware.scope import Receive, Scope, Send
from wafpy.middleware.tokens import HmacTokenValidator
from wafpy.webacl import WebACL

if TYPE_CHECKING:  # the Redis client is an optional dependency
    from wafpy.middleware.redisrate import RedisRateCounter

__all__ = ["AclInForce", "Active"]

# The middleware's one logger, whichever of its modules writes.
logger = logging.getLogger("wafpy.middleware.asgi")


class Active:
    """The web ACL in force and what the hot path needs of it; replaced whole on reload."""

    __slots__ = ("acl", "limit", "needs_body")

    def __init__(self, acl: WebACL) -> None:
        self.acl = acl
        self.needs_body = acl.needs_body
        self.limit = acl.body_inspection_limit


class AclInForce:
    """The ACL in force, its reload and the watcher; `WAFMiddleware.__init__` sets the state."""

    _active: Active
    _source: AclSource
    _load_options: dict[str, Any]
    _services: Services | None
    # The rate counter put in every ACL's services (None: keep theirs).
    _rate_counter: MemoryRateCounter | RedisRateCounter | None
    _clients: ClientInfo
    _token_secret: bytes | None
    _sink: Sink | None
    _notices: Notices
    _reload_lock: threading.Lock
    _watcher: PollingWatcher | None
    _watch_pending: bool
    _extras: bool
    _special: dict[str, Callable[[Scope, Receive, Send], Awaitable[None]]]
    metrics: Metrics
    last_error: BaseException | None

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
        self._active = Active(acl)  # one attribute store: a request sees the old ACL or the new one
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
