"""Exit codes a pipeline can rely on: every bad input of `wafpy eval`, with its code.

A gate (`--fail-on`) must never pass on an input it could not read or on no request at all, each
unreadable input is named once on stderr, and `| head` ends the command without a traceback.
"""

from __future__ import annotations

import gzip
import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.shared import ROOT
from wafpy.cli.main import EXIT_EMPTY, EXIT_FAIL_ON, EXIT_INPUT, EXIT_OK, main

ACL = ROOT / "rulesets" / "demo-webacl.json"
RESOURCES = ROOT / "rulesets" / "demo-resources"
SAMPLE = ROOT / "samples" / "waf-logs.jsonl.gz"


def _random_bytes(size: int) -> bytes:
    return random.Random(12).randbytes(size)


def _missing(tmp: Path) -> str:
    return str(tmp / "missing.log")


def _empty_file(tmp: Path) -> str:
    (tmp / "empty.log").write_bytes(b"")
    return str(tmp / "empty.log")


def _empty_folder(tmp: Path) -> str:
    (tmp / "logs").mkdir()
    return str(tmp / "logs")


def _random_file(tmp: Path) -> str:
    (tmp / "random.log").write_bytes(_random_bytes(4096))
    return str(tmp / "random.log")


def _s3_url(tmp: Path) -> str:
    return "s3://bucket/AWSLogs/waf.log.gz"


@pytest.fixture(autouse=True)
def _no_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The S3 input fails at once: no credentials, and no instance metadata service asked for any."""
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


def _nothing_readable(tmp: Path) -> str:
    # Only blank files and an empty subfolder: nothing that holds a request.
    (tmp / "logs" / "sub").mkdir(parents=True)
    (tmp / "logs" / "a.log").write_bytes(b"\n\n")
    (tmp / "logs" / "b.log.gz").write_bytes(gzip.compress(b""))
    return str(tmp / "logs")


def _gzip_garbage(tmp: Path) -> str:
    (tmp / "waf.log.gz").write_bytes(gzip.compress(_random_bytes(3000)))
    return str(tmp / "waf.log.gz")


def _csv(tmp: Path) -> str:
    # Text, but no log: each line would otherwise be one "bad line".
    (tmp / "export.csv").write_text(
        "id,name\n" + "".join(f"{i},row {i}\n" for i in range(40)), encoding="utf-8"
    )
    return str(tmp / "export.csv")


# (input, exit code, message naming the input on stderr)
BAD_INPUTS: list[tuple[Callable[[Path], str], int, str]] = [
    (_missing, EXIT_INPUT, "no such file or folder"),
    (_empty_file, EXIT_EMPTY, "no request evaluated"),
    (_empty_folder, EXIT_EMPTY, "no request evaluated"),
    (_random_file, EXIT_INPUT, "not a log: binary data"),
    # Read through s3fs (the test extra installs it); no credentials or no such bucket here.
    (_s3_url, EXIT_INPUT, "s3://bucket/AWSLogs/waf.log.gz: cannot list"),
    (_nothing_readable, EXIT_EMPTY, "no request evaluated"),
    (_gzip_garbage, EXIT_INPUT, "not a log: binary data"),
    (_csv, EXIT_INPUT, "not a log: its first 10 record lines"),
]


def _eval(log: str, *extra: str) -> list[str]:
    return ["eval", "--resources", str(RESOURCES), "-q", str(ACL), log, *extra]


IDS = [make.__name__[1:] for make, _, _ in BAD_INPUTS]


@pytest.mark.parametrize(("make", "code", "message"), BAD_INPUTS, ids=IDS)
@pytest.mark.parametrize("extra", [[], ["--fail-on", "BLOCK"], ["--fail-on", "ALLOW", "--allow-empty"]])
def test_bad_input_exit_code(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[Path], str],
    code: int,
    message: str,
    extra: list[str],
) -> None:
    log = make(tmp_path)
    assert main(_eval(log, *extra)) == code
    err = capsys.readouterr().err
    assert message in err
    assert err.count(log) == 1, err  # named once, not once per line
    assert "Traceback" not in err


@pytest.mark.parametrize(("make", "code"), [(m, c) for m, c, _ in BAD_INPUTS], ids=IDS)
def test_allow_empty_passes_only_on_an_empty_run(
    tmp_path: Path, make: Callable[[Path], str], code: int
) -> None:
    expected = EXIT_OK if code == EXIT_EMPTY else code
    assert main(_eval(make(tmp_path), "--allow-empty")) == expected


def test_a_binary_file_beside_a_log_does_not_hide_its_requests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    random_log = _random_file(tmp_path)
    records = tmp_path / "out.jsonl"
    assert main(_eval(random_log, str(SAMPLE), "--fail-on", "BLOCK", "-o", str(records))) == EXIT_INPUT
    assert capsys.readouterr().err.count(random_log) == 1
    assert records.read_bytes().count(b"\n") > 100  # the sample was replayed all the same


def test_a_log_with_a_few_bad_first_lines_is_still_a_log(tmp_path: Path) -> None:
    log = tmp_path / "waf.log"
    log.write_bytes(b"garbage\n" * 9 + gzip.decompress(SAMPLE.read_bytes()))
    records = tmp_path / "out.jsonl"
    assert main(_eval(str(log), "-o", str(records))) == EXIT_OK
    assert records.read_bytes().count(b"\n") > 100


def test_a_log_with_a_bad_later_line_is_still_a_log(tmp_path: Path) -> None:
    log = tmp_path / "waf.log"
    log.write_bytes(gzip.decompress(SAMPLE.read_bytes()) + _random_bytes(200).replace(b"\n", b" ") + b"\n")
    assert main(_eval(str(log))) == EXIT_OK


def _pipe_to_head(args: list[str]) -> tuple[int, str]:
    """Run `wafpy ARGS | head -1` in a shell; wafpy's exit code and stderr."""
    command = [sys.executable, "-c", "import sys; from wafpy.cli.main import main; sys.exit(main())", *args]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT) as wafpy:
        assert wafpy.stdout is not None and wafpy.stderr is not None
        head = subprocess.run(["head", "-1"], stdin=wafpy.stdout, capture_output=True, check=True)
        wafpy.stdout.close()  # head held the only other reader: wafpy's next write breaks the pipe
        err = wafpy.stderr.read().decode()
        code = wafpy.wait(timeout=120)
    assert head.stdout
    return code, err


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["eval", str(ACL), str(SAMPLE), "--resources", str(RESOURCES), "--fail-on", "BLOCK"], EXIT_FAIL_ON),
        (["eval", str(ACL), str(SAMPLE), "--resources", str(RESOURCES), "-q", "-o", "-"], EXIT_OK),
        (["validate", str(ACL), "--resources", str(RESOURCES)], EXIT_OK),
    ],
    ids=["eval-summary", "eval-records", "validate"],
)
def test_piped_to_head_exits_cleanly_with_its_code(args: list[str], code: int) -> None:
    got, err = _pipe_to_head(args)
    assert "Traceback" not in err and "Broken pipe" not in err, err
    assert got == code, err


def test_missing_input_through_a_pipe_is_not_a_pass(tmp_path: Path) -> None:
    args = _eval(str(tmp_path / "missing.log"), "--fail-on", "BLOCK")
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from wafpy.cli.main import main; sys.exit(main())", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == EXIT_INPUT
    assert proc.stderr.count("missing.log") == 1
