"""The OWASP CRS regression tests (go-ftw YAML) rebuilt into the requests go-ftw sends.

Only the stages CRS expects to trigger (`output.log.expect_ids` not empty) are kept: the others
say that one rule must stay silent, which does not make the request benign. Each request is
completed exactly as go-ftw's `ftwhttp.BuildRequest` completes it before sending, unless the test
sets `autocomplete_headers: false`:

* a body without a `Content-Type` header gets `application/x-www-form-urlencoded`;
* a urlencoded body that is not encoded yet (no `%`, no `+`) has each key and value encoded
  (space as `+`), the `=` and `&` kept;
* a `multipart/form-data;` body has its line feeds turned into CRLF (whatever the autocomplete);
* `Connection: close` and a `Content-Length` (when there is a body, or the method matches go-ftw's
  `^POST|PUT|PATCH|DELETE$`) are added when absent;
* headers are sent sorted by name; the request target and version are sent as written.

One change, made for every engine alike: `Host: localhost` (what go-ftw sends to a WAF on the test
machine, not part of any payload) becomes `Host: www.example.com`. AWS's Known bad inputs group
blocks a `localhost` Host header by design (`Host_localhost_HEADER`), which would otherwise "detect"
nearly every CRS test for a reason that has nothing to do with the attack under test. Tests whose
Host is the point (an IP address, an empty or missing Host) keep theirs.

go-ftw looks header names up with their exact case, so a test that writes `content-type` gets a
second `Content-Type` header, as it does on the wire. `encoded_request` stages are parsed as the
raw request they are (a chunked body de-chunked, as a server hands it to the WAF).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import yaml

from bench.detection.cases import Case

_ID = re.compile(r"id:(\d+)")
_PL = re.compile(r"paranoia-level/(\d)")
# go-ftw's methodsWithBodyRegex, unanchored alternatives and all: "^POST|PUT|PATCH|DELETE$".
_BODY_METHOD = re.compile(r"^POST|PUT|PATCH|DELETE$")
FAMILIES = ("942", "941", "930", "931", "932", "933", "920")
NEUTRAL_HOST = "www.example.com"


def _is_test_host(name: str, value: str) -> bool:
    return name.lower() == "host" and value.lower() == "localhost"


def paranoia_levels(rules_dir: Path) -> dict[int, int]:
    """CRS rule id -> its paranoia level, from the `paranoia-level/N` tag of each rule."""
    levels: dict[int, int] = {}
    for conf in sorted(rules_dir.glob("*.conf")):
        text = conf.read_text(encoding="utf-8")
        ids = list(_ID.finditer(text))
        for here, after in zip(ids, [*ids[1:], None], strict=True):
            end = after.start() if after is not None else len(text)
            tag = _PL.search(text, here.end(), end)
            if tag is not None:
                levels[int(here.group(1))] = int(tag.group(1))
    return levels


def _encode_form(data: bytes) -> bytes:
    """go-ftw's encodeDataParameters for a body not yet encoded: key and value of each pair."""
    out: list[str] = []
    remaining = data.decode("utf-8", "surrogateescape")
    while remaining:
        token, sep, remaining = remaining.partition("&")
        if not sep:
            remaining = ""
        key, eq, value = token.partition("=")
        if not eq:
            out.append(quote_plus(token, safe="", errors="surrogateescape"))
        else:
            out.append(
                quote_plus(key, safe="", errors="surrogateescape")
                + "="
                + quote_plus(value, safe="", errors="surrogateescape")
            )
    return "&".join(out).encode("ascii")


def build_stage(input_: dict[str, Any]) -> tuple[str, str, str, list[tuple[str, str]], bytes]:
    """(method, target, version, headers, body) of one go-ftw stage input, as sent."""
    if input_.get("encoded_request"):
        return parse_raw(base64.b64decode(input_["encoded_request"]))
    method = str(input_.get("method", "GET"))
    target = str(input_.get("uri", "/"))
    version = str(input_.get("version", "HTTP/1.1"))
    headers: dict[str, str] = {str(k): str(v) for k, v in (input_.get("headers") or {}).items()}
    raw = input_.get("data")
    data = b"" if raw is None else str(raw).encode("utf-8")
    autocomplete = input_.get("autocomplete_headers", True) is not False
    if data and autocomplete:
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        already_encoded = b"%" in data or b"+" in data
        if headers["Content-Type"] == "application/x-www-form-urlencoded" and not already_encoded:
            data = _encode_form(data)
    if headers.get("Content-Type", "").startswith("multipart/form-data;"):
        data = data.replace(b"\n", b"\r\n")
    if autocomplete:
        headers.setdefault("Connection", "close")
        if data or _BODY_METHOD.search(method):
            headers.setdefault("Content-Length", str(len(data)))
    return method, target, version, sorted(headers.items()), data


def _dechunk(body: bytes) -> bytes:
    out, rest = [], body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            break
        out.append(rest[:size])
        rest = rest[size + 2 :]
    return b"".join(out)


def parse_raw(raw: bytes) -> tuple[str, str, str, list[tuple[str, str]], bytes]:
    """A raw HTTP/1.x request: request line, headers, body (de-chunked when chunked)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    line, *header_lines = head.decode("latin-1").split("\r\n")
    method, _, rest = line.partition(" ")
    target, _, version = rest.rpartition(" ") if rest.count(" ") else (rest, "", "")
    headers = []
    for header_line in header_lines:
        name, _, value = header_line.partition(":")
        headers.append((name, value.strip()))
    if any(n.lower() == "transfer-encoding" and "chunked" in v.lower() for n, v in headers):
        body = _dechunk(body)
    return method, target, version or "HTTP/1.1", headers, body


def _stages(path: Path) -> Iterator[tuple[int, str, dict[str, Any], dict[str, Any]]]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not document:
        return
    for test in document.get("tests") or []:
        for i, stage in enumerate(test.get("stages") or []):
            stage = stage.get("stage", stage)  # the older ftw format nests each stage once more
            suffix = f".{i + 1}" if i else ""
            name = f"{document['rule_id']}-{test['test_id']}{suffix}"
            yield int(document["rule_id"]), name, stage.get("input") or {}, stage.get("output") or {}


def crs_cases(tests_dir: Path, levels: dict[int, int]) -> list[Case]:
    """Every stage CRS expects to trigger, per family folder (REQUEST-942-..., ...)."""
    cases: list[Case] = []
    for family in FAMILIES:
        for folder in sorted(tests_dir.glob(f"REQUEST-{family}-*")):
            for path in sorted(folder.glob("*.yaml")):
                for rule, name, input_, output in _stages(path):
                    if not (output.get("log") or {}).get("expect_ids"):
                        continue
                    method, target, version, headers, body = build_stage(input_)
                    headers = [(n, NEUTRAL_HOST if _is_test_host(n, v) else v) for n, v in headers]
                    cases.append(
                        Case(
                            set=f"crs-{family}",
                            name=name,
                            attack=True,
                            method=method,
                            target=target,
                            version=version,
                            headers=tuple(headers),
                            body=body,
                            rule=rule,
                            pl=levels.get(rule),
                        )
                    )
    return cases
