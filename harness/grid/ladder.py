"""The snapshot ladder: bring the node to "these apps installed" by restoring the nearest saved
rung (a VM snapshot) and installing only what is missing, saving each new rung on the way.

Naive mode never saves rungs: every state is built from golden, the baseline the benchmark
measures the ladder against.
"""
from __future__ import annotations

import hashlib
import time
from typing import Callable

from harness import inventory
from harness.checks import probes
from harness.grid import reset
from node import timing
from node.driver import INSTALL_DEADLINE

GOLDEN = "golden"


class StateUnavailable(Exception):
    """The cell's starting state cannot be had on this node without changing it: the cell does
    not run (a skip naming why), it does not fail."""


def rung_name(installed: tuple[str, ...]) -> str:
    digest = hashlib.sha256("+".join(installed).encode()).hexdigest()[:8]
    return f"rung{len(installed)}-{installed[-1] if installed else 'none'}-{digest}"


class Ladder:
    def __init__(self, node, driver, matrix, *, use_snapshots: bool = True,
                 install_timeout: float = INSTALL_DEADLINE, progress: Callable[[str], None] = lambda _m: None,
                 on_golden: Callable | None = None):
        self.node, self.driver, self.matrix = node, driver, matrix
        self.use_snapshots = use_snapshots and "snapshot" in node.capabilities
        self.install_timeout = install_timeout
        self.progress = progress
        self.on_golden = on_golden                      # e.g. switch the reconciler variant
        self.current: tuple[str, ...] | None = None   # None: unknown (start, or after a failure)
        self.dirty = True
        self.rungs: dict[tuple[str, ...], str] = {}
        self.baselines: dict[tuple[str, ...], inventory.Inventory] = {}
        self.stats = {"restores": 0, "installs": 0, "snapshots": 0, "seconds": 0.0}

    # -- state ----------------------------------------------------------------------------
    def ensure(self, installed: tuple[str, ...]) -> None:
        """Node state = exactly `installed` (in this install order), healthy and unmodified."""
        if self.current == installed and not self.dirty:
            return
        t0 = time.monotonic()
        try:
            self._ensure(installed)
        except BaseException:
            self.lost()                 # a half-built state is never reused
            raise
        finally:
            self.stats["seconds"] += time.monotonic() - t0

    def _ensure(self, installed: tuple[str, ...]) -> None:
        if "snapshot" not in self.node.capabilities:
            self._ensure_in_place(installed)
        else:
            k = next((k for k in range(len(installed), 0, -1) if installed[:k] in self.rungs), 0)
            here = self.current
            if here is not None and not self.dirty and installed[:len(here)] == here and len(here) >= k:
                k = len(here)            # the current state is a clean prefix: just install on top
            else:
                name = self.rungs[installed[:k]] if k else GOLDEN
                self.progress(f"ladder: restore {name}")
                with timing.span("ladder restore"):
                    self.node.restore(name)
                self.stats["restores"] += 1
                if name == GOLDEN and self.on_golden:
                    self.on_golden(self.node)
                self.current, self.dirty = installed[:k], False
            for i in range(k, len(installed)):
                self._install(installed[i])
                self.current = installed[: i + 1]
                self.save()
        self.current, self.dirty = installed, False

    def _ensure_in_place(self, installed: tuple[str, ...]) -> None:
        """A node without snapshots (a real node). A disposable one gets exactly `installed`:
        what is extra is uninstalled (dependents first), what is missing installed. Any other
        node is never changed: the state must already be there."""
        have = set(reset.installed(self.driver, self.matrix))
        if "destructive" not in self.node.capabilities:
            if missing := [a for a in installed if a not in have]:
                raise StateUnavailable(f"{', '.join(missing)} not installed on {self.node.name}, which is not "
                                       "disposable: the run never installs there")
            return
        for a in reset.uninstall_order(sorted(have - set(installed)), self.matrix):
            self.progress(f"ladder: uninstall {a}")
            reset.uninstall(self.driver, a, self.install_timeout)
        for a in installed:
            if a not in have:
                self._install(a)
            elif probes.unit(self.node, a).get("ActiveState") != "active":   # e.g. left user-stopped
                self.progress(f"ladder: start {a}")
                probes.rpc(self.driver, "package.start", self.install_timeout, id=a)
        # the state is built when every member answers and systemd has nothing left to do:
        # a companion still starting must not meet the next cell's reboot
        for a in installed:
            for m in probes.members(self.matrix, a):
                probes.wait_healthy(self.node, m, 300)
        self.node.wait_settled(300)

    def _install(self, app_id: str) -> None:
        self.progress(f"ladder: install {app_id}")
        with timing.span("ladder install"):
            probes.rpc(self.driver, "package.install", self.install_timeout, id=app_id)
            probes.wait_healthy(self.node, self.matrix.app(app_id), 300)
        self.stats["installs"] += 1

    def assume_golden(self) -> None:
        """The node was just restored from golden (vm.launch): no restore needed for the first state."""
        if self.on_golden:
            self.on_golden(self.node)
        self.current, self.dirty = (), False

    def save(self) -> None:
        """Remember the current (clean) state as a rung."""
        if not self.use_snapshots or self.current is None or self.current in self.rungs:
            return
        name = rung_name(self.current)
        self.progress(f"ladder: save {name}")
        with timing.span("ladder snapshot"):
            self.node.snapshot(name)
        self.stats["snapshots"] += 1
        self.rungs[self.current] = name

    def installed_now(self, installed: tuple[str, ...]) -> None:
        """A cell installed the last app of `installed` itself and it passed: a new clean rung."""
        self.current, self.dirty = installed, False
        self.save()

    def touched(self) -> None:
        self.dirty = True

    def lost(self) -> None:
        self.current, self.dirty = None, True

    # -- inventories ------------------------------------------------------------------------
    def baseline(self, installed: tuple[str, ...]) -> inventory.Inventory:
        """The inventory of state `installed` (taken once, restoring it if needed)."""
        if installed not in self.baselines:
            self.ensure(installed)
            with timing.span("ladder baseline inventory"):
                self.baselines[installed] = inventory.snapshot(self.node)
        return self.baselines[installed]
