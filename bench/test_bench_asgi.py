"""WAFMiddleware throughput, side by side with a no-op middleware and a hand-written floor.

    pytest bench/test_bench_asgi.py --benchmark-enable -s

Variants, all pure ASGI around the same small Starlette app:
  noop   (a) a middleware that only passes the call through;
  floor  (b) buffers the body like wafpy, then runs `bench.floor.hand_written_check`, the realistic
             20-rule ACL written by hand in plain Python;
  wafpy  (c) `WAFMiddleware` with that ACL (`bench.realistic_acl`);
  empty      `WAFMiddleware` with an empty ACL (default Allow, no rules).

Two instruments: in-process (the ASGI callable driven with a synthetic scope, no sockets: the
low-noise one) and HTTP (uvicorn in a subprocess, httptools+uvloop and h11+asyncio, loaded by wrk
on loopback, or by a keep-alive socket client when wrk is missing). Repetitions are interleaved and
every ratio is the median of per-repetition ratios measured in the same run. Over HTTP the server's
CPU time per request (from /proc) is reported next to req/s: it moves much less when a neighbour is
busy. In process, `test_inprocess_interleaved` alternates subject and baseline in CPU time
(`bench.ratios.interleaved_ratio`). Ratios are printed and stored in the benchmark's extra_info;
nothing here asserts a timing.
Settings: WAFPY_BENCH_SECONDS (per HTTP run, default 3), WAFPY_BENCH_REPS (default 3).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bench import realistic_acl
from bench.floor import hand_written_check
from bench.ratios import interleaved_ratio
from tests.builders import web_acl
from wafpy import WAFMiddleware
from wafpy.engine.responses import DEFAULT_BLOCK_BODY
from wafpy.middleware.body import ReplayReceive, read_body
from wafpy.request import Request

ROOT = Path(__file__).resolve().parents[1]
SECONDS = float(os.environ.get("WAFPY_BENCH_SECONDS", "3"))
REPS = int(os.environ.get("WAFPY_BENCH_REPS", "3"))

GET_HEADERS = [(n, v) for n, v in realistic_acl.BROWSER_HEADERS]
GET_TARGET = "/catalog/shoes?q=red+shoes&page=2&sort=price_asc&utm_source=newsletter"
ATTACK_TARGET = "/catalog/shoes?q=1%27%20OR%20%271%27%3D%271&page=2"
POST_BODY = (b'{"items": [' + b",".join([b'{"sku": "SKU-01234", "qty": 2, "note": "gift"}'] * 200))[
    : 8192 - 2
] + b"]}"
POST_TARGET = "/api/cart"


# ----------------------------------------------------------------------------------------------
# The app and the middlewares


async def hello(request: StarletteRequest) -> PlainTextResponse:
    return PlainTextResponse("hello")


async def cart(request: StarletteRequest) -> PlainTextResponse:
    body = await request.body()
    return PlainTextResponse(f"ok {len(body)}")


def small_app() -> Starlette:
    return Starlette(routes=[Route("/catalog/shoes", hello), Route(POST_TARGET, cart, methods=["POST"])])


class NoopMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


_FORBIDDEN = [(b"content-type", b"text/html"), (b"content-length", str(len(DEFAULT_BLOCK_BODY)).encode())]


class FloorMiddleware:
    """The end-to-end floor: the same body buffering, then the hand-written ACL check."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        read = await read_body(receive, 8192)
        request = Request.from_asgi(scope, read.body[:8192], read.size)
        action, _ = hand_written_check(request, time.time_ns() // 1_000_000)
        if action == "BLOCK":
            await send({"type": "http.response.start", "status": 403, "headers": list(_FORBIDDEN)})
            await send({"type": "http.response.body", "body": DEFAULT_BLOCK_BODY})
            return
        await self.app(scope, ReplayReceive(read.messages, receive), send)


def make_noop() -> Any:
    return NoopMiddleware(small_app())


def make_floor() -> Any:
    return FloorMiddleware(small_app())


def make_wafpy() -> Any:
    return WAFMiddleware(small_app(), realistic_acl.web_acl(), resources=realistic_acl.resources())


def make_empty() -> Any:
    acl = web_acl(
        [],
        name="empty",
        id="00000000-0000-0000-0000-000000000000",
        arn=f"{realistic_acl.REGION_ARN}/webacl/empty/00000000-0000-0000-0000-000000000000",
        metric="e",
        sampled=False,
    )
    return WAFMiddleware(small_app(), acl)


FACTORIES: dict[str, Callable[[], Any]] = {
    "noop": make_noop,
    "floor": make_floor,
    "wafpy": make_wafpy,
    "empty": make_empty,
}


# ----------------------------------------------------------------------------------------------
# In-process


def scope_for(method: str, target: str, body: bytes) -> dict[str, Any]:
    path, _, query = target.partition("?")
    headers = [(n.lower().encode(), v.encode()) for n, v in GET_HEADERS]
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("203.0.113.77", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _drive(app: Any, method: str, target: str, body: bytes, n: int) -> float:
    template = scope_for(method, target, body)
    message = {"type": "http.request", "body": body, "more_body": False}
    status = [0]

    async def receive() -> dict[str, Any]:
        return message

    async def send(msg: dict[str, Any]) -> None:
        if msg["type"] == "http.response.start":
            status[0] = msg["status"]

    start = time.perf_counter()
    for _ in range(n):
        scope = dict(template)
        scope["headers"] = list(template["headers"])
        await app(scope, receive, send)
    elapsed = time.perf_counter() - start
    assert status[0] in (200, 403)
    return elapsed / n * 1e6


CASES = {
    "GET": ("GET", GET_TARGET, b""),
    "POST 8KB": ("POST", POST_TARGET, POST_BODY),
    "GET attack": ("GET", ATTACK_TARGET, b""),
}


def inprocess_table(rounds: int = 9, n: int = 400) -> dict[tuple[str, str], float]:
    """Median µs per request for each (variant, case), interleaved round-robin."""
    apps = {name: factory() for name, factory in FACTORIES.items()}
    samples: dict[tuple[str, str], list[float]] = {}
    loop = asyncio.new_event_loop()
    try:
        for case in CASES.values():  # warm-up
            for app in apps.values():
                loop.run_until_complete(_drive(app, *case, 50))
        for _ in range(rounds):
            for case_name, case in CASES.items():
                for name, app in apps.items():
                    samples.setdefault((name, case_name), []).append(
                        loop.run_until_complete(_drive(app, *case, n))
                    )
    finally:
        loop.close()
    return {key: statistics.median(values) for key, values in samples.items()}


def test_inprocess_ratios(benchmark: Any) -> None:
    table = benchmark.pedantic(inprocess_table, rounds=1, iterations=1)
    lines = ["in-process µs/request (median of interleaved rounds):"]
    for case in CASES:
        row = "  ".join(f"{name} {table[(name, case)]:6.1f}" for name in FACTORIES)
        lines.append(f"  {case:10s} {row}")
    ratios = {}
    for case in ("GET", "POST 8KB"):
        noop, floor, waf, empty = (table[(v, case)] for v in ("noop", "floor", "wafpy", "empty"))
        # Throughput ratio = inverse cost ratio (cost per request of the app included).
        ratios[f"{case}: wafpy/floor throughput"] = floor / waf
        ratios[f"{case}: empty/noop throughput"] = noop / empty
        ratios[f"{case}: wafpy added µs over noop"] = waf - noop
        ratios[f"{case}: floor added µs over noop"] = floor - noop
    ratios["blocked/allowed cost (wafpy)"] = table[("wafpy", "GET attack")] / table[("wafpy", "GET")]
    lines += [f"  {k}: {v:.2f}" for k, v in ratios.items()]
    print("\n" + "\n".join(lines))
    benchmark.extra_info.update({k: round(v, 3) for k, v in ratios.items()})


PAIRS = [
    # (subject, subject case, baseline, baseline case)
    ("empty", "GET", "noop", "GET"),
    ("empty", "POST 8KB", "noop", "POST 8KB"),
    ("wafpy", "GET", "floor", "GET"),
    ("wafpy", "POST 8KB", "floor", "POST 8KB"),
    ("wafpy", "GET attack", "wafpy", "GET"),
    ("wafpy", "GET attack", "noop", "GET"),
]


def interleaved_table(batch: int = 100, rounds: int = 21) -> dict[str, tuple[float, float, float]]:
    """(subject µs, baseline µs, cost ratio) per pair, in this process's CPU time, alternating."""
    apps = {name: factory() for name, factory in FACTORIES.items()}
    loop = asyncio.new_event_loop()

    def runner(name: str, case: str) -> Callable[[], float]:
        return lambda: loop.run_until_complete(_drive(apps[name], *CASES[case], batch))

    out = {}
    try:
        for subject, subject_case, baseline, baseline_case in PAIRS:
            ratio = interleaved_ratio(
                runner(subject, subject_case), runner(baseline, baseline_case), rounds=rounds
            )
            key = f"{subject} {subject_case} / {baseline} {baseline_case}"
            out[key] = (ratio.subject_us / batch, ratio.baseline_us / batch, ratio.ratio)
    finally:
        loop.close()
    return out


def test_inprocess_interleaved(benchmark: Any) -> None:
    """The same comparisons in CPU time, alternating subject and baseline (robust to a busy neighbour)."""
    table = benchmark.pedantic(interleaved_table, rounds=1, iterations=1)
    lines = ["in-process, interleaved, CPU µs/request (median of per-round ratios):"]
    for key, (subject, baseline, ratio) in table.items():
        lines.append(
            f"  {key:34s} {subject:7.2f} vs {baseline:7.2f}  added {subject - baseline:+7.2f} µs"
            f"  cost {ratio:.3f}  throughput {1 / ratio:.3f}"
        )
        benchmark.extra_info[key] = {"added_us": round(subject - baseline, 2), "cost_ratio": round(ratio, 3)}
    print("\n" + "\n".join(lines))


# ----------------------------------------------------------------------------------------------
# HTTP


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pin(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") and (os.cpu_count() or 1) >= 2 else []


class Server:
    def __init__(self, variant: str, http: str, loop: str) -> None:
        self.port = _free_port()
        command = [
            *_pin(0),
            sys.executable,
            "-m",
            "uvicorn",
            f"bench.test_bench_asgi:{FACTORIES[variant].__name__}",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--http",
            http,
            "--loop",
            loop,
            "--no-access-log",
            "--log-level",
            "warning",
            "--no-proxy-headers",
            "--lifespan",
            "off",
        ]
        self.process = subprocess.Popen(command, cwd=ROOT)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"uvicorn ({variant}) did not start") from None
                time.sleep(0.05)

    def cpu_seconds(self) -> float | None:
        """User + system CPU time the server process has used so far (Linux /proc), else None."""
        try:
            with open(f"/proc/{self.process.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


WRK_SCRIPT = """
wrk.method = "{method}"
wrk.body = {body}
wrk.headers = {{}}
{headers}
"""


def _wrk(port: int, method: str, target: str, body: bytes, seconds: float) -> tuple[float, int]:
    headers = "\n".join(f'wrk.headers["{n}"] = "{v}"' for n, v in GET_HEADERS if n != "Connection")
    if body:
        headers += '\nwrk.headers["Content-Type"] = "application/json"'
    lua_body = "[[" + body.decode() + "]]" if body else "nil"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.format(method=method, body=lua_body, headers=headers))
    try:
        command = [
            *_pin(1),
            "wrk",
            "-t1",
            "-c32",
            f"-d{max(1, round(seconds))}s",
            "-s",
            script.name,
            f"http://127.0.0.1:{port}{target}",
        ]
        out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    finally:
        os.unlink(script.name)
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    done = re.search(r"(\d+) requests in", out)
    assert found and done, out
    return float(found.group(1)), int(done.group(1))


def _socket_load(port: int, method: str, target: str, body: bytes, seconds: float) -> tuple[float, int]:
    """Fallback load generator: 16 keep-alive connections, pipelining-free, bounded by time."""
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(
        f"{n}: {v}\r\n" for n, v in GET_HEADERS if n != "Connection"
    )
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    raw = head.encode() + b"\r\n" + body

    async def client(deadline: float) -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        done = 0
        while time.monotonic() < deadline:
            writer.write(raw)
            headers = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: (\d+)", headers).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            done += 1
        writer.close()
        return done

    async def main() -> tuple[float, int]:
        start = time.monotonic()
        counts = await asyncio.gather(*(client(start + seconds) for _ in range(16)))
        return sum(counts) / (time.monotonic() - start), sum(counts)

    return asyncio.run(main())


def load(port: int, method: str, target: str, body: bytes, seconds: float) -> tuple[float, int]:
    """(requests per second, requests completed)."""
    if shutil.which("wrk"):
        return _wrk(port, method, target, body, seconds)
    return _socket_load(port, method, target, body, seconds)


HTTP_CASES = {"GET": CASES["GET"], "POST 8KB": CASES["POST 8KB"]}


def _median_ratio(top: list[float], bottom: list[float]) -> float:
    return statistics.median(t / b for t, b in zip(top, bottom, strict=True))


def http_table(http: str, loop: str) -> dict[tuple[str, str], float]:
    """Median req/s and server CPU µs/request per (variant, case), and per-rep ratios, interleaved.

    Server CPU per request (utime + stime of the uvicorn process over the run, divided by the
    requests served) is the steadier measure on a shared machine: a busy neighbour lowers req/s
    much more than it changes the CPU each request costs.
    """
    rates: dict[tuple[str, str], list[float]] = {}
    cpus: dict[tuple[str, str], list[float]] = {}
    servers = {name: Server(name, http, loop) for name in FACTORIES}

    def run(name: str, case_name: str) -> None:
        server = servers[name]
        before = server.cpu_seconds()
        rate, done = load(server.port, *CASES[case_name], SECONDS)
        after = server.cpu_seconds()
        rates.setdefault((name, case_name), []).append(rate)
        if before is not None and after is not None and done:
            cpus.setdefault((name, case_name), []).append((after - before) / done * 1e6)

    try:
        for server in servers.values():  # warm-up
            load(server.port, *HTTP_CASES["GET"], 1)
        for _ in range(REPS):
            for case_name in HTTP_CASES:
                for name in servers:
                    run(name, case_name)
            run("wafpy", "GET attack")
    finally:
        for server in servers.values():
            server.stop()
    table = {key: statistics.median(values) for key, values in rates.items()}
    table |= {("cpu", f"{name} {case}"): statistics.median(values) for (name, case), values in cpus.items()}
    pairs = [("wafpy", "floor"), ("empty", "noop"), ("wafpy", "noop")]
    for case in HTTP_CASES:
        for top, bottom in pairs:
            table[("ratio", f"{case}: {top}/{bottom} req/s")] = _median_ratio(
                rates[(top, case)], rates[(bottom, case)]
            )
    attack, allowed = ("wafpy", "GET attack"), ("wafpy", "GET")
    table[("ratio", "blocked/allowed req/s (wafpy GET)")] = _median_ratio(rates[attack], rates[allowed])
    if len(cpus) == len(rates):
        for case in HTTP_CASES:
            for top, bottom in pairs:
                table[("ratio", f"{case}: {top}/{bottom} server CPU per request")] = _median_ratio(
                    cpus[(top, case)], cpus[(bottom, case)]
                )
        table[("ratio", "blocked/allowed server CPU per request (wafpy GET)")] = _median_ratio(
            cpus[attack], cpus[allowed]
        )
    return table


@pytest.mark.parametrize(
    "stack", [("httptools", "uvloop"), ("h11", "asyncio")], ids=["httptools-uvloop", "h11-asyncio"]
)
def test_http_ratios(benchmark: Any, stack: tuple[str, str]) -> None:
    table = benchmark.pedantic(http_table, args=stack, rounds=1, iterations=1)
    tool = "wrk -t1 -c32" if shutil.which("wrk") else "socket client, 16 connections"
    lines = [f"HTTP {stack[0]}+{stack[1]} ({tool}, {SECONDS:g}s x {REPS} interleaved reps), req/s:"]
    for (variant, case), value in table.items():
        if variant not in ("ratio", "cpu"):
            lines.append(f"  {variant:6s} {case:10s} {value:9.0f}")
    lines.append("server CPU µs/request:")
    for (variant, case), value in table.items():
        if variant == "cpu":
            lines.append(f"  {case:17s} {value:9.1f}")
    lines.append("ratios (medians of per-rep ratios):")
    for (variant, case), value in table.items():
        if variant == "ratio":
            lines.append(f"  {case}: {value:.2f}")
            benchmark.extra_info[case] = round(value, 3)
    print("\n" + "\n".join(lines))
