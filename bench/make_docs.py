"""Deterministic benchmark inputs, shaped like `aws wafv2 get-web-acl` / `get-ip-set` output.

`web_acl_text()` is a ~1,500-WCU web ACL (about 70 rules mixing every common statement family);
`ip_set_text()` is an IP set with 10,000 addresses. Both are pretty-printed the way the AWS CLI
prints them (4-space indent). Run `python bench/make_docs.py DIR` to write them as files.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
TARGET_WCU = 1500


def _arn(kind: str, name: str, ident: str) -> str:
    return f"arn:aws:wafv2:{REGION}:{ACCOUNT}:regional/{kind}/{name}/{ident}"


def _uuid(n: int) -> str:
    return f"{n:08x}-5678-90ab-cdef-{n * 7919 % 16**12:012x}"


def _tt(*types: str) -> list[dict[str, Any]]:
    return [{"Priority": i, "Type": t} for i, t in enumerate(types)]


def _tt_wcu(types: tuple[str, ...]) -> int:
    return sum(10 for t in types if t != "NONE")


Stmt = tuple[dict[str, Any], int]  # a statement and its WCU (spec section 8.1)

_FIELDS: list[dict[str, Any]] = [
    {"UriPath": {}},
    {"QueryString": {}},
    {"SingleHeader": {"Name": "user-agent"}},
    {"Body": {"OversizeHandling": "CONTINUE"}},
    {"Method": {}},
    {"Cookies": {"MatchPattern": {"All": {}}, "MatchScope": "ALL", "OversizeHandling": "MATCH"}},
]


def _byte(i: int) -> Stmt:
    constraint = ("EXACTLY", "STARTS_WITH", "CONTAINS", "ENDS_WITH", "CONTAINS_WORD")[i % 5]
    types = ("NONE",) if i % 3 == 0 else ("URL_DECODE", "LOWERCASE", "COMPRESS_WHITE_SPACE")
    # CONTAINS_WORD search strings may hold only word characters (AWS rejects others).
    search = f"admin_path_{i}".encode() if constraint == "CONTAINS_WORD" else f"/admin/path-{i}".encode()
    stmt = {
        "ByteMatchStatement": {
            # get-web-acl returns the SearchString blob base64-encoded.
            "SearchString": base64.b64encode(search).decode(),
            "FieldToMatch": _FIELDS[i % len(_FIELDS)],
            "TextTransformations": _tt(*types),
            "PositionalConstraint": constraint,
        }
    }
    base = 10 if constraint.startswith("CONTAINS") else 2
    return stmt, base + _tt_wcu(types)


def _regex(i: int) -> Stmt:
    types = ("URL_DECODE", "LOWERCASE")
    stmt = {
        "RegexMatchStatement": {
            "RegexString": rf"^/api/v[0-9]+/item-{i}/[a-z0-9_-]{{1,64}}$",
            "FieldToMatch": {"UriPath": {}},
            "TextTransformations": _tt(*types),
        }
    }
    return stmt, 3 + _tt_wcu(types)


def _regex_set(i: int) -> Stmt:
    stmt = {
        "RegexPatternSetReferenceStatement": {
            "ARN": _arn("regexpatternset", f"patterns-{i}", _uuid(i)),
            "FieldToMatch": {"SingleHeader": {"Name": "referer"}},
            "TextTransformations": _tt("NONE"),
        }
    }
    return stmt, 25


def _sqli(i: int) -> Stmt:
    level = "HIGH" if i % 2 else "LOW"
    types = ("URL_DECODE", "HTML_ENTITY_DECODE")
    stmt = {
        "SqliMatchStatement": {
            "FieldToMatch": _FIELDS[i % 4],
            "TextTransformations": _tt(*types),
            "SensitivityLevel": level,
        }
    }
    return stmt, (30 if level == "HIGH" else 20) + _tt_wcu(types)


def _xss(i: int) -> Stmt:
    types = ("URL_DECODE",)
    stmt = {"XssMatchStatement": {"FieldToMatch": _FIELDS[i % 4], "TextTransformations": _tt(*types)}}
    return stmt, 40 + _tt_wcu(types)


def _size(i: int) -> Stmt:
    stmt = {
        "SizeConstraintStatement": {
            "FieldToMatch": {"Body": {"OversizeHandling": "MATCH"}},
            "ComparisonOperator": "GT",
            "Size": 8192 + i,
            "TextTransformations": _tt("NONE"),
        }
    }
    return stmt, 1


def _geo(i: int) -> Stmt:
    codes = ["CN", "RU", "KP", "IR", "SY", "CU"][: 2 + i % 4]
    return {"GeoMatchStatement": {"CountryCodes": codes}}, 1


def _ipset(i: int) -> Stmt:
    return {"IPSetReferenceStatement": {"ARN": _arn("ipset", f"blocklist-{i}", _uuid(1000 + i))}}, 1


def _label(i: int) -> Stmt:
    return {"LabelMatchStatement": {"Scope": "LABEL", "Key": f"awswaf:{ACCOUNT}:webacl:acl:tag-{i}"}}, 1


def _and(i: int) -> Stmt:
    (a, wa), (b, wb) = _byte(i), _geo(i)
    return {"AndStatement": {"Statements": [a, b]}}, wa + wb


def _or(i: int) -> Stmt:
    (a, wa), (b, wb), (c, wc) = _ipset(i), _label(i), _size(i)
    return {"OrStatement": {"Statements": [a, b, c]}}, wa + wb + wc


def _not(i: int) -> Stmt:
    inner, w = _geo(i)
    return {"NotStatement": {"Statement": inner}}, w


def _rate(i: int) -> Stmt:
    scope, w = _byte(i)
    stmt: dict[str, Any] = {"Limit": 100 + 10 * i, "ScopeDownStatement": scope}
    if i % 2:
        stmt["AggregateKeyType"] = "IP"
    else:
        stmt["AggregateKeyType"] = "CUSTOM_KEYS"
        stmt["CustomKeys"] = [{"Header": {"Name": "x-api-key", "TextTransformations": _tt("NONE")}}]
        w += 30
    stmt["EvaluationWindowSec"] = 300
    return {"RateBasedStatement": stmt}, 2 + w


_KINDS: list[Callable[[int], Stmt]] = [
    _byte,
    _regex,
    _sqli,
    _xss,
    _size,
    _geo,
    _ipset,
    _label,
    _and,
    _or,
    _not,
    _rate,
    _regex_set,
    _byte,
]


def _rule(i: int, stmt: dict[str, Any]) -> dict[str, Any]:
    name = f"rule-{i:03d}-{next(iter(stmt))[:-9].lower()}"
    action: dict[str, Any] = ({"Block": {}}, {"Count": {}}, {"Allow": {}})[i % 3]
    rule: dict[str, Any] = {
        "Name": name,
        "Priority": i,
        "Statement": stmt,
        "Action": action,
        "VisibilityConfig": {
            "SampledRequestsEnabled": True,
            "CloudWatchMetricsEnabled": True,
            "MetricName": name,
        },
    }
    if i % 4 == 0:
        rule["RuleLabels"] = [{"Name": f"tag-{i}"}]
    return rule


def web_acl() -> tuple[dict[str, Any], int]:
    """The benchmark web ACL (as `get-web-acl` output) and its WCU sum."""
    rules, wcu, i = [], 0, 0
    while wcu < TARGET_WCU - 20:
        stmt, cost = _KINDS[i % len(_KINDS)](i)
        rules.append(_rule(i, stmt))
        wcu += cost
        i += 1
    labels = sum(1 for r in rules if "RuleLabels" in r)
    wcu += -(-labels // 5)
    acl = {
        "Name": "bench-acl",
        "Id": _uuid(1),
        "ARN": _arn("webacl", "bench-acl", _uuid(1)),
        "DefaultAction": {"Allow": {}},
        "Description": "Generated benchmark web ACL",
        "Rules": rules,
        "VisibilityConfig": {
            "SampledRequestsEnabled": True,
            "CloudWatchMetricsEnabled": True,
            "MetricName": "bench-acl",
        },
        "Capacity": wcu,
        "ManagedByFirewallManager": False,
        "LabelNamespace": f"awswaf:{ACCOUNT}:webacl:bench-acl:",
    }
    return {"WebACL": acl, "LockToken": _uuid(2)}, wcu


def ip_set(count: int = 10_000) -> dict[str, Any]:
    """An IPv4 IP set (as `get-ip-set` output) with `count` distinct addresses."""
    addresses = []
    for n in range(count):
        a, b, c = 10 + n % 200, (n * 7) % 256, (n // 256) % 256
        prefix = (32, 24, 16)[n % 3] if n % 10 else 32
        addresses.append(f"{a}.{b}.{c}.{n % 256 if prefix == 32 else 0}/{prefix}")
    return {
        "IPSet": {
            "Name": "bench-ipset",
            "Id": _uuid(3),
            "ARN": _arn("ipset", "bench-ipset", _uuid(3)),
            "Description": "Generated benchmark IP set",
            "IPAddressVersion": "IPV4",
            "Addresses": addresses,
        },
        "LockToken": _uuid(4),
    }


def _pretty(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=4) + "\n"


def texts() -> dict[str, str]:
    """Benchmark document name -> JSON text."""
    return {"webacl-1500wcu": _pretty(web_acl()[0]), "ipset-10000": _pretty(ip_set())}


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/data")
    out.mkdir(parents=True, exist_ok=True)
    for name, text in texts().items():
        (out / f"{name}.json").write_text(text, encoding="utf-8")
    doc, wcu = web_acl()
    print(f"{len(doc['WebACL']['Rules'])} rules, {wcu} WCU")
