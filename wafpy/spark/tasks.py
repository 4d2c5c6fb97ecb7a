"""What Spark tasks run, on Arrow record batches (`DataFrame.mapInArrow`): read, key, evaluate.

Three steps, each a function from an iterator of `pyarrow.RecordBatch` to another:

* `read_files`: whole input files (Spark's `binaryFile` source: path, content) to record lines
  (`LINES`), read exactly as `wafpy eval` reads a file: gzip told by its magic bytes, blank lines
  and comments skipped, JSON documents expanded, the format detected from the first record line,
  ALB entries re-joined, bad lines and unreadable inputs kept in place with their line number;
* `key_lines`: the value of the rate-key component every rate-based rule shares (client IP, a
  forwarded IP) and the timestamp of each line, to partition and order by (`wafpy.replay.partition`);
* `evaluate_lines`: record lines to AWS WAF log records (`RECORDS`), with the partial `Summary`
  (and `Comparison`) of the task added to a Spark accumulator under the task's partition id, so
  a task run twice (a retry, a second action) still counts once.

pyarrow and pyspark are imported inside the functions: this module imports without them.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from wafpy.engine.ratelimit import MemoryRateCounter
from wafpy.logs.sources import lines_of_bytes
from wafpy.replay.chunks import Chunk, read_chunks
from wafpy.replay.compare import Comparison
from wafpy.replay.evaluator import request_of
from wafpy.replay.ordered import merge_comparison_in_order, merge_in_order, position_of
from wafpy.replay.outcome import BadLine, Outcome, ReplayOptions, UnreadableInput
from wafpy.replay.partition import partition_value
from wafpy.replay.summary import Summary
from wafpy.spark.aclsource import AclSource, compiled, compiled_count

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["KEYED", "LINES", "RECORDS", "TaskSpec", "evaluate_lines", "key_lines", "read_files"]

# Spark DDL schemas of the steps' outputs.
LINES = "rank INT, file STRING, line BIGINT, format STRING, value BINARY, bad STRING, unreadable BOOLEAN"
KEYED = f"{LINES}, pkey STRING, ts BIGINT"
RECORDS = "rank INT, file STRING, line BIGINT, timestamp BIGINT, date STRING, action STRING, record STRING"

_LINE_CHUNK = 1 << 30  # one chunk per file: `read_chunks` cuts nothing here, the batch does


def read_files(
    batches: Iterable[pa.RecordBatch], names: dict[str, tuple[int, str]], fmt: str, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """binaryFile rows (path, content) -> record lines; `names` maps a path to (rank, display name)."""
    import pyarrow as pa

    columns: dict[str, list[Any]] = {k: [] for k in ("rank", "file", "line", "format", "value", "bad")}
    columns["unreadable"] = []

    def flush() -> pa.RecordBatch:
        batch = pa.RecordBatch.from_pydict(columns, schema=_lines_schema())
        for values in columns.values():
            values.clear()
        return batch

    for batch in batches:
        for path, content in zip(
            batch.column("path").to_pylist(), batch.column("content").to_pylist(), strict=True
        ):
            rank, name = names.get(path, (len(names), path))

            def opened(report: Any, name: str = name, content: bytes = content) -> Any:
                return [(name, lines_of_bytes(name, content, report))]

            for chunk in read_chunks([name], fmt, _LINE_CHUNK, sources=opened):
                for part in chunk:
                    if type(part) is tuple:
                        key, source, numbers, raws = part  # type: ignore[misc]
                        for number, raw in zip(numbers, raws, strict=True):
                            _append(columns, rank, source, number, key, raw, None, False)
                            if len(columns["line"]) >= batch_rows:
                                yield flush()
                    else:
                        bad: BadLine = part  # type: ignore[assignment]
                        unreadable = type(bad) is UnreadableInput
                        _append(
                            columns, rank, bad.file or name, bad.line, None, None, bad.message, unreadable
                        )
    if columns["line"]:
        yield flush()


def _append(
    columns: dict[str, list[Any]],
    rank: int,
    source: str,
    line: int | None,
    fmt: str | None,
    raw: bytes | None,
    bad: str | None,
    unreadable: bool,
) -> None:
    columns["rank"].append(rank)
    columns["file"].append(source)
    columns["line"].append(line)
    columns["format"].append(fmt)
    columns["value"].append(raw)
    columns["bad"].append(bad)
    columns["unreadable"].append(unreadable)


def _lines_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("rank", pa.int32()),
            ("file", pa.string()),
            ("line", pa.int64()),
            ("format", pa.string()),
            ("value", pa.binary()),
            ("bad", pa.string()),
            ("unreadable", pa.bool_()),
        ]
    )


def key_lines(batches: Iterable[pa.RecordBatch], component: str) -> Iterator[pa.RecordBatch]:
    """Add `pkey` (the rate-key component's value, None when absent or a bad line) and `ts`."""
    import pyarrow as pa

    for batch in batches:
        keys: list[str | None] = []
        stamps: list[int | None] = []
        for fmt, source, number, raw in zip(
            batch.column("format").to_pylist(),
            batch.column("file").to_pylist(),
            batch.column("line").to_pylist(),
            batch.column("value").to_pylist(),
            strict=True,
        ):
            found = None if fmt is None else request_of(fmt, source, number, raw)
            if found is None:
                keys.append(None)
                stamps.append(None)
            else:
                keys.append(partition_value(found[0], component))
                stamps.append(found[1])
        yield pa.RecordBatch.from_arrays(
            [*batch.columns, pa.array(keys, pa.string()), pa.array(stamps, pa.int64())],
            names=[*batch.schema.names, "pkey", "ts"],
        )


class TaskSpec:
    """What every evaluating task needs: the web ACL, the options, where the partials go."""

    def __init__(
        self,
        source: AclSource,
        options: ReplayOptions,
        partials: Any,
        compare: tuple[int, tuple[str, ...]] | None,
        top_capacity: int,
    ) -> None:
        self.source = source
        self.options = options
        self.partials = partials  # a Spark accumulator of {partition id: pickled partials}
        self.compare = compare
        self.top_capacity = top_capacity


def evaluate_lines(batches: Iterable[pa.RecordBatch], spec: TaskSpec) -> Iterator[pa.RecordBatch]:
    """Record lines (ordered as they come) -> AWS WAF log records; the task's summary to the accumulator.

    A fresh rate counter per task, and per value of the partition key when lines are keyed: each
    key's requests are all in this task, in order, and no count leaks from an earlier task.
    """
    import pyarrow as pa
    from pyspark import TaskContext

    before = compiled_count()
    evaluator = compiled(spec.source, spec.options)
    fresh = compiled_count() > before  # this task compiled the web ACL (its process had not)
    services = evaluator.acl.services
    services.rate_counter = MemoryRateCounter()
    summary = Summary(top_capacity=spec.top_capacity)
    comparison = (
        None if spec.compare is None else Comparison(examples=spec.compare[0], rule_names=spec.compare[1])
    )
    ranks: dict[str, int] = {}
    position = position_of(ranks)
    current: object = _NO_KEY
    for batch in batches:
        names = batch.schema.names
        columns = [
            batch.column(n).to_pylist()
            for n in ("rank", "file", "line", "format", "value", "bad", "unreadable")
        ]
        pkeys = batch.column("pkey").to_pylist() if "pkey" in names else None
        outcomes: list[Outcome | BadLine] = []
        chunk: Chunk = []
        filtered = 0
        for i, (rank, source, number, fmt, raw, bad, unreadable) in enumerate(zip(*columns, strict=True)):
            ranks.setdefault(source, rank)
            if pkeys is not None and pkeys[i] != current:
                filtered += _run(evaluator, chunk, outcomes)
                chunk = []
                current = pkeys[i]
                services.rate_counter = MemoryRateCounter()  # the previous key's requests are done
            if bad is not None:
                chunk.append((UnreadableInput if unreadable else BadLine)(bad, source, number))
                continue
            last: Any = chunk[-1] if chunk else None
            if type(last) is tuple and last[0] == fmt and last[1] == source:
                last[2].append(number)
                last[3].append(raw)
            else:
                chunk.append((fmt, source, [number], [raw]))
        filtered += _run(evaluator, chunk, outcomes)
        yield _records(outcomes, ranks, pa)
        part = Summary(top_capacity=spec.top_capacity)
        part_comparison = (
            None
            if comparison is None
            else Comparison(examples=comparison.max_examples, rule_names=comparison.rule_names)
        )
        _count(outcomes, part, part_comparison, position)
        part.filtered = filtered
        merge_in_order(summary, part, position)
        if comparison is not None and part_comparison is not None:
            merge_comparison_in_order(comparison, part_comparison, position)
    context = TaskContext.get()
    partition = context.partitionId() if context is not None else 0
    spec.partials.add({partition: pickle.dumps((summary, comparison, ranks, fresh))})


_NO_KEY = object()
_LINE_NAMES = ("rank", "file", "line", "format", "value", "bad", "unreadable")


def _run(evaluator: Any, chunk: Chunk, outcomes: list[Outcome | BadLine]) -> int:
    if not chunk:
        return 0
    items, filtered = evaluator.run(chunk)
    outcomes.extend(items)
    return int(filtered)


def _count(
    items: list[Outcome | BadLine],
    summary: Summary,
    comparison: Comparison | None,
    position: Callable[[str | None, int | None], tuple[int, str, int]],
) -> None:
    """Add the batch's results in input order: its summary keeps the first examples of its part."""

    def where(item: Outcome | BadLine) -> tuple[int, str, int]:
        if isinstance(item, BadLine):
            return position(item.file, item.line)
        return position(item.source, item.line)

    ordered = sorted(items, key=where)
    for item in ordered:
        if type(item) is Outcome:
            summary.add(item)
            if comparison is not None:
                comparison.add(item)
        else:
            summary.add_bad(item)  # type: ignore[arg-type]


def _records(items: list[Outcome | BadLine], ranks: dict[str, int], pa: Any) -> pa.RecordBatch:
    columns: dict[str, list[Any]] = {
        k: [] for k in ("rank", "file", "line", "timestamp", "date", "action", "record")
    }
    for item in items:
        if type(item) is not Outcome or item.record is None:
            continue
        ts = item.timestamp_ms
        columns["rank"].append(ranks.get(item.source, -1))
        columns["file"].append(item.source)
        columns["line"].append(item.line)
        columns["timestamp"].append(ts)
        columns["date"].append(None if ts is None else time.strftime("%Y-%m-%d", time.gmtime(ts / 1000)))
        columns["action"].append(item.action)
        columns["record"].append(item.record.decode("utf-8"))
    schema = pa.schema(
        [
            ("rank", pa.int32()),
            ("file", pa.string()),
            ("line", pa.int64()),
            ("timestamp", pa.int64()),
            ("date", pa.string()),
            ("action", pa.string()),
            ("record", pa.string()),
        ]
    )
    return pa.RecordBatch.from_pydict(columns, schema=schema)
