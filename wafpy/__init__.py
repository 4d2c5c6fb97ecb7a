"""wafpy: evaluate AWS WAF (WAFv2) web ACLs exactly as AWS does, outside AWS.

acl = wafpy.load_web_acl("webacl.json", resources=["ipset.json"])
decision = acl.evaluate(wafpy.Request.from_log(http_request))
decision.action, decision.terminating_rule_id, decision.labels
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wafpy._version import __version__
from wafpy.decision import Decision, MatchDetail, RuleTrace
from wafpy.engine.ratelimit import MemoryRateCounter, RateCounter
from wafpy.engine.services import Services, TokenCheck
from wafpy.errors import (
    LogFormatError,
    NotAvailableError,
    ResourceError,
    RulesetError,
    RulesetErrors,
    WafpyError,
)
from wafpy.middleware.asgi import WAFMiddleware
from wafpy.request import Request
from wafpy.webacl import WebACL, load_web_acl

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from os import PathLike
    from typing import Any, Literal

    from wafpy.load.resources import ResourceResolver
    from wafpy.model import RuleGroup


__all__ = [
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
]


def load_rule_group(
    source: str | bytes | PathLike[str] | Mapping[str, Any],
    *,
    resources: Mapping[str, Any] | Sequence[str | PathLike[str]] | None = None,
    account: str | None = None,
    search_string: Literal["auto", "base64", "text"] = "auto",
    resolver: ResourceResolver | None = None,
) -> RuleGroup:
    """Load and validate a rule group document (same conventions as `load_web_acl`)."""
    from wafpy.load.loader import load_rule_group_model

    return load_rule_group_model(
        source, resources=resources, account=account, search_string=search_string, resolver=resolver
    )
