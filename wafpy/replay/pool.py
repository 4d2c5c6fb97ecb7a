"""The replay in worker processes: what each worker runs, and the pool that runs it.

`wafpy.replay.workers` keeps the processes (one task each at a time, a death noticed and its
task run again once); here are the tasks of a replay and the state of a worker. Each worker has
its own `Evaluator`: a forked worker inherits the main process's (no second load of the web ACL,
no pickling of closures), a spawned one builds it with the picklable `loader`. A task is a chunk
(`work_chunk`: its outcomes, for iteration), a chunk counted into a summary of its own
(`work_batch`), a byte range of a plain file that the worker reads itself (`work_range`: its
records go to a file, only its counts come back through the pipe), or a whole input that the
worker reads itself, an object in S3 (`work_input`, likewise).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import multiprocessing
import os
from collections.abc import Callable, Generator, Iterator
from typing import Any

from wafpy.logs.records import LoggedOutcome
from wafpy.replay.chunks import Chunk, range_lines, read_chunks, run_format
from wafpy.replay.compare import Comparison
from wafpy.replay.evaluator import Evaluator
from wafpy.replay.outcome import BadLine, Outcome, ReplayOptions, UnreadableInput
from wafpy.replay.summary import Summary
from wafpy.replay.workers import Task, WorkerPool
from wafpy.webacl import WebACL

__all__ = ["from_worker", "run_tasks", "work_batch", "work_chunk", "work_input", "work_range"]


# Worker-process state: set by the initializer (spawn) or inherited from the parent (fork).
_WORKER: Evaluator | None = None


def _init_worker(loader: Callable[[], WebACL], options: ReplayOptions) -> None:
    global _WORKER
    if _WORKER is None:
        _WORKER = Evaluator(loader(), options)


def work_chunk(chunk: Chunk) -> tuple[list[Any], int]:
    """A chunk in a worker: its results (outcomes packed for the pipe, see `from_worker`)."""
    assert _WORKER is not None, "worker not initialised"
    results, filtered = _WORKER.run(chunk)
    items: list[Any] = list(results)
    # Pickling a slotted dataclass goes through Python-level __getstate__/__setstate__, which cost
    # more than the rest of the outcome: ship the logged outcome as a plain tuple instead.
    for i, item in enumerate(items):
        if type(item) is Outcome and item.logged is not None:
            items[i] = (*item[:-3], _logged_fields(item.logged), item.record, item.undetermined)
    return items, filtered


def work_batch(
    chunk: Chunk, top_capacity: int, compare: tuple[int, tuple[str, ...]] | None, strict: bool
) -> tuple[bytes, int, int, BadLine | None, Summary, Comparison | None]:
    """A whole chunk in a worker: its records, ready to write, and its own summary to merge."""
    assert _WORKER is not None, "worker not initialised"
    summary = Summary(top_capacity=top_capacity)
    comparison = None if compare is None else Comparison(examples=compare[0], rule_names=compare[1])
    records, replayed, filtered, stopped = _WORKER.process(chunk, summary, comparison, strict)
    return records, replayed, filtered, stopped, summary, comparison


def work_range(
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
        lines: Iterator[tuple[int, bytes]] = range_lines(data, line)
        join = run_format(key).join
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


def work_input(
    task: tuple[str, str, int, str | None],
    top_capacity: int,
    compare: tuple[int, tuple[str, ...]] | None,
    strict: bool,
) -> tuple[str | None, int, int, BadLine | None, Summary, Comparison | None]:
    """A whole input read here (an S3 object: each worker fetches its own, so the downloads of
    several objects overlap): chunk by chunk, as `read_chunks` reads it in the main process, its
    records to a file of `out_dir`, its counts into a summary of its own. A read error is a
    `BadLine` or `UnreadableInput` in that summary, as in one process."""
    path, fmt, chunk_lines, out_path = task
    assert _WORKER is not None, "worker not initialised"
    summary = Summary(top_capacity=top_capacity)
    comparison = None if compare is None else Comparison(examples=compare[0], rule_names=compare[1])
    replayed = filtered = 0
    stopped: BadLine | None = None
    written = None
    with contextlib.ExitStack() as stack:
        out = None if out_path is None else stack.enter_context(open(out_path, "wb"))
        for chunk in read_chunks([path], fmt, chunk_lines):
            records, done, left_out, stopped = _WORKER.process(chunk, summary, comparison, strict)
            replayed += done
            filtered += left_out
            if records and out is not None:
                out.write(records)
                written = out_path
            if stopped is not None:
                break
    return written, replayed, filtered, stopped, summary, comparison


_REST = "; nothing from this line on is replayed"


def _range_failed(
    failure: UnreadableInput, summary: Summary, comparison: Comparison | None, strict: bool
) -> tuple[None, int, int, BadLine | None, Summary, Comparison | None]:
    if strict:
        return None, 0, 0, failure, summary, comparison
    summary.add_bad(failure)
    return None, 0, 0, None, summary, comparison


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


def from_worker(items: list[Any]) -> list[Outcome | BadLine]:
    """The results of `work_chunk` as they were in the worker (unpacked in place)."""
    for i, item in enumerate(items):
        if type(item) is tuple:
            items[i] = Outcome._make((*item[:-3], LoggedOutcome(*item[-3]), *item[-2:]))
    return items


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


def _no_loader() -> WebACL:
    raise RuntimeError("the web ACL was not inherited by the worker and no loader was given")


def worker_context(
    acl: WebACL, options: ReplayOptions, loader: Callable[[], WebACL] | None
) -> tuple[Any, Evaluator | None]:
    """The multiprocessing context for workers, and the evaluator forked workers inherit.

    Forked workers inherit the compiled ACL (no second load, no pickling of closures); where
    there is no fork, each spawned worker rebuilds it with `loader`.
    """
    fork = "fork" in multiprocessing.get_all_start_methods()
    if not fork and loader is None:
        raise ValueError("workers > 1 needs a picklable loader on platforms without fork")
    context = multiprocessing.get_context("fork" if fork else "spawn")
    return context, (Evaluator(acl, options) if fork else None)


def run_tasks(
    acl: WebACL,
    options: ReplayOptions,
    workers: int,
    tasks: Iterator[Task],
    args: tuple[Any, ...],
    *,
    loader: Callable[[], WebACL] | None = None,
    warn: Callable[[str], None] | None = None,
) -> Generator[tuple[Any, Any], None, None]:
    """(task.key, `task.work(task.payload, *args)`) for every task, in `workers` processes, in order.

    `loader` rebuilds the web ACL in a spawned worker (platforms without fork); `warn` receives
    the message when a task is run again after its worker died.
    """
    context, evaluator = worker_context(acl, options, loader)
    pool = WorkerPool(
        context,
        workers,
        _init_worker,
        (loader or _no_loader, options),
        prepare=functools.partial(_handing_down, evaluator),
        warn=warn,
    )
    # At most 2 * workers + 2 tasks read ahead: memory stays bounded whatever the input.
    return pool.imap(tasks, args, window=2 * workers + 2)
