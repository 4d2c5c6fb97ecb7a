"""AWS WAF log records out of the middleware: where they go, which are kept, what is redacted.

* Sinks: a path (JSON lines appended with one `os.write` per record, so the event loop never
  waits on more than that one call and nothing sits in a buffer), a `logging.Logger` (the JSON
  line at INFO), or any callable taking the record dict.
* `LoggingFilter` follows the `LoggingFilter` of AWS's `PutLoggingConfiguration`: filters are tried
  in order; the first whose conditions are met (`MEETS_ALL` / `MEETS_ANY`) decides `KEEP` or
  `DROP`; when none is met, `DefaultBehavior` decides.
* `RedactedFields` (`UriPath`, `QueryString`, `SingleHeader {Name}`, `Method`) replace the value
  in `httpRequest` with `REDACTED`, and the matched data reported for that field too.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from os import PathLike
from typing import Any

import orjson

from wafpy.decision import Decision

Record = dict[str, Any]
Sink = Callable[[Record], None]

REDACTED = "REDACTED"
_ACTIONS = {"ALLOW", "BLOCK", "COUNT", "CAPTCHA", "CHALLENGE", "EXCLUDED_AS_COUNT"}


def _rule_actions(decision: Decision) -> set[str]:
    """Every action a log record of `decision` shows: final, non-terminating, inside rule groups."""
    actions = {decision.action}
    for entry in decision.log_non_terminating:
        actions.add(entry["action"])
    for group in decision.rule_group_list:
        for entry in group.get("nonTerminatingMatchingRules") or ():
            actions.add(entry["action"])
            if entry["action"] == "COUNT" and entry.get("overriddenAction"):
                actions.add("EXCLUDED_AS_COUNT")  # AWS: a Count override matches this condition too
        terminating = group.get("terminatingRule")
        if terminating:
            actions.add(terminating["action"])
        if group.get("excludedRules"):
            actions.add("EXCLUDED_AS_COUNT")
    return actions


class LoggingFilter:
    """AWS's `LoggingFilter`: decides from a decision whether its log record is kept."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        default = spec.get("DefaultBehavior", "KEEP")
        if default not in ("KEEP", "DROP"):
            raise ValueError(f"LoggingFilter.DefaultBehavior must be KEEP or DROP, not {default!r}")
        self.default_keep: bool = default == "KEEP"
        self.filters: list[tuple[bool, bool, list[tuple[str, str]]]] = []
        for i, item in enumerate(spec.get("Filters") or ()):
            behavior, requirement = item.get("Behavior"), item.get("Requirement")
            if behavior not in ("KEEP", "DROP") or requirement not in ("MEETS_ALL", "MEETS_ANY"):
                raise ValueError(
                    f"LoggingFilter.Filters[{i}] needs Behavior KEEP|DROP and Requirement MEETS_ALL|MEETS_ANY"
                )
            conditions: list[tuple[str, str]] = []
            for j, condition in enumerate(item.get("Conditions") or ()):
                if "ActionCondition" in condition:
                    action = condition["ActionCondition"].get("Action")
                    if action not in _ACTIONS:
                        raise ValueError(
                            f"LoggingFilter.Filters[{i}].Conditions[{j}]: unknown Action {action!r}"
                        )
                    conditions.append(("action", action))
                elif "LabelNameCondition" in condition:
                    conditions.append(("label", condition["LabelNameCondition"]["LabelName"]))
                else:
                    raise ValueError(
                        f"LoggingFilter.Filters[{i}].Conditions[{j}] must be an ActionCondition"
                        " or a LabelNameCondition"
                    )
            if not conditions:
                raise ValueError(f"LoggingFilter.Filters[{i}] needs at least one condition")
            self.filters.append((behavior == "KEEP", requirement == "MEETS_ALL", conditions))

    def keep(self, decision: Decision) -> bool:
        actions: set[str] | None = None
        for keep, meets_all, conditions in self.filters:
            results = []
            for kind, value in conditions:
                if kind == "label":
                    results.append(value in decision.labels)
                else:
                    if actions is None:
                        actions = _rule_actions(decision)
                    results.append(value in actions)
            met = all(results) if meets_all else any(results)
            if met:
                return keep
        return self.default_keep


class Redactor:
    """AWS's `RedactedFields` applied to a log record in place."""

    def __init__(self, fields: Iterable[Mapping[str, Any]]) -> None:
        self.uri = self.query = self.method = False
        self.headers: set[str] = set()
        for i, field in enumerate(fields):
            if "UriPath" in field:
                self.uri = True
            elif "QueryString" in field:
                self.query = True
            elif "Method" in field:
                self.method = True
            elif "SingleHeader" in field:
                self.headers.add(field["SingleHeader"]["Name"].lower())
            else:
                raise ValueError(
                    f"RedactedFields[{i}]: only UriPath, QueryString, SingleHeader and Method can be redacted"
                )

    def _details(self, details: Sequence[dict[str, Any]]) -> None:
        for detail in details:
            location = detail.get("location")
            name = (detail.get("matchedFieldName") or "").lower()
            if (
                (location == "URI" and self.uri)
                or (location in ("QUERY_STRING", "QUERY_ARGS") and self.query)
                or (location == "HEADER" and name in self.headers)
            ):
                detail["matchedData"] = [REDACTED]

    def __call__(self, record: Record) -> None:
        http = record.get("httpRequest") or {}
        if self.uri and "uri" in http:
            http["uri"] = REDACTED
        if self.query and "args" in http:
            http["args"] = REDACTED
        if self.method and "httpMethod" in http:
            http["httpMethod"] = REDACTED
        if self.headers:
            for header in http.get("headers") or ():
                if header["name"].lower() in self.headers:
                    header["value"] = REDACTED
        self._details(record.get("terminatingRuleMatchDetails") or ())
        for entry in record.get("nonTerminatingMatchingRules") or ():
            self._details(entry.get("ruleMatchDetails") or ())


class JsonLinesFile:
    """Appends each record as one JSON line with a single unbuffered `os.write`."""

    def __init__(self, path: str | PathLike[str]) -> None:
        self.path = os.fspath(path)
        # O_APPEND: each write lands whole at the end, even with several workers on one file.
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def __call__(self, record: Record) -> None:
        os.write(self._fd, orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class LoggerSink:
    """Sends each record as a JSON string to a `logging.Logger` at INFO."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    def __call__(self, record: Record) -> None:
        if self.logger.isEnabledFor(logging.INFO):
            self.logger.info("%s", orjson.dumps(record).decode("utf-8"))


def make_sink(target: str | PathLike[str] | logging.Logger | Sink) -> Sink:
    """A sink for a path, a logger or a callable (see the module docstring)."""
    if isinstance(target, logging.Logger):
        return LoggerSink(target)
    if isinstance(target, (str, PathLike)):
        return JsonLinesFile(target)
    if callable(target):
        return target
    raise TypeError(f"log must be a path, a logging.Logger or a callable, not {type(target).__name__}")
