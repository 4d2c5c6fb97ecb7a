"""Replay logged requests through a web ACL: read, parse, evaluate, in input order, in bounded memory.

The main process only reads: it expands the inputs (files, folders, `-` for stdin; gzip or plain),
decides each file's format from its first record line, and cuts the record lines into chunks of
`chunk_lines`. Parsing a line into a `LogEntry`, building the `Request`, evaluating it and writing
its AWS WAF log record happen in `Evaluator.run(chunk)` -- in this process, or with `workers > 1`
in a pool of worker processes. Results always come back in input order (chunks are collected
first-in first-out), so `--workers 2` writes byte-for-byte what `--workers 1` writes.

Memory is bounded whatever the input size: at most `2 * workers + 2` chunks are in flight
(`Pool.imap` would read the whole input ahead), and each result is consumed and dropped by the
caller (`Summary` keeps bounded counters).

Rate-based rules and workers: a rate-based rule counts requests per key over time, so every
request of one key must be evaluated by one counter, in time order. Partitioning the stream by key
is not possible in general: the key can be a custom combination of headers, cookies, query
arguments, labels added by earlier rules or a forwarded IP, known only after evaluating the rules
before it. Partitioning by client IP would be exact only for IP-keyed rules and would still give
up the output order. So when the web ACL holds any rate-based statement (rule groups included),
the replay evaluates in one ordered process and `workers_used` is 1; the caller warns that
`--workers` was ignored.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from wafpy.errors import LogFormatError, WafpyError
from wafpy.logs import parse_alb_line, parse_json_line, parse_jsonl_line
from wafpy.logs.alblog import is_alb_line, join_wrapped
from wafpy.logs.records import LogEntry, LoggedOutcome
from wafpy.logs.sources import iter_sources
from wafpy.replay.coverage import acl_parts, has_rate_based, missing_statements
from wafpy.request import Request
from wafpy.webacl import WebACL

__all__ = [
    "BadLine",
    "Evaluator",
    "Outcome",
    "Replay",
    "ReplayError",
    "ReplayOptions",
    "StrictStop",
    "read_chunks",
]


class BadLine(NamedTuple):
    """A line that could not be replayed (not JSON, wrong ALB field count, broken gzip, ...)."""

    message: str
    file: str | None
    line: int | None

    def describe(self) -> str:
        where = self.file or "<input>"
        return f"{where}:{self.line}: {self.message}" if self.line is not None else f"{where}: {self.message}"


class Outcome(NamedTuple):
    """What one replayed request became: the fields the summary, the comparison and the output need.

    A small tuple rather than the `Decision`, so worker processes send back little.
    """

    source: str
    line: int
    timestamp_ms: int | None
    kind: str
    method: str
    uri: str
    client_ip: str
    action: str
    rule_id: str
    rule_type: str
    labels: tuple[str, ...]
    counted: tuple[str, ...]  # web-ACL-level rules that matched without terminating (Count, ...)
    not_evaluable: tuple[str, ...]
    logged: LoggedOutcome | None
    record: bytes | None  # the AWS WAF log record (JSON, no newline) when records are written


class ReplayError(WafpyError):
    """Evaluating a request failed: a bug in wafpy, reported with the line that triggered it."""


class StrictStop(WafpyError):
    """`strict` mode met a bad line."""

    def __init__(self, bad: BadLine) -> None:
        self.bad = bad
        super().__init__(bad.describe())


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    format: str = "auto"  # auto | waf | alb | jsonl
    since: int | None = None  # epoch ms, inclusive
    until: int | None = None  # epoch ms, exclusive
    limit: int | None = None  # stop after this many replayed requests
    strict: bool = False  # the first bad line stops the replay (StrictStop)
    workers: int = 1
    write_records: bool = False  # fill Outcome.record
    chunk_lines: int = 500


# A record line on its way to a parser: (parser key, file, 1-based line, bytes).
Item = tuple[str, str, int, bytes]
Chunk = list[Item | BadLine]


def _forced_waf(raw: bytes, source: str, line: int) -> LogEntry:
    entry = parse_json_line(raw, source, line)
    if entry.kind != "waf":
        raise LogFormatError("not an AWS WAF log record (no httpRequest)", file=source, line=line)
    return entry


_PARSERS: dict[str, Callable[[bytes, str, int], LogEntry]] = {
    "json": parse_json_line,
    "waf": _forced_waf,
    "alb": parse_alb_line,
    "jsonl": parse_jsonl_line,
}


def _detect(raw: bytes) -> str | None:
    start = raw.lstrip()[:1]
    if start in (b"{", b"["):
        return "json"
    return "alb" if is_alb_line(raw) else None


def read_chunks(paths: Sequence[str], fmt: str = "auto", chunk_lines: int = 500) -> Iterator[Chunk]:
    """The record lines of `paths` in order, in chunks; read errors become `BadLine`s in place."""
    if fmt != "auto" and fmt not in _PARSERS:
        raise ValueError(f"format must be auto, waf, alb or jsonl, got {fmt!r}")
    chunk: Chunk = []

    def report(error: LogFormatError) -> None:
        chunk.append(BadLine(error.message, error.file, error.line))

    for source, file_lines in iter_sources(paths, report):
        lines: Iterator[tuple[int, bytes]] = file_lines
        key = None if fmt == "auto" else fmt
        if key is None:
            for number, raw in lines:
                key = _detect(raw)
                if key is not None:
                    chunk.append((key, source, number, raw))
                    break
                chunk.append(
                    BadLine("not an AWS WAF log record, ALB log entry or request line", source, number)
                )
            else:
                continue
        if key == "alb":
            lines = join_wrapped(lines)
        for number, raw in lines:
            chunk.append((key, source, number, raw))
            if len(chunk) >= chunk_lines:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


class Evaluator:
    """Parses and evaluates chunks against one web ACL (one per process)."""

    def __init__(self, acl: WebACL, options: ReplayOptions) -> None:
        self.acl = acl
        self.since = options.since
        self.until = options.until
        self.write_records = options.write_records
        self._parts = acl_parts(acl.model)
        self._missing: dict[frozenset[str], tuple[str, ...]] = {}

    def run(self, chunk: Chunk) -> tuple[list[Outcome | BadLine], int]:
        """Results of a chunk in order, and how many entries `since` / `until` left out."""
        out: list[Outcome | BadLine] = []
        filtered = 0
        since, until = self.since, self.until
        for item in chunk:
            if isinstance(item, BadLine):
                out.append(item)
                continue
            key, source, number, raw = item
            try:
                entry = _PARSERS[key](raw, source, number)
            except LogFormatError as exc:
                out.append(BadLine(exc.message, exc.file, exc.line))
                continue
            ts = entry.timestamp_ms
            if (since is not None and (ts is None or ts < since)) or (
                until is not None and (ts is None or ts >= until)
            ):
                filtered += 1
                continue
            out.append(self.evaluate(entry))
        return out, filtered

    def evaluate(self, entry: LogEntry) -> Outcome | BadLine:
        http = entry.http_request
        try:
            request = Request.from_log(http, entry.timestamp_ms, body_available=entry.body_available)
        except ValueError as exc:
            return BadLine(str(exc), entry.source, entry.line)
        try:
            decision = self.acl.evaluate(request)
        except Exception as exc:  # a bug: stop with the line that shows it rather than skip silently
            raise ReplayError(f"{entry.source}:{entry.line}: evaluating the request failed: {exc!r}") from exc
        missing = self._missing.get(entry.available)
        if missing is None:
            missing = self._missing[entry.available] = missing_statements(self._parts, entry.available)
        not_evaluable = decision.not_evaluable + missing if missing else decision.not_evaluable
        record = None
        if self.write_records:
            source_name, source_id = "ALB", "-"
            if entry.record is not None:  # keep where AWS said the request came from
                source_name = _text(entry.record.get("httpSourceName"), source_name)
                source_id = _text(entry.record.get("httpSourceId"), source_id)
            record = orjson.dumps(
                decision.to_log_record(
                    http_source_name=source_name, http_source_id=source_id, timestamp_ms=entry.timestamp_ms
                )
            )
        return Outcome(
            entry.source,
            entry.line,
            entry.timestamp_ms,
            entry.kind,
            _text(http.get("httpMethod"), ""),
            _text(http.get("uri"), ""),
            _text(http.get("clientIp"), ""),
            decision.action,
            decision.terminating_rule_id,
            decision.terminating_rule_type,
            decision.labels,
            decision.non_terminating_matching_rules,
            not_evaluable,
            entry.logged,
            record,
        )


def _text(value: Any, default: str) -> str:
    return value if isinstance(value, str) else default


# Worker-process state: set by the initializer (spawn) or inherited from the parent (fork).
_WORKER: Evaluator | None = None


def _init_worker(loader: Callable[[], WebACL], options: ReplayOptions) -> None:
    global _WORKER
    if _WORKER is None:
        _WORKER = Evaluator(loader(), options)


def _work(chunk: Chunk) -> tuple[list[Any], int]:
    assert _WORKER is not None, "worker not initialised"
    results, filtered = _WORKER.run(chunk)
    items: list[Any] = list(results)
    # Pickling a slotted dataclass goes through Python-level __getstate__/__setstate__, which cost
    # more than the rest of the outcome: ship the logged outcome as a plain tuple instead.
    for i, item in enumerate(items):
        if type(item) is Outcome and item.logged is not None:
            items[i] = (*item[:-2], _logged_fields(item.logged), item.record)
    return items, filtered


def _logged_fields(logged: LoggedOutcome) -> tuple[Any, ...]:
    return (
        logged.action,
        logged.terminating_rule_id,
        logged.terminating_rule_type,
        logged.labels,
        logged.non_terminating_rule_ids,
        logged.status_code,
        logged.excluded,
        logged.note,
    )


def _from_worker(items: list[Any]) -> list[Outcome | BadLine]:
    for i, item in enumerate(items):
        if type(item) is tuple:
            items[i] = Outcome._make((*item[:-2], LoggedOutcome(*item[-2]), item[-1]))
    return items


class Replay:
    """Iterate over the results of replaying `paths` through `acl`, in input order.

    `loader` rebuilds the web ACL in a worker process when the platform cannot fork; it must be
    picklable (e.g. `functools.partial(load_web_acl, path, resources=...)`). After iteration,
    `filtered` counts entries left out by `since` / `until`. With `strict`, the first bad line
    raises `StrictStop`; `limit` stops after that many replayed requests.
    """

    def __init__(
        self,
        acl: WebACL,
        paths: Sequence[str],
        options: ReplayOptions,
        *,
        loader: Callable[[], WebACL] | None = None,
    ) -> None:
        self.acl = acl
        self.paths = list(paths)
        self.options = options
        self.loader = loader
        self.filtered = 0
        self.rate_based = has_rate_based(acl.model)
        self.workers_used = 1 if self.rate_based else max(1, options.workers)

    def __iter__(self) -> Iterator[Outcome | BadLine]:
        chunks = read_chunks(self.paths, self.options.format, self.options.chunk_lines)
        results = self._serial(chunks) if self.workers_used == 1 else self._parallel(chunks)
        limit, strict = self.options.limit, self.options.strict
        replayed = 0
        if limit is not None and limit <= 0:
            return
        for items, filtered in results:
            self.filtered += filtered
            for item in items:
                if isinstance(item, BadLine):
                    if strict:
                        raise StrictStop(item)
                    yield item
                    continue
                yield item
                replayed += 1
                if limit is not None and replayed >= limit:
                    return

    def _serial(self, chunks: Iterator[Chunk]) -> Iterator[tuple[list[Outcome | BadLine], int]]:
        evaluator = Evaluator(self.acl, self.options)
        for chunk in chunks:
            yield evaluator.run(chunk)

    def _parallel(self, chunks: Iterator[Chunk]) -> Iterator[tuple[list[Outcome | BadLine], int]]:
        global _WORKER
        methods = multiprocessing.get_all_start_methods()
        fork = "fork" in methods
        context = multiprocessing.get_context("fork" if fork else "spawn")
        if not fork and self.loader is None:
            raise ValueError("workers > 1 needs a picklable loader on platforms without fork")
        loader = self.loader or _no_loader
        workers = self.workers_used
        # Forked workers inherit the compiled ACL: no second load, no pickling of closures.
        _WORKER = Evaluator(self.acl, self.options) if fork else None
        try:
            pool = context.Pool(workers, initializer=_init_worker, initargs=(loader, self.options))
        finally:
            _WORKER = None
        with pool:
            pending: deque[Any] = deque()
            for chunk in chunks:
                pending.append(pool.apply_async(_work, (chunk,)))
                if len(pending) >= 2 * workers + 2:
                    items, filtered = pending.popleft().get()
                    yield _from_worker(items), filtered
            while pending:
                items, filtered = pending.popleft().get()
                yield _from_worker(items), filtered
            pool.close()
            pool.join()


def _no_loader() -> WebACL:
    raise RuntimeError("the web ACL was not inherited by the worker and no loader was given")
