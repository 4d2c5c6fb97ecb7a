"""Rules AWS enforces that the API shapes cannot express.

Pure functions: each takes already-shaped values and returns the reasons it rejects them (empty
when fine). `wafpy.load.build` calls them while it walks a document, so every finding carries the
JSON path, line and column of the value it is about. AWS's documentation is cited per rule.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable

from wafpy.matching.iptools import format_cidr, parse_ip
from wafpy.matching.regex import check_regex

__all__ = [
    "GROUP_STATEMENTS",
    "LONE_SURROGATE",
    "MAX_STATEMENT_DEPTH",
    "MIN_LOGICAL_STATEMENTS",
    "NESTABLE_STATEMENTS",
    "RESERVED_LABEL_WORDS",
    "SUPPORTED_RESPONSE_CODES",
    "check_cidr",
    "check_header_names",
    "check_label",
    "check_regex_pattern",
    "decode_search_string",
    "duplicates",
    "has_lone_surrogate",
    "header_name_problem",
]

# Statements that may only be the top-level statement of a rule, not nested:
# https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statements.html
GROUP_STATEMENTS = frozenset({"RuleGroupReferenceStatement", "ManagedRuleGroupStatement"})
TOP_ONLY_STATEMENTS = GROUP_STATEMENTS | {"RateBasedStatement"}
NESTABLE_STATEMENTS = frozenset(
    {
        "ByteMatchStatement",
        "RegexMatchStatement",
        "RegexPatternSetReferenceStatement",
        "SqliMatchStatement",
        "XssMatchStatement",
        "SizeConstraintStatement",
        "GeoMatchStatement",
        "IPSetReferenceStatement",
        "LabelMatchStatement",
        "AsnMatchStatement",
        "AndStatement",
        "OrStatement",
        "NotStatement",
    }
)
# AWS documents no nesting depth limit (waf-rule-statements); 20 protects the evaluator's stack.
MAX_STATEMENT_DEPTH = 20
# An AndStatement or OrStatement combines at least two statements (so say CloudFormation's
# AWS::WAFv2::WebACL AndStatement / OrStatement pages and
# https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-and.html);
# the API answers fewer with WAFInvalidParameterException "... an OR statement with only one
# nested statement". botocore's model gives the list no minimum, so the shapes cannot say it.
MIN_LOGICAL_STATEMENTS = 2

# Codes a custom Block response may use (the API range 200-599 is wider):
# https://docs.aws.amazon.com/waf/latest/developerguide/customizing-the-response-status-codes.html
SUPPORTED_RESPONSE_CODES = frozenset(
    {
        200,
        201,
        202,
        204,
        206,
        300,
        301,
        302,
        303,
        304,
        307,
        308,
        400,
        401,
        403,
        404,
        405,
        408,
        409,
        411,
        412,
        413,
        414,
        415,
        416,
        421,
        429,
        500,
        501,
        502,
        503,
        504,
        505,
    }
)

# Label syntax: https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-label-requirements.html
RESERVED_LABEL_WORDS = frozenset(
    {
        "awswaf",
        "aws",
        "waf",
        "rulegroup",
        "webacl",
        "regexpatternset",
        "ipset",
        "managed",
    }
)
MAX_LABEL_COMPONENT = 128
MAX_LABEL_NAMESPACES = 5

# Bytes after decoding: https://docs.aws.amazon.com/waf/latest/APIReference/API_ByteMatchStatement.html
MAX_SEARCH_STRING = 200
# Whole-value checks, used with fullmatch: without an end anchor of their own a search cannot
# restart at every byte and rescan the rest (quadratic on a long run of word characters).
_WORD_BYTES = re.compile(rb"[A-Za-z0-9_]+")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
# A lone UTF-16 surrogate: JSON text may write one as an escape ("\ud800") and Python objects may
# hold one, but it is not Unicode text and has no UTF-8 form, so no request can carry it.
_SURROGATE = re.compile("[\ud800-\udfff]")
LONE_SURROGATE = "is not Unicode text: it holds a lone surrogate (an unpaired \\ud800-\\udfff escape)"


def has_lone_surrogate(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def duplicates(values: Iterable[object]) -> list[int]:
    """Indexes of values already seen earlier in the sequence."""
    seen: set[object] = set()
    out = []
    for i, v in enumerate(values):
        if v in seen:
            out.append(i)
        seen.add(v)
    return out


def decode_search_string(text: str, *, base64_encoded: bool) -> tuple[bytes | None, str | None]:
    """(bytes, None) or (None, reason). `base64_encoded`: API output / SearchStringBase64."""
    if base64_encoded:
        compact = "".join(text.split())
        if not _BASE64.fullmatch(compact) or len(compact) % 4:
            return (
                None,
                "is not valid base64 (get-* output prints SearchString base64-encoded; load "
                "CloudFormation or plain-text documents with search_string='text')",
            )
        try:
            data = base64.b64decode(compact, validate=True)
        except (binascii.Error, ValueError):
            return None, "is not valid base64"
    elif has_lone_surrogate(text):
        return None, LONE_SURROGATE
    else:
        data = text.encode("utf-8")
    if not data:
        return None, "is empty"
    if len(data) > MAX_SEARCH_STRING:
        return None, f"is {len(data)} bytes after decoding; AWS allows at most {MAX_SEARCH_STRING}"
    return data, None


def contains_word_problem(data: bytes) -> str | None:
    if not _WORD_BYTES.fullmatch(data):
        return "a CONTAINS_WORD search string may only hold word characters (A-Z, a-z, 0-9, _)"
    return None


def check_label(name: str, *, namespace: bool = False) -> str | None:
    """Reason a rule label (or, with `namespace`, a label namespace ending in ':') is invalid."""
    body = name[:-1] if namespace and name.endswith(":") else name
    parts = body.split(":")
    if any(p == "" for p in parts):
        return "label components may not be empty (no leading, trailing or doubled ':')"
    for part in parts:
        if len(part) > MAX_LABEL_COMPONENT:
            return f"label component {part[:20]!r}... is longer than {MAX_LABEL_COMPONENT} characters"
        if part in RESERVED_LABEL_WORDS:
            return f"label component {part!r} is a reserved word ({', '.join(sorted(RESERVED_LABEL_WORDS))})"
    namespaces = len(parts) if namespace else len(parts) - 1
    if namespaces > MAX_LABEL_NAMESPACES:
        return f"a label may have at most {MAX_LABEL_NAMESPACES} namespaces before the name, got {namespaces}"
    return None


def header_name_problem(name: str) -> str | None:
    """Why a header name to inspect can never name a request header (None when it can).

    Header names travel as bytes, and the engine reads them as ISO-8859-1: a character above
    U+00FF has no byte form there, so no request can carry such a header.
    """
    try:
        name.encode("latin-1")
    except UnicodeEncodeError:
        return "a header name holds a character above U+00FF, which no HTTP request header can carry"
    return None


def check_header_names(names: list[str], *, response: bool) -> list[tuple[int, str]]:
    """(index, reason) for custom header lists: no duplicates, no Content-Type in responses.

    https://docs.aws.amazon.com/waf/latest/APIReference/API_CustomResponse.html
    """
    out = []
    lowered = [n.lower() for n in names]
    for i in duplicates(lowered):
        out.append((i, f"duplicate header name {names[i]!r}"))
    if response:
        for i, n in enumerate(lowered):
            if n == "content-type":
                out.append(
                    (
                        i,
                        "Content-Type cannot be set as a custom response header; it comes from "
                        "the CustomResponseBody's ContentType",
                    )
                )
    return sorted(out)


def check_cidr(text: str, version: str) -> tuple[str | None, str | None]:
    """(masked network, None) or (None, reason) for one IP set entry (https://docs.aws.amazon.com/waf/latest/APIReference/API_IPSet.html)."""
    text = text.strip()
    address, slash, prefix = text.partition("/")
    if not slash:
        return None, "an IP set address needs a prefix length (e.g. 192.0.2.44/32)"
    parsed = parse_ip(address)
    if parsed is None or not (prefix.isascii() and prefix.isdigit() and len(prefix) <= 3):
        return None, "is not a valid CIDR"
    found, value = parsed
    bits, length = (32 if found == 4 else 128), int(prefix)
    if length > bits:
        return None, "is not a valid CIDR"
    want = 4 if version == "IPV4" else 6
    if found != want:
        return None, f"is an IPv{found} address in an {version} set"
    if length == 0:
        return None, "a /0 prefix is not allowed"
    network = value & ~((1 << (bits - length)) - 1)
    # Host bits set are accepted and masked (wafpy's choice, API_IPSet leaves it open); most
    # entries are already clean, and keeping their text spares formatting 10,000 addresses.
    return (text if network == value else format_cidr(found, network, length)), None


def check_regex_pattern(pattern: str) -> str | None:
    """Why AWS rejects the regex, through `wafpy.matching.regex.check_regex` (None when it accepts it)."""
    if has_lone_surrogate(pattern):
        return "the pattern " + LONE_SURROGATE
    return check_regex(pattern)
