"""Rate-based counts shared through Redis by every worker and machine that points at it.

One Lua script counts every rate-based rule a request reaches, atomically and in one round trip
(`AsyncRateCounter.hit_many_async`; `wafpy.engine.ratecount` makes the batch). Each (rule, key) is a
sorted set of request timestamps (milliseconds) under `prefix + hash(rule id, key)`:

1. members at or before `now - window` are removed, the request is added, and the count is the
   number of members in `(now - window, now]`, so the window slides to the millisecond, exactly as
   `MemoryRateCounter` counts (AWS instead re-estimates about every 10 seconds with more weight on
   recent requests:
   https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-high-level-settings.html);
2. only the `limit + 1` newest members are kept (all the decision needs), so a flooded key holds at
   most `limit + 1` members; the count reported stops at `limit + 1`. (A log replayed out of order
   can put members after `now`; the set is then left whole, so the count stays exact);
3. the key expires `window` after its last request, so idle keys leave Redis by themselves;
4. the script stops after the first hit whose outcome differs from the one assumed (see
   `wafpy.engine.ratelimit.RateHit`).

Timestamps are the workers' clocks (`wafpy eval`: the log's); machines sharing a Redis keep their
clocks in sync (NTP), which is far inside a 60-second window.

Every call has a deadline (`timeout`, connect included): past it, or on any Redis error, the request
is counted in memory instead (`on_backend_error="allow"`), the failure is counted (`errors`) and
logged at most every 10 seconds, and Redis is tried again `retry` seconds later; shared counting
resumes on the first call that succeeds. `on_backend_error="raise"` raises `RateBackendError` instead.
Needs asyncio (the `redis` package's asyncio client), `pip install 'wafpy-engine[redis]'`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from itertools import count
from typing import Any, Literal

import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.retry import Retry

from wafpy.engine.ratelimit import MemoryRateCounter, RateHit, rule_settings

logger = logging.getLogger("wafpy.middleware.redisrate")

# KEYS: one sorted set per hit. ARGV: now (ms), a request id unique across workers, then per hit
# its window (ms), limit, and assumed outcome ("1" = over). Returns the counts of the hits counted.
# `n == size`: no member is after now, so the oldest beyond limit + 1 may go.
SCRIPT = """
local now = tonumber(ARGV[1])
local id = ARGV[2]
local out = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local window = tonumber(ARGV[3 * i])
  local limit = tonumber(ARGV[3 * i + 1])
  local start = now - window
  redis.call('ZREMRANGEBYSCORE', key, '-inf', start)
  redis.call('ZADD', key, now, id .. ':' .. i)
  local n = redis.call('ZCOUNT', key, '(' .. start, now)
  local size = redis.call('ZCARD', key)
  if size > limit + 1 and n == size then
    redis.call('ZREMRANGEBYRANK', key, 0, size - limit - 2)
  end
  redis.call('PEXPIRE', key, window)
  if n > limit + 1 then
    n = limit + 1
  end
  out[i] = n
  if (n > limit) ~= (ARGV[3 * i + 2] == '1') then
    break
  end
end
return out
"""

LOG_EVERY_S = 10.0
# Keys last seen over their limit, for `guess`; past this many the oldest are forgotten (a forgotten
# key is guessed under, which costs one more round trip if it is still over, never a wrong count).
GUESS_KEYS = 100_000

Mode = Literal["allow", "raise"]


class RateBackendError(RuntimeError):
    """The shared rate counter failed and `on_backend_error="raise"` was chosen."""


def redis_key(prefix: str, rule_id: str, key: tuple[str, ...]) -> str:
    """A short, fixed-length Redis key for (rule, key): the values may be long or hold any byte."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(rule_id.encode("utf-8", "surrogatepass"))
    for part in key:
        digest.update(b"\x1f" + part.encode("utf-8", "surrogatepass"))
    return prefix + digest.hexdigest()


