"""sqlmap against a deliberately injectable endpoint: it finds the injection without the middleware,
and does not find it behind WAFMiddleware with the bundled web ACL's SQL injection rules."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.test_asgi_support import serve
from wafpy import WAFMiddleware

ROOT = Path(__file__).resolve().parents[1]
FOUND = b"sqlmap identified the following injection point"


def injectable_app() -> Starlette:
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.executescript(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);"
        "INSERT INTO items (name) VALUES ('apple'), ('pear'), ('plum');"
    )

    async def item(request: Request) -> PlainTextResponse:
        # Deliberately vulnerable: the id is pasted into the SQL text.
        query = "SELECT name FROM items WHERE id = " + request.query_params.get("id", "1")
        try:
            rows = db.execute(query).fetchall()
        except sqlite3.Error:
            return PlainTextResponse("error", status_code=500)
        return PlainTextResponse("\n".join(name for (name,) in rows) or "no such item")

    return Starlette(routes=[Route("/item", item)])


def run_sqlmap(url: str, tmp: Path) -> bytes:
    sqlmap = shutil.which("sqlmap")
    if sqlmap is None:
        pytest.skip("sqlmap is not installed (pip install sqlmap)")
    # fmt: off
    command = [
        sqlmap, "-u", url + "/item?id=1", "-p", "id", "--batch", "--level", "1", "--risk", "1",
        "--technique=B", "--threads", "1", "--timeout", "5", "--retries", "0", "--flush-session",
        f"--output-dir={tmp}", "--disable-coloring",
        # The bundled ACL blocks sqlmap's own User-Agent and unknown hosts; look like a browser on
        # the shop so that only the SQL injection rules stand in the way.
        "--user-agent=Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "--host=shop.example.com",
    ]
    # fmt: on
    done = subprocess.run(command, capture_output=True, timeout=240, stdin=subprocess.DEVNULL)
    return done.stdout + done.stderr


@pytest.mark.slow
def test_sqlmap_finds_the_injection_without_the_middleware(tmp_path: Path) -> None:
    with serve(injectable_app()) as url:
        output = run_sqlmap(url, tmp_path)
    assert FOUND in output, output[-2000:].decode(errors="replace")


@pytest.mark.slow
def test_sqlmap_finds_nothing_behind_the_middleware(tmp_path: Path) -> None:
    resources = sorted(str(p) for p in (ROOT / "rulesets" / "demo-resources").glob("*.json"))
    mw = WAFMiddleware(injectable_app(), str(ROOT / "rulesets" / "demo-webacl.json"), resources=resources)
    with serve(mw) as url:
        output = run_sqlmap(url, tmp_path)
    assert FOUND not in output, output[-2000:].decode(errors="replace")
    # The SQL injection rule did the blocking, not a User-Agent or Host rule.
    assert mw.metrics.snapshot()["block-sqli-query"]["BlockedRequests"] > 0
