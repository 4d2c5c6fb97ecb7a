"""Replaying logs on Apache Spark: the same records and the same summary as `wafpy eval`.

`replay(spark, acl, logs, output)` reads the inputs with Spark (local paths, or any URL the
cluster reads: `s3://` on AWS Glue and EMR), evaluates every record line against the web ACL in
Spark tasks (`wafpy.spark.tasks`, on Arrow batches with `mapInArrow`), writes the AWS WAF log
records (JSON lines, or Parquet with the columns of Athena's AWS WAF table, partitioned by date)
and returns the records DataFrame with the merged `Summary` (and `Comparison`) -- what
`wafpy eval` prints, the same counts and the same examples.

Rate-based rules: when every rate-based statement keys on one component that can be read before
evaluating (client IP, a forwarded IP: `wafpy.replay.partition`), the lines are repartitioned by
its value and each partition sorted by (value, input position), so every key's counter sees its
requests in one task, in the order `wafpy eval` counts them: the records are those of one
machine. `rate_order="time"` sorts by (value, timestamp, input position) instead, for inputs
whose files are not in time order (the same records whenever each key's requests are in time
order in the input, as AWS writes its logs). Otherwise one ordered task evaluates everything,
and `SparkReplay.plan` says why.

The web ACL travels to executors as its documents' text (`AclSource`), compiled once per Python
worker process (`wafpy.spark.aclsource`).
"""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wafpy.errors import LogFormatError
from wafpy.logs.sources import iter_files
from wafpy.replay.chunks import bad_line
from wafpy.replay.compare import Comparison
from wafpy.replay.ordered import merge_comparison_in_order, merge_in_order, position_of
from wafpy.replay.outcome import ReplayOptions
from wafpy.replay.partition import CLIENT_IP, RatePlan, rate_plan
from wafpy.replay.summary import Summary
from wafpy.spark.aclsource import AclSource, compiled
from wafpy.spark.athena import COLUMNS, ddl
from wafpy.spark.tasks import KEYED, LINES, RECORDS, TaskSpec, evaluate_lines, key_lines, read_files

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["SparkReplay", "evaluate", "local_session", "replay"]

BATCH_ROWS = 4096  # record lines per Arrow batch read from a file


@dataclass
class SparkReplay:
    """What `replay` returns: the records DataFrame, the merged summary, the comparison, the plan."""

    records: DataFrame
    summary: Summary
    comparison: Comparison | None
    plan: RatePlan
    partitions: int
    compiled: int = 0  # tasks that compiled the web ACL (their Python worker had not yet)


