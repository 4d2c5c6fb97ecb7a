"""wafpy's own SQLi/XSS detectors against libinjection (when the optional extra is installed).

Run with `pytest bench --benchmark-enable`. Each own-detector benchmark records, in
`extra_info`, its median in microseconds and the ratio to libinjection on the same input
measured in the same run (`ratio_to_libinjection`, > 1 means slower than libinjection).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from wafpy.matching.detectors import default_detector, libinjection_detector

OWN = default_detector()

_BENIGN_2K = (
    b"name=Jane+Doe&email=jane.doe%40example.com&address=12+Main+Street%2C+Springfield&"
    b"comment=Great+product%2C+would+buy+again.+Shipping+was+fast+and+the+box+was+intact.+"
)
# A realistic 4 KiB JSON POST body (an order with free-text notes): the SQLi and XSS rules of a web
# ACL both inspect it whole.
_ORDER_ITEM = (
    '{"id": %d, "sku": "A-%d", "name": "Blue cotton shirt", "qty": 2, "price": 19.99, '
    '"note": "Please gift wrap it, and leave it at the door if nobody is home.", '
    '"tags": ["summer", "sale"], "active": true, "ref": null}'
)
_JSON_4K = (
    '{"customer": {"name": "Jane Doe", "email": "jane.doe@example.com"}, "items": ['
    + ", ".join(_ORDER_ITEM % (i, i) for i in range(40))
).encode()[:4096]
_PROSE = (
    b"I ordered the blue shirt last week and it's lovely, but the sleeves are a bit long. My wife doesn't "
    b"like the colour or the fit, so we'll probably return it. Customer service was helpful and quick; "
    b"they said returns are free within 30 days. O'Brien's shop down the road sells the same one (in red) "
    b"for less, which is a shame. Still, delivery was fast and the box arrived intact. "
)
INPUTS = {
    "short_benign": b"red shoes",
    "short_attack_sqli": b"1' OR '1'='1",
    "short_attack_xss": b"<img src=x onerror=alert(1)>",
    "benign_2k": (_BENIGN_2K * (2048 // len(_BENIGN_2K) + 1))[:2048],
    "benign_json_4k": _JSON_4K,
    # prose with apostrophes, parentheses and ";" (4 KiB of a review text field)
    "benign_prose_4k": (_PROSE * 12)[:4096],
    # an injection 3 KiB into a JSON body: found by the windowed SQLi reading
    "json_4k_attack_sqli": _JSON_4K[:3072] + b", \"q\": \"x' OR '1'='1\"}",
}
CASES = [
    ("sqli", "short_benign"),
    ("sqli", "short_attack_sqli"),
    ("sqli", "benign_2k"),
    ("xss", "short_benign"),
    ("xss", "short_attack_xss"),
    ("xss", "benign_2k"),
    ("sqli", "benign_json_4k"),
    ("xss", "benign_json_4k"),
    ("sqli", "benign_prose_4k"),
    ("sqli", "json_4k_attack_sqli"),
]


def _median_us(fn: Callable[[], Any], rounds: int = 15, number: int = 300) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number * 1e6)
    samples.sort()
    return samples[len(samples) // 2]


def _call(detector: Any, kind: str, data: bytes) -> Callable[[], Any]:
    if kind == "sqli":
        return lambda: detector.sqli(data, "LOW")
    return lambda: detector.xss(data)


@pytest.mark.parametrize(("kind", "input_name"), CASES)
def test_bench_own_detector(benchmark: Any, kind: str, input_name: str) -> None:
    data = INPUTS[input_name]
    fn = _call(OWN, kind, data)
    benchmark.extra_info["own_us"] = round(_median_us(fn), 3)
    try:
        lib = libinjection_detector()
    except Exception:  # the optional extra is absent: no ratio
        lib = None
    if lib is not None:
        lib_us = _median_us(_call(lib, kind, data))
        benchmark.extra_info["libinjection_us"] = round(lib_us, 3)
        benchmark.extra_info["ratio_to_libinjection"] = round(benchmark.extra_info["own_us"] / lib_us, 2)
    result = benchmark(fn)
    assert (result is not None) == ("attack" in input_name)


@pytest.mark.parametrize(("kind", "input_name"), CASES)
def test_bench_libinjection(benchmark: Any, kind: str, input_name: str) -> None:
    pytest.importorskip("libinjection", reason="libinjection-python (optional GPL extra) not installed")
    fn = _call(libinjection_detector(), kind, INPUTS[input_name])
    result = benchmark(fn)
    assert (result is not None) == ("attack" in input_name)
