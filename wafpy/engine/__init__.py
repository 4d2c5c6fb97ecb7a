"""Request time: model -> compiled ACL, and Request -> Decision.

Closures per statement, a
generated scanner, evaluation in priority order, rate counting and responses.
"""
