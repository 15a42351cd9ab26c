"""Executes a batch of steps with timeouts. A failing step skips the rest of *its* app's steps in
this tick; other apps go on. Logs say what was done, never file contents (they hold credentials)."""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Callable, Mapping

from . import backoff as bo
from . import podman_heal
from .model import (DaemonReload, DropHealthcheck, EnsureDir, HealPodman, RecreateNetwork, ReloadService,
                    RemoveContainer, RemoveNetwork, RemovePath, ResetFailed, ResetIpam, RestartUnit, StartAux,
                    StartUnit, Step, StopUnit, Wait, WriteFile)
from .store import atomic_write, remove_path

log = logging.getLogger("archipelago.apply")

SYSTEMCTL_TIMEOUT = 60.0
HEAL_EVERY = 60.0


@dataclass(frozen=True)
class Outcome:
    step: Step
    ok: bool
    detail: str = ""

    def describe(self) -> str:
        return self.step.describe() + ("" if self.ok else f" FAILED: {self.detail}")


class Applier:
    def __init__(self, runner, root: str = "/", imperative_start: Callable[[str], str] | None = None,
                 imperative_stop: Callable[[str], str] | None = None):
        self.runner = runner
        self.root = root
        self.imperative_start = imperative_start
        self.imperative_stop = imperative_stop
        self._last_heal = -HEAL_EVERY

    def apply(self, steps: tuple[Step, ...], backoff: Mapping[str, bo.Entry], now: float
              ) -> tuple[list[Outcome], dict[str, bo.Entry]]:
        entries = dict(backoff)
        failed_apps: set[str] = set()
        outcomes: list[Outcome] = []
        for step in steps:
            if isinstance(step, Wait):
                outcomes.append(Outcome(step, True))
                continue
            if step.app is not None and step.app in failed_apps:
                outcomes.append(Outcome(step, False, "skipped: an earlier step of this app failed"))
                continue
            try:
                detail = self._do(step)
                ok = True
            except StepFailed as e:
                ok, detail = False, str(e)
            except OSError as e:
                ok, detail = False, f"{type(e).__name__}: {e.strerror or e}"
            if isinstance(step, StartUnit) and step.after_failure and ok:
                entries[step.app] = bo.record(entries.get(step.app), step.spec_hash, now)
            if not ok and step.app is not None:
                failed_apps.add(step.app)
            (log.info if ok else log.error)("%s%s", step.describe(), f": {detail}" if detail else "")
            outcomes.append(Outcome(step, ok, detail))
        return outcomes, entries

    # ---- one step ----
    def _systemctl(self, *args: str, timeout: float = SYSTEMCTL_TIMEOUT) -> str:
        res = self.runner.run(["systemctl", *args], timeout=timeout)
        if not res.ok:
            raise StepFailed(res.brief())
        return ""

    def _do(self, step: Step) -> str:
        if isinstance(step, HealPodman):
            if time.monotonic() - self._last_heal < HEAL_EVERY:
                return "healed recently; waiting"
            self._last_heal = time.monotonic()
            return podman_heal.heal(self.runner, step.reason, root=self.root)
        if isinstance(step, EnsureDir):
            os.makedirs(step.path, mode=step.mode, exist_ok=True)
            os.chmod(step.path, step.mode)
            if step.owner:   # rootful: the container's uid is the host's (no user namespace)
                uid, gid = (int(x) for x in step.owner.split(":"))
                os.chown(step.path, uid, gid)
            return ""
        if isinstance(step, WriteFile):
            atomic_write(step.spec.path, step.spec.content, step.spec.mode)
            return f"{len(step.spec.content)} bytes"
        if isinstance(step, RemovePath):
            remove_path(step.path)
            return ""
        if isinstance(step, DaemonReload):
            return self._systemctl("daemon-reload", timeout=120)
        if isinstance(step, ReloadService):
            if step.unit.startswith("nginx"):
                test = self.runner.run(["nginx", "-t", "-q"], timeout=30)
                if not test.ok:
                    raise StepFailed(f"nginx config test failed: {test.brief()}")
            return self._systemctl("reload-or-restart", "--no-block", step.unit)
        if isinstance(step, StartAux):
            return self._systemctl("start", "--no-block", step.unit)
        if isinstance(step, RecreateNetwork):
            return self._systemctl("restart", "archy-network.service", timeout=90)
        if isinstance(step, RemoveContainer):
            argv = ["podman", "rm", "-f", *(["--storage"] if step.storage else []), step.name]
            res = self.runner.run(argv, timeout=90)
            if not res.ok:
                raise StepFailed(res.brief())
            return ""
        if isinstance(step, DropHealthcheck):
            # the timer may be gone already (a glob that matches nothing): only the reset must work
            self.runner.run(["systemctl", "stop", f"{step.container_id}-*.timer"], timeout=SYSTEMCTL_TIMEOUT)
            return self._systemctl("reset-failed", f"{step.container_id}-*.service")
        if isinstance(step, ResetIpam):
            remove_path(os.path.join(self.root, step.path.lstrip("/")))
            return ""
        if isinstance(step, RemoveNetwork):
            res = self.runner.run(["podman", "network", "rm", "archy"], timeout=90)
            if not res.ok:
                raise StepFailed(res.brief())
            return ""
        if isinstance(step, ResetFailed):
            self.runner.run(["systemctl", "reset-failed", step.unit], timeout=SYSTEMCTL_TIMEOUT)
            return ""
        if isinstance(step, StopUnit):
            if step.imperative:
                return self.imperative_stop(step.app) if self.imperative_stop else "no imperative runner"
            # --no-block: a 600 s bitcoind flush must not hold up the tick; the next snapshot sees it
            return self._systemctl("stop", "--no-block", step.unit)
        if isinstance(step, RestartUnit):
            return self._systemctl("restart", "--no-block", step.unit)
        if isinstance(step, StartUnit):
            if step.imperative:
                return self.imperative_start(step.app) if self.imperative_start else "no imperative runner"
            if step.after_failure:  # start-limit-hit units refuse to start until reset
                self.runner.run(["systemctl", "reset-failed", step.unit], timeout=SYSTEMCTL_TIMEOUT)
            return self._systemctl("start", "--no-block", step.unit)
        raise StepFailed(f"unknown step {step!r}")


class StepFailed(RuntimeError):
    pass
