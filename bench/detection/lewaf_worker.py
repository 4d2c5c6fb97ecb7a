"""Runs lewaf + OWASP CRS over the benchmark's cases; started by `peers.run_lewaf` in lewaf's venv.

    python lewaf_worker.py CRS_DIR < cases.jsonl > outcome.json

lewaf needs Python >= 3.12 and is not installed beside wafpy, so this file imports nothing of the
project: it reads one JSON case a line (`Case.to_json`), runs each through a lewaf transaction as
`../shared/PEERS.md` describes (URI and method, headers, phase 1; body, phase 2; a returned
interruption means blocked), and writes one JSON object: the verdicts, and per batch of
consecutive cases of one set its CPU time (`time.process_time` of this process).
"""

from __future__ import annotations

import base64
import json
import logging
import sys
import time
from typing import Any

BATCH = 20


def main() -> int:
    # lewaf logs every loaded rule at INFO and every block at WARNING; neither belongs in the timing.
    logging.disable(logging.CRITICAL)
    from lewaf.config.models import WAFConfig  # type: ignore[import-not-found, unused-ignore]
    from lewaf.integration import WAF  # type: ignore[import-not-found, unused-ignore]

    crs = sys.argv[1]
    loading = time.process_time()
    waf = WAF(WAFConfig(rule_files=[f"{crs}/crs-setup.conf.example", f"{crs}/rules/*.conf"]))
    load_s = time.process_time() - loading
    cases = [json.loads(line) for line in sys.stdin if line.strip()]

    def verdict(case: dict[str, Any]) -> bool:
        tx = waf.new_transaction()
        tx.process_uri(case["target"], case["method"])
        headers: dict[str, str] = {}
        for name, value in case["headers"]:
            headers[name] = value
        tx.add_request_headers(headers)
        if tx.process_request_headers():
            return True
        body = base64.b64decode(case["body"])
        if body:
            # The Content-Type is among the headers already; giving it again would duplicate it.
            tx.add_request_body(body, "")
        return bool(tx.process_request_body())

    blocked: list[bool] = []
    batches: list[tuple[str, int, float]] = []
    errors = 0
    start = 0
    while start < len(cases):
        stop = start + 1
        while stop < len(cases) and stop - start < BATCH and cases[stop]["set"] == cases[start]["set"]:
            stop += 1
        begin = time.process_time()
        for case in cases[start:stop]:
            try:
                blocked.append(verdict(case))
            except Exception:  # lewaf raising on an odd request: counted, not fatal
                blocked.append(False)
                errors += 1
        batches.append((cases[start]["set"], stop - start, time.process_time() - begin))
        start = stop
    json.dump({"blocked": blocked, "batches": batches, "errors": errors, "load_s": load_s}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
