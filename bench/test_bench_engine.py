"""Per-request evaluation of the realistic 20-rule ACL against the hand-written floor, in one run.

Run with `pytest bench --benchmark-enable`; each engine benchmark records its ratio to the floor
measured in the same run (`extra_info["ratio_to_floor"]`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

import wafpy
from bench import floor, realistic_acl

_FLOOR_TIMES: dict[str, float] = {}


def _median_us(fn: Callable[[], Any], rounds: int = 15, number: int = 300) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number * 1e6)
    samples.sort()
    return samples[len(samples) // 2]


@pytest.fixture(scope="module")
def acl() -> wafpy.WebACL:
    return wafpy.load_web_acl(
        realistic_acl.web_acl(), resources=realistic_acl.resources(), search_string="text"
    )


REQUESTS = {"get": realistic_acl.browser_get(), "post": realistic_acl.json_post()}


def test_engine_agrees_with_floor(acl: wafpy.WebACL) -> None:
    for name, raw in realistic_acl.probe_requests():
        request = wafpy.Request.from_log(raw, timestamp=0, body_available=True)
        decision = acl.evaluate(request)
        assert (decision.action, decision.terminating_rule_id) == floor.hand_written_check(request), name


@pytest.mark.parametrize("kind", ["get", "post"])
def test_floor(benchmark: Any, kind: str) -> None:
    request = wafpy.Request.from_log(REQUESTS[kind], timestamp=0, body_available=True)
    benchmark(floor.hand_written_check, request)


@pytest.mark.parametrize("kind", ["get", "post"])
def test_engine(benchmark: Any, acl: wafpy.WebACL, kind: str) -> None:
    raw = REQUESTS[kind]

    # Fresh Request each call: memoized parts must not carry over between evaluations.
    def run() -> wafpy.Decision:
        return acl.evaluate(wafpy.Request.from_log(raw, timestamp=0, body_available=True))

    def floor_run() -> tuple[str, str]:
        return floor.hand_written_check(wafpy.Request.from_log(raw, timestamp=0, body_available=True))

    floor_us = _median_us(floor_run)
    engine_us = _median_us(run)
    benchmark.extra_info.update(
        {
            "floor_us": round(floor_us, 2),
            "engine_us": round(engine_us, 2),
            "ratio_to_floor": round(engine_us / floor_us, 3),
        }
    )
    print(f"\n{kind}: engine {engine_us:.1f} µs, floor {floor_us:.1f} µs, ratio {engine_us / floor_us:.2f}x")
    benchmark(run)
