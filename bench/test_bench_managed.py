"""Replaying a managed rule group from the log (`managed="log"`) against the same replay without it.

Run with `pytest bench --benchmark-enable -s`. The same AWS WAF records (each with the core rule
set's `ruleGroupList` entry, as AWS writes it; one in ten with a matched inner rule and its label)
are replayed, as `wafpy eval LOG -o FILE` does, through the realistic 20-rule web ACL with AWS's
core rule set first and `managed="log"`, and through the same web ACL with the managed statement
removed. Interleaved rounds in CPU time; `extra_info["ratio"]` is the median per-round ratio
(target: at most 1.10).
"""

from __future__ import annotations

import copy
import random
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

import wafpy
from bench import realistic_acl
from bench.ratios import interleaved_ratio
from bench.test_bench_eval import _requests, _waf_lines
from wafpy.replay import Replay, ReplayOptions
from wafpy.replay.summary import Summary

CRS = "AWSManagedRulesCommonRuleSet"
LABEL = "awswaf:managed:aws:core-rule-set:NoUserAgent_Header"


def _with_group(document: dict[str, Any]) -> dict[str, Any]:
    """The web ACL with AWS's core rule set first, its NoUserAgent_HEADER rule set to Count."""
    out = copy.deepcopy(document)
    for rule in out["Rules"]:
        rule["Priority"] += 1
    statement = {
        "VendorName": "AWS",
        "Name": CRS,
        "RuleActionOverrides": [{"Name": "NoUserAgent_HEADER", "ActionToUse": {"Count": {}}}],
    }
    out["Rules"].insert(
        0,
        {
            "Name": "aws-crs",
            "Priority": 0,
            "Statement": {"ManagedRuleGroupStatement": statement},
            "OverrideAction": {"None": {}},
            "VisibilityConfig": {
                "SampledRequestsEnabled": False,
                "CloudWatchMetricsEnabled": False,
                "MetricName": "aws-crs",
            },
        },
    )
    return out


def _records(n: int) -> bytes:
    rng = random.Random(5)
    out = []
    for line in _waf_lines(_requests(n)).splitlines():
        record = orjson.loads(line)
        entry: dict[str, Any] = {
            "ruleGroupId": f"AWS#{CRS}",
            "terminatingRule": None,
            "nonTerminatingMatchingRules": [],
            "excludedRules": None,
        }
        if rng.random() < 0.1:
            entry["nonTerminatingMatchingRules"] = [
                {
                    "ruleId": "NoUserAgent_HEADER",
                    "action": "COUNT",
                    "overriddenAction": "BLOCK",
                    "ruleMatchDetails": [],
                }
            ]
            record["labels"] = [{"name": LABEL}]
        record["ruleGroupList"] = [entry]
        out.append(orjson.dumps(record))
    return b"\n".join(out) + b"\n"


def _replay(acl: wafpy.WebACL, path: Path) -> Callable[[], int]:
    def run() -> int:
        acl.services.rate_counter.reset()  # type: ignore[attr-defined]  # same state every round
        summary = Summary()
        replay = Replay(acl, [str(path)], ReplayOptions(write_records=True))
        with tempfile.TemporaryFile() as sink:
            for batch in replay.batches(summary):
                batch.write_to(sink)
        return summary.total

    return run


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("managed-bench") / "waf.jsonl"
    path.write_bytes(_records(2000))
    return path


def test_managed_log_replay_overhead(benchmark: Any, records: Path) -> None:
    document = realistic_acl.web_acl()
    resources = realistic_acl.resources()
    with_group = wafpy.load_web_acl(
        _with_group(document), resources=resources, search_string="text", managed="log"
    )
    without = wafpy.load_web_acl(document, resources=resources, search_string="text")
    subject, baseline = _replay(with_group, records), _replay(without, records)
    assert subject() == baseline() == 2000
    summary = Summary()
    for _ in Replay(with_group, [str(records)], ReplayOptions()).batches(summary):
        pass
    assert summary.requests_undetermined == 0 and summary.labels.counts.get(LABEL, 0) > 0
    ratio = interleaved_ratio(subject, baseline, rounds=15, min_batch_s=0.0)
    benchmark.extra_info.update(ratio.as_info())
    print(
        f"\nmanaged=log: {2000 / (ratio.subject_us / 1e6):,.0f} records/s, without the managed "
        f"statement {2000 / (ratio.baseline_us / 1e6):,.0f} records/s, ratio = {ratio.ratio:.3f} "
        "(target <= 1.10)"
    )
    benchmark.pedantic(subject, rounds=3, iterations=1)
