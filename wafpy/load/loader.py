"""Load a web ACL or rule group document into the typed model (`wafpy.model`).

read (path, text, bytes or dict) -> parse -> unwrap (bare / get-* output / CloudFormation) ->
validate against the API shapes -> build nodes, resolving ARNs -> semantic checks. Every problem of
the document is collected and raised together as `RulesetErrors`; nothing is half-loaded.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from wafpy import model as ast
from wafpy.errors import NotAvailableError, ResourceError, RulesetError, RulesetErrors
from wafpy.load.build import (
    DEFAULT_ACCOUNT,
    build_ip_set,
    build_regex_pattern_set,
    build_rule_group,
    build_web_acl,
)
from wafpy.load.build_parts import Context
from wafpy.load.iplists import IpListsSpec
from wafpy.load.jsontree import JObject, JString, JValue
from wafpy.load.managed import (
    ManagedChoice,
    ManagedSpec,
    ManagedWarning,
    managed_rules,
    managed_warnings,
    parse_managed,
    unavailable_message,
)
from wafpy.load.reading import RESOURCE_SUFFIXES, Source, expand_resource_paths, read_source
from wafpy.load.resources import (
    Entry,
    LoadEntry,
    MappingResolver,
    NullResolver,
    ResourceKind,
    ResourceResolver,
    entries_of,
)
from wafpy.load.terraform import is_terraform, terraform_document, translate_errors
from wafpy.load.validate import nesting_error, validate_document

__all__ = [
    "RESOURCE_SUFFIXES",
    "Loaded",
    "document_object",
    "expand_resource_paths",
    "load_rule_group_model",
    "load_value",
    "load_web_acl_model",
    "mapping_resolver",
    "read_source",
    "resolver_from_files",
    "split_resources",
]

Kind = Literal["WebACL", "RuleGroup", "IPSet", "RegexPatternSet"]
Origin = Literal["api", "cloudformation", "bare"]
SearchString = Literal["auto", "base64", "text"]
Resources = Mapping[str, Any] | Iterable[str | os.PathLike[str]] | str | os.PathLike[str]
_BUILDERS = {
    "WebACL": build_web_acl,
    "RuleGroup": build_rule_group,
    "IPSet": build_ip_set,
    "RegexPatternSet": build_regex_pattern_set,
}


@dataclass(frozen=True)
class Loaded:
    model: ast.WebACL | ast.RuleGroup | ast.IPSet | ast.RegexPatternSet
    source: str
    origin: Origin
    # managed rule groups nothing supplied: ("AWS/AWSManagedRulesCommonRuleSet", json path)
    managed_missing: tuple[tuple[str, str], ...] = field(default=())
    managed: ManagedChoice = field(default=ManagedChoice())  # how managed groups were asked for

    @property
    def managed_warnings(self) -> tuple[ManagedWarning, ...]:
        """Managed groups evaluated as "no inner rule matched" (managed="none")."""
        return managed_warnings(self.model)


def _cfn_type(value: JValue) -> str | None:
    rtype = value.get("Type") if isinstance(value, JObject) else None
    return rtype.value if isinstance(rtype, JString) else None


def _unwrap(
    value: JValue, kind: Kind, logical_id: str | None, account: str | None, source: str
) -> tuple[JValue, str, Origin, str | None, dict[str, Entry]]:
    """(object, JSON path prefix, origin, logical id, sibling resources by ARN) of the `kind` document."""
    prefix = ""
    if isinstance(value, JObject) and value.members and all(_cfn_type(m.value) for m in value.members):
        # {"LogicalId": {"Type": "AWS::WAFv2::...", "Properties": ...}}, as the CloudFormation guide prints.
        chosen = [m for m in value.members if _cfn_type(m.value) == f"AWS::WAFv2::{kind}"]
        if len(chosen) == 1:
            prefix, logical_id, value = chosen[0].key, chosen[0].key, chosen[0].value
    try:
        from wafpy.load.documents import unwrap
    except ImportError:  # pragma: no cover - documents.py ships with wafpy
        return value, prefix, "bare", logical_id, {}
    try:
        u = unwrap(value, expect=kind, logical_id=logical_id, account=account)
    except RulesetError as exc:
        path = f"{prefix}.{exc.json_path}" if prefix and exc.json_path else (exc.json_path or prefix)
        raise RulesetErrors(
            [
                RulesetError(
                    exc.message,
                    json_path=path,
                    line=exc.line,
                    column=exc.column,
                    value=exc.value,
                    expected=exc.expected,
                    source=source,
                )
            ],
            source=source,
        ) from None
    path = f"{prefix}.{u.path}" if prefix and u.path else (u.path or prefix)
    siblings = {
        arn: Entry(props, source, "", "cloudformation") for arn, props in getattr(u, "arns", {}).items()
    }
    return u.value, path, u.origin, u.logical_id or logical_id, siblings


# The document object of a parsed value (unwrapped from get-* output or a template).
document_object = _unwrap


def _resolver(
    resources: Resources | None, resolver: ResourceResolver | None, mode: SearchString, account: str | None
) -> ResourceResolver:
    base: ResourceResolver | None = None
    if isinstance(resources, Mapping):
        base = mapping_resolver(resources, search_string=mode, account=account)
    elif isinstance(resources, (str, os.PathLike)):  # one path, not an iterable of characters
        base = resolver_from_files([resources], search_string=mode, account=account)
    elif resources is not None:
        base = resolver_from_files(resources, search_string=mode, account=account)
    if resolver is None:
        return base or NullResolver()
    if base is None:
        return resolver
    return _Chain(resolver, base)


class _Chain:
    """Try the caller's resolver first, then the supplied resources."""

    def __init__(self, first: ResourceResolver, second: ResourceResolver) -> None:
        self.first, self.second = first, second

    def _try(self, method: str, arn: str) -> Any:
        try:
            return getattr(self.first, method)(arn)
        except ResourceError:
            return getattr(self.second, method)(arn)

    def ip_set(self, arn: str) -> ast.IPSet:
        return self._try("ip_set", arn)  # type: ignore[no-any-return]

    def regex_pattern_set(self, arn: str) -> ast.RegexPatternSet:
        return self._try("regex_pattern_set", arn)  # type: ignore[no-any-return]

    def rule_group(self, arn: str) -> ast.RuleGroup:
        return self._try("rule_group", arn)  # type: ignore[no-any-return]

    def managed_rule_group(self, vendor: str, name: str, version: str | None) -> ast.RuleGroup | None:
        return self.first.managed_rule_group(vendor, name, version) or self.second.managed_rule_group(
            vendor, name, version
        )


