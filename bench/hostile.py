"""Worst CPU time per request on hostile inputs, with the bundled demo web ACL.

    python -m bench.hostile                      # every family, both paths, 1 KB / 10 KB / 100 KB
    python -m bench.hostile --via evaluate --family unclosed-a --timeout 10 --json hostile.json

Each family is an input crafted to make a detector, a transformation or a parser do more work per
byte than ordinary traffic: the pattern that made the XSS detector backtrack exponentially,
unclosed ``<a `` tags, runs of ``on...=`` handlers, ``/*``, ``<!--``, quotes, ``%`` escapes,
``&#`` entities, base64-like runs, thousands of query arguments, thousands of headers, deeply
nested JSON, long whitespace runs and more. A family is sent where the request carries text: one
query argument, the URI path, the User-Agent header (the header the demo ACL inspects), a cookie
and a JSON body, each at 1 KB, 10 KB and 100 KB of hostile bytes as sent on the wire.

Two paths are measured, in CPU time of the thread that does the work (`time.thread_time`):
* ``middleware``: `wafpy.WAFMiddleware` around a small Starlette app, driven in process with an
  ASGI scope (no sockets), body buffering and the app's response included;
* ``evaluate``: `Request.from_asgi` and `WebACL.evaluate` alone on the same scope.

Every case runs in a worker subprocess. A case that has not answered within ``--timeout`` seconds
(wall clock) has its worker killed and replaced; the table then shows the CPU time the worker had
used on it (read from /proc, a lower bound) marked ``T/O``, and skips the larger sizes of that row.
A case is run up to three times when it is cheap and once when it is not; the table shows the
worst run, in milliseconds. The benign GET and JSON POST costs of the same run are printed first,
so that every figure can be read as a multiple of ordinary traffic.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import selectors
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_to_bytes

ROOT = Path(__file__).resolve().parents[1]
DEMO_ACL = ROOT / "rulesets" / "demo-webacl.json"
DEMO_RESOURCES = ROOT / "rulesets" / "demo-resources"

SIZES = (1024, 10 * 1024, 100 * 1024)
WHERE = ("query", "path", "header", "cookie", "body")
VIAS = ("middleware", "evaluate")

# A browser's GET to the demo shop: passes every rule of the demo ACL (right Host, a User-Agent,
# Accept-Language) so that hostile text reaches the detectors instead of an early Block.
BASE_HEADERS: tuple[tuple[str, str], ...] = (
    ("host", "shop.example.com"),
    ("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("accept-language", "en-GB,en;q=0.5"),
    ("accept-encoding", "gzip, deflate, br"),
    ("referer", "https://shop.example.com/catalog"),
    ("cookie", "session=4f1c2a9e8b7d6c5b; theme=dark"),
)
BENIGN_GET = "/catalog/shoes?q=red+shoes&page=2&sort=price_asc&utm_source=newsletter"
BENIGN_POST = (
    "/api/cart",
    json.dumps({"items": [{"sku": f"SKU-{i:05d}", "qty": 2, "note": "gift wrap"} for i in range(20)]}),
)


# ----------------------------------------------------------------------------------------------
# Families


@dataclass(frozen=True)
class Family:
    """Hostile text: `head` + `unit` * n + `tail`, n chosen so the bytes as sent reach the size.

    `raw` text goes on the wire as it is (it is already percent-encoded, like `%25%25...`);
    otherwise it is percent-encoded where the location needs it (query, path). `where` limits the
    locations where the family means something (thousands of headers are only headers).
    """

    name: str
    unit: str
    head: str = ""
    tail: str = ""
    raw: bool = False
    where: tuple[str, ...] = WHERE
    note: str = ""


FAMILIES: tuple[Family, ...] = (
    Family("plain-text", "red shoes size 42 ", note="benign words: the linear reference"),
    Family(
        "xss-backtrack",
        "a=/",
        head='onabc= "',
        tail=">",
        note="the reported pattern: a quote, then attribute-like runs, then an on...= handler",
    ),
    Family("unclosed-a", "<a ", note="tags that never close"),
    Family("tag-handlers", "onabc=x ", head="<b ", note="one open tag with many on...= attributes"),
    Family("on-handlers", "onabc=x ", note="on...= attributes outside any tag"),
    Family("quoted-handlers", "\"onabc=x '", note="quote breaks before each handler"),
    Family("unclosed-attr", "x", head='<a href="', note="one attribute value that never ends"),
    Family("angles", "<", note="lone < signs"),
    Family("html-comment", "<!--", note="comments that never close"),
    Family("c-comment", "/*", note="SQL/CSS comments that never close"),
    Family("sql-dash", "-- ", note="SQL line comments"),
    Family("single-quotes", "'", note="empty SQL strings"),
    Family("mixed-quotes", "'\"`", note="every quote kind"),
    Family("backslashes", "\\'", note="escaped quotes"),
    Family("parens", "(", note="open parentheses"),
    Family("sql-words", "select ", note="SQL keywords with nothing to select"),
    Family("pct-25", "%25", raw=True, note="%25: decodes to %, again and again (URL_DECODE twice)"),
    Family("pct-invalid", "%%zz", raw=True, note="broken escapes"),
    Family("pct-tags", "%3Ca%20", raw=True, note="percent-encoded unclosed tags"),
    Family("entities", "&#60;a ", note="numeric character references that decode to <a"),
    Family("entity-open", "&#", note="character references that never end"),
    Family("named-entities", "&lt;a&colon;", note="named references (HTML_ENTITY_DECODE)"),
    Family("base64-run", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk+/", note="one long word"),
    Family("whitespace", " \t\n", note="whitespace runs (squeezed by the detectors)"),
    Family("utf8", "é€😀", note="multi-byte UTF-8"),
    Family("many-args", "a=1&", raw=True, where=("query",), note="thousands of query arguments"),
    Family("empty-args", "&", raw=True, where=("query",), note="thousands of empty arguments"),
    Family("many-headers", "", where=("headers",), note="thousands of small headers"),
    Family("many-cookies", "c=1; ", where=("cookie",), note="thousands of small cookies"),
    Family("deep-json", "[", where=("body",), note="JSON nested to the depth of the size"),
    Family("deep-json-obj", '{"a":', where=("body",), note="JSON objects nested to the depth of the size"),
)
BY_NAME = {f.name: f for f in FAMILIES}
ALL_WHERE = (*WHERE, "headers")


def _encode(text: str, where: str, raw: bool) -> str:
    """The text as it goes on the wire at `where`."""
    if where == "query":
        return text if raw else quote(text, safe="/")
    if where == "path":
        return text if raw else quote(text, safe="/")
    if where in ("header", "cookie"):
        # A header value cannot carry CR, LF or NUL; anything else latin-1 passes.
        out = text.replace("\r", " ").replace("\n", " ").replace("\x00", " ")
        return out.encode("utf-8").decode("latin-1")
    return json.dumps(text, ensure_ascii=False)[1:-1]  # inside a JSON string


def _wire_len(text: str, where: str) -> int:
    return len(text.encode("utf-8" if where == "body" else "latin-1"))


def hostile_text(family: Family, where: str, size: int) -> str:
    """The family's text at `where`, `size` bytes as sent (give or take one unit)."""
    head, tail = _encode(family.head, where, family.raw), _encode(family.tail, where, family.raw)
    unit = _encode(family.unit, where, family.raw) if family.unit else "x"
    n = max(1, (size - _wire_len(head, where) - _wire_len(tail, where)) // _wire_len(unit, where))
    return head + unit * n + tail


@dataclass
class HttpRequest:
    """One request as a client sends it: enough to build an ASGI scope or a raw HTTP/1.1 message."""

    method: str
    target: str  # path and query, as sent
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def wire_size(self) -> int:
        head = f"{self.method} {self.target} HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in self.headers)
        return len(head.encode("latin-1")) + 2 + len(self.body)


def build_request(family: Family, where: str, size: int) -> HttpRequest:
    """The hostile request for (family, where, size)."""
    headers = list(BASE_HEADERS)
    if family.name == "many-headers":
        count = max(1, size // len("x-h00000: v\r\n"))
        headers += [(f"x-h{i:05d}", "v") for i in range(count)]
        return HttpRequest("GET", "/search?q=shoes", headers)
    if where == "body":
        if family.name.startswith("deep-json"):
            closer = "]" if family.unit == "[" else "}"
            depth = max(1, size // (len(family.unit) + len(closer)))
            body = (family.unit * depth + "1" + closer * depth).encode()
        else:
            body = ('{"q": "' + hostile_text(family, where, size) + '", "page": 1}').encode()
        headers += [("content-type", "application/json"), ("content-length", str(len(body)))]
        return HttpRequest("POST", "/api/search", headers, body)
    text = hostile_text(family, where, size)
    if where == "query":
        return HttpRequest("GET", "/search?q=" + text, headers)
    if where == "path":
        return HttpRequest("GET", "/search/" + text, headers)
    if where == "header":
        headers = [(n, v) for n, v in headers if n != "user-agent"]
        headers.append(("user-agent", "Mozilla/5.0 " + text))
        return HttpRequest("GET", "/search?q=shoes", headers)
    if where == "cookie":
        headers = [(n, v) for n, v in headers if n != "cookie"]
        headers.append(("cookie", "session=4f1c2a9e8b7d6c5b; c=" + text))
        return HttpRequest("GET", "/search?q=shoes", headers)
    raise ValueError(f"unknown location {where!r}")


def reference_requests() -> dict[str, HttpRequest]:
    """Benign traffic and the two requests reported from production, measured in every run."""
    path, body = BENIGN_POST
    post = body.encode()
    xss_reported = "/search?q=onabc%3D%20%22" + "a%3D/" * 30 + "%3E"
    return {
        "benign GET": HttpRequest("GET", BENIGN_GET, list(BASE_HEADERS)),
        "benign JSON POST": HttpRequest(
            "POST",
            path,
            [*BASE_HEADERS, ("content-type", "application/json"), ("content-length", str(len(post)))],
            post,
        ),
        f"reported XSS GET ({len(xss_reported)} B target)": HttpRequest(
            "GET", xss_reported, list(BASE_HEADERS)
        ),
        "reported <a GET (15 KB query)": HttpRequest(
            "GET", "/search?q=" + "%3Ca%20" * (15 * 1024 // 7), list(BASE_HEADERS)
        ),
    }


def cases(families: list[Family], wheres: list[str]) -> Iterator[tuple[Family, str]]:
    for family in families:
        for where in family.where:
            if where in wheres or (where == "headers" and "header" in wheres):
                yield family, where


# ----------------------------------------------------------------------------------------------
# The worker: builds the request, runs it through one path, answers with CPU seconds per run


def scope_of(request: HttpRequest) -> dict[str, Any]:
    path, _, query = request.target.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "http",
        "path": unquote_to_bytes(path).decode("utf-8", "replace"),
        "raw_path": path.encode("latin-1"),
        "query_string": query.encode("latin-1"),
        "root_path": "",
        "headers": [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in request.headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


def demo_resources() -> list[str]:
    return sorted(str(p) for p in DEMO_RESOURCES.glob("*.json"))


def small_app() -> Any:
    """The app behind the middleware: answers every path, reads a POST body."""
    from starlette.applications import Starlette
    from starlette.requests import Request as StarletteRequest
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def anything(request: StarletteRequest) -> PlainTextResponse:
        body = await request.body()
        return PlainTextResponse(f"ok {len(body)}")

    return Starlette(routes=[Route("/{rest:path}", anything, methods=["GET", "POST"])])


class Runner:
    """The demo ACL loaded once, and one function per path that runs a request and times it."""

    def __init__(self) -> None:
        import wafpy
        from wafpy import Request, WAFMiddleware

        self.acl = wafpy.load_web_acl(str(DEMO_ACL), resources=demo_resources())
        self.middleware = WAFMiddleware(small_app(), str(DEMO_ACL), resources=demo_resources())
        self.limit = self.acl.body_inspection_limit
        self.request_type = Request
        self.loop = asyncio.new_event_loop()

    def evaluate(self, request: HttpRequest) -> tuple[float, str]:
        scope = scope_of(request)
        start = time.thread_time()
        built = self.request_type.from_asgi(
            scope, request.body[: self.limit], len(request.body), timestamp_ms=time.time_ns() // 1_000_000
        )
        decision = self.acl.evaluate(built)
        return time.thread_time() - start, f"{decision.action} {decision.terminating_rule_id}"

    def through_middleware(self, request: HttpRequest) -> tuple[float, str]:
        scope = scope_of(request)
        sent = {"type": "http.request", "body": request.body, "more_body": False}
        status: list[int] = []
        received = [False]

        async def receive() -> dict[str, Any]:
            if received[0]:
                return {"type": "http.disconnect"}
            received[0] = True
            return sent

        async def send(message: Any) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        start = time.thread_time()
        self.loop.run_until_complete(self.middleware(scope, receive, send))
        return time.thread_time() - start, str(status[0] if status else "no response")

    def run(self, via: str, request: HttpRequest, repeats: int, cheap_s: float) -> tuple[list[float], str]:
        fn: Callable[[HttpRequest], tuple[float, str]] = (
            self.evaluate if via == "evaluate" else self.through_middleware
        )
        runs: list[float] = []
        outcome = ""
        for _ in range(repeats):
            seconds, outcome = fn(request)
            runs.append(seconds)
            if seconds > cheap_s:
                break
        return runs, outcome


def worker_main() -> None:
    """Read one JSON case per line on stdin, answer one JSON line per case on stdout."""
    runner = Runner()
    references = reference_requests()
    for via in VIAS:  # warm-up: regexes compiled, caches filled, before anything is timed
        for name in ("benign GET", "benign JSON POST"):
            runner.run(via, references[name], 20, 1.0)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        case = json.loads(line)
        if "reference" in case:
            request = references[case["reference"]]
        else:
            request = build_request(BY_NAME[case["family"]], case["where"], case["size"])
        runs, outcome = runner.run(case["via"], request, case["repeats"], case["cheap_s"])
        print(json.dumps({"runs": runs, "outcome": outcome, "wire": request.wire_size()}), flush=True)


# ----------------------------------------------------------------------------------------------
# The parent: hands cases to a worker, kills it on a timeout


def _cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    cpu_s: float  # worst run, or CPU used before the timeout
    timed_out: bool = False
    skipped: bool = False
    outcome: str = ""
    wire: int = 0
    runs: list[float] = field(default_factory=list)


class Worker:
    """One worker subprocess; `ask` returns None when the case did not answer in time."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.hostile", "--worker"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert self.process.stdout is not None
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.process.stdout, selectors.EVENT_READ)
        ready = self._read(120.0)
        if ready is None or not ready.get("ready"):
            self.stop()
            raise RuntimeError("the worker did not start")

    def _read(self, timeout: float) -> dict[str, Any] | None:
        assert self.process.stdout is not None
        if not self.selector.select(timeout):
            return None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the worker exited ({self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def ask(self, case: dict[str, Any], timeout: float) -> Result:
        assert self.process.stdin is not None
        before = _cpu_seconds(self.process.pid) or 0.0
        self.process.stdin.write(json.dumps(case) + "\n")
        self.process.stdin.flush()
        answer = self._read(timeout)
        if answer is None:
            used = (_cpu_seconds(self.process.pid) or before) - before
            self.stop()
            return Result(used, timed_out=True)
        runs = answer["runs"]
        return Result(max(runs), outcome=answer["outcome"], wire=answer["wire"], runs=runs)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()  # our own child, by its handle
        self.process.wait()
        self.selector.close()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


class Pool:
    """A worker that is replaced after each timeout."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.worker: Worker | None = None

    def ask(self, case: dict[str, Any]) -> Result:
        if self.worker is None:
            self.worker = Worker()
        result = self.worker.ask(case, self.timeout)
        if result.timed_out:
            self.worker = None
        return result

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None


# ----------------------------------------------------------------------------------------------
# Tables


def fmt_ms(result: Result | None) -> str:
    if result is None:
        return "-"
    if result.skipped:
        return "skip"
    ms = result.cpu_s * 1000
    text = f"{ms:.3g}" if ms < 1000 else f"{ms:.0f}"
    return f">={text} T/O" if result.timed_out else text


def fmt_ratio(top: Result | None, bottom: Result | None) -> str:
    if top is None or bottom is None or top.skipped or bottom.skipped or bottom.timed_out:
        return "-"
    if bottom.cpu_s <= 0:
        return "-"
    ratio = top.cpu_s / bottom.cpu_s
    return f">={ratio:.0f}" if top.timed_out else f"{ratio:.1f}"


def size_label(size: int) -> str:
    return f"{size // 1024} KB" if size % 1024 == 0 else f"{size} B"


def run(args: argparse.Namespace) -> dict[str, Any]:
    families = [BY_NAME[name] for name in args.family] if args.family else list(FAMILIES)
    wheres = args.where or list(WHERE)
    vias = args.via or list(VIAS)
    sizes = sorted(args.size or SIZES)
    pool = Pool(args.timeout)
    report: dict[str, Any] = {"timeout_s": args.timeout, "sizes": sizes, "references": {}, "cases": []}
    try:
        references: dict[tuple[str, str], Result] = {}
        names = [n for n in reference_requests() if args.reported or n.startswith("benign")]
        for via in vias:
            for name in names:
                references[(via, name)] = pool.ask(
                    {"reference": name, "via": via, "repeats": args.reference_repeats, "cheap_s": 0.05}
                )
        table: dict[tuple[str, str, str, int], Result] = {}
        for family, where in cases(families, wheres):
            # evaluate first: when it times out, the middleware (which runs it) is skipped.
            for via in sorted(vias, key=lambda v: v != "evaluate"):
                stop = False
                for size in sizes:
                    key = (family.name, where, via, size)
                    evaluate_timed_out = any(
                        table.get((family.name, where, "evaluate", s), Result(0)).timed_out
                        for s in sizes
                        if s <= size
                    )
                    if stop or (via == "middleware" and evaluate_timed_out):
                        # Larger is not cheaper, and the middleware runs the evaluation: no need to
                        # wait for the same timeout again.
                        table[key] = Result(0.0, skipped=True)
                        continue
                    case = {"family": family.name, "where": where, "size": size, "via": via}
                    table[key] = result = pool.ask({**case, "repeats": args.repeats, "cheap_s": 0.2})
                    stop = result.timed_out
                    report["cases"].append({**case, **_as_dict(result)})
                    if args.progress:
                        print(
                            f"  {family.name:16s} {where:7s} {via:10s} {size_label(size):7s}",
                            fmt_ms(result),
                            file=sys.stderr,
                            flush=True,
                        )
        # The references once more at the end: the machine may have changed during the run.
        for via in vias:
            name = "benign GET"
            again = pool.ask(
                {"reference": name, "via": via, "repeats": args.reference_repeats, "cheap_s": 0.05}
            )
            references[(via, name + " (end)")] = again
    finally:
        pool.close()
    for (via, name), result in references.items():
        report["references"][f"{via}: {name}"] = _as_dict(result)
    print_tables(references, table, families, wheres, vias, sizes, args.timeout)
    return report


def _as_dict(result: Result) -> dict[str, Any]:
    return {
        "cpu_ms": round(result.cpu_s * 1000, 4),
        "timed_out": result.timed_out,
        "skipped": result.skipped,
        "outcome": result.outcome,
        "wire_bytes": result.wire,
        "runs_ms": [round(r * 1000, 4) for r in result.runs],
    }


def print_tables(
    references: dict[tuple[str, str], Result],
    table: dict[tuple[str, str, str, int], Result],
    families: list[Family],
    wheres: list[str],
    vias: list[str],
    sizes: list[int],
    timeout: float,
) -> None:
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs")
    print("\nReferences (CPU per request; benign: median of the runs, reported: worst run)")
    for (via, name), result in references.items():
        value = statistics.median(result.runs) * 1e6 if name.startswith("benign") and result.runs else None
        shown = f"{value:9.1f} µs" if value is not None else f"{fmt_ms(result):>9s} ms"
        print(f"  {via:10s} {name:36s} {shown}   {result.outcome}")
    for via in vias:
        get = references.get((via, "benign GET"))
        get_ms = statistics.median(get.runs) * 1000 if get and get.runs else 0.0
        print(
            f"\n{via}: worst CPU ms per request (T/O: killed after {timeout:g} s wall clock, CPU used so far)"
        )
        top = sizes[-1]
        headings = [size_label(s) for s in sizes]
        ratio_heading = f"{size_label(top)}/{size_label(sizes[-2])}" if len(sizes) > 1 else ""
        print(
            f"  {'family':16s} {'where':7s} "
            + " ".join(f"{h:>12s}" for h in headings)
            + f" {ratio_heading:>12s} {size_label(top) + '/GET':>12s}  outcome at {size_label(top)}"
        )
        for family, where in cases(families, wheres):
            row = [table.get((family.name, where, via, s)) for s in sizes]
            last = row[-1]
            over_get = "-"
            if last is not None and not last.skipped and get_ms > 0:
                over_get = f"{'>=' if last.timed_out else ''}{last.cpu_s * 1000 / get_ms:.0f}"
            ratio = fmt_ratio(row[-1], row[-2]) if len(row) > 1 else ""
            print(
                f"  {family.name:16s} {where:7s} "
                + " ".join(f"{fmt_ms(r):>12s}" for r in row)
                + f" {ratio:>12s} {over_get:>12s}  {last.outcome if last else ''}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--family", action="append", choices=list(BY_NAME), help="only these (repeatable)")
    parser.add_argument("--where", action="append", choices=list(WHERE), help="only these locations")
    parser.add_argument("--via", action="append", choices=list(VIAS), help="only these paths")
    parser.add_argument("--size", action="append", type=int, help="sizes in bytes (default 1, 10, 100 KB)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds of wall clock per case (5)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of a cheap case (3)")
    parser.add_argument("--reference-repeats", type=int, default=300, help="runs of a benign request (300)")
    parser.add_argument(
        "--no-reported",
        dest="reported",
        action="store_false",
        help="skip the two requests reported from production (one of them may run to the timeout)",
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--list", action="store_true", help="list the families and exit")
    parser.add_argument("--progress", action="store_true", help="print each case on stderr as it ends")
    args = parser.parse_args(argv)
    if args.worker:
        worker_main()
        return 0
    if args.list:
        for f in FAMILIES:
            print(f"{f.name:16s} {','.join(f.where):36s} {f.note}")
        return 0
    if args.size and len(args.size) < 2:
        parser.error("give at least two sizes (the ratio column needs them)")
    report = run(args)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
