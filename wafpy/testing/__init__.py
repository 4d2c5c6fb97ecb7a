"""Unit tests for web ACLs: case files read, checked and run (`wafpy test` and the pytest plugin).

A case file holds a web ACL (inline, or a path relative to the file), its resources, and requests
with what AWS WAF should decide for each: the action, the terminating rule, labels. It is the
format of the project's conformance cases, in JSON or YAML; docs/testing-web-acls.md describes it
for users. Everything in a file is checked when it is read, so a typo in a key is an error naming
the place (`cases[2].expect.acton`), never a test that silently checks nothing.

The cases of a file are sent in order to one web ACL instance, so rate-based state carries from
case to case, and a file is always run whole: selecting one case still evaluates those before it.
"""

from wafpy.testing.cases import (
    ACTIONS,
    CASE_SUFFIXES,
    Case,
    CaseFile,
    CaseFileError,
    Expect,
    Outcome,
    build_request,
    find_case_files,
    parse_expect,
    read_case_file,
)
from wafpy.testing.run import (
    check,
    describe_request,
    failure_lines,
    format_trace,
    load_acl,
    run_case_file,
)

__all__ = [
    "ACTIONS",
    "CASE_SUFFIXES",
    "Case",
    "CaseFile",
    "CaseFileError",
    "Expect",
    "Outcome",
    "build_request",
    "check",
    "describe_request",
    "failure_lines",
    "find_case_files",
    "format_trace",
    "load_acl",
    "parse_expect",
    "read_case_file",
    "run_case_file",
]
