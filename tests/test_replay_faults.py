"""`wafpy eval` under faults: a worker killed mid-run, an input removed mid-run, a truncated gzip.

Workers are real processes, killed with SIGKILL as the OOM killer would: `wafpy eval` workers
from the outside, told apart by what they hold open (a worker replaying a byte range of a plain
file keeps that file open until its range is done); the pool's own workers by the task they
run. No test here depends on how fast the machine is: each waits for a state (a worker holding
the input), never for a number of seconds, and the time limits only turn a hang into a failure.
"""

from __future__ import annotations

import gzip
import io
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.replay_fixtures import T0, acl_document, run_cli, waf_record, write_acl
from tests.shared import ROOT
from wafpy.replay import Replay, ReplayOptions, UnreadableInput
from wafpy.replay.summary import Summary
from wafpy.replay.workers import Task, WorkerDied, WorkerPool
from wafpy.webacl import load_web_acl

pytestmark = pytest.mark.slow  # worker processes killed and replaced

EXIT_INPUT, EXIT_WORKER = 4, 5
RANGE = 4 << 20  # the bytes of a plain file per worker task (ReplayOptions.range_bytes)
HANG = 300  # seconds: a run still going after this has hung

needs_proc = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")


def write_log(path: Path, size: int) -> Path:
    """Small AWS WAF records (many requests per byte, so each range keeps a worker busy)."""
    uris = ["/", "/admin/x", "/login", "/products", "/api/items"]
    with open(path, "w") as out:
        i = 0
        while out.tell() < size:
            record = waf_record(i, uris[i % len(uris)], ts=T0 + i)
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
            i += 1
    return path


def eval_args(acl: Path, logs: Path | list[Path], out: Path, *extra: str) -> list[str]:
    paths = [str(log) for log in (logs if isinstance(logs, list) else [logs])]
    return ["eval", str(acl), *paths, "--search-string", "text", "-q", "-o", str(out), *extra]


