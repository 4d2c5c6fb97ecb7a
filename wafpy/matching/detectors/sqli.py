"""wafpy's own SQL injection detector (Apache-2.0; no libinjection code or tables).

How it works, and why:

1. A cheap pre-filter: most benign values contain none of the characters SQL injection needs
   (quotes, comment starters, ``;``, ``=``, parentheses, ``@``) and no ``union``; they cost one
   ``bytes.translate`` and are answered at once.
2. A SQL-aware tokenizer turns the value into tokens of a few classes (string, number, keyword,
   function call, logical operator, comparison, comment, ...). An injected value usually starts
   *inside* a quoted literal of the application's query, so the value is tokenized three ways:
   as is, as if a ``'`` preceded it and as if a ``"`` preceded it (the text up to the first
   matching quote then is one string token).
3. Each token stream folds into a fingerprint, one character per token, and small regexes over
   the fingerprint decide (tautology after a quote break, ``UNION SELECT``, stacked statement,
   comment truncation, time-based functions, ``ORDER BY n`` probing...). ``HIGH`` adds rules
   that catch more probes at the price of more false positives.

4. Values longer than ``_SHORT`` bytes are not tokenized whole: a pre-scan
   (``wafpy.matching.detectors.sqli_windows``) finds every place in the value where an injection could
   start, and a window of tokens from each such place is read, in the context that fits it (after
   a breaking quote: string context). A 4 KiB JSON body or text then costs a few C-speed searches
   instead of ~130 token matches, and an injection is found wherever it starts, however long the
   value and however many benign triggers come before it. The windows share one reading of the
   value (``wafpy.matching.detectors.sqli_reading``), so a value full of triggers costs time linear in its
   length. Short values (nearly all of libinjection's test lines) are read exactly as above.

``Detection.matched`` holds the text of the tokens the deciding rule covered, for ``matchedData``.
"""

from __future__ import annotations

import re
from typing import Final

# Where to look in long values; that module reads nothing of this one.
from wafpy.matching.detectors.sqli_reading import Reading
from wafpy.matching.detectors.sqli_tokens import DANGEROUS, FUNCTIONS, MAX_TOKENS, Token
from wafpy.matching.detectors.sqli_tokens import tokens as _tokens
from wafpy.matching.detectors.sqli_windows import QUOTE, find_triggers, window

__all__ = ["detect_sqli"]

# Characters without which no rule below can fire (except a bare "union ... select").
_SPECIALS: Final = b"'\"`-#/*;=()@<>!|&"


def _fold(tokens: list[Token]) -> list[Token]:
    """Merge runs of barewords (prose) and of strings, as SQL would read ``'a' 'b'`` as one;
    drop comments followed by more tokens (``UNION/**/SELECT``: a comment there is whitespace)."""
    out: list[Token] = []
    last = len(tokens) - 1
    prev = ""
    for i, tok in enumerate(tokens):
        cls = tok[0]
        if cls == prev and (cls == "b" or cls == "s"):
            out[-1] = (cls, out[-1][1] + " " + tok[1])
        elif cls == "c" and i < last:
            continue
        else:
            out.append(tok)
            prev = cls
    return out


# Every rule below needs at least one of these token classes (checked rule by rule: the others,
# s n v b k x ( ) , . and the context markers, only ever surround them), so a fingerprint
# without any is answered without trying a rule.
_STRONG_CLASSES: Final = "U&c;FSDOoVEfa"


