"""The `JsonBody` field: AWS WAF's tolerant JSON parser and element extraction.

AWS documents the JSON body component in
https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-fields-list.html

AWS's parser is not a validator. It reads ``{"k1":"v1""k2":"v2"}`` (missing comma),
``{"k1":"v1","k2""v2"}`` (missing colon) and ``{"k1"::"v1"}`` (extra colons) as ordinary pairs,
and fails on invalid characters, duplicate keys in one object, truncation, and a root that is not
an object or array. On failure the statement uses `InvalidFallbackBehavior`; when that is absent
it inspects the elements read before the error, so the scanner streams: it emits elements in
document order while it reads and simply stops at the first error.

Elements (waf-rule-statement-fields-list, JSON body): for each node selected by `IncludedPaths` (or
the root for `All`), every object key inside its subtree is a KEY element and every scalar inside it
(or the node itself if it is a scalar) is a VALUE element; the key naming the selected node is not.
Example, path `/a/b` over ``{"a":{"c":"d","b":{"e":{"f":"g"}}}}``: KEY → ``e``, ``f``; VALUE →
``g``; ALL → all three.

Choices where AWS documents nothing (UNSPECIFIED, see docs/unspecified.md):

* strings are inspected JSON-unescaped, without quotes, as UTF-8 (a lone ``\\uD800`` escape is
  encoded as its three surrogate bytes); raw non-UTF-8 bytes inside strings are kept as they are;
* numbers are inspected as their literal source text (``1.50`` stays ``1.50``); ``true``,
  ``false`` and ``null`` as those words;
* array indices are not keys; pointer token ``0`` addresses element 0; ``/`` selects the root;
  a pointer that resolves to nothing yields nothing; a node selected by two overlapping
  pointers is inspected once;
* leniency stops at what AWS documents, plus missing commas between array items (the same
  "value directly after a value" rule as for pairs); a doubled or trailing comma is a failure;
* more than 64 nested containers or more than 10,000 parsed items (keys, scalars, containers)
  is a failure, so hostile input costs bounded time and never recursion in Python.

Valid documents (the common case) take a fast path through the C `json` module, with
`object_pairs_hook` catching duplicate keys; anything it rejects is re-read by the scanner.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = ["MAX_DEPTH", "MAX_ITEMS", "JsonElements", "JsonSelector", "extract", "parse_pointer"]

MAX_DEPTH = 64
MAX_ITEMS = 10_000


@dataclass(frozen=True, slots=True)
class JsonElements:
    """Extraction result: `elements` in document order; `error` is None when parsing succeeded."""

    elements: list[bytes]
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


# A selection state: True = inside a selected subtree, None = nothing below is selected, or the
# pointers (as byte tokens) whose leading tokens match the path so far.
Pointer: TypeAlias = tuple[bytes, ...]
Selection: TypeAlias = "bool | tuple[Pointer, ...] | None"


def parse_pointer(pointer: str) -> Pointer:
    """JSON Pointer → byte tokens; ``/`` (and "") select the root, as AWS accepts ``/``."""
    if pointer in ("", "/"):
        return ()
    parts = pointer.split("/")[1:] if pointer.startswith("/") else pointer.split("/")
    return tuple(p.replace("~1", "/").replace("~0", "~").encode("utf-8") for p in parts)


def _child(sel: Selection, depth: int, token: bytes) -> Selection:
    if sel is True or sel is None or sel is False:
        return sel
    nxt = tuple(p for p in sel if p[depth] == token)
    if not nxt:
        return None
    for p in nxt:
        if len(p) == depth + 1:
            return True
    return nxt


# ------------------------------------------------------------------------------------------------
# Tolerant streaming scanner

_WS = re.compile(rb"[ \t\r\n]*")
# Possessive: only the end of the run is used. A backtracking `(...)*` keeps one saved state per
# colon, and on a long run of colons that bookkeeping grows faster than the run.
_COLONS = re.compile(rb"[ \t\r\n]*+(?::[ \t\r\n]*+)*+")
_PLAIN_STRING = re.compile(rb'"([^"\\\x00-\x1f]*)"')
# The characters and escapes of a string, quotes left out: the closing quote is checked in
# `_read_string`. With the quotes in the pattern a search would rescan to the end from every `"`
# of a `\"\"\"...` run (quadratic); without them it matches wherever it starts. Possessive: a
# string has one reading, so there is nothing to backtrack into.
_STRING_BODY = re.compile(rb'(?:[^"\\\x00-\x1f]++|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*+')
_NUMBER = re.compile(rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
# After a number or a word the next byte must end the token ("01", "truex", "1.e" are invalid).
_TOKEN_CONTINUES = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.+-_")
_ESCAPE = re.compile(
    rb"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})|\\(.)",
    re.DOTALL,
)
_SIMPLE_ESCAPES = {
    b'"': b'"',
    b"\\": b"\\",
    b"/": b"/",
    b"b": b"\b",
    b"f": b"\f",
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
}
_WORDS = {ord("t"): b"true", ord("f"): b"false", ord("n"): b"null"}
_VALUE_START = frozenset(b'"{[-0123456789tfn')
_LBRACE, _RBRACE, _LBRACK, _RBRACK = ord("{"), ord("}"), ord("["), ord("]")
_QUOTE, _COMMA = ord('"'), ord(",")

# Container states
_FIRST, _AFTER_VALUE, _NEED_ITEM = 0, 1, 2


def _unescape_one(m: re.Match[bytes]) -> bytes:
    hi, lo, single, simple = m.groups()
    if hi is not None:
        code = 0x10000 + ((int(hi, 16) - 0xD800) << 10) + (int(lo, 16) - 0xDC00)
        return chr(code).encode("utf-8")
    if single is not None:
        return chr(int(single, 16)).encode("utf-8", "surrogatepass")
    return _SIMPLE_ESCAPES[simple]


def _read_string(data: bytes, pos: int) -> tuple[bytes, int] | None:
    m = _PLAIN_STRING.match(data, pos)
    if m is not None:
        return m.group(1), m.end()
    m = _STRING_BODY.match(data, pos + 1)
    if m is None or not data.startswith(b'"', m.end()):  # never None: `*+` matches the empty string
        return None
    return _ESCAPE.sub(_unescape_one, m.group()), m.end() + 1


def _scan(data: bytes, root: Selection, keys: bool, values: bool) -> JsonElements:
    out: list[bytes] = []
    n = len(data)
    pos = _WS.match(data, 0).end()  # type: ignore[union-attr]  # `*` always matches
    if pos >= n:
        return JsonElements(out, "empty document")
    if data[pos] not in (_LBRACE, _LBRACK):
        return JsonElements(out, "root is not an object or array")
    # Frame: [is_object, selection, seen keys (object) or next index (array), state]
    stack: list[list[Any]] = []
    items = 0
    want_value = True
    sel: Selection = root
    while True:
        pos = _WS.match(data, pos).end()  # type: ignore[union-attr]
        if pos >= n:
            return JsonElements(out, "truncated document")
        c = data[pos]
        if want_value:
            items += 1
            if items > MAX_ITEMS:
                return JsonElements(out, "too many items")
            if c in (_LBRACE, _LBRACK):
                if len(stack) >= MAX_DEPTH:
                    return JsonElements(out, "nesting too deep")
                stack.append([c == _LBRACE, sel, set() if c == _LBRACE else 0, _FIRST])
                pos += 1
                want_value = False
                continue
            if c == _QUOTE:
                read = _read_string(data, pos)
                if read is None:
                    return JsonElements(out, f"bad string at byte {pos}")
                scalar, pos = read
            else:
                if c in _WORDS:
                    scalar = _WORDS[c]
                    if not data.startswith(scalar, pos):
                        return JsonElements(out, f"invalid literal at byte {pos}")
                    end = pos + len(scalar)
                else:
                    m = _NUMBER.match(data, pos)
                    if m is None:
                        return JsonElements(out, f"invalid character at byte {pos}")
                    scalar, end = m.group(), m.end()
                if end < n and data[end] in _TOKEN_CONTINUES:
                    return JsonElements(out, f"invalid token at byte {pos}")
                pos = end
            if values and sel is True:
                out.append(scalar)
            want_value = False
            stack[-1][3] = _AFTER_VALUE
            continue

        frame = stack[-1]
        state = frame[3]
        if frame[0]:
            if c == _RBRACE and state != _NEED_ITEM:
                pass  # close below
            elif c == _COMMA and state == _AFTER_VALUE:
                frame[3] = _NEED_ITEM
                pos += 1
                continue
            elif c == _QUOTE:
                # A key; after a value without a comma it still starts the next pair.
                read = _read_string(data, pos)
                if read is None:
                    return JsonElements(out, f"bad string at byte {pos}")
                key, pos = read
                seen = frame[2]
                if key in seen:
                    return JsonElements(out, f"duplicate key at byte {pos}")
                seen.add(key)
                items += 1
                if items > MAX_ITEMS:
                    return JsonElements(out, "too many items")
                parent = frame[1]
                if keys and parent is True:
                    out.append(key)
                # Missing and repeated colons are both accepted.
                pos = _COLONS.match(data, pos).end()  # type: ignore[union-attr]
                sel = _child(parent, len(stack) - 1, key)
                want_value = True
                continue
            else:
                return JsonElements(out, f"unexpected byte {c:#04x} at {pos} in object")
        else:
            if c == _RBRACK and state != _NEED_ITEM:
                pass  # close below
            elif c == _COMMA and state == _AFTER_VALUE:
                frame[3] = _NEED_ITEM
                pos += 1
                continue
            elif c in _VALUE_START:
                index = frame[2]
                frame[2] = index + 1
                sel = _child(frame[1], len(stack) - 1, b"%d" % index)
                want_value = True
                continue
            else:
                return JsonElements(out, f"unexpected byte {c:#04x} at {pos} in array")
        # Close the current container.
        stack.pop()
        pos += 1
        if not stack:
            pos = _WS.match(data, pos).end()  # type: ignore[union-attr]
            if pos != n:
                return JsonElements(out, f"data after the document at byte {pos}")
            return JsonElements(out)
        stack[-1][3] = _AFTER_VALUE


# ------------------------------------------------------------------------------------------------
# Fast path for valid JSON


class _Literal(str):
    """A number kept as its source text."""


class _Pairs(list[tuple[str, Any]]):
    """An object, members in order (lists stay arrays)."""


class _Invalid(ValueError):
    pass


def _pairs_hook(pairs: list[tuple[str, Any]]) -> _Pairs:
    if len(pairs) > 1 and len({k for k, _ in pairs}) != len(pairs):
        raise _Invalid("duplicate key")
    return _Pairs(pairs)


def _reject_constant(name: str) -> Any:
    raise _Invalid(name)  # NaN / Infinity are not JSON


def _scalar(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if value is True:
        return b"true"
    if value is False:
        return b"false"
    return b"null"


def _fast(data: bytes, root: Selection, keys: bool, values: bool) -> JsonElements | None:
    """Elements of a valid document, or None when the scanner must decide."""
    try:
        doc = json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_pairs_hook,
            parse_float=_Literal,
            parse_int=_Literal,
            parse_constant=_reject_constant,
        )
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, list):
        return None
    if root is True:
        return _walk_all(doc, keys, values)
    out: list[bytes] = []
    items = 0
    # (node, selection, depth): depth = index of the node's children in pointer tokens, which is
    # also the number of containers around the node. Keys and nodes are counted as the scanner
    # counts them, so both paths agree on the item limit.
    todo: list[tuple[Any, Selection, int]] = [(doc, root, 0)]
    while todo:
        node, sel, depth = todo.pop()
        items += 1
        if items > MAX_ITEMS:
            return None
        if isinstance(node, list):
            if depth >= MAX_DEPTH:
                return None
            # Pushed in reverse so elements come out in document order.
            if isinstance(node, _Pairs):
                for key, child in reversed(node):
                    bkey = key.encode("utf-8", "surrogatepass")
                    todo.append((child, _child(sel, depth, bkey), depth + 1))
                    todo.append((_KeyMark(bkey), sel, depth))
            else:
                for index in range(len(node) - 1, -1, -1):
                    todo.append((node[index], _child(sel, depth, b"%d" % index), depth + 1))
        elif isinstance(node, _KeyMark):
            if keys and sel is True:
                out.append(node.key)
        elif values and sel is True:
            out.append(_scalar(node))
    return JsonElements(out)


_END = object()  # marks the end of a container on the walk stack


def _walk_all(doc: list[Any], keys: bool, values: bool) -> JsonElements | None:
    """`_fast` for `All` (the common pattern): no selection bookkeeping, one stack entry per node.

    Keys are pushed already encoded, so `bytes` on the stack means a key and `str` a value.
    """
    out: list[bytes] = []
    append = out.append
    items = 0
    depth = 0
    todo: list[Any] = [doc]
    pop = todo.pop
    push = todo.append
    while todo:
        node = pop()
        if node is _END:
            depth -= 1
            continue
        items += 1
        kind = type(node)
        if kind is str or kind is _Literal:
            if values:
                append(node.encode("utf-8", "surrogatepass"))
        elif kind is bytes:
            append(node)
        elif kind is _Pairs or kind is list:
            depth += 1
            if depth > MAX_DEPTH:
                return None
            push(_END)
            if kind is list:
                todo.extend(reversed(node))
            elif keys:
                for key, child in reversed(node):
                    push(child)
                    push(key.encode("utf-8", "surrogatepass"))
            else:
                items += len(node)  # keys count as items even when not inspected
                todo.extend([child for _, child in reversed(node)])
        elif values:
            append(_scalar(node))
        if items > MAX_ITEMS:
            return None
    return JsonElements(out)


class _KeyMark:
    __slots__ = ("key",)

    def __init__(self, key: bytes) -> None:
        self.key = key


# ------------------------------------------------------------------------------------------------
# Public API


class JsonSelector:
    """Compiled `MatchPattern` + `MatchScope` of a JsonBody field; call it on the body bytes.

    ``JsonSelector(None, "VALUE")`` is ``All``; ``JsonSelector(["/a/b"], "KEY")`` selects pointers.
    """

    __slots__ = ("_keys", "_root", "_values")

    def __init__(self, included_paths: Sequence[str] | None, scope: str) -> None:
        if scope not in ("KEY", "VALUE", "ALL"):
            raise ValueError(f"MatchScope must be KEY, VALUE or ALL, got {scope!r}")
        self._keys = scope != "VALUE"
        self._values = scope != "KEY"
        root: Selection = True
        if included_paths is not None:
            pointers = tuple(dict.fromkeys(parse_pointer(p) for p in included_paths))
            root = True if () in pointers else (pointers or None)
        self._root = root

    def __call__(self, data: bytes, *, fast: bool = True) -> JsonElements:
        """Parse `data` (already truncated to the inspection limit) and extract elements.

        Never raises; `fast=False` forces the tolerant scanner (tests compare both paths).
        """
        if fast:
            result = _fast(data, self._root, self._keys, self._values)
            if result is not None:
                return result
        return _scan(data, self._root, self._keys, self._values)


def extract(data: bytes, included_paths: Sequence[str] | None = None, scope: str = "ALL") -> JsonElements:
    """One-off `JsonSelector(included_paths, scope)(data)`."""
    return JsonSelector(included_paths, scope)(data)
