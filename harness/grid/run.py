"""Running grid cells: prepare the state a cell needs (ladder), run batched actions once, judge.

`prepare` runs before the plugin's `cell` fixture takes its journal cursor, so restores, installs
of other apps and a batch's shared action stay out of a single cell's journal window; a batch
checks the journal itself and gives each app the error lines of its own units.

What a cell needs is read from its event's declared traits (harness/grid/event.py), never from
its name; the caller hands in the table of events (harness.events.EVENTS).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import allure

from harness import journal
from harness.grid import plan as planmod, variant
from harness.grid.context import CellContext, Options
from harness.grid.event import GridEvent
from harness.grid.ladder import Ladder
from matrix.model import Cell, Matrix
from node.names import Names
from node import timing
from vm.errors import GuestCrashed


@dataclass
class BatchResult:
    value: Any = None
    error: str | None = None
    journal: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cursor: str | None = None        # the journal before the shared action: the batch's check and failure artifacts start here
    crash: GuestCrashed | None = None  # the guest died during the shared action: each member fails with it


def journal_owner(matrix: Matrix, source: str, members: tuple[str, ...], *, names: Names) -> list[str]:
    """Which batch members a journal line's source belongs to (the reconciler: all of them)."""
    name = source.removesuffix(".service")
    for a in members:
        if name == names.container(a) or name in matrix.apps[a].companions:
            return [a]
    return list(members)


class GridRun:
    def __init__(self, matrix: Matrix, cells: list[Cell], node, driver, *, events: planmod.Events,
                 mode: str = planmod.LADDER, options: Options | None = None,
                 progress: Callable[[str], None] = lambda _m: None):
        self.matrix, self.node, self.driver, self.mode, self.events = matrix, node, driver, mode, events
        self.steps = {s.cell.id: s for s in planmod.plan(matrix, cells, mode, events=events)}
        self.options = options or Options()
        self.variant = variant.wanted()
        self.faults = variant.wanted_faults(matrix)
        self.ladder = Ladder(node, driver, matrix, use_snapshots=mode == planmod.LADDER,
                             install_timeout=self.options.install_timeout, progress=progress,
                             on_golden=(lambda n: variant.prepare(n, self.variant, self.faults))
                             if self.variant or self.faults else None)
        self.batches: dict[str, BatchResult] = {}
        self.progress = progress

    def context(self, cell: Cell) -> CellContext:
        s = self.steps[cell.id]
        return CellContext(self.matrix, self.matrix.apps[cell.app], self.node, self.driver,
                           s.installed, s.batch, self.options)

    # -- before the cell's journal cursor --------------------------------------------------
    def prepare(self, cell: Cell) -> None:
        s, ev = self.steps[cell.id], self.events[cell.event]
        if ev.batched:
            if s.batch_key not in self.batches:
                self._run_batch(s, ev)
            return
        if self.mode == planmod.NAIVE:
            self.ladder.touched()
        with self._prepare_step(s):
            if ev.needs_baseline:
                self.ladder.baseline(s.installed[:-1])     # the state before the app was installed
            self.ladder.ensure(s.installed)
            if ev.installs and self.mode == planmod.LADDER:
                self.ladder.baseline(s.installed)          # for this app's needs_baseline cells, later

    def _prepare_step(self, s: planmod.Step):
        """An Allure step around the ladder's work, so a cell's report shows what its state cost."""
        return allure.step(f"prepare: {', '.join(s.installed) or 'nothing'} installed ({self.mode})")

    def _run_batch(self, s: planmod.Step, ev: GridEvent) -> None:
        if self.mode == planmod.NAIVE:
            self.ladder.touched()
        with self._prepare_step(s):
            self.ladder.ensure(s.installed)
        ctx = self.context(s.cell)
        res = BatchResult()
        self.progress(f"batch {s.cell.event}: {', '.join(s.batch)}")
        t0 = time.monotonic()
        res.cursor = self.node.journal_cursor()
        self.ladder.touched()
        try:
            with allure.step(f"batch {s.cell.event}, shared by {', '.join(s.batch)}"), \
                    timing.span(f"batch action {s.cell.event}"):
                res.value = ev.observe(ctx)
        except AssertionError as e:
            res.error = str(e)
        except Exception as e:        # a node error during the shared action fails every member
            res.error = f"{type(e).__name__}: {e}"
            res.crash = e if isinstance(e, GuestCrashed) else None
            self.ladder.lost()
        finally:
            res.seconds = time.monotonic() - t0
            res.notes = ctx.notes
            self.batches[s.batch_key] = res
        try:
            with timing.span("journal check"):
                lines = journal.check(self.node, res.cursor, ev.journal_allow)
            for line in lines:
                src = line.split(":", 1)[0]
                for a in journal_owner(self.matrix, src, s.batch, names=self.node.names):
                    res.journal.setdefault(a, []).append(line)
        except Exception as e:
            res.journal = {a: [f"journal check could not run: {e}"] for a in s.batch}

    def after_crash(self) -> None:
        """The guest died: nothing on it is known any more, and a batch that failed with it runs again."""
        self.batches = {k: r for k, r in self.batches.items() if not r.error}
        self.ladder.lost()

    def artifacts_since(self, cell: Cell) -> str | None:
        """The journal cursor a batched cell's failure artifacts start from (None: the cell's own)."""
        res = self.batches.get(self.steps[cell.id].batch_key)
        return res.cursor if res else None

    # -- the test body ----------------------------------------------------------------------
    def run(self, cell: Cell) -> CellContext:
        """Run the cell's event; AssertionError when it fails. Returns the context (not_run parts)."""
        s, ev = self.steps[cell.id], self.events[cell.event]
        ctx = self.context(cell)
        if ev.in_place and "destructive" not in self.node.capabilities:
            ev.in_place(ctx)              # a node the run may not change: judge what is there
            return ctx
        if ev.batched:
            self._judge_batched(cell, ev, ctx)
            return ctx
        if ev.needs_baseline:
            ctx.baseline = self.ladder.baselines[s.installed[:-1]]
        if s.clean:
            self.ladder.touched()
        try:
            ev.run(ctx)
        except BaseException:
            if ev.installs:
                self.ladder.lost()        # a half-done install: the state is unknown
            else:
                self.ladder.touched()
            raise
        if ev.installs:
            self.ladder.installed_now(s.installed + (cell.app,))
        return ctx

    def _judge_batched(self, cell: Cell, ev: GridEvent, ctx: CellContext) -> None:
        """Judge one member on the batch's shared observation and its own journal lines."""
        res = self.batches.get(self.steps[cell.id].batch_key)
        if res is None:
            raise AssertionError(f"{cell.id}: the batch action did not run")
        if res.crash:
            raise res.crash               # broken infrastructure, not a verdict (harness/broken.py)
        if res.error:
            raise AssertionError(f"{cell.id}: shared {cell.event} action failed: {res.error}")
        ctx.shared = lambda _action: res.value
        ctx.notes.extend(res.notes)
        ev.run(ctx)
        if res.journal.get(cell.app):
            lines = res.journal[cell.app]
            raise AssertionError(f"journal check ({cell.event} batch): {len(lines)} error line(s) "
                                 f"from {cell.app}'s units:\n" + "\n".join(lines[:20]))
