"""`wafpy test`: case files run, reported like pytest, with exit codes a CI job can rely on.

Bad inputs come as a table with the exit code each gives and the message it must print; the
JUnit XML report is parsed back, names with markup and control characters included.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from wafpy.cli.main import main
from wafpy.cli.waftest import EXIT_FAILED, EXIT_INVALID, EXIT_NO_CASES, EXIT_OK, EXIT_USAGE
from wafpy.testing import CaseFileError, build_request, read_case_file, run_case_file

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "waftest"
CONFORMANCE = ROOT / "tests" / "conformance"

_VISIBILITY = {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": "m"}
ACL: dict[str, Any] = {
    "Name": "unit",
    "DefaultAction": {"Allow": {}},
    "VisibilityConfig": _VISIBILITY,
    "Rules": [
        {
            "Name": "block-admin",
            "Priority": 0,
            "Action": {"Block": {}},
            "VisibilityConfig": _VISIBILITY,
            "RuleLabels": [{"Name": "area:admin"}],
            "Statement": {
                "ByteMatchStatement": {
                    "SearchString": "/admin",
                    "FieldToMatch": {"UriPath": {}},
                    "PositionalConstraint": "STARTS_WITH",
                    "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
                }
            },
        }
    ],
}
LABEL = "awswaf:111122223333:webacl:unit:area:admin"


def _case(name: str, uri: str, **expect: Any) -> dict[str, Any]:
    return {"name": name, "request": {"uri": uri}, "expect": expect}


def _doc(*cases: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"webacl": ACL, "account": "111122223333", "cases": list(cases), **top}


PASSING = _doc(
    _case("home is allowed", "/", action="ALLOW", terminatingRuleId="Default_Action"),
    _case("admin is blocked", "/admin/x", action="BLOCK", terminatingRuleId="block-admin", labels=[LABEL]),
)
FAILING = _doc(
    _case("home is allowed", "/", action="ALLOW"),
    _case("admin is allowed (wrong)", "/admin", action="ALLOW", terminatingRuleId="Default_Action"),
)


def _write(folder: Path, name: str, doc: Any) -> Path:
    path = folder / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


def test_passing_cases_exit_0_with_a_line_per_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "unit.waftest.json", PASSING)
    assert main(["test", str(path)]) == EXIT_OK
    out = capsys.readouterr().out
    assert f"{path}::home is allowed PASSED" in out
    assert f"{path}::admin is blocked PASSED" in out
    assert "2 passed" in out.splitlines()[-1]


def test_a_failure_exits_2_showing_expected_actual_and_the_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "unit.waftest.json", FAILING)
    assert main(["test", str(path)]) == EXIT_FAILED
    out = capsys.readouterr().out
    assert f"{path}::admin is allowed (wrong) FAILED" in out
    assert "action: expected ALLOW, got BLOCK" in out
    assert "terminatingRuleId: expected Default_Action, got block-admin" in out
    assert "request: GET /admin from 127.0.0.1" in out
    assert "MATCH -> BLOCK" in out and "block-admin" in out
    assert "1 failed, 1 passed" in out.splitlines()[-1]


def test_quiet_prints_only_failures_and_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "unit.waftest.json", FAILING)
    assert main(["test", "-q", str(path)]) == EXIT_FAILED
    out = capsys.readouterr().out
    assert "PASSED" not in out
    assert "admin is allowed (wrong) FAILED" in out


def test_folders_are_searched_for_case_files_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub", "a.waftest.json", PASSING)
    _write(tmp_path, "webacl.json", ACL)  # not a case file: not picked up from a folder
    assert main(["test", str(tmp_path)]) == EXIT_OK
    assert "1 case file(s), 2 request(s)" in capsys.readouterr().out


def test_the_examples_pass() -> None:
    assert main(["test", "-q", str(EXAMPLES)]) == EXIT_OK


def test_every_conformance_file_runs_as_a_case_file() -> None:
    # The format is the conformance cases' format; SearchString "auto" reads their plain text.
    for path in sorted(CONFORMANCE.glob("*.json")):
        outcomes = run_case_file(read_case_file(path))
        assert [o.failures for o in outcomes if not o.passed] == [], path.name


YAML_CASES = """\
webacl: webacl.json
account: "111122223333"
cases:
  - name: admin in YAML
    request:
      uri: /admin?x=1
      headers: {Host: example.com}
    expect: {action: BLOCK, labels: ["awswaf:111122223333:webacl:unit:area:admin"]}
