"""The in-memory rate counter: exact sliding windows, out-of-order timestamps, bounded memory."""

from __future__ import annotations

import pytest

from wafpy.engine.ratelimit import MemoryRateCounter


@pytest.mark.parametrize(
    ("times_s", "expected_counts"),
    [
        ([0, 1, 2], [1, 2, 3]),
        ([0, 59, 60, 61], [1, 2, 2, 3]),  # a 60 s window is (now - 60 s, now]: t=0 leaves at t=60
        ([0, 120, 121], [1, 1, 2]),
        # Replayed logs can be slightly out of order: a later request is not counted at an earlier time.
        ([10, 5, 11], [1, 1, 3]),
    ],
)
def test_counts_in_window(times_s: list[int], expected_counts: list[int]) -> None:
    counter = MemoryRateCounter()
    counts = [counter.hit("rule", ("198.51.100.7",), t * 1000, 60) for t in times_s]
    assert counts == expected_counts


def test_keys_and_rules_are_counted_apart() -> None:
    counter = MemoryRateCounter()
    assert counter.hit("a", ("1",), 0, 60) == 1
    assert counter.hit("a", ("2",), 0, 60) == 1
    assert counter.hit("b", ("1",), 0, 60) == 1
    assert counter.hit("a", ("1",), 1, 60) == 2


def test_stale_keys_are_dropped() -> None:
    counter = MemoryRateCounter()
    for i in range(1000):
        counter.hit("rule", (f"client-{i}",), i * 1000, 60)  # one request per client per second
    # Only the clients seen in the last minute are kept (expired keys leave as new ones come).
    assert len(counter) <= 60 + 100
    assert counter.hit("rule", ("client-999",), 999_500, 60) == 2
