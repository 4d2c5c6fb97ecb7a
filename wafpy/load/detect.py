"""Which kind of document a parsed value is, without being told: what `wafpy validate` reads.

The kinds are AWS's: a web ACL, a rule group, an IP set, a regex pattern set, and a list of rules
as `aws wafv2 check-capacity --rules` takes it (a JSON array of rules, or `{"Scope": ...,
"Rules": [...]}`: https://docs.aws.amazon.com/waf/latest/APIReference/API_CheckCapacity.html).

The document says which it is: the `get-*` output wrapper key (`{"RuleGroup": {...},
"LockToken": ...}`), the CloudFormation `Type` (`AWS::WAFv2::RuleGroup`), or, for a bare object,
the members only one kind has (`DefaultAction` for a web ACL, `Capacity` for a rule group,
`Addresses` for an IP set, `RegularExpressionList` for a regex pattern set). When nothing tells,
the value is read as a web ACL, so a web ACL missing its `DefaultAction` is still named as such.
"""

from __future__ import annotations

from typing import Any, Literal

from wafpy import model as ast
from wafpy.errors import RulesetError, RulesetErrors
from wafpy.load.capacity import acl_capacity
from wafpy.load.jsontree import JArray, JBool, JMember, JObject, JString, JValue
from wafpy.load.loader import (
    Loaded,
    Resources,
    SearchString,
    document_object,
    load_value,
    read_source,
    split_resources,
)
from wafpy.load.loader import _resolver as resolver_for
from wafpy.load.managed import ManagedSpec, parse_managed
from wafpy.load.reading import Source
from wafpy.load.terraform import (
    TF_TYPES,
    is_terraform,
    terraform_document,
    terraform_resources,
    translate_path,
)

__all__ = [
    "RULES_NAME",
    "DetectedKind",
    "detect_kind",
    "load_detected",
    "rules_as_web_acl",
    "unwrap_rules_path",
]

DetectedKind = Literal["WebACL", "RuleGroup", "IPSet", "RegexPatternSet", "Rules"]
_KINDS: tuple[DetectedKind, ...] = ("WebACL", "RuleGroup", "IPSet", "RegexPatternSet")
# Members only a web ACL / only a rule group has (API WebACL / RuleGroup structures).
_WEB_ACL_ONLY = frozenset(
    {
        "DefaultAction", "PreProcessFirewallManagerRuleGroups", "PostProcessFirewallManagerRuleGroups",
        "ManagedByFirewallManager", "CaptchaConfig", "ChallengeConfig", "TokenDomains",
        "AssociationConfig", "DataProtectionConfig", "RetrofittedByFirewallManager",
    }
)  # fmt: skip
_RULE_GROUP_ONLY = frozenset({"Capacity", "AvailableLabels", "ConsumedLabels"})
_RULES_MEMBERS = frozenset({"Rules", "Scope"})  # check-capacity's request members
RULES_NAME = "check-capacity"  # the name a rule list is shown under


def _cfn_kind(value: JValue) -> DetectedKind | None:
    rtype = value.get("Type") if isinstance(value, JObject) else None
    if isinstance(rtype, JString) and rtype.value.startswith("AWS::WAFv2::"):
        kind = rtype.value.removeprefix("AWS::WAFv2::")
        for known in _KINDS:
            if known == kind:
                return known
    return None


def _from_resources(resources: JObject) -> DetectedKind | None:
    """A template's main document: its web ACL, else its rule group, else its one set."""
    present = {k for m in resources.members if (k := _cfn_kind(m.value)) is not None}
    for kind in _KINDS:
        if kind in present:
            return kind
    return None


def detect_kind(value: JValue) -> DetectedKind:
    """The kind of document `value` is (see the module docstring); a web ACL when nothing tells."""
    if isinstance(value, JArray):
        return "Rules"
    if not isinstance(value, JObject):
        return "WebACL"  # the loader names the wrong JSON type
    if is_terraform(value):  # terraform show -json: its web ACL, else its rule group...
        present = {TF_TYPES[r.type] for r in terraform_resources(value)}
        return next((k for k in _KINDS if k in present), "WebACL")
    keys = set(value.keys())
    for kind in _KINDS:  # get-* output: {"RuleGroup": {...}, "LockToken": "..."}
        if isinstance(value.get(kind), JObject):
            return kind
    resources = value.get("Resources")
    if isinstance(resources, JObject) and (found := _from_resources(resources)) is not None:
        return found
    if (typed := _cfn_kind(value)) is not None and "Properties" in keys:
        return typed
    if value.members and all(_cfn_kind(m.value) for m in value.members):  # {LogicalId: resource}
        return _from_resources(value) or "WebACL"
    if keys & _WEB_ACL_ONLY:
        return "WebACL"
    if keys & _RULE_GROUP_ONLY or "LabelNamespace" in keys:
        return "RuleGroup"
    if isinstance(value.get("Rules"), JArray) and keys <= _RULES_MEMBERS:
        return "Rules"
    if "Addresses" in keys or "IPAddressVersion" in keys:
        return "IPSet"
    if "RegularExpressionList" in keys:
        return "RegexPatternSet"
    return "WebACL"


