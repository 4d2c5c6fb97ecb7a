"""Terraform: `terraform show -json` plan or state output, mapped to the WAFv2 API model.

The AWS provider's resources `aws_wafv2_web_acl`, `aws_wafv2_rule_group`, `aws_wafv2_ip_set` and
`aws_wafv2_regex_pattern_set` (https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/wafv2_web_acl)
write the API's members in snake_case, and each nested block as a list: `rule[0].statement[0].
byte_match_statement[0].field_to_match[0].uri_path[0]` is the API's `Rules[0].Statement.
ByteMatchStatement.FieldToMatch.UriPath`. A block list of at most one item is an object (or
absent when empty), the repeatable blocks (`rule`, `text_transformation`, `rule_label`,
`custom_key`...) are the API's lists, `custom_response_body` becomes the API's map, and
attributes Terraform leaves null or "" are absent. `search_string` is text, as the provider
takes it.

The JSON layout is Terraform's (https://developer.hashicorp.com/terraform/internals/json-format):
state output holds `values.root_module.resources[]{address, type, name, values}` (and
`child_modules`), plan output the same under `planned_values`. A plan does not know the ARNs
of resources it is about to create: those get a synthetic ARN, and a reference statement whose
`arn` is unknown is resolved through the plan's `configuration` (the expression's references,
e.g. `aws_wafv2_ip_set.bad.arn`). Every error is reported at the Terraform address
(`aws_wafv2_web_acl.main.rule[3].statement[0]...`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

from wafpy.errors import RulesetError, RulesetErrors
from wafpy.load.jsontree import JArray, JMember, JNull, JObject, JString, JValue, from_python
from wafpy.load.terraform_refs import ArnLookup

__all__ = [
    "TF_TYPES",
    "TfDocument",
    "TfResource",
    "is_terraform",
    "terraform_document",
    "terraform_entries",
    "terraform_resources",
    "translate_errors",
]

TF_TYPES = {
    "aws_wafv2_web_acl": "WebACL",
    "aws_wafv2_rule_group": "RuleGroup",
    "aws_wafv2_ip_set": "IPSet",
    "aws_wafv2_regex_pattern_set": "RegexPatternSet",
}
_ARN_KIND = {
    "IPSet": "ipset",
    "RegexPatternSet": "regexpatternset",
    "RuleGroup": "rulegroup",
    "WebACL": "webacl",
}
# Names that the plain snake_case -> PascalCase rule gets wrong.
_NAMES = {
    "arn": "ARN",
    "cloudwatch_metrics_enabled": "CloudWatchMetricsEnabled",
    "ip_set_reference_statement": "IPSetReferenceStatement",
    "ip_set_forwarded_ip_config": "IPSetForwardedIPConfig",
    "forwarded_ip_config": "ForwardedIPConfig",
    "ip_address_version": "IPAddressVersion",
    "ja3_fingerprint": "JA3Fingerprint",
    "ja4_fingerprint": "JA4Fingerprint",
    "forwarded_ip": "ForwardedIP",
    "ip": "IP",
    "http_method": "HTTPMethod",
    "asn": "ASN",
    "aws_managed_rules_bot_control_rule_set": "AWSManagedRulesBotControlRuleSet",
    "aws_managed_rules_atp_rule_set": "AWSManagedRulesATPRuleSet",
    "aws_managed_rules_acfp_rule_set": "AWSManagedRulesACFPRuleSet",
    "aws_managed_rules_anti_ddos_rule_set": "AWSManagedRulesAntiDDoSRuleSet",
    # Repeatable blocks: the API's plural lists.
    "rule": "Rules",
    "text_transformation": "TextTransformations",
    "rule_label": "RuleLabels",
    "custom_key": "CustomKeys",
    "rule_action_override": "RuleActionOverrides",
    "excluded_rule": "ExcludedRules",
    "response_header": "ResponseHeaders",
    "insert_header": "InsertHeaders",
    "managed_rule_group_configs": "ManagedRuleGroupConfigs",
    "regular_expression": "RegularExpressionList",
    "custom_response_body": "CustomResponseBodies",
    "data_protection": "DataProtections",
}
_LISTS = frozenset(
    {
        "rule", "text_transformation", "rule_label", "custom_key", "rule_action_override",
        "excluded_rule", "response_header", "insert_header", "managed_rule_group_configs",
        "regular_expression", "data_protection",
    }
)  # fmt: skip
_KEEP_EMPTY = frozenset({"addresses", "regular_expression", "country_codes"})  # required lists
# Terraform's own attributes, not the API's.
_DROP = frozenset(
    {"lock_token", "tags", "tags_all", "region", "name_prefix", "application_integration_url", "rule_json"}
)


@dataclass(frozen=True, slots=True)
class TfResource:
    address: str  # aws_wafv2_web_acl.main, module.waf.aws_wafv2_ip_set.bad
    type: str
    name: str
    values: JObject


@dataclass
class TfDocument:
    """One resource in the API's form, with what the loader needs around it."""

    kind: str
    address: str
    value: JObject
    paths: dict[str, str] = field(default_factory=dict)  # API path -> Terraform path
    siblings: dict[str, tuple[str, JObject, TfDocument]] = field(default_factory=dict)  # arn -> (kind, ..)


