"""The attack lists and benign sets of the shared corpora, as requests (`Case`s).

Formats are those of the corpora's GUIDE.md:

* libinjection samples: one URL-encoded input a line (`#` comments), decoded once as
  libinjection's own harness does (`+` as space, `%XX`), then sent as a query argument value;
* PayloadsAllTheThings lists: one raw payload a line, sent as a query argument value;
* HttpParamsDataset: the `norm` rows' values, sent as a query argument value;
* user agents: each in the `User-Agent` header of a browser-like GET;
* HAR request objects: method, URL, headers, cookies and the post data (form, multipart, text);
* AWS WAF logs: the `httpRequest` of every record whose action is ALLOW (AWS let it through);
* the ALB access log of ordinary requests: method, URL and user agent.

A set larger than `limit` is sampled evenly (`cases.sample`); duplicates within a set count once.
"""

from __future__ import annotations

import csv
import json
import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urlsplit

import yaml

from bench.detection.cases import BROWSER_HEADERS, Case, sample, value_case

BOUNDARY = "----wafpyDetectionBoundary7MA4YWxk"


def _unique(values: Iterable[tuple[str, bytes | str]]) -> list[tuple[str, bytes | str]]:
    seen: set[bytes | str] = set()
    out = []
    for name, value in values:
        if value not in seen:
            seen.add(value)
            out.append((name, value))
    return out


def _value_set(
    key: str, values: Iterable[tuple[str, bytes | str]], *, attack: bool, limit: int
) -> list[Case]:
    cases = [value_case(key, name, value, attack=attack) for name, value in _unique(values)]
    return sample(cases, limit)


def libinjection_decode(line: str) -> bytes:
    """libinjection's reader: `+` as space, then one pass of %XX (a stray `%` kept)."""
    return unquote_to_bytes(line.replace("+", " "))


def _lines(path: Path, *, comments: bool) -> Iterable[tuple[int, str]]:
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    for number, line in enumerate(text.splitlines(), 1):
        line = line.rstrip("\r\n")
        if not line.strip() or (comments and line.startswith("#")):
            continue
        yield number, line.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def libinjection_sets(folder: Path, limit: int) -> list[Case]:
    out: list[Case] = []
    for kind in ("sqli", "xss"):
        values = [
            (f"{path.name}:{n}", libinjection_decode(line.rstrip()))
            for path in sorted(folder.glob(f"{kind}-*.txt"))
            for n, line in _lines(path, comments=True)
        ]
        out += _value_set(f"libinjection-{kind}", values, attack=True, limit=limit)
    return out


def patt_sets(folder: Path, limit: int) -> list[Case]:
    out: list[Case] = []
    for kind in ("sqli", "xss", "command-injection", "directory-traversal", "file-inclusion"):
        values: list[tuple[str, bytes | str]] = [
            (f"{path.name}:{n}", line)
            for path in sorted((folder / kind).iterdir())
            if path.is_file()
            for n, line in _lines(path, comments=False)
        ]
        out += _value_set(f"patt-{kind}", values, attack=True, limit=limit)
    return out


def benign_value_sets(corpora: Path, limit: int) -> list[Case]:
    fps = corpora / "benign" / "libinjection" / "false_positives.txt"
    out = _value_set(
        "benign-libinjection",
        [
            (f"false_positives.txt:{n}", libinjection_decode(line.rstrip()))
            for n, line in _lines(fps, comments=True)
        ],
        attack=False,
        limit=limit,
    )
    with (corpora / "attacks" / "httpparams-dataset" / "payload_full.csv").open(encoding="utf-8") as f:
        rows = [
            (f"payload_full.csv:{n}", r["payload"])
            for n, r in enumerate(csv.DictReader(f), 2)
            if r["label"] == "norm"
        ]
    out += _value_set("benign-httpparams", rows, attack=False, limit=limit)
    return out


def user_agent_cases(folder: Path, limit: int) -> list[Case]:
    agents: list[tuple[str, bytes | str]] = []
    for name in ("crs-popularUAs.data", "uap-core--firefox_user_agent_strings.txt"):
        agents += [(f"{name}:{n}", line.strip()) for n, line in _lines(folder / name, comments=True)]
    uap = yaml.safe_load((folder / "uap-core--test_ua.yaml").read_text(encoding="utf-8"))
    agents += [(f"test_ua.yaml:{i}", str(c["user_agent_string"])) for i, c in enumerate(uap["test_cases"])]
    cases = [
        Case(
            set="benign-user-agents",
            name=name,
            attack=False,
            method="GET",
            target="/",
            version="HTTP/1.1",
            headers=tuple((n, str(agent) if n == "User-Agent" else v) for n, v in BROWSER_HEADERS),
        )
        for name, agent in _unique(agents)
        if str(agent)
    ]
    return sample(cases, limit)


