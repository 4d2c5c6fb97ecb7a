"""`wafpy.spark`: a replay on Spark gives the records and the summary `wafpy eval` gives.

Spark runs in local mode (`local[2]`), one session for the whole test session; the inputs are
small (a few hundred records). Records are compared by an order-independent digest (Spark
writes them in task order), summaries by every count and example they hold.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.builders import byte_match, rule, web_acl
from tests.replay_fixtures import T0, run_cli, waf_record, write_acl, write_jsonl
from tests.shared import ROOT, shared_dir
from wafpy.replay.compare import Comparison
from wafpy.replay.outcome import ReplayOptions
from wafpy.replay.runner import Replay
from wafpy.replay.summary import Summary
from wafpy.webacl import load_web_acl

# The spark extra (in dev) and a Java runtime: on a user's machine without them these tests skip,
# saying why; under CI=true (which installs both) they fail instead of passing by skipping.
_missing = [m for m in ("pyspark", "pyarrow") if importlib.util.find_spec(m) is None]
if shutil.which("java") is None:
    _missing.append("a Java runtime (java on PATH)")
if _missing:
    _why = f"the Spark tests need {', '.join(_missing)} (pip install -e '.[dev]'; Java 17)"
    if os.environ.get("CI") == "true":
        raise RuntimeError(_why)
    pytest.skip(_why, allow_module_level=True)

from pyspark.sql import SparkSession  # noqa: E402 (after the check above)

from wafpy.spark import AclSource, evaluate, local_session, replay  # noqa: E402
from wafpy.spark.aclsource import forget  # noqa: E402

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    # pyspark leaves the sockets of collect() to the garbage collector.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

DEMO = ROOT / "rulesets" / "demo-webacl.json"
DEMO_RESOURCES = ROOT / "rulesets" / "demo-resources"


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = local_session("local[2]", "wafpy-tests")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def digest(lines: Sequence[bytes]) -> str:
    """Order-independent digest of record lines."""
    h = hashlib.sha256()
    for line in sorted(lines):
        h.update(line.rstrip(b"\n") + b"\n")
    return h.hexdigest()


def spark_lines(folder: Path) -> list[bytes]:
    return [line for part in sorted(folder.rglob("part-*")) for line in part.read_bytes().splitlines()]


def summary_view(summary: Summary) -> dict[str, Any]:
    """Everything a summary shows, as plain data (top-N counters as counts, not as insertion order)."""
    return {
        "total": summary.total,
        "by_action": dict(summary.by_action),
        "by_rule": dict(summary.by_rule),
        "by_kind": dict(summary.by_kind),
        "labels": dict(summary.labels.counts),
        "blocked_ips": dict(summary.blocked_ips.counts),
        "blocked_uris": dict(summary.blocked_uris.counts),
        "counted": dict(summary.counted),
        "requests_counted": summary.requests_counted,
        "not_evaluable": dict(summary.not_evaluable),
        "requests_not_evaluable": summary.requests_not_evaluable,
        "undetermined": dict(summary.undetermined),
        "requests_undetermined": summary.requests_undetermined,
        "bad_lines": summary.bad_lines,
        "bad_examples": [b.describe() for b in summary.bad_examples],
        "input_errors": [b.describe() for b in summary.input_errors],
        "unreadable_inputs": summary.unreadable_inputs,
        "filtered": summary.filtered,
        "action_examples": summary.action_examples,
        "timeline": (summary.timeline.width_ms, {k: dict(v) for k, v in summary.timeline.buckets.items()}),
        "span": (summary.first_ms, summary.last_ms),
    }


def comparison_view(comparison: Comparison | None) -> dict[str, Any] | None:
    if comparison is None:
        return None
    return {
        "compared": comparison.compared,
        "unchanged": comparison.unchanged,
        "no_ground_truth": comparison.no_ground_truth,
        "excluded": dict(comparison.excluded),
        "matrix": dict(comparison.matrix),
        "changes": dict(comparison.changes),
        "rules": {k: dict(v) for k, v in comparison.rules.items()},
        "examples": comparison.examples,
        "cannot_tell": comparison.cannot_tell,
        "undetermined": dict(comparison.undetermined),
    }


def one_machine(
    source: AclSource, acl_path: Path, logs: Sequence[str], resources: Sequence[str] = (), **load: Any
) -> tuple[str, Summary, Comparison]:
    """What `wafpy eval --compare -o FILE` gives: the records' digest, the summary, the comparison."""
    acl = load_web_acl(acl_path, resources=list(resources) or None, **load)
    summary = Summary()
    comparison = Comparison(rule_names=[r.name for r in acl.model.rules])
    records: list[bytes] = []
    run = Replay(acl, logs, ReplayOptions(write_records=True))
    for batch in run.batches(summary, comparison):
        records.extend(batch.records.splitlines())
    summary.filtered = run.filtered
    return digest(records), summary, comparison


