"""The parts of `wafpy.WAFMiddleware` (`wafpy/middleware/asgi.py`), one concept per module.

* `inforce` — the web ACL in force: loaded with the middleware's services, reloaded, watched, closed;
* `handling` — the request paths besides HTTP's: evaluation, `on_error`, a client that left during
  its body, WebSocket handshakes, the middleware's own endpoints;
* `config` — the middleware's options by group: `ClientConfig`, `TokenConfig`, `LogConfig`,
  `WatchConfig` (exported here, with `WAFMiddleware`);
* `scope` — the ASGI types, and the scope the app is handed (inserted headers, trace id, decision);
* `responses` — what the middleware answers itself: decisions, errors, refused WebSockets, endpoints;
* `requestlog` — the AWS WAF log record of each evaluated request, through filter and redaction;
* `body` — buffer the request body up to the inspection limit, then replay it to the app;
* `clientinfo` — origin IP (socket or trusted proxies), country and ASN resolvers;
* `trace` — the ALB's `X-Amzn-Trace-Id`;
* `tokens` — signed `aws-waf-token` cookies: `issue_token`, the validator, the solve endpoint;
* `logsink` — AWS WAF log records to a file, a logger or a callable, with LoggingFilter;
* `logfile` — the JSON-lines file: whole records or counted losses, reopened after rotation;
* `redact` — RedactedFields, applied wherever a redacted value can appear in a record;
* `metrics` — CloudWatch-style request counters and their Prometheus text;
* `reload` — load an ACL from a path, dict or `WebACL`, and watch files for changes.
"""

from wafpy.middleware.asgi import WAFMiddleware
from wafpy.middleware.config import ClientConfig, LogConfig, TokenConfig, WatchConfig

__all__ = ["ClientConfig", "LogConfig", "TokenConfig", "WAFMiddleware", "WatchConfig"]
