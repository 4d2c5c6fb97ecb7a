"""`resources` accepts files and folders everywhere, and `--resources` leaves the positionals alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.replay_fixtures import run_cli, waf_record, write_jsonl
from wafpy.load.loader import expand_resource_paths, load_web_acl_model

ARN = "arn:aws:wafv2:us-east-1:111122223333:regional/ipset/bad/1"
VIS = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "m"}


def _acl() -> dict[str, Any]:
    rule = {
        "Name": "bad-ips",
        "Priority": 0,
        "Statement": {"IPSetReferenceStatement": {"ARN": ARN}},
        "Action": {"Block": {}},
        "VisibilityConfig": VIS,
    }
    return {"Name": "a", "DefaultAction": {"Allow": {}}, "Rules": [rule], "VisibilityConfig": VIS}


def _ip_set() -> dict[str, Any]:
    return {
        "IPSet": {
            "Name": "bad",
            "Id": "1",
            "ARN": ARN,
            "IPAddressVersion": "IPV4",
            "Addresses": ["198.51.100.0/24"],
        },
        "LockToken": "x",
    }


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """acl.json, ipsets/ (the IP set in a sub-folder, plus files a folder must skip), logs.jsonl."""
    (tmp_path / "acl.json").write_text(json.dumps(_acl()))
    nested = tmp_path / "ipsets" / "prod"
    nested.mkdir(parents=True)
    (nested / "bad.json").write_text(json.dumps(_ip_set()))
    (tmp_path / "ipsets" / "README.md").write_text("not a document")
    (tmp_path / "ipsets" / ".bad.json.swp").write_text("editor backup")
    write_jsonl(tmp_path / "logs.jsonl", [waf_record(0, ip="198.51.100.9"), waf_record(1)])
    return tmp_path


def test_expand_resource_paths_sorted_documents_only(tmp_path: Path) -> None:
    for name in ("b.json", "a.yaml", "c.yml", "notes.txt", ".hidden.json"):
        (tmp_path / name).write_text("{}")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.template").write_text("{}")
    got = [Path(p).relative_to(tmp_path).as_posix() for p in expand_resource_paths([tmp_path])]
    assert got == ["a.yaml", "b.json", "c.yml", "sub/d.template"]
    assert expand_resource_paths(["missing.json"]) == ["missing.json"]


@pytest.mark.parametrize(
    "resources",
    [
        pytest.param(lambda d: [d / "ipsets"], id="list-of-folder-path"),
        pytest.param(lambda d: [str(d / "ipsets") + "/"], id="list-of-folder-str"),
        pytest.param(lambda d: str(d / "ipsets"), id="one-folder-str"),
        pytest.param(lambda d: d / "ipsets", id="one-folder-path"),
        pytest.param(lambda d: [d / "ipsets" / "prod" / "bad.json"], id="list-of-file"),
    ],
)
def test_load_web_acl_resources_folder(layout: Path, resources: Any) -> None:
    model = load_web_acl_model(layout / "acl.json", resources=resources(layout))
    statement = model.rules[0].statement
    assert statement.ip_set is not None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["validate", "--resources", "{d}/ipsets", "{d}/acl.json"], id="validate-before"),
        pytest.param(["validate", "{d}/acl.json", "--resources", "{d}/ipsets"], id="validate-after"),
        pytest.param(
            [
                "validate",
                "--resources",
                "{d}/ipsets/prod/bad.json",
                "--resources",
                "{d}/ipsets",
                "{d}/acl.json",
            ],
            id="validate-repeated",
        ),
        pytest.param(
            [
                "eval",
                "--resources",
                "{d}/ipsets",
                "{d}/acl.json",
                "{d}/logs.jsonl",
                "-q",
                "-o",
                "{d}/o.jsonl",
            ],
            id="eval-before",
        ),
        pytest.param(
            ["explain", "--resources", "{d}/ipsets", "{d}/acl.json", "{d}/logs.jsonl"],
            id="explain-before",
        ),
    ],
)
def test_cli_resources_folder_keeps_positionals(
    argv: list[str], layout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli([a.format(d=layout) for a in argv], capsys)
    assert code == 0, out + err
    if argv[0] == "eval":
        records = [json.loads(line) for line in (layout / "o.jsonl").read_text().splitlines()]
        assert [r["terminatingRuleId"] for r in records] == ["bad-ips", "Default_Action"]
    if argv[0] == "explain":
        assert "bad-ips" in out


def test_validate_missing_resource_is_located(layout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        ["validate", str(layout / "acl.json"), "--resources", str(layout / "nope")], capsys
    )
    assert code == 1
    assert "nope" in out and "cannot read the file" in out
