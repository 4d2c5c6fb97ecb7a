"""`aws logs filter-log-events` output as a log source: each event's message is an AWS WAF record."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from tests.replay_fixtures import run_cli, waf_record, write_acl
from wafpy.errors import LogFormatError
from wafpy.logs import read_entries
from wafpy.logs.formats import detect


def _event(i: int, record: dict[str, Any] | str) -> dict[str, Any]:
    """One event as `aws logs filter-log-events` prints it."""
    return {
        "logStreamName": "us-east-1_web-acl_0",
        "timestamp": 1700000000000 + i,
        "message": record if isinstance(record, str) else json.dumps(record, separators=(",", ":")),
        "ingestionTime": 1700000000500 + i,
        "eventId": f"3803{i:052d}",
    }


def _output(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "events": events,
        "searchedLogStreams": [{"logStreamName": "us-east-1_web-acl_0", "searchedCompletely": True}],
    }


RECORDS = [waf_record(0, "/"), waf_record(1, "/admin", ip="198.51.100.7"), waf_record(2, "/x")]


def _write(path: Path, layout: str, events: list[dict[str, Any]]) -> Path:
    if layout == "cli":  # the AWS CLI's default JSON output: 4-space indent
        path.write_text(json.dumps(_output(events), indent=4) + "\n")
    elif layout == "one-line":
        path.write_text(json.dumps(_output(events)) + "\n")
    elif layout == "events-per-line":  # jq -c '.events[]'
        path.write_text("".join(json.dumps(e) + "\n" for e in events))
    elif layout == "gzip":
        path.write_bytes(gzip.compress(json.dumps(_output(events), indent=4).encode()))
    return path


LAYOUTS = ["cli", "one-line", "events-per-line", "gzip"]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fmt", ["auto", "cloudwatch"])
def test_filter_log_events_output_reads_as_waf_records(layout: str, fmt: Any, tmp_path: Path) -> None:
    file = _write(tmp_path / "events.json", layout, [_event(i, r) for i, r in enumerate(RECORDS)])
    entries = list(read_entries([str(file)], format=fmt))
    assert [e.kind for e in entries] == ["waf", "waf", "waf"]
    assert [e.http_request["uri"] for e in entries] == ["/", "/admin", "/x"]
    assert entries[1].http_request["clientIp"] == "198.51.100.7"
    assert entries[0].logged is not None and entries[0].logged.action == "ALLOW"


def test_the_events_are_numbered_by_the_line_they_start_on(tmp_path: Path) -> None:
    events = [_event(0, RECORDS[0]), _event(1, "{not json"), _event(2, {"uri": "/"}), _event(3, RECORDS[2])]
    file = _write(tmp_path / "events.json", "cli", events)
    errors: list[LogFormatError] = []
    entries = list(read_entries([str(file)], on_error=errors.append))
    assert [e.http_request["uri"] for e in entries] == ["/", "/x"]
    text = file.read_text().splitlines()
    starts = [n for n, line in enumerate(text, 1) if line.strip() == "{" and n > 1]
    assert [(e.line, e.message.split(":")[0]) for e in errors] == [
        (starts[1], "not valid JSON"),
        (starts[2], "not an AWS WAF log record (no httpRequest)"),
    ]
    assert entries[1].line == starts[3]


def test_detection() -> None:
    line = json.dumps(_event(0, RECORDS[0])).encode()
    found = detect(line)
    assert found is not None and found.name == "cloudwatch"
    record = detect(json.dumps(RECORDS[0]).encode())
    assert record is not None and record.name == "json"


@pytest.mark.parametrize("layout", ["cli", "events-per-line"])
def test_eval_and_explain_read_filter_log_events(
    layout: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    acl = write_acl(tmp_path / "acl.json")
    logs = _write(tmp_path / "events.json", layout, [_event(i, r) for i, r in enumerate(RECORDS)])
    out = tmp_path / "out.jsonl"
    code, _, err = run_cli(["eval", str(acl), str(logs), "-q", "-o", str(out)], capsys)
    assert code == 0, err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["httpRequest"]["uri"] for r in records] == ["/", "/admin", "/x"]
    code, stdout, err = run_cli(["explain", str(acl), str(logs)], capsys)
    assert code == 0, err
    assert "/" in stdout


def test_large_output_is_streamed_event_by_event(tmp_path: Path) -> None:
    events = [_event(i, waf_record(i, f"/p{i}")) for i in range(3000)]
    file = _write(tmp_path / "events.json", "cli", events)
    entries = read_entries([str(file)])
    first = next(entries)
    assert first.http_request["uri"] == "/p0"
    assert sum(1 for _ in entries) == 2999
