"""`wafpy diff OLD NEW LOGS`: two web ACL versions evaluated on the same requests, read once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.builders import byte_match, rule, web_acl
from tests.replay_fixtures import alb_line, run_cli, waf_record, write_jsonl
from wafpy.replay.compare import RULE_CHANGE
from wafpy.replay.diff import diff_logs
from wafpy.webacl import load_web_acl

URI: dict[str, Any] = {"UriPath": {}}
BODY: dict[str, Any] = {"Body": {"OversizeHandling": "CONTINUE"}}


def _acl(*rules: dict[str, Any], default: str = "Allow") -> dict[str, Any]:
    return web_acl(list(rules), default=default)


ADMIN = rule("block-admin", 0, byte_match(URI, "/admin", "STARTS_WITH"))
ADMIN_NOW = rule("block-admin-v2", 0, byte_match(URI, "/admin", "STARTS_WITH"))
LOGIN_CAPTCHA = rule("login", 1, byte_match(URI, "/login", "EXACTLY"), "Captcha")
EVIL_BODY = rule("block-body", 2, byte_match(BODY, "evil"))


def _write(tmp_path: Path, name: str, doc: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def _waf_log(tmp_path: Path, uris: list[str]) -> Path:
    return write_jsonl(tmp_path / "waf.jsonl", [waf_record(i, u) for i, u in enumerate(uris)])


def _alb_log(tmp_path: Path, uris: list[str]) -> Path:
    path = tmp_path / "alb.log"
    path.write_text("".join(alb_line(i, u) + "\n" for i, u in enumerate(uris)))
    return path


def _request_lines(tmp_path: Path, uris: list[str]) -> Path:
    lines = [{"httpMethod": "GET", "uri": u, "clientIp": "192.0.2.1", "body": "evil"} for u in uris]
    return write_jsonl(tmp_path / "requests.jsonl", lines)


URIS = ["/", "/admin/x", "/login", "/admin", "/shop"]

CASES: list[tuple[str, dict[str, Any], dict[str, Any], Any, dict[tuple[str, str], int], dict[str, int]]] = [
    # name, old ACL, new ACL, log writer, matrix, changes
    ("identical", _acl(ADMIN), _acl(ADMIN), _waf_log, {("ALLOW", "ALLOW"): 3, ("BLOCK", "BLOCK"): 2}, {}),
    (
        "rule added",
        _acl(ADMIN),
        _acl(ADMIN, LOGIN_CAPTCHA),
        _waf_log,
        {("ALLOW", "ALLOW"): 2, ("BLOCK", "BLOCK"): 2, ("ALLOW", "CAPTCHA"): 1},
        {"ALLOW→CAPTCHA": 1},
    ),
    (
        "rule removed",
        _acl(ADMIN),
        _acl(),
        _alb_log,
        {("ALLOW", "ALLOW"): 3, ("BLOCK", "ALLOW"): 2},
        {"BLOCK→ALLOW": 2},
    ),
    (
        "rule renamed",
        _acl(ADMIN),
        _acl(ADMIN_NOW),
        _alb_log,
        {("ALLOW", "ALLOW"): 3, ("BLOCK", "BLOCK"): 2},
        {RULE_CHANGE: 2},
    ),
    (
        "default action flipped",
        _acl(ADMIN),
        _acl(ADMIN, default="Block"),
        _request_lines,
        {("ALLOW", "BLOCK"): 3, ("BLOCK", "BLOCK"): 2},
        {"ALLOW→BLOCK": 3},
    ),
    # A body rule on a WAF log (no body): absent on both sides alike, so nothing changes.
    (
        "body rule on a WAF log",
        _acl(ADMIN),
        _acl(ADMIN, EVIL_BODY),
        _waf_log,
        {("ALLOW", "ALLOW"): 3, ("BLOCK", "BLOCK"): 2},
        {},
    ),
    # Request lines carry the body: the same rule now blocks them all.
    (
        "body rule on request lines",
        _acl(ADMIN),
        _acl(ADMIN, EVIL_BODY),
        _request_lines,
        {("ALLOW", "BLOCK"): 3, ("BLOCK", "BLOCK"): 2},
        {"ALLOW→BLOCK": 3},
    ),
]


@pytest.mark.parametrize(
    ("old_doc", "new_doc", "write_log", "matrix", "changes"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_diff_matrix_and_changes(
    tmp_path: Path,
    old_doc: dict[str, Any],
    new_doc: dict[str, Any],
    write_log: Any,
    matrix: dict[tuple[str, str], int],
    changes: dict[str, int],
) -> None:
    log = write_log(tmp_path, URIS)
    old = load_web_acl(_write(tmp_path, "old.json", old_doc))
    new = load_web_acl(_write(tmp_path, "new.json", new_doc))
    diff = diff_logs(old, new, [str(log)])
    assert dict(diff.comparison.matrix) == matrix
    assert dict(diff.comparison.changes) == changes
    assert diff.comparison.compared == len(URIS)
    assert diff.summary.total == len(URIS)
    for kind, examples in diff.comparison.examples.items():
        assert examples, kind
        assert all(ex.source == str(log) and ex.line >= 1 for ex in examples)


def test_rules_responsible_and_examples(tmp_path: Path) -> None:
    log = _waf_log(tmp_path, URIS)
    old = load_web_acl(_write(tmp_path, "old.json", _acl(ADMIN)))
    new = load_web_acl(_write(tmp_path, "new.json", _acl(ADMIN_NOW)))
    comparison = diff_logs(old, new, [str(log)]).comparison
    assert dict(comparison.rules[RULE_CHANGE]) == {("block-admin", "block-admin-v2"): 2}
    assert [(ex.line, ex.method, ex.uri) for ex in comparison.examples[RULE_CHANGE]] == [
        (2, "GET", "/admin/x"),
        (4, "GET", "/admin"),
    ]


def test_bad_lines_are_counted_apart(tmp_path: Path) -> None:
    log = _waf_log(tmp_path, ["/", "/admin"])
    log.write_text(log.read_text() + "{not json\n")
    old = load_web_acl(_write(tmp_path, "old.json", _acl(ADMIN)))
    diff = diff_logs(old, old, [str(log)])
    assert diff.summary.bad_lines == 1
    assert diff.comparison.compared == 2
    assert diff.comparison.changed == 0


def test_cli_diff_terminal_json_and_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = _waf_log(tmp_path, URIS)
    old = _write(tmp_path, "old.json", _acl(ADMIN))
    new = _write(tmp_path, "new.json", _acl(ADMIN, LOGIN_CAPTCHA))
    report, data = tmp_path / "diff.html", tmp_path / "diff.json"
    code, out, err = run_cli(
        ["diff", str(old), str(new), str(log), "--json", str(data), "--report", str(report)], capsys
    )
    assert code == 0, err
    assert "ALLOW→CAPTCHA" in out
    assert "old terminating rule" in out
    doc = json.loads(data.read_text())
    assert doc["requests"] == 5 and doc["changed"] == 1 and doc["undetermined"] == 0
    assert doc["changes"][0]["change"] == "ALLOW→CAPTCHA"
    assert doc["changes"][0]["rules"] == [{"old_rule": "Default_Action", "new_rule": "login", "requests": 1}]
    assert doc["changes"][0]["examples"][0]["where"] == f"{log}:3"
    assert doc["changes"][0]["examples"][0]["uri"] == "/login"
    html = report.read_text()
    assert "old ↓ / new →" in html and "ALLOW→CAPTCHA" in html


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["{old}", "{new}", "{log}"], 0),
        (["{old}", "{tmp}/missing.json", "{log}"], 1),
        (["{old}", "{new}", "{tmp}/missing.log"], 4),
        (["{old}", "{new}", "{bad}", "--strict"], 3),
    ],
)
def test_cli_diff_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], code: int
) -> None:
    log = _waf_log(tmp_path, URIS)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(log.read_text() + "{not json\n")
    old = _write(tmp_path, "old.json", _acl(ADMIN))
    new = _write(tmp_path, "new.json", _acl())
    values = {"old": old, "new": new, "log": log, "bad": bad, "tmp": tmp_path}
    got, _, err = run_cli(["diff", *(a.format(**values) for a in args)], capsys)
    assert got == code, err


@pytest.mark.parametrize("command", ["eval", "validate", "test", "explain", "diff"])
def test_every_command_help_has_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli([command, "--help"], capsys)
    assert code == 0
    assert out.count("examples:") == 1
    assert f"  wafpy {command} " in out


def test_python_dash_m_wafpy_and_version() -> None:
    import subprocess
    import sys

    from wafpy._version import __version__

    done = subprocess.run(
        [sys.executable, "-m", "wafpy", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"wafpy {__version__}"


def test_managed_groups_replayed_from_the_log_on_both_sides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.test_replay_managed import MISSING, TERMINATED, group_rule, label_block_rule
    from tests.test_replay_managed import web_acl as managed_acl

    # The group in Count mode; the new version blocks on the label it adds.
    old = _write(tmp_path, "old.json", managed_acl(group_rule(override_count=True)))
    new = _write(tmp_path, "new.json", managed_acl(group_rule(override_count=True), label_block_rule()))
    log = write_jsonl(tmp_path / "waf.jsonl", [TERMINATED, MISSING])
    data = tmp_path / "diff.json"
    # No --managed: on AWS WAF logs both sides replay the group from the records, as eval does.
    code, _, err = run_cli(["diff", str(old), str(new), str(log), "--json", str(data)], capsys)
    assert code == 0, err
    doc = json.loads(data.read_text())
    assert doc["undetermined"] == 1  # the group is missing from one record: counted apart
    assert doc["compared"] == 1
    assert [c["change"] for c in doc["changes"]] == ["ALLOW→BLOCK"]  # the label now blocks
    assert doc["changes"][0]["rules"][0] == {
        "old_rule": "Default_Action",
        "new_rule": "label-block",
        "requests": 1,
    }
