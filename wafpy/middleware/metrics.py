"""Request counters as AWS WAF publishes them to CloudWatch, readable and in Prometheus text.

CloudWatch metrics of a web ACL (namespace `AWS/WAFV2`): `AllowedRequests`, `BlockedRequests`,
`CountedRequests`, `CaptchaRequests`, `ChallengeRequests`, each with a `Rule` dimension:
the rule's `VisibilityConfig.MetricName` (the rule name when it has none), `ALL` for the web ACL
as a whole, and `Default_Action` when no rule terminated. The rule that terminated counts under its
action; each non-terminating match (Count, or Captcha / Challenge passed with a valid token) counts
under that action for its rule.

wafpy adds two counters of its own, outside CloudWatch's names: evaluations that raised
(`errors`, `wafpy_evaluation_errors_total`) and log records that could not be written
(`log_records_lost`, `wafpy_log_records_lost_total`).
"""

from __future__ import annotations

from collections.abc import Mapping

from wafpy.decision import Decision
from wafpy.webacl import WebACL

METRICS = {
    "ALLOW": "AllowedRequests",
    "BLOCK": "BlockedRequests",
    "COUNT": "CountedRequests",
    "CAPTCHA": "CaptchaRequests",
    "CHALLENGE": "ChallengeRequests",
}
_PROMETHEUS = {
    "AllowedRequests": "wafpy_allowed_requests_total",
    "BlockedRequests": "wafpy_blocked_requests_total",
    "CountedRequests": "wafpy_counted_requests_total",
    "CaptchaRequests": "wafpy_captcha_requests_total",
    "ChallengeRequests": "wafpy_challenge_requests_total",
}
ALL = "ALL"
DEFAULT_ACTION = "Default_Action"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    """Counters per (rule metric name, metric) for one web ACL metric name.

    `record` runs in the event loop and does one dict increment per request: it counts the
    terminating rule's (metric name, metric); the web ACL's `ALL` counts are their sums, added up
    by `snapshot`. Non-terminating matches are counted apart. `snapshot` may be called from any
    thread: it copies each dict in one C call, which the GIL does not interleave with an increment.
    """

    def __init__(self, web_acl_metric: str, rule_metrics: Mapping[str, str]) -> None:
        self.web_acl_metric = web_acl_metric
        self.rule_metrics = dict(rule_metrics)  # rule name -> metric name
        self.errors = 0  # evaluations that raised (on_error applied)
        self.log_records_lost = 0  # log records the sink could not take (disk full, sink raised)
        self.client_disconnects = 0  # requests whose client left before the body ended
        # Managed rule groups of the ACL in force evaluated as "no inner rule matched" (managed="none").
        self.managed_none: tuple[str, ...] = ()
        self._terminating: dict[tuple[str, str], int] = {}  # one per request
        self._counts: dict[tuple[str, str], int] = {}  # non-terminating matches
        # action -> terminating rule id -> its counter key, made on first use so that `record`
        # builds no name or tuple per request. Replaced whole by `rename`.
        self._keys: dict[str, dict[str, tuple[str, str]]] = {}

    def rename(self, web_acl_metric: str, rule_metrics: Mapping[str, str]) -> None:
        """After a reload: new names for the rules from now on; the counts so far stay."""
        self.web_acl_metric = web_acl_metric
        self.rule_metrics = dict(rule_metrics)
        self._keys = {}

    def _add(self, rule: str, metric: str) -> None:
        key = (rule, metric)
        counts = self._counts
        counts[key] = counts.get(key, 0) + 1

    def _key_for(self, action: str, rule: str) -> tuple[str, str]:
        metric = METRICS[action]
        key = (DEFAULT_ACTION if rule == DEFAULT_ACTION else self.rule_metrics.get(rule, rule), metric)
        self._keys.setdefault(action, {})[rule] = key
        return key

    def record(self, decision: Decision) -> None:
        by_rule = self._keys.get(decision.action)
        key = by_rule.get(decision.terminating_rule_id) if by_rule is not None else None
        if key is None:
            key = self._key_for(decision.action, decision.terminating_rule_id)
        counts = self._terminating
        counts[key] = counts.get(key, 0) + 1
        if decision.log_non_terminating:
            for entry in decision.log_non_terminating:
                name = entry["ruleId"]
                self._add(self.rule_metrics.get(name, name), METRICS[entry["action"]])

    def snapshot(self) -> dict[str, dict[str, int]]:
        """``{rule metric name (or "ALL", "Default_Action"): {"BlockedRequests": n, ...}}``."""
        terminating = list(self._terminating.copy().items())
        others = list(self._counts.copy().items())
        out: dict[str, dict[str, int]] = {}
        for (rule, metric), count in terminating:
            # The web ACL as a whole counts every request under the action it got.
            for name in (ALL, rule):
                counts = out.setdefault(name, {})
                counts[metric] = counts.get(metric, 0) + count
        for (rule, metric), count in others:
            counts = out.setdefault(rule, {})
            counts[metric] = counts.get(metric, 0) + count
        return out

    def prometheus(self) -> str:
        """The counters in the Prometheus text exposition format (version 0.0.4)."""
        snapshot = self.snapshot()
        acl = _escape(self.web_acl_metric)
        lines: list[str] = []
        for metric, name in _PROMETHEUS.items():
            lines.append(f"# HELP {name} AWS WAF {metric} by rule metric name (ALL = the web ACL).")
            lines.append(f"# TYPE {name} counter")
            for rule in sorted(snapshot):
                count = snapshot[rule].get(metric)
                if count is not None:
                    lines.append(f'{name}{{webacl="{acl}",rule="{_escape(rule)}"}} {count}')
        lines.append("# HELP wafpy_evaluation_errors_total Evaluations that raised (on_error applied).")
        lines.append("# TYPE wafpy_evaluation_errors_total counter")
        lines.append(f'wafpy_evaluation_errors_total{{webacl="{acl}"}} {self.errors}')
        lines.append("# HELP wafpy_log_records_lost_total Log records that could not be written.")
        lines.append("# TYPE wafpy_log_records_lost_total counter")
        lines.append(f'wafpy_log_records_lost_total{{webacl="{acl}"}} {self.log_records_lost}')
        lines.append(
            "# HELP wafpy_client_disconnects_total Requests whose client left before the body ended "
            "(evaluated on what arrived, logged, and counted above too)."
        )
        lines.append("# TYPE wafpy_client_disconnects_total counter")
        lines.append(f'wafpy_client_disconnects_total{{webacl="{acl}"}} {self.client_disconnects}')
        if self.managed_none:  # never silent: the scrape shows what the ACL does not really evaluate
            name = "wafpy_managed_rule_group_not_evaluated"
            lines.append(
                f"# HELP {name} Managed rule groups evaluated as if no inner rule matched (managed=none)."
            )
            lines.append(f"# TYPE {name} gauge")
            lines += [f'{name}{{webacl="{acl}",group="{_escape(g)}"}} 1' for g in self.managed_none]
        return "\n".join(lines) + "\n"


def metric_names(acl: WebACL) -> tuple[str, dict[str, str]]:
    """(the web ACL's metric name, {rule name: its metric name}): the VisibilityConfig's, else the name."""
    model = acl.model
    web_acl = model.visibility_config.metric_name if model.visibility_config else model.name
    rules = {
        r.name: (r.visibility_config.metric_name if r.visibility_config else r.name) for r in model.rules
    }
    return web_acl, rules
