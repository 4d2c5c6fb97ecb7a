"""Mutated real web ACLs either load, compile and evaluate, or are rejected with RulesetErrors.

Each example starts from a real document: a conformance web ACL with its resources, or the bundled
`rulesets/demo-webacl.json` with `rulesets/demo-resources/`, each bare, as `get-web-acl` output or
as a CloudFormation template (resources beside it, referenced with Fn::GetAtt). It applies one to
three mutations anywhere in the web ACL or its resource documents (delete a key, empty a list,
replace a value with another type, an empty string, a huge number or deep nesting, duplicate a
list item, swap a statement's kind, wrap a statement in And / Or / Not, rename a key, write odd
Unicode, write a value seen elsewhere under the same member name), then loads the result as
Python objects or as JSON files (non-ASCII written as is, or as \\u escapes, lone surrogates
included).

The loader must never hand the compiler a document that breaks it: the only exceptions allowed
out of `wafpy.load_web_acl` are `RulesetErrors` (the document is rejected) and
`NotAvailableError` (a managed rule group nobody supplied); a loaded web ACL must evaluate simple
requests. No KeyError, TypeError, IndentationError, RecursionError, UnicodeError... may escape.

The examples are derandomized: the same documents are tried on every run.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wafpy
from wafpy.errors import NotAvailableError, RulesetErrors
from wafpy.load.schema import shape

pytestmark = pytest.mark.slow  # property tests over many generated documents

ROOT = Path(__file__).resolve().parents[1]
STATEMENT_KINDS = sorted(shape("Statement").members)
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Seed:
    name: str
    document: dict[str, Any]  # {"webacl": ..., "resources": {ARN: document}}
    account: str | None
    search_string: str


def _bare_seeds() -> list[Seed]:
    seeds = []
    for path in sorted((ROOT / "tests" / "conformance").glob("*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        document = {"webacl": case["webacl"], "resources": case.get("resources") or {}}
        seeds.append(Seed(path.stem, document, case.get("account"), "text"))
    demo = ROOT / "rulesets"
    resources = {}
    for path in sorted((demo / "demo-resources").glob("*.json")):
        resource = json.loads(path.read_text(encoding="utf-8"))  # get-* output
        inner = next(v for k, v in resource.items() if k != "LockToken")
        resources[inner["ARN"]] = inner
    webacl = json.loads((demo / "demo-webacl.json").read_text(encoding="utf-8"))["WebACL"]
    seeds.append(Seed("demo-webacl", {"webacl": webacl, "resources": resources}, None, "base64"))
    return seeds


def _replace_strings(value: Any, replacements: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        return {k: _replace_strings(v, replacements) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_strings(v, replacements) for v in value]
    return replacements.get(value, value) if isinstance(value, str) else value


def _resource_type(document: dict[str, Any]) -> str:
    if "IPAddressVersion" in document:
        return "AWS::WAFv2::IPSet"
    return "AWS::WAFv2::RegexPatternSet" if "RegularExpressionList" in document else "AWS::WAFv2::RuleGroup"


def _cloudformation(seed: Seed) -> Seed:
    """The seed as a template: the resources beside the web ACL, referenced with Fn::GetAtt, and the
    web ACL's name a parameter."""
    output_only = ("ARN", "Id", "LabelNamespace", "Capacity")
    webacl, resources = seed.document["webacl"], seed.document["resources"]
    ids = {arn: f"Resource{i}" for i, arn in enumerate(resources)}
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {"AclName": {"Type": "String", "Default": webacl["Name"]}},
        "Resources": {},
    }
    for arn, document in resources.items():
        properties = {k: v for k, v in document.items() if k not in ("ARN", "Id")}
        template["Resources"][ids[arn]] = {
            "Type": _resource_type(document),
            "Properties": {**properties, "Scope": "REGIONAL"},
        }
    properties = {k: v for k, v in webacl.items() if k not in output_only}
    properties = _replace_strings(properties, {arn: {"Fn::GetAtt": [i, "Arn"]} for arn, i in ids.items()})
    properties.update({"Name": {"Ref": "AclName"}, "Scope": "REGIONAL"})
    template["Resources"]["Acl"] = {"Type": "AWS::WAFv2::WebACL", "Properties": properties}
    document = {"webacl": template, "resources": {}}
    return Seed(f"{seed.name} (template)", document, seed.account, seed.search_string)


