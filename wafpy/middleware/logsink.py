"""AWS WAF log records out of the middleware: where they go and which are kept.

* Sinks: a path (`wafpy.middleware.logfile.JsonLinesFile`: JSON lines, whole or counted as lost,
  reopened after rotation), a `logging.Logger` (the JSON line at INFO), or any callable taking the
  record dict.
* `LoggingFilter` follows the `LoggingFilter` of AWS's `PutLoggingConfiguration`: filters are tried
  in order; the first whose conditions are met (`MEETS_ALL` / `MEETS_ANY`) decides `KEEP` or
  `DROP`; when none is met, `DefaultBehavior` decides.
* `RedactedFields` are applied by `wafpy.middleware.redact.Redactor` (re-exported here): the value
  is removed from every place of the record where it can appear.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from os import PathLike
from typing import Any

import orjson

from wafpy.decision import Decision
from wafpy.middleware.logfile import JsonLinesFile, LogRecordLost, reopen_on_signal
from wafpy.middleware.redact import REDACTED, Redactor

__all__ = [
    "REDACTED",
    "JsonLinesFile",
    "LogRecordLost",
    "LoggerSink",
    "LoggingFilter",
    "Record",
    "Redactor",
    "Sink",
    "make_sink",
    "reopen_on_signal",
]

Record = dict[str, Any]
Sink = Callable[[Record], None]
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
