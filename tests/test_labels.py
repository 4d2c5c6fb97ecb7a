"""LabelMatchStatement keys compare whole label components, through the closures and the scanner.

One rule of web ACL `shop-ext` (account 111122223333) labels every request
`awswaf:111122223333:webacl:shop-ext:bot-ext:crawler:good`: namespaces `awswaf`, `111122223333`,
`webacl`, `shop-ext`, `bot-ext`, `crawler`, then the name `good`. A later rule holds the
LabelMatchStatement under test and blocks when it matches. A key that stops in the middle of a
component (`...:shop` for `...:shop-ext:`) names another namespace and never matches.
"""

from __future__ import annotations

from typing import Any

import pytest

import wafpy
from tests.builders import rule, size_constraint, web_acl
from wafpy.engine.compile import compile_acl
from wafpy.engine.evaluate import evaluate
from wafpy.engine.services import Services

ACCOUNT = "111122223333"
PREFIX = f"awswaf:{ACCOUNT}:webacl:shop-ext:"
LABEL = "bot-ext:crawler:good"

# (scope, key) -> whether the label above matches
FULLY_QUALIFIED: dict[tuple[str, str], bool] = {
    ("NAMESPACE", f"awswaf:{ACCOUNT}:webacl:shop-ext:"): True,
    ("NAMESPACE", f"awswaf:{ACCOUNT}:webacl:shop-ext"): True,  # the trailing ':' is optional
    ("NAMESPACE", f"awswaf:{ACCOUNT}:webacl:shop:"): False,
    ("NAMESPACE", f"awswaf:{ACCOUNT}:webacl:shop"): False,  # not a component boundary
    ("NAMESPACE", f"awswaf:{ACCOUNT}:webacl:shop-e"): False,
    ("NAMESPACE", f"awswaf:{ACCOUNT}:webacl:shop-ext:bot"): False,
    ("NAMESPACE", f"awswaf:{ACCOUNT}:webacl:shop-ext:bot-ext"): True,
    ("NAMESPACE", f"awswaf:{ACCOUNT}:webacl:shop-ext:bot-ext:crawler:"): True,
    ("NAMESPACE", f"awswaf:{ACCOUNT}:webacl:shop-ext:bot-ext:crawl"): False,
    ("NAMESPACE", f"awswaf:{ACCOUNT}:webacl:shop-ext:bot-ext:crawler:good"): False,  # the name
    ("NAMESPACE", f"awswaf:{ACCOUNT}:webacl:shop-ext:bot-ext:crawler:good:"): False,
    ("NAMESPACE", f"awswaf:{ACCOUNT}:webacl:shop-ext:bot-ext:crawler:go"): False,
    ("NAMESPACE", f"awswaf:{ACCOUNT}:webacl:shop-ext::"): False,  # an empty component
    ("NAMESPACE", f"awswaf:{ACCOUNT}:web"): False,
    ("NAMESPACE", "awswaf:"): True,
    ("NAMESPACE", "awswaf:1111"): False,
    ("LABEL", PREFIX + LABEL): True,
    ("LABEL", PREFIX + "bot-ext:crawler:goo"): False,
    ("LABEL", PREFIX + LABEL + ":"): False,
    ("LABEL", PREFIX + "bot-ext:crawler"): False,
}
RELATIVE: dict[tuple[str, str], bool] = {
    ("NAMESPACE", "awswaf"): False,  # relative: only a key starting with `awswaf:` is fully qualified
    ("NAMESPACE", "bot-ext:"): True,
    ("NAMESPACE", "bot-ext"): True,
    ("NAMESPACE", "bot:"): False,
    ("NAMESPACE", "bot"): False,  # not a component boundary
    ("NAMESPACE", "ext:"): False,
    ("NAMESPACE", "crawler:"): True,  # a contiguous run anywhere after the prefix
    ("NAMESPACE", "crawler"): True,
    ("NAMESPACE", "crawl"): False,
    ("NAMESPACE", "rawler:"): False,
    ("NAMESPACE", "bot-ext:crawler:"): True,
    ("NAMESPACE", "bot-ext:crawler"): True,
    ("NAMESPACE", "t-ext:crawler:"): False,
    ("NAMESPACE", "bot-ext:crawl:"): False,
    ("NAMESPACE", "crawler:good:"): False,  # `good` is the name, not a namespace
    ("NAMESPACE", "good:"): False,
    ("NAMESPACE", "bot-ext::"): False,  # an empty component
    ("NAMESPACE", "shop-ext:bot-ext:"): False,  # `shop-ext` belongs to the prefix
    ("LABEL", "good"): True,
    ("LABEL", "crawler:good"): True,
    ("LABEL", LABEL): True,
    ("LABEL", "ood"): False,
    ("LABEL", "ler:good"): False,
    ("LABEL", "t-ext:crawler:good"): False,
    ("LABEL", "crawler:good:"): False,
    ("LABEL", "crawler"): False,
}
TABLE = {**FULLY_QUALIFIED, **RELATIVE}


def _web_acl(scope: str, key: str) -> dict[str, Any]:
    always = size_constraint({"UriPath": {}}, "GE", 0)
    label_match = {"LabelMatchStatement": {"Scope": scope, "Key": key}}
    rules = [
        rule("tag", 0, always, "Count", metric="m", sampled=False, RuleLabels=[{"Name": LABEL}]),
        rule("match", 1, label_match, metric="m", sampled=False),
    ]
    return web_acl(rules, name="shop-ext", metric="m", sampled=False)


@pytest.mark.parametrize(("scope", "key"), sorted(TABLE), ids=[f"{s}-{k}" for s, k in sorted(TABLE)])
def test_label_key_matches_whole_components(scope: str, key: str) -> None:
    acl = wafpy.load_web_acl(_web_acl(scope, key), account=ACCOUNT)
    assert acl.model.label_namespace == PREFIX
    expected = "BLOCK" if TABLE[scope, key] else "ALLOW"
    for inline in (True, False):  # the generated scanner and the reference closures
        decision = evaluate(compile_acl(acl.model, inline=inline), wafpy.Request(uri="/"), Services())
        assert decision.labels[0] == PREFIX + LABEL
        assert decision.action == expected, f"inline={inline}"
