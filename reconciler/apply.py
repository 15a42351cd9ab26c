"""Executes a batch of steps with timeouts. A failing step skips the rest of *its* app's steps in
this tick; other apps go on. Logs say what was done, never file contents (they hold credentials)."""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Callable, Mapping

from . import backoff as bo
from . import podman_heal, priv
from .model import (DaemonReload, DropHealthcheck, EnsureDir, HealPodman, RecreateNetwork, ReloadService,
                    RemoveContainer, RemoveNetwork, RemovePath, ResetFailed, ResetIpam, RestartUnit, StartAux,
                    StartUnit, Step, StopUnit, Wait, WriteFile)
from .store import Paths, atomic_write, remove_path

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
                 imperative_stop: Callable[[str], str] | None = None, paths: Paths | None = None):
        self.runner = runner
        self.paths = paths or Paths(root)
        self.root = self.paths.root
        self.node = self.paths.node
        self.imperative_start = imperative_start
        self.imperative_stop = imperative_stop
        self._last_heal = -HEAL_EVERY
        self.heal_failed: str | None = None   # podman still failing after the latest heal (/health: 503)
        self._handlers = {
            HealPodman: self._heal, EnsureDir: self._ensure_dir, WriteFile: self._write, RemovePath: self._remove,
            DaemonReload: lambda s: self._systemctl("daemon-reload", timeout=120),
            ReloadService: self._reload, StartAux: self._start_aux, RecreateNetwork: self._recreate_network,
            RemoveContainer: self._remove_container, DropHealthcheck: self._drop_healthcheck,
            ResetIpam: self._reset_ipam, RemoveNetwork: self._remove_network, ResetFailed: self._reset_failed,
            StopUnit: self._stop, RestartUnit: self._restart,
            StartUnit: self._start,
        }

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
    def _do(self, step: Step) -> str:
        handler = self._handlers.get(type(step))
        if handler is None:
            raise StepFailed(f"unknown step {step!r}")
        return handler(step)

    def _run(self, argv: list[str], timeout: float = SYSTEMCTL_TIMEOUT) -> str:
        res = self.runner.run(argv, timeout=timeout)
        if not res.ok:
            raise StepFailed(res.brief())
        return ""

    def _systemctl(self, *args: str, timeout: float = SYSTEMCTL_TIMEOUT) -> str:
        """The apps' units, the network unit, healthcheck timers: the user manager's when rootless."""
        return self._run(self.node.systemctl(*args), timeout=timeout)

    def _priv(self, verb: str) -> str:
        """Rootless: nginx and tor are root's; the one way there is priv.py through its sudoers rule."""
        res = self.runner.run(priv.command(verb), timeout=priv.CALL_TIMEOUT)
        if not res.ok:
            raise StepFailed(res.brief())
        return res.stdout.strip().splitlines()[-1][:200] if res.stdout.strip() else ""

    def _heal(self, step: HealPodman) -> str:
        if time.monotonic() - self._last_heal < HEAL_EVERY:
            return "healed recently; waiting"
        self._last_heal = time.monotonic()
        detail, failure = podman_heal.heal(self.runner, step.reason, paths=self.paths, units=step.units)
        self.heal_failed = failure
        if failure:
            raise StepFailed(f"{detail}; podman still fails: {failure}")
        return detail

    def _ensure_dir(self, step: EnsureDir) -> str:
        os.makedirs(step.path, mode=step.mode, exist_ok=True)
        os.chmod(step.path, step.mode)
        if not step.owner:
            return ""
        if self.node.user_scope:   # the owner is a uid in the containers' user namespace (subuid-mapped)
            res = self.runner.run(["podman", "unshare", "chown", step.owner, step.path], timeout=60)
            if not res.ok:   # an existing dir is not made again: without its owner it must not stay
                _rmdir_if_empty(step.path)
                raise StepFailed(res.brief())
            return ""
        uid, gid = (int(x) for x in step.owner.split(":"))   # rootful: the container's uid is the host's
        os.chown(step.path, uid, gid)
        return ""

    def _write(self, step: WriteFile) -> str:
        atomic_write(step.spec.path, step.spec.content, step.spec.mode)
        return f"{len(step.spec.content)} bytes"

    def _remove(self, step: RemovePath) -> str:
        remove_path(step.path, self.paths.owned_roots)
        return ""

    def _reload(self, step: ReloadService) -> str:
        if self.node.user_scope:
            return self._priv(_verb(_PRIV_RELOAD, step.unit))
        if step.unit.startswith("nginx"):
            test = self.runner.run(["nginx", "-t", "-q"], timeout=30)
            if not test.ok:
                raise StepFailed(f"nginx config test failed: {test.brief()}")
        return self._run(["systemctl", "reload-or-restart", "--no-block", step.unit])

    def _start_aux(self, step: StartAux) -> str:
        if self.node.user_scope:
            return self._priv(_verb(_PRIV_START, step.unit))
        return self._run(["systemctl", "start", "--no-block", step.unit])

    def _recreate_network(self, step: RecreateNetwork) -> str:
        return self._systemctl("restart", step.unit, timeout=90)

    def _remove_container(self, step: RemoveContainer) -> str:
        return self._run(["podman", "rm", "-f", *(["--storage"] if step.storage else []), step.name], timeout=90)

    def _drop_healthcheck(self, step: DropHealthcheck) -> str:
        # the timer may be gone already (a glob that matches nothing): only the reset must work
        self.runner.run(self.node.systemctl("stop", f"{step.container_id}-*.timer"), timeout=SYSTEMCTL_TIMEOUT)
        return self._systemctl("reset-failed", f"{step.container_id}-*.service")

    def _reset_ipam(self, step: ResetIpam) -> str:
        remove_path(os.path.join(self.root, step.path.lstrip("/")), self.paths.owned_roots)
        return ""

    def _remove_network(self, step: RemoveNetwork) -> str:
        return self._run(["podman", "network", "rm", step.network], timeout=90)

    def _reset_failed(self, step: ResetFailed) -> str:
        self._reset_start_limit(step.unit)
        return ""

    def _stop(self, step: StopUnit) -> str:
        if step.imperative:
            return self.imperative_stop(step.app) if self.imperative_stop else "no imperative runner"
        # --no-block: a 600 s bitcoind flush must not hold up the tick; the next snapshot sees it
        return self._systemctl("stop", "--no-block", step.unit)

    def _start(self, step: StartUnit) -> str:
        if step.imperative:
            return self.imperative_start(step.app) if self.imperative_start else "no imperative runner"
        self._reset_start_limit(step.unit)
        return self._systemctl("start", "--no-block", step.unit)

    def _restart(self, step: RestartUnit) -> str:
        self._reset_start_limit(step.unit)
        return self._systemctl("restart", "--no-block", step.unit)

    def _reset_start_limit(self, unit: str) -> None:
        """reset-failed: the failed state, the restart counter and the start limit's count. Before
        every start the reconciler issues, so the limit counts systemd's automatic restarts only: a
        start-limit-hit unit refuses to start until reset, and a running one must not hit the limit
        for the reconciler's own starts. Its answer is not needed (a unit never failed is fine)."""
        self.runner.run(self.node.systemctl("reset-failed", unit), timeout=SYSTEMCTL_TIMEOUT)


_PRIV_RELOAD = {"nginx.service": "nginx-reload", "tor@default.service": "tor-reload"}
_PRIV_START = {"tor@default.service": "tor-start"}


def _rmdir_if_empty(path: str) -> None:
    try:
        os.rmdir(path)
    except OSError:
        pass


def _verb(verbs: Mapping[str, str], unit: str) -> str:
    if unit not in verbs:
        raise StepFailed(f"{unit} is a system unit and priv.py has no verb for it")
    return verbs[unit]


class StepFailed(RuntimeError):
    pass
