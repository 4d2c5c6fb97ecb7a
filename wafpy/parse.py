"""JSON text -> `wafpy.jsontree` values with 1-based line and column, through lark's LALR parser.

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

import lark.lexer as lark_lexer
from lark import Lark, Token
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from .errors import RulesetError
from .jsontree import JArray, JBool, JMember, JNull, JNumber, JObject, JString, JValue

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
    checkout = Path(__file__).resolve().parent.parent / "grammars" / _GRAMMAR_NAME
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
    scalar = parser.get_terminal("SCALAR").pattern.to_regexp()
    builder.run_item = re.compile(f"[ \\t\\n\\r]*,[ \\t\\n\\r]*({scalar})")
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
        message, pos = _describe(exc, text)
        line, column, context = _context(text, pos)
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
    line, column, context = _context(text, line_start + exc.column - 1)
    return RulesetError(exc.message, line=line, column=column, source=source, context=context)


# --------------------------------------------------------------------------------------------
# Syntax errors in plain words

_SPACE = " \t\n\r"
_WORD = re.compile(r"[A-Za-z0-9_$+.-]+")
# Terminal -> words. The comma-led terminals all read as ','; after a COMMA token in an array
# only '{' and '[' can follow (a scalar there would have been part of MORE_SCALARS), so
# {LBRACE, LSQB} reads as "a value".
_WORDS = {
    "KEY": "a key (a double-quoted string and ':')",
    "NEXT_KEY": "','",
    "MORE_SCALARS": "','",
    "COMMA": "','",
    "RBRACE": "'}'",
    "RSQB": "']'",
    "SCALAR": "a string, number, true, false or null",
    "LBRACE": "'{'",
    "LSQB": "'['",
    "$END": "end of input",
}


def _expected(names: set[str]) -> str:
    """Terminal names -> words: {'LBRACE', 'LSQB', 'SCALAR', 'RSQB'} -> "a value or ']'"."""
    names = names - {"WS"}
    parts = []
    if {"LBRACE", "LSQB"} <= names:
        parts.append("a value")
        names -= {"LBRACE", "LSQB", "SCALAR"}
    for name, words in _WORDS.items():
        if name in names and words not in parts:
            parts.append(words)
    parts += sorted(n for n in names if n not in _WORDS)
    return " or ".join(parts) if parts else "nothing more"


def _quote(text: str) -> str:
    if len(text) == 1 and not text.isprintable():
        return f"character U+{ord(text):04X}"
    if len(text) > 30:
        text = text[:27] + "..."
    return f'"{text}"' if "'" in text else f"'{text}'"


def _shown_string(raw: str) -> str:
    return "string " + (raw if len(raw) <= 32 else raw[:28] + '..."')


def _found_token(tok: Token) -> str:
    value = str(tok).strip(_SPACE)
    if tok.type == "SCALAR":
        if value[0] == '"':
            return _shown_string(value)
        return value if value[0] in "tfn" else f"number {value}"
    if tok.type == "KEY":
        return _shown_string(value[: value.rindex('"') + 1])
    if tok.type in ("NEXT_KEY", "MORE_SCALARS", "COMMA"):
        return "','"
    return _quote(value)


def _found_at(text: str, pos: int) -> str:
    if pos >= len(text):
        return "end of input"
    word = _WORD.match(text, pos)
    if word and (text[pos].isalpha() or text[pos] == "_"):
        return _quote(word.group())
    return _quote(text[pos])


def _hint(text: str, pos: int) -> str:
    ch = text[pos : pos + 1]
    if ch == "/":
        return " (JSON has no comments)"
    if ch == "'":
        return " (JSON strings use double quotes)"
    return ""


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _SPACE:
        pos += 1
    return pos


def _string_end(text: str, pos: int) -> tuple[int, tuple[str, int] | None]:
    """Scan the string opening at `pos`: (offset after its closing quote, None) when it is valid,
    else (-1, (why, where))."""
    i, n = pos + 1, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            return i + 1, None
        if ch == "\\":
            nxt = text[i + 1 : i + 2]
            if nxt and nxt in '"\\/bfnrt':
                i += 2
                continue
            if nxt == "u":
                digits = text[i + 2 : i + 6]
                if len(digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in digits):
                    i += 6
                    continue
                return -1, ("invalid \\u escape in string — expected four hexadecimal digits", i)
            if not nxt:
                break
            return -1, (f"invalid escape {_quote(chr(92) + nxt)} in string", i)
        if ch in "\n\r":
            return -1, ("unterminated string — a string must close on the line it starts", pos)
        if ord(ch) < 0x20:
            return -1, (f"control character U+{ord(ch):04X} must be escaped in a string", i)
        i += 1
    return -1, ("unterminated string — the document ends inside it", pos)


def _number_start(text: str, pos: int) -> int:
    """Start of the number that ends right before `pos` (`pos` itself if none does)."""
    while pos > 0 and text[pos - 1] in "0123456789.eE+-":
        pos -= 1
    return pos


def _bad_key(text: str, pos: int, after_comma: bool) -> tuple[str, int]:
    """Where a key is due at `pos` but something else is there."""
    after = " after ','" if after_comma else ""
    if text[pos : pos + 1] == '"':
        end, problem = _string_end(text, pos)
        if problem:
            return problem
        found_at = _skip_space(text, end)
        key = _shown_string(text[pos:end])[7:]
        return f"unexpected {_found_at(text, found_at)} after the key {key} — expected ':'", found_at
    if after_comma and text[pos : pos + 1] == "}":
        return "unexpected '}' after ',' — expected a key (JSON does not allow a trailing comma)", pos
    expected = "a key (a double-quoted string and ':')" + ("" if after_comma else " or '}'")
    return f"unexpected {_found_at(text, pos)}{after} — expected {expected}{_hint(text, pos)}", pos


def _describe(exc: UnexpectedInput, text: str) -> tuple[str, int]:
    """A plain-words message and the text offset it is about."""
    if isinstance(exc, UnexpectedToken):
        return _describe_token(exc, text)
    if isinstance(exc, UnexpectedCharacters):
        pos: int = exc.pos_in_stream or 0
        if text[pos] == '"':
            _, problem = _string_end(text, pos)
            if problem:
                return problem
        start = _number_start(text, pos)
        if start < pos and text[pos] in "0123456789.eE+-":
            word = _WORD.match(text, start)
            return f"invalid number {_quote(word.group() if word else text[start:pos])}", start
        found = _found_at(text, pos)
        return f"unexpected {found} — expected {_expected(_accepted(exc))}{_hint(text, pos)}", pos
    return "unexpected end of input", len(text.rstrip(_SPACE))


def _accepted(exc: UnexpectedToken | UnexpectedCharacters) -> set[str]:
    """Terminals the parser can take at the error, after the reductions the lookahead implies.

    The contextual lexer reports the lookahead set of the state it was in, which can be wider
    (after `{}` it lists ',' '}' ']' even at the top level); replaying the parser is exact.
    """
    replay: Any = exc.interactive_parser
    try:
        return set(replay.accepts())
    except Exception:  # the replay is best effort; the lexer's set is still right, only wider
        return set(exc.expected if isinstance(exc, UnexpectedToken) else exc.allowed)


def _describe_token(exc: UnexpectedToken, text: str) -> tuple[str, int]:
    tok: Token = exc.token
    expected = _accepted(exc)
    if tok.type == "$END":
        return f"unexpected end of input — expected {_expected(expected)}", len(text.rstrip(_SPACE))
    value = str(tok)
    pos = (tok.start_pos or 0) + len(value) - len(value.lstrip(_SPACE))
    if tok.type in ("COMMA", "MORE_SCALARS") and "NEXT_KEY" in expected:
        # A comma inside an object that no key follows: the fault is what follows it.
        return _bad_key(text, _skip_space(text, pos + 1), after_comma=True)
    if tok.type == "SCALAR" and value[0] == '"' and "KEY" in expected:
        return _bad_key(text, pos, after_comma=False)
    number_start = _number_start(text, pos)
    if tok.type == "SCALAR" and value[0].isdigit() and text[number_start:pos] in ("0", "-0"):
        bad = _WORD.match(text, number_start)
        shown = bad.group() if bad else text[number_start : pos + 1]
        return f"invalid number {_quote(shown)} — leading zeros are not allowed", number_start
    if tok.type in ("RBRACE", "RSQB") and text[:pos].rstrip(_SPACE).endswith(","):
        return (
            f"unexpected {_found_token(tok)} after ',' — expected {_expected(expected)}"
            " (JSON does not allow a trailing comma)",
            pos,
        )
    if expected == {"$END"}:
        return f"unexpected {_found_token(tok)} after the end of the JSON value — expected end of input", pos
    return f"unexpected {_found_token(tok)} — expected {_expected(expected)}", pos


def _context(text: str, pos: int) -> tuple[int, int, str]:
    """1-based line and column of `pos`, and the line with a caret under that column."""
    line = text.count("\n", 0, pos) + 1
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    shown = text[start : len(text) if end < 0 else end].rstrip("\r")
    column = pos - start + 1
    offset = column - 1
    if len(shown) > 100:  # e.g. a minified document on one line: show a window around the column
        left = max(0, offset - 50)
        shown = (
            ("..." if left else "") + shown[left : left + 100] + ("..." if left + 100 < len(shown) else "")
        )
        offset = offset - left + (3 if left else 0)
    # Repeat tabs under tabs so the caret lines up however the terminal shows them.
    pad = "".join("\t" if c == "\t" else " " for c in shown[:offset])
    return line, column, f"{shown}\n{pad}^"
