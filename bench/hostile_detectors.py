"""Worst CPU time of the SQLi and XSS detectors on hostile values of 1 KB, 10 KB and 100 KB.

    python bench/hostile_detectors.py [--timeout SECONDS] [--sizes 1000,10000,100000]

Each row is a shape of value built to make one step of a detector work hard (unclosed tags, quote
breaks before attributes, runs of ``on``, comment openers, character references, places where a
SQL injection could start every few bytes, strings and comments never closed...), repeated to the
size of the column. A cell is the best of three calls, in CPU milliseconds, measured in a child
process that is stopped after ``--timeout`` seconds (shown as ``>N s``), so that a detector with
super-linear time still gives a table. The last column is the 100 KB cost over the 10 KB cost:
about 10 when the time is linear in the length.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections.abc import Callable

from wafpy.matching.detectors.sqli import detect_sqli
from wafpy.matching.detectors.xss import detect_xss


def _repeat(unit: bytes, size: int) -> bytes:
    return (unit * (size // len(unit) + 1))[:size]


def _sqli_low(value: bytes) -> object:
    return detect_sqli(value, "LOW")


def _sqli_high(value: bytes) -> object:
    return detect_sqli(value, "HIGH")


_PROSE = b"I ordered the blue shirt (size M) and it's lovely; the fit is right = 5 stars. "

# (detector, shape, value of a given size)
ROWS: list[tuple[str, str, Callable[[int], bytes]]] = [
    ("xss", "quote, a=/ repeated (exponential before)", lambda n: b'onabc= "' + _repeat(b"a=/", n) + b">"),
    ("xss", "unclosed <a (quadratic before)", lambda n: _repeat(b"<a ", n)),
    ("xss", "unclosed <a with on... attributes", lambda n: _repeat(b"<a onabc ", n)),
    ("xss", "quote breaks 'a=", lambda n: _repeat(b"'a=", n) + b" onabc="),
    ("xss", "one run of on", lambda n: _repeat(b"on", n)),
    ("xss", "many on...= handlers", lambda n: _repeat(b" onabc=", n)),
    ("xss", "quotes of every kind", lambda n: _repeat(b"'\"`", n) + b" onabc="),
    ("xss", "CSS comment openers /*", lambda n: _repeat(b"/*", n) + b"expression("),
    ("xss", "HTML comment openers <!--", lambda n: _repeat(b"<!--", n)),
    ("xss", "character references &#1", lambda n: _repeat(b"&#1", n) + b"javascript:"),
    ("xss", "long benign text", lambda n: _repeat(_PROSE, n)),
    ("sqli-low", "quote breaks '-", lambda n: _repeat(b"'-", n)),
    ("sqli-high", "quote breaks in words x'-y", lambda n: _repeat(b"x'-y ", n)),
    ("sqli-low", "quote breaks before comments x' /*", lambda n: _repeat(b"x' /*", n)),
    ("sqli-low", "quote breaks before line comments x'--", lambda n: _repeat(b"x'-- ", n)),
    ("sqli-low", "AND/OR before operands", lambda n: _repeat(b"y=1 or 1 y ", n)),
    ("sqli-low", "|| every 3 bytes (windows start off every chain)", lambda n: _repeat(b"<||", n)),
    ("sqli-low", "unclosed [names", lambda n: _repeat(b"[||char(", n)),
    ("sqli-low", "a string never closed", lambda n: b"x' or '" + _repeat(b"a", n)),
    ("sqli-low", "a comment never closed", lambda n: b"1 or 1=" + _repeat(b"/*", n)),
    ("sqli-high", "calls (sleep", lambda n: _repeat(b"(sleep ", n)),
    ("sqli-high", "statements ; declare", lambda n: _repeat(b"; declare ", n)),
    ("sqli-low", "long benign text", lambda n: _repeat(_PROSE, n)),
    ("sqli-high", "long benign text", lambda n: _repeat(_PROSE, n)),
]
DETECTORS: dict[str, Callable[[bytes], object]] = {
    "xss": detect_xss,
    "sqli-low": _sqli_low,
    "sqli-high": _sqli_high,
}


def _measure(row: int, size: int, out: multiprocessing.Queue[float]) -> None:
    kind, _shape, make = ROWS[row]
    detect, value = DETECTORS[kind], make(size)
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        detect(value)
        best = min(best, time.process_time() - start)
    out.put(best)


def _cell(row: int, size: int, timeout: float) -> float | None:
    """Seconds, or None when the child did not finish in ``timeout`` seconds."""
    queue: multiprocessing.Queue[float] = multiprocessing.Queue()
    child = multiprocessing.Process(target=_measure, args=(row, size, queue))
    child.start()
    child.join(timeout)
    if child.is_alive():
        child.terminate()
        child.join()
        return None
    return queue.get()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per cell (default 60)")
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated sizes in bytes")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    header = f"| detector | value | {' | '.join(f'{s // 1000} KB ms' for s in sizes)} | last / previous |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for row, (kind, shape, _make) in enumerate(ROWS):
        cells = [_cell(row, size, args.timeout) for size in sizes]
        shown = [f"{c * 1e3:.2f}" if c is not None else f">{args.timeout:g} s" for c in cells]
        last, previous = cells[-1], cells[-2] if len(cells) > 1 else None
        ratio = f"{last / previous:.1f}" if last is not None and previous else "-"
        print(f"| {kind} | {shape} | {' | '.join(shown)} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
