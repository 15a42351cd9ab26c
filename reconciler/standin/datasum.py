"""The data checksum the matrix compares before and after an event."""
import hashlib
import os
from pathlib import Path

from .faults import FAULT_FILE

# Files that exist only while running or only between runs, and a test's fault switch: not data.
RUNTIME_NAMES = frozenset({"LOCK", ".clean_shutdown", FAULT_FILE})


def is_runtime(name: str) -> bool:
    return name in RUNTIME_NAMES or name.endswith(".tmp")


def data_checksum(root: Path) -> str:
    """sha256 over (relative path, size, content) of every regular file under root, sorted by path."""
    total = hashlib.sha256()
    if not root.is_dir():
        return total.hexdigest()
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            if not is_runtime(name):
                full = Path(dirpath) / name
                if full.is_file() and not full.is_symlink():
                    entries.append((full.relative_to(root).as_posix(), full))
    for rel, full in sorted(entries):
        try:
            content = full.read_bytes()
        except OSError:
            continue  # vanished while walking
        total.update(f"{rel}\0{len(content)}\0".encode())
        total.update(hashlib.sha256(content).digest())
    return total.hexdigest()
