"""`wafpy eval` end to end: records written, round trip, bad lines, exit codes, filters, stdin, corpora."""

from __future__ import annotations

import gzip
import io
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.replay_fixtures import T0, alb_line, run_cli, waf_record, write_acl, write_jsonl
from tests.shared import ROOT, shared_dir
from wafpy.cli import main as cli
from wafpy.errors import LogFormatError
from wafpy.logs import read_entries
from wafpy.replay import BadLine, Replay, ReplayOptions
from wafpy.webacl import load_web_acl

pytestmark = pytest.mark.usefixtures("wide")


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # rich wraps at 80 columns when not on a terminal


@pytest.fixture
def acl(tmp_path: Path) -> Path:
    return write_acl(tmp_path / "acl.json")


def mixed_records() -> list[dict[str, Any]]:
    return [
        waf_record(0, "/"),
        waf_record(1, "/ADMIN/users"),
        waf_record(2, "/login"),
        waf_record(3, "/products", ua="GoodBot/1.0"),
        waf_record(4, "/api", headers=(("x-api-key", "stolen"),)),
        waf_record(5, "/admin", ua="evilbot"),
    ]


EXPECTED = [  # (action, terminating rule) for mixed_records()
    ("ALLOW", "Default_Action"),
    ("BLOCK", "block-admin"),
    ("CAPTCHA", "captcha-login"),
    ("ALLOW", "Default_Action"),
    ("BLOCK", "block-api-key"),
    ("BLOCK", "block-admin"),
]


