"""Rate counters for rate-based rules (https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based.html).

AWS estimates rates every few seconds; wafpy emulates them deterministically: every counted
request is kept with its timestamp, and the rule limits a key while the number of counted
requests in `(now - window, now]` exceeds the limit.

Two ways to count, one semantics:

* `RateCounter.hit`: one key, answered at once. `MemoryRateCounter` does it in this process; the
  engine calls it in the middle of an evaluation, so it must never wait on a network.
* `BatchRateCounter.hit_many` / `AsyncRateCounter.hit_many_async`: every `RateHit` a request
  reaches, in rule order, in one call (one round trip for a network store). The engine produces
  the batch with `wafpy.engine.ratecount.evaluate_counted`. The decision and its reasons:
  docs/architecture.md, "A rate-counter backend".
"""

from __future__ import annotations

import copy
import threading
from bisect import bisect_right, insort
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class RateCounter(Protocol):
    """Where rate-based rules count requests; consulted synchronously, in the middle of an evaluation.

    `hit` answers from state it holds and never waits on a network (evaluation runs inside the
    ASGI call). A shared store is driven through `AsyncRateCounter` instead, one batch per request.
    """

    def hit(self, rule_id: str, key: tuple[str, ...], now_ms: int, window_s: int) -> int:
        """Count one request for `key` at `now_ms`; return the count in the window including it."""
        ...


@dataclass(frozen=True, slots=True)
class RateHit:
    """One rate-based rule reached by a request, with the key it counts under.

    `over` is the outcome the evaluation assumed (count > limit) to get past this rule. A batch is
    counted in order and stops after the first hit whose real outcome differs: the rules after it
    may not be reached on the real path, and AWS counts only requests that reach the rule.
    """

    rule_id: str
    key: tuple[str, ...]
    window_s: int
    limit: int
    over: bool


class BatchRateCounter(Protocol):
    """Counts every rate-based rule a request reaches in one synchronous call (`wafpy eval`)."""

    def hit_many(self, hits: Sequence[RateHit], now_ms: int) -> list[int]:
        """Count `hits` in order, stopping after the first whose outcome differs from `hit.over`;
        return the counts of those counted (a prefix of `hits`, never empty when `hits` is not)."""
        ...


class AsyncRateCounter(Protocol):
    """`BatchRateCounter` for the event loop: awaited once per request, never blocking it."""

    async def hit_many_async(self, hits: Sequence[RateHit], now_ms: int) -> list[int]: ...

    def guess(self, rule_id: str, key: tuple[str, ...], now_ms: int) -> bool:
        """Whether `key` is likely over its limit now (from answers already seen); no I/O."""
        ...


def rule_settings(rule_id: str) -> tuple[int, int] | None:
    """(limit, window in seconds) from a rate rule id the engine made, None for any other id.

    The engine's ids end with `|limit|window|aggregate key type|key count`
    (`wafpy.engine.statements.rate`): changing a setting resets the counts, as on AWS.
    """
    parts = rule_id.rsplit("|", 4)
    if len(parts) != 5 or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return int(parts[1]), int(parts[2])


class _Key:
    """The counted requests of one (rule, key): sorted timestamps, at most `limit + 1` of them."""

    __slots__ = ("keep", "times", "window_ms")

    def __init__(self, window_ms: int, keep: int) -> None:
        self.window_ms = window_ms
        self.keep = keep  # timestamps kept: limit + 1 decides "count > limit" exactly
        self.times: list[int] = []

    def count(self, now_ms: int) -> int:
        """Count at `now_ms` of the kept timestamps in (now - window, now]."""
        times = self.times
        start = now_ms - self.window_ms
        first = bisect_right(times, start)
        if first:
            del times[:first]  # left the window for good (time only moves forward per key)
        return len(times) if not times or times[-1] <= now_ms else bisect_right(times, now_ms)

    def limited(self, now_ms: int) -> bool:
        """Whether the key is over its limit now: its oldest kept timestamp is still in the window."""
        times = self.times
        return len(times) >= self.keep and times[0] > now_ms - self.window_ms


