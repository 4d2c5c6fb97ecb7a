"""Random API-valid web ACLs generated from botocore's wafv2 model load; one broken field is pinpointed.

Strategies walk the installed botocore's shapes (CreateWebACLRequest), with overrides where AWS's
semantic rules are stricter than the model (unique names and priorities, supported response codes,
label syntax, rate-based key combinations...). botocore's ParamValidator must accept each
document (SearchString as bytes there) before wafpy loads it (SearchString as text).
"""

from __future__ import annotations

import contextlib
import copy
import re
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from wafpy.errors import NotAvailableError, RulesetErrors
from wafpy.load.loader import load_web_acl_model
from wafpy.load.schema import shape as waf_shape
from wafpy.load.semantics import RESERVED_LABEL_WORDS, SUPPORTED_RESPONSE_CODES
from wafpy.load.validate import join_path

botocore = pytest.importorskip("botocore")
from botocore.loaders import Loader  # type: ignore[import-untyped]  # noqa: E402
from botocore.model import ServiceModel  # type: ignore[import-untyped]  # noqa: E402
from botocore.validate import ParamValidator  # type: ignore[import-untyped]  # noqa: E402

pytestmark = pytest.mark.slow  # property tests over many generated documents

MODEL = ServiceModel(Loader().load_service_model("wafv2", "service-2"))
SHAPES: dict[str, Any] = MODEL._shape_resolver._shape_map  # raw JSON shapes
IPSET = "arn:aws:wafv2:us-east-1:111122223333:regional/ipset/s/11111111-1111-1111-1111-111111111111"
REGEXSET = (
    "arn:aws:wafv2:us-east-1:111122223333:regional/regexpatternset/p/11111111-1111-1111-1111-111111111111"
)
RESOURCES = {
    IPSET: {"Name": "s", "Id": "1", "ARN": IPSET, "IPAddressVersion": "IPV4", "Addresses": ["192.0.2.0/24"]},
    REGEXSET: {"Name": "p", "Id": "1", "ARN": REGEXSET, "RegularExpressionList": [{"RegexString": "^/a"}]},
}
WORD = string.ascii_letters + string.digits + "_"
LEAF_STATEMENTS = [
    "ByteMatchStatement",
    "RegexMatchStatement",
    "SizeConstraintStatement",
    "GeoMatchStatement",
    "LabelMatchStatement",
    "SqliMatchStatement",
    "XssMatchStatement",
    "IPSetReferenceStatement",
    "RegexPatternSetReferenceStatement",
    "AsnMatchStatement",
]
SKIP_MEMBERS = {
    "PreParseTextTransformations",
    "CustomResponseBodyKey",
    "Monetize",
    "JA3Fingerprint",
    "JA4Fingerprint",
    "MonetizationConfig",
    "DataProtectionConfig",
    "OnSourceDDoSProtectionConfig",
}


def _text(shape: dict[str, Any]) -> st.SearchStrategy[str]:
    low = max(int(shape.get("min", 1)), 1)
    high = min(int(shape.get("max", 12)), low + 11)
    strategy = st.text(WORD + "-/.", min_size=low, max_size=high)
    pattern = shape.get("pattern")
    if pattern and "\\p{" not in pattern:
        compiled = re.compile(pattern, re.ASCII | re.DOTALL)
        strategy = strategy.filter(lambda s: compiled.fullmatch(s) is not None)
    return strategy


