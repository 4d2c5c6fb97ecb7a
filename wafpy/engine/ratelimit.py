"""Rate counters for rate-based rules (https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based.html).

AWS estimates rates every few seconds; wafpy emulates them deterministically: every
counted request is kept with its timestamp, and the rule limits a key while the number of counted
requests in `(now - window, now]` exceeds the limit. The counter is an interface so a shared store
(Redis) can replace the in-memory one for multi-process deployments, behind a local window
synchronised in the background (`RateCounter`).
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import deque
from typing import Protocol


class RateCounter(Protocol):
    """Where rate-based rules count requests; consulted synchronously, in the middle of an evaluation.

    `hit` must answer from local state and never wait on a network: evaluation runs inside the
    ASGI call, so a blocking round trip would stall the event loop. A shared backend (Redis)
    keeps a local window and synchronises counts with the other workers in the background; AWS
    itself aggregates rates with a delay. The decision and its reasons: docs/architecture.md,
    "A rate-counter backend".
    """

    def hit(self, rule_id: str, key: tuple[str, ...], now_ms: int, window_s: int) -> int:
        """Count one request for `key` at `now_ms`; return the count in the window including it."""
        ...


class MemoryRateCounter:
    """Exact sliding-window counts in this process (what the middleware and `wafpy eval` use by default).

    Timestamps may arrive slightly out of order in replayed logs; the count treats them by value.
    """

    # Every this many counted requests, keys with nothing left in their window are dropped, so a
    # replay of millions of requests from as many clients keeps only the live keys.
    SWEEP_EVERY = 4096

    def __init__(self) -> None:
        self._hits: dict[tuple[str, tuple[str, ...]], deque[int]] = {}
        self._windows: dict[tuple[str, tuple[str, ...]], int] = {}
        self._lock = threading.Lock()
        self._since_sweep = 0

    def __len__(self) -> int:
        """How many keys currently hold counted requests."""
        return len(self._hits)

    def _sweep(self, now_ms: int) -> None:
        stale = [k for k, times in self._hits.items() if not times or times[-1] <= now_ms - self._windows[k]]
        for k in stale:
            del self._hits[k]
            del self._windows[k]

    def hit(self, rule_id: str, key: tuple[str, ...], now_ms: int, window_s: int) -> int:
        start = now_ms - window_s * 1000
        with self._lock:
            self._since_sweep += 1
            if self._since_sweep >= self.SWEEP_EVERY:
                self._since_sweep = 0
                self._sweep(now_ms)
            self._windows[(rule_id, key)] = window_s * 1000
            times = self._hits.get((rule_id, key))
            if times is None:
                times = self._hits[(rule_id, key)] = deque()
            if times and times[-1] > now_ms:
                # Out-of-order timestamp (log replay): insert in place to keep the deque sorted.
                ordered = list(times)
                ordered.insert(bisect_right(ordered, now_ms), now_ms)
                times.clear()
                times.extend(ordered)
            else:
                times.append(now_ms)
            while times and times[0] <= start:
                times.popleft()
            return sum(1 for t in times if t <= now_ms) if times[-1] > now_ms else len(times)

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
            self._windows.clear()
