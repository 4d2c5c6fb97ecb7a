"""Case files read and checked: the web ACL, its resources, and each request with what it expects.

Everything in a file is checked when it is read, so a typo in a key is an error naming the place
(`cases[2].expect.acton`), never a test that silently checks nothing. The format is described for
users in docs/testing-web-acls.md.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from wafpy.decision import Decision
from wafpy.errors import RulesetErrors, WafpyError
from wafpy.request import Request
from wafpy.webacl import WebACL, load_web_acl

__all__ = [
    "ACTIONS",
    "CASE_SUFFIXES",
    "MANAGED_WORDS",
    "Case",
    "CaseFile",
    "CaseFileError",
    "Expect",
    "Outcome",
    "build_request",
    "expand_files",
    "find_case_files",
    "parse_expect",
    "read_case_file",
    "resolve_path",
]

CASE_SUFFIXES = (".waftest.json", ".waftest.yaml", ".waftest.yml")
_YAML_SUFFIXES = (".yaml", ".yml")
# Terminating actions: Count never ends evaluation, so no request is decided "COUNT".
ACTIONS = ("ALLOW", "BLOCK", "CAPTCHA", "CHALLENGE")
_FILE_KEYS = {
    "description",
    "webacl",
    "resources",
    "account",
    "searchString",
    "managed",
    "managedIpLists",
    "cases",
}
_CASE_KEYS = {"name", "description", "timestamp", "request", "expect"}
_REQUEST_KEYS = {
    "clientIp",
    "country",
    "asn",
    "httpMethod",
    "uri",
    "args",
    "fragment",
    "httpVersion",
    "headers",
    "body",
    "bodyBase64",
    "scheme",
    "host",
    "requestId",
    "ja3Fingerprint",
    "ja4Fingerprint",
}
_SEARCH_STRING = ("auto", "base64", "text")
MANAGED_WORDS = ("none", "bundled", "log")


class CaseFileError(WafpyError):
    """A case file that cannot be read, is not a valid case file, or whose web ACL does not load."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.path = str(path)
        self.message = message
        self.line = line
        self.column = column
        where = self.path if line is None else f"{self.path}:{line}:{column or 1}"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, slots=True)
class Expect:
    """What a case expects; None checks nothing about that part."""

    action: str | None = None
    terminating_rule_id: str | None = None
    labels: tuple[str, ...] | None = None
    labels_exact: bool = False
    response_code: int | None = None
    non_terminating_matching_rules: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Case:
    """One request of a case file and what it should get."""

    name: str
    index: int
    request: Request
    expect: Expect


@dataclass(frozen=True, slots=True)
class CaseFile:
    """A case file read and checked; `load_acl()` builds a fresh web ACL for one run."""

    path: Path
    description: str
    webacl: Mapping[str, Any] | Path
    resources: Mapping[str, Any] | tuple[Path, ...] | None
    account: str | None
    search_string: Literal["auto", "base64", "text"]
    managed: tuple[str, ...] | None
    cases: tuple[Case, ...]
    # with managed "bundled": the lists of the bundled IP-list groups (a path, or rule -> CIDRs)
    managed_ip_lists: Path | Mapping[str, Any] | None = None

    def load_acl(self) -> WebACL:
        """The web ACL, loaded fresh (no rate-based state); CaseFileError when it does not load."""
        try:
            return load_web_acl(
                self.webacl,
                resources=self.resources,
                account=self.account,
                search_string=self.search_string,
                managed=list(self.managed) if self.managed else None,
                managed_ip_lists=self.managed_ip_lists,
            )
        except RulesetErrors as exc:
            raise CaseFileError(self.path, f"the web ACL does not load:\n{exc}") from None
        except (WafpyError, OSError, ValueError) as exc:
            raise CaseFileError(self.path, f"the web ACL does not load: {exc}") from None


@dataclass(frozen=True, slots=True)
class Outcome:
    """A case evaluated: the decision and every way it differs from what was expected."""

    case: Case
    decision: Decision
    failures: tuple[str, ...] = field(default=())
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.failures


# ------------------------------------------------------------------------------------------------
# Finding and reading files


