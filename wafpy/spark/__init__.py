"""Replaying logs on Apache Spark (AWS Glue, Amazon EMR, local mode): `pip install wafpy-engine[spark]`.

`replay(spark, acl, logs, output)` gives the records and the summary `wafpy eval` gives, on a
cluster; `evaluate(df, acl)` turns a DataFrame of log lines into AWS WAF log records. The web
ACL travels as its documents' text (`AclSource`) and is compiled once per executor process.
Importing this package does not import pyspark; the functions do, when called.
"""

from __future__ import annotations

from wafpy.spark.aclsource import AclSource
from wafpy.spark.athena import ATHENA_DDL, athena_ddl
from wafpy.spark.replay import SparkReplay, evaluate, local_session, replay

__all__ = ["ATHENA_DDL", "AclSource", "SparkReplay", "athena_ddl", "evaluate", "local_session", "replay"]
