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
from typing import Final

__all__ = ["detect_xss"]

_TRIGGERS: Final = re.compile(rb"[<:=(]|&#|&colon", re.IGNORECASE)

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

_TAG: Final = re.compile(r"<[\x00/\s]*(?:[a-z][a-z0-9_-]*:)?([a-z][a-z0-9_-]*)", re.IGNORECASE)
# Processing instructions and declarations reach XML / legacy parsers (<?import, <!ENTITY ...).
_DECLARATION: Final = re.compile(r"<(\?[a-z]|!entity|!doctype|!\[cdata)", re.IGNORECASE)
# Attributes that load or style content: legacy data binding, XML namespaces, inline CSS.
_RISKY_ATTRIBUTE: Final = re.compile(
    r"<[\x00/]*[a-z][^>]*?[\s/\"'`\x00](style|datasrc|datafld|dataformatas|xmlns(?::[a-z]+)?"
    r"|formaction)[\s\x00]*=", re.IGNORECASE | re.DOTALL)
_HANDLER_IN_TAG: Final = re.compile(
    r"<[\x00/]*[a-z][^>]*?[\s/\"'`\x00](on[a-z]{3,})[\s\x00]*=", re.IGNORECASE | re.DOTALL)
_HANDLER_AFTER_QUOTE: Final = re.compile(
    r"[\"'`][\s/\x00]*(?:[a-z-]+(?:=[^\s>]*)?[\s/]+)*(on[a-z]{3,})[\s\x00]*=", re.IGNORECASE)
# Outside a tag and without a quote break, a handler needs a value that calls something, so
# query-style text such as "online=true" stays benign. (The literal "on" first lets the regex
# engine skip ahead quickly; the character before is checked in Python.)
_HANDLER_LOOSE: Final = re.compile(r"(on[a-z]{3,})[\s\x00]*=[^=&]*[(`]", re.IGNORECASE)
_SCHEME: Final = re.compile(r"javascript:|vbscript:|livescript:|data:text/html|data:image/svg")
_BEFORE_SCHEME: Final = frozenset("\"'`=(,>:")  # after squeezing: where a URL value can begin
_CSS: Final = re.compile(r"(expression\(|-moz-binding|behaviou?r:|url\(javascript:)")
_CSS_COMMENT: Final = re.compile(r"/\*.*?(?:\*/|$)", re.DOTALL)
_ENTITY: Final = re.compile(r"&(#x[0-9a-f]+|#\d+|colon|tab|newline|lpar|rpar|quot|apos);?", re.IGNORECASE)
_SQUEEZE: Final = re.compile(r"[\x00-\x20\\]+")


# Cheap necessary conditions, tried on the lower-cased value before the costly steps below; each
# is implied by what it guards, so skipping on a miss never changes an answer:
# * every handler pattern contains ``on<letters>=``;
# * the scheme and CSS checks look for literals in the *squeezed* value; without a character
#   reference, a literal is in the squeezed value exactly when its characters appear in the raw
#   value separated only by squeezable characters, which one search can tell without building
#   the squeezed copy of a long benign body.
_ON_ATTRIBUTE: Final = re.compile(r"on[a-z]{3,}[\s\x00]*=")
_GAP: Final = r"[\x00-\x20\\]*"
_SQUEEZED_HINT: Final = re.compile("|".join(
    _GAP.join(re.escape(ch) for ch in literal)
    for literal in ("script:", "data:", "ression(", "binding", "behavio", "url(")))


def _decode_entity(m: re.Match[str]) -> str:
    text = m.group(1).lower()
    named = {"colon": ":", "tab": "\t", "newline": "\n", "lpar": "(", "rpar": ")", "quot": '"',
             "apos": "'"}
    if text in named:
        return named[text]
    try:
        code = int(text[2:], 16) if text.startswith("#x") else int(text[1:])
        return chr(code) if code < 0x110000 else ""
    except ValueError:  # pragma: no cover - the pattern only admits digits
        return ""


def _normalized(text: str) -> str:
    """What a URL or CSS parser sees: character references decoded (browsers decode them in
    attribute values), then whitespace/control characters and backslashes dropped (URL parsers
    strip tabs and newlines inside a scheme; CSS escapes use backslashes)."""
    if "&" in text:
        text = _ENTITY.sub(_decode_entity, text)
    return _SQUEEZE.sub("", text).lower()


def detect_xss(data: bytes) -> tuple[str, ...] | None:
    """The fragments found when ``data`` would run script if reflected into a page, else None."""
    if not _TRIGGERS.search(data):
        return None
    text = data[:16384].decode("latin-1")
    lower = text.lower()
    if "<" in lower:
        for m in _TAG.finditer(lower):
            name = m.group(1)
            if name in _BAD_TAGS and name not in _NEEDS_MORE:
                return ("<", name)
        m2 = _HANDLER_IN_TAG.search(lower) or _RISKY_ATTRIBUTE.search(lower)
        if m2:
            return (m2.group(1), "=")
        m_decl = _DECLARATION.search(lower)
        if m_decl:
            return ("<", m_decl.group(1))
    if _ON_ATTRIBUTE.search(lower):
        m3 = _HANDLER_AFTER_QUOTE.search(lower) if ('"' in lower or "'" in lower or "`" in lower) else None
        if m3:
            return (m3.group(1), "=")
        for m in _HANDLER_LOOSE.finditer(lower):
            if m.start() == 0 or lower[m.start() - 1] in " \t\n\r\f\v\x00/":
                return (m.group(1), "=")
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
