"""A long value read once: the token chains that ``detect_sqli``'s windows share.

A window (``wafpy.matching.detectors.sqli``) reads a few tokens from a place where an injection could
start. In a hostile value such places can follow each other every few bytes, so windows overlap;
reading each afresh would cost (places) x (window) token matches, and a string or comment that is
never closed would be scanned to the end of the value from each of them: quadratic time.

So tokens are read into *chains*. A chain is the token stream from one start. The token at a
position does not depend on what came before it (only ``ORDER BY`` looks back one token, handled
below), so a window that starts where a chain has a token boundary reads that chain, and a chain
that reaches a boundary of an older chain continues in it. Each position is tokenized at most
once and a window costs a slice of a list.

The one regex match per token is bounded too: it may look at most ``_HORIZON`` bytes ahead. A
token that does not end within that (a long string, comment, word or run of blanks) is read again
without bound, and its end taken from tables built once per value for the delimited ones (next
newline, next ``*/``, closing quote, next backtick or ``]``), so no byte is scanned more than a
few times however many chains start near it.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from typing import Final

from wafpy.matching.detectors.sqli_tokens import CALL_CLASSES, CLASS_OF_GROUP, TOKEN, WORD_CLASSES, word_class

__all__ = ["Reading"]

_HORIZON: Final = 256  # bytes one token match may look at before the bounded slow path
_READ_AHEAD: Final = 64  # tokens read at once into a chain that windows keep extending
# What the tokenizer skips between tokens (the head of ``TOKEN``), alone.
_GAP: Final = re.compile(r"(?:[\s\x00\x0b\xa0]+|/\*!\d*|\*/)*+")
_BLANKS: Final = re.compile(r"[\s\x00\x0b\xa0]*+")
_BLANK_CHARS: Final = frozenset("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\x00")
# What makes a word a call (``TOKEN``'s ``f`` group), matched just after the word: from its
# first blank only, so that no search could retry it inside a run of blanks.
_CALLED: Final = re.compile(r"(?<!\s)\s*+\(")
# Inside a string literal, the characters that end a run of plain text: its quote, a backslash.
_STRING_STOP: Final = {"'": re.compile(r"['\\]"), '"': re.compile(r'["\\]')}
_ORDER_GROUP: Final = ("order", "group")
_DELIMITED_WORD: Final = frozenset("`[")


def _skip(pattern: re.Pattern[str], text: str, pos: int, endpos: int | None = None) -> int:
    """Where ``pattern`` (which matches the empty string too) stops matching from ``pos``."""
    m = pattern.match(text, pos) if endpos is None else pattern.match(text, pos, endpos)
    assert m is not None
    return m.end()


class _Chain:
    """The token stream from one start: its classes, and where the scan of each token ended."""

    __slots__ = ("classes", "ends", "folded", "joined", "last_word", "link", "pos")

    def __init__(self, pos: int) -> None:
        self.classes: list[str] = []
        self.joined = ""  # "".join(classes), as of the last time this chain was extended
        self.folded: set[int] = set()  # indexes of ORDER BY / GROUP BY read as one token
        self.ends: list[int] = []
        self.pos = pos  # where the next token's scan starts; -1 once the text ran out
        self.link: tuple[_Chain, int] | None = None  # the older chain this one continues in
        self.last_word = ""  # "order" or "group" when that was the last token (ORDER BY)


class Reading:
    """Tokens of one value, read on demand and at most once per position."""

    __slots__ = ("_at", "_n", "_sorted", "_strings", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._n = len(text)
        # position -> (chain, index): a token of that chain is read from this position (its
        # scan start, and the token's own start after blanks)
        self._at: dict[int, tuple[_Chain, int]] = {}
        self._sorted: dict[str, list[int]] = {}  # delimiter -> its positions, built on first need
        self._strings: dict[str, dict[int, int]] = {"'": {}, '"': {}}

    def classes(self, start: int, size: int) -> tuple[str, bool]:
        """The classes of the first ``size`` tokens from ``start``, and whether the value goes on
        after them (the window was cut short)."""
        found = self._at.get(start)
        if found is not None:  # the common case in a hostile value: a slice of a chain read before
            chain, index = found
            stop = index + size
            if len(chain.joined) >= stop:
                return self._window(chain, index, stop)
        if found is None:
            # A window starting off every chain read so far, as when windows start a fixed
            # distance before their triggers: its own first tokens (usually one or two), then
            # the chain they fall in step with.
            lead = self._lead(start, size)
            if lead is not None:
                own, (other, at) = lead
                need = at + size - len(own)
                self._grow(other, need)
                if len(other.classes) >= need:
                    tail, cut = self._window(other, at, need)
                    return own + tail, cut
        chain, index = self._place(start) if found is None else found
        stop = index + size
        self._grow(chain, stop)
        if len(chain.classes) >= stop:
            return self._window(chain, index, stop)
        segments = self._walk(chain, index, size)
        head = "".join([c.joined[i:j] for c, i, j in segments[:-1]])
        last, first, stop = segments[-1]
        if sum(j - i for _, i, j in segments) < size:  # the value ran out
            return head + last.joined[first:stop], False
        tail, cut = self._window(last, first, stop)
        return head + tail, cut

    def _lead(self, start: int, size: int) -> tuple[str, tuple[_Chain, int]] | None:
        """The classes of the tokens from ``start`` up to the first that a chain already holds,
        and that chain and index; None when that takes ``size`` tokens, or a token needs more
        than a plain match (a long one, ORDER BY), or the value ends: the caller reads a chain."""
        text, n, at = self._text, self._n, self._at
        out: list[str] = []
        pos = start
        while len(out) < size:
            horizon = pos + _HORIZON
            if horizon >= n:
                return None
            m = TOKEN.match(text, pos, horizon)
            assert m is not None
            kind = m.lastgroup
            end = m.end()
            if end >= horizon - 2 or kind == "end":
                return None
            assert kind is not None
            a = m.start("w" if kind == "f" else kind)
            other = at.get(a)
            if other is not None:
                return "".join(out), other
            if kind == "w" or kind == "f":
                if text[a] in _DELIMITED_WORD or text[end] in _BLANK_CHARS:
                    return None  # (a "called" look-ahead may need more than the horizon)
                word = text[a:end]
                cls = word_class(word, kind == "f")
                if cls == "b" and word.lower() in ("order", "group", "by"):
                    return None
            else:
                cls = text[a] if kind == "p" else CLASS_OF_GROUP[kind]
            out.append(cls)
            pos = end
        return None

    def _window(self, chain: _Chain, index: int, stop: int) -> tuple[str, bool]:
        """Tokens ``index`` to ``stop`` of ``chain`` as a window of that many tokens. When the
        last one is ORDER BY folded into one token, the window alone would have stopped at ORDER
        (a bareword, and the value goes on)."""
        if stop - 1 in chain.folded:
            return chain.joined[index : stop - 1] + "b", True
        return chain.joined[index:stop], chain.ends[stop - 1] < self._n

    def _walk(self, chain: _Chain, index: int, size: int) -> list[tuple[_Chain, int, int]]:
        """``(chain, first, stop)`` pieces of the first ``size`` tokens from ``chain[index]``,
        through the chains it continues in (fewer tokens when the value runs out)."""
        segments: list[tuple[_Chain, int, int]] = []
        remaining = size
        while True:
            self._grow(chain, index + remaining)
            take = min(len(chain.classes) - index, remaining)
            segments.append((chain, index, index + max(take, 0)))
            remaining -= max(take, 0)
            if remaining == 0 or chain.link is None:
                return segments
            chain, index = chain.link

    def _grow(self, chain: _Chain, need: int) -> None:
        """``_extend`` to ``need`` tokens, then refresh ``joined``. A chain read again is being
        walked by overlapping windows: it reads ahead in proportion to its length, so that each
        window pays neither for a scan nor for a join of its own (amortized linear time)."""
        have = len(chain.classes)
        if have < need and chain.link is None and chain.pos >= 0:
            self._extend(chain, need if have == 0 else max(need, have + max(_READ_AHEAD, have // 2)))
            chain.joined = "".join(chain.classes)

    def _place(self, start: int) -> tuple[_Chain, int]:
        at = self._at
        found = at.get(start)
        if found is None:
            # From inside a run of blanks, the stream is the one from the first non-blank.
            found = at.get(_skip(_BLANKS, self._text, start))
        return found if found is not None else (_Chain(start), 0)

    def _extend(self, chain: _Chain, need: int) -> None:
        """Read tokens into ``chain`` until it has ``need``, or it ran out, or joined another."""
        text, n, at = self._text, self._n, self._at
        classes, ends = chain.classes, chain.ends
        pos, last_word = chain.pos, chain.last_word
        words, calls = WORD_CLASSES, CALL_CLASSES
        while len(classes) < need and pos >= 0 and chain.link is None:
            # One regex scan over at most _HORIZON bytes yields the next few tokens; a token that
            # reaches the horizon (or a word whose "called" look-ahead does) is read again below.
            horizon = pos + _HORIZON
            bounded = horizon < n
            for m in TOKEN.finditer(text, pos, horizon if bounded else n):
                kind = m.lastgroup
                end = m.end()
                if bounded and (
                    end >= horizon - 2
                    or (
                        kind == "w"
                        and text[end] in _BLANK_CHARS
                        and _skip(_BLANKS, text, end, horizon) == horizon
                    )
                ):
                    token = self._long_token(m.start())
                    if token is None:
                        pos = -1
                        break
                    kind, a, end = token
                elif kind == "end":
                    pos = -1
                    break
                else:
                    assert kind is not None
                    a = m.start("w" if kind == "f" else kind)
                other = at.get(a)
                if other is not None and not last_word:  # an older chain reads on from here
                    chain.link = other
                    break
                pos = end
                if (kind == "w" or kind == "f") and text[a] in _DELIMITED_WORD:
                    # `name` and [name]: never a keyword or a function name, whatever is inside
                    # (and an unclosed one, to the end of the value, is not copied to find out).
                    last_word = ""
                    cls = "b"
                elif kind == "w" or kind == "f":
                    word = text[a:end]
                    cls = (calls if kind == "f" else words).get(word) or word_class(word, kind == "f")
                    if cls == "b" and end - a <= 5:
                        low = word.lower()
                        if low == "by" and last_word:  # fold "ORDER BY" / "GROUP BY" into one token
                            classes[-1] = "O"
                            chain.folded.add(len(classes) - 1)
                            ends[-1] = end
                            last_word = ""
                            if end >= horizon - 2:
                                break  # read past the horizon: scan on from here
                            continue
                        last_word = low if low in _ORDER_GROUP else ""
                    else:
                        last_word = ""
                else:
                    last_word = ""
                    cls = text[a] if kind == "p" else CLASS_OF_GROUP[kind]
                if other is None:
                    at[a] = (chain, len(classes))
                classes.append(cls)
                ends.append(end)
                if len(classes) >= need or end >= horizon - 2:
                    break  # enough, or scan on from here with a new horizon
            else:
                if not bounded:
                    pos = -1  # the scan reached the end of the value
        chain.pos = pos
        chain.last_word = last_word

    def _long_token(self, pos: int) -> tuple[str, int, int] | None:
        """The token read from ``pos`` as ``(group, start, end)``, without a horizon (None at the
        end of the value); delimited tokens end where the tables say."""
        text, n = self._text, self._n
        q = _skip(_GAP, text, pos)
        if q >= n:
            return None
        first = text[q]
        pair = text[q : q + 2]
        if pair == "--" or first == "#":  # --[^\n]*, #[^\n]*
            return "c", q, self._next("\n", q, n)
        if pair == "/*":  # not /*! (the gap took it): to the first */ after the opener, or the end
            return "c", q, self._next("*/", q + 2, n - 2) + 2
        if first == "'" or first == '"':
            return "s", q, self._string_end(first, q + 1)
        if first == "`" or first == "[":
            end = min(self._next("`" if first == "`" else "]", q + 1, n - 1) + 1, n)
            kind = "f" if _CALLED.match(text, end) else "w"
            return kind, q, end
        m = TOKEN.match(text, q)
        assert m is not None and m.lastgroup is not None and m.lastgroup != "end"
        kind = m.lastgroup
        return kind, m.start("w" if kind == "f" else kind), m.end()

    def _next(self, delimiter: str, start: int, default: int) -> int:
        """Where ``delimiter`` next occurs at or after ``start``, else ``default``."""
        positions = self._sorted.get(delimiter)
        if positions is None:
            positions = [m.start() for m in re.finditer(re.escape(delimiter), self._text)]
            self._sorted[delimiter] = positions
        i = bisect_left(positions, start)
        return positions[i] if i < len(positions) else default

    def _string_end(self, quote: str, body: int) -> int:
        """Where a string literal whose text starts at ``body`` ends, as ``TOKEN`` reads it: at
        its first quote that is neither escaped by a backslash nor doubled, else at the end (a
        trailing odd backslash excluded). Remembered per position of the scan, so strings
        opened at different quotes share the text they have in common."""
        text, n = self._text, self._n
        memo = self._strings[quote]
        stop = _STRING_STOP[quote]
        path = []
        i = body
        while True:
            end = memo.get(i)
            if end is not None:
                break
            path.append(i)
            m = stop.search(text, i)
            if m is None:
                end = n
                break
            j = m.start()
            if text[j] == "\\":
                if j + 1 < n:
                    i = j + 2
                    continue
                end = j
                break
            if j + 1 < n and text[j + 1] == quote:
                i = j + 2
                continue
            end = j + 1
            break
        for k in path:
            memo[k] = end
        return end
