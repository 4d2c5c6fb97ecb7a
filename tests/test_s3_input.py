"""`s3://` log inputs: `wafpy eval`, `explain` and `diff` read S3 exactly as local files and folders.

The bundled sample logs are uploaded to a real S3-compatible server (moto's, `tests.s3_server`,
started and stopped by PID), laid out as AWS WAF delivers logs to S3 and as a flat folder, and
`wafpy eval` on the `s3://` URLs must print and write exactly what it does on the local copies. The
commands run as separate processes, as a user runs them (credentials and the endpoint from the
environment, as botocore reads them).
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.replay_fixtures import write_acl
from tests.s3_server import CREDENTIALS, S3Server, require_moto
from wafpy.cli.main import main
from wafpy.errors import NotAvailableError
from wafpy.logs import remote

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
ACL = ROOT / "rulesets" / "demo-webacl.json"
RESOURCES = ROOT / "rulesets" / "demo-resources"
SAMPLE_FILES = ("alb-access.log", "requests.jsonl", "waf-logs.jsonl.gz")
BUCKET = "wafpy-test"
# AWS WAF's layout in S3 (https://docs.aws.amazon.com/waf/latest/developerguide/logging-s3.html).
WAF_PREFIX = "AWSLogs/111122223333/WAFLogs/eu-west-1/shop-demo/2024/05/14/09/"
# The local copy is read from a folder whose relative name is as long as the S3 URL's bucket part,
# so the tables wrap alike and the outputs can be compared after swapping the two names.
S3_BASE = f"s3://{BUCKET}/"
LOCAL_BASE = "wafpy-test-data/"
assert len(S3_BASE) == len(LOCAL_BASE)


def _put(server: S3Server, files: dict[str, bytes]) -> None:
    import s3fs

    fs = s3fs.S3FileSystem(endpoint_url=server.url, skip_instance_cache=True)
    if not fs.exists(BUCKET):
        fs.mkdir(BUCKET)
    for key, data in files.items():
        fs.pipe_file(f"{BUCKET}/{key}", data)


def _waf_objects() -> dict[str, bytes]:
    """The sample WAF log cut into three gzip objects of five-minute folders, as AWS writes them."""
    lines = gzip.decompress((SAMPLES / "waf-logs.jsonl.gz").read_bytes()).splitlines(keepends=True)
    third = len(lines) // 3 + 1
    out = {}
    for i in range(3):
        part = b"".join(lines[i * third : (i + 1) * third])
        out[f"{WAF_PREFIX}{i * 5:02d}/shop-demo_{i}.log.gz"] = gzip.compress(part, mtime=0)
    return out


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    require_moto()
    server = S3Server()
    server.start()
    try:
        with pytest.MonkeyPatch.context() as mp:
            for name, value in CREDENTIALS.items():
                mp.setenv(name, value)
            files = {f"samples/{name}": (SAMPLES / name).read_bytes() for name in SAMPLE_FILES}
            files.update(_waf_objects())
            # Hidden below the prefix, as a local folder's: never read.
            files["samples/.hidden/junk.log"] = b"not a log\n"
            _put(server, files)
            yield server
    finally:
        server.stop()


@pytest.fixture
def local(tmp_path: Path) -> Path:
    """A working folder holding `wafpy-test-data/`: the same objects as the bucket, as files."""
    base = tmp_path / LOCAL_BASE
    (base / "samples").mkdir(parents=True)
    for name in SAMPLE_FILES:
        shutil.copy(SAMPLES / name, base / "samples" / name)
    for key, data in _waf_objects().items():
        (base / key).parent.mkdir(parents=True, exist_ok=True)
        (base / key).write_bytes(data)
    return tmp_path


def wafpy(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run `python -m wafpy ARGS` in `cwd`; exit code, stdout, stderr."""
    environ = {**os.environ, "COLUMNS": "200", **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", "wafpy", *args], cwd=cwd, env=environ, capture_output=True, timeout=300
    )
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def normalised(text: str) -> str:
    """Output with the S3 URLs read as the local names, and without the run's timing."""
    text = text.replace(S3_BASE, LOCAL_BASE)
    return re.sub(r"\d[\d,]* requests in [\d.]+ s \([\d,]+/s\)", "N requests in T", text)


