"""Large web ACLs for the prefilter benchmarks: the realistic 20 rules plus many generated ones.

The generated rules look like managed rule groups' (AWS's core rule set, SQL database and known bad
inputs): byte and regex matches on the URI, query, arguments, body, cookies and a few headers,
under the usual transformation chains, with an attack token each; some regexes without a literal,
some SQLi / size tests, and And / Or / Not around them. They are deterministic (seeded).
`managed_standin` packs such rules into rule groups of the managed groups' sizes, for when the
bundled groups are not there to measure.
"""

from __future__ import annotations

import copy
import random
from typing import Any

from bench import realistic_acl
from tests.builders import byte_match, rule, size_constraint, sqli_match, transformations

FIELDS: list[dict[str, Any]] = [
    {"UriPath": {}},
    {"QueryString": {}},
    {"SingleHeader": {"Name": "user-agent"}},
    {"AllQueryArguments": {}},
    {"Body": {"OversizeHandling": "CONTINUE"}},
    {"SingleHeader": {"Name": "referer"}},
    {"Cookies": {"MatchPattern": {"All": {}}, "MatchScope": "ALL", "OversizeHandling": "CONTINUE"}},
]
FIELD_WEIGHTS = [30, 15, 15, 10, 15, 5, 10]
CHAINS: list[tuple[str, ...]] = [
    ("URL_DECODE", "LOWERCASE"),
    ("LOWERCASE",),
    (),
    ("URL_DECODE",),
    ("URL_DECODE", "HTML_ENTITY_DECODE"),
]
CHAIN_WEIGHTS = [30, 25, 20, 15, 10]
TOKENS = [
    "union", "select", "sleep(", "benchmark(", "waitfor", "information_schema", "xp_cmdshell",
    "<script", "javascript:", "onerror", "onload", "document.cookie", "eval(", "alert(",
    "../", "..\\", "/etc/passwd", "/proc/self", "cmd.exe", "powershell", "/bin/sh", "wget ",
    "${jndi:", "<?php", "base64_decode", "phpinfo", "wp-config", "xmlrpc", ".git/", ".env",
    "boot.ini", "win.ini", "nc -e", "curl ", "chmod ", "<!entity", "<iframe", "vbscript",
]  # fmt: skip


def _token(rng: random.Random, i: int) -> str:
    """An attack token, made distinct so rules do not all share the same few literals."""
    base = rng.choice(TOKENS)
    return base if rng.random() < 0.3 else f"{base}{i % 97}"


def _leaf(rng: random.Random, i: int, literal_less: float) -> dict[str, Any]:
    field = rng.choices(FIELDS, FIELD_WEIGHTS)[0]
    chain = rng.choices(CHAINS, CHAIN_WEIGHTS)[0]
    token = _token(rng, i)
    roll = rng.random()
    if roll < 0.45:
        constraint = rng.choice(["CONTAINS", "CONTAINS", "CONTAINS", "STARTS_WITH", "CONTAINS_WORD"])
        if constraint == "CONTAINS_WORD":
            token = "".join(c for c in token if c.isalnum() or c == "_") or "union"
        return byte_match(field, token, constraint, *chain)
    escaped = "".join("\\" + c if c in ".\\()[]{}$^*+?|" else c for c in token)
    if roll < 1 - literal_less:
        pattern = rng.choice([f"(?i){escaped}\\s*[=(]?", f"{escaped}[a-z0-9_]*", f"(?:{escaped}|{escaped}x)"])
    else:
        pattern = rng.choice(["[\\x00-\\x08]{4,}", "^[^a-z]{64,}$", "(?i)[a-z]{2}[0-9]{40,}"])  # no literal
    return {
        "RegexMatchStatement": {
            "FieldToMatch": field,
            "RegexString": pattern,
            "TextTransformations": transformations(*chain),
        }
    }


def _statement(rng: random.Random, i: int, other: float) -> dict[str, Any]:
    """Mostly a literal-bearing test; a share `other` of rules are tests no literal can rule out
    (regexes without a literal, Not, size, SQLi), as in managed groups."""
    roll = rng.random()
    if roll < other:
        kind = rng.random()
        if kind < 0.4:
            return _leaf(rng, i, literal_less=1.0)
        if kind < 0.6:
            return {"NotStatement": {"Statement": _leaf(rng, i, 0.0)}}
        if kind < 0.8:
            return size_constraint(rng.choices(FIELDS, FIELD_WEIGHTS)[0], "GT", 8192, "NONE")
        return sqli_match(rng.choice(FIELDS[:4]), "URL_DECODE")
    roll = rng.random()
    if roll < 0.85:
        return _leaf(rng, i, 0.0)
    if roll < 0.93:
        uri = byte_match({"UriPath": {}}, f"/{_token(rng, i).strip('/<$.')}", "STARTS_WITH", "LOWERCASE")
        return {"AndStatement": {"Statements": [uri, _leaf(rng, i, 0.0)]}}
    return {"OrStatement": {"Statements": [_leaf(rng, i, 0.0), _leaf(rng, i + 1, 0.0)]}}


def generated_rules(
    n: int, *, first_priority: int = 100, seed: int = 11, other: float = 0.05
) -> list[dict[str, Any]]:
    """`n` rules; a share `other` of them cannot be ruled out by a literal."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        statement = _statement(rng, i, other)
        # A NOT around an attack test matches nearly every request: keep it a Count, as every tenth.
        count = "NotStatement" in statement or i % 10 == 0
        out.append(rule(f"gen-{i}", first_priority + i, statement, "Count" if count else "Block"))
    return out


def web_acl(total: int, *, other: float = 0.05) -> dict[str, Any]:
    """The realistic 20-rule web ACL with generated rules after it, `total` rules in all."""
    document = copy.deepcopy(realistic_acl.web_acl())
    document["Rules"] += generated_rules(total - len(document["Rules"]), other=other)
    return document


def rule_group(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    """A get-rule-group document for `rules`."""
    arn = f"{realistic_acl.REGION_ARN}/rulegroup/{name}/44444444-4444-4444-4444-444444444444"
    return {
        "RuleGroup": {
            "Name": name,
            "Id": "44444444-4444-4444-4444-444444444444",
            "ARN": arn,
            "Capacity": 1500,
            "VisibilityConfig": {
                "SampledRequestsEnabled": False,
                "CloudWatchMetricsEnabled": False,
                "MetricName": name,
            },
            "Rules": rules,
            "LabelNamespace": f"awswaf:111122223333:rulegroup:{name}:",
        }
    }


# Rule counts of the groups the stand-in replaces (core rule set, SQL database, known bad inputs).
STANDIN_SIZES = {"standin-core": 24, "standin-sql": 9, "standin-bad-inputs": 11}
