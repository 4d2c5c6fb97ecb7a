"""`WebACL`: a loaded, validated and compiled web ACL, ready to evaluate requests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from os import PathLike
from typing import Any, Literal

from wafpy import model as ast
from wafpy.decision import Decision
from wafpy.engine.compile import CompiledACL, compile_acl
from wafpy.engine.evaluate import evaluate
from wafpy.engine.ratecount import Guess, Steps, assume_under, evaluate_counted
from wafpy.engine.services import Services
from wafpy.load.iplists import IpListsSpec
from wafpy.load.loader import load_web_acl_model
from wafpy.load.managed import ManagedSpec, ManagedWarning, managed_warnings
from wafpy.load.resources import ResourceResolver
from wafpy.matching.detectors import Detector
from wafpy.request import Request


class WebACL:
    """A web ACL compiled once; `evaluate` decides a request exactly as AWS WAF would.

    The compiled rules are immutable and shared; per-request state lives in each evaluation.
    Rate-based counts, IP databases and token checks come from `services`.
    """

    def __init__(
        self, model: ast.WebACL, *, detector: Detector | None = None, services: Services | None = None
    ) -> None:
        self.model = model
        self.services = services or Services()
        self._compiled: CompiledACL = compile_acl(model, detector=detector)
        # Managed groups evaluated as "no inner rule matched" (managed="none"): outputs show them.
        self.managed_warnings: tuple[ManagedWarning, ...] = managed_warnings(model)

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def arn(self) -> str:
        return self.model.arn

    @property
    def needs_body(self) -> bool:
        """Whether any rule inspects the body (the middleware reads it only then)."""
        return self._compiled.needs_body

    @property
    def body_inspection_limit(self) -> int:
        return self.model.body_inspection_limit

    @property
    def rule_names(self) -> tuple[str, ...]:
        return tuple(rule.name for rule in self._compiled.rules)

    @property
    def scanner_source(self) -> str:
        """The Python source generated for the top-level rules (`wafpy explain --scanner`).

        For reading and debugging only: the text is not a stable format.
        """
        return self._compiled.scanner_source

    def evaluate(self, request: Request, *, now_ms: int | None = None) -> Decision:
        """Decide `request`; `now_ms` (else the request's timestamp, else the clock) drives rate rules."""
        return evaluate(self._compiled, request, self.services, now_ms=now_ms)

    def evaluate_counted(
        self, request: Request, *, now_ms: int | None = None, guess: Guess = assume_under
    ) -> Steps:
        """`evaluate` with the rate counts fetched by the caller, one batch per request: a generator
        that yields the `RateHit`s to count and returns the `Decision` (`wafpy.engine.ratecount`).
        The middleware drives it with a shared counter (Redis) without blocking the event loop."""
        if now_ms is None:
            now_ms = request.timestamp_ms if request.timestamp_ms is not None else self.services.clock_ms()
        return evaluate_counted(self._compiled, request, self.services, now_ms, guess)

    def __repr__(self) -> str:
        return f"<WebACL {self.name!r}: {len(self._compiled.rules)} rules>"


def load_web_acl(
    source: str | bytes | PathLike[str] | Mapping[str, Any],
    *,
    resources: Mapping[str, Any] | Sequence[str | PathLike[str]] | None = None,
    account: str | None = None,
    search_string: Literal["auto", "base64", "text"] = "auto",
    resolver: ResourceResolver | None = None,
    managed: ManagedSpec = None,
    managed_ip_lists: IpListsSpec = None,
    detector: Detector | None = None,
    services: Services | None = None,
) -> WebACL:
    """Load, validate and compile a web ACL.

    `source` is a path, JSON text, bytes or a parsed dict, in any of the shapes AWS produces: a bare
    `WebACL`, `aws wafv2 get-web-acl` output, or a CloudFormation template / resource.
    `resources` maps ARN -> IP set / regex pattern set / rule group document, or lists files of
    `get-*` outputs or CloudFormation templates, and folders of them (their `.json`, `.yaml`...
    files, recursively, in sorted order). `search_string` says how `ByteMatchStatement`
    search strings are written: "base64" (API output), "text" (CloudFormation) or "auto".
    `managed` says how AWS managed rule groups, whose rules AWS does not publish, are evaluated:
    a path or list of paths of rule group files (get-rule-group JSON, matched by VendorName, Name
    and Version, first match wins), "none" (no inner rule matches; listed in `managed_warnings`),
    "bundled" (wafpy's own equivalents, not AWS's rules, each inner rule with its fidelity tier;
    may be listed among paths, searched in the order written) or "log" (each group's outcome is
    replayed from the AWS WAF log record the request came from, `Request.logged_groups`: for
    `wafpy eval`; a request without one is undetermined); a `resolver` whose
    `managed_rule_group()` returns a group is asked first. `managed_ip_lists` (with "bundled"): a
    JSON file or a mapping rule name -> CIDRs, the lists the bundled IP-list groups evaluate.
    Raises `RulesetErrors` listing every problem (a bad document never half-loads), or
    `NotAvailableError` for managed groups nothing supplies (the message names them and the choices).
    """
    model = load_web_acl_model(
        source,
        resources=resources,
        account=account,
        search_string=search_string,
        resolver=resolver,
        managed=managed,
        managed_ip_lists=managed_ip_lists,
    )
    return WebACL(model, detector=detector, services=services)
