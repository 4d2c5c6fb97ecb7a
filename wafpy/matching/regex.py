"""Regular expressions as AWS WAF runs them: PCRE syntax, RE2 semantics, bytes in, bytes out.

AWS WAF documents its regex dialect as PCRE minus every construct that needs backtracking
(backreferences, recursion, conditionals, verbs, atomic groups, possessive quantifiers, lookaround,
``\\C``, ``\\R``, ``\\K``, callouts). What is left is the dialect of RE2, so wafpy validates the
PCRE text itself (to name the offending construct and its offset, as AWS's API error does), then
translates the few PCRE spellings RE2 lacks and compiles with RE2 on bytes in Latin-1 mode:
one pattern character per byte, ``.`` matches one byte, ``(?i)`` folds ASCII only (PCRE without
UTF mode, default "C" tables). Matching is an unanchored search.

Translations (PCRE → RE2), each with the PCRE meaning in non-UTF mode:

* ``$`` (no ``m`` flag) → ``(?:\\n?\\z)``: PCRE's ``$`` also matches before a final newline;
  RE2's does not. ``\\Z`` likewise. The match then includes that newline; only the yes/no
  answer matters to a rule.
* ``\\h``/``\\H`` → ``[\\t \\xa0]`` and complement; ``\\v``/``\\V`` → ``[\\n\\x0b\\f\\r\\x85]`` and
  complement (RE2's ``\\v`` is the vertical tab only); ``\\s``/``\\S`` gain the vertical tab
  (PCRE ≥ 8.34); ``\\e``, ``\\cX``, ``\\G`` (≡ ``\\A`` for a single search), ``\\N``.
* ``(?<name>``, ``(?'name'``, ``(?P<name>``, ``(?|`` → ``(?:``: groups never capture here.
* ``(?#...)`` comments are dropped; ``\\Q...\\E`` is emitted as escaped bytes.
* Inside ``[...]``: ``\\1``-``\\7`` are octal, ``\\b`` is backspace (PCRE), so both become bytes.

Example::

    >>> find = compile_regex(r"(?i)nikto|nmap")
    >>> find(b"Mozilla/5.00 (Nikto/2.1.6)")
    b'Nikto'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any, Final

from wafpy.errors import Reduced, RulesetError, reduce_error
from wafpy.matching.re2engine import re2

__all__ = [
    "MAX_PATTERN_LENGTH",
    "PATTERN_QUOTA",
    "check_regex",
    "compile_regex",
    "compile_regex_set",
    "regex_warnings",
]

MAX_PATTERN_LENGTH: Final = 512  # the API shape's limit on RegexString
PATTERN_QUOTA: Final = 200  # the documented quota; AWS may refuse longer patterns at account level

Matcher = Callable[[bytes], "bytes | None"]

_UNANCHORED: Final[Any] = re2._Anchor.UNANCHORED  # the Python wrapper's search() adds ~1 µs per call
_QUANT_BRACE = re.compile(r"\{(\d+)(,(\d*))?\}")
_GROUP_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FLAGS = re.compile(r"\(\?([A-Za-z]*(?:-[A-Za-z]*)?)([:)])")
_DOLLAR = "\x00$\x00"  # placeholder: its translation depends on whether (?m) occurs anywhere

# Byte sets of the PCRE shorthands RE2 spells differently; as class *contents* (no brackets) so
# they work both alone and inside [...]. Negations are explicit complements over 0x00-0xFF,
# which is exact because a Latin-1 RE2 class only ever sees bytes.
_H = r"\x{09}\x{20}\x{a0}"
_NOT_H = r"\x{00}-\x{08}\x{0a}-\x{1f}\x{21}-\x{9f}\x{a1}-\x{ff}"
_V = r"\x{0a}-\x{0d}\x{85}"
_NOT_V = r"\x{00}-\x{09}\x{0e}-\x{84}\x{86}-\x{ff}"
_S = r"\x{09}-\x{0d}\x{20}"
_NOT_S = r"\x{00}-\x{08}\x{0e}-\x{1f}\x{21}-\x{ff}"
_CLASS_ESCAPES: Final = {"h": _H, "H": _NOT_H, "v": _V, "V": _NOT_V, "s": _S, "S": _NOT_S}

_REJECTED_ESCAPES: Final = {
    "C": "single-byte escape",
    "R": "newline-sequence escape",
    "K": "match-reset escape",
}


def _options() -> Any:
    opts = re2.Options()
    opts.encoding = re2.Options.Encoding.LATIN1
    opts.log_errors = False  # RE2 would print every rejected pattern to stderr
    opts.never_capture = True  # only the whole match is used; no submatch bookkeeping
    return opts


_OPTIONS: Final = _options()


class _Unsupported(Exception):
    def __init__(self, what: str, construct: str, offset: int) -> None:
        self.parts = (what, construct, offset)
        super().__init__(f"{what} {construct} at offset {offset} is not supported by AWS WAF")

    def __reduce__(self) -> Reduced:
        return reduce_error(self, self.parts)


def _hex(ch: str) -> str:
    """One pattern character as RE2 byte escapes (its UTF-8 bytes, as PCRE without UTF sees them)."""
    if ch.isascii() and (ch.isalnum() or ch == "_"):
        return ch
    return "".join(f"\\x{{{b:02x}}}" for b in ch.encode("utf-8"))


def _control(ch: str) -> str:
    return f"\\x{{{(ord(ch.upper()) ^ 0x40) & 0xFF:02x}}}"


_CAPTURE = re.compile(r"\\.|\((?![?*])|\(\?P?<(?![=!])|\(\?'")


def _capture_count(pattern: str) -> int:
    """Capturing groups in the pattern (approximate: classes are not skipped)."""
    return sum(1 for m in _CAPTURE.finditer(pattern) if not m.group(0).startswith("\\"))


def _until(pattern: str, start: int, close: str) -> int:
    end = pattern.find(close, start)
    return len(pattern) if end < 0 else end + 1


def _escape(p: str, i: int, out: list[str]) -> int:
    """Translate the escape at p[i] == '\\' outside a class; return the index after it."""
    if i + 1 >= len(p):
        out.append("\\")  # trailing backslash: RE2 reports it
        return i + 1
    c = p[i + 1]
    if c in "123456789":
        j = i + 2
        while j < len(p) and p[j].isdigit():
            j += 1
        # PCRE: \1-\9 are always backreferences; \10 and up only when that many groups exist,
        # otherwise up to three octal digits are a character code (\101 is "A").
        if int(p[i + 1 : j]) < 10 or int(p[i + 1 : j]) <= _capture_count(p) or c in "89":
            raise _Unsupported("backreference", p[i:j], i)
        k = i + 1
        while k < len(p) and k < i + 4 and p[k] in "01234567":
            k += 1
        out.append(f"\\x{{{int(p[i + 1 : k], 8) & 0xFF:02x}}}")
        return k
    if c == "k" and i + 2 < len(p) and p[i + 2] in "<'{":
        end = _until(p, i + 3, {"<": ">", "'": "'", "{": "}"}[p[i + 2]])
        raise _Unsupported("backreference", p[i:end], i)
    if c == "g":
        j = i + 2
        if j < len(p) and p[j] in "<'":
            raise _Unsupported("subroutine call", p[i : _until(p, j + 1, ">" if p[j] == "<" else "'")], i)
        if j < len(p) and p[j] == "{":
            raise _Unsupported("backreference", p[i : _until(p, j + 1, "}")], i)
        while j < len(p) and (p[j].isdigit() or (j == i + 2 and p[j] in "+-")):
            j += 1
        raise _Unsupported("backreference", p[i:j], i)
    if c in _REJECTED_ESCAPES:
        raise _Unsupported(_REJECTED_ESCAPES[c], p[i : i + 2], i)
    if c == "Q":
        end = p.find("\\E", i + 2)
        stop = len(p) if end < 0 else end
        out.extend(_hex(ch) for ch in p[i + 2 : stop])
        return len(p) if end < 0 else end + 2
    if c == "E":
        return i + 2  # a stray \E is ignored by PCRE
    if c in _CLASS_ESCAPES:
        out.append(f"[{_CLASS_ESCAPES[c]}]")
    elif c == "Z":
        out.append(r"(?:\n?\z)")
    elif c == "G":
        out.append(r"\A")
    elif c == "N" and not p.startswith("{", i + 2):
        out.append(r"[^\n]")
    elif c == "e":
        out.append(r"\x{1b}")
    elif c == "c" and i + 2 < len(p):
        out.append(_control(p[i + 2]))
        return i + 3
    elif not c.isascii():
        out.append(_hex(c))  # an escaped non-ASCII character is that literal character
    else:
        out.append(p[i : i + 2])
    return i + 2


def _char_class(p: str, i: int, out: list[str]) -> int:
    """Translate the class starting at p[i] == '['; return the index after its ']'."""
    out.append("[")
    j = i + 1
    if j < len(p) and p[j] == "^":
        out.append("^")
        j += 1
    first = True
    while j < len(p):
        c = p[j]
        if c == "]" and not first:
            out.append("]")
            return j + 1
        first = False
        if c == "]":
            out.append(r"\]")  # a ']' right after '[' or '[^' is a literal
            j += 1
        elif c == "[" and j + 1 < len(p) and p[j + 1] in ":.=":
            end = p.find(p[j + 1] + "]", j + 2)
            if end < 0:
                out.append(r"\[")
                j += 1
            else:
                out.append(p[j : end + 2])  # POSIX class: RE2 knows the same names
                j = end + 2
        elif c == "[":
            out.append(r"\[")
            j += 1
        elif c == "\\" and j + 1 < len(p):
            e = p[j + 1]
            if e in _CLASS_ESCAPES:
                out.append(_CLASS_ESCAPES[e])
            elif e in "1234567":
                k = j + 1
                while k < len(p) and k < j + 4 and p[k] in "01234567":
                    k += 1
                out.append(f"\\x{{{int(p[j + 1 : k], 8) & 0xFF:02x}}}")
                j = k
                continue
            elif e == "b":
                out.append(r"\x{08}")
            elif e == "e":
                out.append(r"\x{1b}")
            elif e == "c" and j + 2 < len(p):
                out.append(_control(p[j + 2]))
                j += 3
                continue
            elif e == "Q":
                end = p.find("\\E", j + 2)
                stop = len(p) if end < 0 else end
                out.extend(_hex(ch) for ch in p[j + 2 : stop])
                j = len(p) if end < 0 else end + 2
                continue
            elif e == "E":
                pass
            elif not e.isascii():
                out.append(_hex(e))
            else:
                out.append(p[j : j + 2])
            j += 2
        else:
            out.append(c if c.isascii() else _hex(c))
            j += 1
    return j  # unterminated: RE2 reports "missing ]"


def _group(p: str, i: int, out: list[str]) -> tuple[int, bool]:
    """Translate a group opener at p[i] == '('; return (next index, sets multi-line mode)."""
    rest = p[i + 1 : i + 4]
    if rest.startswith("*"):
        end = _until(p, i + 2, ")")
        raise _Unsupported("backtracking verb", p[i:end], i)
    if not rest.startswith("?"):
        out.append("(")
        return i + 1, False
    q = p[i + 2 : i + 3]
    if q == "#":
        return _until(p, i + 3, ")"), False
    for prefix, what in (
        ("?<=", "lookbehind"),
        ("?<!", "negative lookbehind"),
        ("?=", "lookahead"),
        ("?!", "negative lookahead"),
        ("?>", "atomic group"),
        ("?(", "conditional"),
        ("?C", "callout"),
    ):
        if p.startswith(prefix, i + 1):
            raise _Unsupported(what, "(" + prefix, i)
    recursion = re.compile(r"\(\?(R|[+-]?\d+|&\w+|P>\w+)\)").match(p, i)
    if recursion:
        what = "recursion" if recursion.group(1) in ("R", "0") else "subroutine call"
        raise _Unsupported(what, recursion.group(0), i)
    named_ref = re.compile(r"\(\?P=(\w+)\)").match(p, i)
    if named_ref:
        raise _Unsupported("backreference", named_ref.group(0), i)
    if q == "|":
        out.append("(?:")  # branch reset only renumbers captures, and nothing captures here
        return i + 3, False
    for opener, close in (("?P<", ">"), ("?<", ">"), ("?'", "'")):
        if p.startswith(opener, i + 1):
            start = i + 1 + len(opener)
            name = _GROUP_NAME.match(p, start)
            if name and p.startswith(close, name.end()):
                out.append("(?:")
                return name.end() + 1, False
    flags = _FLAGS.match(p, i)
    if flags:
        on = flags.group(1).split("-")[0]
        out.append(flags.group(0))
        return flags.end(), "m" in on
    out.append("(?")  # anything else: RE2 names the problem
    return i + 2, False


@functools.lru_cache(maxsize=8192)
def _translate(pattern: str) -> str:
    """PCRE text → RE2 text; raises _Unsupported for constructs AWS WAF rejects."""
    p = pattern
    out: list[str] = []
    multiline = False
    i = 0
    n = len(p)
    while i < n:
        c = p[i]
        if c == "\\":
            i = _escape(p, i, out)
        elif c == "[":
            i = _char_class(p, i, out)
        elif c == "(":
            i, sets_m = _group(p, i, out)
            multiline = multiline or sets_m
        elif c == "$":
            out.append(_DOLLAR)
            i += 1
        elif c in "*+?" or (brace := _QUANT_BRACE.match(p, i) if c == "{" else None):
            start = i
            i = brace.end() if c == "{" and brace else i + 1
            if i < n and p[i] == "+":
                raise _Unsupported("possessive quantifier", p[start : i + 1], start)
            out.append(p[start:i])
            if i < n and p[i] == "?":
                out.append("?")  # lazy: fine in RE2
                i += 1
        elif c == "{":
            out.append(r"\{")  # not a valid quantifier: PCRE takes it literally
            i += 1
        elif not c.isascii():
            out.append(_hex(c))
            i += 1
        else:
            out.append(c)
            i += 1
    # With (?m) anywhere, '$' keeps RE2's meaning (end of any line), which is PCRE's under (?m).
    dollar = "$" if multiline else r"(?:\n?\z)"
    return "".join(out).replace(_DOLLAR, dollar)


@functools.lru_cache(maxsize=8192)
def _compile_re2(pattern: str) -> Any:
    """The RE2 object of an already-validated pattern, or the RE2 error message as a str."""
    try:
        translated = _translate(pattern)
    except _Unsupported as exc:
        return str(exc)
    regexp = re2._re2.RE2(translated.encode("ascii"), _OPTIONS)
    if not regexp.ok():
        error = regexp.error()
        return "RE2 cannot compile the pattern: " + (
            error.decode("latin-1") if isinstance(error, bytes) else str(error)
        )
    return regexp


def check_regex(pattern: str) -> str | None:
    """None when AWS WAF accepts ``pattern``; otherwise a short reason naming construct and offset.

    >>> check_regex(r"(a)\\1")
    'backreference \\\\1 at offset 3 is not supported by AWS WAF'
    """
    if not pattern:
        return "the pattern is empty; AWS WAF requires 1 to 512 characters"
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"the pattern is {len(pattern)} characters long; AWS WAF allows at most {MAX_PATTERN_LENGTH}"
    compiled = _compile_re2(pattern)
    return compiled if isinstance(compiled, str) else None


def regex_warnings(pattern: str) -> list[str]:
    """Warnings for an accepted pattern (AWS would load it, but something deserves attention)."""
    warnings: list[str] = []
    if len(pattern) > PATTERN_QUOTA:
        warnings.append(
            f"the pattern is {len(pattern)} characters long; the AWS WAF quota is "
            f"{PATTERN_QUOTA} characters per regex"
        )
    return warnings


def _searcher(regexp: Any) -> Matcher:
    match = regexp.Match

    def search(data: bytes) -> bytes | None:
        start, end = match(_UNANCHORED, data, 0, len(data))[0]
        return None if start < 0 else data[start:end]

    return search


@functools.lru_cache(maxsize=8192)
def compile_regex(pattern: str) -> Callable[[bytes], bytes | None]:
    """A search function: the first (leftmost) match of ``pattern`` in the bytes, or None.

    An empty match returns ``b""``: test the result with ``is not None``. Each distinct pattern is
    compiled once. Raises ``RulesetError`` for a pattern AWS WAF would reject.
    """
    reason = check_regex(pattern)
    if reason is not None:
        raise RulesetError(reason, value=pattern, expected="a regular expression AWS WAF accepts")
    return _searcher(_compile_re2(pattern))


def _never(data: bytes) -> bytes | None:
    return None


@functools.lru_cache(maxsize=2048)
def _compile_set(patterns: tuple[str, ...]) -> Callable[[bytes], bytes | None]:
    if not patterns:
        return _never
    if len(patterns) == 1:
        return compile_regex(patterns[0])
    searchers = [compile_regex(p) for p in patterns]  # validates every pattern first
    rset = re2._re2.Set(_UNANCHORED, _OPTIONS)
    for p in patterns:
        if rset.Add(_translate(p).encode("ascii")) < 0:
            raise RulesetError("RE2 cannot add the pattern to a set", value=p)
    if not rset.Compile():
        raise RulesetError("RE2 cannot compile the pattern set (too large)", value=list(patterns))
    set_match = rset.Match

    def search(data: bytes) -> bytes | None:
        # One pass answers "does any pattern match"; the individual regex then finds the text
        # (the set cannot report positions). The lowest index keeps the list's order.
        hits: list[int] | None = set_match(data)
        if not hits:
            return None
        return searchers[min(hits)](data)

    return search


def compile_regex_set(patterns: Sequence[str]) -> Callable[[bytes], bytes | None]:
    """OR of ``patterns`` (a regex pattern set): the text matched by the first matching pattern.

    Several patterns are scanned in one pass with an RE2 set; an empty set never matches.
    """
    return _compile_set(tuple(patterns))
