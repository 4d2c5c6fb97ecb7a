"""Builders for the WAFv2 JSON documents that tests and benchmarks write: statements, rules, web ACLs.

One shape for each piece, so that a test states only what it is about (the statement, the action,
a name) and every document keeps the keys the WAFv2 API requires. The shapes follow the API
reference: https://docs.aws.amazon.com/waf/latest/APIReference/API_WebACL.html and
https://docs.aws.amazon.com/waf/latest/APIReference/API_Rule.html
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]


def visibility(metric: str = "m", *, sampled: bool = True) -> Json:
    """A VisibilityConfig; `sampled` sets both sampling and CloudWatch metrics."""
    return {"SampledRequestsEnabled": sampled, "CloudWatchMetricsEnabled": sampled, "MetricName": metric}


def transformations(*types: str) -> list[Json]:
    """TextTransformations in the order given (priorities 0, 1, ...); none given is one `NONE`."""
    return [{"Priority": i, "Type": t} for i, t in enumerate(types or ("NONE",))]


def byte_match(
    field: Json,
    search: str = "abc",
    constraint: str = "CONTAINS",
    *types: str,
    text_transformations: list[Json] | None = None,
) -> Json:
    """A ByteMatchStatement; `text_transformations` replaces the list built from `types` verbatim."""
    return {
        "ByteMatchStatement": {
            "FieldToMatch": field,
            "SearchString": search,
            "PositionalConstraint": constraint,
            "TextTransformations": text_transformations or transformations(*types),
        }
    }


def sqli_match(field: Json, *types: str) -> Json:
    """A SqliMatchStatement."""
    return {"SqliMatchStatement": {"FieldToMatch": field, "TextTransformations": transformations(*types)}}


def size_constraint(field: Json, operator: str, size: int, *types: str) -> Json:
    """A SizeConstraintStatement."""
    return {
        "SizeConstraintStatement": {
            "FieldToMatch": field,
            "ComparisonOperator": operator,
            "Size": size,
            "TextTransformations": transformations(*types),
        }
    }


def rule(
    name: str,
    priority: int,
    statement: Json,
    action: str = "Block",
    *,
    action_body: Json | None = None,
    metric: str | None = None,
    sampled: bool = True,
    **extra: Any,
) -> Json:
    """A rule with an Action; its metric is its name unless `metric` is given; `extra` adds keys."""
    return {
        "Name": name,
        "Priority": priority,
        "Statement": statement,
        "Action": {action: action_body or {}},
        "VisibilityConfig": visibility(metric or name, sampled=sampled),
        **extra,
    }


def byte_rule(
    name: str, priority: int, field: Json, search: str, constraint: str = "CONTAINS", **kw: Any
) -> Json:
    """A rule around one ByteMatchStatement without transformation; `kw` as for `rule`."""
    return rule(name, priority, byte_match(field, search, constraint), **kw)


def web_acl(
    rules: list[Json],
    *,
    name: str = "acl",
    default: str = "Allow",
    id: str | None = None,
    arn: str | None = None,
    metric: str | None = None,
    sampled: bool = True,
    **extra: Any,
) -> Json:
    """A web ACL in the bare WebACL shape; Id and ARN only when given; `extra` adds keys."""
    identity: Json = {}
    if id is not None:
        identity["Id"] = id
    if arn is not None:
        identity["ARN"] = arn
    return {
        "Name": name,
        **identity,
        "DefaultAction": {default: {}},
        "Rules": rules,
        "VisibilityConfig": visibility(metric or name, sampled=sampled),
        **extra,
    }