class MemoryRateCounter:
    """Exact sliding-window counts in this process, in bounded memory (the default counter).

    Exact: a key is limited while more than `limit` of its counted requests fall in
    `(now - window, now]`, to the millisecond. Per key only the `limit + 1` most recent timestamps
    are kept, which is all that decision needs; the count it returns is therefore exact up to
    `limit + 1` and stays at `limit + 1` above (the log and the match details show "more than the
    limit"). Timestamps may arrive slightly out of order in replayed logs; they are counted by value.

    Bounded: at most `max_keys` keys (default 100,000). A key with one timestamp takes about 340
    bytes (table entry, tuples, timestamp) plus its own strings (about 60 bytes for an IPv4
    address), so about 40 MB at the cap; each further timestamp adds about 40 bytes, at most
    `limit` of them (docs/performance.md has the measurements). At the cap, a new key evicts the
    least recently used key that is *not* over its limit; keys being limited are never evicted, so
    an attacker spraying new addresses or custom-key values cannot free the keys that are blocking
    it. If every key scanned is being limited, the new request is counted without being stored
    (its key is new, so it is under any limit) and `dropped` counts it.

    Safe under threads and asyncio: one lock, held for microseconds, never across an await.
    """

    DEFAULT_MAX_KEYS = 100_000
    # How many keys being limited an eviction steps over before giving up on this request.
    EVICT_SCAN = 64

    def __init__(self, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.max_keys = max_keys
        self._keys: OrderedDict[tuple[str, tuple[str, ...]], _Key] = OrderedDict()
        self._limits: dict[str, int] = {}  # rule id -> its limit, parsed once
        self._lock = threading.Lock()
        self.evicted = 0  # keys under their limit dropped to make room
        self.dropped = 0  # requests counted without a key (the cap full of keys being limited)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled with its counts as they are now (taken under the lock), without the lock itself:
        a copy shipped to a worker or a cluster executor counts on from there, on its own."""
        with self._lock:
            state = {name: value for name, value in vars(self).items() if name != "_lock"}
            state["_keys"] = copy.deepcopy(self._keys)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many keys are currently held."""
        return len(self._keys)

    def _drop_expired(self, now_ms: int) -> None:
        """Drop the least recently used key if nothing is left in its window.

        One per new key keeps pace with the keys coming in, so a replay of millions of clients holds
        only the live ones, at a constant cost per request (no sweep of the whole table).
        """
        keys = self._keys
        for name in keys:
            entry = keys[name]
            times = entry.times
            if times and times[-1] > now_ms - entry.window_ms:
                return
            break
        else:
            return
        del keys[name]

    def _make_room(self, now_ms: int) -> bool:
        """Evict one key that is not being limited, least recently used first; False if none found."""
        keys = self._keys
        for _ in range(min(self.EVICT_SCAN, len(keys))):
            name, entry = keys.popitem(last=False)
            if not entry.limited(now_ms):
                self.evicted += 1
                return True
            keys[name] = entry  # being limited: kept, now the most recently used
        return False

    def _count(
        self, rule_id: str, key: tuple[str, ...], now_ms: int, window_s: int, limit: int | None
    ) -> int:
        name = (rule_id, key)
        keys = self._keys
        entry = keys.get(name)
        if entry is None:
            self._drop_expired(now_ms)
            if len(keys) >= self.max_keys and not self._make_room(now_ms):
                self.dropped += 1
                return 1
            if limit is None:
                limit = self._limits.get(rule_id)
                if limit is None:
                    settings = rule_settings(rule_id)
                    # A caller's own rule id: no known limit, every timestamp in the window is kept.
                    limit = self._limits[rule_id] = settings[0] if settings is not None else 1 << 62
            entry = keys[name] = _Key(window_s * 1000, limit + 1)
        else:
            keys.move_to_end(name)
        times = entry.times
        if not times or times[-1] <= now_ms:
            # In order (always, in the middleware): every kept timestamp is at or before now.
            times.append(now_ms)
            start = now_ms - entry.window_ms
            if times[0] <= start:
                del times[: bisect_right(times, start)]
            count = len(times)
            if count > entry.keep:
                del times[: count - entry.keep]  # only the newest limit + 1 decide
                return entry.keep
            return count
        insort(times, now_ms)  # out-of-order timestamp (log replay)
        count = entry.count(now_ms)
        if len(times) > entry.keep and count == len(times):
            del times[: len(times) - entry.keep]
        return count if count <= entry.keep else entry.keep

    def hit(self, rule_id: str, key: tuple[str, ...], now_ms: int, window_s: int) -> int:
        with self._lock:
            return self._count(rule_id, key, now_ms, window_s, None)

    def hit_many(self, hits: Sequence[RateHit], now_ms: int) -> list[int]:
        """`BatchRateCounter`: count in order, stop after the first outcome that differs from `over`."""
        out: list[int] = []
        with self._lock:
            for h in hits:
                count = self._count(h.rule_id, h.key, now_ms, h.window_s, h.limit)
                out.append(count)
                if (count > h.limit) != h.over:
                    break
        return out

    def limited(self, rule_id: str, key: tuple[str, ...], now_ms: int) -> bool:
        """Whether `key` is over its limit at `now_ms` (without counting a request)."""
        with self._lock:
            entry = self._keys.get((rule_id, key))
            return entry is not None and entry.limited(now_ms)

    def reset(self) -> None:
        with self._lock:
            self._keys.clear()
            self.evicted = self.dropped = 0
