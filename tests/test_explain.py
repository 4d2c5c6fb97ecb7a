"""`wafpy explain` on the conformance cases: every rule evaluated is listed, with why it matched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wafpy.cli.main import main

CASES = sorted((Path(__file__).parent / "conformance").glob("*.json"))


def _write_case(tmp_path: Path, path: Path, index: int) -> list[str]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    (tmp_path / "acl.json").write_text(json.dumps(doc["webacl"]))
    (tmp_path / "request.jsonl").write_text(json.dumps(doc["cases"][index]["request"]) + "\n")
    args = [
        "explain",
        str(tmp_path / "acl.json"),
        str(tmp_path / "request.jsonl"),
        "--search-string",
        "text",
        "--account",
        doc.get("account", "111122223333"),
    ]
    if doc.get("resources"):
        (tmp_path / "resources.json").write_text(json.dumps(doc["resources"]))
        args += ["--resources", str(tmp_path / "resources.json")]
    return args


@pytest.mark.slow
@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_explains_every_conformance_file(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    case = doc["cases"][0]
    assert main(_write_case(tmp_path, path, 0)) == 0
    out = capsys.readouterr().out
    if "action" in case["expect"]:
        assert f"→ {case['expect']['action']} by" in out
    if "terminatingRuleId" in case["expect"]:
        assert case["expect"]["terminatingRuleId"] in out


def test_shows_rules_in_order_with_match_details(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = Path(__file__).parent / "conformance" / "17-rule-group-overrides.json"
    assert main(_write_case(tmp_path, path, 0)) == 0
    out = capsys.readouterr().out
    # Web ACL rules in priority order, each group's rules indented under the rule that references it.
    lines = [line.split() for line in out.splitlines()]
    listed = [words[1] for words in lines if len(words) > 1 and words[0].isdigit()]
    order = [
        "legacy-excluded",
        "legacy-block-admin",
        "baseline",
        "block-admin",
        "strict-count-only",
        "final-admin-guard",
    ]
    assert [name for name in listed if name in order] == order
    assert "MATCH → COUNT (configured BLOCK)" in out
    assert "/admin/panel" in out and "ByteMatchStatement" in out