def _seeds() -> list[Seed]:
    """Each real web ACL bare, as `get-web-acl` output, and as a CloudFormation template."""
    seeds = []
    for seed in _bare_seeds():
        api = {**seed.document, "webacl": {"WebACL": seed.document["webacl"], "LockToken": "token"}}
        seeds += [seed, Seed(f"{seed.name} (get-web-acl)", api, seed.account, seed.search_string)]
        seeds.append(_cloudformation(seed))
    # Largest first: Hypothesis tries the first choices of a list more often than the others.
    return sorted(seeds, key=lambda seed: -len(_nodes(seed.document)))


def _walk(value: Any, path: Path_, out: list[Path_]) -> None:
    out.append(path)
    if isinstance(value, dict):
        for key, child in value.items():
            _walk(child, (*path, key), out)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            _walk(child, (*path, i), out)


def _nodes(document: dict[str, Any]) -> list[Path_]:
    """Paths of every value of the web ACL and of each resource document (not of the wrapper)."""
    out: list[Path_] = []
    _walk(document["webacl"], ("webacl",), out)
    for arn, resource in document["resources"].items():
        _walk(resource, ("resources", arn), out)
    return out


def _get(document: Any, path: Path_) -> Any:
    for part in path:
        document = document[part]
    return document


SEEDS = _seeds()


def _is_statement(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in STATEMENT_KINDS


def _statement_pool() -> list[dict[str, Any]]:
    pool: list[dict[str, Any]] = []
    for seed in SEEDS:
        for path in _nodes(seed.document):
            value = _get(seed.document, path)
            if _is_statement(value):
                pool.append(value)
    pool.append({"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}})
    return pool


POOL = _statement_pool()
KEYS = sorted({str(p[-1]) for seed in SEEDS for p in _nodes(seed.document) if isinstance(p[-1], str)})


def _values_by_key() -> dict[str, list[Any]]:
    """Every value written under each member name in the seeds (a FieldToMatch, a Type...)."""
    found: dict[str, dict[str, Any]] = {}
    for seed in SEEDS:
        for path in _nodes(seed.document):
            if isinstance(path[-1], str) and path[0] == "webacl":
                value = _get(seed.document, path)
                found.setdefault(path[-1], {})[json.dumps(value, sort_keys=True)] = value
    return {key: [values[k] for k in sorted(values)] for key, values in found.items() if len(values) > 1}


VALUES = _values_by_key()

# Stand-ins replaced by deep nesting when the document is built (json.dumps cannot write it); a
# stand-in that a later mutation changed (odd text appended...) stays the string it is.
DEEP = "\x00deep:"
_STAND_IN = re.compile(re.escape(DEEP) + r"([\[{])([0-9]+)")
_STAND_IN_TEXT = re.compile(re.escape(json.dumps(DEEP)[:-1]) + r'([\[{])([0-9]+)"')
ODD_TEXT = [
    "",
    " ",
    "\x00",
    "\ud800",  # a lone surrogate: not encodable as UTF-8
    "\udfff\ud800",
    "\u202e/admin",  # right-to-left override
    "\ufeffx",
    "e\u0301",  # combining accent
    "\U0001f600",
    "\u0130",  # İ: lower-cases to two code points
    "\u00df",
    "\uff41\uff44\uff4d\uff49\uff4e",  # full-width "admin"
    "\u2028\u2029",
    "a:b::",
    ":",
    "awswaf:",
    "\\",
    '"',
    "%00",
    "x" * 20_000,
]
SCALARS: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2**31,
    2**63,
    10**30,
    -(10**30),
    10**400,
    1e308,
    -1e308,
    1.5,
    -0.0,
    float("inf"),
    float("nan"),
    "",
    "x",
    [],
    {},
    [[]],
    {"": {}},
    [None],
]
REPLACEMENTS = st.one_of(
    st.sampled_from(SCALARS),
    st.sampled_from(ODD_TEXT),
    st.sampled_from([10, 150, 199, 201, 999, 1500, 20_000]).flatmap(
        lambda depth: st.sampled_from(["[", "{"]).map(lambda kind: f"{DEEP}{kind}{depth}")
    ),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=6),
)
# "resample" writes another value seen under the same member name: mostly valid documents that
# combine parts in ways the seeds do not (a JA3 fingerprint for an SQLi statement...).
# "wrap" puts a statement under an And / Or (with 0 to 3 copies of it) or a Not.
OPERATIONS = (
    "delete",
    "empty",
    "replace",
    "duplicate",
    "swap",
    "wrap",
    "rename",
    "unicode",
    "resample",
    "resample",
)


def _deep(kind: str, depth: int) -> Any:
    value: Any = {}
    for _ in range(depth):
        value = [value] if kind == "[" else {"Statement": value}
    return value


def _deep_text(kind: str, depth: int) -> str:
    if kind == "[":
        return "[" * depth + "{}" + "]" * depth
    return '{"Statement": ' * depth + "{}" + "}" * depth


def _expand(value: Any) -> Any:
    """The document with every deep-nesting stand-in built (as Python objects)."""
    if isinstance(value, dict):
        return {k: _expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v) for v in value]
    if isinstance(value, str) and (stand_in := _STAND_IN.fullmatch(value)):
        return _deep(stand_in[1], int(stand_in[2]))
    return value


