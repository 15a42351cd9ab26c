"""The chaos suite as data: each experiment of chaos/experiments/*.json by name (its file's stem),
with what its `extensions[]` entry "archy" declares: the apps whose survival it judges, the broken
variant it must catch and the capabilities it needs.

An experiment's verdict is a cell of the results (`chaos:<name>`, one per app it involves), a MUST
cell for the gate and evidence for level 5 (harness/chaos_cells.py, matrix/standing.py).
Pure but for `load`; a bad file is one line naming it.

    python -m chaos.catalog                 the experiments, the apps each involves, its variant
    python -m chaos.catalog --check a,b     exit 2 with one line when a name is unknown
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from .verdict import metadata

EXPERIMENTS_DIR = Path(__file__).resolve().parent / "experiments"
PREFIX = "chaos:"          # a chaos cell's event in results/cells.json: chaos:<experiment>


class CatalogError(ValueError):
    """A bad experiment file or an unknown experiment name (one line)."""


class ExperimentError(Exception):
    """A bad experiment file or a run that could not even start (one-line message)."""


def load_experiment(path: str | Path) -> dict:
    """One experiment file, parsed (read here so the gate's system python needs no chaoslib)."""
    return _parse(_read(Path(path)), Path(path))


def _read(p: Path) -> str:
    try:
        return p.read_text(encoding="utf-8")
    except OSError as e:
        raise ExperimentError(f"{p}: cannot read: {e.strerror}") from None


def _parse(text: str, p: Path) -> dict:
    try:
        exp = json.loads(text)
    except json.JSONDecodeError as e:
        raise ExperimentError(f"{p}:{e.lineno}: invalid JSON: {e.msg}") from None
    if not isinstance(exp, dict):
        raise ExperimentError(f"{p}:1: an experiment is a JSON object")
    return exp


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    apps: tuple[str, ...]          # whose survival it judges: one chaos:<name> cell each
    broken_variant: str            # the reconciler variant it must fail against
    needs: tuple[str, ...]         # node capabilities (a node without one skips it)
    stack: tuple[str, ...]         # the apps its steady state expects installed by default


def event(name: str) -> str:
    return PREFIX + name


def experiment_of(event_id: str) -> str | None:
    """The experiment of a chaos cell's event, None for a grid event."""
    return event_id[len(PREFIX):] if event_id.startswith(PREFIX) else None


def entry(name: str, exp: Mapping, text: str = "", where: str = "") -> Experiment:
    """One experiment from its parsed file; `text` (the file) finds the line of a bad field."""
    meta = metadata(exp)
    where = where or name

    def bad(key: str, what: str) -> CatalogError:
        line = next((i for i, s in enumerate(text.splitlines(), 1) if f'"{key}"' in s), 0)
        return CatalogError(f"{where}{f':{line}' if line else ''}: extensions[archy].{key} {what}")

    def names(key: str, required: bool) -> tuple[str, ...]:
        v = meta.get(key, None if required else [])
        if not (isinstance(v, list) and all(isinstance(x, str) and x for x in v) and (v or not required)):
            raise bad(key, "must be a non-empty list of names" if required else "must be a list of names")
        return tuple(v)

    if not meta:
        raise CatalogError(f"{where}: no extensions[] entry named \"archy\" (apps, broken_variant, needs)")
    variant = meta.get("broken_variant")
    if not isinstance(variant, str) or not variant:
        raise bad("broken_variant", "must name the reconciler variant the experiment catches")
    stack = ((exp.get("configuration") or {}).get("stack") or {}).get("default", "")
    return Experiment(name, str(exp.get("title", "")), names("apps", True), variant, names("needs", False),
                      tuple(a for a in str(stack).split(",") if a))


def load(directory: Path | str | None = None) -> dict[str, Experiment]:
    """Every experiment file of the directory, by name in name order."""
    out = {}
    for p in sorted(Path(directory or EXPERIMENTS_DIR).glob("*.json")):
        try:
            text = _read(p)
            exp = _parse(text, p)
        except ExperimentError as e:
            raise CatalogError(str(e)) from None
        out[p.stem] = entry(p.stem, exp, text, str(p))
    return out


def select(catalog: Mapping[str, Experiment], names: str | Iterable[str] | None) -> list[str]:
    """The named experiments in catalog order; None or "" is all of them."""
    wanted = [n.strip() for n in (names.split(",") if isinstance(names, str) else names or ()) if n.strip()]
    if unknown := [n for n in wanted if n not in catalog]:
        raise CatalogError(f"unknown experiment(s) {', '.join(map(repr, unknown))}; "
                           f"known: {', '.join(catalog)}")
    return [n for n in catalog if n in wanted] if wanted else list(catalog)


def involving(catalog: Mapping[str, Experiment], app: str) -> list[str]:
    """The experiments that judge `app` (level 5 rests on all of them)."""
    return [n for n, e in catalog.items() if app in e.apps]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m chaos.catalog", description=__doc__.splitlines()[0])
    ap.add_argument("--check", metavar="NAMES", help="comma-separated experiment names to check")
    args = ap.parse_args(argv)
    try:
        catalog = load()
        chosen = select(catalog, args.check)
    except CatalogError as e:
        print(f"chaos: {e}", file=sys.stderr)
        return 2
    if args.check is None:
        for e in catalog.values():
            print(f"{e.name:32} {','.join(e.apps):20} {e.broken_variant}")
    else:
        print(f"chaos: {len(chosen)} experiment(s): {', '.join(chosen)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
