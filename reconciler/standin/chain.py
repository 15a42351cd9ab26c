"""bitcoind's block store: append-only files of hash-linked records, one fsynced line per block.

A torn last record (power cut mid-append) is truncated on load, as bitcoind discards a partial block;
a bad record anywhere else is corruption."""
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

BLOCKS_PER_FILE = 1000
GENESIS_PREV = "0" * 64


def block_hash(height: int, prev: str, timestamp: int) -> str:
    return hashlib.sha256(f"{height}|{prev}|{timestamp}".encode()).hexdigest()


def make_block(height: int, prev: str, timestamp: int) -> dict:
    return {"height": height, "prev": prev, "time": timestamp, "hash": block_hash(height, prev, timestamp)}


def valid_next(record: object, height: int, prev: str) -> bool:
    return (isinstance(record, dict) and record.get("height") == height and record.get("prev") == prev
            and isinstance(record.get("time"), int)
            and record.get("hash") == block_hash(height, prev, record["time"]))


@dataclass
class LoadResult:
    height: int                 # -1 when empty
    tip: str
    truncated_bytes: int = 0    # torn tail removed
    corrupt: str | None = None  # where verification failed


class Chain:
    def __init__(self, blocks_dir: Path):
        self.dir = blocks_dir
        self.height = -1
        self.tip = GENESIS_PREV
        self.corrupt: str | None = None

    def _files(self) -> list[Path]:
        return sorted(self.dir.glob("blk*.dat"))

    def load(self) -> LoadResult:
        self.dir.mkdir(parents=True, exist_ok=True)
        files = self._files()
        height, tip, truncated = -1, GENESIS_PREV, 0
        for index, path in enumerate(files):
            data = path.read_bytes()
            offset = 0
            for line in data.splitlines(keepends=True):
                try:
                    record = json.loads(line) if line.endswith(b"\n") else None
                except (ValueError, UnicodeDecodeError):
                    record = None
                if not valid_next(record, height + 1, tip):
                    rest = data[offset:]
                    if index == len(files) - 1 and rest.count(b"\n") <= 1:
                        truncated = len(rest)          # torn tail: the last, partial record
                        with open(path, "r+b") as fh:
                            fh.truncate(offset)
                            os.fsync(fh.fileno())
                        break
                    self.corrupt = f"{path.name} at byte {offset} (height {height + 1})"
                    self.height, self.tip = height, tip
                    return LoadResult(height, tip, truncated, self.corrupt)
                height, tip = record["height"], record["hash"]
                offset += len(line)
        self.height, self.tip, self.corrupt = height, tip, None
        return LoadResult(height, tip, truncated)

    def append(self, timestamp: int) -> dict:
        if self.corrupt:
            raise RuntimeError("block store is corrupt")
        block = make_block(self.height + 1, self.tip, timestamp)
        path = self.dir / f"blk{block['height'] // BLOCKS_PER_FILE:05d}.dat"
        new_file = not path.exists()
        with open(path, "ab") as fh:
            fh.write(json.dumps(block, separators=(",", ":")).encode() + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        if new_file:
            fsync_dir(self.dir)
        self.height, self.tip = block["height"], block["hash"]
        return block


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    fsync_dir(path.parent)
