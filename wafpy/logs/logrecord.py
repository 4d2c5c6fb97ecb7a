"""A Decision as an AWS WAF log record (format version 1): the one writer of log records.

The fields: https://docs.aws.amazon.com/waf/latest/developerguide/logging-fields.html

The middleware and `wafpy eval` both write through here, so their records compare line by line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wafpy.decision import Decision

MAX_LOGGED_LABELS = 100


def decision_to_log_record(
    decision: Decision,
    *,
    http_source_name: str = "ALB",
    http_source_id: str = "-",
    timestamp_ms: int | None = None,
    http_request: Any = None,
) -> dict[str, Any]:
    """The record of `decision`; `http_request`, when given, must equal `request.to_http_request()`.

    A log replay passes the `httpRequest` object it already holds, so the headers are not
    converted back from bytes for every record: a dict, or a struct that its encoder writes as
    that dict.
    """
    request = decision.request
    if timestamp_ms is None:
        timestamp_ms = (
            request.timestamp_ms if request is not None and request.timestamp_ms is not None else None
        )
    if timestamp_ms is None:
        timestamp_ms = decision.evaluated_at_ms
    # Most of these are empty: an empty list costs less than an empty comprehension.
    details = decision.terminating_rule_match_details
    groups = decision.rule_group_list
    rate_based = decision.rate_based_rule_list
    counted = decision.log_non_terminating
    record: dict[str, Any] = {
        "timestamp": timestamp_ms,
        "formatVersion": 1,
        "webaclId": decision.web_acl_arn,
        "terminatingRuleId": decision.terminating_rule_id,
        "terminatingRuleType": decision.terminating_rule_type,
        "action": decision.action,
        "terminatingRuleMatchDetails": [d.to_log() for d in details] if details else [],
        "httpSourceName": http_source_name,
        "httpSourceId": http_source_id,
        "ruleGroupList": [dict(g) for g in groups] if groups else [],
        "rateBasedRuleList": [dict(r) for r in rate_based] if rate_based else [],
        "nonTerminatingMatchingRules": [dict(n) for n in counted] if counted else [],
        "requestHeadersInserted": (
            [{"name": n, "value": v} for n, v in decision.inserted_request_headers]
            if decision.inserted_request_headers
            else None
        ),
        "responseCodeSent": decision.response_code if decision.custom_response else None,
        "httpRequest": (
            http_request
            if http_request is not None
            else request.to_http_request()
            if request is not None
            else {}
        ),
    }
    if decision.labels:
        record["labels"] = [{"name": label} for label in decision.labels[:MAX_LOGGED_LABELS]]
    if decision.captcha_response is not None:
        record["captchaResponse"] = dict(decision.captcha_response)
        if decision.action == "CAPTCHA":
            record["responseCodeSent"] = decision.response_code
    if decision.challenge_response is not None:
        record["challengeResponse"] = dict(decision.challenge_response)
        if decision.action == "CHALLENGE":
            record["responseCodeSent"] = decision.response_code
    if request is not None:
        if request.ja3:
            record["ja3Fingerprint"] = request.ja3
        if request.ja4:
            record["ja4Fingerprint"] = request.ja4
        record["requestBodySize"] = request.body_size
        record["requestBodySizeInspectedByWAF"] = min(request.body_size, len(request.body))
    if decision.oversize_fields:
        record["oversizeFields"] = list(decision.oversize_fields)
    if decision.undetermined:
        # Not an AWS field: the action is UNDETERMINED (a managed group replayed from the log whose
        # outcome the record cannot give), and this says which group and why.
        record["wafpyUndetermined"] = [{"ruleGroupId": g, "reason": r} for g, r in decision.undetermined]
    return record
