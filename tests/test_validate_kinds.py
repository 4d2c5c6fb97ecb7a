"""`wafpy validate` detects the kind of document: web ACL, rule group, IP set, regex pattern set,
rule list (check-capacity input); and refuses a rule group declaring less Capacity than it costs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.replay_fixtures import run_cli
from tests.shared import shared_dir
from wafpy.load.detect import detect_kind
from wafpy.load.jsontree import from_python

VIS = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "m"}
SQLI = {
    "SqliMatchStatement": {
        "FieldToMatch": {"Body": {}},
        "TextTransformations": [{"Priority": 0, "Type": "URL_DECODE"}],
    }
}  # 20 + 10 = 30 WCU
RULE = {"Name": "r", "Priority": 0, "Statement": SQLI, "Action": {"Block": {}}, "VisibilityConfig": VIS}
GROUP = {"Name": "g", "Capacity": 50, "VisibilityConfig": VIS, "Rules": [RULE]}
IPSET = {
    "Name": "s",
    "Id": "1",
    "ARN": "arn:aws:wafv2:us-east-1:1:regional/ipset/s/1",
    "IPAddressVersion": "IPV4",
}
REGEX = {"Name": "p", "Id": "2", "ARN": "arn:aws:wafv2:us-east-1:1:regional/regexpatternset/p/2"}
ACL = {"Name": "a", "DefaultAction": {"Allow": {}}, "VisibilityConfig": VIS, "Rules": [RULE]}


def _cfn(kind: str, props: dict[str, Any]) -> dict[str, Any]:
    return {"Resources": {"It": {"Type": f"AWS::WAFv2::{kind}", "Properties": props}}}


CASES: list[tuple[str, Any, str, str]] = [
    ("bare-web-acl", ACL, "WebACL", "WebACL a (bare document, 1 rules): valid"),
    ("get-web-acl", {"WebACL": {**ACL, "Id": "1", "ARN": "x"}, "LockToken": "t"}, "WebACL", "WebACL a (api"),
    ("bare-rule-group", GROUP, "RuleGroup", "RuleGroup g (bare document, 1 rules): valid"),
    (
        "get-rule-group",
        {"RuleGroup": {**GROUP, "Id": "1", "ARN": "x"}, "LockToken": "t"},
        "RuleGroup",
        "(api",
    ),
    ("cfn-rule-group", _cfn("RuleGroup", {**GROUP, "Scope": "REGIONAL"}), "RuleGroup", "(cloudformation"),
    (
        "cfn-lone-rule-group",
        _cfn("RuleGroup", {**GROUP, "Scope": "REGIONAL"})["Resources"]["It"],
        "RuleGroup",
        "",
    ),
    ("bare-ip-set", {**IPSET, "Addresses": ["10.0.0.0/8"]}, "IPSet", "IPSet s (bare document, 1 addresses)"),
    ("get-ip-set", {"IPSet": {**IPSET, "Addresses": []}, "LockToken": "t"}, "IPSet", "0 addresses"),
    (
        "get-regex-pattern-set",
        {"RegexPatternSet": {**REGEX, "RegularExpressionList": [{"RegexString": "^a"}]}, "LockToken": "t"},
        "RegexPatternSet",
        "RegexPatternSet p (api document, 1 patterns)",
    ),
    ("rule-array", [RULE], "Rules", "rules (1 rules, as `aws wafv2 check-capacity --rules`"),
    ("check-capacity-request", {"Scope": "REGIONAL", "Rules": [RULE]}, "Rules", "total 30 WCU"),
]


@pytest.mark.parametrize(("name", "doc", "kind", "words"), CASES, ids=[c[0] for c in CASES])
def test_validate_detects_the_kind(
    name: str, doc: Any, kind: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert detect_kind(from_python(doc)) == kind
    file = tmp_path / f"{name}.json"
    file.write_text(json.dumps(doc, indent=2))
    code, out, err = run_cli(["validate", str(file)], capsys)
    assert code == 0, out + err
    assert words in out
    if kind in ("WebACL", "RuleGroup", "Rules"):
        assert "total 30 WCU" in out


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


BAD: list[tuple[str, Any, str, str]] = [
    # (id, document, text on the line the error points to, path and message)
    ("rule-array", [RULE, {**RULE, "Priority": "1"}], '"Priority": "1"', "[1].Priority: wrong type"),
    (
        "check-capacity-request",
        {"Scope": "REGIONAL", "Rules": [{**RULE, "Name": 3}]},
        '"Name": 3',
        "Rules[0].Name",
    ),
    ("check-capacity-scope", {"Scope": "GLOBAL", "Rules": [RULE]}, '"Scope"', "Scope: "),
    (
        "capacity-below-cost",
        {**GROUP, "Capacity": 29},
        '"Capacity": 29',
        "Capacity: the declared Capacity 29",
    ),
    (
        "get-rule-group-capacity",
        {"RuleGroup": {**GROUP, "Capacity": 10, "Id": "1", "ARN": "x"}},
        '"Capacity": 10',
        "RuleGroup.Capacity: the declared Capacity 10 is below the 30 WCU",
    ),
    (
        "cfn-capacity",
        _cfn("RuleGroup", {**GROUP, "Capacity": 1, "Scope": "REGIONAL"}),
        '"Capacity": 1',
        "Resources.It.Properties.Capacity: the declared",
    ),
    (
        "web-acl-without-default-action",
        {"Name": "a", "VisibilityConfig": VIS, "Rules": [RULE]},
        "{",
        ": missing required member 'DefaultAction'",
    ),
]


@pytest.mark.parametrize(("name", "doc", "at", "words"), BAD, ids=[c[0] for c in BAD])
def test_validate_errors_are_located(
    name: str, doc: Any, at: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / f"{name}.json"
    text = json.dumps(doc, indent=2)
    file.write_text(text)
    code, out, _ = run_cli(["validate", str(file)], capsys)
    assert code == 1
    path, _, message = words.partition(": ")
    assert message in out, out
    if path:  # the document itself has no path
        assert f"at {path}" in out, out
    assert f":{_line_of(text, at)}:" in out


def test_capacity_equal_to_cost_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "g.json"
    file.write_text(json.dumps({**GROUP, "Capacity": 30}))
    assert run_cli(["validate", str(file)], capsys)[0] == 0


@pytest.mark.corpora
def test_check_capacity_corpus_matches_aws_answer(capsys: pytest.CaptureFixture[str]) -> None:
    """The AWS CLI example: check-capacity on this rule list answers {"Capacity": 15}."""
    folder = shared_dir("corpora", "webacls", "aws-cli-examples")
    expected = json.loads((folder / "check-capacity--output.json").read_text())["Capacity"]
    code, out, _ = run_cli(["validate", str(folder / "check-capacity--input.json")], capsys)
    assert code == 0
    assert f"total {expected} WCU" in out
