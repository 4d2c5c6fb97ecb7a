"""Evaluating chunks of record lines against one web ACL: decode, build the request, decide, encode.

Each line is read by the fast decoder its format has in the registry (`wafpy.logs.formats`):
ordinary AWS WAF records and ALB lines go straight from the decoded JSON or the ALB fields to the
`Request`; anything else, and anything it declines, goes through the format's reference parser
and `Request.from_log`, which are the reference. One `Evaluator` lives in each process that
evaluates: the main process, or each worker (`wafpy.replay.pool`).
"""

from __future__ import annotations

from typing import Any

from wafpy.errors import LogFormatError
from wafpy.logs.decode import Decoded
from wafpy.logs.fastrecord import encode_replay_record
from wafpy.logs.formats import FastDecoder, Parser
from wafpy.logs.records import LogEntry
from wafpy.replay.chunks import Chunk, pieces, run_format
from wafpy.replay.compare import Comparison
from wafpy.replay.coverage import acl_parts, missing_statements
from wafpy.replay.outcome import BadLine, Outcome, ReplayError, ReplayOptions
from wafpy.replay.summary import Summary
from wafpy.request import Request
from wafpy.webacl import WebACL

__all__ = ["PIECE_LINES", "Evaluator", "request_of"]

# Lines evaluated at a time by `Evaluator.process`, and the chunk size of a replay in one
# process: a few hundred lines, their requests and records stay in the CPU caches.
PIECE_LINES = 256


class Evaluator:
    """Parses and evaluates chunks against one web ACL (one per process).

    AWS WAF records and ALB lines take the fast decoder of their format (`wafpy.logs.formats`);
    anything it declines (redacted values, missing fields, wrong types) and every other shape goes
    through the reference parser and `Request.from_log`, which also word the errors.
    """

    def __init__(self, acl: WebACL, options: ReplayOptions) -> None:
        self.acl = acl
        self.since = options.since
        self.until = options.until
        self.write_records = options.write_records
        self._parts = acl_parts(acl.model)
        self._missing: dict[frozenset[str], tuple[str, ...]] = {}

    def run(self, chunk: Chunk) -> tuple[list[Outcome | BadLine], int]:
        """Results of a chunk in order, and how many entries `since` / `until` left out."""
        out: list[Outcome | BadLine] = []
        filtered = 0
        one = self._one
        append = out.append
        for part in chunk:
            if type(part) is not tuple:  # a BadLine (or UnreadableInput) read before evaluation
                append(part)  # type: ignore[arg-type]
                continue
            key, source, numbers, raws = part  # type: ignore[misc]
            fmt = run_format(key)
            decode = fmt.fast or fmt.parse
            for number, raw in zip(numbers, raws, strict=True):
                result = one(decode, source, number, raw)
                if result is None:
                    filtered += 1
                else:
                    append(result)
        return out, filtered

    def line(self, key: str, source: str, number: int, raw: bytes) -> Outcome | BadLine | None:
        """One record line in format `key`: its outcome, a BadLine, or None when filtered out."""
        fmt = run_format(key)
        return self._one(fmt.fast or fmt.parse, source, number, raw)

    def process(
        self, chunk: Chunk, summary: Summary, comparison: Comparison | None, strict: bool
    ) -> tuple[bytes, int, int, BadLine | None]:
        """Run a chunk and count it into `summary` (and `comparison`).

        Returns the chunk's log records (one per line, empty unless `write_records`), the number
        of requests replayed, the number filtered out by `since` / `until`, and with `strict`
        the first bad line, where the chunk stops (neither it nor what follows is counted).
        """
        blobs: list[bytes] = []
        replayed = filtered = 0
        add, add_bad = summary.add, summary.add_bad
        compare = comparison.add if comparison is not None else None
        # A few hundred lines at a time: their lines, requests and records stay in the CPU
        # caches (measured: 2,000 at once cost about 10% more per request).
        add_many = summary.add_many
        write_records = self.write_records
        for piece in pieces(chunk, PIECE_LINES):
            items, piece_filtered = self.run(piece)
            filtered += piece_filtered
            if all([type(item) is Outcome for item in items]):  # the usual piece: no bad line
                outcomes: list[Outcome] = items  # type: ignore[assignment]
                add_many(outcomes)
                if compare is not None:
                    for done in outcomes:
                        compare(done)
                if write_records:
                    blobs.append(_join([done[14] for done in outcomes]))  # type: ignore[misc]  # records
                replayed += len(outcomes)
                continue
            records: list[bytes] = []
            write = records.append if self.write_records else None
            for item in items:
                if type(item) is not Outcome:  # a BadLine (or UnreadableInput)
                    if strict:
                        blobs.append(_join(records))
                        return b"".join(blobs), replayed, filtered, item  # type: ignore[return-value]
                    add_bad(item)  # type: ignore[arg-type]
                    continue
                outcome: Outcome = item
                add(outcome)
                if compare is not None:
                    compare(outcome)
                if write is not None:
                    write(outcome.record)  # type: ignore[arg-type]
                replayed += 1
            blobs.append(_join(records))
        return b"".join(blobs), replayed, filtered, None

    def _one(
        self, decode: FastDecoder | Parser, source: str, number: int, raw: bytes
    ) -> Outcome | BadLine | None:
        """One record line -> its outcome, a BadLine, or None when `since` / `until` leave it out.

        `decode` is the format's fast decoder, or its reference parser when it has none.
        """
        decoded: Decoded | None = None
        entry: LogEntry | None = None
        try:
            result = decode(raw, source, number)
        except LogFormatError as exc:
            return BadLine(exc.message, exc.file, exc.line)
        if type(result) is LogEntry:
            entry = result
            timestamp = entry.timestamp_ms
            kind = entry.kind
        else:
            kind, timestamp, decoded = result  # type: ignore[misc]
        since, until = self.since, self.until
        if (since is not None and (timestamp is None or timestamp < since)) or (
            until is not None and (timestamp is None or timestamp >= until)
        ):
            return None
        if decoded is None:
            assert entry is not None
            decoded_entry = _from_entry(entry)
            if type(decoded_entry) is BadLine:
                return decoded_entry
            decoded = decoded_entry  # type: ignore[assignment]
        return self._decide(source, number, timestamp, kind, decoded)  # type: ignore[arg-type]

    def evaluate(self, entry: LogEntry) -> Outcome | BadLine:
        """Evaluate one `LogEntry` read by `wafpy.logs` (no `since` / `until` filter here)."""
        decoded = _from_entry(entry)
        if type(decoded) is BadLine:
            return decoded
        return self._decide(entry.source, entry.line, entry.timestamp_ms, entry.kind, decoded)  # type: ignore[arg-type]

    def _decide(
        self, source: str, number: int, timestamp: int | None, kind: str, decoded: Decoded
    ) -> Outcome:
        request, available, logged, http_out, source_name, source_id, method, uri, client_ip = decoded
        try:
            decision = self.acl.evaluate(request)
        except Exception as exc:  # a bug: stop with the line that shows it rather than skip silently
            raise ReplayError(f"{source}:{number}: evaluating the request failed: {exc!r}") from exc
        missing = self._missing.get(available)
        if missing is None:
            missing = self._missing[available] = missing_statements(self._parts, available)
        record = None
        if self.write_records:
            record = encode_replay_record(decision, source_name, source_id, timestamp, http_out)
        return _new_outcome(
            (
                source,
                number,
                timestamp,
                kind,
                method,
                uri,
                client_ip,
                decision.action,
                decision.terminating_rule_id,
                decision.terminating_rule_type,
                decision.labels,
                decision.non_terminating_matching_rules,
                decision.not_evaluable + missing if missing else decision.not_evaluable,
                logged,
                record,
                decision.undetermined,
            )
        )


