"""A small shop API protected by the bundled web ACL, as an ALB with AWS WAF would protect it.

    uvicorn examples.app:app --no-proxy-headers
    curl -H "Host: shop.example.com" -H "User-Agent: Mozilla/5.0" "http://127.0.0.1:8000/search?q=shoes"

Several workers share one `aws-waf-token` secret through the environment:

    export WAFPY_TOKEN_SECRET="$(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
    uvicorn examples.app:app --no-proxy-headers --workers 2

See examples/README.md for requests that are blocked and how to read the logs and metrics.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from wafpy.middleware import TokenConfig, WAFMiddleware
from wafpy.middleware.tokens import token_secret_from_env

RULESETS = Path(__file__).resolve().parents[1] / "rulesets"
ACL = os.environ.get("WAFPY_ACL", str(RULESETS / "demo-webacl.json"))
RESOURCES = sorted(str(p) for p in (RULESETS / "demo-resources").glob("*.json"))

logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")

# WAFPY_TOKEN_SECRET or WAFPY_TOKEN_SECRET_FILE: every worker process reads the same secret, so a
# token one worker issues is valid in the others. A secret made here at random would differ per worker.
TOKEN_SECRET = token_secret_from_env()
if TOKEN_SECRET is None:
    logging.getLogger("examples.app").warning(
        "no WAFPY_TOKEN_SECRET / WAFPY_TOKEN_SECRET_FILE: no aws-waf-token is valid and /.wafpy/solve is off"
    )


def waf_summary(request: Request) -> dict[str, object]:
    """What WAF decided for this request (the middleware puts its Decision in request.state.waf)."""
    decision = request.state.waf
    if decision is None:  # evaluation failed and on_error="allow" let the request through
        return {}
    return {"action": decision.action, "rule": decision.terminating_rule_id, "labels": list(decision.labels)}


async def home(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "shop", "waf": waf_summary(request)})


async def search(request: Request) -> JSONResponse:
    return JSONResponse({"q": request.query_params.get("q", ""), "results": [], "waf": waf_summary(request)})


async def login(request: Request) -> JSONResponse:
    form = await request.body()
    return JSONResponse({"received_bytes": len(form), "waf": waf_summary(request)})


shop = Starlette(
    routes=[Route("/", home), Route("/search", search), Route("/login", login, methods=["POST"])],
)
# Wrapped rather than added with `shop.add_middleware`: the web ACL is loaded now, so a broken one
# stops the server at import with its file:line:col message (Starlette would build the middleware
# only at startup, where uvicorn's default lifespan mode hides the error).
app = WAFMiddleware(
    shop,
    acl=ACL,
    resources=RESOURCES,
    log=logging.getLogger("waf.log"),  # one AWS WAF log record per request, as JSON
    metrics_path="/metrics",  # CloudWatch-style counters in Prometheus text (not evaluated)
    tokens=TokenConfig(
        secret=TOKEN_SECRET,
        # Demo only: hands an aws-waf-token to anybody who asks.
        solve_path="/.wafpy/solve" if TOKEN_SECRET is not None else None,
    ),
    watch=True,  # edit the web ACL file and it is reloaded
)
