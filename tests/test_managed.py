"""`managed=` / `--managed`: how AWS managed rule groups are evaluated, one choice at a time."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from wafpy import NotAvailableError, Request, RulesetErrors, load_web_acl
from wafpy import model as ast
from wafpy.cli.main import EXIT_USAGE, main
from wafpy.load import bundled
from wafpy.load.capacity import acl_capacity
from wafpy.load.loader import load_document, mapping_resolver
from wafpy.load.managed import ManagedChoice, ManagedSpec, ManagedWarning, parse_managed

ROOT = Path(__file__).resolve().parents[1]
VIS = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "m"}
CRS = "AWSManagedRulesCommonRuleSet"
BAD_INPUTS = "AWSManagedRulesKnownBadInputsRuleSet"
CRS_AT = "Rules[0].Statement.ManagedRuleGroupStatement"


def managed_rule(name: str, priority: int = 0, **statement: Any) -> dict[str, Any]:
    return {
        "Name": f"use-{name}",
        "Priority": priority,
        "OverrideAction": {"None": {}},
        "VisibilityConfig": VIS,
        "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": name, **statement}},
    }


def web_acl(*rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "Name": "acl",
        "Id": "1",
        "ARN": "arn:aws:wafv2:us-east-1:111122223333:regional/webacl/acl/1",
        "DefaultAction": {"Allow": {}},
        "VisibilityConfig": VIS,
        "Rules": list(rules),
    }


def block_path(path: str, *, api: bool = False) -> dict[str, Any]:
    """A rule blocking requests whose URI path starts with `path`, labelled 'hit'; `api`: the
    SearchString base64-encoded, as get-* output prints it."""
    return {
        "Name": f"block{path.replace('/', '-')}",
        "Priority": 0,
        "Action": {"Block": {}},
        "RuleLabels": [{"Name": "hit"}],
        "VisibilityConfig": VIS,
        "Statement": {
            "ByteMatchStatement": {
                "SearchString": base64.b64encode(path.encode()).decode() if api else path,
                "FieldToMatch": {"UriPath": {}},
                "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
                "PositionalConstraint": "STARTS_WITH",
            }
        },
    }


def rule_group(name: str, path: str, **wrapper: str) -> dict[str, Any]:
    """get-rule-group output for an equivalent of `name`, blocking `path`; VendorName/Version beside it."""
    group = {
        "Name": name,
        "Id": "0",
        "ARN": f"arn:aws:wafv2:us-east-1:111122223333:regional/rulegroup/{name}/0",
        "Capacity": 10,
        "VisibilityConfig": VIS,
        "LabelNamespace": "awswaf:managed:aws:core-rule-set:",
        "Rules": [block_path(path, api=True)],
    }
    return {"RuleGroup": group, **wrapper}


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def verdict(acl_doc: dict[str, Any], uri: str, managed: Any) -> str:
    """Who decides GET `uri`: the terminating rule's id (inner rule for a managed group) or Default_Action."""
    decision = load_web_acl(acl_doc, managed=managed).evaluate(Request(uri=uri))
    return f"{decision.action} {decision.terminating_rule_id}"


# --------------------------------------------------------------------------------------------
# parse_managed: the one place that reads what the user wrote

PARSED: dict[str, tuple[ManagedSpec, ManagedChoice]] = {
    "unset": (None, ManagedChoice("unset")),
    "none": ("none", ManagedChoice("none")),
    "bundled": ("bundled", ManagedChoice("bundled")),
    "log": ("log", ManagedChoice("log")),
    "one path": ("groups/", ManagedChoice("files", ("groups/",))),
    "a path object": (Path("g.json"), ManagedChoice("files", ("g.json",))),
    "a list of paths": (["a", Path("b")], ManagedChoice("files", ("a", "b"))),
    "a file named like a keyword": ("./none", ManagedChoice("files", ("./none",))),
    "a keyword alone in a list": (["none"], ManagedChoice("none")),
    "a choice as is": (ManagedChoice("none"), ManagedChoice("none")),
}


