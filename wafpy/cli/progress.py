"""The progress line `wafpy eval` draws on stderr while it replays."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console

__all__ = ["Progress"]


class Progress:
    """A rich progress line on stderr: requests replayed, bad lines, records/s (redrawn 10×/s)."""

    def __init__(self, console: Console) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            auto_refresh=False,
            transient=True,
        )
        # auto_refresh=False: no refresh thread, so forking worker processes stays safe.
        self._task = self._progress.add_task("starting", total=None)
        self._progress.start()
        self._start = time.perf_counter()
        self._next = 0.0
        self._count = 0

    def tick(self, summary: Any) -> None:
        self._count += 1
        if self._count & 255:
            return
        now = time.perf_counter()
        if now < self._next:
            return
        self._next = now + 0.1
        rate = summary.total / (now - self._start) if now > self._start else 0.0
        self._progress.update(
            self._task,
            description=f"{summary.total:,} requests, {summary.bad_lines:,} bad lines, {rate:,.0f} records/s",
        )
        self._progress.refresh()

    def stop(self) -> None:
        self._progress.stop()
