"""What an event module declares to the engine: its name, its `run(ctx)` and its traits.

Every module under harness/events ends with one `EVENT = GridEvent(...)`; the engine plans and
runs cells from these traits alone, never from an event's name.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from harness.grid.context import CellContext

# The state a cell starts from, on the line of apps its app belongs to.
BEFORE_APP = "before_app"      # the apps before it on the line: the cell installs its app itself
WITH_APP = "with_app"          # the line up to and including its app (its app the last installed)
FULL_LINE = "full_line"        # every app of the line
STARTS_FROM = (BEFORE_APP, WITH_APP, FULL_LINE)

# A dependent reporting its dependency down while the event stops or restarts that dependency
# ("integration bitcoin: DOWN (...: RPC error -28: Shutting down)"): expected, and the cell checks
# that the integration comes back; the journal check must not fail on the word "error" in it.
DEPENDENCY_DOWN = r"integration \S+: DOWN \("


@dataclass(frozen=True)
class GridEvent:
    name: str                                   # the event id in matrix/events.yaml
    run: Callable[[CellContext], None]          # judges one cell; AssertionError naming what failed
    starts_from: str
    # Batched: the shared action, run once for every app of the batch before its cells are
    # judged; `run` reads its result through ctx.observe_once.
    observe: Callable[[CellContext], Any] | None = None
    read_only: bool = False        # leaves the state as it found it: the next cell may reuse it
    needs_baseline: bool = False   # ctx.baseline: the inventory of the state before its app was installed
    journal_allow: tuple[str, ...] = ()   # regexes of journal lines the event's own action makes expected
    # What the event can still check on a node the run may not change (not disposable): it judges
    # the app as installed there and reports the changing part not run. None: the cell does not run.
    in_place: Callable[[CellContext], None] | None = None

    def __post_init__(self):
        if self.starts_from not in STARTS_FROM:
            raise ValueError(f"event {self.name}: starts_from {self.starts_from!r} is not one of "
                             f"{', '.join(STARTS_FROM)}")

    @property
    def changes_node(self) -> bool:
        """Whether the cell needs a node it may change (else it also runs on a read-only node)."""
        return not (self.read_only or self.in_place)

    @property
    def batched(self) -> bool:
        return self.observe is not None

    @property
    def installs(self) -> bool:
        """The cell installs its app: on success the state it leaves is a new clean rung."""
        return self.starts_from == BEFORE_APP

    def rung(self, index: int, line_length: int) -> int:
        """How many apps of the line the cell needs installed, its app being line[index]."""
        return {BEFORE_APP: index, WITH_APP: index + 1, FULL_LINE: line_length}[self.starts_from]
