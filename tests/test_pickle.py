"""Everything a cluster ships pickles: every public type and every error of wafpy round-trips.

Spark, multiprocessing and any other cluster framework send the web ACL to executors and bring
Decisions, summaries and errors back by pickling them. The table below holds one instance of each
public type (walked from `wafpy.__all__` and the `__all__` of the stage packages, so a new public
name without an entry fails here); after a round trip an instance equals the original, or, for
types without equality, has the same state; an error keeps its message and attributes; a `WebACL`
gives the same Decisions, on the conformance cases and on the bundled sample logs.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pickle
import pkgutil
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import wafpy
from wafpy.decision import Decision, FixedTrace
from wafpy.engine.ratelimit import MemoryRateCounter
from wafpy.errors import LogFormatError, RulesetError, RulesetErrors
from wafpy.logs import LogEntry, read_entries
from wafpy.replay import BadLine, Comparison, Replay, ReplayOptions, Summary, UnreadableInput
from wafpy.request import Request
from wafpy.testing import CaseFile, read_case_file, run_case_file
from wafpy.webacl import WebACL

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
DEMO_ACL = ROOT / "rulesets" / "demo-webacl.json"
DEMO_RESOURCES = ROOT / "rulesets" / "demo-resources"
CONFORMANCE = sorted((Path(__file__).parent / "conformance").glob("*.json"))

# The packages whose public names are walked: the root vocabulary and the stages.
PACKAGES = (
    "wafpy",
    "wafpy.engine",
    "wafpy.load",
    "wafpy.matching",
    "wafpy.logs",
    "wafpy.middleware",
    "wafpy.replay",
    "wafpy.testing",
    "wafpy.cli",
)

# Public types with no instance to ship, and why.
NOT_SHIPPED: dict[str, str] = {
    "wafpy.RateCounter": "a Protocol: its instances are other classes (MemoryRateCounter is in the table)",
    "wafpy.WAFMiddleware": "an ASGI app bound to its server process (the app it wraps, open log files, "
    "the reload thread); each server process builds its own from the same arguments",
    "wafpy.middleware.WAFMiddleware": "as wafpy.WAFMiddleware",
}


def roundtrip(value: Any) -> Any:
    return pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


# ------------------------------------------------------------------------------------------------
# Instances


def demo_acl() -> WebACL:
    return wafpy.load_web_acl(DEMO_ACL, resources=[DEMO_RESOURCES], managed="log")


def sample_entries() -> list[LogEntry]:
    return list(read_entries([str(SAMPLES / "waf-logs.jsonl.gz")]))


def request_of(entry: LogEntry) -> Request:
    return Request.from_log(
        entry.http_request,
        entry.timestamp_ms,
        body_available=entry.body_available,
        logged_groups=entry.rule_groups,
    )


def blocked_decision() -> Decision:
    """A decision with a trace, match details and labels (the first sample request blocked)."""
    acl = demo_acl()
    for entry in sample_entries():
        decision = acl.evaluate(request_of(entry))
        if decision.action == "BLOCK" and decision.terminating_rule_match_details:
            return decision
    raise AssertionError("no sample request is blocked with match details")


def replay(workers: int = 1) -> tuple[Replay, Summary, Comparison]:
    acl = demo_acl()
    run = Replay(acl, [str(SAMPLES / "waf-logs.jsonl.gz")], ReplayOptions(workers=workers))
    summary, comparison = Summary(), Comparison(rule_names=acl.rule_names)
    for _ in run.batches(summary, comparison):
        pass
    return run, summary, comparison


def ruleset_errors() -> RulesetErrors:
    try:
        wafpy.load_web_acl('{"Name": "x", "Rules": [{"Name": 1}]}')
    except RulesetErrors as exc:
        return exc
    raise AssertionError("the document loaded")


def case_file() -> CaseFile:
    return read_case_file(CONFORMANCE[0])


def counter() -> MemoryRateCounter:
    counts = MemoryRateCounter(max_keys=10)
    for i in range(5):
        counts.hit("rule|2|60|IP|1", (f"192.0.2.{i % 3}",), 1_000 + i, 60)
    return counts


def replay_outcome() -> Any:
    for item in Replay(demo_acl(), [str(SAMPLES / "waf-logs.jsonl.gz")], ReplayOptions()):
        if not isinstance(item, BadLine):
            return item
    raise AssertionError("no outcome")


def case_outcome() -> Any:
    return run_case_file(case_file())[0]


# Public name -> a function making an instance of it (a type), for every public type.
INSTANCES: dict[str, Callable[[], Any]] = {
    "wafpy.Decision": blocked_decision,
    "wafpy.LogFormatError": lambda: LogFormatError("not JSON", file="logs/a.jsonl.gz", line=7),
    "wafpy.MatchDetail": lambda: blocked_decision().terminating_rule_match_details[0],
    "wafpy.MemoryRateCounter": counter,
    "wafpy.NotAvailableError": lambda: wafpy.NotAvailableError("managed group X is not available"),
    "wafpy.Request": lambda: Request(
        method="POST",
        uri="/login?next=%2F",
        headers=[("Host", "shop.example.com"), ("Cookie", "a=1; b=2")],
        body=b'{"user": "bob"}',
        client_ip="198.51.100.7",
        country="DE",
        timestamp_ms=1_710_930_600_000,
    ),
    "wafpy.ResourceError": lambda: wafpy.ResourceError("unresolved IP set ARN"),
    "wafpy.RuleTrace": lambda: blocked_decision().trace[0],
    "wafpy.RulesetError": lambda: ruleset_errors().errors[0],
    "wafpy.RulesetErrors": ruleset_errors,
    "wafpy.Services": lambda: wafpy.Services(rate_counter=counter()),
    "wafpy.TokenCheck": lambda: wafpy.TokenCheck(False, "TOKEN_MISSING"),
    "wafpy.WafpyError": lambda: wafpy.WafpyError("something"),
    "wafpy.WebACL": demo_acl,
    "wafpy.logs.LogEntry": lambda: sample_entries()[0],
    "wafpy.logs.LoggedOutcome": lambda: sample_entries()[0].logged,
    "wafpy.replay.BadLine": lambda: BadLine("not JSON", "logs/a.jsonl", 3),
    "wafpy.replay.Comparison": lambda: replay()[2],
    "wafpy.replay.Outcome": replay_outcome,
    "wafpy.replay.Replay": lambda: replay()[0],
    "wafpy.replay.ReplayOptions": lambda: ReplayOptions(format="waf", since=1, until=2, workers=2),
    "wafpy.replay.StrictStop": lambda: wafpy.replay.StrictStop(BadLine("not JSON", "a.jsonl", 3)),
    "wafpy.replay.Summary": lambda: replay()[1],
    "wafpy.replay.UnreadableInput": lambda: UnreadableInput("truncated gzip file", "a.gz", 9),
    "wafpy.replay.WorkerDied": lambda: wafpy.replay.WorkerDied("a worker died twice on a.jsonl"),
    "wafpy.middleware.ClientConfig": lambda: wafpy.middleware.ClientConfig(),
    "wafpy.middleware.LogConfig": lambda: wafpy.middleware.LogConfig(),
    "wafpy.middleware.TokenConfig": lambda: wafpy.middleware.TokenConfig(),
    "wafpy.middleware.WatchConfig": lambda: wafpy.middleware.WatchConfig(interval=2.0),
    "wafpy.testing.Case": lambda: case_file().cases[0],
    "wafpy.testing.CaseFile": case_file,
    "wafpy.testing.CaseFileError": lambda: wafpy.testing.CaseFileError("a.waftest.json", "bad", line=2),
    "wafpy.testing.Expect": lambda: case_file().cases[0].expect,
    "wafpy.testing.Outcome": case_outcome,
}


def public_names() -> Iterator[tuple[str, Any]]:
    """(qualified name, value) of every public name of the root package and the stage packages."""
    for package in PACKAGES:
        module = importlib.import_module(package)
        names = getattr(module, "__all__", None)
        if names is None:
            names = [n for n in vars(module) if not n.startswith("_") and n != "annotations"]
        for name in names:
            value = getattr(module, name)
            if not inspect.ismodule(value):
                yield f"{package}.{name}", value


def is_type(value: Any) -> bool:
    return inspect.isclass(value)


def error_classes() -> list[type[BaseException]]:
    """Every exception class defined in wafpy, private ones included (workers send them back too)."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(wafpy.__path__, "wafpy."):
        if info.name == "wafpy.__main__":
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == info.name:
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[k] for k in sorted(found)]


