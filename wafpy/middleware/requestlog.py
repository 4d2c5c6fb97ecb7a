"""One AWS WAF log record per request the middleware evaluates, from its `LogConfig`.

The record is the decision's (`wafpy.logs.logrecord.decision_to_log_record`), completed with what
only the middleware knows: the body size the client announced when the body was not read, and for a
client that left before its body ended, that nothing was sent or forwarded. It then goes through
`LoggingFilter` and `RedactedFields` to the sink. A record that cannot be written is counted in the metrics
(`log_records_lost`) and reported once per run of failures, never raised into the request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wafpy.decision import Decision
from wafpy.middleware.config import LogConfig
from wafpy.middleware.logfile import FailureReport, LogRecordLost
from wafpy.middleware.logsink import LoggingFilter, Redactor, Sink, make_sink
from wafpy.middleware.metrics import Metrics
from wafpy.middleware.scope import Scope, content_length

__all__ = ["CLIENT_DISCONNECTED_FIELD", "RequestLog"]

# Not an AWS field: marks the log record of a request whose client left before its body ended.
CLIENT_DISCONNECTED_FIELD = "wafpyClientDisconnected"


class RequestLog:
    """Writes the log record of each decision; `sink` is None when there is nowhere to write."""

    __slots__ = ("_failures", "_filter", "_redactor", "_source_id", "_to_record", "sink")

    def __init__(self, config: LogConfig) -> None:
        self.sink: Sink | None = make_sink(config.destination) if config.destination is not None else None
        self._to_record: Callable[..., dict[str, Any]] | None = None
        if self.sink is not None:
            # Imported only when there is a log to write: wafpy.logs brings the log readers and
            # msgspec (about 2 MB resident), which a middleware without a log never uses.
            from wafpy.logs.logrecord import decision_to_log_record

            self._to_record = decision_to_log_record
        self._failures = FailureReport("logging requests")  # a sink or a record that raised
        self._filter = LoggingFilter(config.filter) if config.filter is not None else None
        redacted = list(config.redacted_fields)
        self._redactor = Redactor(redacted) if redacted else None
        self._source_id = config.http_source_id

    def write(
        self,
        metrics: Metrics,
        decision: Decision,
        scope: Scope,
        body_read: bool,
        limit: int,
        client_left: bool = False,
    ) -> None:
        """Log `decision` (only call it when `sink` is set)."""
        try:
            if self._filter is not None and not self._filter.keep(decision):
                return
            to_record = self._to_record
            if to_record is None:  # no sink: the middleware does not call write
                return
            record = to_record(decision, http_source_name="ALB", http_source_id=self._source_id)
            if not body_read:
                # The body was not needed and not read: report what the client announced.
                size = content_length(scope) or 0
                record["requestBodySize"] = size
                record["requestBodySizeInspectedByWAF"] = min(size, limit)
            if client_left:
                record["responseCodeSent"] = None
                record["requestHeadersInserted"] = None
                record[CLIENT_DISCONNECTED_FIELD] = True
            if self._redactor is not None:
                self._redactor(record)
            assert self.sink is not None
            self.sink(record)
        except LogRecordLost:
            metrics.log_records_lost += 1  # the file sink reported it already
        except Exception as exc:
            # One line per failure run, not a traceback per request; the first one keeps the
            # traceback of an exception that is not an I/O error (a bug worth seeing once).
            metrics.log_records_lost += 1
            self._failures.failed(
                f"{type(exc).__name__}: {exc}", exc_info=None if isinstance(exc, OSError) else exc
            )
        else:
            if self._failures.active:
                self._failures.recovered()
