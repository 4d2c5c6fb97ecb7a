"""Malformed documents -> every error, with message, JSON path, line and column.

Each case is a web ACL (or rule group / IP set) text; `«` marks where the error must point and is
removed before loading.
"""

from __future__ import annotations

import pytest

from wafpy.errors import RulesetErrors
from wafpy.load.loader import load_document

VIS = (
    '"VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, '
    '"MetricName": "m"}'
)
TT = '"TextTransformations": [{"Priority": 0, "Type": "NONE"}]'
BYTE = (
    '{"ByteMatchStatement": {"SearchString": "abc", "FieldToMatch": {"UriPath": {}}, '
    + TT
    + ', "PositionalConstraint": "CONTAINS"}}'
)
GEO = '{"GeoMatchStatement": {"CountryCodes": ["US"]}}'
MANAGED = '{"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}}'


def rule(
    statement: str = BYTE,
    *,
    name: str = "r1",
    priority: str = "0",
    action: str = '"Action": {"Block": {}}',
    extra: str = "",
) -> str:
    return (
        f'{{"Name": "{name}", "Priority": {priority}, "Statement": {statement},\n {action}, {VIS}'
        + (f", {extra}" if extra else "")
        + "}"
    )


def acl(*rules: str, extra: str = "", default: str = '{"Allow": {}}') -> str:
    body = ",\n".join(rules)
    return (
        f'{{"Name": "acl", "DefaultAction": {default}, {VIS},\n'
        + (f"{extra},\n" if extra else "")
        + f'"Rules": [\n{body}\n]}}'
    )


def group(*rules: str) -> str:
    return f'{{"Name": "g", "Capacity": 100, {VIS},\n"Rules": [\n' + ",\n".join(rules) + "\n]}"


def nested(depth: int) -> str:
    text = GEO
    for _ in range(depth - 1):
        text = f'{{"NotStatement": {{"Statement": {text}}}}}'
    return text


IPSET_ARN = "arn:aws:wafv2:us-east-1:111122223333:regional/ipset/x/1"

