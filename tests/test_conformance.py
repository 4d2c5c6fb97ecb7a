"""Every conformance case (web ACL + requests + what AWS decides), through both entry paths.

The cases are the project's own copy in tests/conformance/; `test_copy_matches_shared` fails when
the copy falls behind the shared originals, so new cases are picked up.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import wafpy
from tests.shared import shared_dir

CASES_DIR = Path(__file__).parent / "conformance"
FILES = sorted(CASES_DIR.glob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _case_ids() -> list[tuple[Path, int, str]]:
    ids = []
    for path in FILES:
        for index, case in enumerate(_load(path)["cases"]):
            ids.append((path, index, f"{path.stem}::{case['name']}"))
    return ids


CASE_IDS = _case_ids()
_ACLS: dict[Path, wafpy.WebACL] = {}
_DONE: dict[Path, int] = {}


def _acl_for(path: Path, index: int) -> wafpy.WebACL:
    """One web ACL instance per file, fed its cases in order (rate-based state carries over)."""
    doc = _load(path)
    if path not in _ACLS or _DONE[path] >= index:
        _ACLS[path] = wafpy.load_web_acl(
            doc["webacl"],
            resources=doc.get("resources") or {},
            account=doc.get("account"),
            search_string="text",
        )
        _DONE[path] = -1
        for earlier in doc["cases"][:index]:
            _ACLS[path].evaluate(
                wafpy.Request.from_log(
                    earlier["request"], timestamp=earlier.get("timestamp"), body_available=True
                )
            )
    _DONE[path] = index
    return _ACLS[path]


def check(decision: wafpy.Decision, expect: dict[str, Any]) -> None:
    if "action" in expect:
        assert decision.action == expect["action"]
    if "terminatingRuleId" in expect:
        assert decision.terminating_rule_id == expect["terminatingRuleId"]
    if "responseCode" in expect:
        assert decision.response_code == expect["responseCode"]
    if "labels" in expect:
        if expect.get("labelsExact"):
            assert sorted(decision.labels) == sorted(expect["labels"])
        else:
            missing = set(expect["labels"]) - set(decision.labels)
            assert not missing, f"labels missing: {sorted(missing)}; have {list(decision.labels)}"
    if "nonTerminatingMatchingRules" in expect:
        assert list(decision.non_terminating_matching_rules) == expect["nonTerminatingMatchingRules"]


@pytest.mark.parametrize(("path", "index"), [(p, i) for p, i, _ in CASE_IDS], ids=[c for _, _, c in CASE_IDS])
def test_case(path: Path, index: int) -> None:
    case = _load(path)["cases"][index]
    acl = _acl_for(path, index)
    decision = acl.evaluate(
        wafpy.Request.from_log(case["request"], timestamp=case.get("timestamp"), body_available=True)
    )
    check(decision, case["expect"])


def test_every_file_has_cases() -> None:
    assert len(FILES) >= 40
    assert all(_load(p)["cases"] for p in FILES)


def test_copy_matches_shared() -> None:
    shared = shared_dir("conformance")
    theirs = {p.name: p.read_bytes() for p in shared.iterdir() if p.suffix in {".json", ".md"}}
    ours = {p.name: p.read_bytes() for p in CASES_DIR.iterdir() if p.suffix in {".json", ".md"}}
    assert sorted(theirs) == sorted(ours), (
        "tests/conformance/ lacks or has extra files: copy ../shared/conformance/"
    )
    changed = [name for name in theirs if theirs[name] != ours[name]]
    assert not changed, f"tests/conformance/ differs from ../shared/conformance/ in {changed}"
