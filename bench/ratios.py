"""Ratios measured side by side on a shared, noisy machine.

The two functions alternate in small batches and each batch is timed in this process's CPU time,
so a neighbour's load shifts both sides alike; the ratio is the median of per-round ratios.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Ratio:
    subject_us: float
    baseline_us: float
    ratio: float

    def as_info(self) -> dict[str, float]:
        return {
            "subject_us": round(self.subject_us, 2),
            "baseline_us": round(self.baseline_us, 2),
            "ratio": round(self.ratio, 3),
        }


def _batch(fn: Callable[[], Any], number: int) -> float:
    start = time.process_time()
    for _ in range(number):
        fn()
    return (time.process_time() - start) / number * 1e6


def interleaved_ratio(
    subject: Callable[[], Any], baseline: Callable[[], Any], *, rounds: int = 21, min_batch_s: float = 0.02
) -> Ratio:
    """Median per-round ratio subject/baseline, alternating which side runs first."""
    subject()
    baseline()
    number = 1
    while _batch(baseline, number) * number < min_batch_s * 1e6 and number < 1_000_000:
        number *= 2
    ratios, subjects, baselines = [], [], []
    enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(rounds):
            if i % 2:
                b = _batch(baseline, number)
                s = _batch(subject, number)
            else:
                s = _batch(subject, number)
                b = _batch(baseline, number)
            subjects.append(s)
            baselines.append(b)
            ratios.append(s / b if b else float("inf"))
    finally:
        if enabled:
            gc.enable()
    mid = rounds // 2
    return Ratio(sorted(subjects)[mid], sorted(baselines)[mid], sorted(ratios)[mid])
