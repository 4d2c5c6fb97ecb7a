"""examples/app.py: the Starlette shop behind the bundled web ACL, under a real uvicorn."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import httpx
import pytest

from tests.test_asgi_support import serve
from tests.test_tokens import ROOT, SECRET, free_port, get_new_connection, start_uvicorn, stop, wait_ready
from wafpy.middleware.tokens import SECRET_ENV, SECRET_FILE_ENV, read_token

BROWSER = {"Host": "shop.example.com", "User-Agent": "Mozilla/5.0", "Accept-Language": "en"}


@pytest.mark.slow
def test_example_app_allows_benign_and_blocks_attacks() -> None:
    from examples.app import app

    with serve(app) as url, httpx.Client(base_url=url, headers=BROWSER) as client:
        ok = client.get("/search", params={"q": "red shoes"})
        assert ok.status_code == 200
        assert ok.json()["waf"]["action"] == "ALLOW"
        assert client.get("/search", params={"q": "1' OR '1'='1"}).status_code == 403
        assert client.post("/login", content=b"user=admin' OR 1=1--").status_code == 403
        assert client.get("/", headers={"User-Agent": "sqlmap/1.8"}).status_code == 403
        assert client.get("/", headers={"Host": "evil.example"}).status_code == 403
        metrics = client.get("/metrics").text
    assert 'wafpy_blocked_requests_total{webacl="shop-demo",rule="block-sqli-query"} 1' in metrics
    assert 'wafpy_allowed_requests_total{webacl="shop-demo",rule="ALL"} 1' in metrics


@pytest.mark.slow
def test_example_app_under_two_workers_signs_with_the_secret_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "token_secret"
    secret_file.write_text(SECRET + "\n")
    env = {k: v for k, v in os.environ.items() if k not in (SECRET_ENV, SECRET_FILE_ENV)}
    env.update(PYTHONPATH=str(ROOT), **{SECRET_FILE_ENV: str(secret_file)})
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_uvicorn(ROOT, port, env, workers=2, app="examples.app:app")
    try:
        wait_ready(url, process)
        for _ in range(10):  # new connections: both workers answer some of them
            token = get_new_connection(url + "/.wafpy/solve").json()["token"]
            assert read_token(SECRET, token) is not None
    finally:
        stop(process)


@pytest.mark.slow
def test_example_app_without_a_secret_serves_no_solve_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    monkeypatch.delenv(SECRET_FILE_ENV, raising=False)
    monkeypatch.delitem(sys.modules, "examples.app", raising=False)
    example = importlib.import_module("examples.app")
    with serve(example.app) as url:
        response = httpx.get(url + "/.wafpy/solve", headers=BROWSER)
    assert response.status_code == 404  # not answered by the middleware: the app has no such route
