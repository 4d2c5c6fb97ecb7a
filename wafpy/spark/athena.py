"""The columns of the records written as Parquet: those of Athena's documented AWS WAF logs table.

https://docs.aws.amazon.com/athena/latest/ug/waf-logs.html gives the `CREATE EXTERNAL TABLE`
of AWS WAF logs: lower-case column names, `bigint` timestamp, nested `struct`/`array` types.
Parquet written with the same names and types is queryable by that table declared `STORED AS
PARQUET` (the statement is in `ATHENA_DDL`), and by the same queries as the raw logs.

The record fields are the AWS WAF log fields (https://docs.aws.amazon.com/waf/latest/developerguide/logging-fields.html),
camel case in JSON; `RECORD_DDL` reads them (Spark matches JSON field names by case) and
`TABLE_DDL` is the same shape with Athena's lower-case names, so a struct cast renames them.
Fields Athena's table does not declare are left out of the Parquet columns (they stay in the
JSON lines output).
"""

from __future__ import annotations

from typing import Union

__all__ = ["ATHENA_DDL", "COLUMNS", "RECORD_DDL", "TABLE_DDL", "athena_ddl", "ddl"]

Type = Union[str, "Struct", "Array"]
Struct = tuple[tuple[str, Type], ...]


class Array(tuple[Type]):
    """array<element>"""


_MATCH: Type = Array(
    (
        (
            ("conditionType", "string"),
            ("sensitivityLevel", "string"),
            ("location", "string"),
            ("matchedData", Array(("string",))),
        ),
    )
)
_RESPONSE: Struct = (("responseCode", "string"), ("solveTimestamp", "string"))
_RESPONSE_FAILURE: Struct = (*_RESPONSE, ("failureReason", "string"))
_NAME_VALUE: Type = Array(((("name", "string"), ("value", "string")),))

COLUMNS: Struct = (
    ("timestamp", "bigint"),
    ("formatVersion", "int"),
    ("webaclId", "string"),
    ("terminatingRuleId", "string"),
    ("terminatingRuleType", "string"),
    ("action", "string"),
    ("terminatingRuleMatchDetails", _MATCH),
    ("httpSourceName", "string"),
    ("httpSourceId", "string"),
    (
        "ruleGroupList",
        Array(
            (
                (
                    ("ruleGroupId", "string"),
                    (
                        "terminatingRule",
                        (("ruleId", "string"), ("action", "string"), ("ruleMatchDetails", _MATCH)),
                    ),
                    (
                        "nonTerminatingMatchingRules",
                        Array(
                            (
                                (
                                    ("ruleId", "string"),
                                    ("action", "string"),
                                    ("overriddenAction", "string"),
                                    ("ruleMatchDetails", _MATCH),
                                    ("challengeResponse", _RESPONSE),
                                    ("captchaResponse", _RESPONSE),
                                ),
                            )
                        ),
                    ),
                    ("excludedRules", "string"),
                ),
            )
        ),
    ),
    (
        "rateBasedRuleList",
        Array(((("rateBasedRuleId", "string"), ("limitKey", "string"), ("maxRateAllowed", "int")),)),
    ),
    (
        "nonTerminatingMatchingRules",
        Array(
            (
                (
                    ("ruleId", "string"),
                    ("action", "string"),
                    ("ruleMatchDetails", _MATCH),
                    ("challengeResponse", _RESPONSE),
                    ("captchaResponse", _RESPONSE),
                ),
            )
        ),
    ),
    ("requestHeadersInserted", _NAME_VALUE),
    ("responseCodeSent", "string"),
    (
        "httpRequest",
        (
            ("clientIp", "string"),
            ("country", "string"),
            ("headers", _NAME_VALUE),
            ("uri", "string"),
            ("args", "string"),
            ("httpVersion", "string"),
            ("httpMethod", "string"),
            ("requestId", "string"),
            ("fragment", "string"),
            ("scheme", "string"),
            ("host", "string"),
        ),
    ),
    ("labels", Array(((("name", "string"),),))),
    ("captchaResponse", _RESPONSE_FAILURE),
    ("challengeResponse", _RESPONSE_FAILURE),
    ("ja3Fingerprint", "string"),
    ("ja4Fingerprint", "string"),
    ("oversizeFields", "string"),
    ("requestBodySize", "int"),
    ("requestBodySizeInspectedByWAF", "int"),
)


def ddl(kind: Type, lower: bool, top: bool = False) -> str:
    """Spark / Hive DDL of a type; `top`: a column list (`name type, ...`) rather than a struct."""
    if isinstance(kind, str):
        return kind
    if isinstance(kind, Array):
        return f"array<{ddl(kind[0], lower)}>"
    fields = [(name.lower() if lower else name, ddl(inner, lower)) for name, inner in kind]
    if top:
        return ", ".join(f"`{name}` {text}" for name, text in fields)
    return "struct<" + ",".join(f"`{name}`:{text}" for name, text in fields) + ">"


RECORD_DDL = ddl(COLUMNS, lower=False, top=True)  # from_json schema of a record line
TABLE_DDL = ddl(COLUMNS, lower=True, top=True)  # the Parquet columns, Athena's names


def athena_ddl(table: str, location: str, partition: str | None = "date") -> str:
    """`CREATE EXTERNAL TABLE` for the Parquet output at `location` (an s3:// URL)."""
    columns = ",\n  ".join(f"`{name.lower()}` {ddl(kind, lower=True)}" for name, kind in COLUMNS)
    partitioned = f"\nPARTITIONED BY (`{partition}` string)" if partition else ""
    return (
        f"CREATE EXTERNAL TABLE `{table}` (\n  {columns}\n){partitioned}\n"
        f"STORED AS PARQUET\nLOCATION '{location}'"
    )


ATHENA_DDL = athena_ddl("wafpy_replay", "s3://amzn-s3-demo-bucket/wafpy-replay/")
