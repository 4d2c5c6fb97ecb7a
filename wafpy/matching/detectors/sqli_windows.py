"""Where to look in a long value: the pre-scan behind ``detect_sqli``'s windowed path.

A long value (a JSON body, a form, prose) is mostly text no SQL rule can match, and tokenizing it
all costs one regex match per token. So the value is first searched for *triggers*, the few
places where an injection could start, and only a bounded window of tokens from each is examined
(``wafpy.matching.detectors.sqli``). This module only answers "where": it knows nothing of token classes
or rules, just the shapes in front of which they can fire.

Every trigger is a compiled pattern that starts with a literal (``'``, ``or``, ``union``, ``;``...):
CPython's ``re`` then skips to the next occurrence of that literal in C, where a pattern starting
with a character class or a lookbehind is tried at every position (~8 ns a byte, 30 µs on 4 KiB).
Single-byte literals are first looked for with ``in`` (``memchr``), so absent ones cost nothing.
The text is the lower-cased value: ``re.IGNORECASE`` would be slower. Every trigger in the whole
value is reported (a cap on their number would let benign ones hide a later attack), and each
pattern costs time linear in the value: after its literal it looks a bounded distance ahead, or
through possessive runs that a later attempt cannot re-enter.

A trigger gives a window of one of two kinds:

* a *quote break* (``QUOTE``): the value breaks out of a string literal at a quote, so the window
  starts just after the quote, in string context (as if the quote closed the application's
  literal). Triggers are the quote followed by SQL (``' OR``, ``'--``, ``'=``, ``');``...).
  Double quotes are too common in JSON to try each (537 in 4 KiB), so a ``"`` break is only found
  by looking back from another trigger (``" OR 1=1`` is found from ``OR``); a ``"`` that JSON
  syntax opens (after ``:``, ``,``, ``[``, ``{``) is not taken for a break.
* *as is* (``PLAIN``): the window starts a few bytes before the trigger, so the operand before an
  operator (``1 OR``, ``= SLEEP(``) is included; it never starts inside a word, and never before
  a quote (a quote there would open a string that swallows the trigger; the quote-break window
  covers that reading).
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["PLAIN", "QUOTE", "find_triggers", "window"]

QUOTE: Final = 0
PLAIN: Final = 1

# Bytes a word (identifier, keyword, number) is made of, as the tokenizer reads them.
_W: Final = rb"0-9a-z_$\x80-\xff"
_END: Final = rb"(?![" + _W + rb"])"
# Statement keywords that may follow ";" (classes S, E, U of the tokenizer).
_STATEMENTS: Final = (
    rb"select|insert|update|delete|drop|create|alter|truncate|exec|execute|declare|"
    rb"shutdown|grant|revoke|rename|waitfor|handler|merge|replace|call|union"
)
# What may follow a quote that breaks out of a string literal (after blanks and ")"): the token
# classes the "^s" rules need next (logic, comparison, comment, ";", UNION, ORDER BY...).
_AFTER_BREAK: Final = (
    rb"[\s()]*+(?:(?:or|and|xor|union|select|order|group|having|into|procedure|limit|like|rlike|"
    rb"regexp|sounds|between|div|mod|is|in|where|not)" + _END + rb"|--|\#|/\*|;|[=<>!|&^+*/%~-])"
)
# An operand after AND / OR that can make a rule fire: a number, quote, "(", variable, unary
# operator, constant, or a word compared or called (``AND SUBSTRING(...)=``, ``AND x.y=0``).
# A word followed by another word ("and leave it at the door") is no trigger: prose is full of
# them. (Possessive quantifiers: no backtracking on a failure.)
_OPERAND: Final = (
    rb"(?=[\s/*+]*+(?:[\d'\"(@!~-]|(?:true|false|null|not|select)"
    + _END
    + rb"|[a-z_]["
    + _W
    + rb".]*+[\s)]*+[=<>!(]))"
)


def _word(literal: bytes) -> bytes:
    """``literal`` as a whole word: the literal first (fast skip), then a lookbehind checking the
    byte before it is no word byte, then one checking the byte after."""
    return literal + rb"(?<![" + _W + rb"]" + literal + rb")" + _END


# Triggers as (byte that must be present for the pattern to match, pattern, kind of window).
# SELECT and ORDER BY need no operator in the value (UNION SELECT 1,2; 1 ORDER BY 5--). UNION is
# only looked for when SELECT was found, or at HIGH (whose "union probe" needs no SELECT).
_SELECT: Final = re.compile(_word(rb"select"))
_UNION: Final = re.compile(_word(rb"union"))
_ORDER_BY: Final = re.compile(rb"by" + _END + rb"(?:(?<=order by)|(?<=group by))")
# The rest can only make a rule fire when the value holds one of _OPERATORS somewhere (a
# comparison, call, quote, ";", comment, "||"); without any, only UNION ... SELECT is looked for,
# as the short path's pre-filter does. A JSON body without operators is so spared ~2 µs a search.
_OR: Final = re.compile(_word(rb"or") + _OPERAND)
_AND: Final = re.compile(_word(rb"and") + _OPERAND)
_LOGIC: Final = (_OR, _AND)
_OPERATORS: Final = tuple(bytes([c]) for c in b"'=(;<>|!#")
_WITH_OPERATORS: Final[tuple[tuple[bytes, re.Pattern[bytes], int], ...]] = (
    (b"'", re.compile(rb"'(?!(?:s|t|d|m|ll|re|ve)" + _END + rb")(?=" + _AFTER_BREAK + rb")"), QUOTE),
    (b"o", _OR, PLAIN),
    (b"a", _AND, PLAIN),
    (b"|", re.compile(rb"\|\|"), PLAIN),
    (b"&", re.compile(rb"&&"), PLAIN),
    (
        b";",
        re.compile(
            rb";(?=[\s/*]*+(?:[a-z_]["
            + _W
            + rb"]*+[\s/*]++)?(?:\(|--|\#|(?:"
            + _STATEMENTS
            + rb")"
            + _END
            + rb"))"
        ),
        PLAIN,
    ),
    (b"f", re.compile(rb"file" + _END + rb"(?:(?<=outfile)|(?<=dumpfile))"), PLAIN),
)

# Function calls: "(" right after a word ("sleep(5)"; "sleep (5)" is only found from another
# trigger, such as the AND or quote before it: prose puts a blank before almost every "(").
# Which names matter (time and side-effect functions; at HIGH any known one) is the caller's.
_CALL: Final = re.compile(rb"\((?<=[" + _W + rb"]\()")
_SYSTEM_VARIABLE: Final = re.compile(rb"@@")
# Comment openers near the start ("1--", "@@version#", "1)/*": rules anchored at the start of the
# value) and a value starting with a statement ("EXEC sp_...") make a window at the start.
_START: Final = 64
# (only matched at the start: anchored, so that no search could retry it at every blank)
_STATEMENT_FIRST: Final = re.compile(rb"\A[\s(]*+(?:" + _STATEMENTS + rb")" + _END)

_BACK: Final = 20  # bytes a plain window starts before its trigger (an operand and its ")"s)
_QUOTES: Final = (b"'", b'"', b"`")
_BLANK: Final = frozenset(b" \t\n\r\x0b\x0c\x00\xa0()")
_WORD_BYTE: Final = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyz_$" + bytes(range(0x80, 0x100)))
_NAME_BYTE: Final = _WORD_BYTE | frozenset(b".")
_JSON_OPEN: Final = frozenset(b":,[{")


def find_triggers(low: bytes, calls: frozenset[bytes], high: bool) -> list[int]:
    """The triggers in the lower-cased value ``low``, in order, each as ``2 * position + kind``
    (a plain int: a hostile value has tens of thousands, which sort faster so).

    ``calls`` are the (lower-case) function names whose call is a trigger; ``high`` adds UNION
    without SELECT and ``@@`` variables. A ``QUOTE`` trigger's position is just after the breaking
    quote: its window starts there. A ``PLAIN`` one's window is :func:`window` (worked out only
    for the triggers the caller reads: a hostile value has hundreds).
    """
    starts: set[int] = set()
    add = starts.add
    update = starts.update
    operators = any(op in low for op in _OPERATORS)
    selects = _all(_SELECT, low) if b"s" in low else []
    unions = _all(_UNION, low) if selects or high else []
    if operators or unions:  # without operators, UNION [... SELECT] only
        update(selects, unions)
    # ORDER BY n probes end in a comment more often than not ("1 order by 5--"), no operator
    if b"y" in low:
        update(_all(_ORDER_BY, low))
    head = low[:_START]
    if b"/*" in head or b"--" in head or b"#" in head:
        add(PLAIN)
    if not operators:
        return sorted(starts)
    called = False
    if b"(" in low:
        for m in _CALL.finditer(low):
            begin = end = m.start()
            while begin > 0 and end - begin < 40 and low[begin - 1] in _NAME_BYTE:
                begin -= 1
            called = True
            if low[begin:end].rsplit(b".", 1)[-1] in calls:
                add(2 * begin + PLAIN)
    # AND / OR matter with a comparison or a call somewhere (LOW: a tautology, "AND f(...)"):
    # prose without either is spared two searches that hit every "and" and "or".
    logic = called or b"=" in low or b"<" in low or b">" in low
    for needle, pattern, kind in _WITH_OPERATORS:
        if needle in low and (logic or pattern not in _LOGIC):
            update(_all(pattern, low, kind))
    if high and b"@@" in low:
        update(_all(_SYSTEM_VARIABLE, low))
    if _STATEMENT_FIRST.match(low, 0, _START):
        add(PLAIN)
    return sorted(starts)


def _all(pattern: re.Pattern[bytes], low: bytes, kind: int = PLAIN) -> list[int]:
    """Every match of ``pattern`` in ``low`` as a trigger of ``kind`` (a ``QUOTE`` one starts after
    the quote it matched): all of them, so that no number of benign triggers can hide a later
    one. Each pattern starts with a literal and looks a bounded or possessive distance ahead, so
    a search costs time linear in the value."""
    if kind == QUOTE:
        return [2 * m.end() + QUOTE for m in pattern.finditer(low)]
    return [2 * m.start() + kind for m in pattern.finditer(low)]


def window(low: bytes, trigger: int, kind: int) -> tuple[int, int]:
    """``(start, kind)`` of the window for a trigger from :func:`find_triggers`."""
    return (trigger, QUOTE) if kind == QUOTE else _window_before(low, trigger)


def _window_before(low: bytes, trigger: int) -> tuple[int, int]:
    """The window for a trigger at ``trigger``: a quote break when a quote precedes it (blanks
    and ``)`` between), else a plain window starting up to ``_BACK`` bytes earlier."""
    i = trigger - 1
    while i >= 0 and low[i] in _BLANK:
        i -= 1
    if i >= 0 and low[i] in b"'\"" and not (low[i] == 0x22 and _json_opens(low, i)):
        return (i + 1, QUOTE)
    start = max(0, trigger - _BACK)
    for quote in _QUOTES:  # never start before a quote: it would open a string over the trigger
        start = max(start, low.rfind(quote, start, trigger) + 1)
    if start > 0:  # never start inside a word
        while start < trigger and low[start - 1] in _WORD_BYTE and low[start] in _WORD_BYTE:
            start += 1
    return (start, PLAIN)


def _json_opens(low: bytes, quote: int) -> bool:
    """Whether the ``"`` at ``quote`` follows JSON punctuation (``"a": "..."``, ``["...``): JSON
    syntax opening a string, not a value breaking out of one."""
    i = quote - 1
    if i >= 0 and low[i] in _BLANK:
        i -= 1
    return i >= 0 and low[i] in _JSON_OPEN