class RedisRateCounter:
    """`AsyncRateCounter` (the middleware) and `RateCounter` / `BatchRateCounter` (`wafpy eval`)
    over one Redis, with an in-memory counter to fall back on (see the module)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 0.1,
        retry: float = 1.0,
        on_backend_error: Mode = "allow",
        prefix: str = "wafpy:rate:",
        max_keys: int = MemoryRateCounter.DEFAULT_MAX_KEYS,
    ) -> None:
        if on_backend_error not in ("allow", "raise"):
            raise ValueError(f"on_backend_error must be 'allow' or 'raise', not {on_backend_error!r}")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.url = url
        self.timeout = timeout
        self.retry = retry
        self.raise_errors = on_backend_error == "raise"
        self.prefix = prefix
        self.fallback = MemoryRateCounter(max_keys)
        self.errors = 0  # calls that failed (counted in memory instead, or raised)
        self.on_error: Callable[[], None] | None = None  # told of each failure (the middleware's metrics)
        self._options: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "retry": Retry(NoBackoff(), 0),  # one attempt: the deadline is the request's, not Redis's
        }
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: redis.asyncio.Redis | None = None
        self._script: Any = None
        self._sync_client: redis.Redis | None = None
        self._sync_script: Any = None
        self._ids = count()
        self._token = os.urandom(6).hex()  # request ids unique across processes and machines
        self._down_until = 0.0  # monotonic time before which Redis is not tried again
        self._failing = False
        self._last_log = -LOG_EVERY_S
        self._unlogged = 0
        self._over: dict[tuple[str, tuple[str, ...]], int] = {}  # key -> time (ms) it may be over until

    # ------------------------------------------------------------------------------------------

    def _args(self, hits: Sequence[RateHit], now_ms: int) -> tuple[list[str], list[int | str]]:
        keys = [redis_key(self.prefix, h.rule_id, h.key) for h in hits]
        args: list[int | str] = [now_ms, f"{self._token}:{next(self._ids)}"]
        for h in hits:
            args += [h.window_s * 1000, h.limit, "1" if h.over else "0"]
        return keys, args

    def _answered(self, hits: Sequence[RateHit], counts: list[Any], now_ms: int) -> list[int]:
        if self._failing:
            self._failing = False
            logger.warning("wafpy: the rate backend answers again; shared counting resumed")
        out = [int(c) for c in counts]
        over = self._over
        for h, n in zip(hits, out, strict=False):
            name = (h.rule_id, h.key)
            if n > h.limit:
                if len(over) >= GUESS_KEYS:
                    over.clear()
                over[name] = now_ms + h.window_s * 1000
            elif over:
                over.pop(name, None)
        return out

    def _failed(self, exc: BaseException, hits: Sequence[RateHit], now_ms: int) -> list[int]:
        self.errors += 1
        if self.on_error is not None:
            self.on_error()
        self._down_until = time.monotonic() + self.retry
        self._failing = True
        self._unlogged += 1
        now = time.monotonic()
        if now - self._last_log >= LOG_EVERY_S:
            action = "raising" if self.raise_errors else "counting in memory"
            logger.warning(
                "wafpy: the rate backend failed %d time(s) (%s: %s); %s, next try in %.1f s",
                self._unlogged,
                type(exc).__name__,
                exc,
                action,
                self.retry,
            )
            self._last_log = now
            self._unlogged = 0
        if self.raise_errors:
            raise RateBackendError(f"rate backend failed: {type(exc).__name__}: {exc}") from exc
        return self.fallback.hit_many(hits, now_ms)

    def _down(self, hits: Sequence[RateHit], now_ms: int) -> list[int] | None:
        if time.monotonic() >= self._down_until:
            return None
        if self.raise_errors:
            raise RateBackendError("rate backend unavailable (retrying shortly)")
        return self.fallback.hit_many(hits, now_ms)

    # ------------------------------------------------------------------------------------------
    # AsyncRateCounter: the middleware

    def guess(self, rule_id: str, key: tuple[str, ...], now_ms: int) -> bool:
        until = self._over.get((rule_id, key))
        return until is not None and until > now_ms

    def _async_script(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # A client belongs to the event loop it was made in (one per worker, or per test loop).
            self._loop = loop
            self._client = redis.asyncio.Redis.from_url(self.url, **self._options)
            self._script = self._client.register_script(SCRIPT)
        return self._script

    async def hit_many_async(self, hits: Sequence[RateHit], now_ms: int) -> list[int]:
        down = self._down(hits, now_ms)
        if down is not None:
            return down
        keys, args = self._args(hits, now_ms)
        try:
            async with asyncio.timeout(self.timeout):
                counts = await self._async_script()(keys=keys, args=args)
        except (redis.RedisError, OSError, TimeoutError) as exc:
            return self._failed(exc, hits, now_ms)
        return self._answered(hits, counts, now_ms)

    async def aclose(self) -> None:
        """Close the connections of the event loop running (the server's shutdown)."""
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.aclose()
        self._client = self._loop = self._script = None

    # ------------------------------------------------------------------------------------------
    # RateCounter / BatchRateCounter: `wafpy eval` and direct `WebACL.evaluate`

    def hit_many(self, hits: Sequence[RateHit], now_ms: int) -> list[int]:
        down = self._down(hits, now_ms)
        if down is not None:
            return down
        if self._sync_script is None:
            self._sync_client = redis.Redis.from_url(self.url, **self._options)
            self._sync_script = self._sync_client.register_script(SCRIPT)
        keys, args = self._args(hits, now_ms)
        try:
            counts = self._sync_script(keys=keys, args=args)
        except (redis.RedisError, OSError) as exc:
            return self._failed(exc, hits, now_ms)
        return self._answered(hits, counts, now_ms)

    def close(self) -> None:
        """Close the synchronous connections (`wafpy eval`)."""
        if self._sync_client is not None:
            self._sync_client.close()
        self._sync_client = self._sync_script = None

    def hit(self, rule_id: str, key: tuple[str, ...], now_ms: int, window_s: int) -> int:
        settings = rule_settings(rule_id)
        limit = settings[0] if settings is not None else 2**62
        return self.hit_many([RateHit(rule_id, key, window_s, limit, False)], now_ms)[0]
