"""The cost of rate-based rules: 1 and 5 rules, counted in memory and in Redis on loopback, as a
ratio to the same web ACL without rate rules, all in one run.

    pytest bench/test_bench_rates.py --benchmark-enable -s

The ACL is the realistic 20-rule one (`bench.realistic_acl`) without its own rate-based rule, then
with 1 or 5 rate-based rules (IP key, limits never reached) appended. Requests come from 1,000
client addresses in turn, so the counters hold many keys. In process: `WAFMiddleware` driven with
a synthetic scope, variants interleaved round by round, wall-clock time (a Redis round trip is
waiting, not CPU), median per variant. Over HTTP: 2 uvicorn workers behind wrk, with Redis and with
memory (the memory variant counts per worker, which is what Redis fixes). Nothing asserts a timing.
Needs `redis-server` (skipped without it).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bench import realistic_acl
from bench.test_bench_asgi import GET_TARGET, ROOT, SECONDS, _free_port, load, scope_for, small_app
from tests.redis_server import RedisServer, running_redis
from wafpy import WAFMiddleware

CLIENTS = [f"10.{i >> 8}.{i & 255}.7" for i in range(1000)]
BACKEND_ENV = "WAFPY_BENCH_RATE_BACKEND"


def rate_acl(rate_rules: int) -> dict[str, Any]:
    """The realistic ACL without its rate-based rule, plus `rate_rules` IP rate-based rules."""
    acl = realistic_acl.web_acl()
    rules = [r for r in acl["Rules"] if "RateBasedStatement" not in r["Statement"]]
    last = max(r["Priority"] for r in rules)
    for i in range(rate_rules):
        statement = {
            "RateBasedStatement": {
                "Limit": 2_000_000_000,
                "EvaluationWindowSec": 300,
                "AggregateKeyType": "IP",
            }
        }
        rules.append(
            {
                "Name": f"rate-{i}",
                "Priority": last + 1 + i,
                "Statement": statement,
                "Action": {"Block": {}},
                "VisibilityConfig": {
                    "SampledRequestsEnabled": False,
                    "CloudWatchMetricsEnabled": False,
                    "MetricName": f"rate-{i}",
                },
            }
        )
    return {**acl, "Rules": rules}


def make_rated() -> Any:
    """uvicorn factory: 1 rate-based rule, counted where `WAFPY_BENCH_RATE_BACKEND` says."""
    return WAFMiddleware(
        small_app(), rate_acl(1), resources=realistic_acl.resources(), rate_backend=os.environ[BACKEND_ENV]
    )


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    yield from running_redis()


async def _drive(app: Any, scopes: list[dict[str, Any]]) -> float:
    message = {"type": "http.request", "body": b"", "more_body": False}

    async def receive() -> dict[str, Any]:
        return message

    async def send(msg: dict[str, Any]) -> None:
        if msg["type"] == "http.response.start":
            assert msg["status"] == 200, msg

    start = time.perf_counter()
    for scope in scopes:
        await app(scope, receive, send)
    return (time.perf_counter() - start) / len(scopes) * 1e6


def inprocess_table(url: str, rounds: int = 15, n: int = 300) -> dict[str, float]:
    base = scope_for("GET", GET_TARGET, b"")
    scopes = [{**base, "client": (CLIENTS[i % len(CLIENTS)], 50000)} for i in range(n)]
    resources = realistic_acl.resources()
    apps = {
        "no rate rules": WAFMiddleware(small_app(), rate_acl(0), resources=resources),
        "1 rule, memory": WAFMiddleware(
            small_app(), rate_acl(1), resources=resources, rate_backend="memory://"
        ),
        "5 rules, memory": WAFMiddleware(
            small_app(), rate_acl(5), resources=resources, rate_backend="memory://"
        ),
        "1 rule, Redis": WAFMiddleware(small_app(), rate_acl(1), resources=resources, rate_backend=url),
        "5 rules, Redis": WAFMiddleware(small_app(), rate_acl(5), resources=resources, rate_backend=url),
    }
    samples: dict[str, list[float]] = {name: [] for name in apps}
    loop = asyncio.new_event_loop()
    try:
        for app in apps.values():  # warm-up: connections, script loaded, every key seen once
            loop.run_until_complete(_drive(app, scopes))
        for _ in range(rounds):
            for name, app in apps.items():
                samples[name].append(loop.run_until_complete(_drive(app, scopes)))
        for app in apps.values():
            shared = app._shared
            if shared is not None:
                assert shared.counter.errors == 0
                loop.run_until_complete(shared.counter.aclose())
    finally:
        loop.close()
    return {name: statistics.median(values) for name, values in samples.items()}


def test_rate_rule_cost(benchmark: Any, redis_server: RedisServer) -> None:
    table = benchmark.pedantic(inprocess_table, args=(redis_server.url,), rounds=1, iterations=1)
    base = table["no rate rules"]
    lines = ["in-process wall-clock µs/request, GET, 1,000 clients (median of interleaved rounds):"]
    for name, us in table.items():
        lines.append(f"  {name:16s} {us:7.1f} µs  ratio {us / base:.2f}")
        benchmark.extra_info[name] = {"us": round(us, 1), "ratio": round(us / base, 3)}
    print("\n" + "\n".join(lines))


def _workers(url: str, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "uvicorn", "bench.test_bench_rates:make_rated", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "2", "--no-access-log"]
    command += ["--log-level", "warning", "--no-proxy-headers", "--lifespan", "off"]
    env = {**os.environ, BACKEND_ENV: url}
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.terminate()
                process.wait(20)
                raise RuntimeError("uvicorn did not start") from None
            time.sleep(0.2)


@pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is not installed")
def test_two_workers_req_per_s(benchmark: Any, redis_server: RedisServer) -> None:
    def run() -> dict[str, float]:
        out: dict[str, list[float]] = {"memory": [], "Redis": []}
        servers = {"memory": "memory://", "Redis": redis_server.url}
        processes = {}
        ports = {}
        try:
            for name, url in servers.items():
                ports[name] = _free_port()
                processes[name] = _workers(url, ports[name])
            time.sleep(2)  # both workers of each server up
            for name in servers:  # warm-up
                load(ports[name], "GET", GET_TARGET, b"", 1)
            for _ in range(3):
                for name in servers:
                    out[name].append(load(ports[name], "GET", GET_TARGET, b"", SECONDS)[0])
        finally:
            for process in processes.values():
                process.terminate()
                process.wait(20)
        return {name: statistics.median(values) for name, values in out.items()}

    table = benchmark.pedantic(run, rounds=1, iterations=1)
    ratio = table["Redis"] / table["memory"]
    print(
        f"\n2 uvicorn workers, 1 rate-based rule, wrk GET: memory {table['memory']:.0f} req/s, "
        f"Redis {table['Redis']:.0f} req/s, ratio {ratio:.2f}"
    )
    benchmark.extra_info.update({k: round(v) for k, v in table.items()} | {"ratio": round(ratio, 3)})
