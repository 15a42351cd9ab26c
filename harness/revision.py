"""The commit under test: `git rev-parse HEAD` of this checkout, recorded in results/cells.json and
in a soak's timeline so level 7 can ask whether the nightly soak is of the same commit."""
from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def commit(root: Path = ROOT) -> str | None:
    """The checkout's HEAD, or None outside a git checkout (or without git)."""
    try:
        r = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                           timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = r.stdout.strip()
    return out if r.returncode == 0 and len(out) == 40 else None