def request_of(key: str, source: str, number: int, raw: bytes) -> tuple[Request, int | None] | None:
    """The request of one record line in format `key` and its timestamp; None for a bad line.

    What a replay split by a rate-key component (`wafpy.replay.partition`) reads before evaluating.
    """
    fmt = run_format(key)
    try:
        result = (fmt.fast or fmt.parse)(raw, source, number)
    except LogFormatError:
        return None
    if type(result) is LogEntry:
        decoded = _from_entry(result)
        if type(decoded) is BadLine:
            return None
        request: Request = decoded[0]  # type: ignore[assignment]
        return request, result.timestamp_ms
    _, timestamp, fast = result  # type: ignore[misc]
    return fast[0], timestamp


def _new_outcome(values: tuple[Any, ...]) -> Outcome:
    return tuple.__new__(Outcome, values)


def _join(records: list[bytes]) -> bytes:
    return b"\n".join(records) + b"\n" if records else b""


def _from_entry(entry: LogEntry) -> Decoded | BadLine:
    """The reference path: `Request.from_log` on a `LogEntry`; its ValueError becomes a BadLine."""
    http = entry.http_request
    try:
        request = Request.from_log(
            http, entry.timestamp_ms, body_available=entry.body_available, logged_groups=entry.rule_groups
        )
    except ValueError as exc:
        return BadLine(str(exc), entry.source, entry.line)
    source_name, source_id = "ALB", "-"
    if entry.record is not None:  # keep where AWS said the request came from
        source_name = _text(entry.record.get("httpSourceName"), source_name)
        source_id = _text(entry.record.get("httpSourceId"), source_id)
    return (
        request,
        entry.available,
        entry.logged,
        request.to_http_request(),
        source_name,
        source_id,
        _text(http.get("httpMethod"), ""),
        _text(http.get("uri"), ""),
        _text(http.get("clientIp"), ""),
    )


def _text(value: Any, default: str) -> str:
    return value if isinstance(value, str) else default
