"""Log replay for `wafpy eval`: the evaluation loop and workers, summaries, comparison, HTML report."""

from __future__ import annotations

from wafpy.replay.compare import Comparison
from wafpy.replay.outcome import BadLine, Outcome, ReplayOptions, StrictStop, UnreadableInput
from wafpy.replay.runner import Replay
from wafpy.replay.summary import Summary
from wafpy.replay.workers import WorkerDied

__all__ = [
    "BadLine",
    "Comparison",
    "Outcome",
    "Replay",
    "ReplayOptions",
    "StrictStop",
    "Summary",
    "UnreadableInput",
    "WorkerDied",
]