def local_session(
    master: str = "local[2]", app_name: str = "wafpy", *, memory: str | None = None
) -> SparkSession:
    """A SparkSession whose Python workers run this interpreter (where wafpy is installed); the
    session that exists, if any (spark-submit, AWS Glue, EMR). `memory`: the driver's heap."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    if memory is not None:
        builder = builder.config("spark.driver.memory", memory)
    return (
        builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.pyspark.python", os.environ["PYSPARK_PYTHON"])
        .getOrCreate()
    )


def _source(acl: AclSource | str) -> AclSource:
    return acl if isinstance(acl, AclSource) else AclSource.from_files(acl)


def _is_url(path: str) -> bool:
    return "://" in path


class _Partials:
    """A Spark accumulator of {partition id: pickled (summary, comparison, file ranks)}."""

    def __init__(self, spark: SparkSession) -> None:
        from pyspark.accumulators import AccumulatorParam

        class Param(AccumulatorParam):  # type: ignore[type-arg]
            def zero(self, value: dict[int, bytes]) -> dict[int, bytes]:
                return {}

            def addInPlace(self, a: dict[int, bytes], b: dict[int, bytes]) -> dict[int, bytes]:
                a.update(b)  # a task run again gives the same partial: counted once
                return a

        self.accumulator = spark.sparkContext.accumulator({}, Param())


def _evaluate_lines(
    lines: DataFrame,
    source: AclSource,
    options: ReplayOptions,
    partials: Any,
    compare: tuple[int, tuple[str, ...]] | None,
    partitions: int | None,
    rate_order: str = "input",
) -> tuple[DataFrame, RatePlan, int]:
    """Record lines (`LINES`) -> records (`RECORDS`), partitioned as the rate-based rules allow."""
    acl = compiled(source, options).acl  # on the driver too: loading errors show here, once
    plan = rate_plan(acl.model)
    spark = lines.sparkSession
    wanted = partitions or spark.sparkContext.defaultParallelism
    if plan.rate_based and plan.component is not None:
        component = plan.component
        keyed = lines.mapInArrow(lambda batches: key_lines(batches, component), KEYED)
        order: tuple[str, ...] = ("pkey", "rank", "line")
        if rate_order == "time":
            order = ("pkey", "ts", "rank", "line")
        lines = keyed.repartition(wanted, "pkey").sortWithinPartitions(*order)
    elif plan.rate_based:  # one ordered pass
        wanted = 1
        order = ("ts", "rank", "line") if rate_order == "time" else ("rank", "line")
        if rate_order == "time":  # the timestamps, without a key to reset counters on
            lines = lines.mapInArrow(lambda batches: key_lines(batches, CLIENT_IP), KEYED).drop("pkey")
        lines = lines.repartition(1).sortWithinPartitions(*order)
    elif partitions:
        lines = lines.repartition(partitions)
    else:
        wanted = lines.rdd.getNumPartitions()
    spec = TaskSpec(source, options, partials, compare, Summary().labels.capacity)
    records = lines.mapInArrow(lambda batches: evaluate_lines(batches, spec), RECORDS)
    return records, plan, wanted


def evaluate(
    df: DataFrame,
    acl: AclSource | str,
    *,
    format: str = "auto",
    since: int | None = None,
    until: int | None = None,
    partitions: int | None = None,
) -> DataFrame:
    """A DataFrame of log lines -> a DataFrame of AWS WAF log records (`RECORDS` columns).

    `df` has a `value` column (string or binary: one log line each), and optionally `file` and
    `line` (where each line comes from, shown in bad-line messages). With `format="auto"` each
    line's format is detected from the line itself. Rate-based rules are partitioned as in
    `replay`. The summary is `replay`'s; here only records are produced.
    """
    from pyspark.sql import functions as F

    source = _source(acl)
    cols = df.columns
    lines = df.select(
        F.lit(0).cast("int").alias("rank"),
        (F.col("file").cast("string") if "file" in cols else F.lit("<dataframe>")).alias("file"),
        (F.col("line").cast("long") if "line" in cols else F.monotonically_increasing_id() + 1).alias("line"),
        F.col("value").cast("binary").alias("value"),
    )
    chosen = format
    framed = lines.mapInArrow(lambda batches: _framed(batches, chosen), LINES)
    options = ReplayOptions(format=format, since=since, until=until, write_records=True)
    partials = _Partials(df.sparkSession).accumulator
    records, _, _ = _evaluate_lines(framed, source, options, partials, None, partitions)
    return records


def _framed(batches: Any, fmt: str) -> Any:
    """(order, file, line, value) -> `LINES`: each line's format (detected, or `fmt`)."""
    import pyarrow as pa

    from wafpy.logs.formats import UNDETECTED, detect, format_named

    forced = None if fmt == "auto" else format_named(fmt)
    for batch in batches:
        values = batch.column("value").to_pylist()
        formats: list[str | None] = []
        bad: list[str | None] = []
        for raw in values:
            found = forced or (detect(raw) if raw else None)
            formats.append(found.name if found is not None else None)
            bad.append(None if found is not None else UNDETECTED)
        yield pa.RecordBatch.from_arrays(
            [
                batch.column("rank"),
                batch.column("file"),
                batch.column("line"),
                pa.array(formats, pa.string()),
                batch.column("value"),
                pa.array(bad, pa.string()),
                pa.array([False] * len(values), pa.bool_()),
            ],
            names=["rank", "file", "line", "format", "value", "bad", "unreadable"],
        )


