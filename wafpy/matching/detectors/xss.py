"""wafpy's own cross-site scripting detector (Apache-2.0; no libinjection code or tables).

It asks what a browser would do with the value if a page reflected it, in any of the places a
value lands: between tags, inside a tag, inside a quoted attribute value (so a leading quote
"breaks out"), or as a whole attribute value (a link target):

* a tag that runs or loads script or changes how the page loads (``<script``, ``<iframe``,
  ``<svg``, ``<object``, ``<embed``, ``<base``, ``<meta``, ``<link``, ``<style``...), also when
  closing (``</script>``), with NUL bytes or ``/`` between ``<`` and the name;
* an event-handler attribute (``onerror=``, ``onload=``...) inside a tag or after a quote break;
* a script URL (``javascript:``, ``vbscript:``, ``livescript:``, ``data:text/html``) where a URL
  is read, also when hidden with whitespace, control characters or character references that
  the browser removes or decodes inside attribute values (``jav&#x09;ascript:``);
* CSS that executes (``expression(``, ``-moz-binding``, ``behavior:``, ``url(javascript:``).

Plain markup (``<b>bold</b>``, ``<p>``, ``<a href="/x">``) and prose with ``<`` are not flagged.
``Detection.matched`` holds the fragments found, e.g. ``("<", "script")`` for ``matchedData``.
"""

from __future__ import annotations

import re
from string import ascii_lowercase
from typing import Any, Final

from wafpy.matching.re2engine import re2

__all__ = ["detect_xss"]

# Every pattern here runs in time linear in the value, whatever the value (a request is hostile
# input): the Python ``re`` patterns have no two ways to match the same text (possessive
# quantifiers and atomic groups where a quantifier meets what follows), and the three patterns
# that must look across a whole tag or a run of attributes, where a backtracking engine retries
# from every ``<`` or quote, run on RE2, whose automaton reads the value once.

_TRIGGERS: Final = re.compile(rb"[<:=(]|&#|&colon", re.IGNORECASE)

# Word tables stay several words a line, as written (the formatter would put one a line).
# fmt: off
_BAD_TAGS: Final = frozenset((
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "meta", "link",
    "style", "svg", "math", "xml", "import", "isindex", "vmlframe", "xss", "handler", "listener",
    "noscript", "template", "portal", "comment", "animate", "set", "xmp", "plaintext", "layer",
    "ilayer", "bgsound", "blink", "xlink", "form", "button", "image", "video", "audio", "source",
    "marquee", "details", "body", "html", "input", "keygen", "textarea", "select",
))
# Tags above that are common harmless markup only count with an event handler or script URL.
_NEEDS_MORE: Final = frozenset((
    "form", "button", "image", "video", "audio", "source", "marquee", "details", "body", "html",
    "input", "keygen", "textarea", "select", "blink",
))
# fmt: on

# A tag whose name alone decides: ``<``, NULs / blanks / ``/``, an optional ``prefix:`` when a
# name follows it (atomic: in ``<svg:x`` the name is ``x``, never ``svg``; in ``<svg:>`` it is
# ``svg``), then the whole name. The values are lower-cased first, so no IGNORECASE.
_BAD_TAG: Final = re.compile(
    r"<[\x00/\s]*+(?>(?:[a-z][a-z0-9_-]*+:(?=[a-z]))?)("
    + "|".join(sorted(_BAD_TAGS - _NEEDS_MORE, key=lambda name: (-len(name), name)))
    + r")(?![a-z0-9_-])"
)
# Processing instructions and declarations reach XML / legacy parsers (<?import, <!ENTITY ...).
_DECLARATION: Final = re.compile(r"<(\?[a-z]|!entity|!doctype|!\[cdata)")

# What Python's ``\s`` matches in a Latin-1 value, spelled out for RE2 (whose ``\s`` is narrower).
_WS: Final = rb"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0"
_WS_NUL: Final = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\x00"


def _re2(pattern: bytes) -> Any:
    options = re2.Options()
    options.encoding = re2.Options.Encoding.LATIN1
    options.never_capture = True  # the span is enough: the attribute name is read back from its end
    options.log_errors = False
    compiled = re2._re2.RE2(pattern, options)
    if not compiled.ok():  # pragma: no cover - fixed patterns
        raise ValueError(compiled.error())
    return compiled


