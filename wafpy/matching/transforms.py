"""AWS WAF text transformations: pure functions ``bytes -> bytes``.

``TRANSFORMS`` maps every ``TextTransformationType`` name to its function, ``PRE_PARSE`` every
``PreParseTextTransformationType`` name (applied to the raw query string before it is split), and
``chain()`` composes a priority-ordered list of names into one callable.

AWS defines most transformations by reference to the ModSecurity functions of the same name; where
AWS is silent the behaviour follows ModSecurity v2. Everything works on bytes (0x00-0xFF): no
text decoding, ASCII-only case folding (``bytes.lower()`` is exactly AWS's LOWERCASE, ``str.lower()``
on latin-1 text is not), "whitespace" is C ``isspace`` (0x09-0x0D, 0x20).

The decoders return their input object itself when there is nothing to decode (no ``%`` for
URL_DECODE, no ``\\`` for the escape decoders, no ``&`` for HTML_ENTITY_DECODE...): they run per
request on every inspected element, and most elements contain nothing to decode.

Behaviour AWS does not document is collected in ``UNSPECIFIED_CHOICES`` (name -> what wafpy does and
why); each place that implements one of those choices refers to its key.
"""

from __future__ import annotations

import binascii
import codecs
import hashlib
import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final, TypeAlias

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
_HEXDIGITS: Final = b"0123456789abcdefABCDEF"
_BYTE: Final = tuple(bytes((i,)) for i in range(256))
# Two hex digits -> the byte; doubles as the "are these two bytes hex digits" test.
_PAIR: Final[dict[bytes, bytes]] = {
    bytes((a, b)): _BYTE[int(bytes((a, b)), 16)] for a in _HEXDIGITS for b in _HEXDIGITS
}
_FF: Final = frozenset((b"ff", b"fF", b"Ff", b"FF"))
# Control escapes shared by ESCAPE_SEQ_DECODE and JS_DECODE; any other escaped byte stands for itself.
_CTRL: Final = {
    b"a": b"\x07",
    b"b": b"\x08",
    b"f": b"\x0c",
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"v": b"\x0b",
}


def _fullwidth(high: bytes, low: int) -> int:
    """U+FF01-U+FF5E are full-width forms of '!'-'~': fold them to ASCII (low byte + 0x20)."""
    return low + 0x20 if 0 < low < 0x5F and high in _FF else low


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


# -- percent decoding ---------------------------------------------------------------------------


# A '%' that does not start a valid escape (two hex digits follow).
_BAD_PERCENT: Final = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def _percent_decode(data: bytes) -> bytes:
    # A '%' that starts no escape stands for itself: spell it %25 so that every '%' is valid.
    # Then rewrite each '%' as \xHH (original backslashes doubled, so they decode to themselves)
    # and let CPython's C escape decoder (codecs.escape_decode, the one pickle uses) do the work:
    # 2-3x faster than urllib's unquote_to_bytes on form data. The tests compare both.
    data = _BAD_PERCENT.sub(b"%25", data)
    return codecs.escape_decode(data.replace(b"\\", b"\\\\").replace(b"%", b"\\x"))[0]


def _percent_decode_uni(data: bytes) -> bytes:
    if b"%u" not in data and b"%U" not in data:
        return _percent_decode(data)
    # Every piece after a '%' starts with the candidate escape; an invalid escape keeps its '%'
    # and scanning goes on with the next byte, which is what copying the piece does.
    pieces = data.split(b"%")
    out = [pieces[0]]
    append = out.append
    for piece in pieces[1:]:
        byte = _PAIR.get(piece[:2])
        if byte is not None:
            append(byte)
            append(piece[2:])
        elif piece[:1] in (b"u", b"U") and piece[1:3] in _PAIR and piece[3:5] in _PAIR:
            append(_BYTE[_fullwidth(piece[1:3], _PAIR[piece[3:5]][0])])
            append(piece[5:])
        else:  # invalid or truncated: '%' (and 'u') stay, scanning resumes right after
            append(b"%")
            append(piece)
    return b"".join(out)