# Errors whose constructor takes more than a message: an instance each.
ERROR_ARGS: dict[str, Callable[[type[Any]], BaseException]] = {
    "wafpy.errors.RulesetError": lambda c: c(
        "bad value", json_path="Rules[0].Name", line=3, column=9, value=1, expected="a string", source="f"
    ),
    "wafpy.errors.RulesetErrors": lambda c: ruleset_errors(),
    "wafpy.errors.LogFormatError": lambda c: c("not JSON", file="a.jsonl", line=4),
    "wafpy.logs.sources.InputError": lambda c: c("truncated gzip file", file="a.gz", line=9),
    "wafpy.matching.regex._Unsupported": lambda c: c("lookahead", "(?=", 4),
    "wafpy.replay.outcome.StrictStop": lambda c: c(BadLine("not JSON", "a.jsonl", 3)),
    "wafpy.testing.cases.CaseFileError": lambda c: c("a.waftest.json", "bad", line=2, column=5),
    "wafpy.testing.pytest_plugin.WafTestFailure": lambda c: c(
        case_outcome().__class__(case=case_file().cases[0], decision=blocked_decision(), failures=("x", "y"))
    ),
}


# ------------------------------------------------------------------------------------------------
# Comparison after a round trip


def decisions_of(acl: WebACL, requests: list[Request]) -> list[dict[str, Any]]:
    """The decisions as values (the trace built), to compare two ACLs' decisions."""
    return [acl.evaluate(r, now_ms=r.timestamp_ms or 0).__getstate__() for r in requests]