def find_case_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files as given (any name), folders searched recursively for `*.waftest.{json,yaml,yml}`."""
    out: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                out.extend(Path(root, f) for f in sorted(files) if f.endswith(CASE_SUFFIXES))
        else:
            out.append(path)
    return out


def _parse(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CaseFileError(path, "no such file") from None
    except UnicodeDecodeError as exc:
        raise CaseFileError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise CaseFileError(path, f"cannot read: {exc.strerror or exc}") from None
    if path.suffix.lower() in _YAML_SUFFIXES:
        try:
            import yaml  # optional: JSON case files need nothing more
        except ImportError:
            raise CaseFileError(path, "YAML case files need PyYAML: pip install PyYAML") from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or str(exc)
            raise CaseFileError(
                path,
                f"not valid YAML: {problem}",
                line=None if mark is None else mark.line + 1,
                column=None if mark is None else mark.column + 1,
            ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CaseFileError(path, f"not valid JSON: {exc.msg}", line=exc.lineno, column=exc.colno) from None


def _check_keys(value: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise ValueError(f"{where} has unknown key {unknown[0]!r} (known: {', '.join(sorted(allowed))})")


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where} must be a list of strings")
    return tuple(value)


def parse_expect(value: Any, where: str = "expect") -> Expect:
    """An `expect` object (keys as in the case file format); ValueError naming the bad part."""
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"{where} must be an object saying what to check (action, terminatingRuleId, ...)")
    keys = {"action", "terminatingRuleId", "labels", "labelsExact", "responseCode"}
    _check_keys(value, keys | {"nonTerminatingMatchingRules"}, where)
    action = value.get("action")
    if action is not None and action not in ACTIONS:
        raise ValueError(f"{where}.action must be one of {', '.join(ACTIONS)}, got {action!r}")
    rule = value.get("terminatingRuleId")
    if rule is not None and not isinstance(rule, str):
        raise ValueError(f"{where}.terminatingRuleId must be a string (a rule name or Default_Action)")
    exact = value.get("labelsExact", False)
    if not isinstance(exact, bool):
        raise ValueError(f"{where}.labelsExact must be true or false")
    code = value.get("responseCode")
    if code is not None and (not isinstance(code, int) or isinstance(code, bool)):
        raise ValueError(f"{where}.responseCode must be an integer")
    labels = value.get("labels")
    rules = value.get("nonTerminatingMatchingRules")
    return Expect(
        action=action,
        terminating_rule_id=rule,
        labels=None if labels is None else _strings(labels, f"{where}.labels"),
        labels_exact=exact,
        response_code=code,
        non_terminating_matching_rules=None
        if rules is None
        else _strings(rules, f"{where}.nonTerminatingMatchingRules"),
    )


def _header_text(value: Any, where: str) -> Any:
    """A header value written in a mapping: a whole number is its digits (YAML reads
    `Content-Length: 12` as 12); a YAML boolean, float or date would be ambiguous, so it is refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"{where} is a {type(value).__name__}, not a string: quote it (in YAML, 'yes', '1.0')")


def build_request(value: Any, timestamp: int | None = None, where: str = "request") -> Request:
    """A `Request` from a case file's request: the `httpRequest` object of an AWS WAF log record.

    Unlike a log record it is complete: a missing body is an empty body. `httpMethod` defaults to
    GET and `clientIp` to 127.0.0.1; `headers` may be a mapping of name to value; a `uri` holding
    `?` is split into the path and `args`, as `Request` does; `asn` sets the client's ASN.
    ValueError names the bad part.
    """
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be an object (the httpRequest of an AWS WAF log record)")
    _check_keys(value, _REQUEST_KEYS, where)
    http = dict(value)
    http.setdefault("httpMethod", "GET")
    http.setdefault("clientIp", "127.0.0.1")
    headers = http.get("headers")
    if isinstance(headers, Mapping):
        http["headers"] = [
            {"name": name, "value": _header_text(item, f"{where}.headers.{name}")}
            for name, v in headers.items()
            for item in (v if isinstance(v, list) else [v])
        ]
    uri = http.get("uri")
    if isinstance(uri, str) and "?" in uri:
        if http.get("args"):
            raise ValueError(f"{where}.uri has a '?' query string and args is given too: give it once")
        http["uri"], _, http["args"] = uri.partition("?")
    asn = http.pop("asn", None)
    if asn is not None and (not isinstance(asn, int) or isinstance(asn, bool)):
        raise ValueError(f"{where}.asn must be an integer")
    try:
        request = Request.from_log(http, timestamp, body_available=True)
    except ValueError as exc:
        raise ValueError(f"{where}: {str(exc).removeprefix('httpRequest.')}") from None
    return request if asn is None else request.replace(asn=asn)