def is_terraform(value: JValue) -> bool:
    """`terraform show -json` output (state or plan)."""
    return (
        isinstance(value, JObject)
        and value.get("format_version") is not None
        and any(isinstance(value.get(k), JObject) for k in ("values", "planned_values"))
    )


def _modules(module: JValue) -> list[JObject]:
    out: list[JObject] = []
    stack = [module]
    while stack:
        m = stack.pop()
        if not isinstance(m, JObject):
            continue
        out.append(m)
        children = m.get("child_modules")
        if isinstance(children, JArray):
            stack.extend(reversed(children.items))
    return out


def terraform_resources(value: JValue) -> list[TfResource]:
    """The WAFv2 resources of a state or plan output, in their order."""
    assert isinstance(value, JObject)
    top = value.get("values") or value.get("planned_values")
    root = top.get("root_module") if isinstance(top, JObject) else None
    found = []
    for module in _modules(root) if root is not None else []:
        resources = module.get("resources")
        for res in resources.items if isinstance(resources, JArray) else ():
            if not isinstance(res, JObject):
                continue
            rtype, address, values = res.get("type"), res.get("address"), res.get("values")
            mode = res.get("mode")
            if isinstance(mode, JString) and mode.value != "managed":
                continue  # data sources describe what exists elsewhere
            if isinstance(rtype, JString) and rtype.value in TF_TYPES and isinstance(address, JString):
                name = res.get("name")
                found.append(
                    TfResource(
                        address.value,
                        rtype.value,
                        name.value if isinstance(name, JString) else address.value,
                        values if isinstance(values, JObject) else JObject((), res.line, res.column),
                    )
                )
    return found


def _is_obj(node: JValue) -> bool:
    return isinstance(node, JObject)


def _api_name(key: str) -> str:
    return _NAMES.get(key) or "".join(part[:1].upper() + part[1:] for part in key.split("_"))


def _join(base: str, member: str | int) -> str:
    if isinstance(member, int):
        return f"{base}[{member}]"
    if not member.replace("_", "a").isalnum() or not member[:1].isalpha():
        return f"{base}[{member!r}]"
    return f"{base}.{member}" if base else member


