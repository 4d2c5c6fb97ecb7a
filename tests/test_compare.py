"""`--compare`: which logged → new transitions count as changes, and planted changes are found."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.replay_fixtures import acl_document, alb_line, run_cli, waf_record, write_acl, write_jsonl
from wafpy.logs.records import LoggedOutcome
from wafpy.replay import BadLine, Outcome, Replay, ReplayOptions
from wafpy.replay.compare import RULE_CHANGE, UNKNOWN_SUFFIX, Comparison
from wafpy.webacl import load_web_acl


def outcome(
    action: str,
    rule: str,
    logged: LoggedOutcome | None,
    *,
    kind: str = "waf",
    not_evaluable: tuple[str, ...] = (),
) -> Outcome:
    return Outcome(
        "log",
        7,
        None,
        kind,
        "GET",
        "/x",
        "192.0.2.1",
        action,
        rule,
        "REGULAR",
        (),
        (),
        not_evaluable,
        logged,
        None,
    )


@pytest.mark.parametrize(
    ("kind", "logged", "new_action", "new_rule", "expected"),
    [
        ("waf", LoggedOutcome("ALLOW", "Default_Action"), "ALLOW", "Default_Action", None),
        ("waf", LoggedOutcome("ALLOW", "Default_Action"), "BLOCK", "r1", "ALLOW→BLOCK"),
        ("waf", LoggedOutcome("BLOCK", "r1"), "ALLOW", "Default_Action", "BLOCK→ALLOW"),
        ("waf", LoggedOutcome("ALLOW", "Default_Action"), "CAPTCHA", "r2", "ALLOW→CAPTCHA"),
        ("waf", LoggedOutcome("CHALLENGE", "r3"), "BLOCK", "r1", "CHALLENGE→BLOCK"),
        ("waf", LoggedOutcome("BLOCK", "r1"), "BLOCK", "r2", RULE_CHANGE),
        ("waf", LoggedOutcome("BLOCK", "r1"), "BLOCK", "r1", None),
        (
            "waf",
            LoggedOutcome("BLOCK", None),
            "BLOCK",
            "r1",
            None,
        ),  # no rule logged: the action is all we know
        # ALB logs: CAPTCHA and challenge answers look like blocks; rules are unknown.
        ("alb", LoggedOutcome("BLOCK"), "CAPTCHA", "r2", None),
        ("alb", LoggedOutcome("BLOCK"), "ALLOW", "Default_Action", "BLOCK→ALLOW"),
        ("alb", LoggedOutcome("ALLOW"), "CHALLENGE", "r3", "ALLOW→BLOCK"),
        ("alb", LoggedOutcome("ALLOW"), "ALLOW", "r0", None),
        ("alb", LoggedOutcome(None, excluded=True, note="waf-failed"), "BLOCK", "r1", None),
        ("jsonl", None, "BLOCK", "r1", None),
    ],
)
def test_change_kinds(
    kind: str, logged: LoggedOutcome | None, new_action: str, new_rule: str, expected: str | None
) -> None:
    comparison = Comparison()
    assert comparison.add(outcome(new_action, new_rule, logged, kind=kind)) == expected
    assert comparison.changed == (1 if expected else 0)


def test_uncomparable_entries_are_counted_apart() -> None:
    comparison = Comparison()
    comparison.add(outcome("BLOCK", "r1", None, kind="jsonl"))
    comparison.add(outcome("BLOCK", "r1", LoggedOutcome(None, excluded=True, note="waf-failed"), kind="alb"))
    comparison.add(outcome("BLOCK", "r1", LoggedOutcome("BLOCK", "r1")))
    assert (comparison.compared, comparison.no_ground_truth, dict(comparison.excluded)) == (
        1,
        1,
        {"waf-failed": 1},
    )


def test_a_change_decided_by_a_rule_the_log_cannot_evaluate_is_kept_apart() -> None:
    comparison = Comparison(rule_names=["r0", "sqli-body"])
    kind = comparison.add(
        outcome(
            "ALLOW",
            "Default_Action",
            LoggedOutcome("BLOCK", "sqli-body"),
            not_evaluable=("Rules[1].Statement.SqliMatchStatement",),
        )
    )
    assert kind == "BLOCK→ALLOW" + UNKNOWN_SUFFIX
    assert comparison.unknown == 1
    other = comparison.add(
        outcome(
            "ALLOW",
            "Default_Action",
            LoggedOutcome("BLOCK", "r0"),
            not_evaluable=("Rules[1].Statement.SqliMatchStatement",),
        )
    )
    assert other == "BLOCK→ALLOW"
    assert comparison.ordered_kinds() == ["BLOCK→ALLOW", "BLOCK→ALLOW" + UNKNOWN_SUFFIX]


def test_examples_and_rule_pairs_are_bounded() -> None:
    comparison = Comparison(examples=3)
    for i in range(1000):
        comparison.add(outcome("BLOCK", f"new-{i}", LoggedOutcome("ALLOW", "Default_Action")))
    assert comparison.changes["ALLOW→BLOCK"] == 1000
    assert len(comparison.examples["ALLOW→BLOCK"]) == 3
    assert len(comparison.rules["ALLOW→BLOCK"]) <= 201
    assert sum(comparison.rules["ALLOW→BLOCK"].values()) == 1000


def planted_log() -> list[dict[str, object]]:
    """Logged by an older web ACL; the test ACL changes exactly the requests marked below."""
    return [
        waf_record(0, "/"),  # unchanged
        waf_record(1, "/admin/x"),  # ALLOW→BLOCK by block-admin
        waf_record(2, "/old-blocked", action="BLOCK", rule="legacy-rule"),  # BLOCK→ALLOW
        waf_record(3, "/login"),  # ALLOW→CAPTCHA by captcha-login
        waf_record(4, "/admin", action="BLOCK", rule="old-admin-rule"),  # same action, other rule
        waf_record(5, "/x", action="BLOCK", rule="block-body"),  # body rule: not evaluable from the log
        waf_record(6, "/products", ua="SomeBot"),  # COUNT only: unchanged
    ]


def test_planted_changes_are_found(tmp_path: Path) -> None:
    acl = load_web_acl(acl_document(), search_string="text")
    logs = write_jsonl(tmp_path / "waf.jsonl", planted_log())
    comparison = Comparison(rule_names=[r.name for r in acl.model.rules])
    for item in Replay(acl, [str(logs)], ReplayOptions()):
        assert not isinstance(item, BadLine)
        comparison.add(item)
    assert dict(comparison.changes) == {
        "ALLOW→BLOCK": 1,
        "BLOCK→ALLOW": 1,
        "ALLOW→CAPTCHA": 1,
        RULE_CHANGE: 1,
        "BLOCK→ALLOW" + UNKNOWN_SUFFIX: 1,
    }
    assert [(e.line, e.old_rule, e.new_rule) for e in comparison.examples["ALLOW→BLOCK"]] == [
        (2, "Default_Action", "block-admin")
    ]
    assert comparison.rules[RULE_CHANGE] == {("old-admin-rule", "block-admin"): 1}
    assert comparison.examples["BLOCK→ALLOW"][0].uri == "/old-blocked"
    assert comparison.matrix[("ALLOW", "ALLOW")] == 2
    assert comparison.compared == 7


def test_compare_on_alb_logs_uses_blocked_or_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    acl = write_acl(tmp_path / "acl.json")
    alb = tmp_path / "alb.log"
    alb.write_text(
        "\n".join(
            [
                alb_line(0, "/admin/a", blocked=True),  # unchanged
                alb_line(1, "/admin/b"),  # ALLOW→BLOCK
                alb_line(2, "/shop", blocked=True),  # BLOCK→ALLOW
                alb_line(3, "/login"),  # CAPTCHA answer: ALLOW→BLOCK for an ALB log
            ]
        )
        + "\n"
    )
    code, stdout, _ = run_cli(["eval", str(acl), str(alb), "--search-string", "text", "--compare"], capsys)
    assert code == 0
    assert "4 requests, 3 changed" in stdout
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in stdout.splitlines()
        if line.startswith("│") and "→" in line.split("│")[1] and len(line.split("│")) == 5
    }
    assert rows == {"ALLOW→BLOCK": "2", "BLOCK→ALLOW": "1"}
    assert f"{alb}:2" in stdout and f"{alb}:3" in stdout


def test_cli_compare_lists_changes_with_examples(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    acl = write_acl(tmp_path / "acl.json")
    logs = write_jsonl(tmp_path / "waf.jsonl", planted_log())
    code, stdout, _ = run_cli(["eval", str(acl), str(logs), "--search-string", "text", "--compare"], capsys)
    assert code == 0
    assert "7 requests, 5 changed" in stdout
    for text in (
        "ALLOW→BLOCK",
        "BLOCK→ALLOW",
        "ALLOW→CAPTCHA",
        RULE_CHANGE,
        "legacy-rule → Default_Action",
        f"{logs}:4",
        "/login",
    ):
        assert text in stdout
    assert stdout.index("ALLOW→BLOCK") < stdout.index("BLOCK→ALLOW") < stdout.index(RULE_CHANGE)