Run = tuple[int, str, str]


def both(
    args: list[str], inputs: list[str], cwd: Path, server: S3Server, *, endpoint_option: bool = False
) -> tuple[Run, Run]:
    """The same command on the local inputs and on the same inputs in S3 (the inputs go where
    `INPUTS` stands in `args`)."""
    endpoint = ["--s3-endpoint-url", server.url] if endpoint_option else []
    env = {} if endpoint_option else {"AWS_ENDPOINT_URL_S3": server.url}

    def command(base: str) -> list[str]:
        at = args.index("INPUTS")
        return [*args[:at], *(base + p for p in inputs), *args[at + 1 :]]

    return wafpy(command(LOCAL_BASE), cwd), wafpy([*command(S3_BASE), *endpoint], cwd, env)


def _acl_args() -> list[str]:
    return [str(ACL), "--resources", str(RESOURCES)]


# ------------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "inputs",
    [["samples/waf-logs.jsonl.gz"], ["samples/"], ["AWSLogs/"], [WAF_PREFIX + "05/"], ["samples/a"]],
    ids=["object", "folder", "waf-layout", "five-minutes", "key-prefix"],
)
def test_eval_on_s3_prints_and_writes_what_it_does_on_local_files(
    s3: S3Server, local: Path, inputs: list[str]
) -> None:
    """Summary, comparison, records and summary JSON are those of the local files, byte for byte."""
    # A key prefix: the local command names the files it stands for.
    local_inputs = ["samples/alb-access.log"] if inputs == ["samples/a"] else inputs
    args = ["eval", *_acl_args(), "--compare", "--output", "OUT", "--summary-json", "SUMMARY"]
    local_args = [a.replace("OUT", "local.jsonl").replace("SUMMARY", "local.json") for a in args]
    s3_args = [a.replace("OUT", "s3.jsonl").replace("SUMMARY", "s3.json") for a in args]
    local_run = wafpy([*local_args, *(LOCAL_BASE + p for p in local_inputs)], local)
    s3_run = wafpy([*s3_args, *(S3_BASE + p for p in inputs)], local, {"AWS_ENDPOINT_URL_S3": s3.url})
    assert local_run[0] == 0, local_run[2]
    assert s3_run[0] == local_run[0], s3_run[2]
    assert normalised(s3_run[1]) == normalised(local_run[1])
    assert normalised(s3_run[2]) == normalised(local_run[2])
    assert (local / "s3.jsonl").read_bytes() == (local / "local.jsonl").read_bytes()
    assert normalised((local / "s3.json").read_text()) == normalised((local / "local.json").read_text())
    assert "requests replayed" in local_run[1]


@pytest.mark.slow
def test_eval_with_workers_and_the_endpoint_option(s3: S3Server, local: Path) -> None:
    """--workers 2 (each worker reads its own objects) and --s3-endpoint-url instead of the
    environment variable give the same output and records. The web ACL has no rate-based rule
    (those run in one process), so the workers do run."""
    acl = write_acl(local / "acl.json")
    args = ["eval", str(acl), "INPUTS", "--workers", "2", "--compare", "-o", "OUT"]
    runs = []
    for base, out in ((LOCAL_BASE, "local.jsonl"), (S3_BASE, "s3.jsonl")):
        command = [a.replace("OUT", out) for a in args]
        at = command.index("INPUTS")
        command[at : at + 1] = [base + "AWSLogs/", base + "samples/requests.jsonl"]
        if base == S3_BASE:
            command += ["--s3-endpoint-url", s3.url]
        runs.append(wafpy(command, local))
    (local_run, s3_run) = runs
    assert local_run[0] == 0, local_run[2]
    assert "2 processes" in local_run[1] and "2 processes" in s3_run[1]
    assert (s3_run[0], normalised(s3_run[1])) == (local_run[0], normalised(local_run[1]))
    assert (local / "s3.jsonl").read_bytes() == (local / "local.jsonl").read_bytes()