def start_eval(args: list[str], tmp_path: Path) -> subprocess.Popen[bytes]:
    """`wafpy ARGS` in a process of its own (its stderr goes to tmp_path / "stderr")."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "250"}
    code = "import sys; from wafpy.cli.main import main; sys.exit(main())"
    with open(tmp_path / "stderr", "wb") as stderr:
        return subprocess.Popen([sys.executable, "-c", code, *args], stderr=stderr, env=env)


def finish(process: subprocess.Popen[bytes], tmp_path: Path) -> tuple[int, str]:
    try:
        code = process.wait(timeout=HANG)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"wafpy eval hung (no exit after {HANG} s)")
    return code, (tmp_path / "stderr").read_text()


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def holds_open(pid: int, path: Path) -> bool:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                return True
        except OSError:
            continue
    return False


def busy_workers(process: subprocess.Popen[bytes], log: Path) -> list[int]:
    """Workers of `process` replaying a range of `log` right now (waits until there is one)."""
    deadline = time.monotonic() + HANG
    while process.poll() is None and time.monotonic() < deadline:
        busy = [pid for pid in children(process.pid) if holds_open(pid, log)]
        if busy:
            return busy
        time.sleep(0.002)
    return []


@pytest.fixture
def acl(tmp_path: Path) -> Path:
    return write_acl(tmp_path / "acl.json")


@needs_proc
def test_a_worker_killed_mid_range_is_replaced_and_its_range_replayed(
    acl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write_log(tmp_path / "waf.jsonl", 3 * RANGE - 1000)
    expected = tmp_path / "one.jsonl"
    code, _, _ = run_cli(eval_args(acl, log, expected), capsys)
    assert code == 0
    out = tmp_path / "two.jsonl"
    process = start_eval(eval_args(acl, log, out, "--workers", "2"), tmp_path)
    victim = busy_workers(process, log)
    assert victim, "no worker was seen replaying the file"
    os.kill(victim[0], signal.SIGKILL)
    code, stderr = finish(process, tmp_path)
    assert code == 0, stderr
    assert out.read_bytes() == expected.read_bytes()
    warning = [line for line in stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1, stderr
    assert "killed by SIGKILL" in warning[0] and f"{log}, bytes " in warning[0] and ", lines " in warning[0]
    assert "again" in warning[0] and "Traceback" not in stderr


@needs_proc
def test_a_range_that_kills_its_worker_twice_stops_the_run_with_exit_5(acl: Path, tmp_path: Path) -> None:
    log = write_log(tmp_path / "waf.jsonl", 2 * RANGE)
    process = start_eval(eval_args(acl, log, tmp_path / "out.jsonl", "--workers", "2"), tmp_path)
    while process.poll() is None:  # every worker that takes a range dies, as under memory pressure
        for pid in busy_workers(process, log):
            os.kill(pid, signal.SIGKILL)
    code, stderr = finish(process, tmp_path)
    assert code == EXIT_WORKER, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    assert "killed by SIGKILL" in errors[0] and f"{log}, bytes " in errors[0]
    assert "second time" in errors[0]


@needs_proc
def test_an_input_removed_mid_run_is_one_clear_error(acl: Path, tmp_path: Path) -> None:
    log = write_log(tmp_path / "waf.jsonl", 4 * RANGE - 1000)
    process = start_eval(eval_args(acl, log, tmp_path / "out.jsonl", "--workers", "2"), tmp_path)
    assert busy_workers(process, log), "no worker was seen replaying the file"
    log.unlink()  # at most two of its four ranges have been started
    code, stderr = finish(process, tmp_path)
    assert code == EXIT_INPUT, stderr
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert str(log) in errors[0] and "removed" in errors[0]


def _remove(log: Path) -> None:
    log.unlink()


def _replace(log: Path) -> None:
    other = log.with_name("other.jsonl")
    other.write_bytes(log.read_bytes())  # the same bytes, but another file
    os.replace(other, log)


def _shorten(log: Path) -> None:
    os.truncate(log, log.stat().st_size // 2)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (_remove, "removed or renamed during the replay"),
        (_replace, "replaced by another file"),
        (_shorten, "shortened"),
    ],
)
def test_a_file_changed_under_the_workers_gives_one_error_and_a_prefix_of_the_output(
    tmp_path: Path, change: Callable[[Path], None], said: str
) -> None:
    """Library view: ranges handed out after the change fail; the first failure is reported
    once, at the first line not replayed, and nothing of the file after it is written."""
    acl = load_web_acl(acl_document(), search_string="text")
    log = write_log(tmp_path / "waf.jsonl", 300_000)
    whole = io.BytesIO()
    for batch in Replay(acl, [str(log)], ReplayOptions(write_records=True)).batches(Summary()):
        batch.write_to(whole)
    options = ReplayOptions(write_records=True, workers=2, range_bytes=2000)
    summary = Summary()
    out = io.BytesIO()
    batches = Replay(acl, [str(log)], options).batches(summary)
    next(batches).write_to(out)
    change(log)  # at most 2 * workers + 2 of its 150 ranges have been handed out
    for batch in batches:
        batch.write_to(out)
    assert len(summary.input_errors) == 1 and summary.bad_lines == 1
    error = summary.input_errors[0]
    assert type(error) is UnreadableInput and error.file == str(log) and said in error.message
    assert out.getvalue() and whole.getvalue().startswith(out.getvalue())
    assert out.getvalue().count(b"\n") == summary.total < whole.getvalue().count(b"\n")
    assert error.line == summary.total + 1  # the first line not replayed


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_truncated_gzip_is_an_input_error_even_when_quiet(
    acl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], workers: str
) -> None:
    records = b"".join(json.dumps(waf_record(i, f"/p{i}")).encode() + b"\n" for i in range(3000))
    data = gzip.compress(records)
    broken = tmp_path / "waf.jsonl.gz"
    broken.write_bytes(data[: len(data) // 2])
    after = tmp_path / "zz.jsonl"
    after.write_bytes(b"".join(records.splitlines(keepends=True)[:5]))  # the next input is replayed
    out = tmp_path / "out.jsonl"
    code, stdout, stderr = run_cli(eval_args(acl, [broken, after], out, "--workers", workers), capsys)
    assert code == EXIT_INPUT
    assert stdout == ""
    assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    assert str(broken) in stderr and "truncated gzip file" in stderr
    complete = int(stderr.split("ends after line ")[1].split()[0])
    assert 0 < complete < 3000
    written = out.read_bytes().splitlines()
    assert len(written) == complete + 5
    assert b'"uri":"/p0"' in written[0] and b'"uri":"/p0"' in written[complete]


# --- the worker pool itself: tasks that kill their own worker (a real SIGKILL, a real process) ---


def _init(_: object) -> None:
    pass


def _square(n: int, marker: str) -> int:
    return n * n


def _dies_once(n: int, marker: str) -> int:
    """Task 3 kills its worker the first time it runs (the marker file remembers)."""
    if n == 3 and not os.path.exists(marker):
        Path(marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return n * n


def _dies_always(n: int, marker: str) -> int:
    if n == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return n * n


def _raises(n: int, marker: str) -> int:
    if n == 3:
        raise ValueError("task 3 is broken")
    return n * n


START_METHODS = [m for m in ("fork", "spawn") if m in multiprocessing.get_all_start_methods()]


def _pool(method: str, warnings: list[str]) -> WorkerPool:
    return WorkerPool(multiprocessing.get_context(method), 2, _init, (None,), warn=warnings.append)


def _tasks(work: Callable[[int, str], int], n: int = 10) -> list[Task]:
    return [Task(work, i, f"task {i}", key=i) for i in range(n)]


@pytest.mark.parametrize("method", START_METHODS)
def test_pool_reruns_the_task_of_a_killed_worker_once_and_keeps_the_order(
    tmp_path: Path, method: str
) -> None:
    warnings: list[str] = []
    marker = str(tmp_path / "died")
    results = list(_pool(method, warnings).imap(_tasks(_dies_once), (marker,), window=6))
    assert results == [(i, i * i) for i in range(10)]
    assert warnings == [
        "a worker process was killed by SIGKILL (out of memory, or kill -9) while replaying task 3; "
        "replaying that part again"
    ]
    assert not multiprocessing.active_children()


@pytest.mark.parametrize("method", START_METHODS)
def test_pool_stops_when_a_task_kills_its_worker_twice(tmp_path: Path, method: str) -> None:
    warnings: list[str] = []
    results = _pool(method, warnings).imap(_tasks(_dies_always), (str(tmp_path / "m"),), window=6)
    with pytest.raises(WorkerDied, match=r"killed by SIGKILL .* while replaying task 3, for the second time"):
        for key, _ in results:
            assert key < 3  # results before the task that kills are handed out, none after it
    assert len(warnings) == 1 and not multiprocessing.active_children()


def test_pool_raises_the_exception_of_a_task_with_the_workers_traceback(tmp_path: Path) -> None:
    results = _pool(START_METHODS[0], []).imap(_tasks(_raises), (str(tmp_path / "m"),), window=6)
    with pytest.raises(ValueError, match="task 3 is broken") as info:
        list(results)
    assert "in a worker process" in info.value.__notes__[0] and "_raises" in info.value.__notes__[0]
    assert not multiprocessing.active_children()


def test_pool_ends_its_workers_when_the_caller_stops_early(tmp_path: Path) -> None:
    results = _pool(START_METHODS[0], []).imap(_tasks(_square, 1000), (str(tmp_path / "m"),), window=6)
    assert next(results) == (0, 0)
    assert len(multiprocessing.active_children()) == 2
    results.close()
    assert not multiprocessing.active_children()


def _input(name: str, folder: Path) -> Path:
    """The inputs of the table below, by name."""
    lines = [json.dumps(waf_record(i)).encode() + b"\n" for i in range(2000)]
    if name == "missing":
        return folder / "missing.jsonl"
    if name == "gz":  # truncated halfway
        data = gzip.compress(b"".join(lines))
        (folder / "broken.jsonl.gz").write_bytes(data[: len(data) // 2])
        return folder / "broken.jsonl.gz"
    path = folder / f"{name.replace(' ', '-')}.jsonl"
    path.write_bytes(b"{broken\n" if name == "bad line" else b"".join(lines[:3]))
    return path


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize(
    ("inputs", "strict", "code", "said"),
    [
        (["missing", "good"], False, EXIT_INPUT, "missing.jsonl: no such file or folder"),
        (["missing", "good"], True, EXIT_INPUT, "missing.jsonl: no such file or folder"),
        (["gz", "good"], False, EXIT_INPUT, "truncated gzip file"),
        (["gz", "good"], True, EXIT_INPUT, "truncated gzip file"),
        (["bad line", "gz"], True, 3, "(--strict)"),  # the first problem decides
        (["good", "bad line"], False, 2, None),  # a bad line is no input error: --fail-on decides
    ],
)
def test_input_errors_exit_4_before_fail_on_and_strict_stops_at_them(
    acl: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    inputs: list[str],
    strict: bool,
    code: int,
    said: str | None,
    workers: str,
) -> None:
    paths = [_input(name, tmp_path) for name in inputs]
    extra = ["--workers", workers, "--fail-on", "ALLOW", *(["--strict"] if strict else [])]
    got, _, stderr = run_cli(eval_args(acl, paths, tmp_path / "out.jsonl", *extra), capsys)
    assert got == code, stderr
    if said is not None:
        assert said in stderr and "Traceback" not in stderr
