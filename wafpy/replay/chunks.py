"""Cutting the input into work: record lines in chunks, and plain files in byte ranges.

The main process only reads: it expands the inputs (files, folders, `-` for stdin; gzip or plain),
decides each file's format from its first record line (`wafpy.logs.formats`), and cuts the record
lines into chunks of `chunk_lines` (raw bytes, not decoded), with the lines it could not read in
place as `BadLine`s. A chunk is what a worker process is sent, so it is as few objects as
possible: runs of (format name, file, line numbers, lines).

With workers, a regular, uncompressed file whose first record line is an ordinary line (not a
JSON array or pretty-printed document) is not read here at all: it is cut into byte ranges of
about `range_bytes` at line boundaries (for ALB logs, at a line that starts an entry), which the
workers read themselves (`wafpy.replay.pool`). Only the cut points are sought here, and the
newlines before each range counted, so that line numbers (bad lines, comparison examples) are
those of the file.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from typing import IO, NamedTuple

from wafpy.errors import LogFormatError
from wafpy.logs.formats import (
    AUTO,
    CHOICES,
    NOT_A_LOG,
    NOT_A_LOG_LINES,
    UNDETECTED,
    Format,
    detect,
    format_named,
)
from wafpy.logs.sources import (
    GZIP_MAGIC,
    SKIP_FIRST,
    STDIN,
    WS,
    ErrorHandler,
    InputError,
    iter_sources,
    looks_like_document,
)
from wafpy.replay.outcome import BadLine, UnreadableInput

__all__ = [
    "ByteRange",
    "Chunk",
    "Run",
    "Sources",
    "bad_line",
    "byte_ranges",
    "chunk_label",
    "pieces",
    "range_format",
    "range_lines",
    "read_chunks",
    "run_format",
]


# Record lines on their way to a parser, as few objects as possible (a chunk is pickled to a
# worker): runs of (format name, file, 1-based line numbers, lines), with bad lines in place.
Run = tuple[str, str, list[int], list[bytes]]
Chunk = list[Run | BadLine]


def _forced_format(fmt: str) -> Format | None:
    """The format `fmt` names (any registered one, "json" included); None for auto."""
    forced = format_named(fmt)
    if fmt != AUTO and forced is None:
        raise ValueError(f"format must be {', '.join(CHOICES[:-1])} or {CHOICES[-1]}, got {fmt!r}")
    return forced


def run_format(key: str) -> Format:
    """The format of a run of lines (the name that `read_chunks` or `Replay` put there)."""
    fmt = format_named(key)
    if fmt is None:
        raise ValueError(f"not a log format: {key!r}")
    return fmt


# What opens the inputs for `read_chunks`: given the error handler, (name, record lines) per input.
Sources = Callable[[ErrorHandler], Iterable[tuple[str, Generator[tuple[int, bytes], None, None]]]]


def read_chunks(
    paths: Sequence[str], fmt: str = "auto", chunk_lines: int = 2000, *, sources: Sources | None = None
) -> Iterator[Chunk]:
    """The record lines of `paths` in order, in chunks; read errors become `BadLine`s in place.

    `sources` opens the inputs instead of `iter_sources(paths)` (inputs already in memory)."""
    forced = _forced_format(fmt)
    chunk: Chunk = []

    def report(error: LogFormatError) -> None:
        chunk.append(bad_line(error))

    count = 0
    opened = iter_sources(paths, report) if sources is None else sources(report)
    for source, file_lines in opened:
        lines: Iterator[tuple[int, bytes]] = file_lines
        chosen = forced
        if chosen is None:
            for undetected, (number, raw) in enumerate(lines, 1):
                chosen = detect(raw)
                if chosen is not None:
                    chunk.append((chosen.name, source, [number], [raw]))
                    count += 1
                    break
                if undetected == NOT_A_LOG_LINES:
                    # None of its first record lines is in any format: the file is not a log (a
                    # CSV, another kind of document). One input error, not a bad line per line.
                    del chunk[len(chunk) - (undetected - 1) :]
                    chunk.append(UnreadableInput(NOT_A_LOG, source, None))
                    file_lines.close()
                    break
                chunk.append(BadLine(UNDETECTED, source, number))
            if chosen is None:
                continue
        key = chosen.name
        if chosen.join is not None:
            lines = chosen.join(lines)
        run: Run | None = chunk[-1] if chunk and type(chunk[-1]) is tuple else None  # type: ignore[assignment]
        numbers, raws = (run[2], run[3]) if run is not None else ([], [])
        for number, raw in lines:
            if run is None or chunk[-1] is not run:  # a new chunk, or a bad line came in between
                numbers, raws = [], []
                run = (key, source, numbers, raws)
                chunk.append(run)
            numbers.append(number)
            raws.append(raw)
            count += 1
            if count >= chunk_lines:
                yield chunk
                chunk = []
                count = 0
                run = None
        run = None
    if chunk:
        yield chunk


def pieces(chunk: Chunk, size: int) -> Iterator[Chunk]:
    """`chunk` cut into consecutive chunks of at most `size` lines (bad lines go along)."""
    piece: Chunk = []
    count = 0
    for part in chunk:
        if type(part) is not tuple:  # a BadLine
            piece.append(part)
            continue
        key, source, numbers, raws = part  # type: ignore[misc]
        start = 0
        while start < len(numbers):
            take = min(size - count, len(numbers) - start)
            piece.append((key, source, numbers[start : start + take], raws[start : start + take]))
            start += take
            count += take
            if count >= size:
                yield piece
                piece = []
                count = 0
    if piece:
        yield piece


def chunk_label(chunk: Chunk) -> str:
    """Where a chunk is, for messages: `a.jsonl, lines 1-2000`, or across files."""
    places: list[tuple[str, int | None]] = []
    for part in chunk:
        if isinstance(part, BadLine):
            places.append((part.file or "<input>", part.line))
        else:
            _, source, numbers, _ = part
            places.append((source, numbers[0]))
            places.append((source, numbers[-1]))
    if not places:
        return "an empty chunk"
    (first, start), (last, end) = places[0], places[-1]
    if first == last:
        return f"{first}, lines {start}-{end}" if start != end else f"{first}, line {start}"
    return f"{first} line {start} to {last} line {end}"


def bad_line(error: LogFormatError) -> BadLine:
    """The `BadLine` of a reading error: an `UnreadableInput` when the input itself failed."""
    if isinstance(error, InputError):
        return UnreadableInput(error.message, error.file, error.line)
    return BadLine(error.message, error.file, error.line)


def range_lines(data: bytes, first: int) -> Iterator[tuple[int, bytes]]:
    """(number, line) of the record lines in `data` (lines as a file gives them, with the newline)."""
    for number, raw in enumerate(io.BytesIO(data), first):
        if raw[0] in SKIP_FIRST:
            stripped = raw.strip(WS)
            if not stripped or stripped[:1] == b"#":
                continue
        yield number, raw


def range_format(path: str, fmt: str) -> Format | None:
    """The format of a plain file that workers can read by byte ranges, or None.

    Plain regular files only: not stdin, not gzip (no offsets into the data), not a JSON
    document (an array or pretty-printed JSON is read whole), and in auto mode the first record
    line must tell the format (otherwise `read_chunks` reports the lines before it one by one).
    """
    forced = _forced_format(fmt)
    if path == STDIN or not os.path.isfile(path):
        return None
    try:
        with open(path, "rb") as stream:
            if stream.read(2) == GZIP_MAGIC:
                return None
            stream.seek(0)
            for raw in stream:
                stripped = raw.strip(WS)
                if not stripped or stripped[:1] == b"#":
                    continue
                if looks_like_document(stripped):
                    return None
                return forced if forced is not None else detect(raw)
    except OSError:
        return None
    return None  # no record line: nothing to split


class ByteRange(NamedTuple):
    """A part of a plain file that one worker reads and replays itself."""

    start: int  # first byte
    end: int  # the byte after the last
    line: int  # number of the line at `start`
    last: int  # number of the last line
    identity: tuple[int, int]  # (device, inode) of the file


def byte_ranges(stream: IO[bytes], fmt: Format, size: int) -> Iterator[ByteRange]:
    """Consecutive ranges of about `size` bytes of the open file `stream`, in format `fmt`.

    Each range ends at the start of a line (for a format whose entries may be wrapped over
    several lines, ALB, of a line that starts an entry). The line numbers count the newlines of
    each range, here, as the ranges are handed out.
    """
    starts_entry = fmt.detect if fmt.join is not None else None
    stat = os.fstat(stream.fileno())
    total, identity = stat.st_size, (stat.st_dev, stat.st_ino)
    start, line = 0, 1
    while start < total:
        end = start + max(1, size)
        if end >= total:
            end = total
        else:
            stream.seek(end - 1)
            rest = stream.readline()  # from the byte before `end` through its line's newline
            end = end - 1 + len(rest)
            if not rest.endswith(b"\n"):
                end = total
            while starts_entry is not None and end < total:  # move on to a line that starts an entry
                nxt = stream.readline()
                if not nxt or starts_entry(nxt):
                    break
                end += len(nxt)
        newlines, ends_line = _count_newlines(stream, start, end)
        yield ByteRange(start, end, line, line + newlines - (1 if ends_line else 0), identity)
        line += newlines
        start = end


def _count_newlines(stream: IO[bytes], start: int, end: int) -> tuple[int, bool]:
    """The newlines in bytes `start` to `end` of `stream`, and whether the last byte is one."""
    stream.seek(start)
    count = 0
    block = b""
    while start < end:
        block = stream.read(min(end - start, 8 << 20))
        if not block:
            break
        count += block.count(b"\n")
        start += len(block)
    return count, block.endswith(b"\n")