def assert_same(
    spark: SparkSession, tmp_path: Path, acl_path: Path, logs: Sequence[str], **load: Any
) -> Summary:
    resources = [str(r) for r in load.pop("resources", ())]
    source = AclSource.from_files(str(acl_path), resources=resources, **load)
    expected, summary, comparison = one_machine(source, acl_path, logs, resources, **load)
    out = tmp_path / "records"
    rule_names = [r.name for r in load_web_acl(acl_path, resources=resources or None, **load).model.rules]
    done = replay(spark, source, logs, str(out), compare=True, rule_names=rule_names)
    assert digest(spark_lines(out)) == expected
    assert summary_view(done.summary) == summary_view(summary)
    assert comparison_view(done.comparison) == comparison_view(comparison)
    return done.summary


def test_the_bundled_samples_give_the_records_and_summary_of_one_machine(
    spark: SparkSession, tmp_path: Path
) -> None:
    samples = ROOT / "samples"
    logs = [str(samples / "waf-logs.jsonl.gz")]
    summary = assert_same(spark, tmp_path, DEMO, logs, resources=[DEMO_RESOURCES], managed="log")
    assert summary.by_rule[("rate-limit-login", "RATE_BASED", "BLOCK")] > 0  # rate-based, partitioned


def test_alb_and_request_lines_give_the_same_as_one_machine(spark: SparkSession, tmp_path: Path) -> None:
    samples = ROOT / "samples"
    logs = [str(samples / "alb-access.log"), str(samples / "requests.jsonl")]
    assert_same(spark, tmp_path, DEMO, logs, resources=[DEMO_RESOURCES], managed="none")


@pytest.mark.corpora
def test_every_corpus_log_gives_the_same_as_one_machine(spark: SparkSession, tmp_path: Path) -> None:
    corpora = shared_dir("corpora", "logs")
    acl = write_acl(tmp_path / "acl.json", rate_based=True)
    logs = [str(corpora / "aws-waf"), str(corpora / "alb")]
    summary = assert_same(spark, tmp_path, acl, logs, search_string="text")
    assert summary.total > 1000


NO_TRANSFORM = {"Priority": 0, "Type": "NONE"}


def rate_acl(path: Path, statement: dict[str, Any]) -> Path:
    rules = [rule("limit", 0, {"RateBasedStatement": statement}, "Block", sampled=False)]
    path.write_text(json.dumps(web_acl(rules, name="rates", sampled=False)))
    return path