"""


def test_yaml_with_the_web_acl_by_a_path_relative_to_the_case_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "waf"
    folder.mkdir()
    _write(folder, "webacl.json", ACL)
    _write(folder, "unit.waftest.yaml", YAML_CASES)
    monkeypatch.chdir(tmp_path)  # the web ACL is found from the case file, not from here
    assert main(["test", "waf"]) == EXIT_OK
    case = read_case_file(folder / "unit.waftest.yaml").cases[0]
    assert (case.request.uri, case.request.query, case.request.host) == (b"/admin", b"x=1", "example.com")


def test_yaml_without_pyyaml_names_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "unit.waftest.yaml", YAML_CASES)
    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml raises ImportError
    assert main(["test", str(path)]) == EXIT_INVALID
    assert "pip install PyYAML" in capsys.readouterr().out


# Bad inputs: (files to write, arguments, exit code, text that must be printed).
BAD_INPUTS: list[tuple[str, dict[str, Any], list[str], int, str]] = [
    ("missing file", {}, ["nope.waftest.json"], EXIT_INVALID, "nope.waftest.json: no such file"),
    ("empty folder", {}, ["."], EXIT_NO_CASES, "no case file found"),
    (
        "not JSON",
        {"x.waftest.json": "{oops"},
        ["x.waftest.json"],
        EXIT_INVALID,
        "x.waftest.json:1:2: not valid JSON",
    ),
    (
        "bad YAML",
        {"x.waftest.yaml": "a: [b"},
        ["x.waftest.yaml"],
        EXIT_INVALID,
        "x.waftest.yaml:1:6: not valid YAML",
    ),
    ("binary", {"x.waftest.json": "\udcff"}, ["x.waftest.json"], EXIT_INVALID, "not UTF-8"),
    ("a list", {"x.waftest.json": []}, ["x.waftest.json"], EXIT_INVALID, "an object with webacl and cases"),
    (
        "no cases",
        {"x.waftest.json": _doc()},
        ["x.waftest.json"],
        EXIT_INVALID,
        "cases must be a non-empty list",
    ),
    (
        "unknown top-level key",
        {"x.waftest.json": {**PASSING, "webacls": {}}},
        ["x.waftest.json"],
        EXIT_INVALID,
        "unknown key 'webacls'",
    ),
    (
        "typo in expect",
        {"x.waftest.json": _doc({"request": {"uri": "/"}, "expect": {"acton": "BLOCK"}})},
        ["x.waftest.json"],
        EXIT_INVALID,
        "cases[0].expect has unknown key 'acton'",
    ),
    (
        "empty expect",
        {"x.waftest.json": _doc({"request": {"uri": "/"}, "expect": {}})},
        ["x.waftest.json"],
        EXIT_INVALID,
        "cases[0].expect must be an object saying what to check",
    ),
    (
        "unknown action",
        {"x.waftest.json": _doc(_case("c", "/", action="DENY"))},
        ["x.waftest.json"],
        EXIT_INVALID,
        "cases[0].expect.action must be one of ALLOW, BLOCK, CAPTCHA, CHALLENGE, got 'DENY'",
    ),
    (
        "request without uri",
        {"x.waftest.json": _doc({"request": {}, "expect": {"action": "ALLOW"}})},
        ["x.waftest.json"],
        EXIT_INVALID,
        "cases[0].request: uri is missing",
    ),
    (
        "duplicate names",
        {"x.waftest.json": _doc(_case("c", "/", action="ALLOW"), _case("c", "/", action="ALLOW"))},
        ["x.waftest.json"],
        EXIT_INVALID,
        "cases[1].name 'c' is also the name of cases[0]",
    ),
    (
        "web ACL file missing",
        {"x.waftest.json": {**PASSING, "webacl": "gone.json"}},
        ["x.waftest.json"],
        EXIT_INVALID,
        "the web ACL does not load",
    ),
    (
        "invalid web ACL",
        {"x.waftest.json": {**PASSING, "webacl": {"Name": "x"}}},
        ["x.waftest.json"],
        EXIT_INVALID,
        "DefaultAction",
    ),
    (
        "an invalid file wins over a failure",
        {"x.waftest.json": {"webacl": {}}, "y.waftest.json": FAILING},
        ["."],
        EXIT_INVALID,
        "1 failed, 1 passed, 1 error",
    ),
    ("no CASES argument", {}, [], EXIT_USAGE, "the following arguments are required: CASES"),
]


@pytest.mark.parametrize(
    ("files", "args", "code", "text"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_inputs_and_their_exit_codes(
    files: dict[str, Any],
    args: list[str],
    code: int,
    text: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, doc in files.items():
        if doc == "\udcff":
            (tmp_path / name).write_bytes(b"\xff\xfe\x00binary")
        else:
            _write(tmp_path, name, doc)
    monkeypatch.chdir(tmp_path)
    assert main(["test", *args]) == code
    captured = capsys.readouterr()
    assert text in captured.out + captured.err


def test_a_reader_that_leaves_early_is_no_error(tmp_path: Path) -> None:
    # `wafpy test ... | head -1` with more output than a pipe holds.
    cases = [_case(f"home {i} " + "x" * 60, "/", action="ALLOW") for i in range(2000)]
    path = _write(tmp_path, "many.waftest.json", _doc(*cases))
    script = "import sys; from wafpy.cli.main import main; sys.exit(main())"
    with subprocess.Popen(
        [sys.executable, "-c", script, "test", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert b"wafpy test" in proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(timeout=120) == EXIT_OK
    assert b"Traceback" not in err


def test_help_lists_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for text in ("0 every request", "2 at least one request", "3 a case file", "4 no case file"):
        assert text in out


# ------------------------------------------------------------------------------------------------
# JUnit XML


def test_junit_report_counts_and_failures(tmp_path: Path) -> None:
    _write(tmp_path, "a.waftest.json", FAILING)
    _write(tmp_path, "b.waftest.json", {"webacl": {}})
    report = tmp_path / "out" / "junit.xml"
    report.parent.mkdir()
    assert main(["test", str(tmp_path), "--junit", str(report)]) == EXIT_INVALID
    root = ET.parse(report).getroot()
    assert (root.tag, root.get("tests"), root.get("failures"), root.get("errors")) == (
        "testsuites",
        "3",
        "1",
        "1",
    )
    suites = {Path(s.get("name") or "").name: s for s in root.iter("testsuite")}
    cases = suites["a.waftest.json"].findall("testcase")
    assert [c.get("name") for c in cases] == ["home is allowed", "admin is allowed (wrong)"]
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("message", "").startswith("action: expected ALLOW, got BLOCK")
    assert "rule trace:" in (failure.text or "")
    error = suites["b.waftest.json"].find("testcase/error")
    assert error is not None and "cases must be a non-empty list" in (error.get("message") or "")


def test_junit_escapes_markup_and_characters_xml_cannot_hold(tmp_path: Path) -> None:
    name = 'admin <b>&"quoted"\x00\x1b'
    doc = _doc(
        {"name": name, "request": {"uri": "/admin", "args": "q=\x01<x>"}, "expect": {"action": "ALLOW"}}
    )
    _write(tmp_path, "a.waftest.json", doc)
    report = tmp_path / "junit.xml"
    assert main(["test", str(tmp_path), "--junit", str(report)]) == EXIT_FAILED
    case = ET.parse(report).getroot().find("testsuite/testcase")
    assert case is not None
    assert case.get("name") == 'admin <b>&"quoted"\\x00\\x1b'
    failure = case.find("failure")
    assert failure is not None and "q=\\x01<x>" in (failure.text or "")


def test_an_unwritable_junit_path_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "a.waftest.json", PASSING)
    assert main(["test", str(path), "--junit", str(tmp_path / "no" / "such" / "dir.xml")]) == EXIT_USAGE
    assert "cannot write" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------
# The request form


@pytest.mark.parametrize(
    ("request_doc", "attrs"),
    [
        ({"uri": "/"}, {"method": b"GET", "client_ip": "127.0.0.1", "body_available": True}),
        ({"uri": "/a?b=1"}, {"uri": b"/a", "query": b"b=1"}),
        ({"uri": "/a", "args": "b=1"}, {"uri": b"/a", "query": b"b=1"}),
        (
            {"uri": "/", "headers": {"Host": "h", "Cookie": ["a=1", "b=2"]}},
            {"host": "h", "cookies": [(b"a", b"1"), (b"b", b"2")]},
        ),
        ({"uri": "/", "headers": [{"name": "Host", "value": "h"}]}, {"host": "h"}),
        ({"uri": "/", "body": "x=1"}, {"body": b"x=1", "body_size": 3}),
        ({"uri": "/", "bodyBase64": "eD0x"}, {"body": b"x=1"}),
        ({"uri": "/", "asn": 64500, "country": "FR"}, {"asn": 64500, "country": "FR"}),
        ({"uri": "/", "headers": {"Content-Length": 12}}, {"headers": ((b"Content-Length", b"12"),)}),
    ],
)
def test_requests_as_written_in_a_case_file(request_doc: dict[str, Any], attrs: dict[str, Any]) -> None:
    request = build_request(request_doc)
    assert {name: getattr(request, name) for name in attrs} == attrs


@pytest.mark.parametrize(
    ("request_doc", "message"),
    [
        ("GET /", "must be an object"),
        ({"uri": "/", "method": "GET"}, "unknown key 'method'"),
        ({"uri": "/a?b=1", "args": "c=2"}, "args is given too"),
        ({"uri": "/", "asn": "64500"}, "asn must be an integer"),
        ({"uri": "/", "bodyBase64": "!!"}, "bodyBase64 is not valid base64"),
        ({"uri": "/", "headers": [{"name": "Host"}, 3]}, "headers[1]"),
        ({"uri": "/", "headers": {"DNT": True}}, "request.headers.DNT is a bool, not a string: quote it"),
        ({"uri": "/", "headers": {"X-V": 1.5}}, "request.headers.X-V is a float"),
    ],
)
def test_bad_requests_name_the_field(request_doc: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        build_request(request_doc)


def test_case_file_error_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.waftest.json", {"webacl": 3, "cases": []})
    with pytest.raises(CaseFileError) as info:
        read_case_file(path)
    assert str(info.value) == f"{path}: webacl must be a web ACL object or the path of a web ACL file"
