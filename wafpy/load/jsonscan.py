"""Valid JSON text -> positioned `wafpy.load.jsontree` values, without lark; anything else -> lark.

`wafpy.load.parse` (lark, with `grammars/webacl.lark`) stays the one definition of the accepted
text and the only source of parse errors. Importing it costs a process about 7 MB resident for
good: lark itself, the compiled grammar, and the OpenSSL library that lark's `hashlib` import
loads. Most documents are valid, so `parse_json` first reads the text with this small scanner,
which accepts only strict RFC 8259 JSON (a subset of what the grammar accepts) and builds exactly
the values the lark parser builds, with the same 1-based line and column (a column counts
characters; only `\\n` starts a line). At the first thing it does not accept, whatever it is, it
gives up and the lark parser reads the text again: that parser then either reports the error
with its line and column, or, should the scanner be stricter than the grammar somewhere, returns
the value.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json.decoder
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from wafpy.load.jsontree import JArray, JBool, JMember, JNull, JNumber, JObject, JString, JValue

__all__ = ["parse_json", "scan_json"]

_BLANKS = re.compile(r"[ \t\n\r]*+")
# A string without an escape, the common case; one with an escape goes to json's scanstring.
_PLAIN_STRING = re.compile(r'"([^"\\\x00-\x1f]*+)"')
# Possessive throughout, like the patterns of wafpy.matching.jsonbody: nothing can backtrack.
_NUMBER = re.compile(r"-?+(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?+(?:[eE][+-]?+[0-9]++)?+")
# json's own string decoder (C): (text, index after the opening quote, strict) -> (value, end).
_scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
_LITERALS: dict[str, JBool | JNull] = {"true": JBool(True), "false": JBool(False), "null": JNull()}


class _GiveUp(Exception):
    """The scanner does not accept the text here; the lark parser decides."""


class _Scanner:
    """One pass over the text; `line` and `line_start` follow `pos` through the blanks."""

    __slots__ = ("line", "line_start", "pos", "text")

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.line, self.line_start = text, 0, 1, 0

    def blanks(self) -> None:
        start = self.pos
        end = _BLANKS.match(self.text, start).end()  # type: ignore[union-attr]  # `*` always matches
        if end != start:
            newlines = self.text.count("\n", start, end)
            if newlines:
                self.line += newlines
                self.line_start = self.text.rindex("\n", start, end) + 1
            self.pos = end

    def string(self) -> str:
        text, pos = self.text, self.pos
        match = _PLAIN_STRING.match(text, pos)
        if match is not None:
            self.pos = match.end()
            return match.group(1)
        if text[pos : pos + 1] != '"':
            raise _GiveUp
        value, self.pos = _scanstring(text, pos + 1, True)  # strict: no raw control character
        return value

    def key(self) -> tuple[str, int, int]:
        line, column = self.line, self.pos - self.line_start + 1
        key = self.string()
        self.blanks()
        if self.text[self.pos : self.pos + 1] != ":":
            raise _GiveUp
        self.pos += 1
        return key, line, column

    def scalar(self) -> JValue:
        text, pos = self.text, self.pos
        line, column = self.line, pos - self.line_start + 1
        first = text[pos : pos + 1]
        if first == '"':
            return JString(self.string(), line, column)
        for word, node in _LITERALS.items():
            if text.startswith(word, pos):
                self.pos = pos + len(word)
                if isinstance(node, JBool):
                    return JBool(node.value, line, column)
                return JNull(line, column)
        match = _NUMBER.match(text, pos)
        if match is None:
            raise _GiveUp
        raw = match.group()
        self.pos = match.end()
        # int() refuses more than sys.get_int_max_str_digits() digits: the ValueError gives up,
        # and the lark parser reports the number as too long.
        number: int | float = float(raw) if ("." in raw or "e" in raw or "E" in raw) else int(raw)
        return JNumber(number, raw, line, column)

    def document(self) -> JValue:
        """The whole text as one value; iterative, so nesting depth costs no Python stack."""
        text = self.text
        # Open containers: [is_object, line, column, children, pending member key or None].
        stack: list[list[Any]] = []
        self.blanks()
        while True:
            opener = text[self.pos : self.pos + 1]
            if opener == "{" or opener == "[":
                line, column = self.line, self.pos - self.line_start + 1
                self.pos += 1
                self.blanks()
                closer = "}" if opener == "{" else "]"
                if text[self.pos : self.pos + 1] == closer:
                    self.pos += 1
                    value: JValue = (JObject if opener == "{" else JArray)((), line, column)
                else:
                    pending = None
                    if opener == "{":
                        pending = self.key()
                    stack.append([opener == "{", line, column, [], pending])
                    self.blanks()
                    continue
            else:
                value = self.scalar()
            # A value is complete: hand it to its container, closing containers as they end.
            while True:
                self.blanks()
                if not stack:
                    if self.pos != len(text):
                        raise _GiveUp
                    return value
                frame = stack[-1]
                is_object, children = frame[0], frame[3]
                if is_object:
                    key, key_line, key_column = frame[4]
                    children.append(JMember(key, key_line, key_column, value))
                else:
                    children.append(value)
                after = text[self.pos : self.pos + 1]
                if after == ",":
                    self.pos += 1
                    self.blanks()
                    if is_object:
                        frame[4] = self.key()
                        self.blanks()
                    break
                if after != ("}" if is_object else "]"):
                    raise _GiveUp
                self.pos += 1
                stack.pop()
                value = (JObject if is_object else JArray)(tuple(children), frame[1], frame[2])


def scan_json(text: str) -> JValue | None:
    """The value of strict JSON text with its positions, or None when the lark parser must decide."""
    try:
        return _Scanner(text).document()
    except (_GiveUp, ValueError, IndexError):
        return None


@cache
def _lark_installed() -> bool:
    return importlib.util.find_spec("lark") is not None  # finds, does not import


def parse_json(text: str | bytes, *, source: str | None = None) -> JValue:
    """`wafpy.load.parse.parse_json`, which imports lark only for text the scanner gives up on."""
    if not _lark_installed():
        # lark stays a required dependency: without it a document fails at once, with the
        # ImportError naming it, not only the first time one has an error to report.
        import wafpy.load.parse  # noqa: F401  # raises that ImportError
    decoded: str | None = None
    if isinstance(text, str):
        decoded = text
    elif isinstance(text, (bytes, bytearray, memoryview)):
        with contextlib.suppress(UnicodeDecodeError):  # the lark path says where
            decoded = bytes(text).decode("utf-8")
    if isinstance(decoded, str):
        value = scan_json(decoded[1:] if decoded.startswith("\ufeff") else decoded)
        if value is not None:
            return value
    from wafpy.load.parse import parse_json as parse_with_lark  # errors and their line:column

    return parse_with_lark(text, source=source)
