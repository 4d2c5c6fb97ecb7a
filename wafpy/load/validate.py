"""Check a positioned JSON document against the WAFv2 API shapes, collecting every problem.

The walker is generic: it knows JSON types, required and unknown members, "exactly one of"
structures, enums, lengths, patterns and numeric ranges from `wafpy.load.schema`. It never raises on
odd input; each problem becomes a RulesetError with JSON path, line, column, value and expectation.
Semantic rules that the shapes cannot express (placement, uniqueness, labels, ...) live in
`wafpy.load.semantics` and run on the built model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from wafpy.errors import ErrorList, RulesetError
from wafpy.load.jsontree import JSON_TYPE_NAMES, JArray, JBool, JNull, JNumber, JObject, JString, JValue
from wafpy.load.schema import (
    CLOUDFORMATION_STRING_LISTS,
    ONE_OF_REQUIRED,
    DocumentKind,
    Origin,
    Shape,
    document_shape,
    shape,
)
from wafpy.load.semantics import LONE_SURROGATE, has_lone_surrogate

__all__ = ["join_path", "nesting_error", "validate_document", "validate_value"]

# A JSON document nested deeper than this is refused before the walk could exhaust the stack;
# the statement-depth rule (20) is far below it.
MAX_JSON_DEPTH = 200
# The loader refuses, before anything walks it, a whole value (document plus a get-* output or
# CloudFormation wrapper) nested deeper than this: unwrapping, template resolution and building
# recurse. The wrappers add a few levels; the walker reports anything between with a full path.
MAX_VALUE_DEPTH = MAX_JSON_DEPTH + 10
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")  # fullmatch: no \Z for a search to rescan to
_INTRINSICS = ("Ref", "Condition")


def join_path(base: str, member: str | int) -> str:
    if isinstance(member, int):
        return f"{base}[{member}]"
    if not _IDENT.fullmatch(member):
        return f"{base}[{member!r}]"
    return f"{base}.{member}" if base else member


def _expected_list(values: tuple[str, ...] | list[str], limit: int = 12) -> str:
    if len(values) <= limit:
        return "one of " + ", ".join(values)
    return "one of " + ", ".join(values[:limit]) + f", ... ({len(values)} values)"


def _closest(word: str, candidates: tuple[str, ...] | list[str]) -> str | None:
    lowered = {c.lower(): c for c in candidates}
    if word.lower() in lowered:
        return lowered[word.lower()]
    import difflib  # only when a name is wrong; not kept in every process

    hits = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return hits[0] if hits else None


@dataclass
class _Walker(ErrorList):
    origin: Origin
    source: str | None
    errors: list[RulesetError] = field(default_factory=list)

    def type_error(self, want: str, path: str, node: JValue) -> None:
        got = JSON_TYPE_NAMES[type(node)]
        if (
            isinstance(node, JObject)
            and len(node.members) == 1
            and (node.members[0].key.startswith("Fn::") or node.members[0].key in _INTRINSICS)
        ):
            self.error(
                f"CloudFormation intrinsic {node.members[0].key} cannot be evaluated; resolve "
                "the template (parameters, conditions) before loading",
                path,
                node,
                expected=want,
            )
            return
        shown = None if isinstance(node, (JObject, JArray)) else _plain(node)
        self.error(f"wrong type: expected {want}, got {got}", path, node, value=shown, expected=want)

    # ------------------------------------------------------------------------------------
    def walk(self, node: JValue, sh: Shape, path: str, depth: int) -> None:
        if depth > MAX_JSON_DEPTH:
            self.error(f"document nested deeper than {MAX_JSON_DEPTH} levels", path, node)
            return
        kind = sh.type
        if kind == "structure":
            self.structure(node, sh, path, depth)
        elif kind == "list":
            self.list_(node, sh, path, depth)
        elif kind == "map":
            self.map_(node, sh, path, depth)
        elif kind in ("string", "blob"):
            self.string(node, sh, path)
        elif kind in ("integer", "long"):
            self.number(node, sh, path, integral=True)
        elif kind in ("double", "float"):
            self.number(node, sh, path, integral=False)
        elif kind == "boolean":
            if not isinstance(node, JBool):
                self.type_error("a boolean (true or false)", path, node)
        elif kind == "timestamp" and not isinstance(node, (JString, JNumber)):
            self.type_error("a timestamp (string or number)", path, node)

    def structure(self, node: JValue, sh: Shape, path: str, depth: int) -> None:
        if not isinstance(node, JObject):
            self.type_error(f"an object ({sh.name})", path, node)
            return
        seen: set[str] = set()
        present: list[str] = []
        valid = tuple(sh.members)
        for m in node.members:
            mpath = join_path(path, m.key)
            if m.key in seen:
                self.error(f"duplicate member {m.key!r}", mpath, None, line=m.key_line, column=m.key_column)
                continue
            seen.add(m.key)
            target = sh.members.get(m.key)
            if target is None:
                self.unknown(m.key, sh, mpath, m.key_line, m.key_column)
                continue
            if m.key in sh.cloudformation_only and self.origin == "api":
                api = ONE_OF_REQUIRED[sh.name][0]
                self.error(
                    f"{m.key} is a CloudFormation member; get-* output uses {api}",
                    mpath,
                    None,
                    line=m.key_line,
                    column=m.key_column,
                )
                continue
            present.append(m.key)
            if m.key in sh.output_only:
                self.output_member(m.value, shape(target), mpath, depth)
            else:
                self.walk(m.value, shape(target), mpath, depth + 1)
        for req in sh.required:
            if req not in seen:
                self.error(
                    f"missing required member {req!r} in {sh.name}",
                    path,
                    node,
                    expected=f"members {', '.join(sh.required)}",
                )
        pair = ONE_OF_REQUIRED.get(sh.name)
        if pair is not None and not seen & set(pair):
            self.error(
                f"missing required member {pair[0]!r} in {sh.name}",
                path,
                node,
                expected=pair[0] + ("" if self.origin == "api" else f" (or CloudFormation's {pair[1]})"),
            )
        elif pair is not None and set(pair) <= seen:
            self.error(f"{pair[0]} and {pair[1]} are alternatives; give only one", path, node)
        if sh.union and len(present) != 1:
            options = [k for k in valid if k not in sh.deprecated]
            if not present and not (seen - set(present)):
                self.error(
                    f"{sh.name} needs exactly one member", path, node, expected=_expected_list(options)
                )
            elif len(present) > 1:
                self.error(
                    f"{sh.name} takes exactly one member, got {len(present)}: {', '.join(present)}",
                    path,
                    node,
                    expected=_expected_list(options),
                )

    def output_member(self, node: JValue, sh: Shape, path: str, depth: int) -> None:
        # Output-only members (ARN, Id, LabelNamespace, Capacity, ...) are AWS's to set: documents
        # copied from the guide carry placeholders like "...-EXAMPLE11111", so only the JSON type
        # is checked for scalars.
        if sh.type in ("string", "blob"):
            if not isinstance(node, JString):
                self.type_error("a string", path, node)
        elif sh.type in ("integer", "long"):
            if not isinstance(node, JNumber) or not isinstance(node.value, int):
                self.type_error("an integer", path, node)
        else:
            self.walk(node, sh, path, depth + 1)

    def unknown(self, key: str, sh: Shape, path: str, line: int | None, column: int | None) -> None:
        valid = tuple(k for k in sh.members if k not in sh.cloudformation_only or self.origin != "api")
        if sh.name in ("RuleAction", "DefaultAction") and key == "Monetize":
            self.error(
                "Monetize is a CloudFront-only action; it is not available for an Application Load "
                "Balancer web ACL",
                path,
                None,
                line=line,
                column=column,
                expected=_expected_list(valid),
            )
            return
        guess = _closest(key, valid)
        hint = f"; did you mean {guess!r}?" if guess else ""
        self.error(
            f"unknown member {key!r} in {sh.name}{hint}",
            path,
            None,
            line=line,
            column=column,
            expected=_expected_list(valid, limit=30),
        )

    def list_(self, node: JValue, sh: Shape, path: str, depth: int) -> None:
        if not isinstance(node, JArray):
            self.type_error(f"an array ({sh.name})", path, node)
            return
        n = len(node.items)
        if sh.min is not None and n < sh.min:
            self.error(
                f"{sh.name} needs at least {int(sh.min)} item{'s' if sh.min != 1 else ''}, got {n}",
                path,
                node,
                expected=f"at least {int(sh.min)}",
            )
        if sh.max is not None and n > sh.max:
            self.error(
                f"{sh.name} takes at most {int(sh.max)} items, got {n}",
                path,
                node,
                expected=f"at most {int(sh.max)}",
            )
        assert sh.member is not None
        element = shape(sh.member)
        alt = CLOUDFORMATION_STRING_LISTS.get(sh.name) if self.origin != "api" else None
        if alt is None and element.type == "string" and not element.enum:
            # Long lists of plain strings (10,000 IP set addresses): check the common valid case
            # without building a JSON path per item; only an item that fails takes the full path.
            low, high, fits = element.min or 0, element.max, element.matches_pattern
            for i, item in enumerate(node.items):
                if not (
                    isinstance(item, JString)
                    and len(item.value) >= low
                    and (high is None or len(item.value) <= high)
                    and fits(item.value)
                    and not has_lone_surrogate(item.value)
                ):
                    self.walk(item, element, join_path(path, i), depth + 1)
            return
        for i, item in enumerate(node.items):
            if alt is not None and isinstance(item, JString):
                self.string(item, shape(alt), join_path(path, i))
            else:
                self.walk(item, element, join_path(path, i), depth + 1)

    def map_(self, node: JValue, sh: Shape, path: str, depth: int) -> None:
        if not isinstance(node, JObject):
            self.type_error(f"an object ({sh.name})", path, node)
            return
        n = len(node.members)
        if sh.min is not None and n < sh.min:
            self.error(
                f"{sh.name} needs at least {int(sh.min)} entr{'ies' if sh.min != 1 else 'y'}",
                path,
                node,
                expected=f"at least {int(sh.min)}",
            )
        if sh.max is not None and n > sh.max:
            self.error(f"{sh.name} takes at most {int(sh.max)} entries, got {n}", path, node)
        assert sh.key is not None and sh.value is not None
        key_shape, value_shape = shape(sh.key), shape(sh.value)
        seen: set[str] = set()
        for m in node.members:
            mpath = join_path(path, m.key)
            if m.key in seen:
                self.error(f"duplicate key {m.key!r}", mpath, None, line=m.key_line, column=m.key_column)
            seen.add(m.key)
            self.string(JString(m.key, m.key_line, m.key_column), key_shape, mpath, what="key")
            self.walk(m.value, value_shape, mpath, depth + 1)

    def string(self, node: JValue, sh: Shape, path: str, what: str = "value") -> None:
        if not isinstance(node, JString):
            self.type_error("a string" if sh.type == "string" else "a string (blob)", path, node)
            return
        text = node.value
        if sh.enum:
            if text not in sh.enum:
                guess = _closest(text, sh.enum)
                hint = f"; did you mean {guess!r}?" if guess else ""
                self.error(
                    f"invalid {sh.name} {what}{hint}",
                    path,
                    node,
                    value=text,
                    expected=_expected_list(sh.enum),
                )
            return
        if sh.type == "blob":
            return  # decoded and measured by the builder (base64 or text, 200 bytes)
        if has_lone_surrogate(text):
            self.error(f"{sh.name} {what} {LONE_SURROGATE}", path, node, value=text, expected="Unicode text")
            return
        if sh.name == "EntityDescription" and text == "":
            return  # get-* output prints an unset description as ""
        if sh.min is not None and len(text) < sh.min:
            self.error(
                f"{sh.name} {what} is too short ({len(text)} characters)",
                path,
                node,
                value=text,
                expected=f"at least {int(sh.min)} characters",
            )
        elif sh.max is not None and len(text) > sh.max:
            self.error(
                f"{sh.name} {what} is too long ({len(text)} characters)",
                path,
                node,
                value=text,
                expected=f"at most {int(sh.max)} characters",
            )
        elif not sh.matches_pattern(text):
            self.error(
                f"{sh.name} {what} does not match the pattern AWS requires",
                path,
                node,
                value=text,
                expected=f"text matching {sh.pattern}",
            )

    def number(self, node: JValue, sh: Shape, path: str, *, integral: bool) -> None:
        if not isinstance(node, JNumber):
            self.type_error("an integer" if integral else "a number", path, node)
            return
        value = node.value
        if integral and not isinstance(value, int):
            self.error(f"{sh.name} must be an integer", path, node, value=value, expected="an integer")
            return
        low, high = sh.min, sh.max
        if (low is not None and value < low) or (high is not None and value > high):
            rng = f"{low if low is not None else '-inf'}..{high if high is not None else 'inf'}"
            self.error(f"{sh.name} out of range", path, node, value=value, expected=f"a number in {rng}")


def nesting_error(value: JValue, *, path: str = "", source: str | None = None) -> RulesetError | None:
    """The error for a value nested deeper than MAX_VALUE_DEPTH (None when it is not), located at
    the first container too deep. Iterative: it never exhausts the stack itself."""
    stack: list[tuple[JValue, int]] = [(value, 0)]
    deep = False
    while stack and not deep:  # depth only first: no path strings for the common shallow case
        node, depth = stack.pop()
        if depth > MAX_VALUE_DEPTH:
            deep = True
        elif isinstance(node, JObject):
            stack.extend((m.value, depth + 1) for m in node.members if isinstance(m.value, (JObject, JArray)))
        elif isinstance(node, JArray):
            stack.extend((item, depth + 1) for item in node.items if isinstance(item, (JObject, JArray)))
    if not deep:
        return None
    located: list[tuple[JValue, int, str]] = [(value, 0, path)]
    while located:
        node, depth, where = located.pop()
        if depth > MAX_VALUE_DEPTH:
            return RulesetError(
                f"document nested deeper than {MAX_JSON_DEPTH} levels",
                json_path=where,
                line=node.line,
                column=node.column,
                source=source,
            )
        if isinstance(node, JObject):
            located.extend((m.value, depth + 1, join_path(where, m.key)) for m in reversed(node.members))
        elif isinstance(node, JArray):
            located.extend(
                (item, depth + 1, join_path(where, i)) for i, item in reversed(list(enumerate(node.items)))
            )
    return None  # pragma: no cover - the first pass found a node this deep


def _plain(node: JValue) -> object:
    if isinstance(node, JNull):
        return None
    if isinstance(node, (JString, JNumber, JBool)):
        return node.value
    return None


def validate_value(
    value: JValue, shape_name: str, *, path: str = "", origin: Origin = "bare", source: str | None = None
) -> list[RulesetError]:
    """Every shape problem of `value` checked as `shape_name` (e.g. "Statement"), located under `path`."""
    walker = _Walker(origin, source)
    walker.walk(value, shape(shape_name), path, 0)
    return walker.errors


def validate_document(
    value: JValue, kind: DocumentKind, *, origin: Origin = "bare", path: str = "", source: str | None = None
) -> list[RulesetError]:
    """Every shape problem of a whole WebACL / RuleGroup / IPSet / RegexPatternSet object."""
    walker = _Walker(origin, source)
    walker.walk(value, document_shape(kind, origin), path, 0)
    return walker.errors