def gen(name: str, depth: int = 0) -> st.SearchStrategy[Any]:
    if name in OVERRIDES:
        strategy: st.SearchStrategy[Any] = OVERRIDES[name](depth)
        return strategy
    shape = SHAPES[name]
    kind = shape["type"]
    if "enum" in shape:
        return st.sampled_from(shape["enum"])
    if kind == "string":
        return _text(shape)
    if kind == "blob":
        return st.text(WORD, min_size=1, max_size=10)
    if kind in ("integer", "long"):
        low = int(shape.get("min", 0))
        return st.integers(low, min(int(shape.get("max", low + 1000)), low + 1000))
    if kind == "boolean":
        return st.booleans()
    if kind == "list":
        low = int(shape.get("min", 0))
        return st.lists(gen(shape["member"]["shape"], depth + 1), min_size=low, max_size=min(low + 2, 3))
    if kind == "map":
        return st.dictionaries(
            gen(shape["key"]["shape"], depth + 1),
            gen(shape["value"]["shape"], depth + 1),
            min_size=int(shape.get("min", 0)),
            max_size=2,
        )
    members = {k: v["shape"] for k, v in shape.get("members", {}).items() if k not in SKIP_MEMBERS}
    if waf_shape(name).union:  # botocore does not check "exactly one of"; AWS does
        return union(name, [k for k in members if not shape["members"][k].get("deprecated")], depth)
    required = [k for k in shape.get("required", []) if k in members]
    optional = [k for k in members if k not in required]
    if depth > 6:
        optional = []
    return st.fixed_dictionaries(
        {k: gen(members[k], depth + 1) for k in required},
        optional={k: gen(members[k], depth + 1) for k in optional},
    )


def union(name: str, choices: list[str], depth: int) -> st.SearchStrategy[dict[str, Any]]:
    members = {k: v["shape"] for k, v in SHAPES[name]["members"].items()}

    def wrap(choice: str) -> st.SearchStrategy[dict[str, Any]]:
        return gen(members[choice], depth + 1).map(lambda v: {choice: v})

    return st.one_of([wrap(c) for c in choices])


def _transformations(depth: int) -> st.SearchStrategy[list[dict[str, Any]]]:
    types = SHAPES["TextTransformationType"]["enum"]
    return st.lists(st.sampled_from(types), min_size=1, max_size=3).map(
        lambda ts: [{"Priority": i, "Type": t} for i, t in enumerate(ts)]
    )