# Rules over the fingerprint. "^s" only exists in a quote context (the value broke out of a
# string literal); VAL is anything that ends an operand. Each rule also names the token classes
# a match must contain (any one of the strings, all of its characters), so that only the rules
# that can match a fingerprint are searched.
# The patterns cannot backtrack far, whatever they are given (each quantifier is possessive
# where what follows cannot continue it, and a run of ")" or "(" is entered at its first
# character only), although they only ever see fingerprints of at most MAX_TOKENS + 2 classes.
_VAL = r"(?:[snvV]|(?<!\))\))"  # ends an operand: a value or the first ")" of a run
_OPEN = r"\(*+(?:a++\(*+)?"  # "(" and unary operators before an operand
_LOW_RULES: Final = [
    ("union select", r"U[k(]*+S", ("US",)),
    (
        "logic then comparison",
        r"(?:[snvVb]|(?<!\))\))\)*+&" + _OPEN + r"[snvVbf]\)*+(?:a\(*+[snvVf]\)*+)*+o\(*a*[snvVbf(]",
        ("&o",),
    ),
    ("logic then function", _VAL + r"\)*+&" + _OPEN + r"[fF]", ("&f", "&F")),
    ("logic then constant after quote break", r"^s\)*+&\(*+a*+[snvVb]\)*+(?:c|;|&|o|$)", ("s&",)),
    ("string break then comment", r"^s\)*+c", ("sc",)),
    ("string break then statement", r"^s\)*+;(?:c|[SEU(])", ("s;",)),
    ("stacked statement", r";b?\(*+[SEU]", (";S", ";E", ";U")),
    ("time or side-effect function", r"(?:^|X|[&oa;,USEk]|(?<!\()\()\(*+F", ("F",)),
    # (.*k, the last k: a run without k is at most a whole fingerprint; bounded, a search over
    # a long string of S and no k stays linear)
    ("subquery", r"[sn)o&(;,]\(S|[snoa&;]S(?:[^k]{0," + str(MAX_TOKENS + 2) + r"}+k)++|^X?\(++S", ("S",)),
    ("select values", r"^X?\(*+S" + _OPEN + r"[nfFvV]", ("S",)),
    ("into outfile", r"D", ("D",)),
    ("order by probe", _VAL + r"\)*+O[nb](?:,[nb])*+(?:c|;|k|$)", ("O",)),
    ("string compare after quote break", r"^s\)*+a?o\(*+a*+[snvVf]\)*+(?:[&oca;]|$)", ("so",)),
    ("number then comment", r"^X?n\)++c|^X?[vV]\)*+c", ("c",)),
]
_HIGH_RULES: Final = [
    ("value then comment", r"^X?[sn]\)*+c", ("c",)),
    ("dangerous function", r"F", ("F",)),
    ("system variable", r"V", ("V",)),
    ("statement keyword sequence", r"(?:^|X|[;(&o])E[bk]|S[nbfvV*,oa(]*+k", ("E", "S")),
    ("logic then operand", r"[sn)]&\(*+a*+[snfvV]", ("&",)),
    ("union probe", r"[sn)]U", ("U",)),
    ("function in expression", r"[&o,(]f\(", ("f(",)),
    ("quote break then logic", r"^s\)*+&", ("s&",)),
    ("quote break then arithmetic", r"^s\)*+a++\(*+[snvVf]", ("sa",)),
]
# (pattern, classes a match needs all of, classes it needs one of: empty means no such need)
Rule = tuple[re.Pattern[str], frozenset[str], frozenset[str]]


def _compiled(rules: list[tuple[str, str, tuple[str, ...]]]) -> tuple[Rule, ...]:
    out = []
    for _name, pattern, needs in rules:
        common = frozenset.intersection(*map(frozenset, needs))
        either = frozenset("".join(needs)) - common if len(needs) > 1 else frozenset()
        assert all(frozenset(n) == common | (frozenset(n) & either) for n in needs), _name
        out.append((re.compile(pattern), common, either))
    return tuple(out)


_LOW: Final = _compiled(_LOW_RULES)
_HIGH: Final = _compiled(_LOW_RULES + _HIGH_RULES)
_STRONG: Final = frozenset(_STRONG_CLASSES)
_PROSE: Final = frozenset("b&o")


def _rule_span(fingerprint: str, rules: tuple[Rule, ...], prose: bool) -> tuple[int, int] | None:
    """Where the first matching rule matches the fingerprint. ``prose=False`` (windows of long
    values) skips matches made of words, AND/OR and comparisons only: "great and the staff is
    friendly" reads ``b&bob``, a tautology's shape, and a long text has many such sentences."""
    present = set(fingerprint)
    if present.isdisjoint(_STRONG):  # the common benign case
        return None
    for rule, common, either in rules:
        if common <= present and (not either or not either.isdisjoint(present)):
            m = rule.search(fingerprint)
            while m is not None and not prose and _PROSE.issuperset(m.group()):
                m = rule.search(fingerprint, m.start() + 1)
            if m:
                return m.span()
    return None


def _check(tokens: list[Token], rules: tuple[Rule, ...], prose: bool = True) -> tuple[str, ...] | None:
    """The tokens the first matching rule covers (see ``_rule_span``)."""
    span = _rule_span("".join([t[0] for t in tokens]), rules, prose)
    if span is None:
        return None
    start, end = span
    # empty texts are context markers (X, and x of windows), not value text
    return tuple(t[1] for t in tokens[start : max(end, start + 1)] if t[1])


# Where a string literal opened just before the value closes: the first unescaped quote that is
# not doubled (``''`` stays inside the literal; a backslash escapes the next character). Anchored
# at the start (\A): it is only ever matched there, and searched it could not retry everywhere.
_CLOSE: Final = {
    "'": re.compile(r"\A[^'\\]*+(?:(?:\\.|'')[^'\\]*+)*+'", re.DOTALL),
    '"': re.compile(r'\A[^"\\]*+(?:(?:\\.|"")[^"\\]*+)*+"', re.DOTALL),
}


def _context(text: str, start: int, head: Token, rules: tuple[Rule, ...]) -> tuple[str, ...] | None:
    """Tokenize ``text[start:]`` after ``head`` and apply ``rules``."""
    return _check(_fold([head, *_tokens(text, start)[0]]), rules)


