"""CloudFormation YAML: short-form tags mapped to their long form, positions kept for errors."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.replay_fixtures import run_cli
from wafpy import model as ast
from wafpy.errors import RulesetError, RulesetErrors
from wafpy.load.jsontree import JObject, to_python
from wafpy.load.loader import load_rule_group_model, load_web_acl_model
from wafpy.load.yamldoc import SHORT_FORM_TAGS, parse_yaml

TAGS: list[tuple[str, Any]] = [
    ("!Ref Limit", {"Ref": "Limit"}),
    ("!Condition IsProd", {"Condition": "IsProd"}),
    ('!Sub "${AWS::StackName}-acl"', {"Fn::Sub": "${AWS::StackName}-acl"}),
    ("!Sub ['x-${A}', {A: !Ref B}]", {"Fn::Sub": ["x-${A}", {"A": {"Ref": "B"}}]}),
    ("!GetAtt Bad.Arn", {"Fn::GetAtt": ["Bad", "Arn"]}),
    ("!GetAtt [Bad, Arn]", {"Fn::GetAtt": ["Bad", "Arn"]}),
    ("!If [IsProd, 1, 2]", {"Fn::If": ["IsProd", 1, 2]}),
    ("!Join ['', [a, !Ref B]]", {"Fn::Join": ["", ["a", {"Ref": "B"}]]}),
    ("!Select [0, !GetAZs '']", {"Fn::Select": [0, {"Fn::GetAZs": ""}]}),
    ("!Split [',', a]", {"Fn::Split": [",", "a"]}),
    ("!Base64 abc", {"Fn::Base64": "abc"}),
    ("!FindInMap [M, K, V]", {"Fn::FindInMap": ["M", "K", "V"]}),
    ("!Equals [!Ref Env, prod]", {"Fn::Equals": [{"Ref": "Env"}, "prod"]}),
    ("!Not [!Condition C]", {"Fn::Not": [{"Condition": "C"}]}),
    ("!And [!Condition A, !Condition B]", {"Fn::And": [{"Condition": "A"}, {"Condition": "B"}]}),
    ("!Or [!Condition A, !Condition B]", {"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]}),
    ("!ImportValue shared-ipset-arn", {"Fn::ImportValue": "shared-ipset-arn"}),
    ("!GetAZs us-east-1", {"Fn::GetAZs": "us-east-1"}),
    ("!Cidr [10.0.0.0/16, 4, 8]", {"Fn::Cidr": ["10.0.0.0/16", 4, 8]}),
    ("!Ref 5", {"Ref": "5"}),  # a tagged scalar is a string
]


@pytest.mark.parametrize(("yaml_text", "expected"), TAGS, ids=[t[0] for t in TAGS])
def test_short_form_tags_become_long_form(yaml_text: str, expected: Any) -> None:
    assert to_python(parse_yaml(f"Value: {yaml_text}\n")) == {"Value": expected}


def test_every_documented_short_form_is_mapped() -> None:
    documented = {"!" + t.split()[0].lstrip("!") for t, _ in TAGS}
    assert documented <= set(SHORT_FORM_TAGS)


def test_positions_are_one_based_line_and_column() -> None:
    value = parse_yaml("a:\n  b: !Ref X\n  c: [1, 'two']\n")
    assert to_python(value) == {"a": {"b": {"Ref": "X"}, "c": [1, "two"]}}
    assert isinstance(value, JObject)
    inner = value.get("a")
    assert isinstance(inner, JObject)
    assert (inner.members[0].key_line, inner.members[0].key_column) == (2, 3)
    ref = inner.members[0].value
    assert (ref.line, ref.column) == (2, 6)


TEMPLATE = textwrap.dedent(
    """\
    AWSTemplateFormatVersion: '2010-09-09'
    Parameters:
      Limit: {Type: Number, Default: 2000}
    Resources:
      Bad:
        Type: AWS::WAFv2::IPSet
        Properties:
          Name: bad
          Scope: REGIONAL
          IPAddressVersion: IPV4
          Addresses: [198.51.100.0/24]
      Acl:
        Type: AWS::WAFv2::WebACL
        Properties:
          Name: acl
          Scope: REGIONAL
          DefaultAction: {Allow: {}}
          VisibilityConfig: &vis
            SampledRequestsEnabled: true
            CloudWatchMetricsEnabled: true
            MetricName: acl
          Rules:
            - Name: bad-ips
              Priority: 0
              Action: {Block: {}}
              Statement:
                IPSetReferenceStatement:
                  Arn: !GetAtt Bad.Arn
              VisibilityConfig: *vis
            - Name: rate
              Priority: 1
              Action: {Block: {}}
              Statement:
                RateBasedStatement:
                  Limit: !Ref Limit
                  AggregateKeyType: IP
              VisibilityConfig: *vis
    """
)


def test_cloudformation_yaml_template_loads(tmp_path: Path) -> None:
    file = tmp_path / "template.yaml"
    file.write_text(TEMPLATE)
    for source in (file, TEMPLATE):
        model = load_web_acl_model(source)
        first, second = model.rules
        assert isinstance(first.statement, ast.IPSetReference)
        assert first.statement.ip_set is not None
        assert first.statement.ip_set.addresses == ("198.51.100.0/24",)
        assert isinstance(second.statement, ast.RateBased)
        assert second.statement.limit == 2000


def test_yaml_rule_group_validates_and_is_detected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "group.yml"
    file.write_text(
        textwrap.dedent(
            """\
            Resources:
              Group:
                Type: AWS::WAFv2::RuleGroup
                Properties:
                  Name: g
                  Scope: REGIONAL
                  Capacity: 10
                  VisibilityConfig: &vis
                    SampledRequestsEnabled: true
                    CloudWatchMetricsEnabled: true
                    MetricName: g
                  Rules:
                    - Name: admin
                      Priority: 0
                      Action: {Block: {}}
                      VisibilityConfig: *vis
                      Statement:
                        ByteMatchStatement:
                          SearchString: /admin
                          FieldToMatch: {UriPath: {}}
                          PositionalConstraint: STARTS_WITH
                          TextTransformations: [{Priority: 0, Type: NONE}]
            """
        )
    )
    code, out, _ = run_cli(["validate", str(file)], capsys)
    assert code == 0, out
    assert "RuleGroup g (cloudformation document, 1 rules)" in out
    assert load_rule_group_model(file).rules[0].name == "admin"


BAD: list[tuple[str, str, str, str]] = [
    # (id, replace in TEMPLATE, with, expected "line:column" then words)
    ("wrong-type", "Priority: 1", "Priority: '1'", "31:21 Resources.Acl.Properties.Rules[1].Priority"),
    ("bad-yaml", "Name: acl\n", "Name: [acl\n", "16:12 invalid YAML"),
    ("unknown-tag", "!Ref Limit", "!Reff Limit", "35:22 unknown YAML tag !Reff"),
    ("unresolvable-ref", "!Ref Limit", "!Ref Nope", "35:22 Resources.Acl.Properties.Rules[1]"),
]


@pytest.mark.parametrize(("name", "old", "new", "where"), BAD, ids=[b[0] for b in BAD])
def test_yaml_errors_are_located(
    name: str, old: str, new: str, where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert old in TEMPLATE
    file = tmp_path / "t.yaml"
    file.write_text(TEMPLATE.replace(old, new))
    code, out, _ = run_cli(["validate", str(file)], capsys)
    assert code == 1
    position, _, words = where.partition(" ")
    assert f":{position}:" in out, out
    assert words.split(" ")[0] in out, out


def test_yaml_without_pyyaml_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml now raises ImportError
    file = tmp_path / "t.yaml"
    file.write_text(TEMPLATE)
    with pytest.raises(RulesetErrors) as info:
        load_web_acl_model(file)
    assert "pip install 'wafpy-engine[yaml]'" in str(info.value)


def test_json_text_in_a_yaml_file_still_reads(tmp_path: Path) -> None:
    file = tmp_path / "acl.yaml"
    vis = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "m"}
    file.write_text(json.dumps({"Name": "a", "DefaultAction": {"Allow": {}}, "VisibilityConfig": vis}))
    assert load_web_acl_model(file).name == "a"


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(RulesetError, match="alias"):
        parse_yaml("a: &x\n  b: *x\n")
