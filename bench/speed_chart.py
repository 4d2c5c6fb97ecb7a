"""The chart of `python -m bench.speed`: cost per request against the web ACL's size and an IP set's.

Two panels, both measured in one run with interleaved repetitions (each point the median of its
rounds, in this process's CPU time):

* web ACLs made of the first rules of `bench.make_docs`'s 1,500-WCU web ACL (every common
  statement family), cut at 10 to 1,500 WCU, every action made Count so that every rule is
  evaluated, on the realistic browser GET;
* one IP set rule whose set holds 10 to 100,000 ranges, the client outside the set.

The SVG is written by hand (no plotting dependency): logarithmic x axes, linear y axes from 0.
"""

from __future__ import annotations

import gc
import math
import re
import time
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

import wafpy
from bench import make_docs, realistic_acl

WCU_POINTS = (10, 50, 100, 250, 500, 1000, 1500)
IPSET_POINTS = (10, 100, 1_000, 10_000, 100_000)


def resources_for(rules: list[dict[str, Any]]) -> dict[str, Any]:
    """A small IP set or regex pattern set for every ARN the rules reference."""
    out: dict[str, Any] = {}
    for arn in set(re.findall(r"'(arn:aws:wafv2:[^']+/(?:ipset|regexpatternset)/[^']+)'", repr(rules))):
        name, ident = arn.rsplit("/", 2)[1:]
        if "/ipset/" in arn:
            out[arn] = {"Name": name, "Id": ident, "ARN": arn, "IPAddressVersion": "IPV4"}
            out[arn]["Addresses"] = ["192.0.2.0/24"]
        else:
            out[arn] = {"Name": name, "Id": ident, "ARN": arn}
            out[arn]["RegularExpressionList"] = [{"RegexString": "^/admin"}]
    return out


def acl_of_wcu(target: int) -> tuple[wafpy.WebACL, int]:
    """The first rules of the benchmark web ACL that fit in `target` WCU, loaded, and their WCU."""
    rules: list[dict[str, Any]] = []
    wcu = i = 0
    kinds = make_docs._KINDS
    while True:
        statement, cost = kinds[i % len(kinds)](i)
        if wcu + cost > target and rules:
            break
        rule = make_docs._rule(i, statement)
        rule["Action"] = {"Count": {}}  # every rule is evaluated: none ends the evaluation
        rules.append(rule)
        wcu += cost
        i += 1
    document, _ = make_docs.web_acl()
    document["WebACL"]["Rules"] = rules
    return wafpy.load_web_acl(document, resources=resources_for(rules)), wcu


def acl_of_ipset(size: int) -> wafpy.WebACL:
    document = realistic_acl.web_acl()
    arn = f"{realistic_acl.REGION_ARN}/ipset/scale/11111111-2222-3333-4444-555555555555"
    document["Rules"] = [
        {
            "Name": "ipset",
            "Priority": 0,
            "Statement": {"IPSetReferenceStatement": {"ARN": arn}},
            "Action": {"Block": {}},
            "VisibilityConfig": {
                "SampledRequestsEnabled": False,
                "CloudWatchMetricsEnabled": False,
                "MetricName": "ipset",
            },
        }
    ]
    # Distinct ranges spread over 10.0.0.0/8 and 100.64.0.0/10, none holding the client.
    addresses = [f"{10 + (n >> 16) % 90}.{(n >> 8) & 255}.{n & 255}.0/24" for n in range(size)]
    ipset: dict[str, Any] = {"Name": "scale", "Id": arn.rsplit("/", 1)[1], "ARN": arn}
    ipset |= {"IPAddressVersion": "IPV4", "Addresses": addresses}
    return wafpy.load_web_acl(document, resources={arn: ipset})


def _batch_us(fn: Callable[[], Any], number: int) -> float:
    start = time.process_time()
    for _ in range(number):
        fn()
    return (time.process_time() - start) / number * 1e6


