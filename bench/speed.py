"""One command, one table: wafpy's speed as ratios measured side by side in the same run.

    python -m bench.speed            # everything, about 10 minutes on a 2-core machine
    python -m bench.speed --quick    # the same rows, fewer and shorter repetitions (about a minute)
    python -m bench.speed --json out.json --chart docs/speed-scaling.svg

Rows (each a ratio of two things measured in this run, interleaved, the median of per-round
ratios; `bench.ratios` alternates subject and baseline and counts this process's CPU time):

* engine: `WebACL.evaluate` of the realistic 20-rule web ACL (`bench.realistic_acl`) against the
  hand-written floor (`bench.floor`), both building the request from the same log record, for a
  browser GET, a 4 KB JSON POST and a request that matches the Count rule that labels;
* middleware in process: `WAFMiddleware` against the floor middleware and an empty ACL against a
  no-op middleware (`bench.test_bench_asgi`), the ASGI callable driven directly;
* middleware over HTTP (`bench.speed_http`): uvicorn with h11 and with httptools, wrk on loopback,
  requests per second and server CPU per request from /proc;
* replay: what `wafpy eval -o FILE` does against `evaluate` alone (`bench.test_bench_eval`), on AWS
  WAF records and ALB lines, and `--workers 2` against one worker (wall clock);
* peers (`bench.detection.speed_rows`, the detection benchmark's harness): ModSecurity + CRS and
  lewaf + CRS against wafpy with the nine bundled managed groups, when installed;
* load time and resident memory with the 1,500-WCU web ACL of `bench.make_docs`.

It also writes a chart (`bench.speed_chart`, SVG written here, no plotting dependency) of the
cost per request against the web ACL's size (10 to 1,500 WCU) and an IP set's size.
Nothing here asserts a timing: the figures are printed, and written as JSON with `--json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import wafpy
from bench import floor, realistic_acl, speed_chart, speed_http, test_bench_asgi, test_bench_eval
from bench.detection import speed_rows
from bench.ratios import interleaved_ratio
from bench.speed_common import Row, Settings, at_least, at_most, machine, markdown

# ----------------------------------------------------------------------------------------------
# Engine against the hand-written floor


def engine_rows(s: Settings) -> None:
    acl = wafpy.load_web_acl(
        realistic_acl.web_acl(), resources=realistic_acl.resources(), search_string="text"
    )
    probes = dict(realistic_acl.probe_requests())
    cases = {
        "browser GET": probes["get"],
        "4 KB JSON POST": probes["post"],
        "POST matching a Count rule with labels": probes["login"],
    }
    for name, raw in cases.items():
        # The clock moves 5 minutes per call: the rate-based rule behind the label counts every
        # call and never reaches its limit, on both sides.
        clock = [0]

        def engine(raw: dict[str, Any] = raw, clock: list[int] = clock) -> Any:
            clock[0] += 300_001
            return acl.evaluate(wafpy.Request.from_log(raw, clock[0], body_available=True))

        def hand(raw: dict[str, Any] = raw, clock: list[int] = clock) -> Any:
            clock[0] += 300_001
            request = wafpy.Request.from_log(raw, clock[0], body_available=True)
            return floor.hand_written_check(request, clock[0])

        decision = engine()
        assert (decision.action, decision.terminating_rule_id) == hand(), name
        ratio = interleaved_ratio(engine, hand, rounds=s.rounds)
        s.add(
            Row(
                "engine",
                f"{name} / hand-written floor",
                ratio.ratio,
                "≤ 1.25×",
                at_most(ratio.ratio, 1.25),
                f"{ratio.subject_us:.1f} vs {ratio.baseline_us:.1f} µs",
            )
        )


# ----------------------------------------------------------------------------------------------
# Middleware in process


def middleware_rows(s: Settings) -> None:
    apps = {name: factory() for name, factory in test_bench_asgi.FACTORIES.items()}
    loop = asyncio.new_event_loop()
    batch = 50 if s.quick else 100

    def runner(name: str, case: str) -> Callable[[], float]:
        return lambda: loop.run_until_complete(
            test_bench_asgi._drive(apps[name], *test_bench_asgi.CASES[case], batch)
        )

    pairs = [
        ("wafpy", "GET", "floor", "WAFMiddleware / floor middleware, GET", 0.9),
        ("wafpy", "POST 8KB", "floor", "WAFMiddleware / floor middleware, 8 KB POST", 0.9),
        ("empty", "GET", "noop", "empty ACL / no-op middleware, GET", 0.95),
        ("empty", "POST 8KB", "noop", "empty ACL / no-op middleware, 8 KB POST", 0.95),
        ("wafpy", "GET", "noop", "WAFMiddleware / no-op middleware, GET", None),
    ]
    try:
        for subject, case, baseline, name, target in pairs:
            ratio = interleaved_ratio(runner(subject, case), runner(baseline, case), rounds=s.rounds)
            throughput = 1 / ratio.ratio
            added = (ratio.subject_us - ratio.baseline_us) / batch
            s.add(
                Row(
                    "middleware, in process",
                    name + " (throughput)",
                    throughput,
                    f"≥ {target}×" if target else "",
                    None if target is None else at_least(throughput, target),
                    f"{added:+.1f} µs per request",
                )
            )
    finally:
        loop.close()


# ----------------------------------------------------------------------------------------------
# Replay


def replay_rows(s: Settings, folder: Path) -> None:
    acl = wafpy.load_web_acl(
        realistic_acl.web_acl(), resources=realistic_acl.resources(), search_string="text"
    )
    requests = test_bench_eval._requests(s.records)
    paths = {"AWS WAF records": folder / "waf.jsonl", "ALB lines": folder / "alb.log"}
    paths["AWS WAF records"].write_bytes(test_bench_eval._waf_lines(requests))
    paths["ALB lines"].write_bytes(test_bench_eval._alb_lines(requests))
    for name, path in paths.items():
        replay = test_bench_eval._replay(acl, path)
        evaluate = test_bench_eval._evaluate_only(acl, path, calls=s.rounds + 3)
        assert replay() == evaluate() == s.records
        ratio = interleaved_ratio(replay, evaluate, rounds=s.rounds, min_batch_s=0.0)
        limit = 1.25 if name == "AWS WAF records" else 1.4
        rate = s.records / (ratio.subject_us / 1e6)
        s.add(
            Row(
                "replay",
                f"wafpy eval / evaluate alone, {name}",
                ratio.ratio,
                f"≤ {limit}×",
                at_most(ratio.ratio, limit),
                f"{rate:,.0f} records/s",
            )
        )
    # Workers: no rate-based rule (with one, the replay stays in one ordered process by design).
    document = realistic_acl.web_acl()
    document["Rules"] = [r for r in document["Rules"] if "RateBasedStatement" not in r["Statement"]]
    acl = wafpy.load_web_acl(document, resources=realistic_acl.resources(), search_string="text")
    path = folder / "large.jsonl"
    path.write_bytes(test_bench_eval._waf_lines(test_bench_eval._requests(s.worker_records, seed=3)))
    one, two = test_bench_eval._replay(acl, path, 1), test_bench_eval._replay(acl, path, 2)
    speedups, foreign, bounds = [], [], []
    for round_ in range(1 if s.quick else 3):
        times, cpu = {}, {}
        for workers, run in ((1, one), (2, two)) if round_ % 2 == 0 else ((2, two), (1, one)):
            busy, before, start = test_bench_eval._busy_seconds(), os.times(), time.perf_counter()
            assert run() == s.worker_records
            times[workers] = wall = time.perf_counter() - start
            after = os.times()
            # (this process, its worker processes) CPU seconds
            cpu[workers] = (sum(after[:2]) - sum(before[:2]), sum(after[2:4]) - sum(before[2:4]))
            ours = sum(cpu[workers])
            foreign.append(max(0.0, test_bench_eval._busy_seconds() - busy - ours) / wall)
        speedups.append(times[1] / times[2])
        # What two idle cores would give: the main process and two workers sharing them.
        main2, children2 = cpu[2]
        bounds.append(cpu[1][0] / max(main2, (main2 + children2) / 2))
    speedup = sorted(speedups)[len(speedups) // 2]
    bound = sorted(bounds)[len(bounds) // 2]
    others = sorted(foreign)[len(foreign) // 2]
    s.add(
        Row(
            "replay",
            "--workers 2 / --workers 1 (wall clock)",
            speedup,
            "≥ 1.8×",
            at_least(speedup, 1.8),
            f"{s.worker_records:,} records; other processes used {others:.2f} of the 2 cores; "
            f"from CPU time, {bound:.2f}× on two idle cores",
        )
    )


# ----------------------------------------------------------------------------------------------
# Load time and memory


_MEMORY_PROBE = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
import wafpy
from bench.make_docs import web_acl
from bench.speed_chart import resources_for
document, wcu = web_acl()
text = json.dumps(document)
resources = resources_for(document["WebACL"]["Rules"])
base = rss()
start = time.perf_counter()
acl = wafpy.load_web_acl(text, resources=resources)
load_ms = (time.perf_counter() - start) * 1e3
request = wafpy.Request(uri="/catalog/shoes", query="q=red+shoes", headers=[("User-Agent", "Mozilla/5.0")])
acl.evaluate(request)
print(json.dumps({"rss_mb": rss(), "imported_mb": base, "load_ms": load_ms, "wcu": wcu,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def load_rows(s: Settings) -> None:
    root = str(Path(__file__).resolve().parents[1])
    runs = []
    for _ in range(1 if s.quick else 3):
        out = subprocess.run(
            [sys.executable, "-c", _MEMORY_PROBE, root], capture_output=True, text=True, check=True
        ).stdout
        runs.append(json.loads(out))
    runs.sort(key=lambda r: r["load_ms"])
    mid = runs[len(runs) // 2]
    s.add(
        Row(
            "load",
            f"load + validate + compile, {mid['wcu']:,}-WCU web ACL",
            mid["load_ms"],
            "",
            None,
            "fresh process, median of runs",
            unit="ms",
        )
    )
    rss = sorted(r["rss_mb"] for r in runs)[len(runs) // 2]
    imported = sorted(r["imported_mb"] for r in runs)[len(runs) // 2]
    s.add(
        Row(
            "memory",
            f"resident memory with the {mid['wcu']:,}-WCU web ACL loaded",
            rss,
            "< 30 MB",
            rss < 30,
            f"{imported:.1f} MB after `import wafpy`, +{rss - imported:.1f} MB for the ACL",
            unit="MB",
        )
    )


# ----------------------------------------------------------------------------------------------
# The table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.speed", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repetitions (about a minute)")
    parser.add_argument("--json", metavar="FILE", help="write every row as JSON")
    parser.add_argument("--chart", metavar="FILE.svg", default="docs/speed-scaling.svg", help="the chart")
    parser.add_argument("--no-chart", action="store_true")
    parser.add_argument("--no-http", action="store_true", help="skip the uvicorn + wrk rows")
    parser.add_argument(
        "--only", default="", help="comma-separated sections: engine,middleware,http,replay,peers,load"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    s = Settings(
        quick=quick,
        rounds=7 if quick else 21,
        http_seconds=1.5 if quick else 5,
        http_reps=1 if quick else 3,
        http_stacks=(("httptools", "uvloop"), ("h11", "asyncio")),
        records=500 if quick else 2000,
        worker_records=8_000 if quick else 40_000,
    )
    only = set(filter(None, args.only.split(",")))

    def wanted(section: str) -> bool:
        return not only or section in only

    print(machine(), flush=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        if wanted("engine"):
            engine_rows(s)
        if wanted("middleware"):
            middleware_rows(s)
        if wanted("http") and not args.no_http:
            speed_http.http_rows(s)
        if wanted("replay"):
            replay_rows(s, Path(scratch))
        if wanted("peers"):
            speed_rows.peer_rows(s)
        if wanted("load"):
            load_rows(s)
    points = None
    if not args.no_chart and not only:
        points = speed_chart.measure(quick=quick)
        speed_chart.write_svg(points, Path(args.chart), machine())
        print(f"chart written to {args.chart}")
    print(f"\n{markdown(s.rows)}\n\n{machine()}; {time.perf_counter() - started:.0f} s")
    if args.json:
        payload = {"machine": machine(), "quick": quick, "rows": [vars(r) for r in s.rows], "chart": points}
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
