"""The JSON-lines log file: every record whole or counted as lost, rotation followed, failures
reported without flooding. Real files, a real small filesystem, real pipes, real signals."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.shared import ROOT
from tests.test_asgi_support import EchoApp, serve, web_acl
from wafpy import WAFMiddleware
from wafpy.middleware.logfile import FailureReport, JsonLinesFile, LogRecordLost, reopen_on_signal


def record(i: int, size: int = 40) -> dict[str, Any]:
    return {"i": i, "pad": "x" * size}


def lines(path: Path) -> list[dict[str, Any]]:
    """The records of a file; fails on a line that is not one whole record."""
    data = path.read_bytes()
    assert not data or data.endswith(b"\n"), "the file ends in the middle of a record"
    return [json.loads(line) for line in data.splitlines()]


def wafpy_lines(caplog: pytest.LogCaptureFixture, level: int = logging.WARNING) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("wafpy") and r.levelno >= level]


# ----------------------------------------------------------------------------------------------
# A filesystem that fills up


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs mounted for the test (needs root); skipped otherwise, failed under CI=true."""
    where = tmp_path / "small"
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        message = f"cannot mount a small tmpfs (root and CAP_SYS_ADMIN needed): {done.stderr.strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (required when CI=true)")
        pytest.skip(message)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_filesystem_leaves_only_whole_records_and_counts_the_others(
    small_filesystem: Path, caplog: pytest.LogCaptureFixture
) -> None:
    filler = small_filesystem / "filler"
    filler.write_bytes(b"\0" * 16384)
    path = small_filesystem / "waf.jsonl"
    sink = JsonLinesFile(path)
    sizes = random.Random(7)
    written: list[int] = []
    lost: list[int] = []

    def write(i: int) -> None:
        try:
            sink(record(i, sizes.randrange(20, 3000)))
            written.append(i)
        except LogRecordLost:
            lost.append(i)

    for i in range(150):  # about three times what fits
        write(i)
    filler.unlink()  # space again: writing resumes after the last whole record
    for i in range(150, 300):
        write(i)
    sink.close()

    assert len(lost) > 100 and len(written) > 20
    assert any(i > j for i in written for j in lost[:1])  # smaller records still fitted once full
    assert [r["i"] for r in lines(path)] == written  # whole, in order, nothing torn or merged
    assert sink.records_lost == len(lost)
    errors = wafpy_lines(caplog, logging.ERROR)
    assert len(errors) == 1 and "No space left on device" in errors[0].getMessage()
    assert errors[0].exc_info is None


# ----------------------------------------------------------------------------------------------
# Rotation


def logrotate_create(path: Path) -> None:
    path.rename(path.with_name(path.name + ".1"))
    path.touch()


def rename_only(path: Path) -> None:
    path.rename(path.with_name(path.name + ".1"))


def remove(path: Path) -> None:
    path.unlink()


@pytest.mark.parametrize("rotate", [logrotate_create, rename_only, remove], ids=lambda f: f.__name__)
def test_a_moved_or_removed_file_is_reopened(tmp_path: Path, rotate: Any) -> None:
    path = tmp_path / "waf.jsonl"
    sink = JsonLinesFile(path, check_interval=0)  # look at the path on every record
    sink(record(1))
    rotate(path)
    sink(record(2))
    sink(record(3))
    sink.close()
    assert [r["i"] for r in lines(path)] == [2, 3]
    rotated = path.with_name(path.name + ".1")
    if rotated.exists():
        assert [r["i"] for r in lines(rotated)] == [1]


def test_the_path_is_looked_at_once_per_interval_and_reopen_acts_at_once(tmp_path: Path) -> None:
    path = tmp_path / "waf.jsonl"
    sink = JsonLinesFile(path, check_interval=3600)
    sink(record(1))
    logrotate_create(path)
    sink(record(2))  # within the interval: still the file that is open (now waf.jsonl.1)
    assert sink.reopen()
    sink(record(3))
    sink.close()
    assert [r["i"] for r in lines(path.with_name("waf.jsonl.1"))] == [1, 2]
    assert [r["i"] for r in lines(path)] == [3]