class _Converter:
    def __init__(self, resolve_arn: ArnLookup) -> None:
        self.paths: dict[str, str] = {}
        self.resolve_arn = resolve_arn

    def value(self, node: JValue, tf: str, api: str, parent: str) -> JValue | None:
        """The API form of `node`; None when it is absent (null, "", an empty block list)."""
        self.paths[api] = tf
        if isinstance(node, JNull):
            return None
        if isinstance(node, JString) and node.value == "":
            return None
        if isinstance(node, JObject):
            return self.obj(node, tf, api, parent)
        if isinstance(node, JArray):
            return JArray(
                tuple(
                    v
                    for i, item in enumerate(node.items)
                    if (v := self.value(item, f"{tf}[{i}]", f"{api}[{i}]", parent)) is not None
                ),
                node.line,
                node.column,
            )
        return node

    def obj(self, node: JObject, tf: str, api: str, parent: str) -> JObject:
        members: list[JMember] = []
        for m in node.members:
            key, child = m.key, m.value
            if key in _DROP or (key == "id" and api != ""):
                continue
            name = _api_name(key)
            if parent == "request_body":  # AssociationConfig.RequestBody is keyed by resource type
                name = key.upper()
            if key == "statement" and parent in ("and_statement", "or_statement"):
                name = "Statements"
            sub_tf, sub_api = _join(tf, key), _join(api, name)
            if isinstance(child, JArray) and key == "custom_response_body":
                converted: JValue | None = self.bodies(child, sub_tf, sub_api)
            elif isinstance(child, JArray) and (key in _LISTS or name == "Statements"):
                items: list[JValue] = []
                for i, item in enumerate(child.items):
                    v = self.value(item, f"{sub_tf}[{i}]", f"{sub_api}[{len(items)}]", key)
                    if v is not None:
                        items.append(v)
                converted = JArray(tuple(items), child.line, child.column)
                if not items and key not in _KEEP_EMPTY:
                    converted = None
            elif (
                isinstance(child, JArray) and child.items and all(isinstance(i, JObject) for i in child.items)
            ):
                if len(child.items) == 1:  # a block of at most one: the object itself
                    self.paths[sub_api] = f"{sub_tf}[0]"
                    converted = self.value(child.items[0], f"{sub_tf}[0]", sub_api, key)
                else:
                    converted = self.value(child, sub_tf, sub_api, key)
            elif isinstance(child, JArray) and not child.items and key not in _KEEP_EMPTY:
                converted = None  # an empty block list, or an empty set Terraform writes for unset
            else:
                converted = self.value(child, sub_tf, sub_api, key)
            if converted is not None:
                members.append(JMember(name, m.key_line, m.key_column, converted))
        if parent.endswith("_reference_statement") and node.get("arn") is None:
            arn = self.resolve_arn(tf)
            if arn is not None:
                members.insert(
                    0, JMember("ARN", node.line, node.column, JString(arn, node.line, node.column))
                )
        return JObject(tuple(members), node.line, node.column)

    def bodies(self, node: JArray, tf: str, api: str) -> JObject | None:
        """`custom_response_body[]{key, content, content_type}` -> the API's map key -> body."""
        members = []
        for i, item in enumerate(node.items):
            if not isinstance(item, JObject):
                continue
            key = item.get("key")
            label = key.value if isinstance(key, JString) else str(i)
            rest = JObject(tuple(m for m in item.members if m.key != "key"), item.line, item.column)
            converted = self.value(rest, f"{tf}[{i}]", _join(api, label), "custom_response_body")
            if converted is not None:
                members.append(JMember(label, item.line, item.column, converted))
        return JObject(tuple(members), node.line, node.column) if members else None


def _at_node(value: JValue, where: JValue) -> JValue:
    """`value` (positionless) with every node placed where `where` is written."""
    at = (where.line, where.column)
    if isinstance(value, JObject):
        members = (JMember(m.key, *at, _at_node(m.value, where)) for m in value.members)
        return JObject(tuple(members), *at)
    if isinstance(value, JArray):
        return JArray(tuple(_at_node(v, where) for v in value.items), *at)
    return replace(value, line=at[0], column=at[1])


def _synthetic(kind: str, res: TfResource, account: str) -> str:
    name, scope = res.values.get("name"), res.values.get("scope")
    where = "global" if isinstance(scope, JString) and scope.value == "CLOUDFRONT" else "regional"
    shown = name.value if isinstance(name, JString) else res.name
    return f"arn:aws:wafv2:us-east-1:{account}:{where}/{_ARN_KIND[kind]}/{shown}/{res.address}"


def _arn_of(res: TfResource, account: str) -> str:
    arn = res.values.get("arn")
    if isinstance(arn, JString) and arn.value:
        return arn.value
    return _synthetic(TF_TYPES[res.type], res, account)


def _fail(message: str, node: JValue, source: str | None) -> RulesetErrors:
    error = RulesetError(message, line=node.line, column=node.column, source=source)
    return RulesetErrors([error], source=source)


