"""Every file a pytest run wrote, redacted at its end: junit.xml, Allure results, cells.json,
artifacts, chaos journals, soak timelines and reports, logs. Run on the controller once every
process has handed over the secrets it learned (harness.plugin); the redaction itself is
node.redact, this module is its file I/O (and the console's stream).

"Wrote" is "modified since the run started": results kept from an earlier run are not touched.
Symbolic links are not followed (nothing outside the roots is rewritten); binary files are skipped.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from node.redact import redact, redact_bytes

SLACK = 2.0      # seconds: file systems with a coarse mtime


@dataclass
class Sweep:
    redacted: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    files: int = 0                                   # files searched after redaction
    secrets: int = 0                                 # distinct secret values searched for
    leaks: list[str] = field(default_factory=list)   # "path: N occurrence(s) of secret #k" (never the value)


def written_files(roots: Iterable[Path], since: float) -> list[Path]:
    """Regular files under the roots (a root may be a file) modified at or after `since`."""
    seen, out = set(), []
    for p in (f for root in roots for f in _walk(Path(root))):
        try:
            st = p.lstat()
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_mtime >= since - SLACK and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            out.append(p)
    return sorted(out)


def _walk(root: Path):
    if root.is_file() and not root.is_symlink():
        yield root
        return
    for d, _dirs, files in os.walk(root, followlinks=False):   # a missing root yields nothing
        yield from (Path(d) / f for f in files)


def redact_file(path: Path, secrets: Iterable[str]) -> bytes | None:
    """Rewrite `path` redacted (atomically, its mode kept); returns the new bytes, None when
    nothing needed masking."""
    data = path.read_bytes()
    new = redact_bytes(data, path.name, secrets)
    if new is None:
        return None
    tmp = path.with_name(f".{path.name}.redacting")
    tmp.write_bytes(new)
    os.chmod(tmp, path.stat().st_mode & 0o7777)
    os.replace(tmp, path)
    return new


def redact_outputs(roots: Iterable[Path], since: float, secrets: Iterable[str]) -> Sweep:
    """Redact every file the run wrote under `roots`, then search what each file holds now,
    binary ones included (redaction skips those), for every secret's raw value: the proof that
    redaction held, in the same pass. An unreadable file is named, never fatal."""
    secrets = tuple(secrets)
    needles = sorted({s.encode() for s in secrets if s})
    sweep = Sweep(secrets=len(needles))
    for p in written_files(roots, since):
        try:
            new = redact_file(p, secrets)
            data = new if new is not None else p.read_bytes()
        except OSError as e:
            sweep.errors.append(f"{p}: {e.strerror or e}")
            continue
        if new is not None:
            sweep.redacted.append(p)
        sweep.files += 1
        sweep.leaks += [f"{p}: {n} occurrence(s) of secret #{k} ({len(needle)} bytes)"
                        for k, needle in enumerate(needles, 1) if (n := data.count(needle))]
    return sweep


class RedactingStream:
    """A text stream redacting every write: the console, and the pytest.log a CI step pipes it to,
    is written after the files are swept (pytest's summary follows sessionfinish)."""

    def __init__(self, inner, secrets: Callable[[], Iterable[str]]):
        self._inner, self._secrets = inner, secrets

    def write(self, s: str) -> int:
        return self._inner.write(redact(s, self._secrets()))

    def __getattr__(self, name):            # flush, isatty, encoding, fileno: the stream's own
        return getattr(self._inner, name)
