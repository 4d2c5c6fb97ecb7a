"""Matcher builders, one module per statement family; `engine.compile` dispatches to them by node type."""