@pytest.mark.slow
def test_explain_and_diff_read_s3(s3: S3Server, local: Path) -> None:
    explain = ["explain", str(ACL), "INPUTS", "--resources", str(RESOURCES), "--line", "5"]
    local_run, s3_run = both(explain, ["samples/waf-logs.jsonl.gz"], local, s3)
    assert local_run[0] == 0, local_run[2]
    assert (s3_run[0], normalised(s3_run[1])) == (local_run[0], normalised(local_run[1]))
    diff = ["diff", str(ACL), str(ACL), "INPUTS", "--resources", str(RESOURCES)]
    local_run, s3_run = both(diff, ["AWSLogs/"], local, s3)
    assert local_run[0] == 0, local_run[2]
    assert (s3_run[0], normalised(s3_run[1])) == (local_run[0], normalised(local_run[1]))


@pytest.mark.slow
def test_errors_name_the_object_and_the_line(s3: S3Server, local: Path) -> None:
    """A bad line, a truncated gzip object and a missing key are reported as for local files."""
    good = gzip.decompress((SAMPLES / "waf-logs.jsonl.gz").read_bytes()).splitlines(keepends=True)
    bad = b"".join([*good[:3], b"{not json\n", *good[3:10]])
    truncated = gzip.compress(b"".join(good[:50]), mtime=0)[:-40]
    files = {"broken/a-bad-line.log": bad, "broken/b-truncated.log.gz": truncated}
    _put(s3, files)
    for key, data in files.items():
        (local / LOCAL_BASE / key).parent.mkdir(parents=True, exist_ok=True)
        (local / LOCAL_BASE / key).write_bytes(data)
    command = ["eval", str(ACL), "INPUTS", "--resources", str(RESOURCES), "--format", "waf"]
    local_run, s3_run = both(command, ["broken/"], local, s3)
    assert local_run[0] == 4, local_run
    assert (s3_run[0], normalised(s3_run[2])) == (local_run[0], normalised(local_run[2]))
    assert f"{S3_BASE}broken/b-truncated.log.gz" in s3_run[2]
    assert f"{S3_BASE}broken/a-bad-line.log:4" in s3_run[1]
    code, _, err = wafpy(
        ["eval", *_acl_args(), f"{S3_BASE}no/such/key.log"], local, {"AWS_ENDPOINT_URL_S3": s3.url}
    )
    assert code == 4
    assert f"{S3_BASE}no/such/key.log: no such object, folder or key prefix" in err


@pytest.mark.slow
def test_listing_is_in_folder_order_and_skips_hidden_names(
    s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.url)
    _put(s3, {"order/z.log": b"1\n", "order/b/x.log": b"2\n", "order/a.log": b"3\n", "order/.x/y.log": b""})
    assert remote.list_objects(f"{S3_BASE}order") == [
        f"{S3_BASE}order/a.log",
        f"{S3_BASE}order/z.log",
        f"{S3_BASE}order/b/x.log",
    ]
    assert remote.list_objects(f"s3a://{BUCKET}/order/z.log") == [f"s3a://{BUCKET}/order/z.log"]
    with pytest.raises(remote.ListingError, match="cannot list"):
        remote.list_objects("s3://no-such-bucket-here/x/")


def test_without_s3fs_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "s3fs", None)  # import s3fs raises ImportError
    with pytest.raises(NotAvailableError, match=re.escape('pip install "wafpy-engine[s3]"')):
        remote.filesystem()
    for command in (["eval", str(ACL), "s3://b/logs/"], ["explain", str(ACL), "s3://b/logs/x.log"]):
        code = main(command)
        err = capsys.readouterr().err
        assert code == 1
        assert 'needs s3fs, an optional extra: pip install "wafpy-engine[s3]"' in err
    assert main(["diff", str(ACL), str(ACL), "s3://b/x/"]) == 1


def test_local_paths_never_import_s3fs() -> None:
    """The default install stays light: local inputs do not need, nor load, the extra."""
    code = (
        "import sys; from wafpy.logs import read_entries; "
        f"list(read_entries([{str(SAMPLES / 'requests.jsonl')!r}])); "
        "assert 's3fs' not in sys.modules and 'fsspec' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
