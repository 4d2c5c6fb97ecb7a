"""Detection and false positives of the bundled managed rule groups, beside ModSecurity + OWASP CRS.

    python -m bench.detection                    # everything, writes docs/detection.md
    python bench/detection/run.py --help

One list of requests is built from the shared corpora (the OWASP CRS regression tests, rebuilt as
go-ftw sends them; libinjection's samples; the PayloadsAllTheThings lists; the benign sets; the
requests AWS WAF allowed in real logs) and every engine sees exactly that list:

* wafpy, with a web ACL that references each bundled AWS managed rule group (`cases`, `engines`);
* ModSecurity v3 + OWASP CRS 4.21 at paranoia level 1, in this process (the `bench` extra);
* lewaf + the same CRS, a pure-Python CRS engine that needs Python >= 3.12, driven as a
  subprocess in its own virtual environment (`lewaf_worker`).

`report` turns the verdicts and CPU times into the Markdown table of docs/detection.md.
"""