@pytest.mark.parametrize("case", sorted(PARSED))
def test_parse_managed(case: str) -> None:
    value, expected = PARSED[case]
    assert parse_managed(value) == expected


REFUSED: dict[str, tuple[Any, str]] = {
    "empty list": ([], "empty list"),
    "empty string": ("", "empty string"),
    "keyword among paths": (["none", "a.json"], 'managed="none" cannot be combined'),
    "not a path": (3, "expected a keyword or a path, got int"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_parse_managed_refuses(case: str) -> None:
    value, words = REFUSED[case]
    with pytest.raises(ValueError, match=words):
        parse_managed(value)


# --------------------------------------------------------------------------------------------
# Each choice through load_web_acl


def test_default_names_every_group_and_the_choices() -> None:
    doc = web_acl(managed_rule(CRS), managed_rule(BAD_INPUTS, 1, Version="Version_1.1"))
    with pytest.raises(NotAvailableError) as info:
        load_web_acl(doc)
    message = str(info.value)
    assert f"AWS/{CRS} (at {CRS_AT})" in message
    assert f"AWS/{BAD_INPUTS}/Version_1.1 (at Rules[1].Statement.ManagedRuleGroupStatement)" in message
    for choice in ('managed="log"', 'managed="none"', 'managed="bundled"', "managed=PATH", "--managed"):
        assert choice in message
    assert "resolver=" not in message


BOT_CONTROL = "AWSManagedRulesBotControlRuleSet"  # never bundled: it stands on AWS's private data

# choice -> (group, NotAvailableError words, or None when it loads)
CHOICES: dict[str, tuple[Any, str, str | None]] = {
    "unset": (None, CRS, "cannot be evaluated: AWS does not publish the rules"),
    "none": ("none", CRS, None),
    "bundled": ("bundled", BOT_CONTROL, "wafpy cannot bundle it: it stands on AWS's bot signatures"),
}


@pytest.mark.parametrize("case", sorted(CHOICES))
def test_each_keyword_choice(case: str) -> None:
    value, group, refusal = CHOICES[case]
    doc = web_acl(managed_rule(group))
    if refusal is None:
        acl = load_web_acl(doc, managed=value)
        assert acl.managed_warnings == (ManagedWarning(f"AWS/{group}", CRS_AT),)
        return
    with pytest.raises(NotAvailableError) as info:
        load_web_acl(doc, managed=value)
    assert refusal in str(info.value)
    assert f"AWS/{group}" in str(info.value)  # the groups are named


def test_log_loads_each_group_without_rules_marked_from_the_log() -> None:
    acl = load_web_acl(web_acl(managed_rule(CRS)), managed="log")
    statement = acl.model.rules[0].statement
    assert isinstance(statement, ast.ManagedRuleGroup) and statement.rules_from == "log"
    assert statement.rule_group is not None and statement.rule_group.rules == ()
    assert acl.managed_warnings == ()
    # A request that comes with no log record cannot be replayed: undetermined, never folded.
    decision = acl.evaluate(Request(uri="/"))
    assert decision.action == "UNDETERMINED"
    assert decision.undetermined == (
        (f"AWS#{CRS}", "no AWS WAF log record with ruleGroupList came with the request"),
    )
    assert load_web_acl(web_acl(block_path("/x")), managed="bundled").managed_warnings == ()


def test_none_evaluates_as_no_inner_match_and_says_so() -> None:
    later = block_path("/admin")
    later["Priority"] = 1
    doc = web_acl(managed_rule(CRS), later)
    acl = load_web_acl(doc, managed="none")
    assert verdict(doc, "/admin", "none") == "BLOCK block-admin"  # the group matched nothing
    assert verdict(doc, "/", "none") == "ALLOW Default_Action"
    statement = acl.model.rules[0].statement
    assert isinstance(statement, ast.ManagedRuleGroup) and statement.rules_from == "none"
    assert "evaluated as if no inner rule matched" in str(acl.managed_warnings[0])
    # Capacity still counts the published WCU of the group.
    unresolved = load_document(doc, "WebACL").model
    assert isinstance(unresolved, ast.WebACL)
    assert acl_capacity(acl.model).total == acl_capacity(unresolved).total
    loaded = load_document(doc, "WebACL", managed="none")
    assert loaded.managed_warnings == acl.managed_warnings and not loaded.managed_missing


def test_a_file_supplies_the_rules(tmp_path: Path) -> None:
    file = write(tmp_path / "crs.json", rule_group(CRS, "/evil"))
    doc = web_acl(managed_rule(CRS))
    acl = load_web_acl(doc, managed=file)
    assert acl.managed_warnings == ()
    decision = acl.evaluate(Request(uri="/evil"))
    assert (decision.action, decision.terminating_rule_id) == ("BLOCK", "use-" + CRS)
    assert "awswaf:managed:aws:core-rule-set:hit" in decision.labels
    assert verdict(doc, "/", file) == "ALLOW Default_Action"
    statement = acl.model.rules[0].statement
    assert isinstance(statement, ast.ManagedRuleGroup) and statement.rules_from == f"file:{file}"


# statement Version -> the path the chosen group blocks
VERSIONS = {"Version_1.0": "/one", "Version_2.0": "/two", None: "/unversioned"}


@pytest.mark.parametrize("version", list(VERSIONS))
def test_a_folder_with_two_versions_chooses_by_version(tmp_path: Path, version: str | None) -> None:
    folder = tmp_path / "groups"
    write(folder / "a-v2.json", rule_group(CRS, "/two", Version="Version_2.0"))
    write(folder / "b-v1.json", rule_group(CRS, "/one", VendorName="AWS", Version="Version_1.0"))
    write(folder / "c.json", rule_group(CRS, "/unversioned"))
    write(folder / ".hidden" / "d.json", rule_group(CRS, "/hidden"))
    (folder / "README.txt").write_text("not JSON, and not read")
    statement: dict[str, Any] = {"Version": version} if version else {}
    doc = web_acl(managed_rule(CRS, 0, **statement))
    for path in ("/one", "/two", "/unversioned", "/hidden"):
        expected = "BLOCK" if path == VERSIONS[version] else "ALLOW"
        assert verdict(doc, path, folder).split()[0] == expected, path


def test_first_match_wins_across_paths(tmp_path: Path) -> None:
    first = write(tmp_path / "first.json", rule_group(CRS, "/first"))
    second = write(tmp_path / "second" / "crs.json", rule_group(CRS, "/second"))
    doc = web_acl(managed_rule(CRS))
    assert verdict(doc, "/first", [first, second.parent]).startswith("BLOCK")
    assert verdict(doc, "/second", [first, second.parent]).startswith("ALLOW")
    assert verdict(doc, "/second", [second.parent, first]).startswith("BLOCK")
    # A path that does not hold the group is passed over.
    other = write(tmp_path / "other.json", rule_group(BAD_INPUTS, "/first"))
    assert verdict(doc, "/second", [other, second]).startswith("BLOCK")


# how the file names the vendor -> whether it matches VendorName "AWS"
VENDORS: dict[str, tuple[dict[str, str], str, bool]] = {
    "wrapper VendorName": ({"VendorName": "AWS"}, "awswaf:111122223333:rulegroup:x:", True),
    "wrapper VendorName, other vendor": ({"VendorName": "F5"}, "awswaf:managed:aws:x:", False),
    "label namespace": ({}, "awswaf:managed:aws:core-rule-set:", True),
    "label namespace, other vendor": ({}, "awswaf:managed:fortinet:x:", False),
    "neither: AWS": ({}, "awswaf:111122223333:rulegroup:x:", True),
}


@pytest.mark.parametrize("case", sorted(VENDORS))
def test_vendor_of_a_rule_group_file(tmp_path: Path, case: str) -> None:
    wrapper, namespace, matches = VENDORS[case]
    doc = rule_group(CRS, "/evil", **wrapper)
    doc["RuleGroup"]["LabelNamespace"] = namespace
    file = write(tmp_path / "g.json", doc)
    if matches:
        assert verdict(web_acl(managed_rule(CRS)), "/evil", file).startswith("BLOCK")
        return
    with pytest.raises(NotAvailableError, match=f"not found in {file}"):
        load_web_acl(web_acl(managed_rule(CRS)), managed=file)


def test_bare_and_cloudformation_rule_groups(tmp_path: Path) -> None:
    bare = rule_group(CRS, "/bare")["RuleGroup"] | {"Rules": [block_path("/bare")]}
    template = {
        "Resources": {
            "Ip": {"Type": "AWS::WAFv2::IPSet", "Properties": {}},
            "Crs": {
                "Type": "AWS::WAFv2::RuleGroup",
                "Metadata": {"VendorName": "AWS", "Version": "Version_2.0"},
                "Properties": {
                    "Name": CRS,
                    "Scope": "REGIONAL",
                    "Capacity": 10,
                    "VisibilityConfig": VIS,
                    "Rules": [block_path("/cfn")],
                },
            },
        }
    }
    files = [write(tmp_path / "cfn.json", template), write(tmp_path / "bare.json", bare)]
    assert verdict(web_acl(managed_rule(CRS, Version="Version_2.0")), "/cfn", files).startswith("BLOCK")
    assert verdict(web_acl(managed_rule(CRS)), "/bare", files).startswith("BLOCK")


def test_bad_files_are_errors(tmp_path: Path) -> None:
    doc = web_acl(managed_rule(CRS))
    other = write(tmp_path / "ipset.json", {"IPSet": {"Name": "s"}})
    with pytest.raises(RulesetErrors, match="not a rule group document"):
        load_web_acl(doc, managed=other)
    broken = rule_group(CRS, "/x")
    broken["RuleGroup"]["Rules"][0]["Action"] = {"Blok": {}}
    with pytest.raises(RulesetErrors) as info:
        load_web_acl(doc, managed=write(tmp_path / "broken.json", broken))
    assert any(e.json_path == CRS_AT for e in info.value.errors)
    with pytest.raises(RulesetErrors, match="cannot read the file"):
        load_web_acl(doc, managed=tmp_path / "absent.json")


def test_resolver_is_asked_before_managed(tmp_path: Path) -> None:
    file = write(tmp_path / "crs.json", rule_group(CRS, "/from-file"))
    supplied = rule_group(CRS, "")["RuleGroup"] | {"Rules": [block_path("/from-resolver")]}
    resolver = mapping_resolver(managed={f"AWS/{CRS}": supplied})
    doc = web_acl(managed_rule(CRS), managed_rule(BAD_INPUTS, 1))
    acl = load_web_acl(doc, resolver=resolver, managed="none")
    assert acl.evaluate(Request(uri="/from-resolver")).action == "BLOCK"
    assert acl.managed_warnings == (
        ManagedWarning(f"AWS/{BAD_INPUTS}", "Rules[1].Statement.ManagedRuleGroupStatement"),
    )
    acl = load_web_acl(web_acl(managed_rule(CRS)), resolver=resolver, managed=file)
    assert acl.evaluate(Request(uri="/from-file")).action == "ALLOW"
    statement = acl.model.rules[0].statement
    assert isinstance(statement, ast.ManagedRuleGroup) and statement.rules_from == "resolver"


# --------------------------------------------------------------------------------------------
# The command line

# --managed values -> (exit status, words on stdout, words on stderr)
VALIDATE: dict[str, tuple[list[str], int, str, str]] = {
    "unset": ([], 0, f"1 managed rule group needs --managed to be evaluated: AWS/{CRS} (at {CRS_AT})", ""),
    "none": (["none"], 0, "", f"warning: managed rule group AWS/{CRS} at {CRS_AT} is evaluated as if no"),
    "bundled": (["bundled"], 0, f"AWS/{CRS} (at {CRS_AT}) is not available: wafpy bundles no equivalent", ""),
    "log": (["log"], 0, "--managed log replays managed rule groups from AWS WAF log records", ""),
    "file": (["{file}"], 0, f"offline: AWS/{CRS} (at {CRS_AT}) evaluated with the rules of {{file}}", ""),
    "file without the group": (["{other}"], 0, "1 managed rule group not found in the --managed files", ""),
    "absent path": (["{absent}"], EXIT_USAGE, "", "no such file or folder"),
    "keyword and path": (["none", "{file}"], EXIT_USAGE, "", 'managed="none" cannot be combined'),
}


@pytest.mark.parametrize("case", sorted(VALIDATE))
def test_validate_managed(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    values, code, out_words, err_words = VALIDATE[case]
    (tmp_path / "no-bundled-groups").mkdir()
    monkeypatch.setattr(bundled, "folder_override", tmp_path / "no-bundled-groups")
    names = {
        "file": str(write(tmp_path / "crs.json", rule_group(CRS, "/x"))),
        "other": str(write(tmp_path / "other.json", rule_group(BAD_INPUTS, "/x"))),
        "absent": str(tmp_path / "absent"),
    }
    acl_file = write(tmp_path / "acl.json", web_acl(managed_rule(CRS)))
    argv = ["validate", str(acl_file)]
    for value in values:
        argv += ["--managed", value.format(**names)]
    assert main(argv) == code
    captured = capsys.readouterr()
    if code == 0:
        assert "valid (AWS WAF would accept it)" in captured.out
    assert out_words.format(**names) in captured.out
    assert err_words in captured.err


def test_validate_help_documents_the_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--managed" in out and "exit status:" in out and "AWS WAF would accept it" in out


def _log_line(tmp_path: Path) -> Path:
    with gzip.open(ROOT / "samples" / "waf-logs.jsonl.gz", "rt", encoding="utf-8") as stream:
        first = stream.readline()
    log = tmp_path / "one.jsonl"
    log.write_text(first)
    return log


def test_explain_managed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    acl_file = write(tmp_path / "acl.json", web_acl(managed_rule(CRS)))
    log = _log_line(tmp_path)
    assert main(["explain", str(acl_file), str(log)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"AWS/{CRS}" in err and "--managed" in err
    assert main(["explain", str(acl_file), str(log), "--managed", "none"]) == 0
    captured = capsys.readouterr()
    assert f"warning: managed rule group AWS/{CRS} at {CRS_AT}" in " ".join(captured.err.split())
    assert "ALLOW by Default_Action" in captured.out
    assert "[no inner rule evaluated (--managed none)]" in " ".join(captured.out.split())
    file = write(tmp_path / "crs.json", rule_group(CRS, "/"))
    assert main(["explain", str(acl_file), str(log), "--managed", str(file)]) == 0
    captured = capsys.readouterr()
    assert "BLOCK by use-" + CRS in captured.out and "warning" not in captured.err
    assert f"[inner rules from {file}]" in " ".join(captured.out.split())


def test_resource_files_supply_a_managed_group_unless_managed_decides(tmp_path: Path) -> None:
    ipset = tmp_path / "ipset.json"
    ipset.write_text(
        json.dumps(
            {"IPSet": {"Name": "x", "Id": "1", "ARN": "arn:x", "Addresses": [], "IPAddressVersion": "IPV4"}}
        )
    )
    named = write(tmp_path / "crs.json", rule_group(CRS, "/evil", VendorName="AWS"))
    customer = rule_group(CRS, "/evil")
    customer["RuleGroup"]["LabelNamespace"] = f"awswaf:111122223333:rulegroup:{CRS}:"
    unnamed = write(tmp_path / "customer.json", customer)
    doc = web_acl(managed_rule(CRS))
    acl = load_web_acl(doc, resources=[str(ipset), str(named)])
    assert acl.evaluate(Request(uri="/evil")).action == "BLOCK"
    statement = acl.model.rules[0].statement
    assert isinstance(statement, ast.ManagedRuleGroup) and statement.rules_from == f"file:{named}"
    # A rule group that names no vendor (no VendorName, a customer label namespace) is not it.
    with pytest.raises(NotAvailableError, match=f"AWS/{CRS}"):
        load_web_acl(doc, resources=[str(unnamed)])
    # A managed= choice decides over the resources.
    acl = load_web_acl(doc, resources=[str(named)], managed="log")
    statement = acl.model.rules[0].statement
    assert isinstance(statement, ast.ManagedRuleGroup) and statement.rules_from == "log"