_UNANCHORED: Final[Any] = re2._Anchor.UNANCHORED
# Inside a tag (``<`` + letter, no ``>`` since): an attribute that runs script or loads content.
_HANDLER_IN_TAG: Final = _re2(
    rb"<[\x00/]*[a-z][^>]*?[" + _WS + rb"/\"'`\x00]on[a-z]{3,}[" + _WS + rb"\x00]*="
)
# Attributes that load or style content: legacy data binding, XML namespaces, inline CSS.
_RISKY_ATTRIBUTE: Final = _re2(
    rb"<[\x00/]*[a-z][^>]*?[" + _WS + rb"/\"'`\x00](?:style|datasrc|datafld|dataformatas"
    rb"|xmlns(?::[a-z]+)?|formaction)[" + _WS + rb"\x00]*="
)
_RISKY_NAMES: Final = ("style", "data", "xmlns", "formaction")  # a literal each match contains
# After a quote that breaks out of an attribute value: other attributes (``a=/b c/``), then a
# handler. An attribute value may hold ``/``, which also separates attributes: a backtracking
# engine tries every split (exponential in the number of ``=/``); RE2 does not.
_HANDLER_AFTER_QUOTE: Final = _re2(
    rb"[\"'`]["
    + _WS
    + rb"/\x00]*(?:[a-z-]+(?:=[^"
    + _WS
    + rb">]*)?["
    + _WS
    + rb"/]+)*on[a-z]{3,}["
    + _WS
    + rb"\x00]*="
)
# Outside a tag and without a quote break, a handler needs a value that calls something, so
# query-style text such as "online=true" stays benign. It must start the value or follow a blank,
# NUL or "/" (the lookbehind after the literal "on" lets the engine skip to each "on" in C; a
# run of letters is then read once, from its start only).
_HANDLER_LOOSE: Final = re.compile(r"(on(?<![^\t\n\x0b\x0c\r \x00/]on)[a-z]{3,}+)[\s\x00]*+=[^=&(`]*+[(`]")
_SCHEME: Final = re.compile(r"javascript:|vbscript:|livescript:|data:text/html|data:image/svg")
_BEFORE_SCHEME: Final = frozenset("\"'`=(,>:")  # after squeezing: where a URL value can begin
_CSS: Final = re.compile(r"(expression\(|-moz-binding|behaviou?r:|url\(javascript:)")
# A CSS comment, to its first "*/" or to the end (on squeezed text: no newline left).
_CSS_COMMENT: Final = re.compile(r"/\*(?:[^*]|\*(?!/))*+(?:\*/)?")
_ENTITY: Final = re.compile(r"&(#x[0-9a-f]++|#\d++|colon|tab|newline|lpar|rpar|quot|apos);?", re.IGNORECASE)
_SQUEEZE: Final = re.compile(r"[\x00-\x20\\]+")


# Cheap necessary conditions, tried on the lower-cased value before the costly steps below; each
# is implied by what it guards, so skipping on a miss never changes an answer:
# * every handler pattern contains ``on<letters>=`` after a character that is no letter;
# * the scheme and CSS checks look for literals in the *squeezed* value; without a character
#   reference, a literal is in the squeezed value exactly when its characters appear in the raw
#   value separated only by squeezable characters, which one search can tell without building
#   the squeezed copy of a long benign body.
_ON_ATTRIBUTE: Final = re.compile(r"on(?<![a-z]on)[a-z]{3,}+[\s\x00]*+=")
_GAP: Final = r"[\x00-\x20\\]*+"
_SQUEEZED_HINT: Final = re.compile(
    "|".join(
        _GAP.join(re.escape(ch) for ch in literal)
        for literal in ("script:", "data:", "ression(", "binding", "behavio", "url(")
    )
)


def _attribute(pattern: Any, raw: bytes, lower: str, tail: str) -> str | None:
    """The attribute name at the end of ``pattern``'s first match in ``raw`` (the lower-cased
    value as bytes), read back from the ``=`` over blanks and NULs: the name is the run of
    ``tail`` characters there (a separator, never one of them, precedes every name)."""
    start, end = pattern.Match(_UNANCHORED, raw, 0, len(raw))[0]
    if start < 0:
        return None
    head = lower[start : end - 1].rstrip(_WS_NUL)
    return head[len(head.rstrip(tail)) :]


