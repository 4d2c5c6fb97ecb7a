"""The public names: `wafpy.__all__` is sorted, complete, and every name in it exists."""

from __future__ import annotations

import types

import wafpy

EXPECTED = {
    "Decision",
    "LogFormatError",
    "MatchDetail",
    "MemoryRateCounter",
    "NotAvailableError",
    "RateCounter",
    "Request",
    "ResourceError",
    "RuleTrace",
    "RulesetError",
    "RulesetErrors",
    "Services",
    "TokenCheck",
    "WAFMiddleware",
    "WafpyError",
    "WebACL",
    "__version__",
    "load_rule_group",
    "load_web_acl",
}


def test_all_is_sorted_and_pinned() -> None:
    assert list(wafpy.__all__) == sorted(wafpy.__all__)
    assert set(wafpy.__all__) == EXPECTED


def test_every_public_name_exists_and_nothing_public_is_unlisted() -> None:
    for name in wafpy.__all__:
        assert hasattr(wafpy, name), name
    public = {
        n
        for n, v in vars(wafpy).items()
        if not n.startswith("_")
        and not isinstance(v, types.ModuleType)
        and n not in {"annotations", "TYPE_CHECKING"}
    }
    assert public <= set(wafpy.__all__)
