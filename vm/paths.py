"""Where the VM cache and the per-run state live (docs/architecture.md, "The embedded VM")."""
import os
from pathlib import Path

from node.names import HARNESS


def cache_root() -> Path:
    return Path(os.environ.get("ARCHY_CACHE") or Path.home() / ".cache" / HARNESS.project)


def run_root() -> Path:
    return Path(os.environ.get("ARCHY_RUN") or HARNESS.run_root)


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
