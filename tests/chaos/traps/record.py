"""Re-record the trap journals with the stock CLI (default strategies, as a user would run it).

  .venv/bin/python tests/chaos/traps/record.py
Each trap is an experiment where `chaos run` reports success (or skips what matters) although
nothing was tested; tests/unit/test_chaos_verdict.py checks chaos.verdict catches every one.
"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]


def record(exp: Path, out: Path, timeout: float = 120) -> int:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(Path(sys.executable).parent / "chaos"), "--no-version-check", "--log-file",
               f"{tmp}/log", "run", "--journal-path", str(out), str(exp)]
        return subprocess.run(cmd, env=env, cwd=tmp, timeout=timeout, capture_output=True).returncode


def main() -> int:
    rcs = {}
    for exp in sorted(HERE.glob("*.json")):
        rcs[exp.stem] = record(exp, HERE / "journals" / exp.name)
    (HERE / "journals" / "exit_codes.json").write_text(json.dumps(rcs, indent=2, sort_keys=True) + "\n")
    print(json.dumps(rcs, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
