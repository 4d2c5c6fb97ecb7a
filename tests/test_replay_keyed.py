"""Splitting a replay by the rate-key component all rate-based rules share (`wafpy.replay.partition`),
and `--workers` split that way giving exactly what one process gives (`wafpy.replay.keyed`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.builders import byte_match, rule, web_acl
from tests.replay_fixtures import T0, run_cli, waf_record, write_jsonl
from wafpy.replay.compare import Comparison
from wafpy.replay.keyed import owner
from wafpy.replay.outcome import ReplayOptions
from wafpy.replay.partition import CLIENT_IP, INVALID_FORWARDED, partition_value, rate_plan
from wafpy.replay.runner import Replay
from wafpy.replay.summary import Summary
from wafpy.request import Request
from wafpy.webacl import WebACL, load_web_acl

FORWARDED = {"HeaderName": "X-Forwarded-For", "FallbackBehavior": "MATCH"}
NONE = [{"Priority": 0, "Type": "NONE"}]
IP = {"Limit": 20, "EvaluationWindowSec": 60, "AggregateKeyType": "IP"}
# A CONSTANT key needs a scope-down statement: every request to /login.
CONSTANT = {
    "Limit": 20,
    "EvaluationWindowSec": 60,
    "AggregateKeyType": "CONSTANT",
    "ScopeDownStatement": byte_match({"UriPath": {}}, "/login", "EXACTLY"),
}


def rates(*statements: dict[str, Any]) -> dict[str, Any]:
    rules = [
        rule(f"limit-{i}", i, {"RateBasedStatement": s}, "Block", sampled=False)
        for i, s in enumerate(statements)
    ]
    return web_acl(rules, name="rates", sampled=False)


def acl_of(*statements: dict[str, Any]) -> WebACL:
    return load_web_acl(rates(*statements))


def custom(*keys: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "Limit": 20,
        "EvaluationWindowSec": 60,
        "AggregateKeyType": "CUSTOM_KEYS",
        "CustomKeys": list(keys),
        **extra,
    }


def test_the_plan_names_the_component_every_rate_rule_shares() -> None:
    assert rate_plan(acl_of(IP).model).component == CLIENT_IP
    both = custom({"IP": {}}, {"UriPath": {"TextTransformations": NONE}})
    assert rate_plan(acl_of(IP, both).model).component == CLIENT_IP
    forwarded = {"Limit": 20, "AggregateKeyType": "FORWARDED_IP", "ForwardedIPConfig": FORWARDED}
    plan = rate_plan(acl_of(forwarded).model)
    assert plan.partitioned and plan.component == "x-forwarded-for"
    assert "forwarded IP in header x-forwarded-for" in plan.describe()
    no_rates = load_web_acl(web_acl([], name="none", sampled=False))
    assert not rate_plan(no_rates.model).rate_based and rate_plan(no_rates.model).partitioned


@pytest.mark.parametrize(
    ("statements", "why"),
    [
        ([CONSTANT], "one key"),
        ([custom({"LabelNamespace": {"Namespace": "awswaf:test:"}})], "neither the client IP"),
        ([custom({"Header": {"Name": "x-user", "TextTransformations": NONE}})], "neither the client IP"),
        ([IP, {"Limit": 20, "AggregateKeyType": "FORWARDED_IP", "ForwardedIPConfig": FORWARDED}], "another"),
    ],
    ids=["constant", "label-namespace", "header", "mixed"],
)
def test_without_a_shared_component_the_replay_is_one_ordered_pass(
    statements: list[dict[str, Any]], why: str
) -> None:
    acl = acl_of(*statements)
    plan = rate_plan(acl.model)
    assert plan.rate_based and not plan.partitioned and plan.component is None
    assert plan.reason is not None and why in plan.reason
    assert Replay(acl, [], ReplayOptions(workers=2)).workers_used == 1


def test_partition_values_are_equal_for_equal_rate_keys() -> None:
    def with_header(value: str) -> Request:
        return Request(headers=[("x-forwarded-for", value)], client_ip="192.0.2.1")

    assert partition_value(with_header("198.51.100.7, 10.0.0.1"), "x-forwarded-for") == "198.51.100.7"
    # Every invalid first item is counted under one key (fallback MATCH): one partition for all.
    assert partition_value(with_header("junk"), "x-forwarded-for") == INVALID_FORWARDED
    assert partition_value(with_header("other junk"), "x-forwarded-for") == INVALID_FORWARDED
    assert partition_value(Request(client_ip="192.0.2.1"), "x-forwarded-for") is None
    assert partition_value(Request(client_ip="192.0.2.1"), CLIENT_IP) == "192.0.2.1"
    assert owner("192.0.2.1", 2) == owner("192.0.2.1", 2) and owner(None, 3) == 0


def burst(path: Path) -> Path:
    """Eight clients, two of them bursting past the limit, forwarded headers (some invalid), a bad line."""
    records = []
    for i in range(400):
        client = i % 8
        ip = f"203.0.113.{client}"
        forwarded = "not-an-ip" if client == 3 else f"10.0.0.{client}"
        every = 50 if client in (1, 5) else 1000
        uri = "/admin" if i % 37 == 0 else "/login"
        record = waf_record(i, uri, ip=ip, headers=(("x-forwarded-for", forwarded),))
        record["timestamp"] = T0 + i * every // 8
        records.append(record)
    write_jsonl(path, records)
    with path.open("a") as f:
        f.write("{not json\n")
    return path


def by_batches(acl: WebACL, logs: list[str], workers: int) -> tuple[bytes, Summary, Comparison]:
    summary = Summary()
    comparison = Comparison(rule_names=[r.name for r in acl.model.rules])
    replay = Replay(acl, logs, ReplayOptions(workers=workers, write_records=True, chunk_lines=64))
    out = b"".join(batch.records for batch in replay.batches(summary, comparison))
    assert replay.workers_used == workers
    return out, summary, comparison


@pytest.mark.slow  # worker processes
@pytest.mark.parametrize(
    "statement",
    [
        IP,
        {
            "Limit": 20,
            "EvaluationWindowSec": 60,
            "AggregateKeyType": "FORWARDED_IP",
            "ForwardedIPConfig": FORWARDED,
        },
        custom({"IP": {}}, {"UriPath": {"TextTransformations": NONE}}),
    ],
    ids=["ip", "forwarded", "custom-ip-and-path"],
)
def test_workers_split_by_key_write_exactly_what_one_process_writes(
    tmp_path: Path, statement: dict[str, Any]
) -> None:
    acl = acl_of(statement)
    logs = [str(burst(tmp_path / "burst.jsonl"))]
    one, summary_one, comparison_one = by_batches(acl, logs, 1)
    two, summary_two, comparison_two = by_batches(acl, logs, 2)
    assert one == two and one.count(b'"action":"BLOCK"') > 0
    for name in ("total", "by_action", "by_rule", "bad_lines", "action_examples", "first_ms", "last_ms"):
        assert getattr(summary_two, name) == getattr(summary_one, name), name
    assert [b.describe() for b in summary_two.bad_examples] == [
        b.describe() for b in summary_one.bad_examples
    ]
    assert dict(summary_two.labels.counts) == dict(summary_one.labels.counts)
    assert (
        comparison_two.examples == comparison_one.examples and comparison_two.matrix == comparison_one.matrix
    )


@pytest.mark.slow  # worker processes
def test_eval_warns_why_workers_are_ignored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    acl = tmp_path / "acl.json"
    acl.write_text(json.dumps(rates(CONSTANT)))
    logs = burst(tmp_path / "burst.jsonl")
    code, _, stderr = run_cli(
        ["eval", str(acl), str(logs), "-q", "--workers", "2", "--search-string", "text"], capsys
    )
    assert code == 0
    assert "--workers is ignored" in stderr and "one key" in stderr
