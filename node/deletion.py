"""The controller's deletes (a tree, one file): only strictly inside a root its caller owns.

A root is the VM run root, the cache or the results dir. Paths are compared after resolving
symlinks and `..`, so `vm://..`, a symlink pointing out or a root of "/" never reach rmtree.
Allure's results dir is not a root of ours: it only loses Allure's own files (`clear_allure`).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from .api import NodeError

# files allure-pytest writes (https://allurereport.org/docs/how-it-works-test-result-file/)
ALLURE_FILES = ("*-result.json", "*-container.json", "*-attachment.*")
MOUNTS = "/proc/self/mounts"


class DeletionRefused(NodeError):
    """A recursive delete outside the root its caller owns (or of that root itself)."""


def checked(path: str | os.PathLike, within: str | os.PathLike) -> Path:
    """`path` resolved, when it lies strictly inside the resolved root `within`; else DeletionRefused."""
    root, real = Path(os.path.realpath(within)), Path(os.path.realpath(path))
    home = Path(os.path.realpath(Path.home()))
    if root == Path(root.anchor) or root == home or root in home.parents:
        raise DeletionRefused(f"refusing to delete {path}: its root {within} is {root}, "
                              "too wide to own (set ARCHY_RUN / ARCHY_CACHE / --results-dir to a dir of its own)")
    if real == root or root not in real.parents:
        raise DeletionRefused(f"refusing to delete {path}: it resolves to {real}, "
                              f"which is not inside {root}")
    return real


def safe_rmtree(path: str | os.PathLike, *, within: str | os.PathLike) -> None:
    """rm -r of `path` inside the root `within`; refuses to descend into mounts (a chroot's /dev
    or /proc left by a killed build). A missing path is fine."""
    real = checked(path, within)
    with open(MOUNTS) as f:
        mounts = [line.split()[1] for line in f]
    inside = [m for m in mounts if m == str(real) or m.startswith(f"{real}/")]
    if inside:
        raise DeletionRefused(f"refusing to delete {path}: still mounted: {', '.join(inside)} (umount them first)")
    shutil.rmtree(real, ignore_errors=True)


def safe_unlink(path: str | os.PathLike, *, within: str | os.PathLike) -> None:
    """rm -f of one file inside the root `within` (checked as safe_rmtree's path is). A missing file
    is fine; a directory is refused (IsADirectoryError), never emptied."""
    checked(path, within).unlink(missing_ok=True)


def clear_allure(d: str | os.PathLike) -> list[Path]:
    """Delete the result files a previous allure-pytest run left in `d` (top level only), nothing
    else: `--alluredir .` must not cost the working directory. Returns what was deleted."""
    gone = []
    for pattern in ALLURE_FILES:
        for f in Path(d).glob(pattern):
            if f.is_file() or f.is_symlink():
                f.unlink(missing_ok=True)
                gone.append(f)
    return gone