def _har_body(post: dict[str, Any]) -> tuple[bytes, str | None]:
    mime = str(post.get("mimeType", ""))
    params = post.get("params")
    if params and mime.startswith("multipart/form-data"):
        parts = []
        for p in params:
            disposition = f'form-data; name="{p["name"]}"'
            if p.get("fileName"):
                disposition += f'; filename="{p["fileName"]}"'
            head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
            if p.get("contentType"):
                head += f"Content-Type: {p['contentType']}\r\n"
            parts.append(f"{head}\r\n{p.get('value', '')}\r\n")
        return ("".join(parts) + f"--{BOUNDARY}--\r\n").encode(), f"multipart/form-data; boundary={BOUNDARY}"
    if params:
        pairs = "&".join(
            f"{quote(p['name'], safe='')}={quote(str(p.get('value', '')), safe='')}" for p in params
        )
        return pairs.encode(), None
    return str(post.get("text", "")).encode(), None


def har_cases(folder: Path) -> list[Case]:
    """HAR request objects; a Host from the URL and a browser User-Agent when the HAR has none."""
    cases = []
    for path in sorted(folder.glob("*.json")):
        har = json.loads(path.read_text(encoding="utf-8"))
        if "log" in har:  # a whole HAR log: its first entry's request
            har = har["log"]["entries"][0]["request"]
        url = urlsplit(har["url"])
        query = [url.query] if url.query else []
        query += [
            f"{quote(q['name'], safe='')}={quote(q['value'], safe='')}" for q in har.get("queryString", [])
        ]
        target = (url.path or "/") + ("?" + "&".join(query) if query else "")
        headers = [("Host", url.hostname or "localhost")]
        headers += [(h["name"], h["value"]) for h in har.get("headers", [])]
        names = {n.lower() for n, _ in headers}
        if "user-agent" not in names:
            headers.append(BROWSER_HEADERS[1])
        if har.get("cookies"):
            headers.append(("Cookie", "; ".join(f"{c['name']}={c['value']}" for c in har["cookies"])))
        body, content_type = _har_body(har.get("postData") or {})
        if content_type is not None:
            headers = [(n, content_type if n.lower() == "content-type" else v) for n, v in headers]
            if "content-type" not in names:
                headers.append(("Content-Type", content_type))
        if body:
            headers.append(("Content-Length", str(len(body))))
        cases.append(
            Case(
                "benign-har",
                path.name,
                False,
                har["method"],
                target,
                har.get("httpVersion") or "HTTP/1.1",
                tuple(headers),
                body,
            )
        )
    return cases


def aws_waf_log_cases(folder: Path) -> list[Case]:
    """The requests of every AWS WAF log record whose action is ALLOW (bodies are never logged)."""
    cases = []
    for path in sorted(folder.glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            record = json.loads(line)
            if record.get("action") != "ALLOW":
                continue
            http = record["httpRequest"]
            target = http["uri"] + ("?" + http["args"] if http.get("args") else "")
            headers = tuple((h["name"], h["value"]) for h in http.get("headers", []))
            version = http.get("httpVersion") or "HTTP/1.1"
            cases.append(
                Case(
                    "benign-aws-waf-log",
                    f"{path.name}:{n}",
                    False,
                    http["httpMethod"],
                    target,
                    version,
                    headers,
                )
            )
    return cases


def alb_log_cases(path: Path, limit: int) -> list[Case]:
    """Ordinary requests of an ALB access log: method, URL (path and query as sent) and user agent."""
    cases = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = shlex.split(line)
        if len(fields) < 14 or fields[12].count(" ") != 2:
            continue
        method, url, version = fields[12].split(" ")
        parts = urlsplit(url)
        if not parts.hostname:
            continue
        target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        headers = [("Host", parts.hostname)]
        if fields[13] != "-":
            headers.append(("User-Agent", fields[13]))
        headers += list(BROWSER_HEADERS[2:])
        cases.append(
            Case("benign-alb-log", f"{path.name}:{n}", False, method, target, version, tuple(headers))
        )
    return sample(cases, limit)


def corpus_cases(corpora: Path, limit: int) -> list[Case]:
    """Every set but the CRS regression tests (`crs.crs_cases`), in report order."""
    attacks = corpora / "attacks"
    benign = corpora / "benign"
    return [
        *libinjection_sets(attacks / "libinjection" / "data", limit),
        *patt_sets(attacks / "payloadsallthethings", limit),
        *benign_value_sets(corpora, limit),
        *user_agent_cases(benign / "user-agents", limit),
        *har_cases(benign / "har-requests" / "httpsnippet"),
        *aws_waf_log_cases(corpora / "logs" / "aws-waf"),
        *alb_log_cases(corpora / "logs" / "alb" / "elb-log-analyzer--AppELBLog.log", limit),
    ]