# id -> (kind, document, error message, JSON path)
CASES: dict[str, tuple[str, str, str, str]] = {
    "unknown member": (
        "WebACL",
        acl(rule(extra='«"Priorty": 1')),
        "unknown member 'Priorty' in Rule; did you mean 'Priority'?",
        "Rules[0].Priorty",
    ),
    "bad enum": (
        "WebACL",
        acl(rule(BYTE.replace('"CONTAINS"', '«"CONTAIN"'))),
        "invalid PositionalConstraint value; did you mean 'CONTAINS'?",
        "Rules[0].Statement.ByteMatchStatement.PositionalConstraint",
    ),
    "wrong type": (
        "WebACL",
        acl(rule(priority='«"0"')),
        "wrong type: expected an integer, got string",
        "Rules[0].Priority",
    ),
    "negative priority": (
        "WebACL",
        acl(rule(priority="«-1")),
        "RulePriority out of range",
        "Rules[0].Priority",
    ),
    "missing member": (
        "WebACL",
        acl(rule('{"LabelMatchStatement": «{"Scope": "LABEL"}}')),
        "missing required member 'Key' in LabelMatchStatement",
        "Rules[0].Statement.LabelMatchStatement",
    ),
    "two statements": (
        "WebACL",
        acl(
            rule(
                '«{"GeoMatchStatement": {"CountryCodes": ["US"]}, '
                '"LabelMatchStatement": {"Scope": "LABEL", "Key": "a"}}'
            )
        ),
        "Statement takes exactly one member, got 2: GeoMatchStatement, LabelMatchStatement",
        "Rules[0].Statement",
    ),
    "default count": (
        "WebACL",
        acl(rule(), default='{«"Count": {}}'),
        "unknown member 'Count' in DefaultAction",
        "DefaultAction.Count",
    ),
    "rate-based nested": (
        "WebACL",
        acl(
            rule(
                '{"NotStatement": {"Statement": {"RateBasedStatement": «{"Limit": 100, '
                '"AggregateKeyType": "IP"}}}}'
            )
        ),
        "RateBasedStatement can only be the top-level statement of a rule, not nested or a scope-down",
        "Rules[0].Statement.NotStatement.Statement.RateBasedStatement",
    ),
    "managed in rule group": (
        "RuleGroup",
        group(
            rule(
                '{"ManagedRuleGroupStatement": «{"VendorName": "AWS", "Name": "X"}}',
                action='"OverrideAction": {"None": {}}',
            )
        ),
        "ManagedRuleGroupStatement is not allowed inside a rule group",
        "Rules[0].Statement.ManagedRuleGroupStatement",
    ),
    "duplicate priority": (
        "WebACL",
        acl(rule(), rule(name="r2", priority="«0")),
        "duplicate rule priority in Rules",
        "Rules[1].Priority",
    ),
    "duplicate name": (
        "WebACL",
        acl(rule(), rule(priority="1").replace('"Name": "r1"', '"Name": «"r1"')),
        "duplicate rule name in Rules",
        "Rules[1].Name",
    ),
    "bad label": (
        "WebACL",
        acl(rule(extra='"RuleLabels": [{"Name": «"aws:x"}]')),
        "invalid rule label: label component 'aws' is a reserved word "
        "(aws, awswaf, ipset, managed, regexpatternset, rulegroup, waf, webacl)",
        "Rules[0].RuleLabels[0].Name",
    ),
    "too many namespaces": (
        "WebACL",
        acl(rule(extra='"RuleLabels": [{"Name": «"a:b:c:d:e:f:name"}]')),
        "invalid rule label: a label may have at most 5 namespaces before the name, got 6",
        "Rules[0].RuleLabels[0].Name",
    ),
    "labels on group rule": (
        "WebACL",
        acl(rule(MANAGED, action='"OverrideAction": {"None": {}}', extra='"RuleLabels": [{"Name": «"x"}]')),
        "RuleLabels are not allowed on a rule that references a rule group",
        "Rules[0].RuleLabels[0].Name",
    ),
    "action on group rule": (
        "WebACL",
        acl(rule(MANAGED, action='"Action": «{"Block": {}}')),
        "a rule whose statement references a rule group takes OverrideAction, not Action",
        "Rules[0].Action",
    ),
    "override on plain rule": (
        "WebACL",
        acl(rule(action='"OverrideAction": «{"None": {}}')),
        "OverrideAction is only for rule-group statements; this rule needs Action",
        "Rules[0].OverrideAction",
    ),
    "unresolved arn": (
        "WebACL",
        acl(rule(f'{{"IPSetReferenceStatement": {{"ARN": «"{IPSET_ARN}"}}}}')),
        f"unresolved IP set ARN {IPSET_ARN}: no resources were supplied; supply it with resources= "
        "(a mapping ARN -> get-* output or object, or a list of files) or `wafpy validate "
        "--resources FILE`",
        "Rules[0].Statement.IPSetReferenceStatement.ARN",
    ),
    "bad regex": (
        "WebACL",
        acl(
            rule(
                BYTE.replace(
                    '"ByteMatchStatement": {"SearchString": "abc"',
                    '"RegexMatchStatement": {"RegexString": «"(a)\\\\1"',
                ).replace(', "PositionalConstraint": "CONTAINS"', "")
            )
        ),
        "regular expression not accepted by AWS WAF",
        "Rules[0].Statement.RegexMatchStatement.RegexString",
    ),
    "bad response code": (
        "WebACL",
        acl(rule(action='"Action": {"Block": {"CustomResponse": {"ResponseCode": «418}}}')),
        "unsupported custom response code",
        "Rules[0].Action.Block.CustomResponse.ResponseCode",
    ),
    "missing body key": (
        "WebACL",
        acl(
            rule(
                action='"Action": {"Block": {"CustomResponse": {"ResponseCode": 403, '
                '"CustomResponseBodyKey": «"nope"}}}'
            )
        ),
        "CustomResponseBodyKey 'nope' is not defined in the web ACL's CustomResponseBodies",
        "Rules[0].Action.Block.CustomResponse.CustomResponseBodyKey",
    ),
    "content-type header": (
        "WebACL",
        acl(
            rule(
                action='"Action": {"Block": {"CustomResponse": {"ResponseCode": 403, '
                '"ResponseHeaders": [{"Name": «"Content-Type", "Value": "x"}]}}}'
            )
        ),
        "Content-Type cannot be set as a custom response header; it comes from the "
        "CustomResponseBody's ContentType",
        "Rules[0].Action.Block.CustomResponse.ResponseHeaders[0].Name",
    ),
    "duplicate inserted header": (
        "WebACL",
        acl(
            rule(
                action='"Action": {"Count": {"CustomRequestHandling": '
                '{"InsertHeaders": [{"Name": "a", "Value": "1"}, '
                '{"Name": «"A", "Value": "2"}]}}}'
            )
        ),
        "duplicate header name 'A'",
        "Rules[0].Action.Count.CustomRequestHandling.InsertHeaders[1].Name",
    ),
    "contains word": (
        "WebACL",
        acl(rule(BYTE.replace('"abc"', '«"a-b"').replace("CONTAINS", "CONTAINS_WORD"))),
        "a CONTAINS_WORD search string may only hold word characters (A-Z, a-z, 0-9, _)",
        "Rules[0].Statement.ByteMatchStatement.SearchString",
    ),
    "empty search string": (
        "WebACL",
        acl(rule(BYTE.replace('"abc"', '«""'))),
        "SearchString is empty",
        "Rules[0].Statement.ByteMatchStatement.SearchString",
    ),
    "long search string": (
        "WebACL",
        acl(rule(BYTE.replace('"abc"', '«"' + "x" * 201 + '"'))),
        "SearchString is 201 bytes after decoding; AWS allows at most 200",
        "Rules[0].Statement.ByteMatchStatement.SearchString",
    ),
    "bad base64": (
        "WebACL",
        '{"WebACL": ' + acl(rule(BYTE.replace('"abc"', '«"a*c"'))) + ', "LockToken": "t"}',
        "SearchString is not valid base64",
        "WebACL.Rules[0].Statement.ByteMatchStatement.SearchString",
    ),
    "depth": (
        "WebACL",
        acl(rule(nested(21).replace('{"GeoMatchStatement": {', '{"GeoMatchStatement": «{'))),
        "statements nested deeper than 20 levels",
        "Rules[0].Statement" + ".NotStatement.Statement" * 20 + ".GeoMatchStatement",
    ),
    "empty and": (
        "WebACL",
        acl(rule('{"AndStatement": {"Statements": «[]}}')),
        "AndStatement needs at least 2 statements, got 0",
        "Rules[0].Statement.AndStatement.Statements",
    ),
    "empty or": (
        "WebACL",
        acl(rule('{"OrStatement": {"Statements": «[]}}')),
        "OrStatement needs at least 2 statements, got 0",
        "Rules[0].Statement.OrStatement.Statements",
    ),
    "single or": (
        "WebACL",
        acl(rule('{"OrStatement": {"Statements": «[' + GEO + "]}}")),
        "OrStatement needs at least 2 statements, got 1",
        "Rules[0].Statement.OrStatement.Statements",
    ),
    "empty and nested": (
        "WebACL",
        acl(rule('{"NotStatement": {"Statement": {"AndStatement": {"Statements": «[]}}}}')),
        "AndStatement needs at least 2 statements, got 0",
        "Rules[0].Statement.NotStatement.Statement.AndStatement.Statements",
    ),
    "empty or in scope-down": (
        "WebACL",
        acl(
            rule(
                '{"RateBasedStatement": {"Limit": 100, "AggregateKeyType": "IP", '
                '"ScopeDownStatement": {"OrStatement": {"Statements": «[]}}}}'
            )
        ),
        "OrStatement needs at least 2 statements, got 0",
        "Rules[0].Statement.RateBasedStatement.ScopeDownStatement.OrStatement.Statements",
    ),
    "lone surrogate in a search string": (
        "WebACL",
        acl(rule(BYTE.replace('"abc"', '«"a\\ud800"'))),
        "SearchString is not Unicode text: it holds a lone surrogate",
        "Rules[0].Statement.ByteMatchStatement.SearchString",
    ),
    "lone surrogate in a regex": (
        "WebACL",
        acl(
            rule(
                BYTE.replace(
                    '"ByteMatchStatement": {"SearchString": "abc"',
                    '"RegexMatchStatement": {"RegexString": «"\\udfff+"',
                ).replace(', "PositionalConstraint": "CONTAINS"', "")
            )
        ),
        "RegexPatternString value is not Unicode text: it holds a lone surrogate",
        "Rules[0].Statement.RegexMatchStatement.RegexString",
    ),
    "lone surrogate in a label key": (
        "WebACL",
        acl(rule('{"LabelMatchStatement": {"Scope": "LABEL", "Key": «"a:\\udc00"}}')),
        "LabelMatchKey value is not Unicode text: it holds a lone surrogate",
        "Rules[0].Statement.LabelMatchStatement.Key",
    ),
    "header name above U+00FF": (
        "WebACL",
        acl(rule(BYTE.replace('{"UriPath": {}}', '{"SingleHeader": {"Name": «"x-\\u263a"}}'))),
        "a header name holds a character above U+00FF, which no HTTP request header can carry",
        "Rules[0].Statement.ByteMatchStatement.FieldToMatch.SingleHeader.Name",
    ),
    "constant without scope-down": (
        "WebACL",
        acl(rule('{"RateBasedStatement": «{"Limit": 100, "AggregateKeyType": "CONSTANT"}}')),
        "AggregateKeyType CONSTANT needs a ScopeDownStatement",
        "Rules[0].Statement.RateBasedStatement",
    ),
    "forwarded ip without config": (
        "WebACL",
        acl(rule('{"RateBasedStatement": «{"Limit": 100, "AggregateKeyType": "FORWARDED_IP"}}')),
        "AggregateKeyType FORWARDED_IP needs a ForwardedIPConfig",
        "Rules[0].Statement.RateBasedStatement",
    ),
    "ip key alone": (
        "WebACL",
        acl(
            rule(
                '{"RateBasedStatement": {"Limit": 100, "AggregateKeyType": "CUSTOM_KEYS", '
                '"CustomKeys": «[{"IP": {}}]}}'
            )
        ),
        "a IP custom key must be combined with at least one other key",
        "Rules[0].Statement.RateBasedStatement.CustomKeys",
    ),
    "label namespace key": (
        "WebACL",
        acl(
            rule(
                '{"RateBasedStatement": {"Limit": 100, "AggregateKeyType": '
                '"CUSTOM_KEYS", "CustomKeys": [{"HTTPMethod": {}}, '
                '{"LabelNamespace": {"Namespace": «"a:b"}}]}}'
            )
        ),
        "LabelNamespace value does not match the pattern AWS requires",
        "Rules[0].Statement.RateBasedStatement.CustomKeys[1].LabelNamespace.Namespace",
    ),
    "pre-parse on uri": (
        "WebACL",
        acl(
            rule(
                BYTE.replace(
                    TT, TT + ', "PreParseTextTransformations": «[{"Priority": 0, "Type": "URL_DECODE"}]'
                )
            )
        ),
        "PreParseTextTransformations only apply to SingleQueryArgument and AllQueryArguments",
        "Rules[0].Statement.ByteMatchStatement.PreParseTextTransformations",
    ),
    "sqli on ja3": (
        "WebACL",
        acl(
            rule(
                '{"SqliMatchStatement": {"FieldToMatch": «{"JA3Fingerprint": '
                '{"FallbackBehavior": "MATCH"}}, ' + TT + "}}"
            )
        ),
        "SqliMatchStatement cannot inspect JA3Fingerprint (a fingerprint is not request text)",
        "Rules[0].Statement.SqliMatchStatement.FieldToMatch",
    ),
    "duplicate transformation priority": (
        "WebACL",
        acl(
            rule(
                BYTE.replace(
                    TT,
                    '"TextTransformations": [{"Priority": 0, "Type": "NONE"}, '
                    '{"Priority": «0, "Type": "LOWERCASE"}]',
                )
            )
        ),
        "duplicate transformation priority",
        "Rules[0].Statement.ByteMatchStatement.TextTransformations[1].Priority",
    ),
    "monetize": (
        "WebACL",
        acl(rule(action='"Action": {"Monetize": «{}}')),
        "Monetize is a CloudFront-only action; an Application Load Balancer web ACL cannot use it",
        "Rules[0].Action.Monetize",
    ),
    "bad cidr": (
        "IPSet",
        '{"Name": "s", "IPAddressVersion": "IPV4", "Addresses": ["10.0.0.0/8", «"10.0.0.1"]}',
        "invalid IP set address: an IP set address needs a prefix length (e.g. 192.0.2.44/32)",
        "Addresses[1]",
    ),
    "zero prefix": (
        "IPSet",
        '{"Name": "s", "IPAddressVersion": "IPV4", "Addresses": [«"0.0.0.0/0"]}',
        "invalid IP set address: a /0 prefix is not allowed",
        "Addresses[0]",
    ),
    "wrong family": (
        "IPSet",
        '{"Name": "s", "IPAddressVersion": "IPV4", "Addresses": [«"2001:db8::/32"]}',
        "invalid IP set address: is an IPv6 address in an IPV4 set",
        "Addresses[0]",
    ),
    "intrinsic": (
        "WebACL",
        acl(rule(priority='«{"Fn::Select": [0, [1]]}')),
        "is a CloudFormation intrinsic function",
        "Rules[0].Priority",
    ),
}


