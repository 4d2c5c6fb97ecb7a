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
    {"AllQueryArguments": {}},
    {"Body": {"OversizeHandling": "CONTINUE"}},
    {"SingleHeader": {"Name": "user-agent"}},
    {"SingleHeader": {"Name": "referer"}},
    {"Cookies": {"MatchPattern": {"All": {}}, "MatchScope": "ALL", "OversizeHandling": "CONTINUE"}},
]
CHAINS: list[tuple[str, ...]] = [
    ("URL_DECODE", "HTML_ENTITY_DECODE"),
    ("URL_DECODE",),
    ("LOWERCASE",),
    ("URL_DECODE", "LOWERCASE"),
    (),
]
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


def _leaf(rng: random.Random, i: int) -> dict[str, Any]:
    field = rng.choice(FIELDS)
    chain = rng.choice(CHAINS)
    token = _token(rng, i)
    roll = rng.random()
    if roll < 0.45:
        constraint = rng.choice(["CONTAINS", "CONTAINS", "CONTAINS", "STARTS_WITH", "CONTAINS_WORD"])
        if constraint == "CONTAINS_WORD":
            token = "".join(c for c in token if c.isalnum() or c == "_") or "union"
        return byte_match(field, token, constraint, *chain)
    escaped = "".join("\\" + c if c in ".\\()[]{}$^*+?|" else c for c in token)
    if roll < 0.95:
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


def _statement(rng: random.Random, i: int) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.85:
        return _leaf(rng, i)
    if roll < 0.92:
        uri = byte_match({"UriPath": {}}, f"/{_token(rng, i).strip('/<$.')}", "STARTS_WITH", "LOWERCASE")
        return {"AndStatement": {"Statements": [uri, _leaf(rng, i)]}}
    if roll < 0.97:
        return {"OrStatement": {"Statements": [_leaf(rng, i), _leaf(rng, i + 1)]}}
    if roll < 0.98:
        return {"NotStatement": {"Statement": _leaf(rng, i)}} if rng.random() < 0.2 else _leaf(rng, i)
    if roll < 0.99:
        return size_constraint(rng.choice(FIELDS), "GT", rng.choice([2048, 8192]), "NONE")
    return sqli_match(rng.choice(FIELDS[:4]), "URL_DECODE")


def generated_rules(n: int, *, first_priority: int = 100, seed: int = 11) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        statement = _statement(rng, i)
        if "NotStatement" in statement:
            # A NOT around an attack test matches nearly every request: keep it a Count.
            out.append(rule(f"gen-{i}", first_priority + i, statement, "Count"))
        else:
            out.append(rule(f"gen-{i}", first_priority + i, statement, "Count" if i % 10 == 0 else "Block"))
    return out


def web_acl(total: int) -> dict[str, Any]:
    """The realistic 20-rule web ACL with generated rules after it, `total` rules in all."""
    document = copy.deepcopy(realistic_acl.web_acl())
    document["Rules"] += generated_rules(total - len(document["Rules"]))
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
