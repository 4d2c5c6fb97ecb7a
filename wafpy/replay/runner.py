"""Replay logged requests through a web ACL: read, parse, evaluate, in input order, in bounded memory.

The main process only reads: it expands the inputs (files, folders, `-` for stdin; gzip or plain),
decides each file's format from its first record line, and cuts the record lines into chunks of
`chunk_lines` (raw bytes, not decoded). Decoding a line, building the `Request`, evaluating it and
encoding its AWS WAF log record happen in `Evaluator` -- in this process, or with `workers > 1`
in a pool of worker processes. Results always come back in input order (chunks are collected
first-in first-out), so `--workers 2` writes byte-for-byte what `--workers 1` writes.

Two ways to consume a replay: iterating gives one `Outcome` (or `BadLine`) per line; `batches`,
which `wafpy eval` uses, gives per chunk the records already joined into one byte string, and
has each worker count its chunk into its own `Summary` / `Comparison`, merged here in input order
(the result equals counting every outcome in order). So the main process does no per-request
work beyond reading lines and writing bytes.

Ordinary AWS WAF records and ALB lines take the fast path of `wafpy.replay.decode` (straight
from the decoded JSON or the ALB fields to the `Request`); anything else, and anything it
declines, goes through `wafpy.logs` and `Request.from_log`, which are the reference.

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

import contextlib
import gc
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from wafpy.errors import LogFormatError, WafpyError
from wafpy.logrecord import decision_to_log_record
from wafpy.logs import entry_from_json, parse_jsonl_line
from wafpy.logs.alblog import alb_fields, is_alb_line, join_wrapped
from wafpy.logs.records import LogEntry, LoggedOutcome
from wafpy.logs.sources import iter_sources
from wafpy.replay.coverage import acl_parts, has_rate_based, missing_statements
from wafpy.replay.decode import Decoded, decode_alb, decode_waf, decode_waf_line, encode_record
from wafpy.request import Request
from wafpy.webacl import WebACL

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from wafpy.replay.compare import Comparison
    from wafpy.replay.summary import Summary

__all__ = [
    "BadLine",
    "Batch",
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
    chunk_lines: int = 2000  # lines per chunk (a unit of work for a worker process)


# Record lines on their way to a parser, as few objects as possible (a chunk is pickled to a
# worker): runs of (parser key, file, 1-based line numbers, lines), with bad lines in place.
Run = tuple[str, str, list[int], list[bytes]]
Chunk = list[Run | BadLine]


_FORMATS = ("json", "waf", "alb", "jsonl")  # parser keys ("json": any JSON shape, per line)


def _detect(raw: bytes) -> str | None:
    start = raw.lstrip()[:1]
    if start in (b"{", b"["):
        return "json"
    return "alb" if is_alb_line(raw) else None


def read_chunks(paths: Sequence[str], fmt: str = "auto", chunk_lines: int = 2000) -> Iterator[Chunk]:
    """The record lines of `paths` in order, in chunks; read errors become `BadLine`s in place."""
    if fmt != "auto" and fmt not in _FORMATS:
        raise ValueError(f"format must be auto, waf, alb or jsonl, got {fmt!r}")
    chunk: Chunk = []

    def report(error: LogFormatError) -> None:
        chunk.append(BadLine(error.message, error.file, error.line))

    count = 0
    for source, file_lines in iter_sources(paths, report):
        lines: Iterator[tuple[int, bytes]] = file_lines
        key = None if fmt == "auto" else fmt
        if key is None:
            for number, raw in lines:
                key = _detect(raw)
                if key is not None:
                    chunk.append((key, source, [number], [raw]))
                    count += 1
                    break
                chunk.append(
                    BadLine("not an AWS WAF log record, ALB log entry or request line", source, number)
                )
            else:
                continue
        if key == "alb":
            lines = join_wrapped(lines)
        run: Run | None = chunk[-1] if chunk and type(chunk[-1]) is tuple else None  # type: ignore[assignment]
        numbers, raws = (run[2], run[3]) if run is not None else ([], [])
        for number, raw in lines:
            if run is None or chunk[-1] is not run:  # a new chunk, or a bad line came in between
                numbers, raws = [], []
                run = (key, source, numbers, raws)
                chunk.append(run)
            numbers.append(number)
            raws.append(raw)
            count += 1
            if count >= chunk_lines:
                yield chunk
                chunk = []
                count = 0
                run = None
        run = None
    if chunk:
        yield chunk


class Evaluator:
    """Parses and evaluates chunks against one web ACL (one per process).

    AWS WAF records and ALB lines take the fast path of `wafpy.replay.decode`; anything it
    declines (redacted values, missing fields, wrong types) and every other shape goes through
    `wafpy.logs` and `Request.from_log`, which also word the errors.
    """

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
        one = self._one
        append = out.append
        for part in chunk:
            if type(part) is BadLine:
                append(part)
                continue
            key, source, numbers, raws = part  # type: ignore[misc]
            for number, raw in zip(numbers, raws, strict=True):
                result = one(key, source, number, raw)
                if result is None:
                    filtered += 1
                else:
                    append(result)
        return out, filtered

    def process(
        self, chunk: Chunk, summary: Summary, comparison: Comparison | None, strict: bool
    ) -> tuple[bytes, int, int, BadLine | None]:
        """Run a chunk and count it into `summary` (and `comparison`).

        Returns the chunk's log records (one per line, empty unless `write_records`), the number
        of requests replayed, the number filtered out by `since` / `until`, and with `strict`
        the first bad line, where the chunk stops (neither it nor what follows is counted).
        """
        blobs: list[bytes] = []
        replayed = filtered = 0
        add, add_bad = summary.add, summary.add_bad
        compare = comparison.add if comparison is not None else None
        # A few hundred lines at a time: their lines, requests and records stay in the CPU
        # caches (measured: 2,000 at once cost about 10% more per request).
        for piece in _pieces(chunk, _PIECE_LINES):
            items, piece_filtered = self.run(piece)
            filtered += piece_filtered
            records: list[bytes] = []
            write = records.append if self.write_records else None
            for item in items:
                if type(item) is BadLine:
                    if strict:
                        blobs.append(_join(records))
                        return b"".join(blobs), replayed, filtered, item
                    add_bad(item)
                    continue
                outcome: Outcome = item  # type: ignore[assignment]
                add(outcome)
                if compare is not None:
                    compare(outcome)
                if write is not None:
                    write(outcome.record)  # type: ignore[arg-type]
                replayed += 1
            blobs.append(_join(records))
        return b"".join(blobs), replayed, filtered, None

    def _one(self, key: str, source: str, number: int, raw: bytes) -> Outcome | BadLine | None:
        """One record line -> its outcome, a BadLine, or None when `since` / `until` leave it out."""
        decoded: Decoded | None = None
        entry: LogEntry | None = None
        kind = key
        try:
            if key == "alb":
                http, timestamp, available, logged = alb_fields(raw, source, number)
                decoded = decode_alb(http, timestamp, available, logged)
            elif key == "jsonl":
                entry = parse_jsonl_line(raw, source, number)
            else:
                fast = decode_waf_line(raw)
                if fast is None:
                    try:
                        obj = orjson.loads(raw)
                    except orjson.JSONDecodeError as exc:
                        return BadLine(f"not valid JSON: {exc}", source, number)
                    fast = decode_waf(obj, raw) if type(obj) is dict and "httpRequest" in obj else None
                if fast is not None:
                    timestamp, decoded = fast
                    kind = "waf"
                else:
                    entry = entry_from_json(obj, source, number)
                    if key == "waf" and entry.kind != "waf":
                        return BadLine("not an AWS WAF log record (no httpRequest)", source, number)
        except LogFormatError as exc:
            return BadLine(exc.message, exc.file, exc.line)
        if entry is not None:
            timestamp = entry.timestamp_ms
            kind = entry.kind
        since, until = self.since, self.until
        if (since is not None and (timestamp is None or timestamp < since)) or (
            until is not None and (timestamp is None or timestamp >= until)
        ):
            return None
        if decoded is None:
            assert entry is not None
            decoded_entry = _from_entry(entry)
            if type(decoded_entry) is BadLine:
                return decoded_entry
            decoded = decoded_entry  # type: ignore[assignment]
        return self._decide(source, number, timestamp, kind, decoded)  # type: ignore[arg-type]

    def evaluate(self, entry: LogEntry) -> Outcome | BadLine:
        """Evaluate one `LogEntry` read by `wafpy.logs` (no `since` / `until` filter here)."""
        decoded = _from_entry(entry)
        if type(decoded) is BadLine:
            return decoded
        return self._decide(entry.source, entry.line, entry.timestamp_ms, entry.kind, decoded)  # type: ignore[arg-type]

    def _decide(
        self, source: str, number: int, timestamp: int | None, kind: str, decoded: Decoded
    ) -> Outcome:
        request, available, logged, http_out, source_name, source_id, method, uri, client_ip = decoded
        try:
            decision = self.acl.evaluate(request)
        except Exception as exc:  # a bug: stop with the line that shows it rather than skip silently
            raise ReplayError(f"{source}:{number}: evaluating the request failed: {exc!r}") from exc
        missing = self._missing.get(available)
        if missing is None:
            missing = self._missing[available] = missing_statements(self._parts, available)
        record = None
        if self.write_records:
            record = encode_record(
                decision_to_log_record(
                    decision,
                    http_source_name=source_name,
                    http_source_id=source_id,
                    timestamp_ms=timestamp,
                    http_request=http_out,
                )
            )
        return _new_outcome(
            (
                source,
                number,
                timestamp,
                kind,
                method,
                uri,
                client_ip,
                decision.action,
                decision.terminating_rule_id,
                decision.terminating_rule_type,
                decision.labels,
                decision.non_terminating_matching_rules,
                decision.not_evaluable + missing if missing else decision.not_evaluable,
                logged,
                record,
            )
        )


_PIECE_LINES = 256


def _pieces(chunk: Chunk, size: int) -> Iterator[Chunk]:
    """`chunk` cut into consecutive chunks of at most `size` lines (bad lines go along)."""
    piece: Chunk = []
    count = 0
    for part in chunk:
        if type(part) is BadLine:
            piece.append(part)
            continue
        key, source, numbers, raws = part  # type: ignore[misc]
        start = 0
        while start < len(numbers):
            take = min(size - count, len(numbers) - start)
            piece.append((key, source, numbers[start : start + take], raws[start : start + take]))
            start += take
            count += take
            if count >= size:
                yield piece
                piece = []
                count = 0
    if piece:
        yield piece


def _new_outcome(values: tuple[Any, ...]) -> Outcome:
    return tuple.__new__(Outcome, values)


def _join(records: list[bytes]) -> bytes:
    return b"\n".join(records) + b"\n" if records else b""


def _from_entry(entry: LogEntry) -> Decoded | BadLine:
    """The reference path: `Request.from_log` on a `LogEntry`; its ValueError becomes a BadLine."""
    http = entry.http_request
    try:
        request = Request.from_log(http, entry.timestamp_ms, body_available=entry.body_available)
    except ValueError as exc:
        return BadLine(str(exc), entry.source, entry.line)
    source_name, source_id = "ALB", "-"
    if entry.record is not None:  # keep where AWS said the request came from
        source_name = _text(entry.record.get("httpSourceName"), source_name)
        source_id = _text(entry.record.get("httpSourceId"), source_id)
    return (
        request,
        entry.available,
        entry.logged,
        request.to_http_request(),
        source_name,
        source_id,
        _text(http.get("httpMethod"), ""),
        _text(http.get("uri"), ""),
        _text(http.get("clientIp"), ""),
    )


def _text(value: Any, default: str) -> str:
    return value if isinstance(value, str) else default


class Batch(NamedTuple):
    """What `Replay.batches` gives per chunk; the counts are already in the caller's summary."""

    records: bytes  # the chunk's AWS WAF log records, one per line ("" unless write_records)
    replayed: int  # requests replayed (counted in the summary)
    stopped: BadLine | None  # with strict: the bad line that ends the replay


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


