"""The WAFv2 API shapes (wafpy/data/wafv2-shapes.json, derived from botocore's service model).

Loaded once per process. `document_shape(kind, origin)` gives the structure a whole document is
checked against: the Create* request members plus the output-only members of the get-* output
(ARN, Id, Capacity, LabelNamespace, ...), plus the few CloudFormation-only members when the
document may come from a template.
"""

from __future__ import annotations

import json
import pkgutil
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from wafpy.matching.re2engine import re2

DocumentKind = Literal["WebACL", "RuleGroup", "IPSet", "RegexPatternSet"]
Origin = Literal["api", "cloudformation", "bare"]

# CloudFormation (AWS::WAFv2::*) members that the API does not have. SearchStringBase64 is the
# base64 alternative to SearchString; Arn/Id/Capacity/LabelNamespace are the resource's return
# values, which CloudFormation exports and tools copy into Properties.
CLOUDFORMATION_EXTRAS: dict[str, dict[str, str]] = {
    "ByteMatchStatement": {"SearchStringBase64": "SearchStringBase64"},
    # CloudFormation spells the reference statements' ARN member "Arn".
    "IPSetReferenceStatement": {"Arn": "ResourceArn"},
    "RegexPatternSetReferenceStatement": {"Arn": "ResourceArn"},
    "RuleGroupReferenceStatement": {"Arn": "ResourceArn"},
    "WebACL": {"Arn": "ResourceArn"},
    "RuleGroup": {"Arn": "ResourceArn"},
    "IPSet": {"Arn": "ResourceArn"},
    "RegexPatternSet": {"Arn": "ResourceArn"},
}
# API member and its CloudFormation alternative: exactly one of the two is required.
ONE_OF_REQUIRED: dict[str, tuple[str, str]] = {
    "ByteMatchStatement": ("SearchString", "SearchStringBase64"),
    "IPSetReferenceStatement": ("ARN", "Arn"),
    "RegexPatternSetReferenceStatement": ("ARN", "Arn"),
    "RuleGroupReferenceStatement": ("ARN", "Arn"),
}
# CloudFormation's AWS::WAFv2::RegexPatternSet lists the patterns as plain strings.
CLOUDFORMATION_STRING_LISTS: dict[str, str] = {"RegularExpressionList": "RegexPatternString"}
_DOCUMENT_KINDS = ("WebACL", "RuleGroup", "IPSet", "RegexPatternSet")

_EXTRA_SHAPES: dict[str, dict[str, Any]] = {"SearchStringBase64": {"type": "string", "min": 1}}


@dataclass(frozen=True, slots=True)
class Shape:
    name: str
    type: str  # structure list map string blob integer long double boolean timestamp
    members: dict[str, str] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    union: bool = False
    deprecated: tuple[str, ...] = ()
    member: str | None = None  # list element shape
    key: str | None = None  # map key shape
    value: str | None = None  # map value shape
    min: int | float | None = None
    max: int | float | None = None
    pattern: str | None = None
    enum: tuple[str, ...] = ()
    output_only: tuple[str, ...] = ()
    cloudformation_only: tuple[str, ...] = ()

    def matches_pattern(self, text: str) -> bool:
        return self.pattern is None or _compiled(self.pattern).fullmatch(text) is not None


@cache
def _raw() -> dict[str, Any]:
    # pkgutil, not importlib.resources: that one imports tempfile, shutil, zipfile, bz2 and lzma
    # (about 1 MB resident) to serve a file the package loader reads directly (even from a zip).
    raw = pkgutil.get_data("wafpy", "data/wafv2-shapes.json")
    if raw is None:  # a loader that cannot read package data
        raise FileNotFoundError("wafpy/data/wafv2-shapes.json is not readable through the package loader")
    data: dict[str, Any] = json.loads(raw.decode("utf-8"))
    return data


@cache
def _compiled(pattern: str) -> Any:
    """Compile a botocore (Java) pattern on RE2, which runs in time linear in the text.

    AWS applies these as whole-string matches (Java `matches()`), so callers use fullmatch. Java's
    `\\w` and `\\d` are ASCII, like RE2's, and `\\p{L}`/`\\p{Z}`/`\\p{N}` mean the same in both.
    Java's `\\s` also holds the vertical tab, RE2's does not (see `_java_spaces`). `(?s)` makes
    `.*`-style patterns accept multi-line text the way the service does in practice.
    """
    return re2.compile("(?s)" + _java_spaces(pattern))


_SPACES = "\\t\\n\\x0b\\f\\r "  # Java's \s: RE2's, plus the vertical tab


def _java_spaces(pattern: str) -> str:
    """`pattern` with Java's `\\s` and `\\S` spelled out, so that both treat `\\x0b` as Java does.

    Inside a class only `\\s` needs it: the model's one class with `\\S` is `[\\s\\S]`, every
    character whichever side the vertical tab falls on.
    """
    out: list[str] = []
    escaped = in_class = False
    for char in pattern:
        if escaped:
            escaped = False
            if char == "s":
                out[-1] = _SPACES if in_class else f"[{_SPACES}]"
                continue
            if char == "S" and not in_class:
                out[-1] = f"[^{_SPACES}]"
                continue
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        out.append(char)
    return "".join(out)


@cache
def shape(name: str) -> Shape:
    """The shape called `name`; KeyError only for names that are not in the model (a wafpy bug)."""
    raw = _EXTRA_SHAPES.get(name) or _raw()["shapes"][name]
    members = dict(raw.get("members", {}))
    if name not in _DOCUMENT_KINDS:  # statements: the walker refuses these in get-* output
        members.update(CLOUDFORMATION_EXTRAS.get(name, {}))
    required = tuple(raw.get("required", ()))
    if name in ONE_OF_REQUIRED:
        required = tuple(r for r in required if r not in ONE_OF_REQUIRED[name])
    return Shape(
        name=name,
        type=raw["type"],
        members=members,
        required=required,
        union=bool(raw.get("union")),
        deprecated=tuple(raw.get("deprecated", ())),
        member=raw.get("member"),
        key=raw.get("key"),
        value=raw.get("value"),
        min=raw.get("min"),
        max=raw.get("max"),
        pattern=raw.get("pattern"),
        enum=tuple(raw.get("enum", ())),
        cloudformation_only=tuple(CLOUDFORMATION_EXTRAS.get(name, {})) if name not in _DOCUMENT_KINDS else (),
    )


@cache
def document_shape(kind: DocumentKind, origin: Origin = "bare") -> Shape:
    """A whole document: Create* members + get-* output members (+ CloudFormation extras).

    Required members are those both shapes require (Name, VisibilityConfig, ... but not Scope,
    which get-* output lacks, nor ARN/Id, which a create request or a template lacks).
    """
    doc = _raw()["documents"][kind]
    create, output = shape(doc["create"]), shape(doc["output"])
    members = {**create.members, **output.members}
    if origin != "api":
        members.update(CLOUDFORMATION_EXTRAS.get(kind, {}))
    required = tuple(r for r in output.required if r in create.required)
    return Shape(
        name=kind,
        type="structure",
        members=members,
        required=required,
        output_only=tuple(doc["output_only"]),
    )


def api_version() -> str:
    return str(_raw()["api_version"])
