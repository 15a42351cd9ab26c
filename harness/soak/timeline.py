"""The soak timeline: an append-only JSON-lines file, fsynced after every record.

A crash of the harness loses at most the record being written; the reader skips a
torn last line (and says so) instead of failing, so a soak can be resumed or re-rendered.
Record kinds: "meta" (first line: node, apps, duration, interval, bounds), "sample",
"event" (install done, resume, operator note), "end".
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

VERSION = 1


class TimelineError(ValueError):
    pass


class TimelineWriter:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        # A torn last line from a crash would glue onto the next record: terminate it.
        if self.path.stat().st_size:
            with open(self.path, "rb") as f:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    os.write(self._fd, b"\n")

    def append(self, record: dict) -> None:
        line = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
        os.write(self._fd, line.encode())
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@dataclass
class Timeline:
    meta: dict
    samples: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    end: dict | None = None
    skipped_lines: list[int] = field(default_factory=list)   # torn or foreign lines

    @property
    def sampled_span(self) -> float:
        """Seconds of soak the samples cover (first to last sample, resumes included)."""
        if len(self.samples) < 2:
            return 0.0
        return self.samples[-1]["t"] - self.samples[0]["t"]


def read_timeline(path: Path) -> Timeline:
    path = Path(path)
    if not path.is_file():
        raise TimelineError(f"{path}: no such timeline file")
    meta, samples, events, end, skipped = None, [], [], None, []
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                skipped.append(lineno)
                continue
            kind = rec.get("kind") if isinstance(rec, dict) else None
            if kind == "meta" and meta is None:
                meta = rec
            elif kind == "sample":
                samples.append(rec)
            elif kind == "event":
                events.append(rec)
            elif kind == "end":
                end = rec
            else:
                skipped.append(lineno)
    if meta is None:
        raise TimelineError(f"{path}:1: not a soak timeline (no meta record)")
    if meta.get("version") != VERSION:
        raise TimelineError(f"{path}:1: timeline version {meta.get('version')!r}, expected {VERSION}")
    samples.sort(key=lambda s: s.get("t", 0))
    return Timeline(meta, samples, events, end, skipped)