def _round_robin(subjects: dict[Any, Callable[[], Any]], rounds: int, number: int) -> dict[Any, float]:
    samples: dict[Any, list[float]] = {key: [] for key in subjects}
    enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(rounds):
            order = list(subjects) if r % 2 == 0 else list(reversed(subjects))
            for key in order:
                samples[key].append(_batch_us(subjects[key], number))
    finally:
        if enabled:
            gc.enable()
    return {key: sorted(values)[len(values) // 2] for key, values in samples.items()}


def measure(quick: bool) -> dict[str, list[list[float]]]:
    """{"wcu": [[wcu, µs], ...], "ipset": [[ranges, µs], ...]} for the browser GET."""
    raw = realistic_acl.browser_get()
    clock = [0]

    def evaluator(acl: wafpy.WebACL) -> Callable[[], Any]:
        def run() -> Any:
            clock[0] += 300_001  # rate-based rules never reach their limit
            return acl.evaluate(wafpy.Request.from_log(raw, clock[0], body_available=True))

        return run

    rounds, number = (5, 50) if quick else (15, 200)
    by_wcu = {}
    for target in WCU_POINTS:
        acl, wcu = acl_of_wcu(target)
        by_wcu[wcu] = evaluator(acl)
    by_size = {size: evaluator(acl_of_ipset(size)) for size in IPSET_POINTS}
    wcu_costs = _round_robin(by_wcu, rounds, number)
    size_costs = _round_robin(by_size, rounds, number)
    points = {
        "wcu": [[float(k), round(v, 2)] for k, v in sorted(wcu_costs.items())],
        "ipset": [[float(k), round(v, 2)] for k, v in sorted(size_costs.items())],
    }
    for name, series in points.items():
        print(f"  chart, {name}: " + ", ".join(f"{int(x):,} → {y:.1f} µs" for x, y in series), flush=True)
    return points


# ----------------------------------------------------------------------------------------------
# SVG

_W, _H = 380, 260  # one panel
_LEFT, _RIGHT, _TOP, _BOTTOM = 58, 30, 34, 46


def _log_ticks(low: float, high: float) -> list[float]:
    ticks, value = [], 1.0
    while value <= high * 1.0001:
        if value >= low / 1.0001:
            ticks.append(value)
        value *= 10
    return ticks


def _nice_step(top: float) -> float:
    raw = top / 5
    magnitude = 10 ** (len(str(int(raw))) - 1) if raw >= 1 else 0.1
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= raw:
            return step * magnitude
    return 10 * magnitude


def _panel(x0: float, title: str, xlabel: str, series: list[list[float]], ticks: list[float]) -> list[str]:
    xs = [p[0] for p in series]
    low, high = min(xs + ticks), max(xs + ticks)
    top = max(p[1] for p in series) * 1.15
    step = _nice_step(top)
    top = math.ceil(top / step) * step
    width, height = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def px(x: float) -> float:
        return x0 + _LEFT + (math.log10(x) - math.log10(low)) / (math.log10(high) - math.log10(low)) * width

    def py(y: float) -> float:
        return _TOP + height - y / top * height

    out = [
        f'<text x="{x0 + _W / 2:.0f}" y="20" text-anchor="middle" font-weight="bold">{escape(title)}</text>',
        f'<rect x="{x0 + _LEFT}" y="{_TOP}" width="{width}" height="{height}" fill="none" stroke="#999"/>',
    ]
    y = 0.0
    while y <= top + 1e-9:
        out.append(
            f'<line x1="{x0 + _LEFT}" x2="{x0 + _LEFT + width}" y1="{py(y):.1f}" y2="{py(y):.1f}" '
            'stroke="#eee"/>'
        )
        out.append(f'<text x="{x0 + _LEFT - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{y:g}</text>')
        y += step
    for t in ticks:
        out.append(f'<text x="{px(t):.1f}" y="{_TOP + height + 16}" text-anchor="middle">{t:,.0f}</text>')
    out.append(
        f'<text x="{x0 + _LEFT + width / 2}" y="{_H - 8}" text-anchor="middle">{escape(xlabel)}</text>'
    )
    out.append(
        f'<text transform="translate({x0 + 14},{_TOP + height / 2}) rotate(-90)" text-anchor="middle">'
        "CPU µs per request</text>"
    )
    path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in series)
    out.append(f'<polyline points="{path}" fill="none" stroke="#1f77b4" stroke-width="2"/>')
    for x, y in series:
        out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="#1f77b4"><title>')
        out.append(f"{x:,.0f}: {y:.1f} µs</title></circle>")
    return out


def write_svg(points: dict[str, list[list[float]]], path: Path, machine: str) -> None:
    body = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * _W}" height="{_H + 24}" '
        'font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
    ]
    body += _panel(0, "Web ACL size", "web ACL capacity (WCU, log scale)", points["wcu"], [10, 100, 1000])
    body += _panel(
        _W, "IP set size", "ranges in the IP set (log scale)", points["ipset"], _log_ticks(10, 1e5)
    )
    note = f"Browser GET, python -m bench.speed; {machine}"
    body.append(f'<text x="8" y="{_H + 16}" font-size="10" fill="#555">{escape(note)}</text>')
    body.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(body) + "\n", encoding="utf-8")
