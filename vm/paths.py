"""Where the VM cache and the per-run state live (docs/architecture.md, "The embedded VM")."""
import os
from pathlib import Path


def cache_root() -> Path:
    return Path(os.environ.get("ARCHY_CACHE") or Path.home() / ".cache" / "archy-lifecycle")


def run_root() -> Path:
    return Path(os.environ.get("ARCHY_RUN") or "/tmp/archy-lifecycle-runs")


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
