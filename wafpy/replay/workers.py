"""Worker processes for `wafpy eval --workers`: results in input order, and no hang when one dies.

`multiprocessing.Pool` does not do here: when one of its workers is killed (`kill -9`, the
kernel's OOM killer) it quietly starts another, and the task the dead one held never completes,
so the caller waits forever. Here each worker has a pipe of its own each way and holds at most
one task at a time, and the main process waits on the result pipes and on the processes
themselves (their sentinels), so it learns at once that a worker died and which task it held.

What happens then:

- the task the dead worker held is run again, once, in a new worker. Evaluation is
  deterministic, so the result is the one the first run would have given, and the output stays
  byte for byte what one process writes;
- if that second run dies too, `WorkerDied` is raised, naming the task (file, byte or line
  range): something in that part of the input kills workers (usually its memory), and a third
  run would not do better. Results before that task have been handed out, none after it.

A worker is started when there is a task for it, and is given that task at once, so every
death is charged to a task and a worker that cannot even start cannot make the pool loop.

The main process only ever writes to a worker that holds no task (so is reading, or starting
up), and reads results whenever it waits; neither side can block the other for good.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import traceback
from collections import deque
from collections.abc import Callable, Generator, Iterable
from multiprocessing import connection
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from multiprocessing.reduction import ForkingPickler
from typing import Any, NamedTuple

from wafpy.errors import WafpyError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["Task", "WorkerDied", "WorkerPool"]

_log = logging.getLogger("wafpy.replay")

_DONE, _FAILED = 0, 1
_STOP = b""  # the message that tells an idle worker to exit
_PIPE_BYTES = 1 << 20


class WorkerDied(WafpyError):
    """A worker process died a second time on the same task; the replay stopped there."""


class Task(NamedTuple):
    """`work(payload, *args)` in a worker; `label` says where in the input it is, for messages."""

    work: Callable[..., Any]
    payload: Any
    label: str  # e.g. "logs/a.jsonl, bytes 0-4194303, lines 1-9000"
    key: Any = None  # handed back with the result


class _Pending:
    """A task between its creation and the hand-out of its result (pickled once, for reruns)."""

    __slots__ = ("deaths", "key", "label", "message")

    def __init__(self, message: Any, label: str, key: Any) -> None:
        self.message = message
        self.label = label
        self.key = key
        self.deaths = 0


class _Worker:
    __slots__ = ("process", "results", "task", "tasks")

    def __init__(self, process: BaseProcess, tasks: Connection, results: Connection) -> None:
        self.process = process
        self.tasks = tasks  # main -> worker
        self.results = results  # worker -> main
        self.task: int | None = None  # the number of the task it holds


class WorkerPool:
    """`workers` processes running `Task`s; `imap` gives the results in task order.

    `initializer(*initargs)` runs once in each worker before its first task. `prepare` is
    entered around each process start (the caller uses it to hand state to forked workers);
    `warn` receives the message when a task is run again after its worker died.
    """

    def __init__(
        self,
        context: BaseContext,
        workers: int,
        initializer: Callable[..., None],
        initargs: tuple[Any, ...],
        *,
        prepare: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self._context = context
        self._size = max(1, workers)
        self._initializer = initializer
        self._initargs = initargs
        self._prepare = prepare
        self._warn = warn or _log.warning
        self._workers: list[_Worker] = []

    def imap(
        self, tasks: Iterable[Task], args: tuple[Any, ...], window: int
    ) -> Generator[tuple[Any, Any], None, None]:
        """(task.key, result) for every task, in task order.

        At most `window` tasks are read ahead of the result handed out last. Leaving early
        (closing the generator, an exception) terminates the workers; a task that raised
        re-raises its exception here.
        """
        source = iter(tasks)
        pending: dict[int, _Pending] = {}
        done: dict[int, Any] = {}
        ready: deque[int] = deque()  # tasks waiting for a worker, in order
        head = created = 0
        exhausted = finished = False
        try:
            # All at once before any task is read: the first workers inherit no input file.
            while len(self._workers) < self._size:
                self._start()
            while True:
                self._dispatch(ready, pending)
                if head in done:
                    key = pending.pop(head).key
                    value = done.pop(head)
                    head += 1
                    yield key, value
                    continue
                if not exhausted and created - head < window:
                    try:
                        task = next(source)
                    except StopIteration:
                        exhausted = True
                    else:
                        message = ForkingPickler.dumps((task.work, task.payload, args))
                        pending[created] = _Pending(message, task.label, task.key)
                        ready.append(created)
                        created += 1
                    continue
                if exhausted and head == created:
                    finished = True
                    return
                self._wait(pending, done, ready)
        finally:
            self._shutdown(graceful=finished)

    def _start(self) -> _Worker:
        task_reader, task_writer = self._context.Pipe(duplex=False)
        result_reader, result_writer = self._context.Pipe(duplex=False)
        # A forked worker also inherits the main process's ends of its own pipes: it closes them,
        # or it would never read end-of-file on its task pipe should the main process be killed.
        fork = self._context.get_start_method() == "fork"
        inherited = (task_writer.fileno(), result_reader.fileno()) if fork else ()
        process = self._context.Process(  # type: ignore[attr-defined]
            target=_serve,
            args=(task_reader, result_writer, inherited, self._initializer, self._initargs),
            daemon=True,  # ended with the main process when it exits normally
        )
        with self._prepare():
            process.start()
        # The worker's ends live in the worker only: its death then reads as end-of-file here.
        task_reader.close()
        result_writer.close()
        _widen_pipe(task_writer)
        _widen_pipe(result_reader)
        worker = _Worker(process, task_writer, result_reader)
        self._workers.append(worker)
        return worker

    def _dispatch(self, ready: deque[int], pending: dict[int, _Pending]) -> None:
        """Hand waiting tasks to idle workers, starting workers (up to the size) for the rest."""
        idle = [w for w in self._workers if w.task is None]
        while ready:
            if idle:
                worker = idle.pop(0)
            elif len(self._workers) < self._size:
                worker = self._start()
            else:
                return
            number = ready.popleft()
            try:
                worker.tasks.send_bytes(pending[number].message)
            except OSError:  # it died (broken pipe): its sentinel tells how, in _wait
                ready.appendleft(number)
                continue
            worker.task = number

    def _wait(self, pending: dict[int, _Pending], done: dict[int, Any], ready: deque[int]) -> None:
        """Wait for a result or a death, and take in every one there is."""
        if not self._workers:
            # Cannot happen (tasks not done are held, or waiting while workers start or are
            # buried); waiting on nothing would be a hang.
            raise RuntimeError("replay workers: waiting for results with no worker")
        owners: dict[Any, _Worker] = {}
        for worker in self._workers:
            owners[worker.results] = worker
            owners[worker.process.sentinel] = worker
        signalled = connection.wait(list(owners))
        touched = [w for w in self._workers if w.results in signalled or w.process.sentinel in signalled]
        for worker in touched:
            alive = self._receive(worker, done)
            if not alive or worker.process.sentinel in signalled:
                self._bury(worker, pending, ready)

    def _receive(self, worker: _Worker, done: dict[int, Any]) -> bool:
        """Take the worker's result if there is one; False when its pipe reached end-of-file."""
        try:
            if not worker.results.poll():
                return True
            status, value = worker.results.recv()
        except (EOFError, OSError):  # died, possibly in the middle of sending
            return False
        if status == _FAILED:
            raise value
        if worker.task is not None:
            done[worker.task] = value
            worker.task = None
        return True

    def _bury(self, worker: _Worker, pending: dict[int, _Pending], ready: deque[int]) -> None:
        """A worker died: its task, if it held one, is run again, or, the second time, stops all."""
        self._workers.remove(worker)
        process = worker.process
        process.join(5)
        if process.exitcode is None:  # its pipe is closed yet it lives on: end it
            process.kill()
            process.join()
        worker.tasks.close()
        worker.results.close()
        if worker.task is None:
            return  # nothing was lost; a new worker starts when a task needs one
        task = pending[worker.task]
        task.deaths += 1
        how = _how_it_ended(process.exitcode)
        if task.deaths > 1:
            raise WorkerDied(
                f"a worker process {how} while replaying {task.label}, for the second time: "
                "stopped there (the output holds what comes before it)"
            )
        self._warn(f"a worker process {how} while replaying {task.label}; replaying that part again")
        ready.appendleft(worker.task)

    def _shutdown(self, graceful: bool) -> None:
        workers, self._workers = self._workers, []
        for worker in workers:
            if graceful:
                with contextlib.suppress(OSError):
                    worker.tasks.send_bytes(_STOP)
            else:
                worker.process.terminate()
        for worker in workers:
            worker.process.join(10 if graceful else 5)
            if worker.process.exitcode is None:
                worker.process.kill()
                worker.process.join()
            worker.tasks.close()
            worker.results.close()


