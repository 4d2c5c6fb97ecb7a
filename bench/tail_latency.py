"""Tail latency of real uvicorn under mixed traffic, with and without `WAFMiddleware` (demo ACL).

    python -m bench.tail_latency                         # h11 and httptools, 10 s each, 5 % hostile
    python -m bench.tail_latency --http h11 --hostile-share 0 --trace   # no hostile requests, traced

For each HTTP implementation (``--http h11`` and ``--http httptools``) uvicorn serves a small
Starlette app, bare and behind `WAFMiddleware` with the bundled demo web ACL, on a free port of
127.0.0.1, one worker, ``--no-proxy-headers``, pinned to one core when the machine has two. `wrk`
(``--latency``, pinned to the other core) sends a fixed, shuffled mix through keep-alive
connections:
* benign GETs (catalog pages with a browser's headers);
* benign JSON POSTs (about 1 KB);
* attacks: SQL injection and cross-site scripting in a query argument (blocked);
* hostile requests (``--hostile-share``, 5 % by default): a 10 KB query argument of each family
  of `bench.hostile` in turn (``--hostile-families``; the exponential ``xss-backtrack`` is left
  out by default because, where it is not fixed, one such request holds the server for minutes).

The table gives requests per second, the latency percentiles and the maximum, the server's CPU time
per request, and the ratios to the bare app of the same HTTP implementation in the same run. Every
run is bounded (``--seconds``) and loopback only; each server is stopped by its process id.

``--trace`` adds probes inside the server: for every request, the time from the server's call to
the response (total), the time the web ACL's `evaluate` ran (the event loop cannot run anything
else meanwhile), and the delay of a 5 ms timer that measures how long the event loop was held.
It then prints, per kind of request, where the time went, and the slowest requests.
"""

from __future__ import annotations

import argparse
import contextvars
import json
import math
import os
import random
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

from bench.hostile import (
    BASE_HEADERS,
    BY_NAME,
    DEMO_ACL,
    HttpRequest,
    build_request,
    demo_resources,
    small_app,
)

ROOT = Path(__file__).resolve().parents[1]
TRACE_ENV = "WAFPY_TAIL_TRACE"
KIND_HEADER = "x-bench-kind"

DEFAULT_HOSTILE = (
    "unclosed-a",
    "tag-handlers",
    "quoted-handlers",
    "on-handlers",
    "html-comment",
    "c-comment",
    "mixed-quotes",
    "pct-tags",
    "entities",
    "many-args",
    "whitespace",
    "base64-run",
)


# ----------------------------------------------------------------------------------------------
# The apps uvicorn serves (``--factory``)


def bare_app() -> Any:
    return _traced(small_app(), None)


def waf_app() -> Any:
    import wafpy

    acl = wafpy.load_web_acl(str(DEMO_ACL), resources=demo_resources())
    return _traced(wafpy.WAFMiddleware(small_app(), acl), acl)


class _Trace:
    """Per-request records and event-loop stalls, as JSON lines.

    uvicorn re-raises SIGTERM after its shutdown, so nothing runs at exit: the loop monitor
    flushes the file every 0.2 s instead (the server is idle for longer than that after wrk ends).
    """

    def __init__(self, path: str) -> None:
        self.out = open(path, "w")  # noqa: SIM115 - open for the life of the server
        self.monitor: Any = None

    def record(self, item: dict[str, Any]) -> None:
        self.out.write(json.dumps(item) + "\n")

    def start_monitor(self) -> None:
        import asyncio

        async def watch() -> None:
            period = 0.005
            last_flush = time.perf_counter()
            while True:
                before = time.perf_counter()
                await asyncio.sleep(period)
                now = time.perf_counter()
                late = now - before - period
                if late > 0.01:
                    self.record({"stall_at": before, "stall_ms": late * 1000})
                if now - last_flush > 0.2:
                    self.out.flush()
                    last_flush = now

        self.monitor = asyncio.get_running_loop().create_task(watch())