def detect_sqli(data: bytes, sensitivity: str = "LOW") -> tuple[str, ...] | None:
    """The matched tokens when ``data`` looks like SQL injection at ``sensitivity``, else None."""
    if len(data) > _SHORT:  # the pre-scan of the windows does the pre-filter's work
        rules = _HIGH if sensitivity == "HIGH" else _LOW
        return _windows(data, rules, sensitivity == "HIGH")
    if len(data.translate(None, _SPECIALS)) == len(data):
        low = data.lower()
        if b"union" not in low or b"select" not in low:
            return None
    rules = _HIGH if sensitivity == "HIGH" else _LOW
    text = data.decode("latin-1")
    for quote in ("'", '"'):
        if quote in text:
            closed = _CLOSE[quote].match(text)
            if closed is not None:
                close = closed.end()
                found = _context(text, close, ("s", quote + text[:close]), rules)
                if found:
                    return found
    # "X" marks the as-is context, so rules anchored on a broken-out string ("^s") do not fire
    # on a value that merely starts with a quoted literal.
    return _context(text, 0, ("X", ""), rules)


# --- long values: windows --------------------------------------------------------------------------
# Values longer than _SHORT bytes are not tokenized whole: wafpy.matching.detectors.sqli_windows finds every
# place in the value where an injection could start (a quote followed by SQL, AND/OR before an
# operand, UNION, SELECT, ";" before a statement, a dangerous call...) and _WINDOW tokens from each
# are read, in position order. A 4 KiB JSON body then costs a few C-speed searches instead of ~130
# token matches, and an injection anywhere in the value is found, however many benign triggers
# come before it. A hostile value full of triggers costs time linear in its length: the windows
# share one reading of the value (wafpy.matching.detectors.sqli_reading), so a window costs a slice of its
# token classes, and the rules' answer for a fingerprint is remembered. Short values keep the
# three whole-value readings above, exactly.
_SHORT: Final = 64  # bytes: measured, windows from here on lose no detection and flag fewer benign values
_WINDOW: Final = 16  # tokens from one window
# Calls that make a window: time and side-effect functions; at HIGH, any known function.
_LOW_CALLS: Final = frozenset(name.encode() for name in DANGEROUS)
_HIGH_CALLS: Final = frozenset(name.encode() for name in DANGEROUS | FUNCTIONS)
# Raw window fingerprint -> whether a rule fires on it, per sensitivity. Bounded: an attacker's
# stream of distinct fingerprints must not grow them without limit.
_FIRES: Final[dict[bool, dict[str, bool]]] = {False: {}, True: {}}
_FIRES_LIMIT: Final = 8192


def _windows(data: bytes, rules: tuple[Rule, ...], high: bool) -> tuple[str, ...] | None:
    low = data.lower()
    triggers = find_triggers(low, _HIGH_CALLS if high else _LOW_CALLS, high)
    if not triggers:  # the common benign case
        return None
    text = data.decode("latin-1")
    reading = Reading(text)
    read: set[int] = set()
    classes_from = reading.classes
    cache = _FIRES[high]
    for code in triggers:
        trigger, trigger_kind = divmod(code, 2)
        start, kind = (trigger, QUOTE) if trigger_kind == QUOTE else window(low, trigger, trigger_kind)
        key = 2 * start + kind
        if key in read:  # two triggers, one window ("' OR" is found from both)
            continue
        read.add(key)
        head = "s" if kind == QUOTE else ("X" if start == 0 else "x")
        classes, cut = classes_from(start, _WINDOW)
        # Cut short: a rule's "$" (end of the value) must not fire on the cut.
        fingerprint = head + classes + "x" if cut else head + classes
        fires = cache.get(fingerprint)
        if fires is None:
            fires = _rule_span(_fold_classes(fingerprint), rules, prose=False) is not None
            if len(cache) < _FIRES_LIMIT:
                cache[fingerprint] = fires
        if fires:
            # The texts, for matchedData: the window read alone (the same tokens, read once).
            tokens = _tokens(text, start, _WINDOW)[0]
            if cut:
                tokens.append(("x", ""))
            found = _check(
                _fold([(head, _quoted_head(text, start) if kind == QUOTE else ""), *tokens]),
                rules,
                prose=False,
            )
            if found:
                return found
    return None


def _fold_classes(fingerprint: str) -> str:
    """``_fold`` on the classes alone."""
    out: list[str] = []
    last = len(fingerprint) - 1
    prev = ""
    for i, cls in enumerate(fingerprint):
        if cls == prev and (cls == "b" or cls == "s"):
            continue
        if cls == "c" and i < last:
            continue
        out.append(cls)
        prev = cls
    return "".join(out)


def _quoted_head(text: str, start: int) -> str:
    """The string token a quote break at ``text[start - 1]`` closes, for ``matchedData``: the
    quote, then the text before it back to a blank or quote (at most 32 characters)."""
    quote = start - 1
    begin = quote
    while begin > 0 and quote - begin < 32 and text[begin - 1] not in " \t\n\r'\"":
        begin -= 1
    return text[quote] + text[begin:start]
