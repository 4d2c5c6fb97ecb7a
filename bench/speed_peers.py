"""The peer rows of `python -m bench.speed`: CPU per request of ModSecurity + CRS and lewaf + CRS.

Optional: a peer is measured only when it is installed, else its row says why it was skipped.
Each peer runs in its own interpreter (lewaf needs Python 3.12), named by an environment variable,
on the same requests as wafpy: the realistic browser GET, a GET with SQL injection and XSS in its
query, and the 4 KB JSON POST (`bench.realistic_acl`). The figure is the peer's CPU time per
request over wafpy's (`Request.from_log` + `evaluate` of the realistic web ACL), each the median
of 5 batches of `time.process_time`; with ratios in the tens or hundreds the two processes need
not be interleaved.

    WAFPY_CRS_DIR        the CRS v4 folder holding crs-setup.conf.example and rules/
    WAFPY_MODSEC_PYTHON  an interpreter with `libmodsecurity` (default: this one, if it has it)
    WAFPY_LEWAF_PYTHON   a Python 3.12 interpreter with `lewaf` (default: this one, if it has it)

A harness for both peers with detection rates is meant to live in bench/detection/; when it is
there, this module should call it rather than keep its own.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import wafpy
from bench import realistic_acl
from bench.speed_common import Row, Settings

# The peer's side, run by its interpreter: argv = CRS folder, requests JSON, batch size.
_COMMON = """
import json, sys, time
crs, requests, number = sys.argv[1], json.loads(open(sys.argv[2]).read()), int(sys.argv[3])
def median_us(fn, req):
    out = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(number):
            fn(req)
        out.append((time.process_time() - start) / number * 1e6)
    return sorted(out)[2]
"""

_MODSEC = (
    _COMMON
    + """
import glob, os, tempfile
from libmodsecurity import ModSecurity, RulesSet
main = os.path.join(tempfile.mkdtemp(), "main.conf")
with open(main, "w") as f:
    f.write("SecRuleEngine On\\nSecRequestBodyAccess On\\nSecRequestBodyLimit 13107200\\n"
            "SecRequestBodyNoFilesLimit 131072\\nSecRequestBodyLimitAction Reject\\n"
            'SecRule REQUEST_HEADERS:Content-Type "(?:application(?:/soap\\\\+|/)|text/)xml" '
            '"id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"\\n'
            'SecRule REQUEST_HEADERS:Content-Type "application/json" '
            '"id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"\\n'
            f"Include {crs}/crs-setup.conf.example\\nInclude {crs}/rules/*.conf\\n")
engine = ModSecurity()
engine.set_log_callback(lambda message: None)
rules = RulesSet()
assert rules.load_from_uri(main) > 0, rules.get_parser_error()
def blocked(t):
    i = t.intervention()
    return i is not None and i.disruptive
def check(r):
    with engine.transaction(rules) as t:
        t.process_connection(r["ip"], 50000, "127.0.0.1", 80)
        t.process_uri(r["target"], r["method"], "1.1")
        for n, v in r["headers"]:
            t.add_request_header(n, v)
        t.process_request_headers()
        if blocked(t):
            return True
        t.append_request_body(r["body"].encode())
        t.process_request_body()
        return blocked(t)
out = {name: [median_us(check, r), check(r)] for name, r in requests.items()}
print(json.dumps(out))
"""
)

_LEWAF = (
    _COMMON
    + """
import glob, logging
logging.disable(logging.WARNING)
from lewaf.config.models import WAFConfig
from lewaf.integration import WAF
waf = WAF(WAFConfig(rule_files=[f"{crs}/crs-setup.conf.example", *sorted(glob.glob(f"{crs}/rules/*.conf"))]))
def check(r):
    t = waf.new_transaction()
    t.process_uri(r["target"], r["method"])
    t.add_request_headers(dict(r["headers"]))
    if t.process_request_headers():
        return True
    ctype = dict((n.lower(), v) for n, v in r["headers"]).get("content-type", "")
    t.add_request_body(r["body"].encode(), ctype)
    return bool(t.process_request_body())
out = {name: [median_us(check, r), check(r)] for name, r in requests.items()}
print(json.dumps(out))
"""
)


def _cases() -> dict[str, dict[str, Any]]:
    probes = dict(realistic_acl.probe_requests())
    attack = {**probes["get"], "args": "q=1%27%20OR%201%3D1--&c=%3Cscript%3Ealert(1)%3C/script%3E"}
    return {"benign GET": probes["get"], "attack GET": attack, "4 KB JSON POST": probes["post"]}


def _peer_request(raw: dict[str, Any]) -> dict[str, Any]:
    target = raw["uri"] + (f"?{raw['args']}" if raw["args"] else "")
    headers = [[h["name"], h["value"]] for h in raw["headers"]]
    body = raw.get("body", "")
    return {
        "ip": raw["clientIp"],
        "method": raw["httpMethod"],
        "target": target,
        "headers": headers,
        "body": body,
    }


def _median_us(fn: Callable[[], Any], number: int) -> float:
    out = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(number):
            fn()
        out.append((time.process_time() - start) / number * 1e6)
    return sorted(out)[2]


def _interpreter(variable: str, module: str) -> str | None:
    given = os.environ.get(variable)
    if given:
        return given
    return sys.executable if importlib.util.find_spec(module) is not None else None


def peer_rows(s: Settings) -> None:
    crs = os.environ.get("WAFPY_CRS_DIR")
    peers = [
        ("ModSecurity + CRS", "WAFPY_MODSEC_PYTHON", "libmodsecurity", _MODSEC, 50, 20 if s.quick else 60),
        ("lewaf + CRS", "WAFPY_LEWAF_PYTHON", "lewaf", _LEWAF, 500, 3 if s.quick else 10),
    ]
    acl = wafpy.load_web_acl(
        realistic_acl.web_acl(), resources=realistic_acl.resources(), search_string="text"
    )
    cases = _cases()

    def evaluate(raw: dict[str, Any]) -> Callable[[], Any]:
        def run() -> Any:
            return acl.evaluate(wafpy.Request.from_log(raw, 0, body_available=True))

        return run

    ours = {name: _median_us(evaluate(raw), 300) for name, raw in cases.items()}
    for peer, variable, module, script, target, number in peers:
        python = _interpreter(variable, module)
        reason = ""
        if crs is None or not Path(crs, "rules").is_dir():
            reason = "WAFPY_CRS_DIR does not name a CRS v4 folder"
        elif python is None:
            reason = f"`{module}` is not installed here and {variable} is not set"
        if reason or crs is None or python is None:
            s.add(Row("peers", f"{peer} / wafpy, CPU per request", None, f"≥ {target}×", None, reason))
            continue
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
            json.dump({name: _peer_request(raw) for name, raw in cases.items()}, file)
        try:
            done = subprocess.run(
                [python, "-c", script, crs, file.name, str(number)],
                capture_output=True,
                text=True,
                timeout=900,
            )
        finally:
            os.unlink(file.name)
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
            s.add(Row("peers", f"{peer} / wafpy, CPU per request", None, f"≥ {target}×", None, tail[0]))
            continue
        theirs = json.loads(done.stdout.strip().splitlines()[-1])
        for name, (us, blocked) in theirs.items():
            ratio = us / ours[name]
            s.add(
                Row(
                    "peers",
                    f"{peer} / wafpy, CPU per request, {name}",
                    ratio,
                    f"≥ {target}×",
                    ratio >= target,
                    f"{us:,.0f} vs {ours[name]:.1f} µs; peer {'blocked' if blocked else 'allowed'} it",
                )
            )
