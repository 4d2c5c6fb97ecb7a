"""CI gates of `wafpy eval`: --fail-on-change with --max-changes, --summary-json, --junit."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.shared import ROOT
from wafpy.cli.main import EXIT_EMPTY, EXIT_FAIL_ON, EXIT_OK, EXIT_USAGE, main
from wafpy.replay.gates import Threshold, change_gate, parse_change_kind, parse_threshold

SAMPLE = ROOT / "samples" / "waf-logs.jsonl.gz"
BASE = [
    "eval",
    "--resources",
    str(ROOT / "rulesets" / "demo-resources"),
    "-q",
    str(ROOT / "rulesets" / "demo-webacl.json"),
]


def _eval(*extra: str, log: Path = SAMPLE) -> int:
    return main([*BASE, str(log), *extra])


@pytest.mark.parametrize(
    ("text", "kind"),
    [("ALLOW->BLOCK", "ALLOW→BLOCK"), ("block→allow", "BLOCK→ALLOW"), (" COUNT -> CAPTCHA", "COUNT→CAPTCHA")],
)
def test_change_kinds_are_read_as_the_matrix_spells_them(text: str, kind: str) -> None:
    assert parse_change_kind(text) == kind


@pytest.mark.parametrize("text", ["ALLOWBLOCK", "->BLOCK", "ALLOW->", "A->B->C"])
def test_a_change_kind_needs_old_and_new(text: str) -> None:
    with pytest.raises(ValueError, match="OLD->NEW"):
        parse_change_kind(text)


@pytest.mark.parametrize(
    ("text", "threshold"), [("0", Threshold()), ("7", Threshold(count=7)), ("2.5%", Threshold(percent=2.5))]
)
def test_thresholds(text: str, threshold: Threshold) -> None:
    assert parse_threshold(text) == threshold


@pytest.mark.parametrize("text", ["-1", "five", "101%", "%"])
def test_bad_thresholds(text: str) -> None:
    with pytest.raises(ValueError, match="percentage"):
        parse_threshold(text)


MATRIX = {"ALLOW→BLOCK": 4, "ALLOW→BLOCK (logged rule not evaluable)": 1, "BLOCK→ALLOW": 2}


@pytest.mark.parametrize(
    ("kinds", "threshold", "changed", "failed"),
    [
        (["ALLOW→BLOCK"], None, 5, True),  # the changes kept apart count too
        (["ALLOW→BLOCK"], Threshold(count=5), 5, False),
        (["ALLOW→BLOCK"], Threshold(count=4), 5, True),
        (["ALLOW→BLOCK"], Threshold(percent=5), 5, False),  # 5 of 100
        (["ALLOW→BLOCK"], Threshold(percent=4.9), 5, True),
        (["COUNT→BLOCK"], None, 0, False),
        (["ALLOW→BLOCK", "BLOCK→ALLOW"], Threshold(count=6), 7, True),
    ],
)
def test_change_gate_on_a_matrix(
    kinds: list[str], threshold: Threshold | None, changed: int, failed: bool
) -> None:
    gate = change_gate(MATRIX, 100, kinds, threshold)
    assert (gate.changed, gate.failed) == (changed, failed)
    assert ("over" if failed else "within") in gate.describe()


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        (["--fail-on-change", "ALLOW->BLOCK"], EXIT_FAIL_ON),
        (["--fail-on-change", "ALLOW->BLOCK", "--max-changes", "5"], EXIT_OK),
        (["--fail-on-change", "ALLOW->BLOCK", "--max-changes", "4"], EXIT_FAIL_ON),
        (["--fail-on-change", "ALLOW->BLOCK", "--max-changes", "1%"], EXIT_OK),
        (["--fail-on-change", "CAPTCHA->ALLOW"], EXIT_OK),
    ],
)
def test_fail_on_change(capsys: pytest.CaptureFixture[str], extra: list[str], code: int) -> None:
    # The sample has 5 requests logged ALLOW that the demo web ACL blocks, of 610 compared.
    assert _eval("--compare", *extra) == code
    if code == EXIT_FAIL_ON:
        assert "--fail-on-change: 5 of 610 requests changed (5 ALLOW→BLOCK)" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra",
    [
        ["--fail-on-change", "ALLOW->BLOCK"],
        ["--compare", "--max-changes", "3"],
        ["--compare", "--fail-on-change", "X"],
    ],
)
def test_gate_usage_errors(extra: list[str]) -> None:
    assert _eval(*extra) == EXIT_USAGE


def test_summary_json(tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    assert _eval("--compare", "--fail-on", "CAPTCHA", "--summary-json", str(out)) == EXIT_OK
    counts: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    assert counts["requests"] == sum(counts["actions"].values()) > 0
    assert sum(r["requests"] for r in counts["terminating_rules"]) == counts["requests"]
    assert counts["bad_lines"] == 0 and counts["undetermined"]["requests"] >= 0
    assert counts["changes"]["by_kind"]["ALLOW→BLOCK"] == 5
    assert counts["exit_code"] == EXIT_OK
    assert [g["name"] for g in counts["gates"]] == [
        "every input read whole",
        "--fail-on CAPTCHA",
        "at least one request evaluated",
    ]


def test_junit_one_testcase_per_gate(tmp_path: Path) -> None:
    report = tmp_path / "eval.xml"
    code = _eval(
        "--compare", "--fail-on", "CAPTCHA", "--fail-on-change", "ALLOW->BLOCK", "--junit", str(report)
    )
    assert code == EXIT_FAIL_ON
    root = ET.fromstring(report.read_bytes())
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "1", "0")
    cases = {case.get("name"): case for case in root.iter("testcase")}
    failure = cases["--fail-on-change ALLOW→BLOCK"].find("failure")
    assert failure is not None and failure.text is not None
    assert f"{SAMPLE.relative_to(ROOT)}" in failure.text or str(SAMPLE) in failure.text  # file:line examples
    assert cases["--fail-on CAPTCHA"].find("failure") is None


def test_junit_and_json_on_an_empty_run(tmp_path: Path) -> None:
    empty, report, counts = tmp_path / "empty.log", tmp_path / "eval.xml", tmp_path / "counts.json"
    empty.write_bytes(b"")
    code = _eval("--fail-on", "BLOCK", "--junit", str(report), "--summary-json", str(counts), log=empty)
    assert code == EXIT_EMPTY
    root = ET.fromstring(report.read_bytes())
    assert root.get("failures") == "1"
    assert json.loads(counts.read_text(encoding="utf-8"))["exit_code"] == EXIT_EMPTY


@pytest.mark.parametrize("workers", ["1", "2"])
def test_fail_on_names_the_offending_requests(capsys: pytest.CaptureFixture[str], workers: str) -> None:
    assert _eval("--fail-on", "BLOCK", "--workers", workers) == EXIT_FAIL_ON
    err = capsys.readouterr().err
    named = [line for line in err.splitlines() if ": BLOCK by " in line]
    assert len(named) == 10  # capped, then how many more
    assert named[0] == f"{SAMPLE}:6: BLOCK by block-sqli-query"  # file:line, in input order
    assert "... and 73 more" in err


def test_fail_on_count_names_the_counting_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert _eval("--fail-on", "COUNT") == EXIT_FAIL_ON
    assert f"{SAMPLE}:42: COUNT by tag-suspicious-client" in capsys.readouterr().err
