"""How managed rule groups are evaluated: the one `managed=` choice, and rule groups read from files.

AWS does not publish the rules inside its managed rule groups
(https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-list.html), so a web
ACL with a `ManagedRuleGroupStatement` can be evaluated offline only once the user says how
(`managed=` in Python, `--managed` on the command line):

- a path, or several: files or folders of rule groups (`aws wafv2 get-rule-group` output, a bare
  `RuleGroup` object, or a CloudFormation template), matched by VendorName + Name (+ Version) and
  searched in order; the first match wins;
- `"none"`: the group is evaluated as "no inner rule matched", never silently: the loaded web ACL
  lists each such group (`managed_warnings`);
- `"bundled"`: the project's own equivalents, `rulesets/managed/` (`wafpy.load.bundled`), each inner
  rule with its fidelity tier; combinable with paths, searched in the order written
  (`["my-groups/", "bundled"]`: the user's files first). The groups that stand on AWS's private data
  are refused by name; the two IP-list groups evaluate the user's lists (`ip_lists=`,
  `wafpy.load.iplists`);
- `"log"`: each group's outcome taken from the AWS WAF log record being replayed (`wafpy eval` on
  AWS WAF logs): the group is built without rules and marked `rules_from="log"`, and the engine
  rebuilds its outcome from `Request.logged_groups`; a request that carries none is undetermined;
- nothing (None): a web ACL with a managed group fails at load, naming the groups and the choices.

`parse_managed` is the only place that reads what the user wrote. The loader consults the choice
after the caller's `resolver=`, which keeps precedence (see `wafpy.load.loader.load_document`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol, TypeAlias

from wafpy import model as ast
from wafpy.load.bundled import BundledRules, why_not_bundled
from wafpy.load.groupfiles import GroupFiles
from wafpy.load.iplists import IpListsSpec, read_ip_lists
from wafpy.load.jsontree import JValue
from wafpy.load.resources import LoadEntry, ResourceResolver
from wafpy.loggedgroups import MANAGED_LABEL_NAMESPACES

__all__ = [
    "KEYWORDS",
    "UNSPECIFIED_CHOICES",
    "IpListsSpec",
    "ManagedChoice",
    "ManagedRules",
    "ManagedSpec",
    "ManagedWarning",
    "managed_groups",
    "managed_rules",
    "managed_warnings",
    "parse_managed",
    "unavailable_message",
]

Mode = Literal["unset", "none", "bundled", "log", "files"]
KEYWORDS: Final = ("none", "bundled", "log")
ManagedSpec: TypeAlias = "str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | ManagedChoice | None"

# What AWS leaves to wafpy here (docs/unspecified.md lists each key; tests/test_docs.py checks it).
UNSPECIFIED_CHOICES: Final[Mapping[str, str]] = {
    "managed rule group files: VendorName": (
        "a RuleGroup document has no vendor: it is the VendorName member written beside RuleGroup in "
        "get-rule-group output (or in a CloudFormation resource's Metadata), else the <vendor> of a "
        "LabelNamespace awswaf:managed:<vendor>:..., else AWS; compared without regard to case"
    ),
    "managed rule group files: Version": (
        "the Version member beside RuleGroup (or in the resource's Metadata); a statement with a "
        "Version matches files of that Version or of none; a statement without one (AWS's default "
        "version, which wafpy cannot know) matches only files without a Version"
    ),
    "managed rule group files: search order": (
        "paths in the order given, a folder's *.json files sorted by path (hidden ones skipped), a "
        "file's rule groups in document order; the first match wins"
    ),
    "managed rule groups among resources": (
        "without a managed= choice, a rule group in the resource files that names its vendor "
        "(VendorName beside RuleGroup, or a managed label namespace) supplies the managed group of "
        "that vendor, name and version; a managed= choice, when given, decides instead"
    ),
    'managed="bundled": the groups': (
        "wafpy's own equivalents, written by the project (not AWS's rules): "
        "rulesets/managed/<Name>.json (get-rule-group output with VendorName AWS beside it, no "
        "Version: it serves statements with any Version or none; its SearchStrings are base64 "
        "whatever search_string says) with <Name>.fidelity.toml; found in the installed package "
        "(wafpy/rulesets/managed/), else in the source checkout; a group of another vendor, or "
        "not in the folder, is refused by name, listing the bundled ones"
    ),
    'managed="bundled": fidelity tiers': (
        "each inner rule carries one tier: exact (AWS documents the test fully), "
        "documented-examples (built from AWS's description and examples, erring toward fewer "
        "matches) or heuristic (a best guess at an undocumented test), with a one-sentence basis; "
        "the fidelity file must list every rule of the JSON once, in its order, or the group does "
        "not load"
    ),
    'managed="bundled" among paths': (
        '"bundled" may be listed with files and folders (managed=["my-groups/", "bundled"]); the '
        "sources are searched in the order written and the first that has the group wins; none "
        "and log stay alone"
    ),
    'managed="bundled": groups on private data': (
        "Bot Control, ATP, ACFP and anti-DDoS stand on data AWS keeps (signatures, credential "
        'databases, traffic baselines): never bundled, refused by name, pointing to managed="log" '
        "or a file of the user's"
    ),
    'managed="bundled": IP-list groups': (
        "the IP reputation and anonymous IP groups are bundled with AWS's rule names, order, "
        "labels and default actions (AWSManagedIPDDoSList counts) and match the request's origin "
        "IP against the user's lists (managed_ip_lists=, --managed-ip-lists: a JSON object rule "
        "name -> CIDRs, IPv4 and IPv6 mixed, written and masked as in an IP set); every rule of a "
        "group the web ACL uses needs an entry ([] matches nothing), an unknown rule name is an "
        "error; without lists the groups are refused"
    ),
    'managed="none"': (
        "the group is an empty rule group: no inner rule matches, no label is added, the web ACL's "
        "evaluation goes on to the next rule; each such group is listed in managed_warnings"
    ),
    # The engine side of these is wafpy/engine/fromlog.py.
    'managed="log": ruleGroupId': (
        "a managed group's record entry is found by <VendorName>#<Name>, without the Version (as the "
        "real logs write it); the first entry of that id counts"
    ),
    'managed="log": labels of a matched rule': (
        "the record says which labels the request got, not which rule added them: a record label "
        "in the group's namespace whose last component equals a matched rule's name (in any case) "
        "belongs to that rule; the group's other labels (Bot Control categories, signals, token "
        "labels) belong to the group as a whole: kept when the candidate reaches every logged match "
        "(also when none matched), dropped when it stops the group earlier"
    ),
    'managed="log": label namespaces': (
        "the namespace AWS documents for each AWS managed group, plus awswaf:managed:token: for Bot "
        "Control, ATP, ACFP and anti-DDoS; a group wafpy does not know adds no label"
    ),
    'managed="log": excluded rules': (
        "a rule listed only under excludedRules matched as Count at an unknown place: it goes last "
        "among the non-terminating matches; its own action is not in the log, so a candidate that "
        "neither excludes nor overrides it makes the outcome undetermined"
    ),
    'managed="log": Captcha and Challenge tokens': (
        "when AWS applied the same action to that rule, its logged outcome says (terminating: no "
        "valid token; non-terminating: a valid one); otherwise the record's captchaResponse / "
        "challengeResponse; otherwise a request without an aws-waf-token cookie has none "
        "(TOKEN_MISSING); otherwise undetermined. A changed immunity time is not judged again"
    ),
    'managed="log": undetermined': (
        "when the record cannot give the group's outcome, evaluation stops there: the Decision's "
        "action is UNDETERMINED (not an AWS action) with (group, reason) in `undetermined`; the "
        "written record has action UNDETERMINED and a wafpyUndetermined member; summaries, --compare, "
        "the HTML report and --fail-on count these requests apart"
    ),
}

_CHOICES_HINT = (
    'managed="log" (take each group\'s outcome from the AWS WAF log being replayed; `wafpy eval` only), '
    'managed="none" (evaluate it as "no inner rule matched", with a warning), managed="bundled" '
    "(wafpy's open equivalents) or managed=PATH (files or folders of rule groups in get-rule-group "
    "JSON; a list is searched in order); on the command line, --managed"
)


@dataclass(frozen=True)
class ManagedChoice:
    """How managed rule groups are evaluated. Build it with `parse_managed`.

    With mode "bundled", `paths` are the files written with it and `bundled_at` where "bundled"
    stood among them (searched in that order); `ip_lists` feeds the bundled IP-list groups.
    """

    mode: Mode = "unset"
    paths: tuple[str, ...] = ()
    bundled_at: int = 0
    ip_lists: str | tuple[tuple[str, tuple[str, ...]], ...] | None = None

    def __str__(self) -> str:
        if self.mode == "files":
            return "managed=" + ", ".join(self.paths)
        if self.mode == "bundled" and self.paths:
            items = [*self.paths[: self.bundled_at], '"bundled"', *self.paths[self.bundled_at :]]
            return "managed=" + ", ".join(items)
        return f'managed="{self.mode}"' if self.mode != "unset" else "no managed= choice"


def _ip_lists(value: IpListsSpec) -> str | tuple[tuple[str, tuple[str, ...]], ...] | None:
    """`ip_lists=` kept as given: a path, or a mapping frozen into pairs (the choice is a value)."""
    if value is None or isinstance(value, (str, os.PathLike)):
        return None if value is None else os.fspath(value)
    if isinstance(value, Mapping):
        pairs = []
        for rule, cidrs in value.items():
            if not isinstance(rule, str) or isinstance(cidrs, str) or not isinstance(cidrs, Sequence):
                raise ValueError("managed_ip_lists=: expected rule name -> list of CIDRs")
            pairs.append((rule, tuple(str(c) for c in cidrs)))
        return tuple(pairs)
    raise ValueError(f"managed_ip_lists=: expected a path or a mapping, got {type(value).__name__}")


def parse_managed(value: ManagedSpec, ip_lists: IpListsSpec = None) -> ManagedChoice:
    """The user's `managed=` value as a choice: None, "none", "bundled", "log", or path(s), and
    "bundled" among paths. `ip_lists` (a JSON file or a mapping rule name -> CIDRs) feeds the
    bundled IP-list groups.

    A keyword is never a path: write `./none` for a file named `none`. Raises ValueError for an
    empty value, "none" or "log" mixed with other values, or IP lists without "bundled".
    """
    choice = _parse_managed(value)
    if ip_lists is None:
        return choice
    if choice.mode != "bundled":
        raise ValueError('managed_ip_lists= feeds the bundled IP-list groups: it needs managed="bundled"')
    return dataclasses.replace(choice, ip_lists=_ip_lists(ip_lists))


def _parse_managed(value: ManagedSpec) -> ManagedChoice:
    if value is None:
        return ManagedChoice()
    if isinstance(value, ManagedChoice):
        return value
    if isinstance(value, (str, os.PathLike)):
        items: list[object] = [value]
    elif isinstance(value, Sequence):
        items = list(value)
    else:
        raise ValueError(f"managed=: expected a keyword or a path, got {type(value).__name__}")
    if not items:
        raise ValueError("managed=: an empty list names no rule group files")
    paths: list[str] = []
    bundled_at: int | None = None
    for item in items:
        if not isinstance(item, (str, os.PathLike)):
            raise ValueError(f"managed=: expected a keyword or a path, got {type(item).__name__}")
        text = os.fspath(item)
        if not text:
            raise ValueError("managed=: an empty string is neither a keyword nor a path")
        if isinstance(item, str) and text == "bundled":
            if bundled_at is not None:
                raise ValueError('managed="bundled" is given twice')
            bundled_at = len(paths)
            continue
        if isinstance(item, str) and text in KEYWORDS:
            if len(items) > 1:
                raise ValueError(f'managed="{text}" cannot be combined with other values')
            return ManagedChoice(text)  # type: ignore[arg-type]  # one of KEYWORDS
        paths.append(text)
    if bundled_at is not None:
        return ManagedChoice("bundled", tuple(paths), bundled_at)
    return ManagedChoice("files", tuple(paths))


@dataclass(frozen=True)
class ManagedWarning:
    """A managed rule group evaluated as "no inner rule matched" (`managed="none"`)."""

    group: str  # "Vendor/Name" or "Vendor/Name/Version"
    path: str  # JSON path of the ManagedRuleGroupStatement

    def __str__(self) -> str:
        return (
            f"managed rule group {self.group} at {self.path} is evaluated as if no inner rule matched "
            '(managed="none"): its real rules are not applied'
        )


def _group_key(statement: ast.ManagedRuleGroup) -> str:
    version = f"/{statement.version}" if statement.version else ""
    return f"{statement.vendor_name}/{statement.name}{version}"


def managed_groups(acl: ast.WebACL) -> Iterator[tuple[str, str, ast.ManagedRuleGroup]]:
    """("Vendor/Name[/Version]", JSON path, statement) of every managed group, in document order."""
    for section, rules in (
        ("PreProcessFirewallManagerRuleGroups", acl.pre_process_rules),
        ("Rules", acl.rules),
        ("PostProcessFirewallManagerRuleGroups", acl.post_process_rules),
    ):
        for i, rule in enumerate(rules):
            s = rule.statement
            if isinstance(s, ast.ManagedRuleGroup):
                path = s.span.path if s.span is not None and s.span.path else ""
                yield _group_key(s), path or f"{section}[{i}].Statement.ManagedRuleGroupStatement", s


def managed_warnings(model: object) -> tuple[ManagedWarning, ...]:
    """The managed groups of `model` evaluated as "no inner rule matched"."""
    if not isinstance(model, ast.WebACL):
        return ()  # a rule group cannot hold a managed group statement
    groups = managed_groups(model)
    return tuple(ManagedWarning(key, path) for key, path, s in groups if s.rules_from == "none")


def unavailable_message(missing: Sequence[tuple[str, str]], choice: ManagedChoice) -> str:
    """Why the managed groups `missing` ((group, path) pairs) cannot be evaluated, and what to do."""
    listed = ", ".join(f"{group} (at {path})" for group, path in missing)
    plural = len(missing) != 1
    groups = f"managed rule group{'s' if plural else ''} {listed}"
    if choice.mode == "bundled":
        where = f" (not in {', '.join(choice.paths)} either)" if choice.paths else ""
        reasons = []
        for group, path in missing:
            vendor, name = [*group.split("/"), ""][:2]
            reason = why_not_bundled(vendor, name, choice.ip_lists is not None)
            reasons.append(f"managed rule group {group} (at {path}) is not available{where}: {reason}")
        return "; ".join(reasons)
    if choice.mode == "files":
        where = ", ".join(choice.paths)
        return (
            f"{groups}: not found in {where} (matched by VendorName, Name and Version; see "
            f"docs/unspecified.md); add {'them' if plural else 'it'} there, or choose another way: "
            + _CHOICES_HINT
        )
    return (
        f"{groups} cannot be evaluated: AWS does not publish the rules inside managed rule groups. "
        "Choose how to evaluate " + ("them" if plural else "it") + ": " + _CHOICES_HINT
    )


class ManagedRules(Protocol):
    """What the builder asks for a managed group no resolver supplied: (rules, where from) or None."""

    def lookup(self, vendor: str, name: str, version: str | None) -> tuple[ast.RuleGroup, str] | None: ...


class _Nothing:
    """The choice that supplies no rules at load: unset."""

    def lookup(self, vendor: str, name: str, version: str | None) -> tuple[ast.RuleGroup, str] | None:
        return None


class _NoInnerMatch:
    """managed="none": an empty group, so no inner rule matches (the statement records it)."""

    def lookup(self, vendor: str, name: str, version: str | None) -> tuple[ast.RuleGroup, str] | None:
        namespace = f"awswaf:managed:{vendor.lower()}:{name}:"
        group = ast.RuleGroup(name=name, id="", arn="", capacity=None, rules=(), label_namespace=namespace)
        return group, "none"


class _FromLog:
    """managed="log": a group without rules, replayed from each record (the statement records it).

    The label namespace is the one AWS documents for the group, so a later `LabelMatchStatement`
    sees the labels the record gives it; "" for a group wafpy does not know.
    """

    def lookup(self, vendor: str, name: str, version: str | None) -> tuple[ast.RuleGroup, str] | None:
        namespace = MANAGED_LABEL_NAMESPACES.get(name, "") if vendor.upper() == "AWS" else ""
        group = ast.RuleGroup(name=name, id="", arn="", capacity=None, rules=(), label_namespace=namespace)
        return group, "log"


@dataclass(frozen=True)
class _InOrder:
    """Several sources, asked in order (managed=["my-groups/", "bundled"]): the first answer wins."""

    sources: tuple[ManagedRules, ...]

    def lookup(self, vendor: str, name: str, version: str | None) -> tuple[ast.RuleGroup, str] | None:
        for source in self.sources:
            if (found := source.lookup(vendor, name, version)) is not None:
                return found
        return None


def managed_rules(
    choice: ManagedChoice,
    *,
    read: Callable[[str], tuple[JValue, str]],
    load: LoadEntry,
    resolver: ResourceResolver,
    resources: Sequence[str] = (),
    load_bundled: LoadEntry | None = None,
) -> ManagedRules:
    """Where the builder finds a managed group's rules under `choice`. `read` reads one file as
    positioned JSON, `load` builds a rule group, `resolver` resolves what the group references.

    Without a choice, a managed group may come from the caller's resource files (`resources`): a
    rule group there that names its vendor stands for the managed group of that vendor and name.
    A choice, when given, decides (so `wafpy eval` replays from the log even then)."""
    if choice.mode == "unset" and resources:
        return GroupFiles(tuple(resources), read, load, resolver, among_resources=True)
    if choice.mode == "none":
        return _NoInnerMatch()
    if choice.mode == "log":
        return _FromLog()
    if choice.mode == "files":
        return GroupFiles(choice.paths, read, load, resolver)
    if choice.mode == "bundled":
        # The bundled files are get-rule-group output, read as such whatever the caller's
        # search_string (`load_bundled`); the IP lists are read (and checked) once per load.
        lists = None
        if choice.ip_lists is not None:
            spec = choice.ip_lists if isinstance(choice.ip_lists, str) else dict(choice.ip_lists)
            lists = read_ip_lists(spec, read)
        bundled = BundledRules(read, load_bundled or load, resolver, lists)
        before, after = choice.paths[: choice.bundled_at], choice.paths[choice.bundled_at :]
        sources: list[ManagedRules] = []
        if before:
            sources.append(GroupFiles(before, read, load, resolver))
        sources.append(bundled)
        if after:
            sources.append(GroupFiles(after, read, load, resolver))
        return _InOrder(tuple(sources))
    return _Nothing()


# Why a live app (the middleware) refuses managed="log": its requests have no log record to ask.
LOG_IS_REPLAY_ONLY: Final = (
    'managed="log" takes a managed rule group\'s outcome from the AWS WAF log record being replayed '
    '(wafpy eval); a live request has none: choose rule group files, "none" or "bundled"'
)


def from_the_log(model: ast.WebACL) -> list[str]:
    """ "Vendor/Name" of each managed group of `model` loaded with managed="log" (replay only)."""
    return [
        f"{r.statement.vendor_name}/{r.statement.name}"
        for r in model.rules
        if isinstance(r.statement, ast.ManagedRuleGroup) and r.statement.rules_from == "log"
    ]
