"""Terraform plans: which resource a reference statement whose `arn` is not known yet points to.

A plan does not know the ARNs of the resources it is about to create; its `configuration`
keeps each expression's references (`aws_wafv2_ip_set.bad.arn`), addressed relative to the
module that holds the resource (https://developer.hashicorp.com/terraform/internals/json-format).
"""

from __future__ import annotations

from wafpy.load.jsontree import JArray, JObject, JString, JValue

__all__ = ["ArnLookup"]


class ArnLookup:
    """The ARN a reference statement without a known `arn` (a plan) points to, from the plan's
    configuration: the expression's references name the resource."""

    def __init__(self, output: JObject, address: str, values: JObject, arns: dict[str, str]) -> None:
        self.arns = arns  # resource address -> ARN (real or synthetic)
        self.address, self.values = address, values
        self.config = _config_resource(output, address)

    def __call__(self, tf_path: str) -> str | None:
        if self.config is None:
            return None
        node: JValue | None = self.config.get("expressions")
        parts = _split(tf_path[len(self.address) + 1 :])
        for n, (key, index) in enumerate(parts):
            node = node.get(key) if isinstance(node, JObject) else None
            if n == 0 and key == "rule" and index is not None and isinstance(node, JArray):
                # The configuration lists rules as written, the plan in its own order: by name.
                node = _rule_named(node, _rule_name(self.values, index))
            elif isinstance(node, JArray):
                node = node.items[index] if index is not None and index < len(node.items) else None
        arn_expr = node.get("arn") if isinstance(node, JObject) else None
        refs = arn_expr.get("references") if isinstance(arn_expr, JObject) else None
        for ref in refs.items if isinstance(refs, JArray) else ():
            if isinstance(ref, JString):
                target = ref.value.removesuffix(".arn")
                prefix = _module_path(self.address)[0]  # references are relative to the module
                for candidate in (f"{prefix}.{target}" if prefix else target, target):
                    if candidate in self.arns:
                        return self.arns[candidate]
        return None


def _rule_name(values: JObject, index: int) -> str | None:
    rules = values.get("rule")
    rule = rules.items[index] if isinstance(rules, JArray) and index < len(rules.items) else None
    name = rule.get("name") if isinstance(rule, JObject) else None
    return name.value if isinstance(name, JString) else None


def _rule_named(rules: JArray, name: str | None) -> JValue | None:
    for rule in rules.items:
        expr = rule.get("name") if isinstance(rule, JObject) else None
        value = expr.get("constant_value") if isinstance(expr, JObject) else None
        if isinstance(value, JString) and value.value == name:
            return rule
    return None


def _split(path: str) -> list[tuple[str, int | None]]:
    out: list[tuple[str, int | None]] = []
    for part in path.split("."):
        if not part:
            continue
        name, _, rest = part.partition("[")
        out.append((name, int(rest.rstrip("]")) if rest else None))
    return out


def _module_path(address: str) -> tuple[str, list[str], str]:
    """`module.waf.aws_wafv2_ip_set.bad` -> ("module.waf", ["waf"], "aws_wafv2_ip_set.bad")."""
    parts = address.split(".")
    calls: list[str] = []
    i = 0
    while i + 1 < len(parts) and parts[i] == "module":
        calls.append(parts[i + 1].partition("[")[0])  # module.waf[0]: the call is "waf"
        i += 2
    return ".".join(parts[:i]), calls, ".".join(parts[i:])


def _config_resource(output: JObject, address: str) -> JObject | None:
    """The configuration block of a resource (inside its module call, addressed relative to it)."""
    config = output.get("configuration")
    module: JValue | None = config.get("root_module") if isinstance(config, JObject) else None
    _, calls, relative = _module_path(address)
    for call in calls:
        module_calls = module.get("module_calls") if isinstance(module, JObject) else None
        called = module_calls.get(call) if isinstance(module_calls, JObject) else None
        module = called.get("module") if isinstance(called, JObject) else None
    resources = module.get("resources") if isinstance(module, JObject) else None
    for res in resources.items if isinstance(resources, JArray) else ():
        if isinstance(res, JObject):
            a = res.get("address")
            if isinstance(a, JString) and a.value == relative:
                return res
    return None
