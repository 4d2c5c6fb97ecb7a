"""Loader entry points: sources, modes, resources from files, conformance documents, `wafpy validate`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from tests.builders import rule, visibility, web_acl
from tests.shared import SHARED, shared_dir
from wafpy import model as ast
from wafpy.cli.validate import add_validate_parser, validate_command
from wafpy.errors import NotAvailableError, RulesetErrors
from wafpy.load.jsontree import JArray, from_python, to_python
from wafpy.load.loader import load_rule_group_model, load_web_acl_model, resolver_from_files

VIS = visibility()
IPSET = "arn:aws:wafv2:us-east-1:111122223333:regional/ipset/s/1"
GEO = {"GeoMatchStatement": {"CountryCodes": ["US"]}}


def acl(statement: dict[str, Any] = GEO, **extra: Any) -> dict[str, Any]:
    return web_acl([rule("r", 0, statement, metric="m")], name="a", metric="m", **extra)


def _conformance_files() -> list[str]:
    folder = SHARED / "conformance"
    return sorted(p.name for p in folder.glob("*.json")) if folder.exists() else ["<missing>"]


@pytest.mark.corpora
@pytest.mark.parametrize("name", _conformance_files())
def test_conformance_documents_load_in_text_mode(name: str) -> None:
    data = json.loads((shared_dir("conformance") / name).read_text())
    model = load_web_acl_model(
        data["webacl"],
        resources=data.get("resources") or None,
        account=data.get("account"),
        search_string="text",
    )
    assert model.name == data["webacl"]["Name"]
    assert (
        model.label_namespace.startswith(f"awswaf:{data['account']}:webacl:")
        or "LabelNamespace" in data["webacl"]
    )
    assert len(model.rules) == len(data["webacl"].get("Rules", []))


@pytest.mark.parametrize("form", ["path", "pathlike", "text", "bytes", "dict"])
def test_source_forms(form: str, tmp_path: Path) -> None:
    doc = acl()
    file = tmp_path / "acl.json"
    file.write_text(json.dumps(doc))
    source: Any = {
        "path": str(file),
        "pathlike": file,
        "text": json.dumps(doc),
        "bytes": json.dumps(doc).encode(),
        "dict": doc,
    }[form]
    assert load_web_acl_model(source).rules[0].name == "r"


def test_error_names_the_source_file(tmp_path: Path) -> None:
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(acl(), indent=1).replace('"Priority": 0', '"Priority": -5'))
    with pytest.raises(RulesetErrors) as info:
        load_web_acl_model(file)
    (error,) = info.value.errors
    assert error.source == str(file)
    assert str(file) in str(info.value)
    assert error.line is not None and error.json_path == "Rules[0].Priority"


def test_syntax_error_is_a_ruleset_error() -> None:
    with pytest.raises(RulesetErrors) as info:
        load_web_acl_model('{"Name": "a",,}')
    assert info.value.errors[0].line == 1


def test_missing_file_is_a_ruleset_error(tmp_path: Path) -> None:
    with pytest.raises(RulesetErrors, match="cannot read the file"):
        load_web_acl_model(tmp_path / "absent.json")


def _deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = GEO
    for _ in range(levels):
        value = {"NotStatement": {"Statement": value}}
    return value


def _deep_text(document: Any, levels: int) -> str:
    """`document` as JSON text with its "DEEP" statement nested `levels` deep (json.dumps would
    recurse that deep itself)."""
    nested = '{"NotStatement": {"Statement": ' * levels + json.dumps(GEO) + "}}" * levels
    return json.dumps(document).replace('"DEEP"', nested)


@pytest.mark.slow
@pytest.mark.parametrize("form", ["object", "text", "get-web-acl text", "template text", "template object"])
def test_deep_nesting_is_a_located_ruleset_error(form: str) -> None:
    """Nesting far beyond the limits is refused before anything recurses over it (no RecursionError)."""
    as_text = form.endswith("text")
    document: dict[str, Any] = acl("DEEP" if as_text else _deep(5000))  # type: ignore[arg-type]
    prefix = "Rules[0].Statement"
    if form.startswith("get-web-acl"):
        document, prefix = {"WebACL": document, "LockToken": "t"}, "WebACL." + prefix
    elif form.startswith("template"):
        resource = {"Type": "AWS::WAFv2::WebACL", "Properties": {**document, "Scope": "REGIONAL"}}
        document, prefix = {"Resources": {"Acl": resource}}, "Resources.Acl.Properties." + prefix
    with pytest.raises(RulesetErrors) as info:
        load_web_acl_model(_deep_text(document, 5000) if as_text else document)
    [error] = info.value.errors
    assert error.message == "document nested deeper than 200 levels"
    assert error.json_path.startswith(prefix + ".NotStatement.Statement.NotStatement")
    assert (error.line is not None) == as_text


def test_nesting_within_the_limits_gets_the_statement_depth_error() -> None:
    with pytest.raises(RulesetErrors) as info:
        load_web_acl_model(json.dumps(acl(_deep(60))))
    assert [e.message for e in info.value.errors] == ["statements nested deeper than 20 levels"]


@pytest.mark.slow
def test_python_objects_of_any_depth_convert_and_cycles_are_refused() -> None:
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    assert isinstance(from_python(deep), JArray)
    shared_list = [1]
    assert to_python(from_python({"a": shared_list, "b": shared_list})) == {"a": [1], "b": [1]}
    cycle: dict[str, Any] = {}
    cycle["self"] = cycle
    with pytest.raises(TypeError, match="contains itself"):
        from_python(cycle)


def test_managed_group_raises_not_available_with_path() -> None:
    doc = acl({"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}})
    doc["Rules"][0]["OverrideAction"] = {"None": {}}
    del doc["Rules"][0]["Action"]
    with pytest.raises(NotAvailableError) as info:
        load_web_acl_model(doc)
    assert str(info.value).startswith(
        "managed rule group AWS/AWSManagedRulesCommonRuleSet "
        "(at Rules[0].Statement.ManagedRuleGroupStatement) cannot be evaluated"
    )


def test_errors_win_over_not_available() -> None:
    doc = acl({"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "X"}})
    with pytest.raises(RulesetErrors, match="takes OverrideAction"):
        load_web_acl_model(doc)


def test_resources_from_get_output_and_template_files(tmp_path: Path) -> None:
    ipset = {
        "IPSet": {
            "Name": "s",
            "Id": "1",
            "ARN": IPSET,
            "IPAddressVersion": "IPV4",
            "Addresses": ["10.0.0.0/8"],
        },
        "LockToken": "t",
    }
    template = {
        "Resources": {
            "Bad": {
                "Type": "AWS::WAFv2::IPSet",
                "Properties": {
                    "Name": "bad",
                    "Scope": "REGIONAL",
                    "IPAddressVersion": "IPV6",
                    "Addresses": ["2001:db8::/32"],
                },
            }
        }
    }
    (tmp_path / "ipset.json").write_text(json.dumps(ipset))
    (tmp_path / "template.json").write_text(json.dumps(template))
    files = [tmp_path / "ipset.json", tmp_path / "template.json"]
    synthesized = "arn:aws:wafv2:us-east-1:111122223333:regional/ipset/bad/Bad"
    model = load_web_acl_model(
        acl(
            {
                "OrStatement": {
                    "Statements": [
                        {"IPSetReferenceStatement": {"ARN": IPSET}},
                        {"IPSetReferenceStatement": {"ARN": synthesized}},
                    ]
                }
            }
        ),
        resources=files,
        account="111122223333",
    )
    stmt = model.rules[0].statement
    assert isinstance(stmt, ast.Or)
    refs = [s for s in stmt.statements if isinstance(s, ast.IPSetReference)]
    assert [r.ip_set.ip_address_version for r in refs if r.ip_set] == ["IPV4", "IPV6"]
    assert resolver_from_files(files, account="111122223333").arns == sorted([IPSET, synthesized])


def test_invalid_resource_file_errors_name_file_and_path(tmp_path: Path) -> None:
    ipset = {
        "IPSet": {"Name": "s", "Id": "1", "ARN": IPSET, "IPAddressVersion": "IPV4", "Addresses": ["10.0.0.1"]}
    }
    file = tmp_path / "ipset.json"
    file.write_text(json.dumps(ipset, indent=1))
    with pytest.raises(RulesetErrors) as info:
        load_web_acl_model(acl({"IPSetReferenceStatement": {"ARN": IPSET}}), resources=[file])
    by_source = {(e.source, e.json_path) for e in info.value.errors}
    assert (str(file), "IPSet.Addresses[0]") in by_source
    assert ("<object>", "Rules[0].Statement.IPSetReferenceStatement.ARN") in by_source


def test_rule_group_loader_and_override_names_checked() -> None:
    arn = "arn:aws:wafv2:us-east-1:111122223333:regional/rulegroup/g/1"
    group = {
        "RuleGroup": {
            "Name": "g",
            "Id": "1",
            "ARN": arn,
            "Capacity": 5,
            "VisibilityConfig": VIS,
            "Rules": acl()["Rules"],
        }
    }
    assert load_rule_group_model(group).arn == arn
    doc = acl({"RuleGroupReferenceStatement": {"ARN": arn, "ExcludedRules": [{"Name": "nope"}]}})
    doc["Rules"][0]["OverrideAction"] = {"None": {}}
    del doc["Rules"][0]["Action"]
    with pytest.raises(RulesetErrors) as info:
        load_web_acl_model(doc, resources={arn: group})
    assert info.value.errors[0].message == "rule 'nope' is not in rule group g"


# --------------------------------------------------------------------------------------------
# wafpy validate


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="wafpy")
    add_validate_parser(parser.add_subparsers())
    args = parser.parse_args(argv)
    code = validate_command(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_validate_prints_rules_and_total(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "a.json"
    file.write_text(json.dumps(acl()))
    code, out, _ = _run(["validate", str(file)], capsys)
    assert code == 0
    assert "    0  r  1 WCU" in out
    assert "total 1 WCU" in out


def test_validate_reports_errors_with_position(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "a.json"
    file.write_text(json.dumps(acl(), indent=1).replace('"Priority": 0', '"Priority": "0"'))
    code, out, _ = _run(["validate", str(file)], capsys)
    assert code == 1
    assert "1 error in" in out
    # file:line:col: message at JSON.path, as str() of the exception says it
    assert f"{file}:9:16: wrong type: expected an integer, got string at Rules[0].Priority" in out


def _sqli_rules(count: int) -> dict[str, Any]:
    doc = acl()
    stmt = {
        "SqliMatchStatement": {
            "FieldToMatch": {"Body": {}},
            "TextTransformations": [
                {"Priority": i, "Type": t}
                for i, t in enumerate(["URL_DECODE", "HTML_ENTITY_DECODE", "LOWERCASE"])
            ],
        }
    }
    doc["Rules"] = [rule(f"r{i}", i, stmt, metric="m") for i in range(count)]
    return doc


@pytest.mark.parametrize(
    ("rules", "code", "stream", "words"),
    [
        (31, 0, "err", "above the 1500 WCU included"),  # 31 x 50 = 1550
        (101, 1, "out", "exceeds the 5000 WCU limit"),
    ],
)
def test_validate_capacity_thresholds(
    rules: int, code: int, stream: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "a.json"
    file.write_text(json.dumps(_sqli_rules(rules)))
    got, out, err = _run(["validate", str(file)], capsys)
    assert got == code
    assert words in (out if stream == "out" else err)


def test_validate_warns_for_managed_group(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = acl({"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesSQLiRuleSet"}})
    doc["Rules"][0]["OverrideAction"] = {"None": {}}
    del doc["Rules"][0]["Action"]
    file = tmp_path / "a.json"
    file.write_text(json.dumps(doc))
    code, out, _err = _run(["validate", str(file), "--account", "111122223333"], capsys)
    assert code == 0
    assert "total 200 WCU" in out
    assert "needs --managed to be evaluated: AWS/AWSManagedRulesSQLiRuleSet" in out