@pytest.mark.slow
def test_the_middleware_reopens_its_log_on_request(tmp_path: Path) -> None:
    path = tmp_path / "waf.jsonl"
    mw = WAFMiddleware(EchoApp(), web_acl([]), log=str(path))
    with serve(mw) as url, httpx.Client(base_url=url) as client:
        client.get("/one")
        logrotate_create(path)
        assert mw.reopen_logs()
        client.get("/two")
    mw.close()
    assert [r["httpRequest"]["uri"] for r in lines(path.with_name("waf.jsonl.1"))] == ["/one"]
    assert [r["httpRequest"]["uri"] for r in lines(path)] == ["/two"]


def test_sighup_reopens_when_asked_and_keeps_the_previous_handler(tmp_path: Path) -> None:
    path = tmp_path / "waf.jsonl"
    sink = JsonLinesFile(path, check_interval=3600)
    seen: list[int] = []
    original = signal.signal(signal.SIGHUP, lambda number, frame: seen.append(number))
    try:
        restore = reopen_on_signal(sink)
        sink(record(1))
        logrotate_create(path)
        os.kill(os.getpid(), signal.SIGHUP)
        time.sleep(0.01)  # the handler runs in this thread at the next bytecode boundary
        sink(record(2))
        restore()
        assert seen == [signal.SIGHUP]  # the handler that was there still ran
        os.kill(os.getpid(), signal.SIGHUP)
        assert seen == [signal.SIGHUP, signal.SIGHUP]
    finally:
        signal.signal(signal.SIGHUP, original)
        sink.close()
    assert [r["i"] for r in lines(path.with_name("waf.jsonl.1"))] == [1]
    assert [r["i"] for r in lines(path)] == [2]


def test_reopen_on_signal_needs_the_main_thread(tmp_path: Path) -> None:
    sink = JsonLinesFile(tmp_path / "waf.jsonl")
    errors: list[BaseException] = []

    def install() -> None:
        try:
            reopen_on_signal(sink)
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=install)
    thread.start()
    thread.join()
    sink.close()
    assert len(errors) == 1 and "main thread" in str(errors[0])


# ----------------------------------------------------------------------------------------------
# Failures: reported, not flooded


@pytest.mark.slow
def test_dev_full_gives_one_log_line_and_a_count_not_a_traceback_per_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="wafpy")
    mw = WAFMiddleware(EchoApp(), web_acl([]), log="/dev/full", metrics_path="/metrics")
    n = 300
    with serve(mw) as url, httpx.Client(base_url=url) as client:
        assert all(client.get(f"/r{i}").status_code == 200 for i in range(n))  # requests unaffected
        metrics = client.get("/metrics").text
    mw.close()
    assert 'wafpy_log_records_lost_total{webacl="test-acl-metric"} 300' in metrics
    assert mw.metrics.log_records_lost == n
    reported = wafpy_lines(caplog)
    assert len(reported) == 1, [r.getMessage() for r in reported]
    assert reported[0].exc_info is None and "\n" not in reported[0].getMessage()
    assert "/dev/full" in reported[0].getMessage() and "No space left on device" in reported[0].getMessage()


@pytest.mark.slow
def test_a_failing_callable_sink_is_counted_and_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    def broken(record: dict[str, Any]) -> None:
        raise ConnectionError("log collector unreachable")

    mw = WAFMiddleware(EchoApp(), web_acl([]), log=broken)
    with serve(mw) as url, httpx.Client(base_url=url) as client:
        for i in range(50):
            client.get(f"/r{i}")
    assert mw.metrics.log_records_lost == 50
    reported = wafpy_lines(caplog)
    assert len(reported) == 1 and "log collector unreachable" in reported[0].getMessage()


REPORTS = [
    # interval, failures then successes -> lines logged
    (3600.0, ["fail"] * 1000, ["failed"]),
    (0.0, ["fail", "fail", "fail"], ["failed", "still fails", "still fails"]),
    (0.0, ["fail", "fail", "ok", "ok"], ["failed", "still fails", "works again"]),
    (3600.0, ["fail", "ok", "fail", "ok"] * 100, ["failed"]),  # failing and working by turns
]