def resolve_path(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def expand_files(paths: Iterable[Path]) -> tuple[Path, ...]:
    """Resource paths: files as given, folders expanded to their files (sorted, hidden skipped)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                out.extend(Path(root, f) for f in sorted(files) if not f.startswith("."))
        else:
            out.append(path)
    return tuple(out)


def _read_document(doc: Any, path: Path) -> CaseFile:
    if not isinstance(doc, Mapping):
        raise ValueError("a case file is an object with webacl and cases")
    _check_keys(doc, _FILE_KEYS, "the case file")
    base = path.parent
    webacl = doc.get("webacl")
    if isinstance(webacl, str):
        webacl = resolve_path(base, webacl)
    elif not isinstance(webacl, Mapping):
        raise ValueError("webacl must be a web ACL object or the path of a web ACL file")
    resources: Any = doc.get("resources")
    if isinstance(resources, str):
        resources = [resources]
    if isinstance(resources, list):
        if not all(isinstance(r, str) for r in resources):
            raise ValueError("resources must be an object (ARN: document) or a list of paths")
        resources = expand_files(resolve_path(base, r) for r in resources)
    elif resources is not None and not isinstance(resources, Mapping):
        raise ValueError("resources must be an object (ARN: document) or a list of paths")
    account = doc.get("account")
    if account is not None and not isinstance(account, str):
        raise ValueError("account must be a string (the 12-digit AWS account id)")
    search = doc.get("searchString", "auto")
    if search not in _SEARCH_STRING:
        raise ValueError(f"searchString must be one of {', '.join(_SEARCH_STRING)}, got {search!r}")
    managed: Any = doc.get("managed")
    if isinstance(managed, str):
        managed = [managed]
    if managed is not None:
        managed = tuple(
            m if m in MANAGED_WORDS else str(resolve_path(base, m)) for m in _strings(managed, "managed")
        )
    ip_lists: Any = doc.get("managedIpLists")
    if isinstance(ip_lists, str):
        ip_lists = resolve_path(base, ip_lists)
    elif ip_lists is not None and not isinstance(ip_lists, Mapping):
        raise ValueError("managedIpLists must be an object (rule name: list of CIDRs) or a path")
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise ValueError("description must be a string")
    return CaseFile(
        path=path,
        description=description,
        webacl=webacl,
        resources=resources,
        account=account,
        search_string=search,
        managed=managed,
        cases=_read_cases(doc.get("cases")),
        managed_ip_lists=ip_lists,
    )


def _read_cases(value: Any) -> tuple[Case, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError("cases must be a non-empty list of requests with what to expect")
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(value):
        where = f"cases[{index}]"
        if not isinstance(item, Mapping):
            raise ValueError(f"{where} must be an object with name, request and expect")
        _check_keys(item, _CASE_KEYS, where)
        name = item.get("name", f"case {index + 1}")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{where}.name must be a non-empty string")
        if name in seen:
            raise ValueError(f"{where}.name {name!r} is also the name of cases[{seen[name]}]")
        seen[name] = index
        timestamp = item.get("timestamp")
        if timestamp is not None and (not isinstance(timestamp, int) or isinstance(timestamp, bool)):
            raise ValueError(f"{where}.timestamp must be an integer (milliseconds since the epoch)")
        if "request" not in item:
            raise ValueError(f"{where} has no request")
        request = build_request(item["request"], timestamp, f"{where}.request")
        expect = parse_expect(item.get("expect"), f"{where}.expect")
        cases.append(Case(name=name, index=index, request=request, expect=expect))
    return tuple(cases)


def read_case_file(path: str | os.PathLike[str]) -> CaseFile:
    """Read and check a case file (JSON, or YAML by its `.yaml` / `.yml` suffix).

    Raises CaseFileError naming the file and the place: unreadable, not JSON / YAML, an unknown
    key, a value of the wrong type. The web ACL itself is loaded by `CaseFile.load_acl`.
    """
    path = Path(path)
    doc = _parse(path)
    try:
        return _read_document(doc, path)
    except ValueError as exc:
        raise CaseFileError(path, str(exc)) from None