def _handler_in_tag(raw: bytes, lower: str) -> str | None:
    """The event handler set inside a tag (``<img src=x onerror=``), if any."""
    return _attribute(_HANDLER_IN_TAG, raw, lower, ascii_lowercase)


def _risky_attribute(raw: bytes, lower: str) -> str | None:
    """A content-loading or styling attribute inside a tag (``<div style=``), if any."""
    if not any(name in lower for name in _RISKY_NAMES):
        return None
    return _attribute(_RISKY_ATTRIBUTE, raw, lower, ascii_lowercase + ":")


def _handler_after_quote(raw: bytes, lower: str) -> str | None:
    """An event handler after a quote that breaks out of an attribute value, if any."""
    return _attribute(_HANDLER_AFTER_QUOTE, raw, lower, ascii_lowercase)


_NAMED: Final = {
    "colon": ":",
    "tab": "\t",
    "newline": "\n",
    "lpar": "(",
    "rpar": ")",
    "quot": '"',
    "apos": "'",
}
# Reference -> character, for the references seen (bounded: a stream of distinct ones must not
# grow it without limit). A value made of references costs one dictionary look-up for each.
_DECODED: dict[str, str] = {}


def _decode_entity(m: re.Match[str]) -> str:
    key = m.group(1)
    found = _DECODED.get(key)
    if found is not None:
        return found
    text = key.lower()
    if text in _NAMED:
        found = _NAMED[text]
    else:
        try:
            code = int(text[2:], 16) if text.startswith("#x") else int(text[1:])
            found = chr(code) if code < 0x110000 else ""
        except ValueError:  # more digits than int() reads (sys.get_int_max_str_digits)
            found = ""
    if len(_DECODED) < 4096:
        _DECODED[key] = found
    return found


def _normalized(text: str) -> str:
    """What a URL or CSS parser sees: character references decoded (browsers decode them in
    attribute values), then whitespace/control characters and backslashes dropped (URL parsers
    strip tabs and newlines inside a scheme; CSS escapes use backslashes)."""
    if "&" in text:
        text = _ENTITY.sub(_decode_entity, text)
    return _SQUEEZE.sub("", text).lower()


def detect_xss(data: bytes) -> tuple[str, ...] | None:
    """The fragments found when ``data`` would run script if reflected into a page, else None.

    The whole value is read, however long: each step below costs time linear in its length.
    """
    if not _TRIGGERS.search(data):
        return None
    text = data.decode("latin-1")
    lower = text.lower()  # same length as data: Latin-1 lower-casing never changes a length
    on_attribute = _ON_ATTRIBUTE.search(lower) is not None
    raw = b""
    if "<" in lower:
        m = _BAD_TAG.search(lower)
        if m:
            return ("<", m.group(1))
        raw = data.lower()
        name = (_handler_in_tag(raw, lower) if on_attribute else None) or _risky_attribute(raw, lower)
        if name:
            return (name, "=")
        m_decl = _DECLARATION.search(lower)
        if m_decl:
            return ("<", m_decl.group(1))
    if on_attribute:
        if '"' in lower or "'" in lower or "`" in lower:
            name = _handler_after_quote(raw or data.lower(), lower)
            if name:
                return (name, "=")
        m3 = _HANDLER_LOOSE.search(lower)
        if m3:
            return (m3.group(1), "=")
    if not _SQUEEZED_HINT.search(lower) and ("&" not in text or not _ENTITY.search(text)):
        return None
    squeezed = _normalized(text)
    if "script:" in squeezed or "data:" in squeezed:
        for m in _SCHEME.finditer(squeezed):
            if m.start() == 0 or squeezed[m.start() - 1] in _BEFORE_SCHEME:
                return (m.group(0),)
    if "expression(" in squeezed or "binding" in squeezed or "behavio" in squeezed or "url(" in squeezed:
        m5 = _CSS.search(_CSS_COMMENT.sub("", squeezed) if "/*" in squeezed else squeezed)
        if m5:
            return (m5.group(1),)
    elif "/*" in squeezed and "ression(" in squeezed:
        m6 = _CSS.search(_CSS_COMMENT.sub("", squeezed))
        if m6:
            return (m6.group(1),)
    return None
