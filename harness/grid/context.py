"""What an event function gets: the cell's app, the node, the driver, the state it starts from.

`shared` is the batch cache: the first cell of a batch runs the expensive action for every
member; the others read the same observation and judge only their own app.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from matrix.model import App, Matrix
from node.driver import INSTALL_DEADLINE


@dataclass(frozen=True)
class Options:
    soak_duration: float = 300.0       # seconds (--soak-duration)
    soak_interval: float = 30.0        # seconds between soak samples
    soak_memory_growth: float = 0.25   # fraction of the first sample ...
    soak_memory_slack: int = 16 << 20  # ... plus this many bytes before growth fails the soak
    install_timeout: float = INSTALL_DEADLINE   # package.install RPC: the node answers first
    settle_window: float = 15.0        # after install: the app must stay up this long
    integration_window: float = 120.0  # dependents report their integration healthy again
    boot_timeout: float = 600.0
    healthy_timeout: float = 300.0     # apps healthy again after a reboot
    tor_window: float = 180.0          # onion round trip retries (seed: 60-180 s)


@dataclass
class CellContext:
    matrix: Matrix
    app: App
    node: Any                          # node.api.Node
    driver: Any                        # node.driver.PlatformDriver
    installed: tuple[str, ...]         # apps installed when the cell starts (its app included,
                                       # except when its event starts before it)
    batch: tuple[str, ...] = ()        # apps sharing this cell's expensive action
    options: Options = field(default_factory=Options)
    shared: Callable[[Callable[[], Any]], Any] | None = None
    baseline: Any = None               # harness.inventory.Inventory before the app was installed
                                       # (events that declare needs_baseline)
    not_run: list[str] = field(default_factory=list)   # parts not run, with the reason
    notes: list[str] = field(default_factory=list)     # facts worth showing in the report

    def observe_once(self, action: Callable[[], Any]) -> Any:
        """Run the batch's action once (or now, when the cell runs alone) and return its result."""
        return self.shared(action) if self.shared else action()

    def judge_own(self, problems: dict[str, list[str]], batch: str) -> None:
        """Fail with this app's share of a batch's problems (the other members judge theirs)."""
        mine = problems.get(self.app.id)
        if mine is None:
            raise AssertionError(f"{self.app.id}: not part of the {batch} batch {sorted(problems)}")
        if mine:
            raise AssertionError(f"{self.app.id}: " + "; ".join(mine))

    def spec(self, app_id: str) -> App:
        return self.matrix.app(app_id)