def _url_decode(data: bytes) -> bytes:
    """URL_DECODE: ``%HH`` -> byte, ``+`` -> space, single pass (``a%20b+c%2`` -> ``a b c%2``)."""
    if 0x2B in data:  # '+'; an int needle is a memchr, several times cheaper than b"+"
        data = data.replace(b"+", b" ")  # before decoding, so that %2B stays a literal '+'
    return _percent_decode(data) if 0x25 in data else data


def _url_decode_uni(data: bytes) -> bytes:
    """URL_DECODE_UNI: URL_DECODE plus ``%uHHHH`` -> low byte, full-width folded (``%uff21`` -> ``A``)."""
    if 0x2B in data:
        data = data.replace(b"+", b" ")
    return _percent_decode_uni(data) if 0x25 in data else data


def _pre_parse_url_decode(data: bytes) -> bytes:
    """Pre-parse URL_DECODE: ``%HH`` only (``a%26b=1+2`` -> ``a&b=1+2``); see UNSPECIFIED_CHOICES."""
    return _percent_decode(data) if 0x25 in data else data


def _pre_parse_url_decode_uni(data: bytes) -> bytes:
    """Pre-parse URL_DECODE_UNI: ``%HH`` and ``%uHHHH``, ``+`` kept; see UNSPECIFIED_CHOICES."""
    return _percent_decode_uni(data) if 0x25 in data else data


# -- binary encodings ---------------------------------------------------------------------------

_B64_ALPHABET: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_RUN: Final = re.compile(rb"[A-Za-z0-9+/]*")
_B64URL: Final = bytes.maketrans(b"-_", b"+/")
_NOT_B64: Final = bytes(sorted(set(range(256)) - set(_B64_ALPHABET + b"-_")))


def _b64(chars: bytes) -> bytes:
    # APR's leftover rule: a final group of 2 or 3 characters gives 1 or 2 bytes, a lone one nothing.
    rem = len(chars) % 4
    if rem == 1:
        chars = chars[:-1]
    elif rem:
        chars += b"=" * (4 - rem)
    return binascii.a2b_base64(chars)


def _base64_decode(data: bytes) -> bytes:
    """BASE64_DECODE: decode the leading run of alphabet bytes (``SGVs!bG8`` -> ``Hel``)."""
    match = _B64_RUN.match(data)
    return _b64(match.group()) if match is not None else b""


def _base64_decode_ext(data: bytes) -> bytes:
    """BASE64_DECODE_EXT: skip non-alphabet bytes, decode the rest (``PHNj.cmlw dD4=`` -> ``<script>``)."""
    return _b64(data.translate(_B64URL, _NOT_B64))


def _hex_decode(data: bytes) -> bytes:
    """HEX_DECODE: pairs of hex digits -> bytes (``414243`` -> ``ABC``); see UNSPECIFIED_CHOICES."""
    if data.translate(None, _HEXDIGITS):
        return data
    return binascii.unhexlify(data[: len(data) & ~1])


_SQL_HEX: Final = re.compile(rb"0[xX]((?:[0-9A-Fa-f]{2})+)")


def _sql_hex_decode(data: bytes) -> bytes:
    """SQL_HEX_DECODE: ``0x`` + hex pairs -> bytes anywhere (``0x414243 0x4`` -> ``ABC 0x4``)."""
    if b"0x" not in data and b"0X" not in data:
        return data
    return _SQL_HEX.sub(lambda m: binascii.unhexlify(m.group(1)), data)


def _md5(data: bytes) -> bytes:
    """MD5: the raw 16-byte digest (binary, not hex)."""
    return hashlib.md5(data, usedforsecurity=False).digest()


def _sha256(data: bytes) -> bytes:
    """SHA256: the raw 32-byte digest."""
    return hashlib.sha256(data).digest()


_NOT_ASCII_OR_ESCAPED: Final = re.compile("[^\x00-\x7f\udc80-\udcff]")


