"""Log readers for `wafpy eval`: AWS WAF logs, ALB access logs, sampled requests, request lines.

`read_entries(paths)` is the entry point: it opens files, folders and stdin (plain or gzip),
detects each file's format, and yields one `LogEntry` per request, reporting unreadable lines
through `on_error` with their file and line number.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Literal

from wafpy.errors import LogFormatError
from wafpy.logs.alblog import parse_alb_line
from wafpy.logs.formats import (
    CHOICES,
    NOT_A_LOG,
    NOT_A_LOG_LINES,
    UNDETECTED,
    detect,
    entry_from_json,
    format_named,
    parse_json_line,
)
from wafpy.logs.jsonl import parse_jsonl_line
from wafpy.logs.records import ALB_PARTS, ALL_PARTS, LogEntry, LoggedOutcome, LogKind, to_epoch_ms
from wafpy.logs.sources import InputError, iter_lines, iter_sources
from wafpy.logs.waflog import parse_waf_line

__all__ = [
    "ALB_PARTS",
    "ALL_PARTS",
    "FORMATS",
    "LogEntry",
    "LogFormat",
    "LogKind",
    "LoggedOutcome",
    "entry_from_json",
    "iter_lines",
    "parse_alb_line",
    "parse_json_line",
    "parse_jsonl_line",
    "parse_time",
    "parse_waf_line",
    "read_entries",
    "within",
]

# The `format` values (`FORMATS`, from the registry in `wafpy.logs.formats`), spelled out for
# type checkers; a test holds the two equal.
LogFormat = Literal["auto", "waf", "alb", "jsonl", "cloudwatch"]
FORMATS: tuple[str, ...] = CHOICES


def _file_entries(
    source: str, lines: Iterator[tuple[int, bytes]], fmt: LogFormat, report: Callable[[LogFormatError], None]
) -> Iterator[LogEntry]:
    chosen = format_named(fmt)
    if chosen is None:  # auto: decide on the first line that looks like something
        undetected: list[LogFormatError] = []
        for number, raw in lines:
            chosen = detect(raw)
            if chosen is not None:
                lines = itertools.chain([(number, raw)], lines)
                break
            undetected.append(LogFormatError(UNDETECTED, file=source, line=number))
            if len(undetected) == NOT_A_LOG_LINES:
                # Not a log at all (a CSV, another kind of document): one error for the file.
                report(InputError(NOT_A_LOG, file=source))
                return
        for error in undetected:
            report(error)
        if chosen is None:
            return
    if chosen.join is not None:
        lines = chosen.join(lines)
    parser = chosen.parse
    for number, raw in lines:
        try:
            entry = parser(raw, source, number)
        except LogFormatError as exc:
            report(exc)
            continue
        yield entry


def read_entries(
    paths: Sequence[str],
    *,
    format: LogFormat = "auto",
    strict: bool = False,
    on_error: Callable[[LogFormatError], None] | None = None,
    since: int | None = None,
    until: int | None = None,
    limit: int | None = None,
) -> Iterator[LogEntry]:
    """Every request in `paths` (files, folders, `-` for stdin), in file and line order.

    `format` "auto" decides per file from its first record line. A bad line (not JSON, not an
    object, wrong ALB field count, bad types), a missing file or a broken gzip stream is passed
    to `on_error` and skipped; with `strict`, or without `on_error`, the first one is raised.
    `since` (inclusive) / `until` (exclusive) keep entries by `timestamp_ms` (see `within`);
    `limit` stops after that many entries.
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")

    def report(error: LogFormatError) -> None:
        if strict or on_error is None:
            raise error
        on_error(error)

    def entries() -> Iterator[LogEntry]:
        for source, lines in iter_sources(paths, report):
            try:
                yield from _file_entries(source, lines, format, report)
            finally:
                lines.close()  # closes the file now, also when a bad line is raised

    selected: Iterator[LogEntry] = entries()
    if since is not None or until is not None:
        selected = within(selected, since, until)
    if limit is not None:
        selected = itertools.islice(selected, limit)
    return selected


def within(
    entries: Iterable[LogEntry], since: int | None = None, until: int | None = None
) -> Iterator[LogEntry]:
    """Entries with `since <= timestamp_ms < until` (either bound optional, epoch ms).

    An entry without a timestamp cannot be placed in time and is left out when a bound is given.
    """
    for entry in entries:
        ts = entry.timestamp_ms
        if since is not None and (ts is None or ts < since):
            continue
        if until is not None and (ts is None or ts >= until):
            continue
        yield entry


def parse_time(text: str) -> int:
    """A `--since` / `--until` value: epoch milliseconds or ISO 8601 (UTC when no offset)."""
    try:
        value = to_epoch_ms(text.strip())
    except ValueError:
        value = None
    if value is None:
        raise ValueError(f"not a time: {text!r} (epoch milliseconds or ISO 8601, e.g. 2024-03-20T10:30:00Z)")
    return value