def _as_text(value: Any, *, escaped: bool = False) -> str:
    """JSON text, deep-nesting stand-ins written out; NaN and infinities as Python writes them.

    `escaped`: every non-ASCII character as a \\u escape (lone surrogates too), else as itself.
    """
    text = json.dumps(value, ensure_ascii=escaped)
    return _STAND_IN_TEXT.sub(lambda m: _deep_text(m[1], int(m[2])), text)


def _kind_of_place(path: Path_) -> str:
    """The member name a value is written under (`Statements[]` for an item of a Statements list)."""
    names = [part for part in path if isinstance(part, str)]
    return names[-1] + ("[]" if isinstance(path[-1], int) else "") if len(path) > 1 else "(document)"


def _in_statement(path: Path_) -> bool:
    return any(part in STATEMENT_KINDS for part in path)


def _mutate(document: dict[str, Any], data: st.DataObject) -> None:
    operation = data.draw(st.sampled_from(OPERATIONS), label="operation")
    nodes = _nodes(document)
    candidates = {
        "delete": [p for p in nodes if isinstance(p[-1], str) and len(p) > 1],
        "empty": [p for p in nodes if isinstance(_get(document, p), list) and _get(document, p)],
        "replace": [p for p in nodes if len(p) > 1],
        "duplicate": [p for p in nodes if isinstance(p[-1], int)],
        "swap": [p for p in nodes if _is_statement(_get(document, p))],
        "wrap": [p for p in nodes if _is_statement(_get(document, p))],
        "rename": [p for p in nodes if isinstance(p[-1], str) and len(p) > 2],
        "unicode": [p for p in nodes if isinstance(_get(document, p), str)],
        "resample": [p for p in nodes if isinstance(p[-1], str) and p[-1] in VALUES],
    }[operation]
    if not candidates:
        return
    # Pick the kind of place first (by member name: every "Statements" list, every "Name"...), then
    # one of them: a large document's many TextTransformations do not drown its one Statements list.
    groups: dict[str, list[Path_]] = {}
    for candidate in candidates:
        groups.setdefault(_kind_of_place(candidate), []).append(candidate)
    # Places inside a statement weigh three times: they are what the compiler turns into code.
    weighted = [g for g in sorted(groups) for _ in range(3 if _in_statement(groups[g][0]) else 1)]
    group = data.draw(st.sampled_from(weighted), label=f"{operation} in")
    path = data.draw(st.sampled_from(groups[group]), label=f"{operation} at")
    parent, last = _get(document, path[:-1]), path[-1]
    value = _get(document, path)
    if operation == "delete":
        del parent[last]
    elif operation == "empty":
        parent[last] = []
    elif operation == "replace":
        parent[last] = copy.deepcopy(data.draw(REPLACEMENTS, label="new value"))
    elif operation == "duplicate":
        parent.insert(last, copy.deepcopy(parent[last]))
    elif operation == "swap":
        if data.draw(st.booleans(), label="rename the kind"):
            kind = data.draw(st.sampled_from(STATEMENT_KINDS), label="kind")
            parent[last] = {kind: next(iter(value.values()))}
        else:
            parent[last] = copy.deepcopy(data.draw(st.sampled_from(POOL), label="statement"))
    elif operation == "wrap":
        kind = data.draw(st.sampled_from(["AndStatement", "OrStatement", "NotStatement"]), label="wrapper")
        if kind == "NotStatement":
            parent[last] = {kind: {"Statement": value}}
        else:
            copies = data.draw(st.integers(0, 3), label="copies")
            parent[last] = {kind: {"Statements": [copy.deepcopy(value) for _ in range(copies)]}}
    elif operation == "resample":
        assert isinstance(last, str)  # its candidates above all end in a member name
        parent[last] = copy.deepcopy(data.draw(st.sampled_from(VALUES[last]), label="seen value"))
    elif operation == "rename":
        new = data.draw(st.one_of(st.sampled_from(KEYS), st.sampled_from(ODD_TEXT[:13])), label="key")
        parent[new] = parent.pop(last)
    else:
        odd = data.draw(st.sampled_from(ODD_TEXT), label="odd text")
        parent[last] = data.draw(st.sampled_from([odd, value + odd, odd + value]), label="placed")


