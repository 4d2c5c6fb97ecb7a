"""Request bytes -> inspected elements -> tests.

Fields to match, JSON bodies, text
transformations, regexes, IP ranges and the SQLi/XSS detectors.
"""
