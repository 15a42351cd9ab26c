"""Shared by ci/prove.py and ci/bench_matrix.py: run the grid in its own pytest process and read
the verdicts it recorded (results/cells.json of that run)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = ROOT / ".venv" / "bin" / "python"


@dataclass
class GridRun:
    rc: int
    seconds: float
    cells: list[dict]

    def failed(self) -> list[dict]:
        return [c for c in self.cells if c["verdict"] == "failed"]

    def count(self, verdict: str) -> int:
        return sum(c["verdict"] == verdict for c in self.cells)


def run_grid(results_dir: Path, args: list[str], env: dict[str, str] | None = None,
             log: Path | None = None, timeout: float = 4 * 3600) -> GridRun:
    """pytest tests/grid with `args`; its output goes to `log` (the console stays readable)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    cmd = [str(PY if PY.exists() else sys.executable), "-m", "pytest", "tests/grid", "-q", "-rN",
           "--results-dir", str(results_dir), *args]
    log = log or results_dir / "pytest.log"
    t0 = time.monotonic()
    with open(log, "w") as out:
        try:
            rc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=out,
                                stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = -1
    seconds = time.monotonic() - t0
    try:
        cells = json.loads((results_dir / "cells.json").read_text())["cells"]
    except (OSError, ValueError, KeyError):
        cells = []
    return GridRun(rc, seconds, cells)


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
