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
* extended mode `(?x)`, and anything Python's parser refuses (`\\Q...\\E`, `\\x{41}`, `\\h`, ...).
Everything else that is not a plain literal (classes, `.`, anchors, repetitions that may be
absent, backreferences) just ends the literal being read: dropping a literal is always safe.

Literals are kept in lower case, and texts are searched in lower case: that finds every match a
case-sensitive literal finds, and every ASCII case variant a `(?i)` literal matches. RE2 in
Latin-1 mode may fold non-ASCII letters under `(?i)`, so there a byte at or above 0x80 ends the
literal too. AWS runs a regex on the transformed value
(https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-regex-match.html),
which is what the prefilter searches.

`LiteralSearch` answers "which of these literals occur in this text" with the Aho-Corasick
automaton of the `ahocorasick-rs` package (Rust's `aho-corasick` crate): time linear in the text
plus the occurrences, memory linear in the literals, for any input. Overlapping matches are
asked for, so a literal inside another (`elect` in `select`) is never hidden.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from re import _constants as C
from re import _parser
from typing import Any, Final

import ahocorasick_rs

__all__ = ["LiteralSearch", "required_literals"]

Literals = frozenset[bytes]

_QUANTIFIER: Final = re.compile(r"\\.|\{\d+(?:,\d*)?\}", re.DOTALL)
_POSIX_CLASS: Final = (("[:", ":]"), ("[.", ".]"), ("[=", "=]"))
_MAX_ALTERNATIVES: Final = 64  # a wider disjunction buys little and costs automaton size


def _lower(byte: int) -> int:
    return byte + 32 if 65 <= byte <= 90 else byte


def _best(candidates: list[Literals]) -> Literals | None:
    """The most selective requirement: the longest shortest literal, then the fewest literals."""
    usable = [c for c in candidates if c and b"" not in c and len(c) <= _MAX_ALTERNATIVES]
    if not usable:
        return None
    return max(usable, key=lambda c: (min(len(x) for x in c), -len(c)))


def _sequence(items: Sequence[tuple[Any, Any]], folds: bool) -> tuple[bytes | None, Literals | None]:
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
        if op is C.LITERAL and not (folds and av >= 0x80):
            run.append(_lower(av))
        elif op is C.SUBPATTERN:
            _group, add, remove, sub = av
            if (add | remove) & C.SRE_FLAG_VERBOSE:
                raise ValueError("extended mode")
            inner_folds = (folds or bool(add & C.SRE_FLAG_IGNORECASE)) and not remove & C.SRE_FLAG_IGNORECASE
            text, need = _sequence(sub, inner_folds)
            if text is not None:
                run.extend(text)
            else:
                cut()
                if need is not None:
                    candidates.append(need)
        elif op is C.BRANCH:
            alternatives = [_sequence(alt, folds) for alt in av[1]]
            cut()
            needs = [frozenset([text]) if text is not None else need for text, need in alternatives]
            if all(n is not None for n in needs):
                candidates.append(frozenset().union(*needs))  # type: ignore[arg-type]
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            low, _high, sub = av
            text, need = _sequence(sub, folds)
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


def required_literals(pattern: str) -> Literals | None:
    """Lower-case literals, one of which every match of `pattern` contains; None when unsure."""
    for opener, closer in _POSIX_CLASS:
        start = pattern.find(opener)
        if start >= 0 and pattern.find(closer, start + 2) >= 0:
            return None  # maybe a POSIX class, which Python reads as a class and a literal `]`
    if "{" in _QUANTIFIER.sub("", pattern):
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
        exact, need = _sequence(parsed.data, bool(flags & C.SRE_FLAG_IGNORECASE))
    except (ValueError, RecursionError):
        return None
    if exact is not None:
        return frozenset([exact]) if exact else None
    return need


class LiteralSearch:
    """Which of `literals` (lower case) occur in a text, searched in lower case."""

    __slots__ = ("_automaton", "_literals", "_small")

    def __init__(self, literals: Sequence[bytes]) -> None:
        self._literals = tuple(literals)
        # A few literals: `in` is quicker than building and entering an automaton.
        self._small = len(self._literals) <= 3
        self._automaton = None if self._small else ahocorasick_rs.BytesAhoCorasick(list(self._literals))

    def found(self, text: bytes) -> set[int]:
        """Indexes of the literals that occur in `text` (lowered by the caller)."""
        if self._small:
            return {i for i, literal in enumerate(self._literals) if literal in text}
        assert self._automaton is not None
        return {i for i, _start, _end in self._automaton.find_matches_as_indexes(text, overlapping=True)}
