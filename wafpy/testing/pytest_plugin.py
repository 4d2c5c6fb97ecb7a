"""The pytest plugin: web ACL case files as tests, and fixtures that evaluate requests.

Installed with wafpy (the `pytest11` entry point), it collects `*.waftest.json`,
`*.waftest.yaml` and `*.waftest.yml` files as test files, one test per request, named by its
case; a failure shows what was expected, what came and the rule trace. A file whose web ACL does
not load fails each of its tests with the loader's message; a file that is not a valid case file
is a collection error naming the place. `-p no:wafpy` turns the plugin off.

Fixtures, for tests written in Python:

- `waf_acl(source, resources=..., account=..., search_string=..., managed=...,
  managed_ip_lists=...)` loads a web ACL; relative paths are taken from the test file's folder.
- `waf_evaluate(acl, request, expect=None)` evaluates a `Request`, or a request written as in a
  case file, against a `WebACL` or a source for `waf_acl`; with `expect` (as in a case file) it
  fails the test, with the rule trace, when the decision differs.

The plugin does nothing else: until such a file is collected or a fixture is used, it reads no
file and loads nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pytest

from wafpy.decision import Decision
from wafpy.errors import Reduced, reduce_error
from wafpy.request import Request
from wafpy.testing import (
    CASE_SUFFIXES,
    CaseFile,
    CaseFileError,
    Outcome,
    build_request,
    check,
    describe_request,
    failure_lines,
    format_trace,
    load_acl,
    parse_expect,
    read_case_file,
    run_case_file,
)
from wafpy.webacl import WebACL

__all__ = ["WafTestFile", "WafTestItem", "pytest_collect_file", "waf_acl", "waf_evaluate"]


class WafTestFailure(Exception):
    """A request whose decision differs from its case's expectations."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__("; ".join(outcome.failures))
        self.outcome = outcome

    def __reduce__(self) -> Reduced:
        return reduce_error(self, (self.outcome,))


class WafTestFile(pytest.File):
    """A case file: one test per case, run in file order on one web ACL instance."""

    _case_file: CaseFile | None = None
    _outcomes: list[Outcome] | None = None
    _error: CaseFileError | None = None

    def collect(self) -> Iterator[WafTestItem]:
        try:
            self._case_file = read_case_file(self.path)
        except CaseFileError as exc:
            raise self.CollectError(str(exc)) from None
        for case in self._case_file.cases:
            yield WafTestItem.from_parent(self, name=case.name, index=case.index)

    def outcomes(self) -> list[Outcome]:
        """Every case's outcome: the whole file runs once, in order, so rate-based state is as written."""
        if self._error is not None:
            raise self._error
        if self._outcomes is None:
            assert self._case_file is not None
            try:
                self._outcomes = run_case_file(self._case_file)
            except CaseFileError as exc:
                self._error = exc
                raise
        return self._outcomes


class WafTestItem(pytest.Item):
    """One request of a case file."""

    def __init__(self, *, index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.index = index

    def runtest(self) -> None:
        assert isinstance(self.parent, WafTestFile)
        outcome = self.parent.outcomes()[self.index]
        if not outcome.passed:
            raise WafTestFailure(outcome)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | Any:
        if isinstance(excinfo.value, WafTestFailure):
            return "\n".join(failure_lines(excinfo.value.outcome))
        if isinstance(excinfo.value, CaseFileError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[os.PathLike[str] | str, int | None, str]:
        # Prefixed like pytest's "[doctest] name": a domain that ends the node id would have its
        # dots turned into "::" in the verbose report ("unit::waftest::json").
        return self.path, None, f"[waftest] {self.path.name}::{self.name}"


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> WafTestFile | None:
    """Collect `*.waftest.{json,yaml,yml}` files; every other file is left to pytest."""
    if file_path.name.endswith(CASE_SUFFIXES):
        file: WafTestFile = WafTestFile.from_parent(parent, path=file_path)
        return file
    return None


# ------------------------------------------------------------------------------------------------
# Fixtures

AclLoader = Callable[..., WebACL]


@pytest.fixture
def waf_acl(request: pytest.FixtureRequest) -> AclLoader:
    """Load a web ACL; paths relative to the test file's folder. Each call gives a fresh instance."""
    base = request.path.parent

    def load(
        source: str | os.PathLike[str] | Mapping[str, Any],
        *,
        resources: Mapping[str, Any] | Sequence[str | os.PathLike[str]] | None = None,
        account: str | None = None,
        search_string: Literal["auto", "base64", "text"] = "auto",
        managed: str | Sequence[str] | None = None,
        managed_ip_lists: str | os.PathLike[str] | Mapping[str, Sequence[str]] | None = None,
    ) -> WebACL:
        return load_acl(
            source,
            base=base,
            resources=resources,
            account=account,
            search_string=search_string,
            managed=managed,
            managed_ip_lists=managed_ip_lists,
        )

    return load


@pytest.fixture
def waf_evaluate(waf_acl: AclLoader) -> Callable[..., Decision]:
    """Evaluate a request against a web ACL, optionally checking the decision like a case file."""

    def evaluate(
        acl: WebACL | str | os.PathLike[str] | Mapping[str, Any],
        request: Request | Mapping[str, Any],
        expect: Mapping[str, Any] | None = None,
        *,
        timestamp: int | None = None,
    ) -> Decision:
        web_acl = acl if isinstance(acl, WebACL) else waf_acl(acl)
        built = request if isinstance(request, Request) else build_request(request, timestamp)
        decision = web_acl.evaluate(built)
        if expect is not None:
            failures = check(decision, parse_expect(expect))
            if failures:
                lines = [*failures, f"request: {describe_request(built)}"]
                lines += ["rule trace:", *(f"  {line}" for line in format_trace(decision))]
                pytest.fail("\n".join(lines), pytrace=False)
        return decision

    return evaluate
