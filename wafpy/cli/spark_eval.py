"""`wafpy eval --engine spark`: the replay on Apache Spark (`wafpy.spark`), same summary and gates.

The records go to the folder `-o` names (Spark writes folders): JSON lines, or Parquet with
`--output-format parquet`, partitioned by date. `--master` picks the cluster (default
`local[N]` with N = `--workers`); inside `spark-submit`, AWS Glue or EMR the session that exists is
used. Not available there: `--limit` and stdin input; `--strict` reports the first bad line
and exits 3 as on one machine, after writing every record.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from wafpy.cli.common import resource_files
from wafpy.replay.compare import Comparison
from wafpy.replay.summary import Summary

__all__ = ["add_spark_arguments", "spark_eval"]


def add_spark_arguments(p: argparse.ArgumentParser) -> None:
    """`--engine`, `--master`, `--output-format` of `wafpy eval`."""
    p.add_argument(
        "--engine",
        choices=("local", "spark"),
        default="local",
        help="where to evaluate: local processes (default), or Apache Spark "
        "(pip install wafpy-engine[spark])",
    )
    p.add_argument(
        "--master", metavar="URL", help="with --engine spark: the Spark master (default local[WORKERS])"
    )
    p.add_argument(
        "--output-format",
        choices=("json", "parquet"),
        default="json",
        help="with --engine spark: records in -o FOLDER as JSON lines or Parquet "
        "(Athena's WAF table columns)",
    )


def spark_eval(
    args: argparse.Namespace, managed: Any, rule_names: list[str], warn: Callable[[str], None]
) -> tuple[Summary, Comparison | None, float, int] | None:
    """Run the replay on Spark: (summary, comparison, seconds, tasks); None on a usage error (said
    on stderr)."""
    problem = None
    if args.limit is not None:
        problem = "--limit is not available with --engine spark"
    elif "-" in args.logs:
        problem = "stdin is not available with --engine spark: name files, folders or URLs"
    elif args.output == "-":
        problem = "with --engine spark, -o names a folder (Spark writes one file per task)"
    elif args.rate_backend is not None:
        problem = "--rate-backend is not available with --engine spark (each task counts its own keys)"
    if problem is not None:
        print(f"wafpy eval: error: {problem}", file=sys.stderr)
        return None
    try:
        from wafpy.spark import AclSource, local_session, replay
    except ImportError as exc:  # pragma: no cover - depends on the installation
        print(
            f"error: --engine spark needs pyspark: pip install 'wafpy-engine[spark]' ({exc})", file=sys.stderr
        )
        return None
    source = AclSource.from_files(
        args.acl,
        resources=resource_files(args.resources),
        managed=managed,
        account=args.account,
        search_string=args.search_string,
    )
    spark = local_session(args.master or f"local[{args.workers}]")
    started = time.perf_counter()
    done = replay(
        spark,
        source,
        args.logs,
        args.output,
        format=args.output_format,
        log_format=args.format,
        since=args.since,
        until=args.until,
        compare=args.compare,
        rule_names=rule_names,
    )
    elapsed = time.perf_counter() - started
    if done.plan.rate_based:
        warn(done.plan.describe())
    return done.summary, done.comparison, elapsed, done.partitions
