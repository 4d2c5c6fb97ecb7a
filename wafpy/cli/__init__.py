"""The `wafpy` command line: eval, validate and explain."""
