"""One request of the detection benchmark, as every engine receives it, and the sets it belongs to.

A `Case` is an HTTP request as sent on the wire (method, raw request target, version, headers in
order, body bytes) plus what the corpus says about it (attack or benign, which set, which CRS rule
and paranoia level). The same list of cases is given to wafpy, ModSecurity and lewaf; `to_json` /
`from_json` carry it to the lewaf worker process.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

# The row of each set in the report, in order: key -> (label, attack?). Families of the CRS
# regression tests come first (the goals are stated on them), then the other attack lists, then
# the benign sets.
SETS: dict[str, tuple[str, bool]] = {
    "crs-942": ("CRS tests 942 SQLi", True),
    "crs-941": ("CRS tests 941 XSS", True),
    "crs-930": ("CRS tests 930 LFI", True),
    "crs-931": ("CRS tests 931 RFI", True),
    "crs-932": ("CRS tests 932 RCE", True),
    "crs-933": ("CRS tests 933 PHP", True),
    "crs-920": ("CRS tests 920 protocol", True),
    "libinjection-sqli": ("libinjection SQLi samples", True),
    "libinjection-xss": ("libinjection XSS samples", True),
    "patt-sqli": ("PayloadsAllTheThings SQLi", True),
    "patt-xss": ("PayloadsAllTheThings XSS", True),
    "patt-command-injection": ("PayloadsAllTheThings command injection", True),
    "patt-directory-traversal": ("PayloadsAllTheThings directory traversal", True),
    "patt-file-inclusion": ("PayloadsAllTheThings file inclusion", True),
    "benign-libinjection": ("libinjection false positives", False),
    "benign-httpparams": ("HttpParamsDataset normal values", False),
    "benign-user-agents": ("real User-Agent strings", False),
    "benign-har": ("HAR requests (httpsnippet)", False),
    "benign-aws-waf-log": ("AWS WAF log: requests AWS allowed", False),
    "benign-alb-log": ("ALB log: ordinary requests", False),
}

# The families the goals name (detection within 5 points of CRS PL1 on its own tests).
GOAL_FAMILIES = ("crs-942", "crs-941", "crs-930", "crs-932")

# Headers of an ordinary browser request, for payloads that come as a bare value.
BROWSER_HEADERS: tuple[tuple[str, str], ...] = (
    ("Host", "shop.example.com"),
    (
        "User-Agent",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
    ),
    ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("Accept-Language", "en-US,en;q=0.9"),
    ("Accept-Encoding", "gzip, deflate, br"),
)


@dataclass(frozen=True, slots=True)
class Case:
    """One request: `target` is the request target exactly as sent (path and query, not re-encoded)."""

    set: str
    name: str
    attack: bool
    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    # The CRS rule the test is about and its paranoia level (CRS regression tests only).
    rule: int | None = None
    pl: int | None = None

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    def header(self, name: str) -> str | None:
        """The first value of a header, its name compared without regard to case."""
        lower = name.lower()
        return next((v for n, v in self.headers if n.lower() == lower), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "set": self.set,
            "name": self.name,
            "method": self.method,
            "target": self.target,
            "version": self.version,
            "headers": [list(h) for h in self.headers],
            "body": base64.b64encode(self.body).decode("ascii"),
        }


def value_case(set_key: str, name: str, value: str | bytes, *, attack: bool) -> Case:
    """A payload list's line as the value of one query argument of a browser-like GET."""
    return Case(
        set=set_key,
        name=name,
        attack=attack,
        method="GET",
        target="/search?q=" + quote(value, safe=""),
        version="HTTP/1.1",
        headers=BROWSER_HEADERS,
    )


def sample(items: list[Case], limit: int) -> list[Case]:
    """At most `limit` items, evenly spread over the list (deterministic); all when limit <= 0."""
    if limit <= 0 or len(items) <= limit:
        return items
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]
