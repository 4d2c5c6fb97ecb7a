"""Typed, frozen model of WAFv2 documents.

Each node mirrors one WAFv2 JSON shape (member names in snake_case) and remembers where it came
from (`span`: line, column and JSON path) so later checks can point at the source. Nodes are built
only from documents that passed schema validation (`wafpy.load.validate`), so they hold plain, already
checked values: enums as their AWS strings, `SearchString` as bytes, resources resolved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias


@dataclass(frozen=True, slots=True)
class Span:
    """Where a node was written: 1-based line and column (None for Python input) and its JSON path."""

    line: int | None
    column: int | None
    path: str


@dataclass(frozen=True, slots=True)
class Node:
    # Keyword-only so subclasses can declare required fields after it.
    span: Span | None = field(default=None, kw_only=True, compare=False, repr=False)


# --------------------------------------------------------------------------------------------
# Text transformations and FieldToMatch


@dataclass(frozen=True, slots=True)
class TextTransformation(Node):
    priority: int
    type: str  # a TextTransformationType, e.g. "URL_DECODE"


Transformations: TypeAlias = tuple[TextTransformation, ...]


@dataclass(frozen=True, slots=True)
class UriPath(Node):
    pass


@dataclass(frozen=True, slots=True)
class QueryString(Node):
    pass


@dataclass(frozen=True, slots=True)
class Method(Node):
    pass


@dataclass(frozen=True, slots=True)
class AllQueryArguments(Node):
    pass


@dataclass(frozen=True, slots=True)
class SingleHeader(Node):
    name: str  # lower-cased at build time; AWS compares case-insensitively


@dataclass(frozen=True, slots=True)
class SingleQueryArgument(Node):
    name: str  # lower-cased at build time; AWS compares case-insensitively


@dataclass(frozen=True, slots=True)
class Body(Node):
    oversize_handling: str = "CONTINUE"


@dataclass(frozen=True, slots=True)
class NameMatchPattern(Node):
    """`MatchPattern` of Headers / Cookies: exactly one of all / included / excluded."""

    all: bool = False
    included: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Headers(Node):
    match_pattern: NameMatchPattern
    match_scope: str  # KEY | VALUE | ALL
    oversize_handling: str


@dataclass(frozen=True, slots=True)
class Cookies(Node):
    match_pattern: NameMatchPattern
    match_scope: str
    oversize_handling: str


@dataclass(frozen=True, slots=True)
class JsonMatchPattern(Node):
    all: bool = False
    included_paths: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class JsonBody(Node):
    match_pattern: JsonMatchPattern
    match_scope: str
    invalid_fallback_behavior: str | None = None  # MATCH | NO_MATCH | EVALUATE_AS_STRING | None
    oversize_handling: str = "CONTINUE"


@dataclass(frozen=True, slots=True)
class HeaderOrder(Node):
    oversize_handling: str


@dataclass(frozen=True, slots=True)
class JA3Fingerprint(Node):
    fallback_behavior: str


@dataclass(frozen=True, slots=True)
class JA4Fingerprint(Node):
    fallback_behavior: str


@dataclass(frozen=True, slots=True)
class UriFragment(Node):
    fallback_behavior: str = "NO_MATCH"


FieldToMatch: TypeAlias = (
    UriPath
    | QueryString
    | Method
    | AllQueryArguments
    | SingleHeader
    | SingleQueryArgument
    | Body
    | Headers
    | Cookies
    | JsonBody
    | HeaderOrder
    | JA3Fingerprint
    | JA4Fingerprint
    | UriFragment
)

# --------------------------------------------------------------------------------------------
# Resources (documents referenced by ARN)


@dataclass(frozen=True, slots=True)
class IPSet(Node):
    name: str
    id: str
    arn: str
    ip_address_version: str  # IPV4 | IPV6
    addresses: tuple[str, ...]
    description: str | None = None


@dataclass(frozen=True, slots=True)
class RegexPatternSet(Node):
    name: str
    id: str
    arn: str
    patterns: tuple[str, ...]
    description: str | None = None


# --------------------------------------------------------------------------------------------
# Statements


@dataclass(frozen=True, slots=True)
class StatementNode(Node):
    """Base of every statement class (the members of `Statement`).

    It carries nothing; it lets code and tests find the statement types by walking this module,
    so a new statement cannot be missed by the tables keyed by statement class (the compiler's
    builders, the capacity table, the placement rules, the load builders, replay coverage), which
    `tests/test_seams.py` checks against it.
    """


@dataclass(frozen=True, slots=True)
class ForwardedIPConfig(Node):
    header_name: str
    fallback_behavior: str  # MATCH | NO_MATCH


@dataclass(frozen=True, slots=True)
class IPSetForwardedIPConfig(Node):
    header_name: str
    fallback_behavior: str
    position: str  # FIRST | LAST | ANY


@dataclass(frozen=True, slots=True)
class ByteMatch(StatementNode):
    search_string: bytes
    field_to_match: FieldToMatch
    positional_constraint: str
    text_transformations: Transformations
    pre_parse_transformations: Transformations = ()


@dataclass(frozen=True, slots=True)
class RegexMatch(StatementNode):
    regex_string: str
    field_to_match: FieldToMatch
    text_transformations: Transformations
    pre_parse_transformations: Transformations = ()


@dataclass(frozen=True, slots=True)
class RegexPatternSetReference(StatementNode):
    arn: str
    field_to_match: FieldToMatch
    text_transformations: Transformations
    pre_parse_transformations: Transformations = ()
    pattern_set: RegexPatternSet | None = None  # resolved at load


@dataclass(frozen=True, slots=True)
class SqliMatch(StatementNode):
    field_to_match: FieldToMatch
    text_transformations: Transformations
    sensitivity_level: str = "LOW"
    pre_parse_transformations: Transformations = ()


@dataclass(frozen=True, slots=True)
class XssMatch(StatementNode):
    field_to_match: FieldToMatch
    text_transformations: Transformations
    pre_parse_transformations: Transformations = ()


@dataclass(frozen=True, slots=True)
class SizeConstraint(StatementNode):
    field_to_match: FieldToMatch
    comparison_operator: str  # EQ NE LE LT GE GT
    size: int
    text_transformations: Transformations
    pre_parse_transformations: Transformations = ()


@dataclass(frozen=True, slots=True)
class GeoMatch(StatementNode):
    country_codes: tuple[str, ...]
    forwarded_ip_config: ForwardedIPConfig | None = None


@dataclass(frozen=True, slots=True)
class IPSetReference(StatementNode):
    arn: str
    forwarded_ip_config: IPSetForwardedIPConfig | None = None
    ip_set: IPSet | None = None  # resolved at load


@dataclass(frozen=True, slots=True)
class LabelMatch(StatementNode):
    scope: str  # LABEL | NAMESPACE
    key: str


@dataclass(frozen=True, slots=True)
class AsnMatch(StatementNode):
    asn_list: tuple[int, ...]
    forwarded_ip_config: ForwardedIPConfig | None = None


@dataclass(frozen=True, slots=True)
class And(StatementNode):
    statements: tuple[Statement, ...]


@dataclass(frozen=True, slots=True)
class Or(StatementNode):
    statements: tuple[Statement, ...]


@dataclass(frozen=True, slots=True)
class Not(StatementNode):
    statement: Statement


@dataclass(frozen=True, slots=True)
class RateKey(Node):
    """One entry of `RateBasedStatement.CustomKeys`.

    kind is the AWS member name: Header, Cookie, QueryArgument, QueryString, HTTPMethod, UriPath,
    IP, ForwardedIP, LabelNamespace, JA3Fingerprint, JA4Fingerprint, ASN.
    """

    kind: str
    name: str | None = None  # Header / Cookie / QueryArgument
    namespace: str | None = None  # LabelNamespace
    text_transformations: Transformations = ()
    fallback_behavior: str | None = None  # JA3Fingerprint / JA4Fingerprint


@dataclass(frozen=True, slots=True)
class RateBased(StatementNode):
    limit: int
    aggregate_key_type: str  # IP | FORWARDED_IP | CUSTOM_KEYS | CONSTANT
    evaluation_window_sec: int = 300
    scope_down: Statement | None = None
    forwarded_ip_config: ForwardedIPConfig | None = None
    custom_keys: tuple[RateKey, ...] = ()


@dataclass(frozen=True, slots=True)
class CustomHeader(Node):
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class CustomResponse(Node):
    response_code: int
    custom_response_body_key: str | None = None
    response_headers: tuple[CustomHeader, ...] = ()


@dataclass(frozen=True, slots=True)
class Action(Node):
    """A RuleAction or a DefaultAction.

    kind: Allow | Block | Count | Captcha | Challenge. `insert_headers` comes from
    CustomRequestHandling (not for Block); `custom_response` only for Block.
    """

    kind: str
    insert_headers: tuple[CustomHeader, ...] = ()
    custom_response: CustomResponse | None = None


@dataclass(frozen=True, slots=True)
class RuleActionOverride(Node):
    name: str
    action_to_use: Action


@dataclass(frozen=True, slots=True)
class RuleGroupReference(StatementNode):
    arn: str
    excluded_rules: tuple[str, ...] = ()
    rule_action_overrides: tuple[RuleActionOverride, ...] = ()
    rule_group: RuleGroup | None = None  # resolved at load


@dataclass(frozen=True, slots=True)
class ManagedRuleGroup(StatementNode):
    vendor_name: str
    name: str
    version: str | None = None
    scope_down: Statement | None = None
    excluded_rules: tuple[str, ...] = ()
    rule_action_overrides: tuple[RuleActionOverride, ...] = ()
    managed_rule_group_configs: tuple[Mapping[str, Any], ...] = ()
    rule_group: RuleGroup | None = None  # resolved at load when a resolver supplies one
    # Where `rule_group` came from: "resolver" (resolver=), "none" (managed="none": an empty group,
    # no inner rule matches), "log" (managed="log": no rules, the outcome is replayed from the AWS
    # WAF log record), "file:<path>" (managed=PATH) or "bundled" (wafpy's own equivalent,
    # managed="bundled"; each inner rule carries its `fidelity`); None while unresolved.
    rules_from: str | None = None


Statement: TypeAlias = (
    ByteMatch
    | RegexMatch
    | RegexPatternSetReference
    | SqliMatch
    | XssMatch
    | SizeConstraint
    | GeoMatch
    | IPSetReference
    | LabelMatch
    | AsnMatch
    | And
    | Or
    | Not
    | RateBased
    | RuleGroupReference
    | ManagedRuleGroup
)

# AWS member name of each statement class, e.g. ByteMatch -> "ByteMatchStatement".
STATEMENT_NAMES: dict[type[Node], str] = {
    ByteMatch: "ByteMatchStatement",
    RegexMatch: "RegexMatchStatement",
    RegexPatternSetReference: "RegexPatternSetReferenceStatement",
    SqliMatch: "SqliMatchStatement",
    XssMatch: "XssMatchStatement",
    SizeConstraint: "SizeConstraintStatement",
    GeoMatch: "GeoMatchStatement",
    IPSetReference: "IPSetReferenceStatement",
    LabelMatch: "LabelMatchStatement",
    AsnMatch: "AsnMatchStatement",
    And: "AndStatement",
    Or: "OrStatement",
    Not: "NotStatement",
    RateBased: "RateBasedStatement",
    RuleGroupReference: "RuleGroupReferenceStatement",
    ManagedRuleGroup: "ManagedRuleGroupStatement",
}

# --------------------------------------------------------------------------------------------
# Rules, rule groups, web ACLs


@dataclass(frozen=True, slots=True)
class VisibilityConfig(Node):
    sampled_requests_enabled: bool
    cloudwatch_metrics_enabled: bool
    metric_name: str


@dataclass(frozen=True, slots=True)
class RuleFidelity:
    """How faithful a rule of one of wafpy's bundled managed rule groups is to AWS's rule.

    tier: "exact" (AWS documents the test fully), "documented-examples" (built from AWS's
    description and examples) or "heuristic" (a best guess at an undocumented test); basis: why.
    """

    rule: str
    tier: str
    basis: str


@dataclass(frozen=True, slots=True)
class Rule(Node):
    """A rule of a web ACL or rule group; Firewall Manager rule groups are Rules too.

    Exactly one of `action` (ordinary statements) and `override_action` ("None" | "Count", for
    rule-group and managed-group statements) is set. `fidelity` is set on the rules of wafpy's
    bundled managed rule groups only (`managed="bundled"`).
    """

    name: str
    priority: int
    statement: Statement
    action: Action | None = None
    override_action: str | None = None
    rule_labels: tuple[str, ...] = ()
    visibility_config: VisibilityConfig | None = None
    captcha_immunity: int | None = None
    challenge_immunity: int | None = None
    fidelity: RuleFidelity | None = None


@dataclass(frozen=True, slots=True)
class CustomResponseBody(Node):
    content_type: str  # TEXT_PLAIN | TEXT_HTML | APPLICATION_JSON
    content: str


@dataclass(frozen=True, slots=True)
class RuleGroup(Node):
    name: str
    id: str
    arn: str
    capacity: int | None
    rules: tuple[Rule, ...]
    label_namespace: str  # e.g. "awswaf:111122223333:rulegroup:mine:" or "awswaf:managed:aws:core-rule-set:"
    custom_response_bodies: Mapping[str, CustomResponseBody] = field(default_factory=dict)
    visibility_config: VisibilityConfig | None = None
    description: str | None = None
    available_labels: tuple[str, ...] = ()
    consumed_labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WebACL(Node):
    name: str
    id: str
    arn: str
    default_action: Action
    rules: tuple[Rule, ...]
    label_namespace: str  # "awswaf:<account>:webacl:<name>:"
    account: str
    description: str | None = None
    visibility_config: VisibilityConfig | None = None
    custom_response_bodies: Mapping[str, CustomResponseBody] = field(default_factory=dict)
    captcha_immunity: int = 300
    challenge_immunity: int = 300
    token_domains: tuple[str, ...] = ()
    body_inspection_limit: int = 8192  # from AssociationConfig (ALB default 8 KB)
    pre_process_rules: tuple[Rule, ...] = ()  # PreProcessFirewallManagerRuleGroups
    post_process_rules: tuple[Rule, ...] = ()  # PostProcessFirewallManagerRuleGroups
    capacity: int | None = None  # as given in the document (output only)