def _convert(res: TfResource, output: JObject, arns: dict[str, str], account: str) -> TfDocument:
    kind = TF_TYPES[res.type]
    converter = _Converter(ArnLookup(output, res.address, res.values, arns))
    value = converter.obj(res.values, res.address, "", res.type)
    rule_json = res.values.get("rule_json")
    if isinstance(rule_json, JString) and rule_json.value.strip():
        # The API's own form, as a JSON string: positions inside it would not be the file's, so
        # its errors carry the string's position and their path.
        try:
            rules = _at_node(from_python(json.loads(rule_json.value)), rule_json)
        except (ValueError, TypeError, RecursionError) as exc:
            error = RulesetError(
                f"rule_json is not JSON that wafpy can read: {exc}",
                json_path=f"{res.address}.rule_json",
                line=rule_json.line,
                column=rule_json.column,
            )
            raise RulesetErrors([error]) from None
        value = JObject(
            (*(m for m in value.members if m.key != "Rules"), JMember("Rules", None, None, rules)),
            value.line,
            value.column,
        )
        converter.paths["Rules"] = f"{res.address}.rule_json"
    if value.get("ARN") is None:  # a plan: the ARN is not known yet
        value = JObject(
            (*value.members, JMember("ARN", None, None, JString(arns[res.address]))), value.line, value.column
        )
    if kind in ("WebACL", "RuleGroup", "IPSet", "RegexPatternSet") and value.get("Id") is None:
        value = JObject(
            (*value.members, JMember("Id", None, None, JString(res.name))), value.line, value.column
        )
    converter.paths[""] = res.address
    return TfDocument(kind, res.address, value, converter.paths)


def terraform_document(
    output: JValue,
    kind: str,
    *,
    address: str | None = None,
    account: str = "000000000000",
    source: str | None = None,
) -> TfDocument:
    """The `kind` resource of a state or plan output (the only one, or the one at `address`),
    in the API's form, with the output's other WAFv2 resources as `siblings` by ARN."""
    assert isinstance(output, JObject)
    resources = terraform_resources(output)
    arns = {r.address: _arn_of(r, account) for r in resources}
    matching = [r for r in resources if TF_TYPES[r.type] == kind]
    if address is not None:
        matching = [r for r in matching if r.address == address]
    if len(matching) != 1:
        listed = ", ".join(r.address for r in resources) or "no WAFv2 resources"
        what = "no" if not matching else f"{len(matching)}"
        tf_type = next(t for t, k in TF_TYPES.items() if k == kind)
        hint = "" if not matching else "; choose one by address"
        raise _fail(f"the Terraform output has {what} {tf_type} resources ({listed}){hint}", output, source)
    chosen = _convert(matching[0], output, arns, account)
    for res in resources:
        if res is not matching[0] and TF_TYPES[res.type] != "WebACL":
            doc = _convert(res, output, arns, account)
            chosen.siblings[arns[res.address]] = (doc.kind, doc.value, doc)
    return chosen


def terraform_entries(output: JValue, account: str = "000000000000") -> list[tuple[str, str, JObject]]:
    """(ARN, Terraform address, API form) of every IP set, regex pattern set and rule group of a
    state or plan output: what a resources file in Terraform's form supplies."""
    assert isinstance(output, JObject)
    resources = terraform_resources(output)
    arns = {r.address: _arn_of(r, account) for r in resources}
    return [
        (arns[r.address], r.address, _convert(r, output, arns, account).value)
        for r in resources
        if TF_TYPES[r.type] != "WebACL"
    ]


def translate_errors(exc: RulesetErrors, doc: TfDocument) -> RulesetErrors:
    """The same errors, their paths in Terraform's terms (`aws_wafv2_web_acl.main.rule[3]...`)."""
    others = {d.address: d for _, _, d in doc.siblings.values()}
    out = []
    for e in exc.errors:
        path = e.json_path
        address = next((a for a in others if path == a or path.startswith(f"{a}.")), None)
        if address is not None:  # an error in a referenced resource: its own address and names
            inner = path[len(address) :].lstrip(".")
            translated = translate_path(inner, others[address].paths)
        else:
            translated = translate_path(path, doc.paths)
        out.append(e.at(translated))
    return RulesetErrors(out, source=exc.source)


def translate_path(path: str, paths: dict[str, str]) -> str:
    """The longest known API path that `path` starts with, in Terraform's terms, plus the rest."""
    probe = path
    while True:
        if probe in paths:
            rest = path[len(probe) :]
            return paths[probe] + rest
        cut = max(probe.rfind("."), probe.rfind("["))
        if cut <= 0:
            return paths.get("", "") + ("." + path if path else "")
        probe = probe[:cut]
