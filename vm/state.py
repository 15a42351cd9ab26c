"""A saved VM state on disk: a frozen disk plus QEMU's memory state, restored in seconds."""
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Golden:
    dir: Path
    disk = property(lambda self: self.dir / "golden.qcow2")
    state = property(lambda self: self.dir / "golden.state")

    @property
    def manifest(self) -> dict:
        return json.loads((self.dir / "manifest.json").read_text())
