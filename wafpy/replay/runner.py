"""Replay logged requests through a web ACL: read, parse, evaluate, in input order, in bounded memory.

The main process only reads: it expands the inputs (files, folders, `-` for stdin; gzip or plain),
decides each file's format from its first record line, and cuts the record lines into chunks of
`chunk_lines` (raw bytes, not decoded). Decoding a line, building the `Request`, evaluating it and
encoding its AWS WAF log record happen in `Evaluator` -- in this process, or with `workers > 1`
in worker processes (`wafpy.replay.workers`). Results always come back in input order (chunks
are collected first-in first-out), so `--workers 2` writes byte-for-byte what `--workers 1`
writes. A worker that dies (killed, out of memory) is replaced and the part of the input it
held replayed once more; a part that kills a worker twice stops the replay (`WorkerDied`).

Two ways to consume a replay: iterating gives one `Outcome` (or `BadLine`) per line; `batches`,
which `wafpy eval` uses, gives per chunk the records already joined into one byte string, and
has each worker count its chunk into its own `Summary` / `Comparison`, merged here in input order
(the result equals counting every outcome in order). So the main process does no per-request
work beyond reading lines and writing bytes.

Each line is read by the fast decoder its format has in the registry (`wafpy.logs.formats`):
ordinary AWS WAF records and ALB lines go straight from the decoded JSON or the ALB fields to the
`Request`; anything else, and anything it declines, goes through the format's reference parser
and `Request.from_log`, which are the reference.

With workers, `batches` does not send plain files through the pool's pipes at all: a regular,
uncompressed file whose first record line is an ordinary line (not a JSON array or pretty-printed
document) is cut into byte ranges of about `range_bytes` at line boundaries (for ALB logs, at a
line that starts an entry); each worker reads its range from the file, writes its records to a
file in a private temporary folder and returns only its counts, and the records are copied to
the output in input order (`Batch.write_to`, with `os.sendfile`). The main process only seeks to
the cut points and counts the newlines before each range, so that line numbers (bad lines,
comparison examples) are those of the file. The folder is removed at the end, on errors and on
Ctrl-C (closing the generator). Stdin, gzip files and JSON documents go in chunks as above.

Inputs that cannot be read whole (missing, unreadable, a truncated or corrupt gzip file, a
file removed or replaced while workers read its ranges) give an `UnreadableInput`, a `BadLine`
at the first line not replayed; nothing of that input after it is replayed, the other inputs are.

Memory is bounded whatever the input size: at most `2 * workers + 2` chunks are in flight, and
each result is consumed and dropped by the caller (`Summary` keeps bounded counters).

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
import functools
import gc
import io
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import IO, Any, NamedTuple

from wafpy.errors import LogFormatError
from wafpy.logs.decode import Decoded, encode_record
from wafpy.logs.formats import AUTO, CHOICES, UNDETECTED, FastDecoder, Format, Parser, detect, format_named
from wafpy.logs.logrecord import decision_to_log_record
from wafpy.logs.records import LogEntry, LoggedOutcome
from wafpy.logs.sources import (
    _GZIP_MAGIC,
    _SKIP_FIRST,
    _WS,
    STDIN,
    InputError,
    _looks_like_document,
    iter_files,
    iter_sources,
)
from wafpy.replay.compare import Comparison
from wafpy.replay.coverage import acl_parts, has_rate_based, missing_statements
from wafpy.replay.outcome import BadLine, Outcome, ReplayError, ReplayOptions, StrictStop, UnreadableInput
from wafpy.replay.summary import Summary
from wafpy.replay.workers import Task, WorkerPool
from wafpy.request import Request
from wafpy.webacl import WebACL

__all__ = ["Batch", "Evaluator", "Replay", "read_chunks"]


# Record lines on their way to a parser, as few objects as possible (a chunk is pickled to a
# worker): runs of (parser key, file, 1-based line numbers, lines), with bad lines in place.
Run = tuple[str, str, list[int], list[bytes]]
Chunk = list[Run | BadLine]


def _forced_format(fmt: str) -> Format | None:
    """The format `fmt` names (any registered one, "json" included); None for auto."""
    forced = format_named(fmt)
    if fmt != AUTO and forced is None:
        raise ValueError(f"format must be {', '.join(CHOICES[:-1])} or {CHOICES[-1]}, got {fmt!r}")
    return forced


def _format(key: str) -> Format:
    """The format of a run of lines (a key that `read_chunks` or `Replay` put there)."""
    fmt = format_named(key)
    if fmt is None:
        raise ValueError(f"not a log format: {key!r}")
    return fmt


def read_chunks(paths: Sequence[str], fmt: str = "auto", chunk_lines: int = 2000) -> Iterator[Chunk]:
    """The record lines of `paths` in order, in chunks; read errors become `BadLine`s in place."""
    forced = _forced_format(fmt)
    chunk: Chunk = []

    def report(error: LogFormatError) -> None:
        chunk.append(_bad(error))

    count = 0
    for source, file_lines in iter_sources(paths, report):
        lines: Iterator[tuple[int, bytes]] = file_lines
        chosen = forced
        if chosen is None:
            for number, raw in lines:
                chosen = detect(raw)
                if chosen is not None:
                    chunk.append((chosen.name, source, [number], [raw]))
                    count += 1
                    break
                chunk.append(BadLine(UNDETECTED, source, number))
            else:
                continue
        key = chosen.name
        if chosen.join is not None:
            lines = chosen.join(lines)
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

    AWS WAF records and ALB lines take the fast decoder of their format (`wafpy.logs.formats`);
    anything it declines (redacted values, missing fields, wrong types) and every other shape goes
    through the reference parser and `Request.from_log`, which also word the errors.
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
            if type(part) is not tuple:  # a BadLine (or UnreadableInput) read before evaluation
                append(part)  # type: ignore[arg-type]
                continue
            key, source, numbers, raws = part  # type: ignore[misc]
            fmt = _format(key)
            decode = fmt.fast or fmt.parse
            for number, raw in zip(numbers, raws, strict=True):
                result = one(decode, source, number, raw)
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
                if type(item) is not Outcome:  # a BadLine (or UnreadableInput)
                    if strict:
                        blobs.append(_join(records))
                        return b"".join(blobs), replayed, filtered, item  # type: ignore[return-value]
                    add_bad(item)  # type: ignore[arg-type]
                    continue
                outcome: Outcome = item
                add(outcome)
                if compare is not None:
                    compare(outcome)
                if write is not None:
                    write(outcome.record)  # type: ignore[arg-type]
                replayed += 1
            blobs.append(_join(records))
        return b"".join(blobs), replayed, filtered, None

    def _one(
        self, decode: FastDecoder | Parser, source: str, number: int, raw: bytes
    ) -> Outcome | BadLine | None:
        """One record line -> its outcome, a BadLine, or None when `since` / `until` leave it out.

        `decode` is the format's fast decoder, or its reference parser when it has none.
        """
        decoded: Decoded | None = None
        entry: LogEntry | None = None
        try:
            result = decode(raw, source, number)
        except LogFormatError as exc:
            return BadLine(exc.message, exc.file, exc.line)
        if type(result) is LogEntry:
            entry = result
            timestamp = entry.timestamp_ms
            kind = entry.kind
        else:
            kind, timestamp, decoded = result  # type: ignore[misc]
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
        if type(part) is not tuple:  # a BadLine
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


class Batch:
    """What `Replay.batches` gives per chunk; the counts are already in the caller's summary.

    The records are in memory, or (a byte range of a plain file that a worker read) in the file
    `records_path`, which exists until the replay goes on to the next batch: `write_to` copies
    them in the kernel where it can; `records` reads them into memory.
    """

    __slots__ = ("_records", "records_path", "replayed", "stopped")

    def __init__(
        self, records: bytes, replayed: int, stopped: BadLine | None, records_path: str | None = None
    ) -> None:
        self._records = records
        self.replayed = replayed  # requests replayed (counted in the summary)
        self.stopped = stopped  # with strict: the bad line that ends the replay
        self.records_path = records_path

    @property
    def records(self) -> bytes:
        """The AWS WAF log records, one per line ("" unless write_records)."""
        if self.records_path is None:
            return self._records
        with open(self.records_path, "rb") as source:
            return source.read()

    def write_to(self, sink: IO[bytes]) -> None:
        """Write the records to `sink` (with `os.sendfile` when they are in a file)."""
        if self._records:
            sink.write(self._records)
        if self.records_path is not None:
            with open(self.records_path, "rb") as source:
                _copy_file(source, sink)

    def __repr__(self) -> str:
        where = self.records_path or f"{len(self._records)} bytes"
        return f"Batch({where}, replayed={self.replayed}, stopped={self.stopped!r})"


def _copy_file(source: IO[bytes], sink: IO[bytes]) -> None:
    sink.flush()
    try:
        out_fd = sink.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        out_fd = -1
    sent = 0
    if out_fd >= 0 and hasattr(os, "sendfile"):
        size = os.fstat(source.fileno()).st_size
        try:
            while sent < size:
                done = os.sendfile(out_fd, source.fileno(), sent, size - sent)
                if done == 0:
                    break
                sent += done
        except OSError:
            if sent == 0:  # not supported for these files: copy below
                out_fd = -1
            else:
                raise
        if out_fd >= 0:
            # The buffered sink's idea of its position is stale; a pipe has none.
            with contextlib.suppress(OSError, ValueError):
                sink.seek(0, os.SEEK_END)
            return
    shutil.copyfileobj(source, sink, 1 << 20)


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
    assert _WORKER is not None, "worker not initialised"
    summary = Summary(top_capacity=top_capacity)
    comparison = None if compare is None else Comparison(examples=compare[0], rule_names=compare[1])
    records, replayed, filtered, stopped = _WORKER.process(chunk, summary, comparison, strict)
    return records, replayed, filtered, stopped, summary, comparison


def _work_range(
    task: tuple[str, str, str, bool, int, int, int, str | None, tuple[int, int]],
    top_capacity: int,
    compare: tuple[int, tuple[str, ...]] | None,
    strict: bool,
) -> tuple[str | None, int, int, BadLine | None, Summary, Comparison | None]:
    """A byte range of a plain file, read here: its records go to a file of `out_dir`.

    `start` is the start of a line, `end` of another (or the end of the file), `line` the
    number of the line at `start`; `detected`: the format was detected from the first record
    line; `identity`: (device, inode) of the file when it was cut into ranges. Blank lines and
    comments are skipped and ALB lines re-joined as `read_chunks` does (a range of an ALB file
    starts at a line that starts an entry, so no entry is cut in two).

    A file that is gone, replaced or shorter than when it was cut gives an `UnreadableInput`
    (counted in the summary, or with `strict` the stop) instead of records. The file stays open
    until the range is done: a busy worker is one that holds an input open.
    """
    path, source, key, detected, start, end, line, out_path, identity = task
    assert _WORKER is not None, "worker not initialised"
    summary = Summary(top_capacity=top_capacity)
    comparison = None if compare is None else Comparison(examples=compare[0], rule_names=compare[1])
    try:
        stream = open(path, "rb")  # noqa: SIM115 (closed below, after the range is replayed)
    except OSError as exc:
        problem = f"removed or renamed during the replay (cannot open it: {exc.strerror or exc}){_REST}"
        return _range_failed(UnreadableInput(problem, source, line), summary, comparison, strict)
    with stream:
        stat = os.fstat(stream.fileno())
        if (stat.st_dev, stat.st_ino) != identity:
            problem = f"replaced by another file during the replay{_REST}"
            return _range_failed(UnreadableInput(problem, source, line), summary, comparison, strict)
        try:
            stream.seek(start)
            data = stream.read(end - start)
        except OSError as exc:
            problem = f"read error ({exc.strerror or exc}){_REST}"
            return _range_failed(UnreadableInput(problem, source, line), summary, comparison, strict)
        if len(data) < end - start:
            now = start + len(data)
            problem = f"shortened during the replay (to {now:,} bytes from at least {end:,}){_REST}"
            return _range_failed(UnreadableInput(problem, source, line), summary, comparison, strict)
        numbers: list[int] = []
        raws: list[bytes] = []
        lines: Iterator[tuple[int, bytes]] = _range_lines(data, line)
        join = _format(key).join
        if join is not None:
            if start == 0 and detected:
                # As `read_chunks`: the line that told the format is not joined with what follows.
                for number, raw in lines:
                    numbers.append(number)
                    raws.append(raw)
                    break
            lines = join(lines)
        for number, raw in lines:
            numbers.append(number)
            raws.append(raw)
        del data
        records, replayed, filtered, stopped = _WORKER.process(
            [(key, source, numbers, raws)], summary, comparison, strict
        )
    written = None
    if records and out_path is not None:
        with open(out_path, "wb") as out:
            out.write(records)
        written = out_path
    return written, replayed, filtered, stopped, summary, comparison


_REST = "; nothing from this line on is replayed"


def _range_failed(
    failure: UnreadableInput, summary: Summary, comparison: Comparison | None, strict: bool
) -> tuple[None, int, int, BadLine | None, Summary, Comparison | None]:
    if strict:
        return None, 0, 0, failure, summary, comparison
    summary.add_bad(failure)
    return None, 0, 0, None, summary, comparison


def _range_lines(data: bytes, first: int) -> Iterator[tuple[int, bytes]]:
    """(number, line) of the record lines in `data` (lines as a file gives them, with the newline)."""
    for number, raw in enumerate(io.BytesIO(data), first):
        if raw[0] in _SKIP_FIRST:
            stripped = raw.strip(_WS)
            if not stripped or stripped[:1] == b"#":
                continue
        yield number, raw


def _range_format(path: str, fmt: str) -> Format | None:
    """The format of a plain file that workers can read by byte ranges, or None.

    Plain regular files only: not stdin, not gzip (no offsets into the data), not a JSON
    document (an array or pretty-printed JSON is read whole), and in auto mode the first record
    line must tell the format (otherwise `read_chunks` reports the lines before it one by one).
    """
    forced = _forced_format(fmt)
    if path == STDIN or not os.path.isfile(path):
        return None
    try:
        with open(path, "rb") as stream:
            if stream.read(2) == _GZIP_MAGIC:
                return None
            stream.seek(0)
            for raw in stream:
                stripped = raw.strip(_WS)
                if not stripped or stripped[:1] == b"#":
                    continue
                if _looks_like_document(stripped):
                    return None
                return forced if forced is not None else detect(raw)
    except OSError:
        return None
    return None  # no record line: nothing to split


class _Range(NamedTuple):
    start: int  # first byte
    end: int  # the byte after the last
    line: int  # number of the line at `start`
    last: int  # number of the last line
    identity: tuple[int, int]  # (device, inode) of the file


def _byte_ranges(stream: IO[bytes], fmt: Format, size: int) -> Iterator[_Range]:
    """Consecutive ranges of about `size` bytes of the open file `stream`, in format `fmt`.

    Each range ends at the start of a line (for a format whose entries may be wrapped over
    several lines, ALB, of a line that starts an entry). The line numbers count the newlines of
    each range, here, as the ranges are handed out.
    """
    starts_entry = fmt.detect if fmt.join is not None else None
    stat = os.fstat(stream.fileno())
    total, identity = stat.st_size, (stat.st_dev, stat.st_ino)
    start, line = 0, 1
    while start < total:
        end = start + max(1, size)
        if end >= total:
            end = total
        else:
            stream.seek(end - 1)
            rest = stream.readline()  # from the byte before `end` through its line's newline
            end = end - 1 + len(rest)
            if not rest.endswith(b"\n"):
                end = total
            while starts_entry is not None and end < total:  # move on to a line that starts an entry
                nxt = stream.readline()
                if not nxt or starts_entry(nxt):
                    break
                end += len(nxt)
        newlines, ends_line = _count_newlines(stream, start, end)
        yield _Range(start, end, line, line + newlines - (1 if ends_line else 0), identity)
        line += newlines
        start = end


def _count_newlines(stream: IO[bytes], start: int, end: int) -> tuple[int, bool]:
    """The newlines in bytes `start` to `end` of `stream`, and whether the last byte is one."""
    stream.seek(start)
    count = 0
    block = b""
    while start < end:
        block = stream.read(min(end - start, 8 << 20))
        if not block:
            break
        count += block.count(b"\n")
        start += len(block)
    return count, block.endswith(b"\n")


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


def _chunk_label(chunk: Chunk) -> str:
    """Where a chunk is, for messages: `a.jsonl, lines 1-2000`, or across files."""
    places: list[tuple[str, int | None]] = []
    for part in chunk:
        if isinstance(part, BadLine):
            places.append((part.file or "<input>", part.line))
        else:
            _, source, numbers, _ = part
            places.append((source, numbers[0]))
            places.append((source, numbers[-1]))
    if not places:
        return "an empty chunk"
    (first, start), (last, end) = places[0], places[-1]
    if first == last:
        return f"{first}, lines {start}-{end}" if start != end else f"{first}, line {start}"
    return f"{first} line {start} to {last} line {end}"


class Replay:
    """Iterate over the results of replaying `paths` through `acl`, in input order.

    `loader` rebuilds the web ACL in a worker process when the platform cannot fork; it must be
    picklable (e.g. `functools.partial(load_web_acl, path, resources=...)`). After iteration,
    `filtered` counts entries left out by `since` / `until`. With `strict`, the first bad line
    raises `StrictStop`; `limit` stops after that many replayed requests.

    `batches(summary)` is the bulk form `wafpy eval` uses: each worker also counts its chunk
    into a summary of its own and joins the chunk's records into one byte string, so the main
    process only reads lines, merges summaries and writes bytes.

    With workers, a worker process that dies (killed, out of memory) is replaced and the part
    of the input it held replayed again, once; `warn` receives a message saying so (by default
    it is logged as a warning of the `wafpy.replay` logger). If that part kills a worker a
    second time, `WorkerDied` is raised (see `wafpy.replay.workers`).
    """

    def __init__(
        self,
        acl: WebACL,
        paths: Sequence[str],
        options: ReplayOptions,
        *,
        loader: Callable[[], WebACL] | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.acl = acl
        self.paths = list(paths)
        self.options = options
        self.loader = loader
        self.warn = warn
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
        with contextlib.closing(results):  # ends the workers when the caller stops early
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

    def batches(self, summary: Summary, comparison: Comparison | None = None) -> Generator[Batch, None, None]:
        """Replay chunk by chunk, counting into `summary` (and `comparison`), in input order.

        The summary and comparison end up as if every outcome had been added in order (each
        worker counts a chunk, and chunks are merged in order). A strict stop is the last batch
        (`stopped`); the bad line itself is not counted. `limit` is not supported here (it is
        per request): iterate over the replay instead.

        A file that workers read by byte ranges and that cannot be read any more (removed,
        replaced, shortened during the replay) gives one `UnreadableInput` in the summary at the
        first range that fails; nothing of that file after it is written or counted.
        """
        options = self.options
        if options.limit is not None:
            raise ValueError("batches() does not apply limit; iterate over the Replay instead")
        if self.workers_used == 1:
            chunks = read_chunks(self.paths, options.format, self._chunk_lines())
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
        args = (summary.labels.capacity, compare, options.strict)
        folder = tempfile.mkdtemp(prefix="wafpy-eval-") if options.write_records else None
        failed: set[str] = set()  # files read by ranges that could not be read whole
        try:
            # closing(): the workers are ended before the folder they write to is removed.
            with contextlib.closing(self._pool_tasks(self._tasks(folder, failed), args)) as results:
                previous: str | None = None
                for path, result in results:
                    records, replayed, filtered, stopped, part, part_comparison = result
                    if previous is not None:  # the caller has written it
                        os.unlink(previous)
                        previous = None
                    if path is not None and path in failed:  # a range after the failure: dropped
                        if type(records) is str:
                            os.unlink(records)
                        continue
                    if path is not None and part.input_errors:
                        failed.add(path)
                    self.filtered += filtered
                    summary.merge(part)
                    if comparison is not None and part_comparison is not None:
                        comparison.merge(part_comparison)
                    if type(records) is str:
                        previous = records
                        yield Batch(b"", replayed, stopped, records)
                    else:
                        yield Batch(records or b"", replayed, stopped)
                    if stopped is not None:
                        return
        finally:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)

    def _tasks(self, folder: str | None, failed: set[str]) -> Iterator[Task]:
        """The work of `batches` with workers, in input order.

        A plain file is cut into byte ranges that the workers read themselves (`_work_range`),
        so neither its lines nor its records go through the pipes; stdin, gzip files and JSON
        documents are read here and sent in chunks (`_work_batch`). A file in `failed` gets no
        more ranges.
        """
        options = self.options
        errors: Chunk = []

        def report(error: LogFormatError) -> None:
            errors.append(_bad(error))

        index = 0
        for path in iter_files(self.paths, report):
            if errors:
                yield Task(_work_batch, errors, _chunk_label(errors))
                errors = []
            chosen = _range_format(path, options.format)
            if chosen is None:
                for chunk in read_chunks([path], options.format, options.chunk_lines):
                    yield Task(_work_batch, chunk, _chunk_label(chunk))
                continue
            try:
                stream = open(path, "rb")  # noqa: SIM115 (closed below)
            except OSError as exc:
                yield Task(_work_batch, [_cannot_open(path, exc)], path)
                continue
            with stream:
                for start, end, line, last, identity in _byte_ranges(stream, chosen, options.range_bytes):
                    if path in failed:
                        break
                    out = None if folder is None else os.path.join(folder, f"{index}.jsonl")
                    index += 1
                    detected = options.format == "auto"
                    label = f"{path}, bytes {start}-{end - 1}, lines {line}-{last}"
                    payload = (path, path, chosen.name, detected, start, end, line, out, identity)
                    yield Task(_work_range, payload, label, path)
        if errors:
            yield Task(_work_batch, errors, _chunk_label(errors))

    def _chunk_lines(self) -> int:
        # In one process, small chunks keep lines and records in the CPU caches; a worker gets
        # large ones (fewer, larger messages) and works through them piece by piece.
        lines = self.options.chunk_lines
        return min(lines, _PIECE_LINES) if self.workers_used == 1 else lines

    def _serial(self, chunks: Iterator[Chunk]) -> Generator[tuple[list[Outcome | BadLine], int], None, None]:
        evaluator = Evaluator(self.acl, self.options)
        for chunk in chunks:
            yield evaluator.run(chunk)

    def _parallel(
        self, chunks: Iterator[Chunk]
    ) -> Generator[tuple[list[Outcome | BadLine], int], None, None]:
        tasks = (Task(_work, chunk, _chunk_label(chunk)) for chunk in chunks)
        with contextlib.closing(self._pool_tasks(tasks, ())) as results:
            for _, (items, filtered) in results:
                yield _from_worker(items), filtered

    def _pool_tasks(
        self, tasks: Iterator[Task], args: tuple[Any, ...]
    ) -> Generator[tuple[Any, Any], None, None]:
        """(task.key, `task.work(task.payload, *args)`) for every task, in the worker processes, in order."""
        methods = multiprocessing.get_all_start_methods()
        fork = "fork" in methods
        context = multiprocessing.get_context("fork" if fork else "spawn")
        if not fork and self.loader is None:
            raise ValueError("workers > 1 needs a picklable loader on platforms without fork")
        workers = self.workers_used
        # Forked workers inherit the compiled ACL: no second load, no pickling of closures.
        evaluator = Evaluator(self.acl, self.options) if fork else None
        pool = WorkerPool(
            context,
            workers,
            _init_worker,
            (self.loader or _no_loader, self.options),
            prepare=functools.partial(_handing_down, evaluator),
            warn=self.warn,
        )
        # At most 2 * workers + 2 tasks read ahead: memory stays bounded whatever the input.
        return pool.imap(tasks, args, window=2 * workers + 2)


@contextlib.contextmanager
def _handing_down(evaluator: Evaluator | None) -> Iterator[None]:
    """Around the start of a worker process: what a forked worker inherits.

    The evaluator is left where the worker finds it. Objects that exist at the fork are moved
    out of the collector's reach meanwhile: the workers' collections then never walk (and
    copy-on-write) the inherited heap.
    """
    global _WORKER
    frozen = evaluator is not None and gc.isenabled()
    _WORKER = evaluator
    if frozen:
        gc.freeze()
    try:
        yield
    finally:
        _WORKER = None
        if frozen:
            gc.unfreeze()


def _bad(error: LogFormatError) -> BadLine:
    """The `BadLine` of a reading error: an `UnreadableInput` when the input itself failed."""
    if isinstance(error, InputError):
        return UnreadableInput(error.message, error.file, error.line)
    return BadLine(error.message, error.file, error.line)


def _cannot_open(path: str, exc: OSError) -> UnreadableInput:
    return UnreadableInput(f"cannot open: {exc.strerror or exc}", path, None)


def _no_loader() -> WebACL:
    raise RuntimeError("the web ACL was not inherited by the worker and no loader was given")
