"""Log parsing throughput against plain `orjson.loads` of the same lines, in the same run.

    pytest bench --benchmark-enable -k logs

`extra_info` holds µs per line for the parser and for the orjson baseline, and their ratio.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from wafpy.logs import LogEntry, parse_alb_line, parse_waf_line

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def waf_lines() -> list[bytes]:
    return gzip.decompress((SAMPLES / "waf-logs.jsonl.gz").read_bytes()).splitlines()


def alb_lines() -> list[bytes]:
    return (SAMPLES / "alb-access.log").read_bytes().splitlines()


def best_of(fn: Callable[[], object], rounds: int = 7) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize(
    ("name", "lines", "parser"),
    [("waf", waf_lines, parse_waf_line), ("alb", alb_lines, parse_alb_line)],
)
def test_parse_throughput(
    benchmark: Any, name: str, lines: Callable[[], list[bytes]], parser: Callable[[bytes, str, int], LogEntry]
) -> None:
    data = lines()

    def parse_all() -> list[LogEntry]:
        return [parser(raw, "bench", i) for i, raw in enumerate(data, 1)]

    def baseline() -> list[Any]:
        return [orjson.loads(raw) for raw in data]

    if name == "alb":  # an ALB line is not JSON: compare with loading the same content as JSON
        json_data = [orjson.dumps(raw.decode()) for raw in data]

        def baseline() -> list[Any]:
            return [orjson.loads(raw) for raw in json_data]

    entries = benchmark(parse_all)
    assert len(entries) == len(data)
    ours, base = best_of(parse_all), best_of(baseline)
    benchmark.extra_info.update(
        lines=len(data),
        mean_line_bytes=sum(map(len, data)) // len(data),
        us_per_line=round(ours / len(data) * 1e6, 2),
        orjson_us_per_line=round(base / len(data) * 1e6, 2),
        ratio_vs_orjson=round(ours / base, 2),
    )