@pytest.mark.parametrize(("interval", "events", "expected"), REPORTS)
def test_failure_reports_are_limited_to_one_line_per_interval(
    interval: float, events: list[str], expected: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    report = FailureReport("writing log records to waf.jsonl", interval)
    for event in events:
        if event == "fail":
            report.failed("No space left on device")
        elif report.active:
            report.recovered()
    said = [r.getMessage() for r in wafpy_lines(caplog)]
    assert [
        next(word for word in ("failed", "still fails", "works again") if word in m) for m in said
    ] == expected
    assert report.total == events.count("fail")


def test_counts_in_the_reports_add_up(caplog: pytest.LogCaptureFixture) -> None:
    report = FailureReport("writing", 0.0)
    for _ in range(3):
        report.failed("full")
    report.recovered()
    said = [r.getMessage() for r in wafpy_lines(caplog)]
    assert said[-1].endswith("(log records lost: 0 since the last report, 3 in all)")


# ----------------------------------------------------------------------------------------------
# Short writes: signals and full pipes


@pytest.mark.slow
def test_writes_interrupted_by_signals_are_completed(tmp_path: Path) -> None:
    """A signal in the middle of a blocking pipe write returns a short count: the rest follows."""
    fifo = tmp_path / "waf.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    sink = JsonLinesFile(fifo)
    received = bytearray()
    stop = threading.Event()

    def drain() -> None:  # a slow reader: the pipe is full most of the time
        while True:
            try:
                chunk = os.read(reader, 4096)
            except BlockingIOError:
                if stop.is_set():
                    return  # empty, and the writer is done
                time.sleep(0.0005)
                continue
            received.extend(chunk)
            time.sleep(0.0002)

    interrupts = [0]
    previous = signal.signal(
        signal.SIGALRM, lambda number, frame: interrupts.__setitem__(0, interrupts[0] + 1)
    )
    thread = threading.Thread(target=drain)
    thread.start()
    signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
    try:
        for i in range(40):
            sink(record(i, 100_000))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, previous)
        stop.set()
        thread.join()
        sink.close()
        os.close(reader)
    assert interrupts[0] > 0
    assert [json.loads(line)["i"] for line in bytes(received).splitlines()] == list(range(40))


def test_a_full_non_blocking_pipe_is_waited_for(tmp_path: Path) -> None:
    fifo = tmp_path / "waf.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    sink = JsonLinesFile(fifo, write_timeout=10)
    os.set_blocking(sink.fileno(), False)  # as a descriptor shared with a non-blocking writer would be
    received = bytearray()
    done = threading.Event()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(reader, 65536)
            except BlockingIOError:
                if done.is_set():
                    return
                time.sleep(0.001)
                continue
            received.extend(chunk)

    thread = threading.Thread(target=drain)
    thread.start()
    try:
        for i in range(30):
            sink(record(i, 200_000))  # three pipe buffers each: EAGAIN in the middle of every record
    finally:
        done.set()
        thread.join()
        sink.close()
        os.close(reader)
    assert sink.records_lost == 0
    assert [json.loads(line)["i"] for line in bytes(received).splitlines()] == list(range(30))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, "uvicorn exited"
        try:
            httpx.get(url + "/up", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("uvicorn did not start")


APP_WITH_SIGHUP = """
from wafpy import WAFMiddleware
from wafpy.middleware.logfile import JsonLinesFile, reopen_on_signal

async def hello(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})

waf_log = JsonLinesFile(LOG_PATH, check_interval=3600)
reopen_on_signal(waf_log)  # at import: uvicorn imports the app in the main thread
app = WAFMiddleware(hello, ACL, log=waf_log)
"""


@pytest.mark.slow
def test_sighup_reopens_the_log_of_a_uvicorn_server(tmp_path: Path) -> None:
    path = tmp_path / "waf.jsonl"
    settings = f"LOG_PATH = {str(path)!r}\nACL = {web_acl([])!r}\n"
    (tmp_path / "sighup_app.py").write_text(settings + APP_WITH_SIGHUP)
    port = free_port()
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "sighup_app:app", "--app-dir", str(tmp_path)),
            *("--port", str(port), "--no-proxy-headers", "--log-level", "warning"),
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, server)
        httpx.get(url + "/one")
        logrotate_create(path)
        server.send_signal(signal.SIGHUP)
        time.sleep(0.2)
        assert httpx.get(url + "/two").status_code == 200  # the server lives on (SIGHUP would end it)
    finally:
        server.terminate()
        server.wait(20)
    assert [r["httpRequest"]["uri"] for r in lines(path.with_name("waf.jsonl.1"))][-1:] == ["/one"]
    assert [r["httpRequest"]["uri"] for r in lines(path)] == ["/two"]
