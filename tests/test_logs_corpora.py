"""Every log in the shared corpora is read with the expected record count and no surprises."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from wafpy.errors import LogFormatError
from wafpy.logs import LogEntry, read_entries
from wafpy.logs.waflog import entry_from_waf_record

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
LOGS = SHARED / "corpora" / "logs"

pytestmark = pytest.mark.corpora


def logs_dir() -> Path:
    if not LOGS.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"corpora missing in CI: {LOGS.name}")
        pytest.skip("shared log corpora not available")
    return LOGS


# file -> (entries, kind, bad lines); counts from the files and their MANIFEST. The ALB test file
# starts with a lone "#" line (skipped as a comment); the user-guide multiline file wraps each of
# its 7 entries over 6 lines; UrlEncodedPath is a Classic ELB line (no type field).
EXPECTED: dict[str, tuple[int, str, list[int]]] = {
    "aws-waf/aws-waf-security-automations--test_waf_log.jsonl": (228, "waf", []),
    "aws-waf/centralized-logging-with-opensearch--waf.log.jsonl": (2, "waf", []),
    "aws-waf/aws-cli-get-sampled-requests/get-sampled-requests--output.json": (4, "waf", []),
    **{f"aws-waf/developer-guide-examples/logging-examples--{i}.json": (1, "waf", []) for i in range(6)},
    "alb/aws-waf-security-automations--alb-test.log": (100, "alb", []),
    "alb/centralized-logging-with-opensearch--elb.log": (2, "alb", []),
    "alb/centralized-logging-with-opensearch--microbatch-alb.log": (2, "alb", []),
    "alb/elb-log-analyzer--AppELBLog.log": (668, "alb", []),
    "alb/elb-log-analyzer--AppELBLogWithNewFields.log": (1, "alb", []),
    "alb/elb-log-analyzer--UrlEncodedPath.log": (1, "alb", []),
    "alb/elb-user-guide--example-entries.log": (7, "alb", []),
    "alb/elb-user-guide--example-entries.multiline.txt": (7, "alb", []),
}


def read(path: Path) -> tuple[list[LogEntry], list[LogFormatError]]:
    errors: list[LogFormatError] = []
    return list(read_entries([str(path)], on_error=errors.append)), errors


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file(name: str) -> None:
    count, kind, bad_lines = EXPECTED[name]
    entries, errors = read(logs_dir() / name)
    assert len(entries) == count
    assert {e.kind for e in entries} == {kind}
    assert [e.line for e in errors] == bad_lines
    for entry in entries:  # every entry is something Request.from_log accepts
        assert all(isinstance(entry.http_request[k], str) for k in ("httpMethod", "uri", "clientIp"))


def test_every_corpus_log_file_is_in_the_table() -> None:
    root = logs_dir()
    found = {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file()
        and p.parent.name not in ("LICENSES", "panther-analysis-rule-tests")
        and p.name != "MANIFEST.md"
    }
    assert found == set(EXPECTED)


def test_whole_folder_in_one_run() -> None:
    root = logs_dir()
    entries, errors = read(root / "alb")
    assert len(entries) == sum(c for n, (c, _, _) in EXPECTED.items() if n.startswith("alb/"))
    assert errors == []


def test_multiline_doc_entries_equal_the_rejoined_file() -> None:
    root = logs_dir() / "alb"
    joined, _ = read(root / "elb-user-guide--example-entries.log")
    wrapped, _ = read(root / "elb-user-guide--example-entries.multiline.txt")
    assert [e.http_request for e in wrapped] == [e.http_request for e in joined]
    assert [e.line for e in wrapped] == [1, 8, 15, 22, 29, 36, 43]


def test_real_waf_log_ground_truth() -> None:
    entries, _ = read(logs_dir() / "aws-waf/aws-waf-security-automations--test_waf_log.jsonl")
    assert {(e.logged.action, e.logged.terminating_rule_id) for e in entries if e.logged} == {
        ("ALLOW", "Default_Action")
    }
    assert all(e.carries("headers") and e.record is not None for e in entries)


def test_developer_guide_typo_header_is_dropped_as_unknown() -> None:
    entries, _ = read(logs_dir() / "aws-waf/developer-guide-examples/logging-examples--1.json")
    (entry,) = entries
    assert "myHeader" not in [h["name"] for h in entry.http_request["headers"]]
    assert not entry.carries("headers") and entry.carries("header:user-agent")


def test_alb_waf_forward_is_allow() -> None:
    entries, _ = read(logs_dir() / "alb/aws-waf-security-automations--alb-test.log")
    assert {e.logged.action for e in entries if e.logged} == {"ALLOW"}


def panther_logs() -> list[Any]:
    yaml = pytest.importorskip("yaml")
    folder = logs_dir() / "aws-waf/panther-analysis-rule-tests"
    logs = []
    for path in sorted(folder.glob("*.yml")):
        for test in yaml.safe_load(path.read_text()).get("Tests", []):
            logs.append(test["Log"])
    return logs


def test_panther_partial_records_are_read_leniently() -> None:
    logs = panther_logs()
    entries = [entry_from_waf_record(log, "panther", i) for i, log in enumerate(logs, 1)]
    assert len(entries) == 50
    assert all(e.timestamp_ms is not None and e.logged is not None for e in entries)
    assert sum(1 for e in entries if not e.carries("headers")) > 0  # partial: no header list