def burst_log(path: Path) -> Path:
    """Three clients, one in a burst over the limit, with forwarded headers (one invalid)."""
    records = []
    for i in range(240):
        ip = ("203.0.113.9", "198.51.100.1", "192.0.2.7")[i % 3]
        forwarded = ("10.0.0.1", "not-an-ip", "10.0.0.2")[i % 3]
        record = waf_record(i, "/login", ip=ip, headers=(("x-forwarded-for", forwarded),))
        record["timestamp"] = T0 + (i // 3) * 100  # 30 requests per key and 3 s
        records.append(record)
    return write_jsonl(path, records)


@pytest.mark.parametrize(
    "statement",
    [
        {"Limit": 20, "EvaluationWindowSec": 60, "AggregateKeyType": "IP"},
        {
            "Limit": 20,
            "EvaluationWindowSec": 60,
            "AggregateKeyType": "FORWARDED_IP",
            "ForwardedIPConfig": {"HeaderName": "X-Forwarded-For", "FallbackBehavior": "MATCH"},
        },
        {
            "Limit": 20,
            "EvaluationWindowSec": 60,
            "AggregateKeyType": "CUSTOM_KEYS",
            "CustomKeys": [{"IP": {}}, {"UriPath": {"TextTransformations": [NO_TRANSFORM]}}],
        },
        {
            "Limit": 20,
            "EvaluationWindowSec": 60,
            "AggregateKeyType": "CONSTANT",
            "ScopeDownStatement": byte_match({"UriPath": {}}, "/login", "EXACTLY"),
        },
    ],
    ids=["ip", "forwarded", "custom-ip-and-path", "constant"],
)
def test_rate_based_rules_give_the_same_records(
    spark: SparkSession, tmp_path: Path, statement: dict[str, Any]
) -> None:
    acl = rate_acl(tmp_path / "acl.json", statement)
    logs = [str(burst_log(tmp_path / "burst.jsonl"))]
    summary = assert_same(spark, tmp_path, acl, logs)
    assert summary.by_action["BLOCK"] > 0


def test_a_broken_line_is_reported_with_its_file_and_line(spark: SparkSession, tmp_path: Path) -> None:
    acl = write_acl(tmp_path / "acl.json")
    log = tmp_path / "broken.jsonl"
    lines = [json.dumps(waf_record(i, "/")) for i in range(5)]
    lines[2] = '{"timestamp": 1, "httpRequest": '
    log.write_text("\n".join(lines) + "\n")
    logs = [str(log), str(tmp_path / "missing.jsonl")]
    summary = assert_same(spark, tmp_path, acl, logs, search_string="text")
    assert summary.bad_examples[0].describe().startswith(f"{log}:3: ")
    assert summary.input_errors[0].file == str(tmp_path / "missing.jsonl")


def test_parquet_has_the_columns_of_athenas_waf_table(spark: SparkSession, tmp_path: Path) -> None:
    source = AclSource.from_files(str(DEMO), resources=[str(DEMO_RESOURCES)], managed="log")
    out = tmp_path / "parquet"
    done = replay(spark, source, [str(ROOT / "samples" / "waf-logs.jsonl.gz")], str(out), format="parquet")
    table = spark.read.parquet(str(out))
    first = ["timestamp", "formatversion", "webaclid", "terminatingruleid", "terminatingruletype", "action"]
    assert table.columns[:6] == first
    assert "httprequest" in table.columns and table.columns[-1] == "date"
    assert table.count() == done.summary.total
    blocked = table.where("action = 'BLOCK'").select("httprequest.clientip", "terminatingruleid").collect()
    assert len(blocked) == done.summary.by_action["BLOCK"]
    assert sorted({p.name for p in out.iterdir() if p.is_dir()}) == ["date=2024-05-14"]


def forgetting(batches: Iterable[Any]) -> Iterator[Any]:
    forget()
    yield from batches


def test_an_executor_that_lost_its_compiled_acl_compiles_it_again(
    spark: SparkSession, tmp_path: Path
) -> None:
    acl = write_acl(tmp_path / "acl.json")
    source = AclSource.from_files(str(acl), search_string="text")
    records = [waf_record(i, "/admin" if i % 2 else "/") for i in range(50)]
    logs = [str(write_jsonl(tmp_path / "waf.jsonl", records))]
    first = replay(spark, source, logs, str(tmp_path / "one"))
    # Every idle Python worker of Arrow functions drops its compiled web ACLs (as a new executor
    # process starts without them).
    spark.range(16, numPartitions=16).mapInArrow(forgetting, "id long").collect()
    second = replay(spark, source, logs, str(tmp_path / "two"))
    assert second.compiled > 0  # tasks compiled it again, from the same text
    assert digest(spark_lines(tmp_path / "one")) == digest(spark_lines(tmp_path / "two"))
    assert summary_view(first.summary) == summary_view(second.summary)


def test_evaluate_turns_a_dataframe_of_lines_into_records(spark: SparkSession, tmp_path: Path) -> None:
    acl = write_acl(tmp_path / "acl.json")
    source = AclSource.from_files(str(acl), search_string="text")
    rows = [(json.dumps(waf_record(i, "/admin" if i % 2 else "/")),) for i in range(10)]
    records = evaluate(spark.createDataFrame(rows, "value STRING"), source)
    actions = sorted(r.action for r in records.select("action").collect())
    assert actions == ["ALLOW"] * 5 + ["BLOCK"] * 5


def test_eval_with_engine_spark_prints_what_eval_prints(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    samples = ROOT / "samples"
    common = [str(DEMO), str(samples / "waf-logs.jsonl.gz"), "--resources", str(DEMO_RESOURCES), "--compare"]
    code, local, _ = run_cli(["eval", *common, "-o", str(tmp_path / "local.jsonl")], capsys)
    assert code == 0
    code, distributed, stderr = run_cli(
        ["eval", *common, "--engine", "spark", "-o", str(tmp_path / "spark")], capsys
    )
    assert code == 0, stderr
    assert "partitioned by client IP" in stderr
    assert digest(spark_lines(tmp_path / "spark")) == digest(
        (tmp_path / "local.jsonl").read_bytes().splitlines()
    )

    # The actions table and the comparison's counts. Other tables list their top rows, and rows of
    # equal counts in the order first seen, which Spark's tasks see in another order (the counts
    # themselves are compared above, summary by summary).
    def rows(text: str) -> list[str]:
        actions = ("│ ALLOW ", "│ BLOCK ", "│ CAPTCHA ", "│ CHALLENGE ", "│ COUNT ", "│ UNDETERMINED ")
        return [line for line in text.splitlines() if line.startswith(actions)]

    assert rows(local) == rows(distributed) and rows(local)
    code, _, stderr = run_cli(["eval", *common, "--engine", "spark", "--limit", "3"], capsys)
    assert code == 1 and "--limit is not available with --engine spark" in stderr