def _utf8_to_unicode(data: bytes) -> bytes:
    """UTF8_TO_UNICODE: each well-formed multi-byte UTF-8 sequence -> ``%u`` + hex (``é`` -> ``%u00e9``)."""
    if data.isascii():
        return data
    # surrogateescape turns every byte outside a well-formed sequence into U+DC80-U+DCFF, so those
    # bytes come back unchanged on encoding while real code points become %u escapes.
    text = data.decode("utf-8", "surrogateescape")
    text = _NOT_ASCII_OR_ESCAPED.sub(lambda m: f"%u{ord(m.group()):04x}", text)
    return text.encode("utf-8", "surrogateescape")


# -- markup and escapes -------------------------------------------------------------------------

# A named reference counts only when the whole alphanumeric run is the name (``&ltx`` is copied);
# unknown names never match here, which equals "copy &name and continue after it".
_HTML_ENTITY: Final = re.compile(
    rb"&(?:#[xX]([0-9A-Fa-f]+)|#([0-9]+)|((?i:quot|amp|lt|gt|nbsp))(?![A-Za-z0-9]));?"
)
_HTML_NAMED: Final = {b"quot": b'"', b"amp": b"&", b"lt": b"<", b"gt": b">", b"nbsp": b"\xa0"}


def _html_entity(m: re.Match[bytes]) -> bytes:
    hexa, dec, name = m.groups()
    if hexa is not None:
        return _PAIR[hexa[-2:]] if len(hexa) > 1 else _BYTE[int(hexa, 16)]
    if dec is not None:
        return _BYTE[int(dec[-8:]) & 0xFF]  # UNSPECIFIED_CHOICES["HTML_ENTITY_DECODE"]
    return _HTML_NAMED[name.lower()]


def _html_entity_decode(data: bytes) -> bytes:
    """HTML_ENTITY_DECODE: ``&lt;`` ``&#60`` ``&#x3c;`` -> ``<``, ``;`` optional, low byte only."""
    return _HTML_ENTITY.sub(_html_entity, data) if 0x26 in data else data


_ESCAPE_SEQ: Final = re.compile(rb"\\(?:[xX]([0-9A-Fa-f]{2})|([0-7]{1,3})|(.))", re.DOTALL)


def _escape_seq(m: re.Match[bytes]) -> bytes:
    hexa, octal, other = m.groups()
    if hexa is not None:
        return _PAIR[hexa]
    if octal is not None:
        return _BYTE[int(octal, 8) & 0xFF]
    return _CTRL.get(other, other)  # UNSPECIFIED_CHOICES["ESCAPE_SEQ_DECODE"]


def _escape_seq_decode(data: bytes) -> bytes:
    """ESCAPE_SEQ_DECODE: C escapes (``\\n`` ``\\x41`` ``\\101``; ``\\777`` -> 0xFF); final ``\\`` kept."""
    return _ESCAPE_SEQ.sub(_escape_seq, data) if 0x5C in data else data


# Octal: three digits only when the first is 0-3 (the value must fit a byte), else two.
_JS_OCTAL: Final = rb"([0-3][0-7]{2}|[0-7]{1,2})"
_JS_ESCAPE: Final = re.compile(
    rb"\\(?:u([0-9A-Fa-f]{2})([0-9A-Fa-f]{2})|x([0-9A-Fa-f]{2})|" + _JS_OCTAL + rb"|(.))", re.DOTALL
)


def _js_escape(m: re.Match[bytes]) -> bytes:
    high, low, hexa, octal, other = m.groups()
    if low is not None:
        return _BYTE[_fullwidth(high, _PAIR[low][0])]  # UNSPECIFIED_CHOICES["JS_DECODE"]
    if hexa is not None:
        return _PAIR[hexa]
    if octal is not None:
        return _BYTE[int(octal, 8)]
    return _CTRL.get(other, other)


def _js_decode(data: bytes) -> bytes:
    """JS_DECODE: ``\\u003c`` ``\\x3c`` ``\\74`` ``\\uff1c`` (full-width) -> ``<``; ``\\w`` -> ``w``."""
    return _JS_ESCAPE.sub(_js_escape, data) if 0x5C in data else data


_JS_EXT_ESCAPE: Final = re.compile(
    rb"\\(?:u\{([0-9A-Fa-f]+)\}|u([dD][89abAB][0-9A-Fa-f]{2})\\u([dD][c-fC-F][0-9A-Fa-f]{2})"
    rb"|u([0-9A-Fa-f]{4})|x([0-9A-Fa-f]{2})|" + _JS_OCTAL + rb"|(.))",
    re.DOTALL,
)