REQUESTS = [
    wafpy.Request(uri="/", timestamp_ms=1_700_000_000_000),
    wafpy.Request(
        method="POST",
        uri="/login/../admin",
        query="a=1&b=%27%20or%201=1--&c=<script>",
        headers=[
            ("host", "shop.example.com"),
            ("user-agent", "curl/8.0"),
            ("cookie", "session=x; b=<svg onload=1>"),
            ("content-type", "application/json"),
            ("x-forwarded-for", "198.51.100.7, 192.0.2.1"),
        ],
        body='{"user": "admin\' --", "n": [1, {"x": "<img src=x>"}]}',
        client_ip="192.0.2.44",
        country="RU",
        asn=64496,
        timestamp_ms=1_700_000_000_000,
    ),
]


def check_document(
    seed: Seed, document: dict[str, Any], directory: Path | None, *, escaped: bool = False
) -> wafpy.WebACL | None:
    """Load the mutated document (as objects, or as files in `directory`); None when rejected."""
    source: Any
    resources: Any
    if directory is None:
        source, resources = _expand(document["webacl"]), _expand(document["resources"])
    else:
        # Lone surrogates are written as such: the file is then not UTF-8, as a broken file can be.
        source, resources = directory / "webacl.json", []
        source.write_text(
            _as_text(document["webacl"], escaped=escaped), encoding="utf-8", errors="surrogatepass"
        )
        if document["resources"]:  # one file mapping ARN -> document
            resources.append(directory / "resources.json")
            resources[0].write_text(
                _as_text(document["resources"], escaped=escaped), encoding="utf-8", errors="surrogatepass"
            )
    try:
        acl = wafpy.load_web_acl(
            source,
            resources=resources,
            account=seed.account,
            search_string=seed.search_string,  # type: ignore[arg-type]
            managed="none",  # the demo web ACL uses a managed group: evaluated as no inner match
        )
    except RulesetErrors as exc:
        assert exc.errors, "RulesetErrors without any error"
        return None
    except NotAvailableError:
        return None
    for request in REQUESTS:
        acl.evaluate(request)
    return acl


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(data=st.data())
def test_mutated_documents_load_or_are_rejected(data: st.DataObject, tmp_path: Path) -> None:
    seed = data.draw(st.sampled_from(SEEDS), label="seed")
    document = copy.deepcopy(seed.document)
    # One mutation most often: each more is a chance to be rejected before the others are tried.
    for _ in range(data.draw(st.sampled_from([1, 1, 2, 3]), label="mutations")):
        _mutate(document, data)
    as_files = data.draw(st.booleans(), label="as JSON files")
    escaped = as_files and data.draw(st.booleans(), label="non-ASCII as \\u escapes")
    check_document(seed, document, tmp_path if as_files else None, escaped=escaped)


def test_every_seed_loads_unmutated(tmp_path: Path) -> None:
    for seed in SEEDS:
        for directory, escaped in ((None, False), (tmp_path, False), (tmp_path, True)):
            document = copy.deepcopy(seed.document)
            assert check_document(seed, document, directory, escaped=escaped) is not None, seed.name