def load_value(
    value: JValue,
    kind: Kind,
    *,
    source: str = "<object>",
    path: str | None = None,
    origin: Origin | None = None,
    logical_id: str | None = None,
    search_string: SearchString = "auto",
    account: str | None = None,
    resolver: ResourceResolver | None = None,
    managed: ManagedChoice | None = None,
    managed_resources: tuple[str, ...] = (),
) -> Loaded:
    """Validate and build one document already in JSON form; raise RulesetErrors with all problems.

    With `path`/`origin` given, `value` is the document object itself (no unwrapping). `managed`
    says where managed rule groups the resolver does not supply come from (`parse_managed`).
    """
    siblings: dict[str, Entry] = {}
    # Unwrapping, template resolution and building recurse: refuse deep nesting before them.
    if (deep := nesting_error(value, path=path or "", source=source)) is not None:
        raise RulesetErrors([deep], source=source)
    if (path is None or origin is None) and is_terraform(value):
        return _load_terraform(
            value,
            kind,
            source=source,
            address=logical_id,
            search_string=search_string,
            account=account,
            resolver=resolver,
            managed=managed,
        )
    if path is None or origin is None:
        obj, prefix, detected, logical_id, siblings = _unwrap(value, kind, logical_id, account, source)
        if path:
            prefix = f"{path}.{prefix}" if prefix else path
    else:
        obj, prefix, detected = value, path, origin
        if isinstance(value, JObject) and kind in value.keys() and set(value.keys()) <= {kind, "LockToken"}:  # noqa: SIM118
            obj, inner, detected, _, _ = _unwrap(value, kind, logical_id, account, source)
            prefix = f"{path}.{inner}" if path else inner
    mode: Literal["base64", "text"] = (
        search_string if search_string != "auto" else ("base64" if detected == "api" else "text")
    )
    errors = validate_document(obj, kind, origin=detected, path=prefix, source=source)
    base: ResourceResolver = resolver or NullResolver()
    if siblings:  # resources defined in the same template (Fn::GetAtt X.Arn)
        local = mapping_resolver(siblings, search_string=search_string, account=account)
        base = _Chain(local, base)
    choice = managed or ManagedChoice()
    rules = managed_rules(
        choice,
        read=read_source,
        load=_entry_loader(search_string, account),
        resolver=base,
        resources=managed_resources,
        load_bundled=_entry_loader("auto", account),
    )
    ctx = Context(
        source=source,
        search_string=mode,
        account=account or DEFAULT_ACCOUNT,
        resolver=base,
        managed=rules,
    )
    model = None
    if isinstance(obj, JObject):
        model = _BUILDERS[kind](obj, prefix, ctx, logical_id=logical_id)
    if not errors and not ctx.errors and ctx.broken:
        # Shape validation passed but the builder could not read a part, and said nothing of why
        # (a statement nested too deeply stops its rule with an error of its own): never drop it.
        errors = [
            RulesetError(
                "wafpy could not build this part although it matches the API shapes (please "
                "report this as a wafpy bug)",
                json_path=p,
                source=source,
            )
            for p in ctx.broken
        ]
    errors += ctx.errors
    if errors or model is None:
        if not errors:
            errors = [RulesetError(f"the document is not a {kind}", json_path=prefix, source=source)]
        raise RulesetErrors(_dedupe(errors), source=source)
    return Loaded(model, source, detected, tuple(ctx.managed_missing), choice)


