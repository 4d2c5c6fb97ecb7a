"""A real S3-compatible server for the tests: moto's standalone server on 127.0.0.1, stopped by PID.

moto (Apache-2.0, from PyPI through the `test` extra) runs as a separate process, so wafpy reaches it
over HTTP exactly as it would reach AWS: botocore signs the requests, s3fs lists and reads objects
by ranges. Without moto the tests that need it are skipped, except under CI=true, where it is a
failure.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

# Credentials moto accepts (any); set for the test process and the commands it runs.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.5):
            return True
    except urllib.error.HTTPError:
        return True  # it answered
    except OSError:
        return False


class S3Server:
    """One `moto.server` process on a free port of 127.0.0.1; `stop()` ends it by its PID."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not _answers(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"moto.server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            os.kill(process.pid, 15)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, 9)
                process.wait(10)


def require_moto() -> None:
    """Skip the test without moto's server and s3fs (fail under CI=true, where they must be installed)."""
    missing = [m for m in ("moto", "flask", "s3fs") if importlib.util.find_spec(m) is None]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{', '.join(missing)} not installed (pip install -e '.[test]')")
        pytest.skip(f"{', '.join(missing)} not installed")
