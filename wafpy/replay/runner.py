"""Replay logged requests through a web ACL: read, parse, evaluate, in input order, in bounded memory.

The main process only reads: it cuts the input into chunks of record lines (`wafpy.replay.chunks`).
Decoding a line, building the `Request`, evaluating it and encoding its AWS WAF log record happen
in an `Evaluator` (`wafpy.replay.evaluator`) -- in this process, or with `workers > 1` in worker
processes (`wafpy.replay.pool` on `wafpy.replay.workers`). Results always come back in input
order (chunks are collected first-in first-out), so `--workers 2` writes byte-for-byte what
`--workers 1` writes. A worker that dies (killed, out of memory) is replaced and the part of the
input it held replayed once more; a part that kills a worker twice stops the replay (`WorkerDied`).

Two ways to consume a replay: iterating gives one `Outcome` (or `BadLine`) per line; `batches`,
which `wafpy eval` uses, gives per chunk the records already joined into one byte string, and
has each worker count its chunk into its own `Summary` / `Comparison`, merged here in input order
(the result equals counting every outcome in order). So the main process does no per-request
work beyond reading lines and writing bytes.

With workers, `batches` does not send plain files through the pool's pipes at all: a regular,
uncompressed file whose first record line is an ordinary line is cut into byte ranges
(`wafpy.replay.chunks`); each worker reads its range from the file, writes its records to a
file in a private temporary folder and returns only its counts, and the records are copied to
the output in input order (`Batch.write_to`, with `os.sendfile`). The folder is removed at the
end, on errors and on Ctrl-C (closing the generator). Stdin, gzip files and JSON documents go in
chunks as above.

Inputs that cannot be read whole (missing, unreadable, a truncated or corrupt gzip file, a
file removed or replaced while workers read its ranges) give an `UnreadableInput`, a `BadLine`
at the first line not replayed; nothing of that input after it is replayed, the other inputs are.

Memory is bounded whatever the input size: at most `2 * workers + 2` chunks are in flight, and
each result is consumed and dropped by the caller (`Summary` keeps bounded counters).

Rate-based rules and workers: a rate-based rule counts requests per key over time, so every
request of one key must be evaluated by one counter, in input order. When all the rate-based
statements of the web ACL share a key component read before evaluating (client IP, a forwarded
IP: `wafpy.replay.partition`), `batches` runs one process per partition of that component's
values (`wafpy.replay.keyed`), output still in input order, byte for byte that of one process.
Otherwise (a constant key, label-namespace keys, mixed keys), and when iterating or with
`strict`, the replay evaluates in one ordered process and `workers_used` is 1; the caller warns
that `--workers` was ignored (`plan.describe()` says why).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import IO, Any

from wafpy.errors import LogFormatError
from wafpy.logs.remote import is_remote
from wafpy.logs.sources import iter_files
from wafpy.replay.chunks import Chunk, bad_line, byte_ranges, chunk_label, range_format, read_chunks
from wafpy.replay.compare import Comparison
from wafpy.replay.coverage import has_rate_based
from wafpy.replay.evaluator import PIECE_LINES, Evaluator
from wafpy.replay.keyed import keyed_batches
from wafpy.replay.outcome import BadLine, Outcome, ReplayOptions, StrictStop, UnreadableInput
from wafpy.replay.partition import RatePlan, rate_plan
from wafpy.replay.pool import from_worker, run_tasks, work_batch, work_chunk, work_input, work_range
from wafpy.replay.summary import Summary
from wafpy.replay.workers import Task
from wafpy.webacl import WebACL

__all__ = ["Batch", "Replay"]


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
        self.plan = rate_plan(acl.model) if self.rate_based else RatePlan(False)
        # Split by rate key: only `batches`, without strict (a strict stop needs one ordered pass).
        self.keyed = (
            self.rate_based and self.plan.component is not None and options.workers > 1 and not options.strict
        )
        self.workers_used = max(1, options.workers) if not self.rate_based or self.keyed else 1

    def __iter__(self) -> Iterator[Outcome | BadLine]:
        chunks = read_chunks(self.paths, self.options.format, self._chunk_lines())
        serial = self.workers_used == 1 or self.rate_based
        results = self._serial(chunks) if serial else self._parallel(chunks)
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
        if self.keyed:
            assert self.plan.component is not None
            chunks = read_chunks(self.paths, options.format, options.chunk_lines)
            for records, replayed, filtered in keyed_batches(
                self.acl,
                options,
                chunks,
                self.plan.component,
                summary,
                comparison,
                loader=self.loader,
                warn=self.warn,
            ):
                self.filtered += filtered
                yield Batch(records, replayed, None)
            return
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

        A plain file is cut into byte ranges that the workers read themselves (`work_range`),
        so neither its lines nor its records go through the pipes; an object in S3 is read whole
        by one worker (`work_input`: the downloads overlap); stdin, gzip files and JSON
        documents are read here and sent in chunks (`work_batch`). A file in `failed` gets no
        more ranges.
        """
        options = self.options
        errors: Chunk = []

        def report(error: LogFormatError) -> None:
            errors.append(bad_line(error))

        index = 0
        for path in iter_files(self.paths, report):
            if errors:
                yield Task(work_batch, errors, chunk_label(errors))
                errors = []
            if is_remote(path):
                out = None if folder is None else os.path.join(folder, f"{index}.jsonl")
                index += 1
                yield Task(work_input, (path, options.format, options.chunk_lines, out), path)
                continue
            chosen = range_format(path, options.format)
            if chosen is None:
                for chunk in read_chunks([path], options.format, options.chunk_lines):
                    yield Task(work_batch, chunk, chunk_label(chunk))
                continue
            try:
                stream = open(path, "rb")  # noqa: SIM115 (closed below)
            except OSError as exc:
                yield Task(work_batch, [_cannot_open(path, exc)], path)
                continue
            with stream:
                for start, end, line, last, identity in byte_ranges(stream, chosen, options.range_bytes):
                    if path in failed:
                        break
                    out = None if folder is None else os.path.join(folder, f"{index}.jsonl")
                    index += 1
                    detected = options.format == "auto"
                    label = f"{path}, bytes {start}-{end - 1}, lines {line}-{last}"
                    payload = (path, path, chosen.name, detected, start, end, line, out, identity)
                    yield Task(work_range, payload, label, path)
        if errors:
            yield Task(work_batch, errors, chunk_label(errors))

    def _chunk_lines(self) -> int:
        # In one process, small chunks keep lines and records in the CPU caches; a worker gets
        # large ones (fewer, larger messages) and works through them piece by piece.
        lines = self.options.chunk_lines
        return min(lines, PIECE_LINES) if self.workers_used == 1 else lines

    def _serial(self, chunks: Iterator[Chunk]) -> Generator[tuple[list[Outcome | BadLine], int], None, None]:
        evaluator = Evaluator(self.acl, self.options)
        for chunk in chunks:
            yield evaluator.run(chunk)

    def _parallel(
        self, chunks: Iterator[Chunk]
    ) -> Generator[tuple[list[Outcome | BadLine], int], None, None]:
        tasks = (Task(work_chunk, chunk, chunk_label(chunk)) for chunk in chunks)
        with contextlib.closing(self._pool_tasks(tasks, ())) as results:
            for _, (items, filtered) in results:
                yield from_worker(items), filtered

    def _pool_tasks(
        self, tasks: Iterator[Task], args: tuple[Any, ...]
    ) -> Generator[tuple[Any, Any], None, None]:
        """(task.key, `task.work(task.payload, *args)`) for every task, in the worker processes, in order."""
        return run_tasks(
            self.acl, self.options, self.workers_used, tasks, args, loader=self.loader, warn=self.warn
        )


def _cannot_open(path: str, exc: OSError) -> UnreadableInput:
    return UnreadableInput(f"cannot open: {exc.strerror or exc}", path, None)
