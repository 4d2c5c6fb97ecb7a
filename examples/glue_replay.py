"""Replay months of AWS WAF logs in S3 through a web ACL on AWS Glue 5 (or EMR, or spark-submit).

AWS Glue job (Spark, Glue 5.0: Spark 3.5, Python 3.11), job parameters:

    --additional-python-modules  wafpy-engine
    --acl        s3://bucket/config/webacl.json          (get-web-acl output or a bare WebACL)
    --resources  s3://bucket/config/ipsets/              (optional: IP sets, regex pattern sets, rule groups)
    --logs       s3://bucket/AWSLogs/111122223333/WAFLogs/eu-west-1/shop/2025/
    --output     s3://bucket/wafpy-replay/shop-v2/
    --format     parquet                                 (or json: AWS WAF log records, one per line)

On EMR or anywhere else: `spark-submit glue_replay.py --acl ... --logs ... --output ...`
(the same names, with `pip install wafpy-engine` on every node). The summary (what `wafpy eval`
prints: actions, rules, changes against what AWS logged) goes to the job's log; the records go to
`--output`, partitioned by date. With `--format parquet`, query them in Athena with the table
`wafpy.spark.ATHENA_DDL` declares (the columns of Athena's AWS WAF logs table).

AWS WAF writes its S3 logs as gzip files of JSON lines, five minutes each
(https://docs.aws.amazon.com/waf/latest/developerguide/logging-s3.html); each file is read by one
task, in the order of its key, so rate-based rules see each client's requests in order.
"""

from __future__ import annotations

import argparse
import sys

from pyspark.sql import SparkSession
from rich.console import Console

from wafpy.replay.compare import render_comparison
from wafpy.replay.summary_render import render_summary
from wafpy.spark import AclSource, replay


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--acl", required=True)
    parser.add_argument("--resources", default="")
    parser.add_argument("--logs", required=True, help="comma-separated S3 prefixes or files")
    parser.add_argument("--output", required=True)
    parser.add_argument("--format", default="parquet", choices=("json", "parquet"))
    # Glue adds its own arguments (--JOB_NAME, ...): ignore what this job does not use.
    known, _ = parser.parse_known_args(sys.argv[1:])
    return known


def documents(spark: SparkSession, url: str) -> list[tuple[str, bytes]]:
    """(file name, content) of every file at `url`, read by Spark (s3:// needs no other client)."""
    rows = spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(url).collect()
    return [(row.path.rsplit("/", 1)[-1], bytes(row.content)) for row in sorted(rows, key=lambda r: r.path)]


def main() -> None:
    args = arguments()
    spark = SparkSession.builder.appName("wafpy-replay").getOrCreate()
    (acl,) = documents(spark, args.acl)
    resources = tuple(documents(spark, args.resources)) if args.resources else ()
    # AWS WAF log records say what each managed rule group decided: replay those from the logs.
    source = AclSource(acl, resources, managed="log")
    rule_names = [rule.name for rule in source.load().model.rules]
    done = replay(
        spark,
        source,
        args.logs.split(","),
        args.output,
        format=args.format,
        compare=True,
        rule_names=rule_names,
    )
    console = Console(width=160)
    console.print(done.plan.describe())
    render_summary(console, done.summary, title=f"wafpy replay of {args.logs}", rule_names=rule_names)
    if done.comparison is not None:
        render_comparison(console, done.comparison)


if __name__ == "__main__":
    main()
