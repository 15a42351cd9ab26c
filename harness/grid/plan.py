"""Pure planning of a grid run: install stacks, the snapshot ladder, cell order and batches.

Ladder mode (the fast way, YunoHost-style): apps that can live together form a *line*
installed one app at a time from golden; the state after each install is a rung (a saved
snapshot), so a cell that needs "X installed" restores a rung instead of reinstalling.
Read-only cells share one state without restoring; cells that share one expensive action
(restart the dependencies, reboot, soak) form a *batch* that runs the action once and keeps a
verdict per cell.
Naive mode (the baseline the benchmark compares with): every cell starts from golden, installs
its app's stack and runs alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from matrix.model import Cell, Matrix
from matrix.stack import PlanError, stack

LADDER, NAIVE = "ladder", "naive"
MODES = (LADDER, NAIVE)
BATCHED = ("restart_integrations", "reboot_survival", "soak")
READ_ONLY = ("ui_direct_port", "ui_https_proxy", "ui_iframe", "tor_onion")
# Phase order within a line; fresh installs build the rungs, rung-level cells come last.
PHASES = ("fresh_install", *READ_ONLY, "restart_integrations", "stop_ports_released",
          "reboot_survival", "soak", "reinstall_idempotent", "uninstall_no_orphans")
ON_FULL_LINE = ("restart_integrations", "stop_ports_released", "reboot_survival", "soak", *READ_ONLY)


@dataclass(frozen=True)
class Step:
    cell: Cell
    line: tuple[str, ...]         # install order of the apps of this state's line
    rung: int                     # how many apps of `line` the cell needs installed first
    clean: bool                   # restore the rung even when the current state is "dirty"
    batch: tuple[str, ...]        # apps whose cells share this cell's expensive action
    mode: str = LADDER

    @property
    def installed(self) -> tuple[str, ...]:
        return self.line[: self.rung]

    @property
    def batch_key(self) -> str:
        return f"{self.cell.event}@{'+'.join(self.line)}#{self.mode}:{'+'.join(self.batch)}"


def _conflicts(matrix: Matrix, a: str, others: Iterable[str]) -> bool:
    return any(o in matrix.apps[a].conflicts or a in matrix.apps[o].conflicts for o in others)


def lines(matrix: Matrix, apps: Iterable[str]) -> list[tuple[str, ...]]:
    """Group the selected apps into lines of apps that can be installed together."""
    out: list[list[str]] = []
    for a in apps:
        for line in out:
            if a in line:
                break
            try:
                extra = stack(matrix, a, line)
            except PlanError:
                continue
            if not any(_conflicts(matrix, x, line) for x in extra):
                line.extend(extra)
                break
        else:
            out.append(stack(matrix, a))
    return [tuple(line) for line in out]


def plan(matrix: Matrix, cells: list[Cell], mode: str = LADDER) -> list[Step]:
    """The cells in run order with the state each needs and the batch it belongs to."""
    if mode not in MODES:
        raise PlanError(f"unknown grid mode {mode!r} (use {' or '.join(MODES)})")
    if mode == NAIVE:
        steps = []
        for c in cells:
            line = tuple(stack(matrix, c.app))
            rung = len(line) - 1 if c.event == "fresh_install" else len(line)
            steps.append(Step(c, line, rung, True, (c.app,), NAIVE))
        return steps
    selected = list(dict.fromkeys(c.app for c in cells))
    all_lines = lines(matrix, selected)
    line_of = {a: line for line in all_lines for a in line}
    steps = []
    for line in all_lines:
        mine = [c for c in cells if line_of[c.app] == line]
        for phase in PHASES:
            phase_cells = sorted((c for c in mine if c.event == phase), key=lambda c: line.index(c.app))
            batch = tuple(c.app for c in phase_cells)
            for c in phase_cells:
                i = line.index(c.app)
                if phase == "fresh_install":
                    rung, clean = i, True
                elif phase in ON_FULL_LINE:
                    rung, clean = len(line), phase not in READ_ONLY
                else:                      # needs the app installed as the leaf of its rung
                    rung, clean = i + 1, True
                steps.append(Step(c, line, rung, clean, batch if phase in BATCHED else (c.app,)))
    return steps


def order_key(steps: list[Step]) -> dict[str, int]:
    """Cell id -> position, for sorting pytest items into the planned order."""
    return {s.cell.id: i for i, s in enumerate(steps)}
