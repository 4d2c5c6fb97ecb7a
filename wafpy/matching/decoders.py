"""The decoding text transformations: percent, base64 and hex, UTF-8, HTML entities, C, JavaScript
and CSS escapes (the registry and the simpler transformations are in `wafpy.matching.transforms`).

The same conventions hold: bytes in, bytes out, ModSecurity v2 where AWS is silent, the input
object itself returned when there is nothing to decode. The choices AWS leaves open are recorded in
`wafpy.matching.transforms.UNSPECIFIED_CHOICES`; each place that implements one refers to its key.
"""

from __future__ import annotations

import binascii
import codecs
import re
from typing import Final

__all__ = [
    "base64_decode",
    "base64_decode_ext",
    "css_decode",
    "escape_seq_decode",
    "hex_decode",
    "html_entity_decode",
    "js_decode",
    "js_decode_ext",
    "pre_parse_url_decode",
    "pre_parse_url_decode_uni",
    "sql_hex_decode",
    "url_decode",
    "url_decode_uni",
    "utf8_to_unicode",
]

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


def url_decode(data: bytes) -> bytes:
    """URL_DECODE: ``%HH`` -> byte, ``+`` -> space, single pass (``a%20b+c%2`` -> ``a b c%2``)."""
    if 0x2B in data:  # '+'; an int needle is a memchr, several times cheaper than b"+"
        data = data.replace(b"+", b" ")  # before decoding, so that %2B stays a literal '+'
    return _percent_decode(data) if 0x25 in data else data


def url_decode_uni(data: bytes) -> bytes:
    """URL_DECODE_UNI: URL_DECODE plus ``%uHHHH`` -> low byte, full-width folded (``%uff21`` -> ``A``)."""
    if 0x2B in data:
        data = data.replace(b"+", b" ")
    return _percent_decode_uni(data) if 0x25 in data else data


def pre_parse_url_decode(data: bytes) -> bytes:
    """Pre-parse URL_DECODE: ``%HH`` only (``a%26b=1+2`` -> ``a&b=1+2``); see UNSPECIFIED_CHOICES."""
    return _percent_decode(data) if 0x25 in data else data


def pre_parse_url_decode_uni(data: bytes) -> bytes:
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


def base64_decode(data: bytes) -> bytes:
    """BASE64_DECODE: decode the leading run of alphabet bytes (``SGVs!bG8`` -> ``Hel``)."""
    match = _B64_RUN.match(data)
    return _b64(match.group()) if match is not None else b""


def base64_decode_ext(data: bytes) -> bytes:
    """BASE64_DECODE_EXT: skip non-alphabet bytes, decode the rest (``PHNj.cmlw dD4=`` -> ``<script>``)."""
    return _b64(data.translate(_B64URL, _NOT_B64))


def hex_decode(data: bytes) -> bytes:
    """HEX_DECODE: pairs of hex digits -> bytes (``414243`` -> ``ABC``); see UNSPECIFIED_CHOICES."""
    if data.translate(None, _HEXDIGITS):
        return data
    return binascii.unhexlify(data[: len(data) & ~1])


_SQL_HEX: Final = re.compile(rb"0[xX]((?:[0-9A-Fa-f]{2})+)")


def sql_hex_decode(data: bytes) -> bytes:
    """SQL_HEX_DECODE: ``0x`` + hex pairs -> bytes anywhere (``0x414243 0x4`` -> ``ABC 0x4``)."""
    if b"0x" not in data and b"0X" not in data:
        return data
    return _SQL_HEX.sub(lambda m: binascii.unhexlify(m.group(1)), data)


# -- UTF-8 ---------------------------------------------------------------------------------------

_NOT_ASCII_OR_ESCAPED: Final = re.compile("[^\x00-\x7f\udc80-\udcff]")


def utf8_to_unicode(data: bytes) -> bytes:
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


def html_entity_decode(data: bytes) -> bytes:
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


def escape_seq_decode(data: bytes) -> bytes:
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


def js_decode(data: bytes) -> bytes:
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


def js_decode_ext(data: bytes) -> bytes:
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


def css_decode(data: bytes) -> bytes:
    """CSS_DECODE: CSS 2 escapes, last two hex digits (``\\6a\\61vascript`` -> ``javascript``)."""
    return _CSS_ESCAPE.sub(_css_escape, data) if 0x5C in data else data
