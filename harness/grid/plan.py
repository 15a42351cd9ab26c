"""Pure planning of a grid run: install stacks, the snapshot ladder, cell order and batches.

Ladder mode (the fast way, YunoHost-style): apps that can live together form a *line*
installed one app at a time from golden; the state after each install is a rung (a saved
snapshot), so a cell that needs "X installed" restores a rung instead of reinstalling.
Read-only cells share one state without restoring; cells that share one expensive action
(restart the dependencies, reboot, soak) form a *batch* that runs the action once and keeps a
verdict per cell.
Naive mode (the baseline the benchmark compares with): every cell starts from golden, installs
its app's stack and runs alone.

Which state a cell needs, whether it restores it and whether it joins a batch come from its
event's declared traits (harness/grid/event.py); the table of events, in the order a line runs
them, is the caller's (harness.events.EVENTS).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from harness.grid.event import GridEvent
from matrix.model import Cell, Matrix
from matrix.stack import PlanError, stack

LADDER, NAIVE = "ladder", "naive"
MODES = (LADDER, NAIVE)
Events = Mapping[str, GridEvent]    # event id -> declaration, in the order a line runs them


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


def event_of(events: Events, cell: Cell) -> GridEvent:
    if cell.event not in events:
        raise PlanError(f"no event module for {cell.event!r} (known: {', '.join(events)})")
    return events[cell.event]


def plan(matrix: Matrix, cells: list[Cell], mode: str = LADDER, *, events: Events) -> list[Step]:
    """The cells in run order with the state each needs and the batch it belongs to."""
    if mode not in MODES:
        raise PlanError(f"unknown grid mode {mode!r} (use {' or '.join(MODES)})")
    for c in cells:
        event_of(events, c)
    if mode == NAIVE:
        steps = []
        for c in cells:
            line = tuple(stack(matrix, c.app))           # its app is the last of its own stack
            rung = events[c.event].rung(len(line) - 1, len(line))
            steps.append(Step(c, line, rung, True, (c.app,), NAIVE))
        return steps
    selected = list(dict.fromkeys(c.app for c in cells))
    all_lines = lines(matrix, selected)
    line_of = {a: line for line in all_lines for a in line}
    steps = []
    for line in all_lines:
        mine = [c for c in cells if line_of[c.app] == line]
        for ev in events.values():        # fresh installs build the rungs, rung-level cells come last
            phase_cells = sorted((c for c in mine if c.event == ev.name), key=lambda c: line.index(c.app))
            batch = tuple(c.app for c in phase_cells)
            for c in phase_cells:
                rung = ev.rung(line.index(c.app), len(line))
                steps.append(Step(c, line, rung, not ev.read_only, batch if ev.batched else (c.app,)))
    return steps


def order_key(steps: list[Step]) -> dict[str, int]:
    """Cell id -> position, for sorting pytest items into the planned order."""
    return {s.cell.id: i for i, s in enumerate(steps)}