def state(value: Any) -> Any:
    return value.__getstate__()


def same(a: Any, b: Any) -> bool:
    """Equal values, or for types without equality the same state, recursively."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, BaseException):
        return str(a) == str(b) and same(a.args, b.args) and same(vars(a), vars(b))
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, WebACL):
        requests = [request_of(e) for e in sample_entries()]
        return (
            same(a.model, b.model)
            and same(a.services, b.services)
            and decisions_of(a, requests) == decisions_of(b, requests)
        )
    if dataclasses.is_dataclass(a) and not isinstance(a, Decision):
        # Field by field: a field may hold a type without equality (Services.rate_counter).
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a) if f.compare)
    if getattr(type(a), "__eq__", None) is not getattr(object, "__eq__", None):
        return bool(a == b)
    return same(state(a), state(b))


# ------------------------------------------------------------------------------------------------
# Tests


def test_every_public_type_has_an_instance_or_a_reason() -> None:
    types = {name for name, value in public_names() if is_type(value)}
    assert types - INSTANCES.keys() - NOT_SHIPPED.keys() == set()
    assert INSTANCES.keys() - types == set(), "entries for names that are no longer public"


@pytest.mark.parametrize("name", sorted(INSTANCES))
def test_public_type_round_trips(name: str) -> None:
    value = INSTANCES[name]()
    assert isinstance(value, dict(public_names())[name])
    copy = roundtrip(value)
    assert same(value, copy), name
    if isinstance(value, BaseException):
        assert str(copy) == str(value)


def test_public_values_that_are_not_types_round_trip() -> None:
    """Functions by reference, constants by value, type aliases as themselves."""
    for name, value in public_names():
        if is_type(value) or name in NOT_SHIPPED:
            continue
        copy = roundtrip(value)
        if callable(value) and not isinstance(value, typing._GenericAlias):  # type: ignore[attr-defined]
            assert copy is value, name
        else:
            assert copy == value, name


@pytest.mark.parametrize("cls", error_classes(), ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_every_error_round_trips_with_its_message_and_attributes(cls: type[BaseException]) -> None:
    key = f"{cls.__module__}.{cls.__qualname__}"
    make = ERROR_ARGS.get(key)
    if make is None:
        # Only errors whose constructor is the built-in one may go without an entry.
        assert "__init__" not in vars(cls) or cls.__init__ in (BaseException.__init__, OSError.__init__), key
        error = cls("something went wrong")
    else:
        error = make(cls)
    error.add_note("a note added on the way")
    copy = roundtrip(error)
    assert type(copy) is cls
    assert str(copy) == str(error)
    assert copy.args == error.args or same(copy.args, error.args)
    assert same(vars(copy), vars(error))
    assert copy.__notes__ == ["a note added on the way"]


def test_ruleset_errors_keep_each_error() -> None:
    errors = ruleset_errors()
    copy = roundtrip(errors)
    assert [e.describe() for e in copy.errors] == [e.describe() for e in errors.errors]
    assert all(isinstance(e, RulesetError) for e in copy.errors)
    assert copy.source == errors.source


def test_decision_carries_its_trace_built() -> None:
    decision = blocked_decision()
    copy = roundtrip(decision)
    assert isinstance(copy.trace_builder, FixedTrace)
    assert copy.trace == decision.trace and copy.trace
    assert copy == decision
    assert copy.request == decision.request
    assert roundtrip(copy) == copy


def test_rate_counter_keeps_its_counts_and_counts_on() -> None:
    counts = counter()
    copy = roundtrip(counts)
    assert len(copy) == len(counts)
    assert copy.hit("rule|2|60|IP|1", ("192.0.2.0",), 2_000, 60) == counts.hit(
        "rule|2|60|IP|1", ("192.0.2.0",), 2_000, 60
    )


@pytest.mark.parametrize("path", CONFORMANCE, ids=lambda p: p.stem)
def test_web_acl_round_trip_decides_the_conformance_cases_alike(path: Path) -> None:
    cases = read_case_file(path)
    acl = cases.load_acl()
    copy = roundtrip(acl)
    assert repr(copy) == repr(acl)
    requests = [case.request for case in cases.cases]
    assert decisions_of(copy, requests) == decisions_of(acl, requests)


def test_web_acl_from_files_needs_none_of_them_after_a_round_trip(tmp_path: Path) -> None:
    """Loaded from files (the ACL, a resource folder, managed="log"), pickled, the files removed:
    the copy still decides every sample request alike (and the pickle holds no path to them)."""
    folder = tmp_path / "acl"
    folder.mkdir()
    (folder / "webacl.json").write_bytes(DEMO_ACL.read_bytes())
    (folder / "resources").mkdir()
    for f in DEMO_RESOURCES.iterdir():
        (folder / "resources" / f.name).write_bytes(f.read_bytes())
    acl = wafpy.load_web_acl(folder / "webacl.json", resources=[folder / "resources"], managed="log")
    data = pickle.dumps(acl)
    for f in (folder / "resources").iterdir():
        f.unlink()
    (folder / "resources").rmdir()
    (folder / "webacl.json").unlink()
    copy = pickle.loads(data)
    requests = [request_of(e) for e in sample_entries()]
    assert decisions_of(copy, requests) == decisions_of(demo_acl(), requests)
    assert copy.managed_warnings == acl.managed_warnings
    assert copy.scanner_source == acl.scanner_source


def test_used_web_acl_carries_its_rate_counts() -> None:
    """A web ACL pickled in the middle of a log counts on from there, as the original does."""
    entries = sample_entries()
    requests = [request_of(e) for e in entries]
    half = len(requests) // 2
    acl = demo_acl()
    decisions_of(acl, requests[:half])
    copy = roundtrip(acl)
    assert decisions_of(copy, requests[half:]) == decisions_of(acl, requests[half:])
