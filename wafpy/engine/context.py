"""Per-request evaluation state (the compiled ACL itself is immutable and shared).

Labels, the memo of extracted and transformed fields, pending geo labels and match details live
here, one `EvalContext` per request, so the compiled ACL can serve many requests concurrently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wafpy.decision import MatchDetail
    from wafpy.engine.services import Services
    from wafpy.matching.fields import Extractor
    from wafpy.request import Request

# A matcher decides one statement for one request. It raises NotApplied when a forwarded-IP
# header is absent: AWS then does not apply the rule at all, whatever NOT/AND/OR surround it.
Matcher = Callable[["EvalContext"], bool]


class NotApplied(Exception):
    """The rule is not applied to this request: forwarded-IP header absent.

    https://docs.aws.amazon.com/waf/latest/APIReference/API_ForwardedIPConfig.html
    """


# Field values after extraction and a transformation chain:
# (forced result or None, elements, element names or None, location for the log).
Values = tuple[bool | None, list[bytes], list[bytes] | None, str]
# (memo key, step) for the untransformed field (step None), then for each prefix of the chain.
Plan = tuple[tuple[int, Callable[[bytes], bytes] | None], ...]


class EvalContext:
    __slots__ = (
        "details",
        "events",
        "label_set",
        "labels",
        "memo",
        "non_terminating",
        "non_terminating_names",
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
        # Count rules the scanner concluded itself (wafpy.engine.scan): made on the first one.
        # Trace entries by top-level rule index, then the log entries and names of the matches.
        self.events: list[tuple[int, Any]] | None = None
        self.non_terminating: list[dict[str, Any]] | None = None
        self.non_terminating_names: list[str] | None = None

    def add_label(self, label: str) -> None:
        if label not in self.label_set:
            self.label_set.add(label)
            self.labels.append(label)

    def values(self, extractor: Extractor, extract_key: int, plan: Plan) -> Values:
        """Elements of a field after a transformation chain, computed once per request.

        `plan` lists, for the untransformed field and then for every prefix of the chain, the
        interned memo key and the step that extends the previous prefix. A chain reuses the
        longest prefix another rule already computed for this request, so `URL_DECODE` then
        `URL_DECODE, HTML_ENTITY_DECODE` of the same body decodes the body once.
        """
        memo = self.memo
        hit = memo.get(plan[-1][0])
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        i = len(plan) - 2
        while i >= 0 and plan[i][0] not in memo:
            i -= 1
        if i < 0:
            extracted = memo.get(extract_key)
            if extracted is None:
                extracted = extractor.fn(self.request)
                memo[extract_key] = extracted
                if extracted.oversize is not None and extracted.oversize not in self.oversize:
                    self.oversize.append(extracted.oversize)
            current: Values = (extracted.forced, extracted.elements, extracted.names, extracted.location)
            memo[plan[0][0]] = current
            i = 0
        else:
            current = memo[plan[i][0]]
        for key, step in plan[i + 1 :]:
            forced, elements, names, location = current
            if forced is None and elements:
                elements = [step(e) for e in elements]  # type: ignore[misc]
            current = (forced, elements, names, location)
            memo[key] = current
        return current
