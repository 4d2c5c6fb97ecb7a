"""The HTTP rows of `python -m bench.speed`: uvicorn on loopback, loaded by wrk.

Each stack (httptools + uvloop, h11 + asyncio) serves the same small Starlette app four ways
(`bench.test_bench_asgi`: no-op middleware, floor middleware, `WAFMiddleware` with the realistic
ACL, `WAFMiddleware` with an empty ACL), one uvicorn process each, pinned to CPU 0 with wrk on
CPU 1 when `taskset` exists. Repetitions go round the variants in a shuffled order; each ratio is
the median of per-repetition ratios. Besides requests per second, the server's CPU time per
request (utime + stime from /proc over the run, divided by the requests served) is reported: a
busy neighbour moves it much less. Servers are started and stopped by their process id.
"""

from __future__ import annotations

import os
import random
import statistics

from bench import test_bench_asgi
from bench.speed_common import Row, Settings

_PAIRS = [
    # (subject, baseline, measure name, target on req/s)
    ("wafpy", "floor", "WAFMiddleware / floor middleware", None),
    ("empty", "noop", "empty ACL / no-op middleware", None),
    ("wafpy", "noop", "WAFMiddleware / no-op middleware", None),
]


def http_rows(s: Settings) -> None:
    cases = ["GET"] if s.quick else ["GET", "POST 8KB"]
    rng = random.Random(5)
    for http, loop in s.http_stacks:
        rates: dict[tuple[str, str], list[float]] = {}
        cpus: dict[tuple[str, str], list[float]] = {}
        foreign: list[float] = []
        servers: dict[str, test_bench_asgi.Server] = {}
        try:
            for name in test_bench_asgi.FACTORIES:
                servers[name] = test_bench_asgi.Server(name, http, loop)
            for server in servers.values():  # warm-up
                test_bench_asgi.load(server.port, *test_bench_asgi.CASES["GET"], 1)
            for _ in range(s.http_reps):
                for case in cases:
                    order = list(servers)
                    rng.shuffle(order)
                    for name in order:
                        server = servers[name]
                        before = server.cpu_seconds()
                        rate, done = test_bench_asgi.load(
                            server.port, *test_bench_asgi.CASES[case], s.http_seconds
                        )
                        after = server.cpu_seconds()
                        rates.setdefault((name, case), []).append(rate)
                        if before is not None and after is not None and done:
                            cpus.setdefault((name, case), []).append((after - before) / done * 1e6)
                        foreign.append(os.getloadavg()[0])
        finally:
            for server in servers.values():
                server.stop()
        load = statistics.median(foreign) if foreign else float("nan")
        for case in cases:
            for subject, baseline, name, _ in _PAIRS:
                rate_ratio = statistics.median(
                    a / b for a, b in zip(rates[(subject, case)], rates[(baseline, case)], strict=True)
                )
                detail = f"{statistics.median(rates[(subject, case)]):,.0f} req/s"
                if (subject, case) in cpus and (baseline, case) in cpus:
                    cpu_ratio = statistics.median(
                        a / b for a, b in zip(cpus[(subject, case)], cpus[(baseline, case)], strict=True)
                    )
                    detail += (
                        f"; server CPU {statistics.median(cpus[(subject, case)]):.0f} vs "
                        f"{statistics.median(cpus[(baseline, case)]):.0f} µs/request ({cpu_ratio:.2f}×)"
                    )
                s.add(
                    Row(
                        f"middleware, HTTP {http}",
                        f"{name}, {case} (req/s)",
                        rate_ratio,
                        "",
                        None,
                        detail + f"; load average {load:.1f}",
                    )
                )
