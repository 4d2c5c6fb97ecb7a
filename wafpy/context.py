"""Per-request evaluation state (the compiled ACL itself is immutable and shared).

Labels, the memo of extracted and transformed fields, pending geo labels and match details live
here, one `EvalContext` per request, so the compiled ACL can serve many requests concurrently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wafpy.decision import MatchDetail
    from wafpy.fields import Extractor
    from wafpy.request import Request
    from wafpy.services import Services

# A matcher decides one statement for one request. It raises NotApplied when a forwarded-IP
# header is absent: AWS then does not apply the rule at all, whatever NOT/AND/OR surround it.
Matcher = Callable[["EvalContext"], bool]


class NotApplied(Exception):
    """The rule is not applied to this request (spec 3.14: forwarded-IP header absent)."""


# Field values after extraction and a transformation chain:
# (forced result or None, elements, element names or None, location for the log).
Values = tuple[bool | None, list[bytes], list[bytes] | None, str]


class EvalContext:
    __slots__ = (
        "details",
        "label_set",
        "labels",
        "memo",
        "not_evaluable",
        "now_ms",
        "oversize",
        "pending_labels",
        "request",
        "services",
    )

    def __init__(self, request: Request, services: Services, now_ms: int) -> None:
        self.request = request
        self.services = services
        self.now_ms = now_ms
        self.labels: list[str] = []
        self.label_set: set[str] = set()
        self.memo: dict[Any, Any] = {}
        self.details: list[MatchDetail] = []
        self.pending_labels: list[str] = []
        self.oversize: list[str] = []
        self.not_evaluable: list[str] = []

    def add_label(self, label: str) -> None:
        if label not in self.label_set:
            self.label_set.add(label)
            self.labels.append(label)

    def values(
        self,
        extractor: Extractor,
        extract_key: int,
        values_key: int,
        chain: Callable[[bytes], bytes] | None,
    ) -> Values:
        """Elements of a field after a transformation chain, computed once per request.

        `extract_key` identifies the extraction and `values_key` the extraction plus the chain;
        both are interned at compile time so equal fields in different rules share the work.
        """
        memo = self.memo
        hit = memo.get(values_key)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        extracted = memo.get(extract_key)
        if extracted is None:
            extracted = extractor(self.request)
            memo[extract_key] = extracted
            if extracted.oversize is not None and extracted.oversize not in self.oversize:
                self.oversize.append(extracted.oversize)
        elements = extracted.elements
        if chain is not None and extracted.forced is None and elements:
            elements = [chain(e) for e in elements]
        result: Values = (extracted.forced, elements, extracted.names, extracted.location)
        memo[values_key] = result
        return result