def replay(
    spark: SparkSession,
    acl: AclSource | str,
    logs: Sequence[str],
    output: str | None = None,
    format: str = "json",
    partition_by: str | None = "date",
    *,
    log_format: str = "auto",
    since: int | None = None,
    until: int | None = None,
    compare: bool = False,
    rule_names: Sequence[str] = (),
    partitions: int | None = None,
    rate_order: str = "input",
    mode: str = "overwrite",
) -> SparkReplay:
    """Replay `logs` (local paths, folders, or URLs Spark reads) through `acl`; write the records.

    `format`: "json" (AWS WAF log records, one per line) or "parquet" (Athena's AWS WAF table
    columns, `wafpy.spark.athena`); `partition_by`: "date" (UTC day of each request, `date=YYYY-MM-DD`
    folders) or None. With `output` None nothing is written; the records are evaluated once for
    the summary. `partitions`: how many tasks evaluate (default: the cluster's parallelism).
    `rate_order`: in what order each rate key's requests are counted: "input" (input position,
    as `wafpy eval` counts them) or "time" (timestamp, then input position: for inputs whose
    files are not in time order).
    """
    if rate_order not in ("input", "time"):
        raise ValueError(f"rate_order must be input or time, got {rate_order!r}")
    if format not in ("json", "parquet"):
        raise ValueError(f"format must be json or parquet, got {format!r}")
    source = _source(acl)
    options = ReplayOptions(format=log_format, since=since, until=until, write_records=True)
    driver = Summary()
    names, files, remote = _inputs(logs, driver)
    ranks = {display: rank for rank, display in names.values()}
    if remote:
        listed = sorted(
            r.path
            for r in spark.read.format("binaryFile")
            .option("recursiveFileLookup", "true")
            .load(remote)
            .select("path")
            .collect()
        )
        for path in listed:
            names[path] = (len(ranks), path)
            ranks[path] = len(ranks)
        files.extend(listed)
    partials = _Partials(spark).accumulator
    comparison_spec = (5, tuple(rule_names)) if compare else None
    if files:
        raw = spark.read.format("binaryFile").load(files)
        batch_rows, chosen = BATCH_ROWS, log_format
        lines = raw.mapInArrow(lambda batches: read_files(batches, names, chosen, batch_rows), LINES)
        records, plan, used = _evaluate_lines(
            lines, source, options, partials, comparison_spec, partitions, rate_order
        )
        _write(records, output, format, partition_by, mode)
    else:
        records = spark.createDataFrame([], RECORDS)
        plan, used = rate_plan(compiled(source, options).acl.model), 0
    position = position_of(ranks)
    summary = Summary()
    comparison = Comparison(rule_names=rule_names) if compare else None
    merge_in_order(summary, driver, position)
    recompiled = 0
    for partition in sorted(partials.value):
        part, part_comparison, _, fresh = pickle.loads(partials.value[partition])
        recompiled += fresh
        merge_in_order(summary, part, position)
        if comparison is not None and part_comparison is not None:
            merge_comparison_in_order(comparison, part_comparison, position)
    return SparkReplay(records, summary, comparison, plan, used, recompiled)


def _inputs(logs: Sequence[str], driver: Summary) -> tuple[dict[str, tuple[int, str]], list[str], list[str]]:
    """Local inputs expanded as `wafpy eval` expands them (missing ones counted in `driver`), and
    the URLs left to Spark. `names` maps the path Spark shows to (rank, name as given)."""
    names: dict[str, tuple[int, str]] = {}
    files: list[str] = []
    remote: list[str] = []

    def report(error: LogFormatError) -> None:
        driver.add_bad(bad_line(error))

    for path in logs:
        if _is_url(path):
            remote.append(path)
            continue
        if path == "-":
            raise ValueError("reading stdin is not supported on Spark: name files, folders or URLs")
        for name in iter_files([path], report):
            full = "file:" + os.path.abspath(name)
            names[full] = (len(names), name)
            files.append(full)
    return names, files, remote


def _write(records: DataFrame, output: str | None, format: str, partition_by: str | None, mode: str) -> None:
    """Write (or, without `output`, only compute) the records."""
    from pyspark.sql import functions as F

    if output is None:
        records.write.format("noop").mode("overwrite").save()
        return
    if format == "json":
        out = records.select(F.col("record").alias("value"), "date")
    else:
        parsed = F.from_json("record", ddl(COLUMNS, lower=False))
        out = records.select(parsed.alias("r"), "date").select(
            *[
                F.col("r").getField(name).cast(ddl(kind, lower=True)).alias(name.lower())
                for name, kind in COLUMNS
            ],
            "date",
        )
    writer = out.write.mode(mode)
    if partition_by:
        writer = writer.partitionBy(partition_by)
    else:
        out = out.drop("date")
        writer = out.write.mode(mode)
    if format == "json":
        writer.text(output)
    else:
        writer.parquet(output)