def _load_terraform(
    value: JValue,
    kind: Kind,
    *,
    source: str,
    address: str | None,
    search_string: SearchString,
    account: str | None,
    resolver: ResourceResolver | None,
    managed: ManagedChoice | None,
) -> Loaded:
    """A `terraform show -json` output: its `kind` resource in the API's form (`wafpy.load.terraform`),
    the output's other WAFv2 resources resolvable by ARN, errors at Terraform addresses."""
    try:
        doc = terraform_document(
            value, kind, address=address, account=account or DEFAULT_ACCOUNT, source=source
        )
    except RulesetErrors as exc:
        raise RulesetErrors(exc.errors, source=source) from None
    base: ResourceResolver = resolver or NullResolver()
    if doc.siblings:
        # Errors in a referenced resource read from its address: aws_wafv2_ip_set.bad.Addresses[0].
        entries = {arn: Entry(v, source, d.address, "bare") for arn, (_, v, d) in doc.siblings.items()}
        base = _Chain(mapping_resolver(entries, search_string=search_string, account=account), base)
    try:
        return load_value(
            doc.value,
            kind,
            source=source,
            path="",
            origin="bare",  # the API's members; search_string is text, as the provider takes it
            search_string=search_string,
            account=account,
            resolver=base,
            managed=managed,
        )
    except RulesetErrors as exc:
        raise translate_errors(exc, doc) from None


def _entry_loader(search_string: SearchString, account: str | None) -> LoadEntry:
    """How a `MappingResolver` builds the documents it resolves: `load_value`, with these settings."""

    def load(
        entry: Entry, kind: ResourceKind, resolver: ResourceResolver
    ) -> ast.IPSet | ast.RegexPatternSet | ast.RuleGroup | ast.WebACL:
        return load_value(
            entry.value,
            kind,
            source=entry.source,
            path=entry.path,
            origin=entry.origin,
            logical_id=entry.logical_id,
            search_string=search_string,
            account=account,
            resolver=resolver,
        ).model

    return load


def mapping_resolver(
    docs: Mapping[str, Any] | None = None,
    *,
    search_string: SearchString = "auto",
    account: str | None = None,
    managed: Mapping[str, Any] | None = None,
) -> MappingResolver:
    """A resolver over a mapping ARN -> document, building each document with the loader."""
    return MappingResolver(docs, load=_entry_loader(search_string, account), managed=managed)


def resolver_from_files(
    paths: Iterable[str | os.PathLike[str]],
    *,
    search_string: SearchString = "auto",
    account: str | None = None,
    managed: Mapping[str, Any] | None = None,
) -> MappingResolver:
    """A resolver over files or folders: get-* outputs, CloudFormation templates, or ARN -> document
    bundles (a folder: see `expand_resource_paths`).

    CloudFormation resources have no ARN; they are registered under
    `arn:aws:wafv2:us-east-1:<account>:regional/<ipset|regexpatternset|rulegroup>/<Name>/<LogicalId>`.
    """
    docs: dict[str, Entry] = {}
    for p in expand_resource_paths(paths):
        value, source = read_source(p)
        for arn, entry in entries_of(value, source, account or "000000000000"):
            docs[arn] = entry
    return mapping_resolver(docs, search_string=search_string, account=account, managed=managed)


