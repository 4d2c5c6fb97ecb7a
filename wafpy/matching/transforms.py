"""AWS WAF text transformations: pure functions ``bytes -> bytes``.

``TRANSFORMS`` maps every ``TextTransformationType`` name to its function, ``PRE_PARSE`` every
``PreParseTextTransformationType`` name (applied to the raw query string before it is split), and
``chain()`` composes a priority-ordered list of names into one callable.

AWS defines most transformations by reference to the ModSecurity functions of the same name; where
AWS is silent the behaviour follows ModSecurity v2. Everything works on bytes (0x00-0xFF): no
text decoding, ASCII-only case folding (``bytes.lower()`` is exactly AWS's LOWERCASE, ``str.lower()``
on latin-1 text is not), "whitespace" is C ``isspace`` (0x09-0x0D, 0x20).

The decoders (percent, base64, hex, UTF-8, HTML entities, C / JavaScript / CSS escapes) live in
`wafpy.matching.decoders`; this module holds the others, the registries and ``chain()``. The
decoders return their input object itself when there is nothing to decode (no ``%`` for
URL_DECODE, no ``\\`` for the escape decoders, no ``&`` for HTML_ENTITY_DECODE...): they run per
request on every inspected element, and most elements contain nothing to decode.

Behaviour AWS does not document is collected in ``UNSPECIFIED_CHOICES`` (name -> what wafpy does and
why); each place that implements one of those choices refers to its key.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final, TypeAlias

from wafpy.matching import decoders

__all__ = ["PRE_PARSE", "TRANSFORMS", "UNSPECIFIED_CHOICES", "Transform", "chain", "sort_transformations"]

Transform: TypeAlias = Callable[[bytes], bytes]

UNSPECIFIED_CHOICES: Final[Mapping[str, str]] = {
    "HTML_ENTITY_DECODE": "numeric references above 0xFF keep only the low byte (&#x4142; -> B), as "
    "ModSecurity v2; decimal values are reduced modulo 256 from their last 8 digits (10**8 is a "
    "multiple of 256), so any length of digits is accepted",
    "ESCAPE_SEQ_DECODE": "an unknown escape (or \\x without two hex digits) drops the backslash and "
    "keeps the next byte (\\q -> q), as ModSecurity v2",
    "HEX_DECODE": "input that is not entirely hex digits is left unchanged; an odd trailing digit is dropped",
    "SHA256": "the raw 32-byte digest, by analogy with MD5",
    "CMD_LINE_WIN": "identical to CMD_LINE (no public description)",
    "CMD_LINE_UNIX": "identical to CMD_LINE (no public description)",
    "JS_DECODE": "the full-width fold of \\uFFxx accepts f and F in the high byte, as ModSecurity "
    "v2 does (and as URL_DECODE_UNI does)",
    "JS_DECODE_EXT": "JS_DECODE, except \\uHHHH, a surrogate pair \\uD8xx\\uDCxx and ES6 \\u{H...} "
    "(value <= 0x10FFFF, else an unknown escape) emit the UTF-8 encoding of the whole code point, "
    "with no full-width fold; a lone surrogate is encoded as its 3 UTF-8-style bytes",
    "BASE64_DECODE_EXT": "base64url - and _ are read as + and /, as Coraza does",
    "NORMALIZE_PATH": "an absolute path that reduces to nothing yields '/' (the root), a relative "
    "one the empty string",
    "UTF8_TO_UNICODE": "'well-formed' is the Unicode definition: no overlong forms, no encoded "
    "surrogates, nothing above U+10FFFF",
    "PRE_PARSE URL_DECODE": "only %HH is decoded, + stays + (a later "
    "URL_DECODE text transformation still turns it into a space)",
    "PRE_PARSE URL_DECODE_UNI": "as pre-parse URL_DECODE plus %uHHHH; + stays +",
    "COMBINE_DUPLICATE_QUERY_ARGS_BY_COMMA": "names compare case-sensitively and raw; a piece "
    "without = has an empty value (a&a=3 -> a=,3); empty pieces are dropped when the query is "
    "rebuilt, which the later split would skip anyway",
}

_WS: Final = b"\t\n\x0b\x0c\r "  # C isspace

# -- case and whitespace -------------------------------------------------------------------------


def _none(data: bytes) -> bytes:
    """NONE: unchanged."""
    return data


def _lowercase(data: bytes) -> bytes:
    """LOWERCASE: A-Z -> a-z only (``AdMiN\\xc9`` -> ``admin\\xc9``)."""
    return data.lower()


def _uppercase(data: bytes) -> bytes:
    """UPPERCASE: a-z -> A-Z only."""
    return data.upper()


_WS_TO_SPACE: Final = bytes.maketrans(b"\t\n\x0b\x0c\r\xa0", b"      ")


def _compress_white_space(data: bytes) -> bytes:
    """COMPRESS_WHITE_SPACE: runs of 0x09-0x0D, 0x20, 0xA0 -> one space (``a \\t\\xa0b`` -> ``a b``)."""
    spaced = data.translate(_WS_TO_SPACE)
    if b"  " not in spaced:
        return spaced
    # After the translation the only bytes bytes.split() separates on are spaces; split + join is
    # one C pass each, where re.sub costs 30-60 us per 2 KiB.
    words = spaced.split()
    out = b" ".join(words)
    if spaced[:1] == b" ":
        out = b" " + out
    if words and spaced[-1:] == b" ":
        out += b" "
    return out


def _remove_whitespace(data: bytes) -> bytes:
    """REMOVE_WHITESPACE: delete 0x09-0x0D, 0x20 and 0xA0 (not 0xC2, unlike ModSecurity v3)."""
    return data.translate(None, b"\t\n\x0b\x0c\r \xa0")


def _trim(data: bytes) -> bytes:
    """TRIM: remove leading and trailing 0x09-0x0D, 0x20 (0xA0 stays)."""
    return data.strip(_WS)


def _trim_left(data: bytes) -> bytes:
    """TRIM_LEFT: remove leading whitespace."""
    return data.lstrip(_WS)


def _trim_right(data: bytes) -> bytes:
    """TRIM_RIGHT: remove trailing whitespace."""
    return data.rstrip(_WS)


# -- digests -------------------------------------------------------------------------------------


def _md5(data: bytes) -> bytes:
    """MD5: the raw 16-byte digest (binary, not hex)."""
    # Imported on use: hashlib loads OpenSSL (about 4 MB resident), and few rules hash.
    import hashlib

    return hashlib.md5(data, usedforsecurity=False).digest()


def _sha256(data: bytes) -> bytes:
    """SHA256: the raw 32-byte digest."""
    import hashlib

    return hashlib.sha256(data).digest()


# -- command line and comments ------------------------------------------------------------------

_CMD_TABLE: Final = bytes.maketrans(b",;\t\r\nABCDEFGHIJKLMNOPQRSTUVWXYZ", b"     abcdefghijklmnopqrstuvwxyz")


def _cmd_line(data: bytes) -> bytes:
    """CMD_LINE: delete ``\\ " ' ^``, separators -> one space, no space before ``/`` ``(``, lower-case.

    ``C:\\Win^dows\\ "cmd" /c dir, a;b`` -> ``c:windows cmd/c dir a b``.
    """
    # Same result as ModSecurity's byte loop: deleting first makes "previous emitted byte" the
    # previous byte; every space left is a separator, so runs collapse, and a space is dropped
    # before '/' and '(' (after collapsing there is at most one, and dropping it forms no new pair).
    out = data.translate(_CMD_TABLE, b"\\\"'^")
    while b"  " in out:
        out = out.replace(b"  ", b" ")
    return out.replace(b" /", b"/").replace(b" (", b"(")


def _replace_comments(data: bytes) -> bytes:
    """REPLACE_COMMENTS: each ``/*...*/`` or unterminated ``/*...`` -> space (``a/*x*/b/*c`` -> ``a b ``)."""
    start = data.find(b"/*")
    if start < 0:
        return data
    out = []
    pos = 0
    while start >= 0:
        out.append(data[pos:start])
        out.append(b" ")
        end = data.find(b"*/", start + 2)
        if end < 0:
            return b"".join(out)
        pos = end + 2
        start = data.find(b"/*", pos)
    out.append(data[pos:])
    return b"".join(out)