def read_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_output_is_one_waf_record_per_request_with_timestamp_and_request_id(
    acl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = write_jsonl(tmp_path / "waf.jsonl", mixed_records())
    out = tmp_path / "out.jsonl"
    code, stdout, _ = run_cli(
        ["eval", str(acl), str(logs), "--search-string", "text", "-o", str(out)], capsys
    )
    assert code == 0
    records = read_records(out)
    assert [(r["action"], r["terminatingRuleId"]) for r in records] == EXPECTED
    for record, source in zip(records, mixed_records(), strict=True):
        assert record["timestamp"] == source["timestamp"]
        assert record["httpRequest"]["requestId"] == source["httpRequest"]["requestId"]
        assert record["httpSourceId"] == source["httpSourceId"]
    assert [label["name"] for label in records[3]["labels"]] == [
        "awswaf:111122223333:webacl:replay-test:test:bot"
    ]
    assert "Requests by action" in stdout and "block-admin" in stdout


def test_records_written_by_eval_replay_to_the_same_decisions(
    acl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = write_jsonl(tmp_path / "waf.jsonl", mixed_records())
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    base = ["eval", str(acl), "--search-string", "text", "-q"]
    assert run_cli([*base, str(logs), "-o", str(first)], capsys)[0] == 0
    assert run_cli([*base, str(first), "-o", str(second)], capsys)[0] == 0
    keys = ("action", "terminatingRuleId", "terminatingRuleType", "labels", "timestamp", "httpRequest")
    a, b = read_records(first), read_records(second)
    assert len(a) == len(b) == len(EXPECTED)
    assert [{k: r.get(k) for k in keys} for r in a] == [{k: r.get(k) for k in keys} for r in b]


def test_output_dash_writes_records_to_stdout_and_the_summary_to_stderr(
    acl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = write_jsonl(tmp_path / "waf.jsonl", mixed_records())
    code, stdout, stderr = run_cli(
        ["eval", str(acl), str(logs), "--search-string", "text", "-o", "-"], capsys
    )
    assert code == 0
    assert [json.loads(line)["action"] for line in stdout.splitlines()] == [a for a, _ in EXPECTED]
    assert "Requests by action" in stderr


def test_stdin_input(
    acl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = gzip.compress("".join(json.dumps(r) + "\n" for r in mixed_records()).encode())
    stdin = io.TextIOWrapper(io.BufferedReader(io.BytesIO(data)))
    monkeypatch.setattr(sys, "stdin", stdin)
    out = tmp_path / "out.jsonl"
    code, _, _ = run_cli(["eval", str(acl), "-", "--search-string", "text", "-q", "-o", str(out)], capsys)
    assert code == 0
    assert [(r["action"], r["terminatingRuleId"]) for r in read_records(out)] == EXPECTED


def test_folder_input_reads_every_file(acl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", mixed_records()[:3])
    (folder / "b.log").write_text(alb_line(0, "/admin") + "\n" + alb_line(1, "/ok") + "\n")
    out = tmp_path / "out.jsonl"
    code, stdout, _ = run_cli(
        ["eval", str(acl), str(folder), "--search-string", "text", "-o", str(out)], capsys
    )
    assert code == 0
    assert [r["terminatingRuleId"] for r in read_records(out)] == [
        "Default_Action",
        "block-admin",
        "captcha-login",
        "block-admin",
        "Default_Action",
    ]
    assert "3 waf" in stdout and "2 alb" in stdout


def test_bad_lines_are_reported_with_file_and_line_and_skipped(
    acl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [json.dumps(r) for r in mixed_records()[:2]] + ["{not json", json.dumps(mixed_records()[2])]
    waf = tmp_path / "waf.jsonl"
    waf.write_text("\n".join(lines) + "\n")
    alb = tmp_path / "alb.log"
    alb.write_text(alb_line(0) + "\nhttp 2024-03-20T10:30:00.000000Z app/x 1.2.3.4:5 - 0.1\n")
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(
        gzip.compress(("\n".join(json.dumps(r) for r in mixed_records()) + "\n").encode())[:-30]
    )
    out = tmp_path / "out.jsonl"
    code, stdout, stderr = run_cli(
        ["eval", str(acl), str(waf), str(alb), str(broken), "--search-string", "text", "-o", str(out)], capsys
    )
    assert code == 4  # the broken gzip is an input error; bad lines alone would exit 0
    assert f"{waf}:3" in stdout and "not valid JSON" in stdout
    assert f"{alb}:2" in stdout and "fields" in stdout
    assert str(broken) in stdout and "truncated gzip file" in stdout
    assert "Bad lines skipped: 3" in stdout
    assert stderr.startswith(f"error: {broken}:6: truncated gzip file")
    assert len(read_records(out)) == 3 + 1 + 5  # the broken gzip keeps the lines before the damage


def test_strict_stops_at_the_first_bad_line_with_exit_3(
    acl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    waf = tmp_path / "waf.jsonl"
    waf.write_text(json.dumps(mixed_records()[0]) + "\n[1, 2\n" + json.dumps(mixed_records()[1]) + "\n")
    out = tmp_path / "out.jsonl"
    code, _, stderr = run_cli(
        ["eval", str(acl), str(waf), "--search-string", "text", "--strict", "-q", "-o", str(out)], capsys
    )
    assert code == 3
    assert f"{waf}:2" in stderr
    assert len(read_records(out)) == 1


@pytest.mark.parametrize(
    ("fail_on", "code"),
    [
        (["BLOCK"], 2),
        (["block"], 2),
        (["CAPTCHA"], 2),
        (["CHALLENGE"], 0),
        (["CHALLENGE", "ALLOW"], 2),
        (["COUNT"], 2),  # tag-bots counted the GoodBot request
        ([], 0),
    ],
)
def test_fail_on_exit_code(
    acl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], fail_on: list[str], code: int
) -> None:
    logs = write_jsonl(tmp_path / "waf.jsonl", mixed_records())
    args = ["eval", str(acl), str(logs), "--search-string", "text", "-q"]
    if fail_on:
        args += ["--fail-on", *fail_on]
    assert run_cli(args, capsys)[0] == code


def test_fail_on_count_needs_a_count_rule_match(
    acl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = write_jsonl(tmp_path / "waf.jsonl", [r for r in mixed_records() if "Bot" not in json.dumps(r)])
    assert (
        run_cli(["eval", str(acl), str(logs), "--search-string", "text", "-q", "--fail-on", "COUNT"], capsys)[
            0
        ]
        == 0
    )


def test_bad_web_acl_prints_every_error_with_line_and_column_and_evaluates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    acl = tmp_path / "bad.json"
    document = json.loads(write_acl(tmp_path / "good.json").read_text())
    document["Rules"][0]["Statement"]["ByteMatchStatement"]["PositionalConstraint"] = "SOMEWHERE"
    document["Rules"][1]["Priority"] = "one"
    acl.write_text(json.dumps(document, indent=2))
    logs = write_jsonl(tmp_path / "waf.jsonl", mixed_records())
    out = tmp_path / "out.jsonl"
    code, _, stderr = run_cli(
        ["eval", str(acl), str(logs), "--search-string", "text", "-o", str(out)], capsys
    )
    assert code == 1
    assert "SOMEWHERE" in stderr and "PositionalConstraint" in stderr
    assert "Priority" in stderr
    lines = acl.read_text().splitlines()
    row = next(i for i, line in enumerate(lines, 1) if "SOMEWHERE" in line)
    assert f":{row}:" in stderr
    assert not out.exists()
    # The note on --managed log is about managed rule groups; a document error needs none of it.
    lines_input = tmp_path / "requests.jsonl"
    lines_input.write_text(json.dumps({"httpMethod": "GET", "uri": "/"}) + "\n")
    code, _, stderr = run_cli(["eval", str(acl), str(lines_input), "--search-string", "text"], capsys)
    assert code == 1 and "SOMEWHERE" in stderr and "--managed" not in stderr


@pytest.mark.parametrize(
    ("log", "warned"),
    [
        ("samples/alb-access.log", True),  # an ALB access log records no country
        ("samples/waf-logs.jsonl.gz", False),  # AWS WAF records do
    ],
)
def test_rules_reading_a_country_the_log_does_not_record_are_named(
    log: str, warned: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = ["eval", str(ROOT / "rulesets/demo-webacl.json"), str(ROOT / log)]
    code, _, stderr = run_cli([*demo, "--resources", str(ROOT / "rulesets/demo-resources"), "-q"], capsys)
    assert code == 0
    assert ("country: rule geo-block" in " ".join(stderr.split())) is warned


@pytest.mark.parametrize(
    "args",
    [
        ["eval"],
        ["eval", "acl.json"],
        ["eval", "a", "b", "--workers", "0"],
        ["eval", "a", "b", "--since", "yesterday"],
        ["eval", "a", "b", "--fail-on", "EXPLODE"],
        ["nonsense"],
        [],
    ],
)
def test_usage_errors_exit_1(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(args, capsys)[0] == 1


def test_help_documents_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = run_cli(["eval", "--help"], capsys)
    assert code == 0
    assert "exit codes" in stdout and "fail-on" in stdout and "rate-based" in stdout


def test_every_exit_code_is_documented_in_help_readme_and_module(capsys: pytest.CaptureFixture[str]) -> None:
    codes = sorted(value for name, value in vars(cli).items() if name.startswith("EXIT_"))
    assert codes == [0, 1, 2, 3, 4, 5, 6, 130]
    _, stdout, _ = run_cli(["eval", "--help"], capsys)
    listed = " ".join(stdout.split("exit codes:")[1].split())
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for code in codes:
        assert re.search(rf"(^|; ){code} ", listed), code
        assert f"\n| {code} | " in readme, code
        assert re.search(rf"^    {code} ", cli.__doc__ or "", re.MULTILINE), code


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--limit", "2"], [0, 1]),
        (["--since", str(T0 + 3000)], [3, 4, 5]),
        (["--until", "2024-03-20T10:30:02Z"], [0, 1]),
        (["--since", "2024-03-20T10:30:01Z", "--until", str(T0 + 4000), "--limit", "2"], [1, 2]),
    ],
)
def test_limit_since_until(
    acl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], expected: list[int]
) -> None:
    logs = write_jsonl(tmp_path / "waf.jsonl", mixed_records())
    out = tmp_path / "out.jsonl"
    code, _, _ = run_cli(
        ["eval", str(acl), str(logs), "--search-string", "text", "-q", "-o", str(out), *extra], capsys
    )
    assert code == 0
    assert [(r["timestamp"] - T0) // 1000 for r in read_records(out)] == expected


def test_not_evaluable_statements_are_counted_per_log_kind(
    acl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    waf = write_jsonl(tmp_path / "waf.jsonl", mixed_records()[:2])
    alb = tmp_path / "alb.log"
    alb.write_text("\n".join(alb_line(i, "/x") for i in range(3)) + "\n")
    code, stdout, _ = run_cli(
        ["eval", str(acl), str(waf), str(alb), "--search-string", "text", "--verbose"], capsys
    )
    assert code == 0
    gap_lines = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in stdout.splitlines()
        if "Rules[" in line and "│" in line
    }
    # The body rule is not reached for the blocked /ADMIN request: 2 WAF... minus 1, plus 3 ALB.
    assert gap_lines == {
        "block-body: Rules[3].Statement.ByteMatchStatement": "4",
        "block-api-key: Rules[4].Statement.ByteMatchStatement: header x-api-key": "3",
    }


def test_resources_accepts_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arn = "arn:aws:wafv2:eu-west-1:111122223333:regional/ipset/bad/7b7b7b7b-1111-2222-3333-444455556666"
    folder = tmp_path / "resources"
    folder.mkdir()
    ip_set = {
        "Name": "bad",
        "Id": "7b7b7b7b-1111-2222-3333-444455556666",
        "ARN": arn,
        "IPAddressVersion": "IPV4",
        "Addresses": ["198.51.100.0/24"],
    }
    (folder / "bad.json").write_text(json.dumps({"IPSet": ip_set, "LockToken": "x"}))
    document = json.loads(write_acl(tmp_path / "base.json").read_text())
    document["Rules"].append(
        {
            "Name": "bad-ips",
            "Priority": 20,
            "Action": {"Block": {}},
            "Statement": {"IPSetReferenceStatement": {"ARN": arn}},
            "VisibilityConfig": document["VisibilityConfig"],
        }
    )
    acl = tmp_path / "acl.json"
    acl.write_text(json.dumps(document))
    logs = write_jsonl(tmp_path / "waf.jsonl", [waf_record(0, ip="198.51.100.9"), waf_record(1)])
    out = tmp_path / "out.jsonl"
    args = [
        "eval",
        str(acl),
        str(logs),
        "--resources",
        str(folder),
        "--search-string",
        "text",
        "-q",
        "-o",
        str(out),
    ]
    assert run_cli(args, capsys)[0] == 0
    assert [r["terminatingRuleId"] for r in read_records(out)] == ["bad-ips", "Default_Action"]


def _corpus_files() -> list[Path]:
    logs = shared_dir("corpora", "logs")
    return sorted(
        p for sub in ("aws-waf", "alb") for p in (logs / sub).rglob("*") if p.is_file() and p.suffix != ".txt"
    )


def _demo_acl() -> tuple[Path, list[str]]:
    acl = ROOT / "rulesets" / "demo-webacl.json"
    resources = sorted(str(p) for p in (ROOT / "rulesets" / "demo-resources").glob("*.json"))
    return acl, resources


@pytest.mark.corpora
def test_every_corpus_log_replays_against_the_demo_acl() -> None:
    acl_path, resources = _demo_acl()
    acl = load_web_acl(acl_path, resources=resources)
    files = _corpus_files()
    assert files
    for path in files:
        errors: list[LogFormatError] = []
        expected = sum(1 for _ in read_entries([str(path)], on_error=errors.append)) + len(errors)
        items = list(Replay(acl, [str(path)], ReplayOptions()))
        decisions = [i for i in items if not isinstance(i, BadLine)]
        bad = [i for i in items if isinstance(i, BadLine)]
        assert len(decisions) + len(bad) == expected, path
        assert all(d.action in ("ALLOW", "BLOCK", "CAPTCHA", "CHALLENGE") for d in decisions)


def test_explain_prints_the_rules_in_order_for_one_logged_request(
    acl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = write_jsonl(tmp_path / "waf.jsonl", mixed_records())
    code, stdout, _ = run_cli(
        ["explain", str(acl), str(logs), "--line", "4", "--search-string", "text"], capsys
    )
    assert code == 0
    assert f"{logs}:4 GET /products → ALLOW by Default_Action" in stdout
    # One line per rule: priority, name, result (and action, overrides, labels added).
    rules = [
        line.split(maxsplit=2)
        for line in stdout.splitlines()
        if line.split()[:1] and line.split()[0].isdigit()
    ]
    assert [r[1] for r in rules] == [
        "block-admin",
        "captcha-login",
        "tag-bots",
        "block-body",
        "block-api-key",
    ]
    results = [r[2] for r in rules]
    assert results[0].startswith("no match") and results[1].startswith("no match")
    assert results[2].startswith("MATCH → COUNT") and "test:bot" in results[2]
    assert results[3].startswith("no match") and "needs data this request does not carry" in results[3]
    assert results[4].startswith("no match")
    assert "logged by AWS: ALLOW by Default_Action" in stdout
