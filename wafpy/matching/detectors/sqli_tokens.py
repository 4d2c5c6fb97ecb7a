"""The SQL tokenizer behind ``detect_sqli``: token classes, keyword tables, one regex match a token.

``tokens`` reads a bounded number of tokens from a position; ``wafpy.matching.detectors.sqli_reading``
reads long values with the same ``TOKEN`` pattern and ``word_class``. Both give each token a
one-character class (the fingerprint alphabet below) and its text.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "CALL_CLASSES",
    "CLASS_OF_GROUP",
    "DANGEROUS",
    "FUNCTIONS",
    "KEYWORDS",
    "MAX_TOKENS",
    "TOKEN",
    "WORD_CLASSES",
    "Token",
    "tokens",
    "word_class",
]

# Token classes (one character each in a fingerprint):
#   s string   n number/constant   v @variable   V @@system variable   b bareword
#   f function call   F dangerous function call (time, file, error-based, command)
#   k keyword   S SELECT   E other statement   U UNION   O ORDER/GROUP BY   & AND/OR/XOR
#   o comparison   a arithmetic/bitwise/unary   D OUTFILE/DUMPFILE   c comment
#   ; ( ) , . punctuation   x anything else   X start of an as-is context (no string broken)
# Word tables stay one group a line, as written (the formatter would put one word a line).
# fmt: off
KEYWORDS: Final[dict[str, str]] = {
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
FUNCTIONS: Final = frozenset((
    "char", "chr", "nchar", "concat", "concat_ws", "group_concat", "ascii", "ord", "substring",
    "substr", "mid", "left", "right", "length", "len", "count", "version", "database", "user",
    "system_user", "session_user", "current_user", "schema", "cast", "convert", "hex", "unhex",
    "md5", "sha1", "if", "ifnull", "iif", "isnull", "nullif", "coalesce", "rand", "floor", "elt",
    "make_set", "name_const", "lower", "upper", "lcase", "ucase", "now", "sysdate", "exp", "row",
    "case", "exists", "reverse", "instr", "locate", "position", "trim", "replace", "unicode",
    "db_name", "object_id", "col_name", "host_name", "suser_name", "is_srvrolemember", "to_char",
    "chr", "bin", "oct", "conv", "soundex", "abs", "power", "pi", "least", "greatest", "json_keys",
))
DANGEROUS: Final = frozenset((
    "sleep", "benchmark", "pg_sleep", "load_file", "xp_cmdshell", "sp_executesql", "extractvalue",
    "updatexml", "dbms_pipe", "receive_message", "utl_inaddr", "get_host_name", "utl_http",
    "dbms_lock", "sp_oacreate", "openrowset", "opendatasource", "randomblob", "exp",
    "geometrycollection", "polygon", "multipoint", "linestring", "dbms_xmlgen", "ctxsys",
))
# fmt: on

# One match per token: whitespace, MySQL executable-comment openers (``/*!50000``: their content
# is code) and stray ``*/`` are skipped inside the pattern, so the Python loop below runs once per
# token, not once per gap. The named group says the class; ``f`` (an empty group after a word)
# says the word is followed by ``(``, i.e. called. ``end`` stops the scan on trailing blanks
# (without it ``finditer`` would retry the skip at every remaining position: quadratic).
TOKEN: Final = re.compile(
    r"(?:[\s\x00\x0b\xa0]+|/\*!\d*|\*/)*+"
    r"""(?:
        (?P<c>--[^\n]*|\#[^\n]*|/\*(?!!).*?(?:\*/|\Z))
      | (?P<s>'[^'\\]*+(?:(?:\\.|'')[^'\\]*+)*+'?|"[^"\\]*+(?:(?:\\.|"")[^"\\]*+)*+"?)
      | (?P<n>0[xX][0-9a-fA-F]*+|0[bB][01]++|(?:\d++\.?+\d*+|\.\d++)(?:[eE][+-]?+\d++)?+[a-zA-Z_]*+)
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
CLASS_OF_GROUP: Final = {
    "c": "c",
    "s": "s",
    "n": "n",
    "V": "V",
    "v": "v",
    "o": "o",
    "L": "&",
    "a": "a",
    "x": "x",
}
MAX_TOKENS: Final = 64

Token = tuple[str, str]  # (class, text)

# Word -> class, per exact spelling, for words not followed by "(" and for called ones. Bounded:
# an attacker's stream of distinct words must not grow it without limit.
WORD_CLASSES: dict[str, str] = {}
CALL_CLASSES: dict[str, str] = {}
_CACHE_LIMIT: Final = 4096


def tokens(text: str, start: int, limit: int = MAX_TOKENS) -> tuple[list[Token], int]:
    """The first ``limit`` tokens of ``text[start:]`` (whitespace skipped), and the offset where
    the scan stopped (``len(text)`` when the text ran out before ``limit``)."""
    out: list[Token] = []
    append = out.append
    end = len(text)
    for m in TOKEN.finditer(text, start):
        kind = m.lastgroup
        if kind == "w" or kind == "f":
            word = m.group("w")
            cache = CALL_CLASSES if kind == "f" else WORD_CLASSES
            cls = cache.get(word)
            if cls is None:
                cls = _classify(word, kind == "f")
                if len(cache) < _CACHE_LIMIT:
                    cache[word] = cls
            # fold "ORDER BY" / "GROUP BY" into one token
            if (
                cls == "b"
                and len(word) == 2
                and out
                and word.lower() == "by"
                and out[-1][1].lower() in ("order", "group")
            ):
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
            append((CLASS_OF_GROUP[kind], m.group(kind)))
        if len(out) >= limit:
            end = m.end()
            break
    return out, end


def word_class(word: str, called: bool) -> str:
    """The class of a word, called (followed by ``(``) or not; remembered per spelling."""
    cache = CALL_CLASSES if called else WORD_CLASSES
    cls = cache.get(word)
    if cls is None:
        cls = _classify(word, called)
        if len(cache) < _CACHE_LIMIT:
            cache[word] = cls
    return cls


def _classify(word: str, called: bool) -> str:
    low = word.lower()
    if called:
        name = low.rsplit(".", 1)[-1]
        if name in DANGEROUS or low in DANGEROUS:
            return "F"
        if name in FUNCTIONS:
            return "f"
    return KEYWORDS.get(low, "b")
