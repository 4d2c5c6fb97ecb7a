"""How the cost of a web ACL grows with its rules, with the prefilter and without (one run, ratios).

Run with `pytest bench/test_bench_prefilter.py --benchmark-enable -s`. Each figure is a median
per-round ratio (`bench/ratios.py`) to the realistic 20-rule web ACL on the same request:
* 500 rules (`bench/large_acl.py`: the 20 and 480 generated rules, 5 % of them with no literal to
  rule them out, or none of them) — target: at most 2.5;
* the 20 rules plus the Core rule set, SQL database and Known bad inputs groups from
  `rulesets/managed/` (or, when those files are absent, generated stand-in groups of their sizes)
  — target: at most 2;
and, in a child process each, the memory a web ACL holding every bundled group takes over an
empty one (target: at most 30 MB), and the time loading it takes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import wafpy
from bench import large_acl, realistic_acl
from bench.ratios import Ratio, interleaved_ratio
from wafpy.engine.compile import CompiledACL, compile_acl
from wafpy.engine.evaluate import evaluate
from wafpy.engine.services import Services

ROOT = Path(__file__).resolve().parents[1]
MANAGED = ROOT / "rulesets" / "managed"
GROUPS = [
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesSQLiRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
]
REQUESTS = {"get": realistic_acl.browser_get(), "post": realistic_acl.json_post()}


def _run(compiled: CompiledACL, raw: dict[str, Any]) -> Callable[[], wafpy.Decision]:
    services = Services()

    def run() -> wafpy.Decision:
        return evaluate(compiled, wafpy.Request.from_log(raw, timestamp=0, body_available=True), services)

    return run


def _ratio(subject: CompiledACL, baseline: CompiledACL, raw: dict[str, Any]) -> Ratio:
    return interleaved_ratio(_run(subject, raw), _run(baseline, raw), rounds=15)


@pytest.fixture(scope="module")
def twenty() -> CompiledACL:
    document, resources = realistic_acl.web_acl(), realistic_acl.resources()
    acl = wafpy.load_web_acl(document, resources=resources, search_string="text")
    return compile_acl(acl.model)


def _managed_document(names: list[str]) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """The realistic web ACL with `names` appended (bundled files), or generated stand-ins."""
    document = realistic_acl.web_acl()
    resources = realistic_acl.resources()
    visibility = {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": "m"}
    if all((MANAGED / f"{name}.json").is_file() for name in names):
        for i, name in enumerate(names):
            statement = {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": name}}
            document["Rules"].append(
                {
                    "Name": name,
                    "Priority": 1000 + i,
                    "Statement": statement,
                    "OverrideAction": {"None": {}},
                    "VisibilityConfig": visibility,
                }
            )
        return document, resources, str(MANAGED)
    first = 0
    for i, (name, size) in enumerate(large_acl.STANDIN_SIZES.items()):
        rules = large_acl.generated_rules(size, first_priority=0, seed=first, other=0.4)
        group = large_acl.rule_group(name, rules)["RuleGroup"]
        resources[group["ARN"]] = group
        document["Rules"].append(
            {
                "Name": name,
                "Priority": 1000 + i,
                "Statement": {"RuleGroupReferenceStatement": {"ARN": group["ARN"]}},
                "OverrideAction": {"None": {}},
                "VisibilityConfig": visibility,
            }
        )
        first += size
    return document, resources, None


@pytest.mark.parametrize("kind", ["get", "post"])
@pytest.mark.parametrize("other", [0.05, 0.0])
def test_500_rules(benchmark: Any, twenty: CompiledACL, kind: str, other: float) -> None:
    model = wafpy.load_web_acl(
        large_acl.web_acl(500, other=other), resources=realistic_acl.resources(), search_string="text"
    ).model
    fast, plain = compile_acl(model), compile_acl(model, prefilter=False)
    raw = REQUESTS[kind]
    assert _run(fast, raw)().action == _run(plain, raw)().action
    with_prefilter, without = _ratio(fast, twenty, raw), _ratio(plain, twenty, raw)
    benchmark.extra_info.update({"ratio": with_prefilter.ratio, "ratio_without_prefilter": without.ratio})
    print(
        f"\n500 rules ({other:.0%} without a literal), {kind}: {with_prefilter.ratio:.2f}x the 20-rule "
        f"web ACL (without the prefilter {without.ratio:.2f}x; target <= 2.5)"
    )
    benchmark(_run(fast, raw))


@pytest.mark.parametrize("kind", ["get", "post"])
def test_managed_groups(benchmark: Any, twenty: CompiledACL, kind: str) -> None:
    document, resources, managed = _managed_document(GROUPS)
    model = wafpy.load_web_acl(document, resources=resources, managed=managed, search_string="text").model
    fast, plain = compile_acl(model), compile_acl(model, prefilter=False)
    raw = REQUESTS[kind]
    with_prefilter, without = _ratio(fast, twenty, raw), _ratio(plain, twenty, raw)
    benchmark.extra_info.update({"ratio": with_prefilter.ratio, "ratio_without_prefilter": without.ratio})
    what = "bundled" if managed else "stand-in"
    print(
        f"\n20 rules + Core, SQL database, Known bad inputs ({what}), {kind}: {with_prefilter.ratio:.2f}x "
        f"the 20 rules alone (without the prefilter {without.ratio:.2f}x; target <= 2)"
    )
    benchmark(_run(fast, raw))


_CHILD = """
import json, sys, time
import wafpy
document, managed = json.loads(sys.argv[1]), sys.argv[2] or None
before = time.process_time()
acl = wafpy.load_web_acl(document, managed=managed, search_string="text")
elapsed = time.process_time() - before
rss = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS:"))
print(json.dumps({"rss_kb": rss, "load_s": elapsed}))
"""


def _child(document: dict[str, Any], managed: str | None) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(document), managed or ""],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmRSS from /proc")
def test_memory_and_load_time_of_every_bundled_group(benchmark: Any) -> None:
    names = sorted(p.stem for p in MANAGED.glob("*.json")) if MANAGED.is_dir() else []
    if not names:
        pytest.skip("no bundled groups in rulesets/managed/")
    document, _, managed = _managed_document(names)
    document["Rules"] = [r for r in document["Rules"] if "ManagedRuleGroupStatement" in r["Statement"]]
    empty = dict(document, Rules=[])
    start = time.perf_counter()
    full, bare = _child(document, managed), _child(empty, None)
    extra_mb = (full["rss_kb"] - bare["rss_kb"]) / 1024
    benchmark.extra_info.update({"extra_rss_mb": round(extra_mb, 1), "load_s": round(full["load_s"], 3)})
    print(
        f"\n{len(names)} bundled groups: {extra_mb:.1f} MB over an empty web ACL (target <= 30), "
        f"loaded and compiled in {full['load_s']:.2f} s CPU (empty: {bare['load_s']:.2f} s)"
    )
    benchmark.pedantic(lambda: time.perf_counter() - start, rounds=1, iterations=1)
