"""Literals a match cannot do without, and one pass that finds which of many literals a text holds.

A prefilter may skip a test only when it proves the test false. For a ByteMatchStatement that is
easy: whatever the positional constraint, a match needs the search string somewhere in the
transformed value. For a regex, `required_literals` reads the pattern's syntax tree and returns a
set of literals such that every match contains at least one of them (`(?i)nikto|nmap` gives
``{b"nikto", b"nmap"}``), or None whenever it is not sure.

The tree comes from Python's own regex parser (`re._parser`), run on the PCRE text read byte by
byte, as wafpy's RE2 translation reads it (`wafpy.matching.regex`). Python and PCRE agree on the
constructs that make literals (characters, escapes of punctuation, groups, alternation, counted
repetition); where they may disagree the answer is None:
* POSIX classes (`[[:alpha:]]`: Python reads a class and a literal `]`) and equivalence classes;
* a `{` that is not an escaped brace nor a plain `{n}`, `{n,}`, `{n,m}` quantifier (newer PCRE
  reads `{,3}` and `{ 1, 3 }` as quantifiers, Python as text);
* `\\v` (a character to Python, PCRE's vertical-space class), `\\u`, `\\U`, `\\N`;
* extended mode `(?x)`, and anything Python's parser refuses (`\\Q...\\E`, `\\x{41}`, `\\h`, ...).
Everything else that is not a plain literal (classes, `.`, anchors, repetitions that may be
absent, backreferences) just ends the literal being read: dropping a literal is always safe.

Literals are kept case-folded (`FOLD`: ASCII letters and Latin-1 letters to lower case), and
texts are searched folded the same way: that finds every match a case-sensitive literal finds, and
every case variant a `(?i)` literal matches, whether RE2 in Latin-1 mode folds ASCII letters only
or Latin-1 letters too. AWS runs a regex on the transformed value
(https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-regex-match.html),
which is what the prefilter searches.

`LiteralSearch` answers "which of these literals occur in this text" with the Aho-Corasick
automaton of the `ahocorasick-rs` package (Rust's `aho-corasick` crate): time linear in the text
plus the occurrences, memory linear in the literals, for any input. Overlapping matches are
asked for, so a literal inside another (`elect` in `select`) is never hidden.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from re import _constants as C
from re import _parser
from typing import Any, Final

import ahocorasick_rs

__all__ = ["FOLD", "LiteralSearch", "fold", "required_literals"]

Literals = frozenset[bytes]

_QUANTIFIER: Final = re.compile(r"\\.|\{\d++(?:,\d*+)?+\}", re.DOTALL)  # possessive: no backtracking
_POSIX_CLASS: Final = (("[:", ":]"), ("[.", ".]"), ("[=", "=]"))
_MAX_ALTERNATIVES: Final = 64  # a wider disjunction buys little and costs automaton size


def _fold_table() -> bytes:
    table = bytearray(range(256))
    for upper in [*range(0x41, 0x5B), *range(0xC0, 0xD7), *range(0xD8, 0xDF)]:
        table[upper] = upper + 0x20
    return bytes(table)


# Case folding of every pair of letters within Latin-1 (A-Z, and À-Þ but ×): what `(?i)` may fold
# in RE2's Latin-1 mode, and more than the ASCII-only LOWERCASE and PCRE's `(?i)`. Folding both the
# literals and the text keeps every case variant a match could take.
FOLD: Final = _fold_table()


def fold(text: bytes) -> bytes:
    """`text` case-folded as the literals are (`FOLD`)."""
    return text.translate(FOLD)


def _best(candidates: list[Literals]) -> Literals | None:
    """The most selective requirement: the longest shortest literal, then the fewest literals."""
    usable = [c for c in candidates if c and b"" not in c and len(c) <= _MAX_ALTERNATIVES]
    if not usable:
        return None
    return max(usable, key=lambda c: (min(len(x) for x in c), -len(c)))


def _sequence(items: Sequence[tuple[Any, Any]]) -> tuple[bytes | None, Literals | None]:
    """(the exact text the items match, if only one; a requirement of theirs, or None)."""
    run = bytearray()
    exact = True
    candidates: list[Literals] = []

    def cut() -> None:
        nonlocal exact
        exact = False
        if run:
            candidates.append(frozenset([bytes(run)]))
            run.clear()

    for op, av in items:
        if op is C.LITERAL:
            run.append(FOLD[av])
        elif op is C.SUBPATTERN:
            _group, add, remove, sub = av
            if (add | remove) & C.SRE_FLAG_VERBOSE:
                raise ValueError("extended mode")
            text, need = _sequence(sub)
            if text is not None:
                run.extend(text)
            else:
                cut()
                if need is not None:
                    candidates.append(need)
        elif op is C.BRANCH:
            alternatives = [_sequence(alt) for alt in av[1]]
            cut()
            needs = [frozenset([text]) if text is not None else need for text, need in alternatives]
            if all(n is not None for n in needs):
                candidates.append(frozenset().union(*needs))  # type: ignore[arg-type]
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            low, _high, sub = av
            text, need = _sequence(sub)
            cut()
            if low >= 1:
                found = frozenset([text]) if text is not None else need
                if found is not None:
                    candidates.append(found)
        else:
            # A class, `.`, an anchor, a backreference, a lookaround...: not a known literal.
            cut()
    if exact:
        return bytes(run), None
    cut()
    return None, _best(candidates)


# Escapes Python reads as one character and PCRE does not: `\v` is PCRE's vertical-space class.
_OTHER_ESCAPES: Final = frozenset("vuUN")


def _python_reads_alike(pattern: str) -> bool:
    """No escape whose meaning differs between Python's parser and PCRE."""
    i = pattern.find("\\")
    while 0 <= i < len(pattern) - 1:
        if pattern[i + 1] in _OTHER_ESCAPES:
            return False
        i = pattern.find("\\", i + 2)
    return True