def _traced(app: Any, acl: Any) -> Any:
    """`app` unchanged, or, when the trace variable is set, wrapped in timing probes."""
    path = os.environ.get(TRACE_ENV)
    if not path:
        return app
    trace = _Trace(path)
    # The request's own slot: the middleware calls evaluate in the task that runs the probe.
    slot: contextvars.ContextVar[list[float]] = contextvars.ContextVar("evaluate_seconds")
    if acl is not None:
        evaluate = acl.evaluate

        def timed_evaluate(request: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return evaluate(request, **kwargs)
            finally:
                slot.get([]).append(time.perf_counter() - start)

        acl.evaluate = timed_evaluate  # this instance only: the time each call holds the loop

    async def probe(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        if trace.monitor is None:
            trace.start_monitor()
        kind = "?"
        for name, value in scope.get("headers") or ():
            if name == KIND_HEADER.encode():
                kind = value.decode("latin-1")
                break
        start = time.perf_counter()
        status = [0]
        evaluated: list[float] = []
        slot.set(evaluated)

        async def send_probe(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        await app(scope, receive, send_probe)
        trace.record(
            {
                "kind": kind,
                "start": start,
                "total_ms": (time.perf_counter() - start) * 1000,
                "eval_ms": sum(evaluated) * 1000,
                "status": status[0],
                "target": len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b""),
            }
        )

    return probe


# ----------------------------------------------------------------------------------------------
# The mix


def _lua_string(data: bytes) -> str:
    level = 0
    while b"]" + b"=" * level + b"]" in data:
        level += 1
    eq = "=" * level
    # A long bracket drops a first newline; none of these strings starts with one.
    return f"[{eq}[" + data.decode("latin-1") + f"]{eq}]"


def mix(hostile_share: float, families: list[str], hostile_where: list[str], seed: int) -> list[HttpRequest]:
    """One cycle of at least 200 requests, shuffled; wrk sends it over and over."""
    rng = random.Random(seed)
    pairs = [(f, w) for f in families for w in hostile_where if w in BY_NAME[f].where]
    browser = list(BASE_HEADERS)
    gets = [
        "/catalog/shoes?q=red+shoes&page=2&sort=price_asc&utm_source=newsletter",
        "/catalog/bags?page=1",
        "/product/SKU-01234?color=blue&size=42",
        "/search?q=running+shoes+women&sort=relevance",
        "/",
    ]
    attacks = [
        "/search?q=1%27%20OR%20%271%27%3D%271",
        "/product/1?id=1%20UNION%20SELECT%20username,password%20FROM%20users--",
        "/search?q=%3Cscript%3Ealert(1)%3C/script%3E",
        "/search?q=%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
    ]
    # Long enough for every hostile (family, location) pair to come once per cycle.
    total = max(200, math.ceil(len(pairs) * 100 / hostile_share)) if hostile_share > 0 else 200
    n_hostile = round(total * hostile_share / 100)
    n_attack = round(total * 0.15)
    n_post = round(total * 0.20)
    n_get = total - n_hostile - n_attack - n_post
    out: list[HttpRequest] = []
    for i in range(n_get):
        out.append(HttpRequest("GET", gets[i % len(gets)], [*browser, (KIND_HEADER, "get")]))
    for i in range(n_post):
        body = json.dumps(
            {
                "items": [
                    {"sku": f"SKU-{i:03d}{k:02d}", "qty": k % 3 + 1, "note": "gift wrap"} for k in range(20)
                ]
            }
        ).encode()
        headers = [*browser, ("content-type", "application/json"), (KIND_HEADER, "post")]
        out.append(HttpRequest("POST", "/api/cart", headers, body))
    for i in range(n_attack):
        out.append(HttpRequest("GET", attacks[i % len(attacks)], [*browser, (KIND_HEADER, "attack")]))
    for i in range(n_hostile if pairs else 0):
        family, where = pairs[i % len(pairs)]
        request = build_request(BY_NAME[family], where, 10 * 1024)
        request.headers = [
            *[(n, v) for n, v in request.headers if n != "content-length"],
            (KIND_HEADER, f"hostile:{family}:{where}"),
        ]
        out.append(request)
    rng.shuffle(out)
    return out


LUA = """-- generated by bench/tail_latency.py
local requests = {}
local counter = 0
codes = {}

function init(args)
%(init)s
end

function request()
  counter = counter + 1
  return requests[(counter - 1) %% #requests + 1]
end

function response(status, headers, body)
  local key = tostring(status)
  codes[key] = (codes[key] or 0) + 1
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests %%d\\n", summary.requests))
  io.write(string.format("RESULT duration_us %%d\\n", summary.duration))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("RESULT p%%s_us %%d\\n", tostring(p), latency:percentile(p)))
  end
  io.write(string.format("RESULT max_us %%d\\n", latency.max))
  io.write(string.format("RESULT mean_us %%d\\n", latency.mean))
  local e = summary.errors
  io.write(string.format("RESULT errors connect=%%d read=%%d write=%%d timeout=%%d\\n",
    e.connect, e.read, e.write, e.timeout))
  for _, t in ipairs(threads) do
    local c = t:get("codes")
    for k, v in pairs(c) do io.write(string.format("RESULT status %%s %%d\\n", k, v)) end
  end
end
"""


def _title(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def lua_script(requests: list[HttpRequest]) -> str:
    lines = []
    for request in requests:
        # wrk.format adds Host (unless "Host" is given, in that case) and Content-Length itself.
        headers = (
            "{"
            + ", ".join(
                f"[ {_lua_string(_title(n).encode())} ] = {_lua_string(v.encode('latin-1'))}"
                for n, v in request.headers
            )
            + "}"
        )
        body = _lua_string(request.body) if request.body else "nil"
        target = _lua_string(request.target.encode("latin-1"))
        lines.append(
            f"  table.insert(requests, wrk.format({_lua_string(request.method.encode())}, "
            f"{target}, {headers}, {body}))"
        )
    return LUA % {"init": "\n".join(lines)}


# ----------------------------------------------------------------------------------------------
# Server and load


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pin(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") and (os.cpu_count() or 1) >= 2 else []


class Server:
    """uvicorn in a subprocess on 127.0.0.1; stopped by its process id."""

    def __init__(self, factory: str, http: str, loop: str, trace: Path | None) -> None:
        self.port = _free_port()
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        if trace is not None:
            env[TRACE_ENV] = str(trace)
        else:
            env.pop(TRACE_ENV, None)
        command = [
            *_pin(0), sys.executable, "-m", "uvicorn", f"bench.tail_latency:{factory}", "--factory",
            "--host", "127.0.0.1", "--port", str(self.port), "--http", http, "--loop", loop,
            "--workers", "1", "--no-proxy-headers", "--no-access-log", "--log-level", "warning",
            "--lifespan", "off",
        ]  # fmt: skip
        self.process = subprocess.Popen(command, cwd=ROOT, env=env)
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"uvicorn ({factory}, {http}) did not start") from None
                time.sleep(0.05)

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM to our own child: uvicorn shuts down, atexit runs
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def run_wrk(port: int, script: str, seconds: float, connections: int, timeout_s: float) -> dict[str, Any]:
    command = [
        *_pin(1), "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout_s:g}s", "--latency", "-s", script, f"http://127.0.0.1:{port}/",
    ]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, timeout=seconds + timeout_s + 60)
    out = proc.stdout
    result: dict[str, Any] = {"status": {}}
    for line in out.splitlines():
        if not line.startswith("RESULT "):
            continue
        parts = line.split()
        if parts[1] == "status":
            result["status"][parts[2]] = int(parts[3])
        elif parts[1] == "errors":
            result["errors"] = dict(item.split("=") for item in parts[2:])
            result["errors"] = {k: int(v) for k, v in result["errors"].items()}
        else:
            result[parts[1]] = float(parts[2])
    if "requests" not in result:
        raise RuntimeError("wrk printed no result:\n" + out + proc.stderr)
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def measure(
    factory: str, http: str, args: argparse.Namespace, script: str, trace: Path | None
) -> dict[str, Any]:
    server = Server(factory, http, args.loop, trace)
    try:
        if args.warmup > 0:
            run_wrk(server.port, script, args.warmup, args.connections, args.wrk_timeout)
        cpu_before = server.cpu_seconds()
        result = run_wrk(server.port, script, args.seconds, args.connections, args.wrk_timeout)
        result["cpu_ms_per_request"] = (server.cpu_seconds() - cpu_before) * 1000 / max(1, result["requests"])
    finally:
        server.stop()
    return result


# ----------------------------------------------------------------------------------------------
# Trace report


def _pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def trace_report(path: Path, label: str) -> list[str]:
    records: list[dict[str, Any]] = []
    stalls: list[dict[str, Any]] = []
    for line in path.read_text().splitlines():
        item = json.loads(line)
        (stalls if "stall_ms" in item else records).append(item)
    lines = [f"trace {label}: {len(records)} requests (warm-up included)"]
    kinds: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        kind = r["kind"] if not r["kind"].startswith("hostile") else "hostile (all)"
        kinds.setdefault(kind, []).append(r)
    lines.append(
        f"  {'kind':16s} {'n':>6s} {'p50 ms':>9s} {'p99 ms':>9s} {'max ms':>9s} "
        f"{'eval p50':>9s} {'eval p99':>9s} {'eval max':>9s}"
    )
    for kind, rs in sorted(kinds.items()):
        total = [r["total_ms"] for r in rs]
        ev = [r["eval_ms"] for r in rs]
        lines.append(
            f"  {kind:16s} {len(rs):6d} {_pct(total, 50):9.2f} {_pct(total, 99):9.2f} {max(total):9.1f} "
            f"{_pct(ev, 50):9.2f} {_pct(ev, 99):9.2f} {max(ev):9.1f}"
        )
    hostile: dict[str, list[float]] = {}
    for r in records:
        if r["kind"].startswith("hostile"):
            hostile.setdefault(r["kind"].split(":", 1)[1], []).append(r["eval_ms"])
    if hostile:
        lines.append("  hostile evaluate, ms (median / max) per family:")
        lines.append(
            "    "
            + ", ".join(f"{k} {statistics.median(v):.0f}/{max(v):.0f}" for k, v in sorted(hostile.items()))
        )
    if records:
        span = max(r["start"] + r["total_ms"] / 1000 for r in records) - min(r["start"] for r in records)
        held = sum(s["stall_ms"] for s in stalls) / 1000
        eval_sum = sum(r["eval_ms"] for r in records) / 1000
        hostile_sum = sum(r["eval_ms"] for r in records if r["kind"].startswith("hostile")) / 1000
        lines.append(
            f"  event loop: a 5 ms timer fired > 10 ms late {len(stalls)} times, at worst"
            f" {max((s['stall_ms'] for s in stalls), default=0):.0f} ms late ({held:.1f} s late in all, over"
            f" {span:.1f} s); evaluate held the loop {eval_sum:.1f} s,"
            f" {hostile_sum:.1f} s of it on hostile requests"
        )
        slow = sorted(records, key=lambda r: -r["total_ms"])[:8]
        lines.append(
            "  slowest: "
            + "; ".join(f"{r['kind']} {r['total_ms']:.0f} ms (eval {r['eval_ms']:.0f})" for r in slow)
        )
    return lines


# ----------------------------------------------------------------------------------------------
# Main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--http", action="append", choices=["h11", "httptools"], help="default: both")
    parser.add_argument(
        "--loop", default="auto", choices=["auto", "asyncio", "uvloop"], help="uvicorn --loop"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measured run per configuration (10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured run first (2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk -c (16)")
    parser.add_argument(
        "--wrk-timeout", type=float, default=30.0, help="wrk --timeout: slower is an error (30)"
    )
    parser.add_argument("--reps", type=int, default=1, help="repetitions, interleaved (1)")
    parser.add_argument("--hostile-share", type=float, default=5.0, help="percent of hostile requests (5)")
    parser.add_argument(
        "--hostile-families", default=",".join(DEFAULT_HOSTILE),
        help="comma-separated bench.hostile families, or 'all'",
    )  # fmt: skip
    parser.add_argument(
        "--hostile-where", default="query", help="comma-separated: query, path, header, cookie, body"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--trace", action="store_true", help="probe the server and print where the time went")
    parser.add_argument("--only", choices=["bare", "waf"], help="run one app only")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        parser.error("wrk is needed (apt-get install wrk)")
    families = (
        [f.name for f in BY_NAME.values()]
        if args.hostile_families == "all"
        else args.hostile_families.split(",")
    )
    for name in families:
        if name not in BY_NAME:
            parser.error(f"unknown family {name!r}")
    https = args.http or ["h11", "httptools"]
    apps = {"bare": "bare_app", "waf": "waf_app"}
    if args.only:
        apps = {args.only: apps[args.only]}
    requests = mix(args.hostile_share, families, args.hostile_where.split(","), args.seed)
    kinds: dict[str, int] = {}
    for r in requests:
        kind = dict(r.headers).get(KIND_HEADER, "?").split(":")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    print(
        f"mix of {len(requests)}: "
        + ", ".join(f"{k} {v}" for k, v in kinds.items())
        + f"; hostile families: {', '.join(families) if args.hostile_share else '-'}"
    )
    print(
        f"uvicorn --loop {args.loop}, wrk -t1 -c{args.connections} -d{args.seconds:g}s; "
        f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "mix.lua"
        script.write_text(lua_script(requests), encoding="latin-1")
        trace_lines: list[str] = []
        for rep in range(args.reps):
            for http in https:
                for app, factory in apps.items():
                    trace = Path(tmp) / f"trace-{http}-{app}-{rep}.jsonl" if args.trace else None
                    result = measure(factory, http, args, str(script), trace)
                    results.setdefault((http, app), []).append(result)
                    print(
                        f"  {http:9s} {app:4s} rep {rep}: {result['rps']:8.0f} req/s,"
                        f" p99 {result['p99_us'] / 1000:8.1f} ms,"
                        f" max {result['max_us'] / 1000:8.1f} ms",
                        file=sys.stderr,
                        flush=True,
                    )
                    if trace is not None and trace.exists():
                        trace_lines += trace_report(trace, f"{http} {app} rep {rep}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print_table(results, https, list(apps))
    if trace_lines:
        print()
        print("\n".join(trace_lines))
    if args.json:
        args.json.write_text(json.dumps({f"{h} {a}": v for (h, a), v in results.items()}, indent=1))
    return 0


def _median(results: list[dict[str, Any]], key: str | Callable[[dict[str, Any]], float]) -> float:
    get = key if callable(key) else (lambda r: float(r[key]))
    return statistics.median(get(r) for r in results)


def print_table(
    results: dict[tuple[str, str], list[dict[str, Any]]], https: list[str], apps: list[str]
) -> None:
    print(
        "\n(median over repetitions; latency in ms; ratios: waf / bare, same HTTP implementation, same run)"
    )
    print(
        f"  {'config':16s} {'req/s':>8s} {'p50':>8s} {'p90':>8s} {'p99':>8s} {'p99.9':>8s} {'max':>8s} "
        f"{'CPU ms/req':>10s}  statuses / errors"
    )
    for http in https:
        for app in apps:
            rs = results.get((http, app))
            if not rs:
                continue
            statuses: dict[str, int] = {}
            for r in rs:
                for k, v in r["status"].items():
                    statuses[k] = statuses.get(k, 0) + v
            errors = {
                k: sum(r.get("errors", {}).get(k, 0) for r in rs)
                for k in ("read", "write", "timeout", "connect")
            }
            err = " ".join(f"{k}={v}" for k, v in errors.items() if v)
            print(
                f"  {http + ' ' + app:16s} {_median(rs, 'rps'):8.0f} "
                + " ".join(
                    f"{_median(rs, k) / 1000:8.1f}"
                    for k in ("p50_us", "p90_us", "p99_us", "p99.9_us", "max_us")
                )
                + f" {_median(rs, 'cpu_ms_per_request'):10.2f}  "
                + " ".join(f"{k}:{v}" for k, v in sorted(statuses.items()))
                + (f"  {err}" if err else "")
            )
        bare, waf = results.get((http, "bare")), results.get((http, "waf"))
        if bare and waf:
            ratios = [
                _median(waf, "rps") / _median(bare, "rps"),
                *(
                    _median(waf, k) / max(1.0, _median(bare, k))
                    for k in ("p50_us", "p90_us", "p99_us", "p99.9_us", "max_us")
                ),
                _median(waf, "cpu_ms_per_request") / max(1e-9, _median(bare, "cpu_ms_per_request")),
            ]
            print(
                f"  {http + ' waf/bare':16s} "
                + " ".join(f"{x:7.2f}x" for x in ratios[:6])
                + f" {ratios[6]:9.2f}x"
            )


if __name__ == "__main__":
    sys.exit(main())