def _dedupe(errors: list[RulesetError]) -> list[RulesetError]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for e in errors:
        key = (e.source, e.json_path, e.message)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def load_document(
    source: Source,
    kind: Kind,
    *,
    resources: Resources | None = None,
    account: str | None = None,
    search_string: SearchString = "auto",
    resolver: ResourceResolver | None = None,
    managed: ManagedSpec = None,
    managed_ip_lists: IpListsSpec = None,
) -> Loaded:
    """Like load_web_acl_model but returns the `Loaded` record and tolerates unavailable managed groups.

    A managed rule group comes from `resolver` when its `managed_rule_group()` returns one, else
    from the `managed=` choice (`wafpy.load.managed`); the ones neither supplies are listed in
    `Loaded.managed_missing`. Raises ValueError for a malformed `managed` value.
    """
    choice = parse_managed(managed, managed_ip_lists)
    value, name = read_source(source)
    mode = search_string
    resources, files = split_resources(resources)
    return load_value(
        value,
        kind,
        source=name,
        search_string=mode,
        account=account,
        resolver=_resolver(resources, resolver, mode, account),
        managed=choice,
        managed_resources=files,
    )


def split_resources(resources: Resources | None) -> tuple[Resources | None, tuple[str, ...]]:
    """(`resources` for the resolver, the resource files): one path or a list of paths and folders
    become the files they stand for (`expand_resource_paths`); a mapping has no files."""
    if resources is None or isinstance(resources, Mapping):
        return resources, ()
    if isinstance(resources, (str, os.PathLike)):  # one path, not an iterable of characters
        resources = [resources]
    files = tuple(expand_resource_paths(resources))
    return files, files


def _raise_unavailable(loaded: Loaded) -> None:
    """Refuse what cannot be evaluated: managed groups nothing supplied."""
    if loaded.managed_missing:
        raise NotAvailableError(unavailable_message(loaded.managed_missing, loaded.managed))


def load_web_acl_model(
    source: Source,
    *,
    resources: Resources | None = None,
    account: str | None = None,
    search_string: SearchString = "auto",
    resolver: ResourceResolver | None = None,
    managed: ManagedSpec = None,
    managed_ip_lists: IpListsSpec = None,
) -> ast.WebACL:
    """Load a web ACL: a path, JSON text, bytes or a parsed dict; bare, get-web-acl output or CloudFormation.

    `search_string`: "base64" (get-* output), "text" (CloudFormation, conformance files) or "auto"
    (base64 for get-* output, text otherwise). `resources`: mapping ARN -> document, or files.
    `managed`: how managed rule groups are evaluated (`wafpy.load.managed`): a path or list of paths
    of rule group files, "none", "bundled" (with paths too) or "log" (replayed from AWS WAF log
    records); `resolver` is asked first. `managed_ip_lists` (with "bundled"): the user's lists for
    the bundled IP-list groups (`wafpy.load.iplists`).
    Raises RulesetErrors (every problem) or NotAvailableError (a managed rule group nothing supplies,
    or one "bundled" cannot give).
    """
    loaded = load_document(
        source,
        "WebACL",
        resources=resources,
        account=account,
        search_string=search_string,
        resolver=resolver,
        managed=managed,
        managed_ip_lists=managed_ip_lists,
    )
    _raise_unavailable(loaded)
    assert isinstance(loaded.model, ast.WebACL)
    return loaded.model


def load_rule_group_model(
    source: Source,
    *,
    resources: Resources | None = None,
    account: str | None = None,
    search_string: SearchString = "auto",
    resolver: ResourceResolver | None = None,
) -> ast.RuleGroup:
    """Load a rule group (bare, get-rule-group output or CloudFormation); see load_web_acl_model."""
    loaded = load_document(
        source,
        "RuleGroup",
        resources=resources,
        account=account,
        search_string=search_string,
        resolver=resolver,
    )
    _raise_unavailable(loaded)
    assert isinstance(loaded.model, ast.RuleGroup)
    return loaded.model