def _without_classes(pattern: str) -> str:
    """`pattern` without its bracketed classes (a `{` inside one is a plain character)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
        elif c == "[":
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1  # a `]` first in a class is a member
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            out.append("[]")
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def required_literals(pattern: str) -> Literals | None:
    """Case-folded literals, one of which every match of `pattern` contains; None when unsure."""
    for opener, closer in _POSIX_CLASS:
        start = pattern.find(opener)
        if start >= 0 and pattern.find(closer, start + 2) >= 0:
            return None  # maybe a POSIX class, which Python reads as a class and a literal `]`
    if "{" in _QUANTIFIER.sub("", _without_classes(pattern)) or not _python_reads_alike(pattern):
        return None
    # One character per byte, as wafpy's translation reads the pattern (UTF-8 bytes, Latin-1 RE2).
    text = pattern.encode("utf-8").decode("latin-1")
    try:
        parsed = _parser.parse(text, 0)
    except (re.error, ValueError, OverflowError, RecursionError):
        return None
    flags = parsed.state.flags
    if flags & C.SRE_FLAG_VERBOSE:
        return None
    try:
        exact, need = _sequence(parsed.data)
    except (ValueError, RecursionError):
        return None
    if exact is not None:
        return frozenset([exact]) if exact else None
    return need


class LiteralSearch:
    """Which of `literals` (case-folded) occur in a text (case-folded by the caller)."""

    __slots__ = ("_automaton", "_literals", "_small")

    def __init__(self, literals: Sequence[bytes]) -> None:
        self._literals = tuple(literals)
        # A few literals: `in` is quicker than building and entering an automaton.
        self._small = len(self._literals) <= 3
        self._automaton = None if self._small else ahocorasick_rs.BytesAhoCorasick(list(self._literals))

    def __reduce__(self) -> tuple[type[LiteralSearch], tuple[list[bytes]]]:
        # The automaton does not pickle: it is rebuilt from the literals.
        return LiteralSearch, (list(self._literals),)

    def found(self, text: bytes) -> set[int]:
        """Indexes of the literals that occur in `text`."""
        if self._small:
            return {i for i, literal in enumerate(self._literals) if literal in text}
        assert self._automaton is not None
        return {i for i, _start, _end in self._automaton.find_matches_as_indexes(text, overlapping=True)}