def _js_ext_escape(m: re.Match[bytes]) -> bytes:
    braced, lead, trail, four, hexa, octal, other = m.groups()
    if braced is not None:
        code = int(braced, 16)
        if code > 0x10FFFF:
            return m.group()[1:]  # unknown escape: the backslash goes, the rest has none
    elif lead is not None:
        code = 0x10000 + ((int(lead, 16) - 0xD800) << 10) + (int(trail, 16) - 0xDC00)
    elif four is not None:
        code = int(four, 16)
    elif hexa is not None:
        return _PAIR[hexa]
    elif octal is not None:
        return _BYTE[int(octal, 8)]
    else:
        return _CTRL.get(other, other)
    return chr(code).encode("utf-8", "surrogatepass")


def _js_decode_ext(data: bytes) -> bytes:
    """JS_DECODE_EXT: JS_DECODE, but Unicode escapes give UTF-8 (``\\u00e9`` -> ``\\xc3\\xa9``)."""
    return _JS_EXT_ESCAPE.sub(_js_ext_escape, data) if 0x5C in data else data


# One optional whitespace byte after a hex escape belongs to the escape (CSS 2); \<LF> is a line
# continuation; a final lone backslash is dropped.
_CSS_ESCAPE: Final = re.compile(rb"\\(?:([0-9A-Fa-f]{1,6})[\t\n\x0b\x0c\r ]?|\n|(.)|\Z)", re.DOTALL)


def _css_escape(m: re.Match[bytes]) -> bytes:
    digits, other = m.groups()
    if digits is None:
        return other if other is not None else b""
    n = len(digits)
    if n == 1:
        return _BYTE[int(digits, 16)]
    low = _PAIR[digits[-2:]]
    # Full-width fold only when the code point is U+FFxx: 4 digits, 5 with a leading 0, 6 with 00.
    if n == 4 or (n == 5 and digits[0] == 0x30) or (n == 6 and digits[:2] == b"00"):
        return _BYTE[_fullwidth(digits[-4:-2], low[0])]
    return low


def _css_decode(data: bytes) -> bytes:
    """CSS_DECODE: CSS 2 escapes, last two hex digits (``\\6a\\61vascript`` -> ``javascript``)."""
    return _CSS_ESCAPE.sub(_css_escape, data) if 0x5C in data else data


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
    "HTML_ENTITY_DECODE": _html_entity_decode,
    "URL_DECODE": _url_decode,
    "URL_DECODE_UNI": _url_decode_uni,
    "BASE64_DECODE": _base64_decode,
    "BASE64_DECODE_EXT": _base64_decode_ext,
    "HEX_DECODE": _hex_decode,
    "SQL_HEX_DECODE": _sql_hex_decode,
    "MD5": _md5,
    "SHA256": _sha256,
    "CMD_LINE": _cmd_line,
    "CMD_LINE_WIN": _cmd_line,  # UNSPECIFIED_CHOICES["CMD_LINE_WIN"]
    "CMD_LINE_UNIX": _cmd_line,  # UNSPECIFIED_CHOICES["CMD_LINE_UNIX"]
    "REPLACE_COMMENTS": _replace_comments,
    "REMOVE_COMMENTS_CHAR": _remove_comments_char,
    "ESCAPE_SEQ_DECODE": _escape_seq_decode,
    "JS_DECODE": _js_decode,
    "JS_DECODE_EXT": _js_decode_ext,
    "CSS_DECODE": _css_decode,
    "NORMALIZE_PATH": _normalize_path,
    "NORMALIZE_PATH_WIN": _normalize_path_win,
    "REMOVE_NULLS": _remove_nulls,
    "REPLACE_NULLS": _replace_nulls,
    "UTF8_TO_UNICODE": _utf8_to_unicode,
}

PRE_PARSE: Final[dict[str, Transform]] = {
    "NONE": _none,
    "URL_DECODE": _pre_parse_url_decode,
    "URL_DECODE_UNI": _pre_parse_url_decode_uni,
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
