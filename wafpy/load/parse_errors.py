"""Syntax errors in plain words: what was found, where, and what JSON expected instead.

Lark reports terminal names and parser states; people need "unexpected '}' after ',' — expected a
key (JSON does not allow a trailing comma)" with the line, the column and a caret under it.
"""

from __future__ import annotations

import re
from typing import Any

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

__all__ = ["describe", "locate"]


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


def describe(exc: UnexpectedInput, text: str) -> tuple[str, int]:
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


def locate(text: str, pos: int) -> tuple[int, int, str]:
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
