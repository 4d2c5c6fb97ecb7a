"""A JSON-lines log file that loses no record silently and follows log rotation.

Writing. Each record is one line written by one loop of `os.write` calls on an `O_APPEND`
descriptor, so the event loop never waits on more than that record and nothing sits in a buffer.
`os.write` may write less than asked (a filling disk does that): the loop writes the rest. If a
write fails after part of the line was written, the part is cut off again (`os.ftruncate` back to
where the line started), so every line in the file is a whole record and every record that is not
there is counted as lost; none is torn or merged with the next one. A pipe or a terminal cannot be
cut: there the fragment is ended with a newline (a line that does not parse, but is not merged with
the next record). One limit: when several processes append to the same file and the disk fills,
another process may append between the two parts of a short write; the kernel does not keep them
together, and that fragment can no longer be cut without destroying the other record. Give each
worker its own file when that matters.
`EINTR` is retried by Python itself (PEP 475); `EAGAIN` (a non-blocking pipe that is full) waits
for the descriptor to become writable, up to `write_timeout` seconds per record.

Losses. A record that could not be written raises `LogRecordLost` (after being counted in
`records_lost`), so the caller can count it; the middleware adds it to its
`wafpy_log_records_lost_total` metric. The failure is logged once, on one line without a
traceback, then at most once per `report_interval` seconds with the number of records lost since,
and once more when writing works again: a full disk costs one `os.write` per record, not a
traceback per record.

Rotation. The file is reopened when its path no longer names the file that is open (compared by
device and inode, as `logging.handlers.WatchedFileHandler` does): renamed by logrotate's `create`
mode, or removed. The path is looked at on a record at most once per `check_interval` seconds
(one `os.stat`). `reopen()` reopens at once; `reopen_on_signal(sink)` makes `SIGHUP` do it, which
is opt-in, since installing a signal handler is the application's decision. `copytruncate`
rotation needs nothing: `O_APPEND` writes at the new end of the truncated file.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import signal
import stat
import threading
import time
from collections.abc import Callable
from os import PathLike
from types import FrameType
from typing import Any, Protocol

import orjson

logger = logging.getLogger("wafpy.logs")

DEFAULT_CHECK_INTERVAL = 1.0
DEFAULT_REPORT_INTERVAL = 60.0
DEFAULT_WRITE_TIMEOUT = 0.1
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)  # a worker process started later must not hold the file
_NEVER = float("inf")
_monotonic = time.monotonic


class LogRecordLost(OSError):
    """A log record was not written; it has been counted and the failure reported (an OSError,
    as the failed write was)."""


class FailureReport:
    """Reports runs of failures on the `logging` module without flooding it.

    At most one line per `interval` seconds, each on one line without a traceback (unless
    `exc_info` is given, and then only on a run's first line): the first failure of a run is logged
    at once; later ones are counted and reported with the count since the last line; `recovered()`
    says once that things work again. Failing and working by turns (a nearly full disk taking
    small records and refusing large ones) stays within the same limit.

    `active` is True while something is left to report: the caller's success path tests only it.
    """

    def __init__(
        self,
        what: str,
        interval: float = DEFAULT_REPORT_INTERVAL,
        *,
        unit: str = "log records lost",
        log: logging.Logger = logger,
    ) -> None:
        self.what = what
        self.interval = interval
        self.unit = unit
        self.log = log
        self.active = False
        self.total = 0
        self._in_run = False  # a failure line was logged, and no "works again" since
        self._pending = 0  # failures not reported yet
        self._next = 0.0  # no line before this time (monotonic)

    def _counts(self) -> str:
        return f"{self.unit}: {self._pending} since the last report, {self.total} in all"

    def failed(self, reason: str, *, exc_info: BaseException | None = None) -> None:
        """Count one failure, and report it unless a line was logged less than `interval` ago."""
        self.total += 1
        self._pending += 1
        self.active = True
        now = time.monotonic()
        if now < self._next:
            return
        if self._in_run:
            self.log.error("wafpy: %s still fails: %s (%s)", self.what, reason, self._counts())
        else:
            self.log.error(
                "wafpy: %s failed: %s (%s; reported at most every %g s)",
                self.what,
                reason,
                self._counts(),
                self.interval,
                exc_info=exc_info,
            )
        self._in_run = True
        self._pending = 0
        self._next = now + self.interval

    def recovered(self) -> None:
        """After a success while `active`: say that it works again (when a line is allowed)."""
        now = time.monotonic()
        if now < self._next:
            return  # stays active: said at a later success
        self.active = False
        if self._in_run or self._pending:
            self.log.warning("wafpy: %s works again (%s)", self.what, self._counts())
            self._next = now + self.interval
        self._in_run = False
        self._pending = 0


def _wait_writable(fd: int, deadline: float) -> bool:
    timeout = deadline - time.monotonic()
    if timeout <= 0:
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return bool(poller.poll(timeout * 1000))


class JsonLinesFile:
    """Appends each record to `path` as one JSON line (see the module docstring).

    `check_interval`: seconds between looks at the path for a rotation (0: before every record,
    negative: never). `report_interval`: seconds between two reports of failing writes.
    `write_timeout`: how long one record may wait for a full non-blocking pipe.
    """

    def __init__(
        self,
        path: str | PathLike[str],
        *,
        check_interval: float = DEFAULT_CHECK_INTERVAL,
        report_interval: float = DEFAULT_REPORT_INTERVAL,
        write_timeout: float = DEFAULT_WRITE_TIMEOUT,
    ) -> None:
        self.path = os.fspath(path)
        self.check_interval = check_interval
        self.write_timeout = write_timeout
        self.records_lost = 0
        self._failures = FailureReport(f"writing log records to {self.path}", report_interval)
        self._reopen_failures = FailureReport(
            f"reopening {self.path} after it was moved or removed",
            report_interval,
            unit="failed attempts, records going to the file open before",
        )
        # One writer at a time: `reopen()` from another thread must not close the descriptor
        # under a write. A signal handler only sets `_reopen_requested` (it may run in the middle
        # of a write, in the same thread).
        self._lock = threading.Lock()
        self._reopen_requested = False
        self._fd = -1
        self._identity: tuple[int, int] | None = None
        self._regular = False
        self._torn = False  # a fragment could not be cut off: start the next record on a new line
        self._next_check = 0.0
        self._open()  # a path that cannot be opened is a configuration error: raise now

    # ------------------------------------------------------------------------------------------
    # Opening and reopening

    def _open(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | _CLOEXEC, 0o644)
        info = os.fstat(fd)
        old, self._fd = self._fd, fd
        self._identity = (info.st_dev, info.st_ino)
        self._regular = stat.S_ISREG(info.st_mode)
        self._torn = False
        self._next_check = _monotonic() + self.check_interval if self.check_interval >= 0 else _NEVER
        if old >= 0:
            os.close(old)

    def _reopen_locked(self) -> bool:
        self._reopen_requested = False
        try:
            self._open()
        except OSError as exc:
            self._next_check = _monotonic() + self.check_interval if self.check_interval >= 0 else _NEVER
            self._reopen_failures.failed(exc.strerror or str(exc))
            return False
        if self._reopen_failures.active:
            self._reopen_failures.recovered()
        return True

    def _moved(self) -> bool:
        """True when the path no longer names the open file (renamed away, removed, replaced)."""
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return True
        except OSError:
            return False  # cannot tell (permissions, I/O error): keep the open file
        return (info.st_dev, info.st_ino) != self._identity

    def reopen(self) -> bool:
        """Close the file and open `path` again now (after a rotation); False if it failed."""
        with self._lock:
            return self._reopen_locked()

    def fileno(self) -> int:
        """The descriptor records are written to now (-1 once closed)."""
        return self._fd

    def request_reopen(self) -> None:
        """Reopen before the next record; safe to call from a signal handler."""
        self._reopen_requested = True

    # ------------------------------------------------------------------------------------------
    # Writing

    def __call__(self, record: Any) -> None:
        data = orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
        with self._lock:
            if self._reopen_requested or _monotonic() >= self._next_check:
                self._maintain()
            written = 0
            error: str | None = None
            if not self._torn:
                # The common case: one write, whole.
                try:
                    written = os.write(self._fd, data)
                except BlockingIOError:
                    pass  # a full non-blocking pipe: waited for below
                except OSError as exc:
                    error = exc.strerror or str(exc)
                if written == len(data):
                    if self._failures.active:
                        self._failures.recovered()
                    return
            if error is None:
                error = self._write(b"\n" + data if self._torn else data, written)
            if error is None:
                self._torn = False
                if self._failures.active:
                    self._failures.recovered()
                return
            self.records_lost += 1
            self._failures.failed(error)
        raise LogRecordLost(f"log record not written to {self.path}: {error}")

    def _maintain(self) -> None:
        """Reopen when asked to, or when the path names another file (at most once per interval)."""
        if self._reopen_requested:
            self._reopen_locked()
            return
        self._next_check = _monotonic() + self.check_interval if self.check_interval >= 0 else _NEVER
        if self._moved() and self._reopen_locked():
            logger.info("wafpy: %s was moved or removed; writing to a new file there", self.path)

    def _write(self, data: bytes, written: int) -> str | None:
        """Write the rest of `data` after its `written` first bytes, or leave no part of it; None,
        or why it failed."""
        fd = self._fd
        # Rare: a short write (disk filling up, a pipe), a failed write, or a full non-blocking pipe.
        start = os.lseek(fd, 0, os.SEEK_CUR) - written if written and self._regular else -1
        view = memoryview(data)
        deadline = _monotonic() + self.write_timeout
        error: str | None = None
        try:
            while written < len(data):
                try:
                    n = os.write(fd, view[written:])
                except BlockingIOError:
                    if not _wait_writable(fd, deadline):
                        error = os.strerror(errno.EAGAIN)
                        break
                    continue
                except OSError as exc:
                    error = exc.strerror or str(exc)
                    break
                if n == 0:
                    error = "no progress writing"
                    break
                written += n
        except BaseException:
            # A signal handler raised (KeyboardInterrupt) in the middle of the record.
            if written:
                self._discard(fd, start, written)
            raise
        if error is not None and written:
            self._discard(fd, start, written)
        return error

    def _discard(self, fd: int, start: int, written: int) -> None:
        """Remove the `written` first bytes of a failed record, or at least end them with a newline."""
        if start >= 0:
            try:
                if os.fstat(fd).st_size != start + written:
                    return  # another process appended after the fragment: see the module docstring
                os.ftruncate(fd, start)
                return
            except OSError:
                pass
        try:
            if os.write(fd, b"\n") == 1:
                return
        except OSError:
            pass
        self._torn = True

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


class Reopenable(Protocol):
    """Anything `reopen_on_signal` can mark for reopening (`JsonLinesFile`)."""

    def request_reopen(self) -> None: ...


def reopen_on_signal(*sinks: Reopenable, signum: int = signal.SIGHUP) -> Callable[[], None]:
    """Reopen `sinks` (e.g. `JsonLinesFile`) when the process receives `signum` (SIGHUP).

    Opt-in: call it from the main thread (Python runs signal handlers there; under uvicorn, at
    import of the app module). A handler already installed from Python is kept and called after
    the reopen request; `SIG_DFL` (which would end the process) and `SIG_IGN` are replaced. A
    handler installed outside Python cannot be chained, so it is not replaced: RuntimeError.
    The handler only marks the sinks; each reopens before its next record. Returns a function
    that puts the previous handler back.
    """
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("reopen_on_signal must be called from the main thread (Python's signal rule)")
    previous = signal.getsignal(signum)
    if previous is None:
        raise RuntimeError(
            f"signal {signum} has a handler installed outside Python; not replacing it."
            " Call sink.reopen() from that handler instead"
        )
    chained = previous if callable(previous) else None

    def handler(number: int, frame: FrameType | None) -> None:
        for sink in sinks:
            sink.request_reopen()
        if chained is not None:
            chained(number, frame)

    signal.signal(signum, handler)
    logger.info(
        "wafpy: signal %d reopens the log files%s",
        signum,
        " (and runs the previous handler)" if chained else "",
    )

    def restore() -> None:
        signal.signal(signum, previous if previous is not None else signal.SIG_DFL)

    return restore
