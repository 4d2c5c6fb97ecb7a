"""`--workers` with rate-based rules: each worker process owns the requests of some rate keys.

When every rate-based rule of the web ACL keys on one component read before evaluating (client
IP, a forwarded IP: `wafpy.replay.partition`), the replay runs one process per partition. The main
process reads the input in chunks, as in one process, and hands every chunk to every partition
process; partition `p` decodes each line, keeps those whose component value hashes to `p` and
evaluates them in input order with its own rate counter, so each key's requests are counted by
one counter in input order -- what one process does. It returns its records with their place in
the chunk and its own summary of them; the main process puts the records back in input order and
merges the summaries keeping the first examples in input order (`wafpy.replay.ordered`). The
output is byte for byte that of one process.

Each line is decoded by every partition process (to know whose it is) and evaluated by one:
evaluating costs several times what decoding does, so two processes still go faster than one.
Bad lines are counted by partition 0. The processes are forked with the compiled web ACL, as
the workers of `wafpy.replay.pool` are, one pool of one process per partition.
"""

from __future__ import annotations

import contextlib
import functools
import zlib
from collections.abc import Callable, Generator, Iterator
from typing import Any

from wafpy.replay import pool
from wafpy.replay.chunks import Chunk
from wafpy.replay.compare import Comparison
from wafpy.replay.evaluator import request_of
from wafpy.replay.ordered import merge_comparison_in_order, merge_in_order, position_of
from wafpy.replay.outcome import Outcome, ReplayOptions
from wafpy.replay.partition import partition_value
from wafpy.replay.summary import Summary
from wafpy.replay.workers import Task, WorkerPool
from wafpy.webacl import WebACL

__all__ = ["keyed_batches", "owner", "work_partition"]

Result = tuple[list[tuple[int, bytes]], int, int, Summary, Comparison | None]


def owner(value: str | None, parts: int) -> int:
    """The partition of a component value (stable across processes: not Python's salted hash)."""
    return 0 if value is None else zlib.crc32(value.encode("utf-8", "surrogatepass")) % parts


def work_partition(
    task: tuple[Chunk, int, int, str],
    top_capacity: int,
    compare: tuple[int, tuple[str, ...]] | None,
) -> Result:
    """In partition process `part`: the lines of `chunk` it owns, evaluated in input order.

    Returns (place in the chunk, record) pairs, the number replayed and filtered, and the summary
    (and comparison) of those lines.
    """
    chunk, part, parts, component = task
    evaluator = pool._WORKER
    assert evaluator is not None, "worker not initialised"
    summary = Summary(top_capacity=top_capacity)
    comparison = None if compare is None else Comparison(examples=compare[0], rule_names=compare[1])
    records: list[tuple[int, bytes]] = []
    replayed = filtered = place = 0
    for item in chunk:
        if type(item) is not tuple:  # a line that could not be read: partition 0 counts it
            if part == 0:
                summary.add_bad(item)  # type: ignore[arg-type]
            place += 1
            continue
        key, source, numbers, raws = item  # type: ignore[misc]
        for number, raw in zip(numbers, raws, strict=True):
            found = request_of(key, source, number, raw)
            value = None if found is None else partition_value(found[0], component)
            if owner(value, parts) == part:
                result = evaluator.line(key, source, number, raw)
                if result is None:
                    filtered += 1
                elif type(result) is Outcome:
                    summary.add(result)
                    if comparison is not None:
                        comparison.add(result)
                    if result.record is not None:
                        records.append((place, result.record))
                    replayed += 1
                else:
                    summary.add_bad(result)  # type: ignore[arg-type]
            place += 1
    return records, replayed, filtered, summary, comparison


def keyed_batches(
    acl: WebACL,
    options: ReplayOptions,
    chunks: Iterator[Chunk],
    component: str,
    summary: Summary,
    comparison: Comparison | None,
    *,
    loader: Callable[[], WebACL] | None = None,
    warn: Callable[[str], None] | None = None,
) -> Generator[tuple[bytes, int, int], None, None]:
    """(records, replayed, filtered) per chunk, in input order, counted into `summary`."""
    parts = max(1, options.workers)
    compare = None if comparison is None else (comparison.max_examples, comparison.rule_names)
    args = (summary.labels.capacity, compare)
    queues: list[list[Chunk]] = [[] for _ in range(parts)]
    files: list[dict[str, int]] = []  # per chunk read and not merged yet: its files' order

    def feed(part: int) -> Iterator[Task]:
        # Each partition's tasks: the chunks in order, read once for all partitions.
        while True:
            if not queues[part]:
                chunk = next(chunks, None)
                if chunk is None:
                    return
                for queue in queues:
                    queue.append(chunk)
                ranks: dict[str, int] = {}
                for item in chunk:
                    name = item[1] if type(item) is tuple else item.file  # type: ignore[union-attr]
                    ranks.setdefault(name or "", len(ranks))
                files.append(ranks)
            chunk = queues[part].pop(0)
            yield Task(work_partition, (chunk, part, parts, component), f"partition {part}")

    with contextlib.ExitStack() as stack:
        streams = [
            stack.enter_context(contextlib.closing(_one_process(acl, options, feed(p), args, loader, warn)))
            for p in range(parts)
        ]
        while True:
            results: list[Result] = []
            for stream in streams:
                got = next(stream, None)
                if got is None:
                    return
                results.append(got[1])
            placed = sorted((pair for result in results for pair in result[0]), key=lambda pair: pair[0])
            ranks = files.pop(0)
            part_summary = Summary(top_capacity=summary.labels.capacity)
            part_comparison = None
            if comparison is not None:
                part_comparison = Comparison(
                    examples=comparison.max_examples, rule_names=comparison.rule_names
                )
            position = position_of(ranks)
            replayed = filtered = 0
            for _, done, left_out, their_summary, their_comparison in results:
                merge_in_order(part_summary, their_summary, position)
                if part_comparison is not None and their_comparison is not None:
                    merge_comparison_in_order(part_comparison, their_comparison, position)
                replayed += done
                filtered += left_out
            summary.merge(part_summary)
            if comparison is not None and part_comparison is not None:
                comparison.merge(part_comparison)
            yield b"".join(record + b"\n" for _, record in placed), replayed, filtered


def _one_process(
    acl: WebACL,
    options: ReplayOptions,
    tasks: Iterator[Task],
    args: tuple[Any, ...],
    loader: Callable[[], WebACL] | None,
    warn: Callable[[str], None] | None,
) -> Generator[tuple[Any, Any], None, None]:
    """One partition's process (a pool of one, replaced if it dies), its results in order."""
    context, evaluator = pool.worker_context(acl, options, loader)
    workers = WorkerPool(
        context,
        1,
        pool._init_worker,
        (loader or pool._no_loader, options),
        prepare=functools.partial(pool._handing_down, evaluator),
        warn=warn,
    )
    return workers.imap(tasks, args, window=2)