def _work_batch(
    chunk: Chunk, top_capacity: int, compare: tuple[int, tuple[str, ...]] | None, strict: bool
) -> tuple[bytes, int, int, BadLine | None, Summary, Comparison | None]:
    """A whole chunk in a worker: its records, ready to write, and its own summary to merge."""
    from wafpy.replay.compare import Comparison
    from wafpy.replay.summary import Summary

    assert _WORKER is not None, "worker not initialised"
    summary = Summary(top_capacity=top_capacity)
    comparison = None if compare is None else Comparison(examples=compare[0], rule_names=compare[1])
    records, replayed, filtered, stopped = _WORKER.process(chunk, summary, comparison, strict)
    return records, replayed, filtered, stopped, summary, comparison


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

    `batches(summary)` is the bulk form `wafpy eval` uses: each worker also counts its chunk
    into a summary of its own and joins the chunk's records into one byte string, so the main
    process only reads lines, merges summaries and writes bytes.
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
        chunks = read_chunks(self.paths, self.options.format, self._chunk_lines())
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

    def batches(self, summary: Summary, comparison: Comparison | None = None) -> Iterator[Batch]:
        """Replay chunk by chunk, counting into `summary` (and `comparison`), in input order.

        The summary and comparison end up as if every outcome had been added in order (each
        worker counts a chunk, and chunks are merged in order). A strict stop is the last batch
        (`stopped`); the bad line itself is not counted. `limit` is not supported here (it is
        per request): iterate over the replay instead.
        """
        options = self.options
        if options.limit is not None:
            raise ValueError("batches() does not apply limit; iterate over the Replay instead")
        chunks = read_chunks(self.paths, options.format, self._chunk_lines())
        if self.workers_used == 1:
            evaluator = Evaluator(self.acl, options)
            for chunk in chunks:
                records, replayed, filtered, stopped = evaluator.process(
                    chunk, summary, comparison, options.strict
                )
                self.filtered += filtered
                yield Batch(records, replayed, stopped)
                if stopped is not None:
                    return
            return
        compare = None if comparison is None else (comparison.max_examples, comparison.rule_names)
        for records, replayed, filtered, stopped, part, part_comparison in self._pool(
            chunks, _work_batch, (summary.labels.capacity, compare, options.strict)
        ):
            self.filtered += filtered
            summary.merge(part)
            if comparison is not None and part_comparison is not None:
                comparison.merge(part_comparison)
            yield Batch(records, replayed, stopped)
            if stopped is not None:
                return

    def _chunk_lines(self) -> int:
        # In one process, small chunks keep lines and records in the CPU caches; a worker gets
        # large ones (fewer, larger messages) and works through them piece by piece.
        lines = self.options.chunk_lines
        return min(lines, _PIECE_LINES) if self.workers_used == 1 else lines

    def _serial(self, chunks: Iterator[Chunk]) -> Iterator[tuple[list[Outcome | BadLine], int]]:
        evaluator = Evaluator(self.acl, self.options)
        for chunk in chunks:
            yield evaluator.run(chunk)

    def _parallel(self, chunks: Iterator[Chunk]) -> Iterator[tuple[list[Outcome | BadLine], int]]:
        for items, filtered in self._pool(chunks, _work, ()):
            yield _from_worker(items), filtered

    def _pool(
        self, chunks: Iterator[Chunk], work: Callable[..., Any], args: tuple[Any, ...]
    ) -> Iterator[Any]:
        """`work(chunk, *args)` for every chunk in the worker processes; results in input order."""
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
        # Objects that exist at the fork are moved out of the collector's reach while forking:
        # the workers' collections then never walk (and copy-on-write) the inherited heap.
        frozen = fork and gc.isenabled()
        if frozen:
            gc.freeze()
        try:
            pool = context.Pool(workers, initializer=_init_worker, initargs=(loader, self.options))
        finally:
            _WORKER = None
            if frozen:
                gc.unfreeze()
        _widen_pipes(pool)
        with pool:  # leaving early (limit, strict stop, error) terminates the workers
            pending: deque[Any] = deque()
            for chunk in chunks:
                pending.append(pool.apply_async(work, (chunk, *args)))
                if len(pending) >= 2 * workers + 2:
                    yield pending.popleft().get()
            while pending:
                yield pending.popleft().get()
            pool.close()
            pool.join()


_PIPE_BYTES = 1 << 20


def _widen_pipes(pool: Any) -> None:
    """Give the pool's pipes 1 MiB instead of 64 KiB where Linux allows it (best effort).

    A chunk is megabytes of log lines one way and of records the other; through 64 KiB pipes
    each costs dozens of blocking writes and wake-ups, which showed as system time in the main
    process. The pipes are the pool's own (not public API), so anything unexpected is ignored.
    """
    setpipe = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if setpipe is None:
        return
    for queue in (getattr(pool, "_inqueue", None), getattr(pool, "_outqueue", None)):
        connection = getattr(queue, "_writer", None)
        with contextlib.suppress(AttributeError, OSError, ValueError):
            fcntl.fcntl(connection.fileno(), setpipe, _PIPE_BYTES)  # type: ignore[union-attr]


def _no_loader() -> WebACL:
    raise RuntimeError("the web ACL was not inherited by the worker and no loader was given")
