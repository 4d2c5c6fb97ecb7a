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

4. Values longer than ``_SHORT`` bytes are not read whole: a pre-scan
   (``wafpy.detectors.sqli_windows``) finds where an injection could start anywhere in the first
   8 KiB, and only a bounded window of tokens from each such place is read, in the context that
   fits it (after a breaking quote: string context). A 4 KiB JSON body or text then costs a few
   C-speed searches instead of ~130 token matches, and an injection after the first 64 tokens is
   found. Short values (nearly all of libinjection's test lines) are read exactly as above.

``Detection.matched`` holds the text of the tokens the deciding rule covered, for ``matchedData``.
"""

from __future__ import annotations

import re
from typing import Final

# Where to look in long values; that module reads nothing of this one.
from wafpy.detectors.sqli_windows import QUOTE, find_triggers, window

__all__ = ["detect_sqli"]

# Characters without which no rule below can fire (except a bare "union ... select").
_SPECIALS: Final = b"'\"`-#/*;=()@<>!|&"

# Token classes (one character each in a fingerprint):
#   s string   n number/constant   v @variable   V @@system variable   b bareword
#   f function call   F dangerous function call (time, file, error-based, command)
#   k keyword   S SELECT   E other statement   U UNION   O ORDER/GROUP BY   & AND/OR/XOR
#   o comparison   a arithmetic/bitwise/unary   D OUTFILE/DUMPFILE   c comment
#   ; ( ) , . punctuation   x anything else   X start of an as-is context (no string broken)
_KEYWORDS: Final[dict[str, str]] = {
    **dict.fromkeys(("and", "or", "xor", "&&", "||"), "&"),
    **dict.fromkeys(("like", "rlike", "regexp", "is", "in", "between", "sounds", "glob", "match",
                     "against"), "o"),
    **dict.fromkeys(("div", "mod", "not", "collate", "escape", "binary"), "a"),
    **dict.fromkeys(("outfile", "dumpfile"), "D"),
    **dict.fromkeys(("null", "true", "false", "current_user", "current_date"), "n"),
    "select": "S",
    **dict.fromkeys(("insert", "update", "delete", "drop", "create", "alter", "truncate", "exec",
                     "execute", "declare", "shutdown", "grant", "revoke", "rename", "waitfor",
                     "handler", "merge", "replace", "call"), "E"),
    **dict.fromkeys(("union", "intersect", "except"), "U"),
    **dict.fromkeys(("from", "where", "into", "values", "table", "having", "limit", "offset",
                     "all", "distinct", "top", "information_schema", "procedure",
                     "delay", "join", "case", "when", "then", "else", "end", "as",
                     "exists", "database", "schema", "sysobjects", "syscolumns", "mysql",
                     "pg_catalog", "master", "tables", "columns", "char", "varchar", "nvarchar",
                     "asc", "desc", "set", "dual", "sysusers"), "k"),
}

# Function names that matter only when called: ``name(``.
_FUNCTIONS: Final = frozenset((
    "char", "chr", "nchar", "concat", "concat_ws", "group_concat", "ascii", "ord", "substring",
    "substr", "mid", "left", "right", "length", "len", "count", "version", "database", "user",
    "system_user", "session_user", "current_user", "schema", "cast", "convert", "hex", "unhex",
    "md5", "sha1", "if", "ifnull", "iif", "isnull", "nullif", "coalesce", "rand", "floor", "elt",
    "make_set", "name_const", "lower", "upper", "lcase", "ucase", "now", "sysdate", "exp", "row",
    "case", "exists", "reverse", "instr", "locate", "position", "trim", "replace", "unicode",
    "db_name", "object_id", "col_name", "host_name", "suser_name", "is_srvrolemember", "to_char",
    "chr", "bin", "oct", "conv", "soundex", "abs", "power", "pi", "least", "greatest", "json_keys",
))
_DANGEROUS: Final = frozenset((
    "sleep", "benchmark", "pg_sleep", "load_file", "xp_cmdshell", "sp_executesql", "extractvalue",
    "updatexml", "dbms_pipe", "receive_message", "utl_inaddr", "get_host_name", "utl_http",
    "dbms_lock", "sp_oacreate", "openrowset", "opendatasource", "randomblob", "exp",
    "geometrycollection", "polygon", "multipoint", "linestring", "dbms_xmlgen", "ctxsys",
))

# One match per token: whitespace, MySQL executable-comment openers (``/*!50000``: their content
# is code) and stray ``*/`` are skipped inside the pattern, so the Python loop below runs once per
# token, not once per gap. The named group says the class; ``f`` (an empty group after a word)
# says the word is followed by ``(``, i.e. called. ``end`` stops the scan on trailing blanks
# (without it ``finditer`` would retry the skip at every remaining position: quadratic).
_TOKEN: Final = re.compile(
    r"(?:[\s\x00\x0b\xa0]+|/\*!\d*|\*/)*+"
    r"""(?:
        (?P<c>--[^\n]*|\#[^\n]*|/\*(?!!).*?(?:\*/|\Z))
      | (?P<s>'[^'\\]*+(?:(?:\\.|'')[^'\\]*+)*+'?|"[^"\\]*+(?:(?:\\.|"")[^"\\]*+)*+"?)
      | (?P<n>0[xX][0-9a-fA-F]*|0[bB][01]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[a-zA-Z_]*)
      | (?P<V>@@[\w.$]*)
      | (?P<v>@[\w.$]*)
      | (?P<w>[a-zA-Z_$\x80-\xff][\w$\x80-\xff]*|`[^`]*`?|\[[^\]]*\]?)(?:(?=\s*\()(?P<f>))?
      | (?P<o><=>|<>|!=|<=|>=|!<|!>|[=<>](?![<>]))
      | (?P<L>\|\||&&)
      | (?P<a>::|:=|<<|>>|[!~^|&%*/+\-])
      | (?P<p>[(),;.])
      | (?P<x>.)
      | (?P<end>\Z)
    )""",
    # No IGNORECASE: the classes spell both cases, which halves the cost of a match.
    re.DOTALL | re.VERBOSE,
)
# Token class by group name, for the groups whose class does not depend on the text.
_CLASS_OF_GROUP: Final = {"c": "c", "s": "s", "n": "n", "V": "V", "v": "v", "o": "o", "L": "&",
                          "a": "a", "x": "x"}
_MAX_TOKENS: Final = 64

Token = tuple[str, str]  # (class, text)

# Word -> class, per exact spelling, for words not followed by "(" and for called ones. Bounded:
# an attacker's stream of distinct words must not grow it without limit.
_WORD_CACHE: dict[str, str] = {}
_CALL_CACHE: dict[str, str] = {}
_CACHE_LIMIT: Final = 4096


def _tokens(text: str, start: int, limit: int = _MAX_TOKENS) -> tuple[list[Token], int]:
    """The first ``limit`` tokens of ``text[start:]`` (whitespace skipped), and the offset where
    the scan stopped (``len(text)`` when the text ran out before ``limit``)."""
    out: list[Token] = []
    append = out.append
    end = len(text)
    for m in _TOKEN.finditer(text, start):
        kind = m.lastgroup
        if kind == "w" or kind == "f":
            word = m.group("w")
            cache = _CALL_CACHE if kind == "f" else _WORD_CACHE
            cls = cache.get(word)
            if cls is None:
                cls = _word_class(word, kind == "f")
                if len(cache) < _CACHE_LIMIT:
                    cache[word] = cls
            # fold "ORDER BY" / "GROUP BY" into one token
            if (cls == "b" and len(word) == 2 and out and word.lower() == "by"
                    and out[-1][1].lower() in ("order", "group")):
                out.pop()
                cls = "O"
            append((cls, word))
        elif kind == "p":
            value = m.group("p")
            append((value, value))
        elif kind == "end":
            break
        else:
            assert kind is not None
            append((_CLASS_OF_GROUP[kind], m.group(kind)))
        if len(out) >= limit:
            end = m.end()
            break
    return out, end


def _word_class(word: str, called: bool) -> str:
    low = word.lower()
    if called:
        name = low.rsplit(".", 1)[-1]
        if name in _DANGEROUS or low in _DANGEROUS:
            return "F"
        if name in _FUNCTIONS:
            return "f"
    return _KEYWORDS.get(low, "b")


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
_VAL = r"[snvV)]"
_LOW_RULES: Final = [
    ("union select", r"U[k(]*S", ("US",)),
    ("logic then comparison", r"[snvVb)]\)*&\(*a*\(*[snvVbf]\)*(?:a\(*[snvVf]\)*)*o\(*a*[snvVbf(]",
     ("&o",)),
    ("logic then function", _VAL + r"\)*&\(*a*\(*[fF]", ("&f", "&F")),
    ("logic then constant after quote break", r"^s\)*&\(*a*[snvVb]\)*(?:c|;|&|o|$)", ("s&",)),
    ("string break then comment", r"^s\)*c", ("sc",)),
    ("string break then statement", r"^s\)*;(?:c|[SEU(])", ("s;",)),
    ("stacked statement", r";b?\(*[SEU]", (";S", ";E", ";U")),
    ("time or side-effect function", r"(?:^|X|[&oa;,(USEk])\(*F", ("F",)),
    ("subquery", r"[sn)o&(;,]\(S|[snoa&;]S.*k|^X?\(+S", ("S",)),
    ("select values", r"^X?\(*S\(*a*\(*[nfFvV]", ("S",)),
    ("into outfile", r"D", ("D",)),
    ("order by probe", _VAL + r"\)*O[nb](?:,[nb])*(?:c|;|k|$)", ("O",)),
    ("string compare after quote break", r"^s\)*a?o\(*a*[snvVf]\)*(?:[&oca;]|$)", ("so",)),
    ("number then comment", r"^X?n\)+c|^X?[vV]\)*c", ("c",)),
]
_HIGH_RULES: Final = [
    ("value then comment", r"^X?[sn]\)*c", ("c",)),
    ("dangerous function", r"F", ("F",)),
    ("system variable", r"V", ("V",)),
    ("statement keyword sequence", r"(?:^|X|[;(&o])E[bk]|S[nbfvV*,oa(]*k", ("E", "S")),
    ("logic then operand", r"[sn)]&\(*a*[snfvV]", ("&",)),
    ("union probe", r"[sn)]U", ("U",)),
    ("function in expression", r"[&o,(]f\(", ("f(",)),
    ("quote break then logic", r"^s\)*&", ("s&",)),
    ("quote break then arithmetic", r"^s\)*a+\(*[snvVf]", ("sa",)),
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


def _check(tokens: list[Token], rules: tuple[Rule, ...], prose: bool = True) -> tuple[str, ...] | None:
    """The tokens the first matching rule covers. ``prose=False`` (windows of long values) skips
    matches made of words, AND/OR and comparisons only: "great and the staff is friendly" reads
    ``b&bob``, a tautology's shape, and a long text has many such sentences."""
    fingerprint = "".join([t[0] for t in tokens])
    present = set(fingerprint)
    if present.isdisjoint(_STRONG):  # the common benign case
        return None
    for rule, common, either in rules:
        if common <= present and (not either or not either.isdisjoint(present)):
            m = rule.search(fingerprint)
            while m is not None and not prose and _PROSE.issuperset(m.group()):
                m = rule.search(fingerprint, m.start() + 1)
            if m:
                start, end = m.span()
                # empty texts are context markers (X, and x of windows), not value text
                return tuple(t[1] for t in tokens[start:max(end, start + 1)] if t[1])
    return None


# Where a string literal opened just before the value closes: the first unescaped quote that is
# not doubled (``''`` stays inside the literal; a backslash escapes the next character).
_CLOSE: Final = {
    "'": re.compile(r"[^'\\]*+(?:(?:\\.|'')[^'\\]*+)*+'", re.DOTALL),
    '"': re.compile(r'[^"\\]*+(?:(?:\\.|"")[^"\\]*+)*+"', re.DOTALL),
}


def _context(text: str, start: int, head: Token, rules: tuple[Rule, ...]) -> tuple[str, ...] | None:
    """Tokenize ``text[start:]`` after ``head`` and apply ``rules``."""
    tokens = _fold([head, *_tokens(text, start)[0]])
    return _check(tokens, rules)


def detect_sqli(data: bytes, sensitivity: str = "LOW") -> tuple[str, ...] | None:
    """The matched tokens when ``data`` looks like SQL injection at ``sensitivity``, else None."""
    if len(data) > _SHORT:  # the pre-scan of the windows does the pre-filter's work
        rules = _HIGH if sensitivity == "HIGH" else _LOW
        return _windows(data[:8192], rules, sensitivity == "HIGH")
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


# --- long values: bounded windows -----------------------------------------------------------------
# Values longer than _SHORT bytes are not tokenized whole: wafpy.detectors.sqli_windows finds the
# places where an injection could start anywhere in the first 8 KiB (a quote followed by SQL,
# AND/OR before an operand, UNION, SELECT, ";" before a statement, a dangerous call...) and only
# _WINDOW tokens from each are read, in position order. A 4 KiB JSON body then costs a few C-speed
# searches instead of ~130 token matches, and an injection after the first 64 tokens is found.
# The reading is bounded as the whole-value one was (3 x 64 tokens at most, and at most
# _MAX_WINDOWS windows), so a value crafted full of triggers costs no more; the price is that an
# injection after that many benign triggers is not read. Short values keep the three whole-value
# readings above, exactly.
_SHORT: Final = 64  # bytes: measured, windows from here on lose no detection and flag fewer benign values
_WINDOW: Final = 16  # tokens from one window
_BUDGET: Final = 3 * _MAX_TOKENS  # tokens over all windows of a value: the whole-value worst case
_MAX_WINDOWS: Final = 16  # windows read per value (the first ones), however short
# Calls that make a window: time and side-effect functions; at HIGH, any known function.
_LOW_CALLS: Final = frozenset(name.encode() for name in _DANGEROUS)
_HIGH_CALLS: Final = frozenset(name.encode() for name in _DANGEROUS | _FUNCTIONS)


def _windows(data: bytes, rules: tuple[Rule, ...], high: bool) -> tuple[str, ...] | None:
    low = data.lower()
    triggers = find_triggers(low, _HIGH_CALLS if high else _LOW_CALLS, high)
    if not triggers:  # the common benign case
        return None
    text = data.decode("latin-1")
    budget = _BUDGET
    reach = 0
    read: set[tuple[int, int]] = set()
    for trigger, trigger_kind in triggers:
        start, kind = window(low, trigger, trigger_kind)
        if (start, kind) in read:  # two triggers, one window ("' OR" is found from both)
            continue
        if kind == QUOTE:
            head = ("s", _quoted_head(text, start))
        elif start < reach:  # the previous window already read this text as code
            continue
        else:
            head = ("X", "") if start == 0 else ("x", "")
        read.add((start, kind))
        tokens, end = _tokens(text, start, min(_WINDOW, budget))
        budget -= len(tokens)
        if end < len(text):
            # Cut short: a rule's "$" (end of the value) must not fire on the cut.
            tokens.append(("x", ""))
        found = _check(_fold([head, *tokens]), rules, prose=False)
        if found:
            return found
        if budget <= 0 or len(read) >= _MAX_WINDOWS:
            break
        # Later plain windows starting in the first half of this one, before any quote (which
        # another reading could take for a break), would repeat its work.
        quote = min((i for i in (text.find("'", start, end), text.find('"', start, end)) if i >= 0),
                    default=end)
        reach = max(reach, min(start + (end - start) // 2, quote))
    return None


def _quoted_head(text: str, start: int) -> str:
    """The string token a quote break at ``text[start - 1]`` closes, for ``matchedData``: the
    quote, then the text before it back to a blank or quote (at most 32 characters)."""
    quote = start - 1
    begin = quote
    while begin > 0 and quote - begin < 32 and text[begin - 1] not in " \t\n\r'\"":
        begin -= 1
    return text[quote] + text[begin:start]


