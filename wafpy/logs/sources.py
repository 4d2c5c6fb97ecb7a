"""Opening log inputs: files, folders, stdin; plain or gzip; line streams or whole JSON documents.

Everything streams line by line with bounded memory, with one documented exception: a file
whose first record is a JSON array (`[ {...}, ... ]`, as some exports write) or a pretty-printed
JSON object spread over several lines (the AWS documentation examples, `get-sampled-requests`
output, `aws logs filter-log-events` output) cannot be split into lines, so such a file is read
whole (its text; the records in its lists are decoded one at a time). Those files are small in
practice; real AWS WAF logs (S3, Firehose, CloudWatch exports) are one record per line.

Errors go to `on_error` as `LogFormatError`s. Those about an input as a whole (missing,
unreadable, a truncated or corrupt gzip file) are `InputError`s: a bad line costs one record,
an `InputError` the rest of the input, so callers may want to treat it more seriously.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import sys
import zlib
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import IO, cast

import orjson

from wafpy.errors import LogFormatError
from wafpy.logs.remote import ListingError, is_remote, list_objects, open_object

__all__ = [
    "GZIP_MAGIC",
    "RECORD_LISTS",
    "SKIP_FIRST",
    "STDIN",
    "WS",
    "ErrorHandler",
    "InputError",
    "iter_files",
    "iter_lines",
    "iter_sources",
    "lines_of_bytes",
    "looks_like_document",
    "open_input",
]

STDIN = "-"
GZIP_MAGIC = b"\x1f\x8b"  # the first bytes of a gzip stream, whatever the file is called
WS = b" \t\r\n\f\v"  # what is stripped around a line to tell a blank line or a comment
SKIP_FIRST = frozenset(WS + b"#")  # first bytes of lines that may be blank or a comment

ErrorHandler = Callable[[LogFormatError], None]
Lines = Iterator[tuple[int, bytes]]


class InputError(LogFormatError):
    """An input that cannot be read (whole): missing, unreadable, truncated or corrupt gzip.

    `line` is the first line not read, when some were.
    """


_READ_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error, OSError)


def _read_failed(source: str, number: int, exc: BaseException) -> InputError:
    """The error of a read that failed after `number` complete lines."""
    if isinstance(exc, EOFError):  # gzip: "Compressed file ended before the end-of-stream marker"
        what = f"truncated gzip file: the compressed data ends after line {number}"
    elif isinstance(exc, gzip.BadGzipFile | zlib.error):
        what = f"corrupt gzip data after line {number}"
    else:
        what = f"read error after line {number}"
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return InputError(f"{what} ({detail}); the rest of the file is not read", file=source, line=number + 1)


def _raise(error: LogFormatError) -> None:
    raise error


def iter_files(paths: Sequence[str], on_error: ErrorHandler = _raise) -> Iterator[str]:
    """Expand `paths`: files as given, folders recursively in sorted order, `-` for stdin, S3 URLs
    (`s3://bucket/key`, `s3://bucket/prefix/`) to the objects they stand for (`wafpy.logs.remote`).

    Hidden files and folders (name starting with `.`) inside a folder are skipped, so editor
    swap files and `.DS_Store` never reach a parser; a hidden file named explicitly is read.
    A path that does not exist is reported and skipped.
    """
    for path in paths:
        if path == STDIN:
            yield path
        elif is_remote(path):
            try:
                yield from list_objects(path)
            except ListingError as exc:
                on_error(InputError(exc.strerror or str(exc), file=path))
        elif os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        yield os.path.join(root, name)
        elif os.path.exists(path):
            yield path
        else:
            on_error(InputError("no such file or folder", file=path))


def open_input(path: str) -> IO[bytes]:
    """Open a file (or stdin for `-`) for binary reading, decompressing gzip.

    An S3 URL is opened through s3fs (`wafpy.logs.remote`). Compression is detected from the
    magic bytes, not the name: S3 keys end in `.gz` but
    downloaded copies are often already inflated, and CloudWatch exports are gzip without it.
    """
    if path == STDIN:
        raw: IO[bytes] = sys.stdin.buffer
    elif is_remote(path):
        raw = open_object(path)
    else:
        raw = open(path, "rb")  # noqa: SIM115
    peek = getattr(raw, "peek", None)
    head = peek(2)[:2] if peek is not None else b""
    if head == GZIP_MAGIC:
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
    return raw


def _physical_lines(source: str, stream: IO[bytes], on_error: ErrorHandler) -> Lines:
    """Yield (1-based number, line) until the end or a decompression failure.

    A truncated or corrupt gzip member is reported at the line where it broke; the complete
    lines read before it are kept (a partial last line is not: it cannot be trusted).
    """
    number = 0
    try:
        for number, line in enumerate(stream, 1):
            yield number, line
    except _READ_ERRORS as exc:
        on_error(_read_failed(source, number, exc))


# Members of a whole-file JSON object that hold its records: `get-sampled-requests` output, and
# `aws logs filter-log-events` (or `get-log-events`) output, whose events each carry one record.
RECORD_LISTS = ("SampledRequests", "events")


# A file whose first record lines hold NUL bytes or are not UTF-8 is not a log (random bytes,
# an image, a gzip file compressed twice): AWS WAF logs, ALB access logs and request lines are
# UTF-8 text. Three lines, so a random file that happens to start with a short ASCII line is
# still caught, while a log is never refused for a later damaged line.
BINARY_CHECKED_LINES = 3
NOT_A_LOG = "not a log: binary data, neither text nor gzip-compressed text"


def _binary(line: bytes) -> bool:
    if b"\0" in line:
        return True
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def looks_like_document(stripped: bytes) -> bool:
    """A JSON array, an object that does not end on its first line (pretty-printed), or an object
    holding a list of records (`RECORD_LISTS`) written on one line."""
    if stripped[:1] == b"[":
        return True
    if stripped[:1] != b"{":
        return False
    try:
        value = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return True
    return not isinstance(value, dict) or any(isinstance(value.get(k), list) for k in RECORD_LISTS)


def _split_lines(source: str, stream: IO[bytes], on_error: ErrorHandler) -> Lines:
    """Record lines of one input: blank lines and `#` comments skipped, documents expanded."""
    lines = _physical_lines(source, stream, on_error)
    head: list[tuple[int, bytes]] = []
    for number, line in lines:
        stripped = line.strip(WS)
        if not stripped or stripped[:1] == b"#":
            continue
        if not head and looks_like_document(stripped):
            yield from _document(source, number, line, lines, on_error)
            return
        if _binary(line):
            # Reported once for the file, not as one bad line per random newline.
            on_error(InputError(NOT_A_LOG, file=source))
            return
        head.append((number, line))
        if len(head) == BINARY_CHECKED_LINES:
            break
    yield from head
    if len(head) < BINARY_CHECKED_LINES:
        return
    # The rest, in one loop: a line that starts with neither whitespace nor `#` (nearly all)
    # is a record line without stripping it.
    start = number + 1
    try:
        for number, line in enumerate(stream, start):
            if line[0] in SKIP_FIRST:
                stripped = line.strip(WS)
                if not stripped or stripped[:1] == b"#":
                    continue
            yield number, line
    except _READ_ERRORS as exc:
        on_error(_read_failed(source, number, exc))


def _document(source: str, start: int, first: bytes, rest: Lines, on_error: ErrorHandler) -> Lines:
    """Read the rest of the file as JSON (one or more concatenated values) and yield its records.

    Each record is re-serialised to one line so every parser sees the same thing, and numbered
    with the line where it starts. An array yields its elements; `get-sampled-requests` output
    yields its `SampledRequests`, `aws logs filter-log-events` output its `events` (each event
    whole: the `cloudwatch` format reads the record in its `message`). The text is held whole,
    the decoded records one at a time.
    """
    data = first + b"".join(line for _, line in rest)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        on_error(LogFormatError(f"not UTF-8 text: {exc}", file=source, line=start))
        return
    decoder = json.JSONDecoder()
    pos = 0
    end = len(text)

    def line_at(offset: int) -> int:
        return start + text.count("\n", 0, offset)

    def skip(offset: int, chars: str = " \t\r\n") -> int:
        while offset < end and text[offset] in chars:
            offset += 1
        return offset

    def array(pos: int) -> Generator[tuple[int, bytes], None, int]:
        """Yield the elements of the array at `pos` one by one; return the offset after it."""
        pos = skip(pos + 1)
        while pos < end and text[pos] != "]":
            value, after = decoder.raw_decode(text, pos)
            yield line_at(pos), orjson.dumps(value)
            pos = skip(skip(after), " \t\r\n,")
        if pos >= end:
            raise json.JSONDecodeError("unterminated array", text, pos)
        return pos + 1

    def obj(pos: int) -> Generator[tuple[int, bytes], None, int]:
        """An object's record lists (`RECORD_LISTS`) element by element, so that a large
        `filter-log-events` output is never held decoded whole; any other object whole."""
        start, members, streamed = pos, {}, False
        pos = skip(pos + 1)
        while pos < end and text[pos] != "}":
            key, after = decoder.raw_decode(text, pos)
            pos = skip(after)
            if not isinstance(key, str) or pos >= end or text[pos] != ":":
                raise json.JSONDecodeError("expected a member name and ':'", text, pos)
            pos = skip(pos + 1)
            if key in RECORD_LISTS and text.startswith("[", pos):
                pos = yield from array(pos)
                streamed = True
            else:
                members[key], pos = decoder.raw_decode(text, pos)
            pos = skip(skip(pos), " \t\r\n,")
        if pos >= end:
            raise json.JSONDecodeError("unterminated object", text, pos)
        if not streamed:
            yield line_at(start), orjson.dumps(members)
        return pos + 1

    try:
        while (pos := skip(pos)) < end:
            if text[pos] == "[":
                pos = yield from array(pos)
            elif text[pos] == "{":
                pos = yield from obj(pos)
            else:
                value, after = decoder.raw_decode(text, pos)
                yield line_at(pos), orjson.dumps(value)
                pos = after
    except json.JSONDecodeError as exc:
        on_error(
            LogFormatError(
                f"not valid JSON: {exc.msg} (column {exc.colno})", file=source, line=start + exc.lineno - 1
            )
        )
    except orjson.JSONEncodeError as exc:  # json accepts it, orjson cannot write it
        on_error(LogFormatError(f"unsupported JSON value: {exc}", file=source, line=line_at(pos)))


def iter_sources(
    paths: Sequence[str], on_error: ErrorHandler = _raise
) -> Iterator[tuple[str, Generator[tuple[int, bytes], None, None]]]:
    """For each input: its display name and an iterator of (line number, record line).

    The name is the path as given (`<stdin>` for `-`). Each file is closed once its lines are
    consumed or the iterator closed; an unreadable file is reported and skipped.
    """
    for path in iter_files(paths, on_error):
        name = "<stdin>" if path == STDIN else path
        try:
            stream = open_input(path)
        except OSError as exc:
            on_error(InputError(f"cannot open: {exc.strerror or exc}", file=name))
            continue
        yield name, _closing(stream, _split_lines(name, stream, on_error), path != STDIN)


def lines_of_bytes(
    name: str, data: bytes, on_error: ErrorHandler = _raise
) -> Generator[tuple[int, bytes], None, None]:
    """(line number, record line) of one whole input held in memory, read as `iter_sources`
    reads a file (gzip detected from its magic bytes): for readers that get files as bytes."""
    stream: IO[bytes] = io.BytesIO(data)
    if data[:2] == GZIP_MAGIC:
        stream = cast(IO[bytes], gzip.GzipFile(fileobj=stream, mode="rb"))
    return _closing(stream, _split_lines(name, stream, on_error), True)


def _closing(stream: IO[bytes], lines: Lines, close: bool) -> Generator[tuple[int, bytes], None, None]:
    try:
        yield from lines
    finally:
        if close:
            # GzipFile does not close the file it was given (and forgets it on close).
            inner = getattr(stream, "fileobj", None)
            stream.close()
            if inner is not None:
                inner.close()


def iter_lines(paths: Sequence[str], *, on_error: ErrorHandler = _raise) -> Iterator[tuple[str, int, bytes]]:
    """(file name, 1-based line number, line) for every record line of every input.

    Blank lines and lines starting with `#` are skipped (their numbers still count). Errors
    (missing file, broken gzip, bad JSON document) go to `on_error`, which raises by default.
    """
    for name, lines in iter_sources(paths, on_error):
        for number, line in lines:
            yield name, number, line