def _locate(text: str) -> tuple[str, int, int]:
    index = text.index("«")
    before = text[:index]
    return text.replace("«", ""), before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_document_error(case: str) -> None:
    kind, marked, message, path = CASES[case]
    text, line, column = _locate(marked)
    with pytest.raises(RulesetErrors) as info:
        load_document(text, kind)  # type: ignore[arg-type]
    hits = [e for e in info.value.errors if e.json_path == path]
    assert hits, [(e.json_path, e.message) for e in info.value.errors]
    error = hits[0]
    assert message in error.message
    assert (error.line, error.column) == (line, column)
    assert error.source == "<text>"


def test_every_error_is_reported_at_once() -> None:
    text = acl(
        rule(priority='"0"'),
        rule(name="r2", extra='"Priorty": 1'),
        rule(
            name="r3", priority="3", action='"Action": {"Block": {"CustomResponse": {"ResponseCode": 418}}}'
        ),
    )
    with pytest.raises(RulesetErrors) as info:
        load_document(text, "WebACL")
    paths = {e.json_path for e in info.value.errors}
    assert {
        "Rules[0].Priority",
        "Rules[1].Priorty",
        "Rules[2].Action.Block.CustomResponse.ResponseCode",
    } <= paths


def test_unknown_member_lists_the_valid_ones() -> None:
    with pytest.raises(RulesetErrors) as info:
        load_document(acl(rule(extra='"Zzz": 1')), "WebACL")
    (error,) = info.value.errors
    assert (
        error.expected is not None and "Name, Priority, Statement, Action, OverrideAction" in error.expected
    )


def test_output_only_members_are_accepted() -> None:
    extra = (
        '"Id": "x", "ARN": "arn:aws:wafv2:us-west-2:123456789012:regional/webacl/acl/x", "Capacity": 10, '
        '"LabelNamespace": "awswaf:123456789012:webacl:acl:", "ManagedByFirewallManager": false, '
        '"RetrofittedByFirewallManager": false, "Description": ""'
    )
    loaded = load_document(acl(rule(), extra=extra), "WebACL")
    assert loaded.model.arn.endswith("/acl/x")


def test_cloudformation_member_refused_in_get_output() -> None:
    doc = '{"WebACL": ' + acl(rule(BYTE.replace('"SearchString"', '"SearchStringBase64"'))) + "}"
    with pytest.raises(RulesetErrors) as info:
        load_document(doc, "WebACL")
    messages = [e.message for e in info.value.errors]
    assert "SearchStringBase64 is a CloudFormation member; get-* output uses SearchString" in messages
