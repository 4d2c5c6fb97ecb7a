"""lewaf's own virtual environment, and the subprocess that runs it over the cases.

lewaf 0.7.6 requires Python >= 3.12 while wafpy supports 3.11, so it gets its own venv, made once
under the git-ignored `.peers/` folder of the repository (or `--peers-dir`) with the first
Python >= 3.12 found: `--lewaf-python`, `python3.12`/`python3.13`/`python3.14` on PATH, or a pyenv
version. The worker (`lewaf_worker.py`) is a plain script; it reads the cases on stdin and
answers with one JSON object.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.detection.cases import Case
from bench.detection.engines import Outcome

LEWAF = "lewaf==0.7.6"
WORKER = Path(__file__).with_name("lewaf_worker.py")


def find_python312(given: str | None) -> str | None:
    """A Python >= 3.12 interpreter, or None."""
    candidates: list[str] = [given] if given else []
    candidates += [p for name in ("python3.12", "python3.13", "python3.14") if (p := shutil.which(name))]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv.is_dir():
        candidates += [str(p) for p in sorted(pyenv.glob("3.1[2-9]*/bin/python"))]
    for candidate in candidates:
        probe = [candidate, "-c", "import sys; print(sys.version_info >= (3, 12))"]
        try:
            if subprocess.run(probe, capture_output=True, text=True, check=False).stdout.strip() == "True":
                return candidate
        except OSError:
            continue
    return None


def lewaf_python(peers_dir: Path, given: str | None) -> Path:
    """The venv's interpreter, creating the venv and installing lewaf when missing."""
    venv = peers_dir / "lewaf"
    python = venv / "bin" / "python"
    if python.exists():
        return python
    base = find_python312(given)
    if base is None:
        raise RuntimeError("lewaf needs Python >= 3.12: none found (give one with --lewaf-python)")
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", LEWAF], check=True)
    return python


def run_lewaf(python: Path, crs: Path, cases: Sequence[Case]) -> Outcome:
    feed = "".join(json.dumps(c.to_json()) + "\n" for c in cases)
    done = subprocess.run(
        [str(python), str(WORKER), str(crs)], input=feed, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise RuntimeError(f"the lewaf worker failed (exit {done.returncode})")
    answer = json.loads(done.stdout)
    batches = [(str(s), int(n), float(t)) for s, n, t in answer["batches"]]
    version = subprocess.run(
        [str(python), "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return Outcome(
        "lewaf + CRS",
        [bool(b) for b in answer["blocked"]],
        batches,
        errors=int(answer["errors"]),
        note=f"{LEWAF} on Python {version}, CRS 4.21.0 (loaded in {answer['load_s']:.1f} s CPU)",
    )
