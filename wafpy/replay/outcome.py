"""What a replay is asked for and what it gives: options, outcomes, bad lines, errors.

Every replay module shares these (the runner fills them, the summary and the comparison count
them, the CLI prints them), so they live apart from all of those and import none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from wafpy.errors import Reduced, WafpyError, reduce_error
from wafpy.logs.records import LoggedOutcome

__all__ = ["BadLine", "Outcome", "ReplayError", "ReplayOptions", "StrictStop", "UnreadableInput"]


class BadLine(NamedTuple):
    """A line that could not be replayed (not JSON, wrong ALB field count, ...)."""

    message: str
    file: str | None
    line: int | None

    def describe(self) -> str:
        where = self.file or "<input>"
        return f"{where}:{self.line}: {self.message}" if self.line is not None else f"{where}: {self.message}"


class UnreadableInput(BadLine):
    """An input that could not be read whole: missing, unreadable, a truncated or corrupt gzip
    file, a file removed or changed during the replay. `line` is the first line not replayed.

    Nothing of the input from there on is replayed; the other inputs are. `wafpy eval` reports
    these on stderr even with `--quiet` and exits with its input-error code.
    """

    __slots__ = ()


class Outcome(NamedTuple):
    """What one replayed request became: the fields the summary, the comparison and the output need.

    A small tuple rather than the `Decision`, so worker processes send back little.
    """

    source: str
    line: int
    timestamp_ms: int | None
    kind: str
    method: str
    uri: str
    client_ip: str
    action: str
    rule_id: str
    rule_type: str
    labels: tuple[str, ...]
    counted: tuple[str, ...]  # web-ACL-level rules that matched without terminating (Count, ...)
    not_evaluable: tuple[str, ...]
    logged: LoggedOutcome | None
    record: bytes | None  # the AWS WAF log record (JSON, no newline) when records are written
    # (rule group id, reason) when the action is UNDETERMINED: a managed group replayed from the
    # log (managed="log") whose outcome the record cannot give. Counted apart, never as ALLOW/BLOCK.
    undetermined: tuple[tuple[str, str], ...] = ()


class ReplayError(WafpyError):
    """Evaluating a request failed: a bug in wafpy, reported with the line that triggered it."""


class StrictStop(WafpyError):
    """`strict` mode met a bad line."""

    def __init__(self, bad: BadLine) -> None:
        self.bad = bad
        super().__init__(bad.describe())

    def __reduce__(self) -> Reduced:
        return reduce_error(self, (self.bad,))


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """How to replay: the input format, the time window, limits, workers and chunk sizes."""

    format: str = "auto"  # auto | waf | alb | jsonl
    since: int | None = None  # epoch ms, inclusive
    until: int | None = None  # epoch ms, exclusive
    limit: int | None = None  # stop after this many replayed requests
    strict: bool = False  # the first bad line stops the replay (StrictStop)
    workers: int = 1
    write_records: bool = False  # fill Outcome.record
    chunk_lines: int = 2000  # lines per chunk (a unit of work for a worker process)
    range_bytes: int = 4 << 20  # bytes of a plain file per worker task in `batches` (about)
