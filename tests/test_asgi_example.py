"""examples/app.py: the Starlette shop behind the bundled web ACL, under a real uvicorn."""

from __future__ import annotations

import httpx

from tests.test_asgi_support import serve

BROWSER = {"Host": "shop.example.com", "User-Agent": "Mozilla/5.0", "Accept-Language": "en"}


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
