"""JSON text -> `wafpy.load.jsontree` values with 1-based line and column, through lark's LALR parser.

`grammars/webacl.lark` is the one definition of the accepted text (strict RFC 8259 JSON). The
parser is built once per process, on first use, with an inline transformer: lark calls the
`_Builder` methods on each reduction, so no parse tree is ever built and the jsontree nodes come
straight from the tokens. Every lark error becomes a `RulesetError` naming, in plain words, what
was found and what was expected, with the offending line and a caret.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

try:
    import lark.lexer as lark_lexer
    from lark import Lark, Token
    from lark.exceptions import LarkError, UnexpectedInput, VisitError
except ImportError as exc:  # never a silent fallback: errors would lose their line:column
    raise ImportError(
        "wafpy reads web ACL documents with the lark parser (pip install lark): it gives every "
        "error its line and column"
    ) from exc

from wafpy.errors import RulesetError
from wafpy.load.jsontree import JArray, JBool, JMember, JNull, JNumber, JObject, JString, JValue
from wafpy.load.parse_errors import describe, locate

__all__ = ["grammar_text", "parse_json"]

_GRAMMAR_NAME = "webacl.lark"


def grammar_text() -> str:
    """The grammar's text, from the installed package or, in a source checkout, from `grammars/`."""
    # A wheel ships the file as wafpy/grammars/webacl.lark (pyproject force-include).
    try:
        packaged = resources.files("wafpy") / "grammars" / _GRAMMAR_NAME
        if packaged.is_file():
            return packaged.read_text(encoding="utf-8")
    except Exception:  # no usable package resources (zip import, namespace package): try the checkout
        pass
    # A source checkout keeps it at <repo>/grammars/webacl.lark, next to the package directory.
    checkout = Path(__file__).resolve().parents[2] / "grammars" / _GRAMMAR_NAME
    if checkout.is_file():
        return checkout.read_text(encoding="utf-8")
    raise FileNotFoundError(f"wafpy grammar {_GRAMMAR_NAME} not found in the package nor next to it")


def _scalar(raw: str, line: int | None, column: int | None) -> JValue:
    """Decode one scalar (string, number, true, false or null) written at line:column."""
    first = raw[0]
    if first == '"':
        # Most strings carry no escape: a slice is much cheaper than json.loads.
        return JString(raw[1:-1] if "\\" not in raw else json.loads(raw), line, column)
    if first == "t":
        return JBool(True, line, column)
    if first == "f":
        return JBool(False, line, column)
    if first == "n":
        return JNull(line, column)
    raw = str(raw)  # a lark Token is a str subclass; keep the plain text
    try:
        number: int | float = float(raw) if ("." in raw or "e" in raw or "E" in raw) else int(raw)
    except ValueError as exc:  # int() refuses more than sys.get_int_max_str_digits() digits
        raise RulesetError(f"number is too long ({len(raw)} characters)", line=line, column=column) from exc
    return JNumber(number, raw, line, column)


def _token_scalar(tok: Token) -> JValue:
    return _scalar(tok, tok.line, tok.column)


def _member(tok: Any, value: Any) -> JMember:
    """A member from a KEY or NEXT_KEY token (`, "name" :`) and its value (a node or SCALAR)."""
    if isinstance(value, Token):
        value = _scalar(value, value.line, value.column)
    start = tok.index('"')  # a NEXT_KEY opens with a comma and whitespace, never a quote
    end = tok.rindex('"')  # only whitespace and the colon follow the closing quote
    key = tok[start + 1 : end] if "\\" not in tok else json.loads(tok[start : end + 1])
    if start == 0:
        return JMember(key, tok.line, tok.column, value)
    newlines = tok.count("\n", 0, start)
    if newlines:
        return JMember(key, tok.line + newlines, start - tok.rindex("\n", 0, start), value)
    return JMember(key, tok.line, tok.column + start, value)


class _Builder:
    """Inline-transformer callbacks, one per grammar rule; `children` is a fresh list per call.

    `members` and `items` are left-recursive: the first reduction returns its own children list
    and each later one appends to it, so a long list costs one append per element, not a copy.
    """

    def __init__(self) -> None:
        self.run_item: re.Pattern[str] | None = None  # set once the grammar is compiled

    def members(self, children: list[Any]) -> list[Any]:
        first = children[0]
        if isinstance(first, Token):  # LBRACE KEY value
            return [first, _member(children[1], children[2])]
        acc: list[Any] = first  # members NEXT_KEY value
        acc.append(_member(children[1], children[2]))
        return acc

    def items(self, children: list[Any]) -> list[Any]:
        first = children[0]
        if isinstance(first, Token):  # LSQB value
            value = children[1]
            if isinstance(value, Token):
                children[1] = _scalar(value, value.line, value.column)
            return children
        if len(children) == 3:  # items COMMA value (an object or an array)
            first.append(children[2])
        else:  # items MORE_SCALARS
            self._more_scalars(children[1], first)
        acc: list[Any] = first
        return acc

    def _more_scalars(self, tok: Any, out: list[Any]) -> None:
        """Append each scalar of a MORE_SCALARS token (`, 1, "a", true`) with its own position."""
        pattern = self.run_item
        if pattern is None:  # only _parser() creates builders, and it sets the pattern
            raise RuntimeError("parser not initialised")
        line = tok.line
        line_start = 1 - tok.column  # offset in `tok` of column 1 of the current line
        done = 0
        for match in pattern.finditer(tok):
            begin = match.start(1)
            newlines = tok.count("\n", done, begin)
            if newlines:
                line += newlines
                line_start = tok.rindex("\n", done, begin) + 1
            done = begin
            out.append(_scalar(match.group(1), line, begin - line_start + 1))

    def object(self, children: list[Any]) -> JObject:
        acc = children[0]
        if isinstance(acc, Token):  # LBRACE RBRACE
            return JObject((), acc.line, acc.column)
        brace: Token = acc[0]
        return JObject(tuple(acc[1:]), brace.line, brace.column)

    def array(self, children: list[Any]) -> JArray:
        acc = children[0]
        if isinstance(acc, Token):  # LSQB RSQB
            return JArray((), acc.line, acc.column)
        bracket: Token = acc[0]
        return JArray(tuple(acc[1:]), bracket.line, bracket.column)


