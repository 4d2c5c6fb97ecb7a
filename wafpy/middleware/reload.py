"""Loading the middleware's web ACL, and noticing when its files change.

`load_acl` accepts what `WAFMiddleware(acl=...)` accepts: a path, a dict (or JSON text), or a
`WebACL` already loaded. `FileWatcher` remembers the modification time and size of the ACL file
and of resource files given as paths; `changed()` is one `stat` per file.

`PollingWatcher` polls a `FileWatcher` from a daemon thread of its own and calls back when a file
changed. A thread rather than a task of the event loop: it needs no particular async library
(asyncio, trio, whatever the server runs), it works whether or not the server sends lifespan
events, and loading a large ACL (tens of milliseconds) never stalls the event loop.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from wafpy.engine.services import Services
from wafpy.middleware.scope import Message, Receive
from wafpy.webacl import WebACL, load_web_acl

AclSource = str | PathLike[str] | Mapping[str, Any] | WebACL

logger = logging.getLogger("wafpy.middleware.asgi")


def is_path(source: object) -> bool:
    if isinstance(source, PathLike):
        return True
    # A str that is not JSON text is a path (load_web_acl makes the same distinction).
    return isinstance(source, str) and not source.lstrip().startswith(("{", "["))


def load_acl(source: AclSource, options: Mapping[str, Any], services: Services | None) -> WebACL:
    """A `WebACL` from `source`; `options` go to `load_web_acl`. Raises what the loader raises."""
    if isinstance(source, WebACL):
        return source
    return load_web_acl(source, services=services, **options)


def watched_paths(source: object, resources: object) -> list[str]:
    paths = [os.fspath(source)] if isinstance(source, (str, PathLike)) and is_path(source) else []
    if isinstance(resources, Sequence) and not isinstance(resources, (str, bytes)):
        paths.extend(os.fspath(r) for r in resources if isinstance(r, (str, PathLike)))
    return paths


class FileWatcher:
    """Tells whether any of `paths` changed (mtime or size) since the last `changed()` call."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = list(paths)
        self._seen = self._stat()

    def _stat(self) -> list[tuple[int, int] | None]:
        out: list[tuple[int, int] | None] = []
        for path in self.paths:
            try:
                st = Path(path).stat()
            except OSError:
                out.append(None)  # being replaced (editors write a new file and rename it)
            else:
                out.append((st.st_mtime_ns, st.st_size))
        return out

    def changed(self) -> bool:
        now = self._stat()
        if now == self._seen or None in now:
            return False
        self._seen = now
        return True


class PollingWatcher:
    """Calls `on_change()` from its own thread when a file of `paths()` changed, every `interval` s.

    The files are first looked at when the watcher is made, so a change made between loading the
    ACL and starting the thread is not missed. `start` and `stop` may be called from any thread,
    any number of times; at most one polling thread runs. `paths` is asked again at each poll (the
    ACL's source may be replaced by `reload(source)`); new paths start from their current state.
    """

    THREAD_NAME = "wafpy-acl-watch"

    def __init__(
        self, paths: Callable[[], Sequence[str]], on_change: Callable[[], object], interval: float
    ) -> None:
        if not interval > 0:
            raise ValueError(f"watch_interval must be a positive number of seconds, not {interval!r}")
        self._paths = paths
        self._on_change = on_change
        self.interval = interval
        self._files = FileWatcher(paths())
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop: threading.Event | None = None

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self) -> None:
        with self._lock:
            if self.running:
                return
            stop = threading.Event()
            thread = threading.Thread(target=self._run, args=(stop,), name=self.THREAD_NAME, daemon=True)
            self._thread, self._stop = thread, stop
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling; waits (up to `timeout`) for a reload in progress to finish."""
        with self._lock:
            thread, stop = self._thread, self._stop
            self._thread = self._stop = None
        if stop is not None:
            stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            try:
                paths = list(self._paths())
                if paths != self._files.paths:
                    self._files = FileWatcher(paths)
                elif self._files.changed():
                    self._on_change()
            except Exception:  # the watcher must outlive any one failure
                logger.exception("wafpy: watching the web ACL files failed")


class LifespanObserver:
    """Passes lifespan messages through unchanged, calling `start` (the watcher) at startup and
    `stop` at shutdown."""

    __slots__ = ("_receive", "_start", "_stop")

    def __init__(self, start: Callable[[], None], stop: Callable[[], None], receive: Receive) -> None:
        self._start = start
        self._stop = stop
        self._receive = receive

    async def __call__(self) -> Message:
        message = await self._receive()
        kind = message.get("type")
        if kind == "lifespan.startup":
            self._start()
        elif kind == "lifespan.shutdown":
            self._stop()
        return message
