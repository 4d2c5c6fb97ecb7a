"""What the parts of `python -m bench.speed` share: the table's rows, the run's settings, the machine."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field


@dataclass
class Row:
    """One line of the table: `value` (a ratio, unless `unit` says otherwise) against a target."""

    section: str
    name: str
    value: float | None
    target: str = ""
    met: bool | None = None
    detail: str = ""
    unit: str = "×"

    def cells(self) -> list[str]:
        if self.value is None:
            shown = "skipped"
        elif self.unit == "×":
            shown = f"{self.value:.2f}×"
        else:
            shown = f"{self.value:,.1f} {self.unit}"
        verdict = "" if self.met is None else ("met" if self.met else "MISSED")
        return [self.section, self.name, shown, self.target, verdict, self.detail]


@dataclass
class Settings:
    quick: bool
    rounds: int  # interleaved rounds per in-process ratio
    http_seconds: float
    http_reps: int
    http_stacks: tuple[tuple[str, str], ...]
    records: int  # records per replay round
    worker_records: int
    rows: list[Row] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print("  " + " | ".join(c for c in row.cells() if c), flush=True)


def at_most(value: float, limit: float) -> bool:
    return value <= limit


def at_least(value: float, limit: float) -> bool:
    return value >= limit


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()} "
        f"{platform.release()}, load average {load:.2f} at the start"
    )


def markdown(rows: list[Row]) -> str:
    lines = ["| part | measure | value | target | | detail |", "|---|---|---:|---|---|---|"]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)
