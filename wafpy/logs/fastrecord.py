"""The AWS WAF log record of a replayed decision as bytes, most of it encoded once (for replays).

`decision_to_log_record` builds a dict of 16 keys per request and the encoder writes all of it,
though in a replay nearly every record differs from the one before only in its timestamp and its
`httpRequest`: the web ACL, the terminating rule, the action, the source and the labels repeat,
and the lists are empty. So for such a record, the bytes around those two values are encoded once
per (web ACL, rule, type, action, source name, source id, labels) and kept; the record is then
`{"timestamp":` + the timestamp + the kept middle + the encoded `httpRequest` + the kept tail.

Anything else (match details, rule group lists, counted rules, inserted headers, a custom
response, CAPTCHA or challenge responses, oversize fields, an undetermined group, JA3 or JA4
fingerprints, a body, no timestamp) is written by `decision_to_log_record` and the encoder,
which stay the reference; tests compare both ways byte for byte.
The fields: https://docs.aws.amazon.com/waf/latest/developerguide/logging-fields.html
"""

from __future__ import annotations

from typing import Any

from wafpy.decision import Decision
from wafpy.logs.decode import encode_record
from wafpy.logs.logrecord import decision_to_log_record

__all__ = ["encode_replay_record"]

_Key = tuple[str, str, str, str, str, str, tuple[str, ...]]
_PARTS: dict[_Key, tuple[bytes, bytes]] = {}
_PARTS_MAX = 4096  # distinct (rule, action, labels, source) combinations kept; then start again
_HEAD = b'{"timestamp":0'
_HTTP = b',"httpRequest":null'


def encode_replay_record(
    decision: Decision, source_name: str, source_id: str, timestamp_ms: int | None, http_request: Any
) -> bytes:
    """`encode_record(decision_to_log_record(decision, ...))` with these arguments, byte for byte."""
    request = decision.request
    if (
        type(timestamp_ms) is not int
        or request is None
        or request.body_size
        or request.body
        or request.ja3
        or request.ja4
        or decision.terminating_rule_match_details
        or decision.rule_group_list
        or decision.rate_based_rule_list
        or decision.log_non_terminating
        or decision.inserted_request_headers
        or decision.custom_response
        or decision.captcha_response is not None
        or decision.challenge_response is not None
        or decision.oversize_fields
        or decision.undetermined
    ):
        return encode_record(
            decision_to_log_record(
                decision,
                http_source_name=source_name,
                http_source_id=source_id,
                timestamp_ms=timestamp_ms,
                http_request=http_request,
            )
        )
    key = (
        decision.web_acl_arn,
        decision.terminating_rule_id,
        decision.terminating_rule_type,
        decision.action,
        source_name,
        source_id,
        decision.labels,
    )
    parts = _PARTS.get(key)
    if parts is None:
        parts = _parts(decision, source_name, source_id)
        if len(_PARTS) >= _PARTS_MAX:
            _PARTS.clear()
        _PARTS[key] = parts
    middle, tail = parts
    return b'{"timestamp":%d%b%b%b' % (timestamp_ms, middle, encode_record(http_request), tail)


def _parts(decision: Decision, source_name: str, source_id: str) -> tuple[bytes, bytes]:
    """The bytes between the timestamp and the `httpRequest` value, and after that value.

    Encoded from the reference record of this decision with timestamp 0 and a null
    `httpRequest`: a JSON string escapes its quotes, so `,"httpRequest":null` appears once, as
    the key itself.
    """
    template = decision_to_log_record(
        decision, http_source_name=source_name, http_source_id=source_id, timestamp_ms=0, http_request={}
    )
    template["httpRequest"] = None
    encoded = encode_record(template)
    assert encoded.startswith(_HEAD)
    at = encoded.index(_HTTP)
    return encoded[len(_HEAD) : at] + b',"httpRequest":', encoded[at + len(_HTTP) :]
