"""Where the peers come from, lewaf's own virtual environment, and the subprocess that runs it.

Both benchmarks that measure the peers (`python -m bench.detection`, and the peer rows of
`python -m bench.speed`) find them here: the OWASP CRS rules in the shared corpora beside the
repository (`CRS_DIR`), ModSecurity through the `libmodsecurity` wheel in this interpreter
(`pip install -e '.[bench]'`), lewaf in its venv under `.peers/` (`PEERS_DIR`).

lewaf 0.7.6 requires Python >= 3.12 while wafpy supports 3.11, so it gets its own venv, made once
under the git-ignored `.peers/` folder of the repository (or `--peers-dir`) with the first
Python >= 3.12 found: `--lewaf-python`, `python3.12`/`python3.13`/`python3.14` on PATH, or a pyenv
version. The worker (`lewaf_worker.py`) is a plain script; it reads the cases on stdin and
answers with one JSON object.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.detection.cases import Case
from bench.detection.engines import ROOT, Outcome

LEWAF = "lewaf==0.7.6"
WORKER = Path(__file__).with_name("lewaf_worker.py")
CORPORA = ROOT.parent / "shared" / "corpora"
CRS_VERSION = "v4.21.0"
CRS_DIR = CORPORA / "crs-rules" / CRS_VERSION
PEERS_DIR = ROOT / ".peers"


def missing_crs(crs: Path) -> str | None:
    """Why the CRS rules cannot be used from `crs`, or None when they can."""
    if (crs / "crs-setup.conf.example").is_file() and (crs / "rules").is_dir():
        return None
    return f"no CRS {CRS_VERSION} rules in the shared corpora (crs-rules/{CRS_VERSION})"


def missing_modsecurity() -> str | None:
    """Why ModSecurity cannot run here, or None when the `libmodsecurity` wheel is installed."""
    if importlib.util.find_spec("libmodsecurity") is not None:
        return None
    return "`libmodsecurity` is not installed (pip install -e '.[bench]', Linux x86_64)"


def installed_lewaf(peers_dir: Path) -> Path | None:
    """lewaf's venv interpreter when the venv exists (made by `lewaf_python`), else None."""
    python = peers_dir / "lewaf" / "bin" / "python"
    return python if python.exists() else None


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
    if installed_lewaf(peers_dir) is not None:
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