# Alternatives are tried in order at each position, so '<!--' and '-->' win over '--'.
_COMMENT_CHARS: Final = re.compile(rb"<!--|-->|/\*|\*/|--|#")


def _remove_comments_char(data: bytes) -> bytes:
    """REMOVE_COMMENTS_CHAR: delete ``/*`` ``*/`` ``<!--`` ``-->`` ``--`` ``#`` (``a/*x*/b#`` -> ``axb``)."""
    if b"#" in data or b"--" in data or b"/*" in data or b"*/" in data:
        return _COMMENT_CHARS.sub(b"", data)
    return data


# -- paths and nulls ----------------------------------------------------------------------------


def _normalize_path(data: bytes) -> bytes:
    """NORMALIZE_PATH: collapse ``//``, drop ``.``, resolve ``..`` (``/a/./b/../c//d`` -> ``/a/c/d``)."""
    # Without '//' or '/.' and not starting with '.', there is no empty, '.' or '..' segment.
    if b"//" not in data and b"/." not in data and data[:1] != b".":
        return data
    absolute = data[:1] == b"/"
    segments: list[bytes] = []
    for segment in data.split(b"/"):
        if segment == b"" or segment == b".":
            continue
        if segment == b"..":
            if segments and segments[-1] != b"..":
                segments.pop()
            elif not absolute:  # a relative path keeps what it cannot climb; the root stops it
                segments.append(segment)
        else:
            segments.append(segment)
    out = b"/".join(segments)
    if segments and data[-1:] == b"/":
        out += b"/"
    return b"/" + out if absolute else out  # UNSPECIFIED_CHOICES["NORMALIZE_PATH"]


