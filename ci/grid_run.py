"""Shared by ci/prove.py and ci/bench_matrix.py: run the grid (or the chaos suite) in its own
pytest process and read the verdicts it recorded (results/cells.json, results/chaos/summary.jsonl
of that run)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from chaos import summary
from node.deletion import safe_unlink

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


@dataclass
class ChaosRun:
    rc: int
    seconds: float
    rows: list[dict]        # chaos/summary.py rows
    problem: str = ""       # why the rows could not be read


def _pytest(tests: str, results_dir: Path, args: list[str], env: dict[str, str] | None,
            log: Path | None, timeout: float) -> tuple[int, float]:
    """pytest `tests` with `args`; its output goes to `log` (the console stays readable)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    cmd = [str(PY if PY.exists() else sys.executable), "-m", "pytest", tests, "-q", "-rN",
           "--results-dir", str(results_dir), *args]
    log = log or results_dir / "pytest.log"
    t0 = time.monotonic()
    with open(log, "w") as out:
        try:
            rc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=out,
                                stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = -1
    return rc, time.monotonic() - t0


def run_grid(results_dir: Path, args: list[str], env: dict[str, str] | None = None,
             log: Path | None = None, timeout: float = 4 * 3600) -> GridRun:
    safe_unlink(results_dir / "cells.json", within=results_dir)   # a run that records nothing shows none
    rc, seconds = _pytest("tests/grid", results_dir, args, env, log, timeout)
    try:
        cells = json.loads((results_dir / "cells.json").read_text())["cells"]
    except (OSError, ValueError, KeyError):
        cells = []
    return GridRun(rc, seconds, cells)


def run_chaos(results_dir: Path, experiments: list[str], args: list[str], variants: bool,
              log: Path | None = None, timeout: float | None = None) -> ChaosRun:
    """The chaos suite's `experiments` against the reference and, with `variants`, each against the
    broken variant its file names; a fresh summary (the file is appended to)."""
    summary.fresh(results_dir)
    env = {"ARCHY_CHAOS_SUITE": "all", "ARCHY_CHAOS_EXPERIMENTS": ",".join(experiments),
           "ARCHY_CHAOS_VARIANTS": "1" if variants else "0", "ARCHY_RECONCILER_VARIANT": ""}   # rows of the reference
    rc, seconds = _pytest("tests/chaos/test_experiments.py", results_dir, args, env, log,
                          timeout or 3600 + 2 * 1500 * len(experiments))
    try:
        return ChaosRun(rc, seconds, summary.read(summary.path(results_dir)))
    except ValueError as e:
        return ChaosRun(rc, seconds, [], str(e))


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
