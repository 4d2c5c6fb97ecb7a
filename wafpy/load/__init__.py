"""Load time: web ACL text -> parsed tree -> validated, typed model.

Parsing, validation against the
WAFv2 API shapes, building, resource resolution and capacity (WCU).
"""