@contextmanager
def _without_collision_check() -> Iterator[None]:
    """Build without lark's regex-collision analysis.

    With `interegular` installed, lark compares every pair of terminals each time a parser is
    built: about 0.4 s, paid by every `wafpy` command. The grammar's terminals are proven free of
    collisions once, by `tests/test_parse.py`, which builds it with `strict=True`. Lark's own
    `cache=` option is no alternative: it unpickles a file from the shared temporary folder.
    """
    saved = lark_lexer.has_interegular
    lark_lexer.has_interegular = False
    try:
        yield
    finally:
        lark_lexer.has_interegular = saved


@cache
def _parser() -> Lark:
    builder = _Builder()
    with _without_collision_check():
        parser = Lark(
            grammar_text(),
            parser="lalr",
            lexer="contextual",
            transformer=builder,
            maybe_placeholders=False,
        )
    # MORE_SCALARS is split with the grammar's own SCALAR pattern: one definition of a scalar.
    # An item starts at its comma, not at the blanks before it: from a leading blank run a search
    # would rescan the run from each of its bytes.
    scalar = parser.get_terminal("SCALAR").pattern.to_regexp()
    builder.run_item = re.compile(f",[ \\t\\n\\r]*({scalar})")
    return parser


# functools.cache may run the constructor twice under a race; the lock keeps it to one.
_build_lock = threading.Lock()


def get_parser() -> Lark:
    """The process-wide parser, built on first use (grammar analysis takes a few milliseconds)."""
    with _build_lock:
        return _parser()


def _decode(data: bytes, source: str | None) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        column = len(data[line_start : exc.start].decode("utf-8", "replace")) + 1
        line_end = data.find(b"\n", exc.start)
        shown = data[line_start : None if line_end < 0 else line_end].decode("utf-8", "replace")
        raise RulesetError(
            f"invalid UTF-8: byte 0x{data[exc.start]:02x} cannot start or continue a character",
            line=line,
            column=column,
            source=source,
            context=f"{shown}\n{' ' * (column - 1)}^",
        ) from None


def parse_json(text: str | bytes, *, source: str | None = None) -> JValue:
    """Parse one JSON document (str, or UTF-8 bytes; a leading BOM is ignored).

    Raises `RulesetError` with `line`, `column`, `source` and `context` (the offending line and a
    caret) for any text that is not exactly one RFC 8259 JSON value.
    """
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = _decode(bytes(text), source)
    elif not isinstance(text, str):
        raise RulesetError(f"expected JSON text (str or bytes), got {type(text).__name__}", source=source)
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip(" \t\n\r"):
        raise RulesetError(
            "empty document — expected a JSON value", line=1, column=1, source=source, context="\n^"
        )
    try:
        result = get_parser().parse(text)
    except UnexpectedInput as exc:
        message, pos = describe(exc, text)
        line, column, context = locate(text, pos)
        raise RulesetError(message, line=line, column=column, source=source, context=context) from None
    except VisitError as exc:  # a callback failed; lark wraps it when a tree transformer is used
        raise _from_callback(exc.orig_exc, text, source) from None
    except RulesetError as exc:
        raise _with_context(exc, text, source) from None
    except LarkError as exc:  # any other lark failure still names the document
        raise RulesetError(f"cannot parse JSON: {exc}", source=source) from None
    if isinstance(result, Token):  # the whole document is one scalar
        return _token_scalar(result)
    if isinstance(result, (JObject, JArray)):
        return result
    raise RulesetError(f"cannot parse JSON: unexpected parser result {type(result).__name__}", source=source)


def _from_callback(exc: BaseException, text: str, source: str | None) -> RulesetError:
    if isinstance(exc, RulesetError):
        return _with_context(exc, text, source)
    return RulesetError(f"cannot parse JSON: {exc}", source=source)


def _with_context(exc: RulesetError, text: str, source: str | None) -> RulesetError:
    if exc.line is None or exc.column is None:
        return RulesetError(exc.message, source=source)
    line_start = 0
    for _ in range(exc.line - 1):
        line_start = text.index("\n", line_start) + 1
    line, column, context = locate(text, line_start + exc.column - 1)
    return RulesetError(exc.message, line=line, column=column, source=source, context=context)