def _normalize_path_win(data: bytes) -> bytes:
    """NORMALIZE_PATH_WIN: ``\\`` -> ``/``, then NORMALIZE_PATH (``dir\\..\\..\\foo`` -> ``../foo``)."""
    return _normalize_path(data.replace(b"\\", b"/"))


def _remove_nulls(data: bytes) -> bytes:
    """REMOVE_NULLS: delete every 0x00."""
    return data.replace(b"\x00", b"")


def _replace_nulls(data: bytes) -> bytes:
    """REPLACE_NULLS: every 0x00 -> space."""
    return data.replace(b"\x00", b" ")


# -- pre-parse (raw query string) ---------------------------------------------------------------


def _combine_duplicate_query_args(data: bytes) -> bytes:
    """COMBINE_DUPLICATE_QUERY_ARGS_BY_COMMA: ``a=1&b=2&a=3`` -> ``a=1,3&b=2``."""
    if 0x26 not in data:
        return data
    pieces = [piece for piece in data.split(b"&") if piece]
    values: dict[bytes, list[bytes]] = {}
    for piece in pieces:
        name, _, value = piece.partition(b"=")
        values.setdefault(name, []).append(value)
    if len(values) == len(pieces):  # no duplicate: the split sees the same arguments
        return data
    out: list[bytes] = []
    emitted: set[bytes] = set()
    for piece in pieces:
        name = piece.partition(b"=")[0]
        if name in emitted:
            continue
        emitted.add(name)
        group = values[name]
        out.append(piece if len(group) == 1 else name + b"=" + b",".join(group))
    return b"&".join(out)


def _replace_semicolons(data: bytes) -> bytes:
    """REPLACE_SEMICOLONS_WITH_AMPERSANDS: ``a=1;b=2`` -> ``a=1&b=2``."""
    return data.replace(b";", b"&")


# -- registries ---------------------------------------------------------------------------------

