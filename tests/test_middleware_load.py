"""WAFMiddleware loads its web ACL at construction: managed=, fail fast, warnings, and reloads."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.builders import byte_rule
from tests.test_asgi_support import EchoApp, blocking_acl, run
from tests.test_managed import CRS, CRS_AT, managed_rule, rule_group, web_acl
from wafpy import NotAvailableError, RulesetErrors, WAFMiddleware, load_web_acl
from wafpy.cli.main import main
from wafpy.middleware.scope import Message

ROOT = Path(__file__).resolve().parents[1]


def status_of(mw: WAFMiddleware, path: str) -> int:
    """The status the middleware (or the app behind it) answers a GET of `path` with."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"shop.example.com")],
        "client": ("203.0.113.7", 4000),
        "http_version": "1.1",
        "scheme": "http",
    }
    run(mw(scope, receive, send))
    return int(next(m["status"] for m in sent if m["type"] == "http.response.start"))


# ----------------------------------------------------------------------------------------------
# managed=


def test_managed_group_without_a_choice_fails_at_construction() -> None:
    with pytest.raises(NotAvailableError) as info:
        WAFMiddleware(EchoApp(), web_acl(managed_rule(CRS)))
    message = str(info.value)
    assert f"AWS/{CRS} (at {CRS_AT})" in message
    for choice in ('managed="none"', 'managed="bundled"', 'managed="log"', "managed=PATH"):
        assert choice in message


@pytest.mark.parametrize(
    ("managed", "expected"),
    [
        ("bundled", "wafpy cannot bundle it"),
        ("log", "replayed"),
    ],
)
def test_managed_bundled_private_data_and_log_are_refused(managed: str, expected: str) -> None:
    # Bot Control stands on AWS's private data: never bundled, whatever rulesets/managed holds.
    group = "AWSManagedRulesBotControlRuleSet"
    with pytest.raises(NotAvailableError, match=expected):
        WAFMiddleware(EchoApp(), web_acl(managed_rule(group)), managed=managed)


def test_a_web_acl_loaded_for_replay_from_the_log_is_refused() -> None:
    """Every request would be undetermined: a live request has no log record to ask."""
    replay_only = load_web_acl(web_acl(managed_rule(CRS)), managed="log")
    with pytest.raises(NotAvailableError, match="replayed"):
        WAFMiddleware(EchoApp(), replay_only)


def test_managed_malformed_value_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="empty list"):
        WAFMiddleware(EchoApp(), web_acl(managed_rule(CRS)), managed=[])


def test_managed_with_an_acl_already_loaded_is_a_type_error() -> None:
    loaded = load_web_acl(web_acl(managed_rule(CRS)), managed="none")
    with pytest.raises(TypeError, match="load_web_acl"):
        WAFMiddleware(EchoApp(), loaded, managed="none")
    assert WAFMiddleware(EchoApp(), loaded).warnings  # its own managed= choice, warned about


def test_managed_none_warns_at_construction_and_lists_the_group(caplog: pytest.LogCaptureFixture) -> None:
    mw = WAFMiddleware(EchoApp(), web_acl(managed_rule(CRS)), managed="none")
    assert f"AWS/{CRS} at {CRS_AT}" in caplog.text
    assert "no inner rule matched" in caplog.text
    (warning,) = mw.warnings
    assert f"AWS/{CRS}" in warning
    assert status_of(mw, "/admin") == 200  # no inner rule, nothing blocks
    assert f'wafpy_managed_rule_group_not_evaluated{{webacl="m",group="AWS/{CRS}"}} 1' in (
        mw.metrics.prometheus()
    )


def test_managed_folder_is_used_at_construction_and_at_every_reload(tmp_path: Path) -> None:
    groups = tmp_path / "groups"
    groups.mkdir()
    (groups / "crs.json").write_text(json.dumps(rule_group(CRS, "/admin", VendorName="AWS")))
    acl = tmp_path / "acl.json"
    acl.write_text(json.dumps(web_acl(managed_rule(CRS))))
    mw = WAFMiddleware(EchoApp(), str(acl), managed=str(groups))
    assert mw.warnings == ()
    assert status_of(mw, "/admin") == 403 and status_of(mw, "/shop") == 200
    (groups / "crs.json").write_text(json.dumps(rule_group(CRS, "/shop", VendorName="AWS")))
    assert mw.reload()
    assert status_of(mw, "/admin") == 200 and status_of(mw, "/shop") == 403


# ----------------------------------------------------------------------------------------------
# Fail fast: the located message, as `wafpy validate` prints it


BROKEN = '{\n  "Name": "broken",\n  "DefaultAction": {"Allow": {}},\n  "Rules": [{"Priority": "one"}]\n}\n'


def test_broken_acl_raises_the_message_validate_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "acl.json"
    path.write_text(BROKEN)
    with pytest.raises(RulesetErrors) as info:
        WAFMiddleware(EchoApp(), str(path))
    message = str(info.value)
    assert f"{path}:4:26: " in message and " at Rules[0].Priority" in message
    assert main(["validate", str(path)]) == 1
    assert capsys.readouterr().out.strip() == message
    assert message in caplog.text  # logged too: see test_broken_acl_stops_uvicorn


def test_reload_logs_success_and_failure_and_keeps_the_old_acl(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "acl.json"
    caplog.set_level(logging.INFO, "wafpy")
    path.write_text(json.dumps(blocking_acl("/a", "first")))
    mw = WAFMiddleware(EchoApp(), str(path))
    path.write_text(json.dumps(blocking_acl("/b", "second")))
    assert mw.reload()
    assert "web ACL 'second' reloaded and in force (1 rule)" in caplog.text
    path.write_text(BROKEN)
    assert not mw.reload()
    assert mw.acl.name == "second"
    assert f"{path}:4:26: " in caplog.text and "the previous one stays in force" in caplog.text


BROKEN_APPS = {
    # Wrapped: the middleware is built when the module is imported.
    "wrapped": """
        from starlette.applications import Starlette
        from wafpy import WAFMiddleware
        app = WAFMiddleware(Starlette(), acl=ACL)
    """,
    # add_middleware: Starlette builds it at the lifespan startup; --lifespan on makes that fatal.
    "added": """
        from starlette.applications import Starlette
        from wafpy import WAFMiddleware
        app = Starlette()
        app.add_middleware(WAFMiddleware, acl=ACL)
    """,
}


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "lifespan"), [("wrapped", "auto"), ("added", "on")])
def test_broken_acl_stops_uvicorn(tmp_path: Path, kind: str, lifespan: str) -> None:
    acl = tmp_path / "acl.json"
    acl.write_text(BROKEN)
    (tmp_path / "broken_app.py").write_text(f"ACL = {str(acl)!r}\n" + textwrap.dedent(BROKEN_APPS[kind]))
    command = [sys.executable, "-m", "uvicorn", "broken_app:app", "--app-dir", str(tmp_path)]
    command += ["--host", "127.0.0.1", "--port", "0", "--lifespan", lifespan]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode != 0
    assert f"{acl}:4:26: " in done.stderr and " at Rules[0].Priority" in done.stderr


def test_rule_added_by_a_reload_is_evaluated(tmp_path: Path) -> None:
    path = tmp_path / "acl.json"
    path.write_text(json.dumps(web_acl()))
    mw = WAFMiddleware(EchoApp(), str(path))
    assert status_of(mw, "/x") == 200
    path.write_text(json.dumps(web_acl(byte_rule("x", 1, {"UriPath": {}}, "/x", "STARTS_WITH"))))
    assert mw.reload() and status_of(mw, "/x") == 403