def _statement(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    leaf = union("Statement", LEAF_STATEMENTS, depth)
    if depth > 4:
        return leaf
    return st.one_of(
        leaf,
        st.lists(st.deferred(lambda: _statement(depth + 2)), min_size=2, max_size=2).map(
            lambda s: {"AndStatement": {"Statements": s}}
        ),
        st.lists(st.deferred(lambda: _statement(depth + 2)), min_size=2, max_size=2).map(
            lambda s: {"OrStatement": {"Statements": s}}
        ),
        st.deferred(lambda: _statement(depth + 2)).map(lambda s: {"NotStatement": {"Statement": s}}),
    )


def _rate_based(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    fwd = {"HeaderName": "X-Forwarded-For", "FallbackBehavior": "MATCH"}
    keys = st.lists(
        union(
            "RateBasedStatementCustomKey",
            ["Header", "Cookie", "QueryArgument", "HTTPMethod", "UriPath", "QueryString"],
            depth,
        ),
        min_size=1,
        max_size=2,
    )
    return st.one_of(
        st.fixed_dictionaries(
            {"Limit": st.integers(10, 10**6), "AggregateKeyType": st.just("IP")},
            optional={
                "ScopeDownStatement": _statement(depth + 1),
                "EvaluationWindowSec": st.sampled_from([60, 120, 300, 600]),
            },
        ),
        st.fixed_dictionaries(
            {
                "Limit": st.integers(10, 10**6),
                "AggregateKeyType": st.just("CONSTANT"),
                "ScopeDownStatement": _statement(depth + 1),
            }
        ),
        st.fixed_dictionaries(
            {
                "Limit": st.integers(10, 10**6),
                "AggregateKeyType": st.just("FORWARDED_IP"),
                "ForwardedIPConfig": st.just(fwd),
            }
        ),
        st.fixed_dictionaries(
            {"Limit": st.integers(10, 10**6), "AggregateKeyType": st.just("CUSTOM_KEYS"), "CustomKeys": keys}
        ),
    ).map(lambda r: {"RateBasedStatement": r})


def _headers(depth: int) -> st.SearchStrategy[list[dict[str, str]]]:
    names = st.lists(
        st.text(string.ascii_lowercase, min_size=1, max_size=8).filter(lambda n: n != "content-type"),
        min_size=1,
        max_size=3,
        unique=True,
    )
    return names.map(lambda ns: [{"Name": n, "Value": "v"} for n in ns])


def _custom_response(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"ResponseCode": st.sampled_from(sorted(SUPPORTED_RESPONSE_CODES))},
        optional={"ResponseHeaders": _headers(depth)},
    )


def _rules(depth: int) -> st.SearchStrategy[list[dict[str, Any]]]:
    component = st.text(string.ascii_lowercase, min_size=1, max_size=6).filter(
        lambda c: c not in RESERVED_LABEL_WORDS
    )
    label = st.lists(component, min_size=1, max_size=3).map(":".join)
    rule = st.fixed_dictionaries(
        {
            "Statement": st.one_of(_statement(1), _rate_based(1)),
            "Action": union("RuleAction", ["Allow", "Block", "Count", "Captcha", "Challenge"], depth),
            "VisibilityConfig": gen("VisibilityConfig", depth + 1),
        },
        optional={
            "RuleLabels": st.lists(label.map(lambda n: {"Name": n}), min_size=1, max_size=3),
            "CaptchaConfig": gen("CaptchaConfig", depth + 1),
        },
    )
    return st.lists(rule, min_size=1, max_size=3).map(
        lambda rs: [{"Name": f"rule{i}", "Priority": i * 10, **r} for i, r in enumerate(rs)]
    )


OVERRIDES: dict[str, Any] = {
    "Rules": _rules,
    "Statement": _statement,
    "TextTransformations": _transformations,
    "CustomResponse": _custom_response,
    "CustomHTTPHeaders": _headers,
    "DefaultAction": lambda d: union("DefaultAction", ["Allow", "Block"], d),
    "FieldToMatch": lambda d: union(
        "FieldToMatch", [k for k in SHAPES["FieldToMatch"]["members"] if k not in SKIP_MEMBERS], d
    ),
    "RegexPatternString": lambda d: st.sampled_from(["^/admin", "a+b", "(?i)bot", "[0-9]{2,4}"]),
    "ResourceArn": lambda d: st.just(IPSET),
    "LabelMatchKey": lambda d: st.text(string.ascii_lowercase, min_size=1, max_size=6),
    "CustomResponseBodies": lambda d: st.nothing(),
    "HeaderNames": lambda d: st.lists(
        st.text(string.ascii_lowercase, min_size=1, max_size=6), min_size=1, max_size=2
    ),
    "JsonPointerPaths": lambda d: st.lists(st.sampled_from(["/a", "/b/0", "/"]), min_size=1, max_size=2),
    "TokenDomains": lambda d: st.lists(st.sampled_from(["example.com", "a.example.org"]), max_size=2),
}


def _fix_arns(value: Any) -> Any:
    """Regex-set references point at the regex set, IP-set references at the IP set."""
    if isinstance(value, dict):
        out = {k: _fix_arns(v) for k, v in value.items()}
        if "RegexPatternSetReferenceStatement" in out:
            out["RegexPatternSetReferenceStatement"]["ARN"] = REGEXSET
        return out
    if isinstance(value, list):
        return [_fix_arns(v) for v in value]
    return value


def _bytes_search_strings(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (v.encode() if k == "SearchString" else _bytes_search_strings(v)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_bytes_search_strings(v) for v in value]
    return value


def _contains_word_ok(value: Any) -> bool:
    return "CONTAINS_WORD" not in repr(value) or "-" not in repr(value)


web_acls = st.builds(
    lambda base, name, rules: {**base, "Name": name, "Rules": rules},
    gen("CreateWebACLRequest"),
    st.text(WORD, min_size=1, max_size=10),
    _rules(0),
).map(_fix_arns)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


def _accepted_by_botocore(doc: dict[str, Any]) -> bool:
    report = ParamValidator().validate(_bytes_search_strings(doc), MODEL.shape_for("CreateWebACLRequest"))
    return not report.has_errors()


@SETTINGS
@given(web_acls)
def test_api_valid_web_acl_loads(doc: dict[str, Any]) -> None:
    assume(_contains_word_ok(doc))
    assume(_accepted_by_botocore(doc))
    model = load_web_acl_model(doc, resources=RESOURCES, search_string="text", account="111122223333")
    assert [r.name for r in model.rules] == [r["Name"] for r in doc.get("Rules", [])]
    assert model.default_action.kind == next(iter(doc["DefaultAction"]))


# --------------------------------------------------------------------------------------------
# One broken field -> an error at that field's path


def _sites(value: Any, shape_name: str, path: str, out: list[tuple[str, str, list[Any]]]) -> None:
    sh = waf_shape(shape_name)
    if sh.type == "structure" and isinstance(value, dict):
        for key in sh.required:
            if key in value and not sh.union:
                out.append(("missing", join_path(path, key), [path, key]))
        for key, child in value.items():
            target = sh.members.get(key)
            if target is not None:
                _sites(child, target, join_path(path, key), out)
    elif sh.type == "list" and isinstance(value, list) and sh.member:
        for i, item in enumerate(value):
            _sites(item, sh.member, join_path(path, i), out)
    elif sh.enum:
        out.append(("enum", path, []))
    elif sh.type in ("integer", "long"):
        out.append(("type", path, []))
        if sh.min is not None:
            out.append(("range", path, [sh.min - 1]))


def _set(doc: Any, path: str, new: Any, *, delete: bool = False) -> None:
    parts = re.findall(r"[A-Za-z0-9_]+|\[\d+\]", path)
    node = doc
    for part in parts[:-1]:
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    last = parts[-1]
    key: Any = int(last[1:-1]) if last.startswith("[") else last
    if delete:
        del node[key]
    else:
        node[key] = new


@SETTINGS
@given(web_acls, st.data())
def test_one_broken_field_is_reported_at_its_path(doc: dict[str, Any], data: st.DataObject) -> None:
    assume(_contains_word_ok(doc))
    assume(_accepted_by_botocore(doc))
    sites: list[tuple[str, str, list[Any]]] = []
    _sites(doc, "WebACL", "", sites)
    kind, path, extra = data.draw(st.sampled_from(sites))
    broken = copy.deepcopy(doc)
    if kind == "missing":
        parent, member = extra
        _set(broken, path, None, delete=True)
        expected_path, words = parent, f"missing required member {member!r}"
    elif kind == "enum":
        _set(broken, path, "NOT_AN_ENUM_VALUE")
        expected_path, words = path, "invalid"
    elif kind == "type":
        _set(broken, path, "12")
        expected_path, words = path, "wrong type: expected an integer, got string"
    else:
        _set(broken, path, extra[0])
        expected_path, words = path, "out of range"
    with pytest.raises(RulesetErrors) as info:
        load_web_acl_model(broken, resources=RESOURCES, search_string="text")
    hits = [e for e in info.value.errors if e.json_path == expected_path and words in e.message]
    assert hits, (kind, path, [(e.json_path, e.message) for e in info.value.errors])


JSON_JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@SETTINGS
@given(web_acls, st.data())
def test_any_mutation_raises_only_wafpy_errors(doc: dict[str, Any], data: st.DataObject) -> None:
    paths: list[str] = []

    def walk(value: Any, path: str) -> None:
        if path:
            paths.append(path)
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, join_path(path, k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, join_path(path, i))

    walk(doc, "")
    broken = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        try:
            _set(broken, path, data.draw(JSON_JUNK))
        except (KeyError, IndexError, TypeError):
            continue
    with contextlib.suppress(RulesetErrors, NotAvailableError):
        load_web_acl_model(broken, resources=RESOURCES, search_string="text")