def rules_as_web_acl(value: JValue) -> tuple[JObject, bool]:
    """A rule list (array, or `{"Scope", "Rules"}`) as a web ACL holding those rules, and whether it
    was a bare array (its errors then read `[3].Name`, see `unwrap_rules_path`).

    A web ACL, not a rule group: check-capacity accepts every rule a web ACL may hold (managed rule
    groups, rule group references), and a rule group may hold none of those.
    """
    filler = (
        JMember("Name", None, None, JString(RULES_NAME)),
        JMember("DefaultAction", None, None, JObject((JMember("Allow", None, None, JObject(())),))),
        JMember(
            "VisibilityConfig",
            None,
            None,
            JObject(
                (
                    JMember("SampledRequestsEnabled", None, None, JBool(False)),
                    JMember("CloudWatchMetricsEnabled", None, None, JBool(False)),
                    JMember("MetricName", None, None, JString(RULES_NAME)),
                )
            ),
        ),
    )
    if isinstance(value, JArray):
        rules = JMember("Rules", value.line, value.column, value)
        return JObject((*filler, rules), value.line, value.column), True
    assert isinstance(value, JObject)
    return JObject((*filler, *value.members), value.line, value.column), False


def unwrap_rules_path(exc: RulesetErrors) -> RulesetErrors:
    """Errors of a bare rule array: `Rules[3].Name` becomes `[3].Name` (the array is the document)."""
    fixed = []
    for e in exc.errors:
        path = e.json_path
        if path == "Rules":
            path = ""
        elif path.startswith("Rules["):
            path = path.removeprefix("Rules")
        fixed.append(e.at(path))
    return RulesetErrors(fixed, source=exc.source)


def load_detected(
    source: Source,
    *,
    kind: DetectedKind | None = None,
    resources: Resources | None = None,
    account: str | None = None,
    search_string: SearchString = "auto",
    managed: ManagedSpec = None,
) -> tuple[Loaded, DetectedKind, str]:
    """Load a document of any kind (`detect_kind`, or `kind` when given) as `wafpy validate` does:
    (the loaded document, its kind, where it came from: api, cloudformation, terraform or bare).

    A rule list loads as a web ACL holding its rules (`rules_as_web_acl`). A rule group whose
    declared `Capacity` is below its computed WCU is an error located at `Capacity`: AWS refuses
    to create it (https://docs.aws.amazon.com/waf/latest/developerguide/aws-waf-capacity-units.html).
    Raises RulesetErrors, or ValueError for a malformed `managed`.
    """
    choice = parse_managed(managed)
    value, name = read_source(source)
    detected = kind or detect_kind(value)
    resources, files = split_resources(resources)
    resolver = resolver_for(resources, None, search_string, account)
    options: dict[str, Any] = {
        "source": name,
        "search_string": search_string,
        "account": account,
        "resolver": resolver,
        "managed": choice,
        "managed_resources": files,  # a rule group there may stand for a managed one
    }
    if detected == "Rules":
        obj, bare = rules_as_web_acl(value)
        try:
            return load_value(obj, "WebACL", path="", origin="bare", **options), "Rules", "bare"
        except RulesetErrors as exc:
            raise (unwrap_rules_path(exc) if bare else exc) from None
    loaded = load_value(value, detected, **options)
    if isinstance(loaded.model, ast.RuleGroup):
        _check_declared_capacity(value, loaded.model, name, account)
    return loaded, detected, "terraform" if is_terraform(value) else loaded.origin


def _check_declared_capacity(value: JValue, group: ast.RuleGroup, source: str, account: str | None) -> None:
    if group.capacity is None:
        return
    report = acl_capacity(group)
    if not report.exact or report.total <= group.capacity:
        return
    if is_terraform(value):
        doc = terraform_document(value, "RuleGroup", account=account or "000000000000", source=source)
        obj: JValue = doc.value
        path = translate_path("Capacity", doc.paths)
    else:
        obj, prefix, *_ = document_object(value, "RuleGroup", None, account, source)
        path = f"{prefix}.Capacity" if prefix else "Capacity"
    node = obj.get("Capacity") if isinstance(obj, JObject) else None
    raise RulesetErrors(
        [
            RulesetError(
                f"the declared Capacity {group.capacity} is below the {report.total} WCU its rules "
                "cost; AWS WAF refuses to create the rule group (the capacity cannot be changed "
                "after creation, so declare what the rules may grow to)",
                json_path=path,
                line=node.line if node is not None else None,
                column=node.column if node is not None else None,
                value=group.capacity,
                expected=f"at least {report.total}",
                source=source,
            )
        ],
        source=source,
    )
