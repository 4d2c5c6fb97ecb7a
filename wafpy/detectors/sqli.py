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

``Detection.matched`` holds the text of the tokens the deciding rule covered, for ``matchedData``.
"""

from __future__ import annotations

import re
from typing import Final

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

_TOKEN = re.compile(
    r"""
    (?P<ws>[\s\x00\x0b\xa0]+)
  | (?P<cmt>--[^\n]*|\#[^\n]*|/\*(?!!).*?(?:\*/|\Z)|\*/)
  | (?P<exe>/\*!\d*)                       # MySQL executable comment: its content is code
  | (?P<str>'(?:[^'\\]|\\.|'')*'?|"(?:[^"\\]|\\.|"")*"?)
  | (?P<num>0x[0-9a-f]*|0b[01]+|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?[a-z_]*)
  | (?P<var>@@?[\w.$]*|@'[^']*'?|@"[^"]*"?|@`[^`]*`?)
  | (?P<word>[a-z_$\x80-\xff][\w$\x80-\xff]*|`[^`]*`?|\[[^\]]*\]?)
  | (?P<cmp><=>|<>|!=|<=|>=|!<|!>|[=<>](?![<>]))
  | (?P<op>\|\||&&|::|:=|<<|>>|[!~^|&%*/+\-])
  | (?P<punct>[(),;.])
  | (?P<other>.)
    """,
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)
_NEXT_IS_PAREN = re.compile(r"\s*\(")

Token = tuple[str, str]  # (class, text)


def _tokens(text: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    n = len(text)
    match = _TOKEN.match
    while pos < n and len(out) < 64:
        m = match(text, pos)
        if m is None:  # pragma: no cover - the last alternative matches any character
            break
        kind = m.lastgroup
        value = m.group(0)
        pos = m.end()
        if kind == "ws" or kind == "exe":
            continue
        if kind == "cmt":
            if value == "*/":
                continue
            out.append(("c", value))
        elif kind == "str":
            out.append(("s", value))
        elif kind == "num":
            out.append(("n", value))
        elif kind == "var":
            out.append(("V" if value.startswith("@@") else "v", value))
        elif kind == "word":
            out.append((_word_class(value, text, pos, out), value))
        elif kind == "cmp":
            out.append(("o", value))
        elif kind == "op":
            out.append(("&" if value in ("||", "&&") else "a", value))
        elif kind == "punct":
            out.append((value, value))
        else:
            out.append(("x", value))
    return out


def _word_class(word: str, text: str, end: int, before: list[Token]) -> str:
    low = word.lower()
    if _NEXT_IS_PAREN.match(text, end):
        name = low.rsplit(".", 1)[-1]
        if name in _DANGEROUS or low in _DANGEROUS:
            return "F"
        if name in _FUNCTIONS:
            return "f"
    if low == "by" and before and before[-1][1].lower() in ("order", "group"):
        before.pop()  # fold "ORDER BY" / "GROUP BY" into one token
        return "O"
    return _KEYWORDS.get(low, "b")


def _fold(tokens: list[Token]) -> list[Token]:
    """Merge runs of barewords (prose) and of strings, as SQL would read ``'a' 'b'`` as one;
    drop comments followed by more tokens (``UNION/**/SELECT``: a comment there is whitespace)."""
    out: list[Token] = []
    last = len(tokens) - 1
    for i, tok in enumerate(tokens):
        if tok[0] == "c" and i < last:
            continue
        if out and tok[0] in "bs" and out[-1][0] == tok[0]:
            out[-1] = (tok[0], out[-1][1] + " " + tok[1])
        else:
            out.append(tok)
    return out


# Rules over the fingerprint. "^s" only exists in a quote context (the value broke out of a
# string literal); VAL is anything that ends an operand.
_VAL = r"[snvV)]"
_LOW_RULES: Final = [
    ("union select", re.compile(r"U[k(]*S")),
    ("logic then comparison",
     re.compile(r"[snvVb)]\)*&\(*a*\(*[snvVbf]\)*(?:a\(*[snvVf]\)*)*o\(*a*[snvVbf(]")),
    ("logic then function", re.compile(_VAL + r"\)*&\(*a*\(*[fF]")),
    ("logic then constant after quote break", re.compile(r"^s\)*&\(*a*[snvVb]\)*(?:c|;|&|o|$)")),
    ("string break then comment", re.compile(r"^s\)*c")),
    ("string break then statement", re.compile(r"^s\)*;(?:c|[SEU(])")),
    ("stacked statement", re.compile(r";b?\(*[SEU]")),
    ("time or side-effect function", re.compile(r"(?:^|X|[&oa;,(USEk])\(*F")),
    ("subquery", re.compile(r"[sn)o&(;,]\(S|[snoa&;]S.*k|^X?\(+S")),
    ("select values", re.compile(r"^X?\(*S\(*a*\(*[nfFvV]")),
    ("into outfile", re.compile(r"D")),
    ("order by probe", re.compile(_VAL + r"\)*O[nb](?:,[nb])*(?:c|;|k|$)")),
    ("string compare after quote break", re.compile(r"^s\)*a?o\(*a*[snvVf]\)*(?:[&oca;]|$)")),
    ("number then comment", re.compile(r"^X?n\)+c|^X?[vV]\)*c")),
]
_HIGH_RULES: Final = [
    ("value then comment", re.compile(r"^X?[sn]\)*c")),
    ("dangerous function", re.compile(r"F")),
    ("system variable", re.compile(r"V")),
    ("statement keyword sequence", re.compile(r"(?:^|X|[;(&o])E[bk]|S[nbfvV*,oa(]*k")),
    ("logic then operand", re.compile(r"[sn)]&\(*a*[snfvV]")),
    ("union probe", re.compile(r"[sn)]U")),
    ("function in expression", re.compile(r"[&o,(]f\(")),
    ("quote break then logic", re.compile(r"^s\)*&")),
    ("quote break then arithmetic", re.compile(r"^s\)*a+\(*[snvVf]")),
]


def _check(tokens: list[Token], high: bool) -> tuple[str, ...] | None:
    if not tokens:
        return None
    fp = "".join(t[0] for t in tokens)
    for rules in (_LOW_RULES, _HIGH_RULES) if high else (_LOW_RULES,):
        for _name, rule in rules:
            m = rule.search(fp)
            if m:
                start, end = m.span()
                return tuple(t[1] for t in tokens[start:max(end, start + 1)] if t[0] != "X")
    return None


def _first_quote(text: str, quote: str) -> int:
    """Where a string literal opened just before ``text`` would close (-1: it never does)."""
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == quote:
            if i + 1 < n and text[i + 1] == quote:  # doubled quote stays inside the literal
                i += 2
                continue
            return i
        i += 1
    return -1


def detect_sqli(data: bytes, sensitivity: str = "LOW") -> tuple[str, ...] | None:
    """The matched tokens when ``data`` looks like SQL injection at ``sensitivity``, else None."""
    if len(data.translate(None, _SPECIALS)) == len(data):
        low = data.lower()
        if b"union" not in low or b"select" not in low:
            return None
    high = sensitivity == "HIGH"
    text = data[:8192].decode("latin-1")
    for quote in ("'", '"'):
        if quote in text:
            close = _first_quote(text, quote)
            if close >= 0:
                head: Token = ("s", quote + text[:close + 1])
                found = _check(_fold([head, *_tokens(text[close + 1:])]), high)
                if found:
                    return found
    # "X" marks the as-is context, so rules anchored on a broken-out string ("^s") do not fire
    # on a value that merely starts with a quoted literal.
    return _check(_fold([("X", ""), *_tokens(text)]), high)