def _how_it_ended(exitcode: int | None) -> str:
    if exitcode is None:
        return "stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if name == "SIGKILL":
            return "was killed by SIGKILL (out of memory, or kill -9)"
        return f"was killed by {name}"
    return f"exited with status {exitcode}"


def _serve(
    tasks: Connection,
    results: Connection,
    inherited: tuple[int, ...],
    initializer: Callable[..., None],
    initargs: tuple[Any, ...],
) -> None:
    """A worker's life: initialise, then run one task at a time until told to stop."""
    for fd in inherited:
        with contextlib.suppress(OSError):
            os.close(fd)
    # Ctrl-C reaches the whole process group; the main process handles it and ends the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        initializer(*initargs)
    except BaseException as exc:
        _reply(results, (_FAILED, _with_traceback(exc)))
        return
    while True:
        try:
            message = tasks.recv_bytes()
        except (EOFError, OSError):  # the main process is gone
            return
        if message == _STOP:
            return
        try:
            work, payload, args = ForkingPickler.loads(message)
            del message
            reply: tuple[int, Any] = (_DONE, work(payload, *args))
        except BaseException as exc:
            reply = (_FAILED, _with_traceback(exc))
        payload = None
        _reply(results, reply)
        reply = (_DONE, None)


def _with_traceback(exc: BaseException) -> BaseException:
    """wafpy's own errors speak for themselves; anything else (a bug) keeps where it happened."""
    if not isinstance(exc, WafpyError):
        exc.add_note("in a worker process:\n" + "".join(traceback.format_exception(exc)).rstrip())
    return exc


def _reply(results: Connection, reply: tuple[int, Any]) -> None:
    try:
        data = ForkingPickler.dumps(reply)
    except Exception as exc:  # an exception that cannot be pickled: send what it said
        data = ForkingPickler.dumps((_FAILED, RuntimeError(f"{reply[1]!r} (not picklable: {exc})")))
    with contextlib.suppress(OSError):
        results.send_bytes(data)


def _widen_pipe(end: Connection) -> None:
    """Give a pipe 1 MiB instead of 64 KiB where Linux allows it (best effort).

    Tasks and results are megabytes; through 64 KiB pipes each costs dozens of blocking writes
    and wake-ups, which showed as system time in the main process.
    """
    setpipe = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if setpipe is None:
        return
    with contextlib.suppress(OSError, ValueError):
        fcntl.fcntl(end.fileno(), setpipe, _PIPE_BYTES)
