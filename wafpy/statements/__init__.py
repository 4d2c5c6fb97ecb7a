"""Matcher builders, one module per statement family; `wafpy.compile` dispatches to them by node type."""
