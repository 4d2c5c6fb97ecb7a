"""Log replay for `wafpy eval`: the evaluation loop and workers, summaries, comparison, HTML report."""

from __future__ import annotations

from wafpy.replay.compare import Comparison
from wafpy.replay.runner import BadLine, Outcome, Replay, ReplayOptions, StrictStop
from wafpy.replay.summary import Summary

__all__ = ["BadLine", "Comparison", "Outcome", "Replay", "ReplayOptions", "StrictStop", "Summary"]
