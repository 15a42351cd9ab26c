"""Checks of host prerequisites, each failing with the fix in the message."""
import os
import shutil
from pathlib import Path

from .errors import PrerequisiteMissing

# tool -> Debian package that provides it (all installed by `make setup`)
TOOL_PACKAGES = {
    "qemu-system-x86_64": "qemu-system-x86",
    "qemu-img": "qemu-utils",
    "mmdebstrap": "mmdebstrap",
    "mkfs.ext4": "e2fsprogs",
    "ssh-keygen": "openssh-client",
    "ssh": "openssh-client",
}


def require_tools(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            pkg = TOOL_PACKAGES.get(tool, tool)
            raise PrerequisiteMissing(
                f"{tool} not found: run `make setup` or `apt-get install {pkg}`")


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise PrerequisiteMissing(f"{what} needs root (mmdebstrap --mode=root): run it as root")


def require_free_space(path: Path, gib: float) -> None:
    path.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(path).free / 2**30
    if free < gib:
        raise PrerequisiteMissing(
            f"only {free:.1f} GiB free under {path}, need {gib:.0f} GiB: "
            f"free some space or point ARCHY_CACHE/ARCHY_RUN elsewhere")