TRANSFORMS: Final[dict[str, Transform]] = {
    "NONE": _none,
    "LOWERCASE": _lowercase,
    "UPPERCASE": _uppercase,
    "COMPRESS_WHITE_SPACE": _compress_white_space,
    "REMOVE_WHITESPACE": _remove_whitespace,
    "TRIM": _trim,
    "TRIM_LEFT": _trim_left,
    "TRIM_RIGHT": _trim_right,
    "HTML_ENTITY_DECODE": decoders.html_entity_decode,
    "URL_DECODE": decoders.url_decode,
    "URL_DECODE_UNI": decoders.url_decode_uni,
    "BASE64_DECODE": decoders.base64_decode,
    "BASE64_DECODE_EXT": decoders.base64_decode_ext,
    "HEX_DECODE": decoders.hex_decode,
    "SQL_HEX_DECODE": decoders.sql_hex_decode,
    "MD5": _md5,
    "SHA256": _sha256,
    "CMD_LINE": _cmd_line,
    "CMD_LINE_WIN": _cmd_line,  # UNSPECIFIED_CHOICES["CMD_LINE_WIN"]
    "CMD_LINE_UNIX": _cmd_line,  # UNSPECIFIED_CHOICES["CMD_LINE_UNIX"]
    "REPLACE_COMMENTS": _replace_comments,
    "REMOVE_COMMENTS_CHAR": _remove_comments_char,
    "ESCAPE_SEQ_DECODE": decoders.escape_seq_decode,
    "JS_DECODE": decoders.js_decode,
    "JS_DECODE_EXT": decoders.js_decode_ext,
    "CSS_DECODE": decoders.css_decode,
    "NORMALIZE_PATH": _normalize_path,
    "NORMALIZE_PATH_WIN": _normalize_path_win,
    "REMOVE_NULLS": _remove_nulls,
    "REPLACE_NULLS": _replace_nulls,
    "UTF8_TO_UNICODE": decoders.utf8_to_unicode,
}

PRE_PARSE: Final[dict[str, Transform]] = {
    "NONE": _none,
    "URL_DECODE": decoders.pre_parse_url_decode,
    "URL_DECODE_UNI": decoders.pre_parse_url_decode_uni,
    "COMBINE_DUPLICATE_QUERY_ARGS_BY_COMMA": _combine_duplicate_query_args,
    "REPLACE_SEMICOLONS_WITH_AMPERSANDS": _replace_semicolons,
}


def sort_transformations(items: Iterable[tuple[int, str]]) -> tuple[str, ...]:
    """The types of ``(priority, type)`` pairs in ascending priority, the order AWS applies them.

    ``sort_transformations([(20, "LOWERCASE"), (3, "URL_DECODE")])`` -> ``("URL_DECODE", "LOWERCASE")``.
    Priorities must differ within one list (AWS rejects duplicates); ``ValueError`` otherwise.
    """
    ordered = sorted(items, key=lambda item: item[0])
    for before, after in itertools.pairwise(ordered):
        if before[0] == after[0]:
            raise ValueError(f"two text transformations share priority {before[0]}")
    return tuple(kind for _, kind in ordered)


def _compose(first: Transform, second: Transform) -> Transform:
    return lambda data: second(first(data))


def _sequence(funcs: tuple[Transform, ...]) -> Transform:
    def apply(data: bytes) -> bytes:
        for func in funcs:
            data = func(data)
        return data

    return apply


_CHAINS: dict[tuple[bool, tuple[str, ...]], Transform] = {}


def chain(types: Sequence[str], *, table: Mapping[str, Transform] = TRANSFORMS) -> Transform:
    """One callable applying ``types`` in the given order (already sorted by priority).

    ``NONE`` entries are dropped; no transformation at all gives the identity. ``table`` is
    ``TRANSFORMS`` (default) or ``PRE_PARSE``. Chains of the two registries are interned, so equal
    lists give the same object (a cache key for per-request memoisation). Unknown names raise
    ``ValueError``.
    """
    key = (table is PRE_PARSE, tuple(types))
    interned = table is TRANSFORMS or table is PRE_PARSE
    if interned and key in _CHAINS:
        return _CHAINS[key]
    steps: list[Transform] = []
    for name in types:
        if name == "NONE":
            continue
        try:
            steps.append(table[name])
        except KeyError:
            raise ValueError(f"unknown text transformation type {name!r}") from None
    if not steps:
        result: Transform = _none
    elif len(steps) == 1:
        result = steps[0]
    elif len(steps) == 2:
        result = _compose(steps[0], steps[1])
    else:
        result = _sequence(tuple(steps))
    if interned:
        _CHAINS[key] = result
    return result
