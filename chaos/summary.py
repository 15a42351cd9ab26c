"""results/chaos/summary.jsonl: one row per experiment run, appended by tests/chaos, read back by
the results merge (harness/chaos_cells.py) and `make prove` (ci/prove.py).

A row: {"experiment", "kind": "reference" | "variant", "variant": name | null, "passed": true |
false | null (null: not run, "reason" says why), "duration_s", "status", "deviated", "problems":
[first ten], "stack": [apps installed for it], "node": the node its cells count for}.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Iterable

from node.deletion import NodeError, safe_unlink

REFERENCE, VARIANT = "reference", "variant"
FILE = "summary.jsonl"


def row(experiment: str, kind: str, variant: str | None, passed: bool | None, *, node: str,
        stack: Iterable[str], problems: Iterable[str] = (), reason: str = "", duration: float = 0.0,
        journal: dict | None = None) -> dict:
    journal = journal or {}
    out = {"experiment": experiment, "kind": kind, "variant": variant, "passed": passed,
           "duration_s": round(duration, 1), "status": journal.get("status"), "deviated": journal.get("deviated"),
           "problems": list(problems)[:10], "stack": list(stack), "node": node}
    return {**out, "reason": reason} if reason else out


def path(results_dir: Path | str) -> Path:
    return Path(results_dir) / "chaos" / FILE


def fresh(results_dir: Path | str) -> None:
    """Drop a previous run's rows (the file is appended to), only inside the results dir."""
    safe_unlink(path(results_dir), within=results_dir)


def append(path: Path, record: dict) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def parse(text: str, where: str) -> list[dict]:
    """The rows of a summary file; ValueError names the first bad line (`where:line: what`)."""
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except ValueError as e:
            raise ValueError(f"{where}:{n}: not JSON: {e}") from None
        if not (isinstance(r, dict) and isinstance(r.get("experiment"), str)
                and r.get("kind") in (REFERENCE, VARIANT) and r.get("passed") in (True, False, None)):
            raise ValueError(f"{where}:{n}: not a chaos summary row (experiment, kind reference|variant, "
                             "passed true|false|null)")
        rows.append(r)
    return rows


def read(path: Path | str) -> list[dict]:
    """The rows of a summary file; none when the file does not exist (nothing ran)."""
    p = Path(path)
    try:
        return parse(p.read_text(encoding="utf-8"), str(p))
    except FileNotFoundError:
        return []
    except OSError as e:
        raise ValueError(f"{p}: cannot read: {e.strerror}") from None


def main(argv: list[str]) -> int:
    """python -m chaos.summary --fresh RESULTS_DIR (make beta-matrix CHAOS=1, before the chaos run)."""
    if len(argv) != 2 or argv[0] != "--fresh":
        print("usage: python -m chaos.summary --fresh RESULTS_DIR", file=sys.stderr)
        return 2
    try:
        fresh(argv[1])
    except (NodeError, OSError) as e:
        print(f"chaos.summary: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
