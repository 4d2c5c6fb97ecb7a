"""Load time as a ratio to json.loads on the same text (target: at most 100x).

Run with `pytest bench --benchmark-enable`. Each parse benchmark times json.loads on the same
text in the same process just before, and records `ratio_to_json_loads` (best over best)
in the benchmark's extra_info; it is also printed (`-s` shows it). Other load stages (validate,
build) can be added as further functions in STAGES.
"""

from __future__ import annotations

import json
import timeit
from collections.abc import Callable
from typing import Any

import pytest

from wafpy.parse import get_parser, parse_json

DOCUMENTS = ["webacl-1500wcu", "ipset-10000"]
STAGES: dict[str, Callable[[str], Any]] = {"parse_json": parse_json}


def _best_and_median(func: Callable[[], Any], number: int, repeat: int = 15) -> tuple[float, float]:
    runs = sorted(t / number for t in timeit.repeat(func, number=number, repeat=repeat))
    return runs[0], runs[len(runs) // 2]


@pytest.mark.parametrize("name", DOCUMENTS)
def test_json_loads(benchmark: Any, bench_texts: dict[str, str], name: str) -> None:
    text = bench_texts[name]
    result = benchmark(json.loads, text)
    assert isinstance(result, dict)


@pytest.mark.parametrize("stage", sorted(STAGES))
@pytest.mark.parametrize("name", DOCUMENTS)
def test_load(benchmark: Any, bench_texts: dict[str, str], name: str, stage: str) -> None:
    text = bench_texts[name]
    func = STAGES[stage]
    get_parser()  # grammar construction is a once-per-process cost, measured separately
    best, median = _best_and_median(lambda: json.loads(text), number=20)
    result = benchmark(func, text)
    assert result is not None
    stats = getattr(benchmark, "stats", None)
    if stats is None:  # --benchmark-disable: the function ran once, nothing was timed
        return
    # On a shared machine the minimum is the least noisy estimate; the median ratio is kept too.
    ratio = stats.stats.min / best
    benchmark.extra_info["json_loads_min_s"] = best
    benchmark.extra_info["ratio_to_json_loads"] = round(ratio, 1)
    benchmark.extra_info["ratio_to_json_loads_median"] = round(stats.stats.median / median, 1)
    took = stats.stats.min * 1e3
    print(f"\n{stage} {name}: {took:.2f} ms, json.loads {best * 1e3:.3f} ms, ratio {ratio:.1f}x (min/min)")


def test_grammar_construction(benchmark: Any) -> None:
    from wafpy import parse

    def build() -> Any:
        parse._parser.cache_clear()
        return parse._parser()

    assert benchmark(build) is not None
