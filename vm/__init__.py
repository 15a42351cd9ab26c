"""The embedded node: a Debian trixie QEMU VM (docs/architecture.md, "The embedded VM").

    from vm import launch, attach
    node = launch("vm0", progress=print)   # base + golden built once (cached), golden restored
    node.restore(); node.destroy()
"""
import os
from typing import Callable

from node.platform import Platform

from . import golden as golden_mod, image, reaper
from .errors import PrerequisiteMissing, VMError, VMTimeout
from .machine import VM
from .node import VMNode

__all__ = ["launch", "attach", "launcher", "build", "VMError", "PrerequisiteMissing", "VMTimeout"]


def build(progress: Callable[[str], None] = print, platform: Platform | None = None):
    """Base image and the golden state `platform` restores (golden.golden_profile: one per bundled
    reference profile), each built once and cached; returns (base, golden)."""
    base = image.ensure_base(progress)
    profile = golden_mod.golden_profile(platform.name if platform else None)
    return base, golden_mod.ensure_golden(base, progress, profile)


def launch(name: str = "vm0", progress: Callable[[str], None] = print, *, detached: bool = False,
           forwards: tuple[int, ...] = (), platform: Platform | None = None):
    """A connected VMNode restored from golden into a fresh overlay (clock fixed).

    Reaps VMs left by dead runs first; the VM is torn down at exit, on Ctrl-C and SIGTERM
    unless `detached` (CLI `up`).
    """
    reaper.reap(progress)
    base, golden = build(progress, platform)
    vm = VM(name, base, forwards=forwards, detached=detached)
    if holder := _holder(vm):
        # another session (another engineer's pytest, a `vm up`) runs this name: don't fight over it
        vm = VM(f"{name}-{os.getpid()}", base, forwards=forwards, detached=detached)
        progress(f"{name} is in use by {holder}: using {vm.name}")
    _claim(vm)
    progress(f"{vm.name}: restoring golden state {golden.dir.name}")
    try:
        vm.start(golden.disk, incoming=golden.state, progress=progress)
        node = VMNode(vm, golden=golden, platform=platform)
        node.fix_clock()
    except BaseException:
        vm.destroy()
        raise
    progress(f"{vm.name}: ready, ssh {node.user}@127.0.0.1 -p {vm.ssh_port}")
    return node


def launcher(progress: Callable[[str], None] | None = None, *, detached: bool = False):
    """node.target.connect's hook for vm:// targets: launch the VM the target names."""
    return lambda target: launch(target.name, progress or (lambda *_: None), detached=detached,
                                 platform=target.platform)


def attach(name: str = "vm0", platform: Platform | None = None):
    """A VMNode for a VM that is already running (another process launched it); no restore."""
    base = image.cached_base()
    if base is None:
        raise VMError("no VM base image built yet: `python -m vm build`")
    vm = VM.attach(name, base)
    if not vm.alive():
        raise VMError(f"VM {name} is not running: `python -m vm up {name}`")
    vm.detached = True                     # not ours to tear down
    profile = golden_mod.golden_profile(platform.name if platform else None)
    return VMNode(vm, golden=golden_mod.cached_golden(base, profile), platform=platform)


def _holder(vm: VM) -> str | None:
    """Who runs vm.name right now (a live owner or a detached `vm up`), or None."""
    if reaper.lock_held(vm.run_dir):
        return "another run (its run.lock is held)"
    record = reaper.read_owner(vm.run_dir)
    if not record or not vm.alive():
        return None
    if record.get("owner_pid") is None:
        return "a detached `vm up`"
    return f"pid {record['owner_pid']}" if reaper.owner_alive(record) else None


def _claim(vm: VM) -> None:
    """Take the run dir for vm.name: refuse if a live owner holds it, else clear leftovers."""
    if holder := _holder(vm):
        raise VMError(f"VM {vm.name} is in use by {holder}: `python -m vm down {vm.name}` or pick another name")
    if vm.run_dir.exists():
        reaper.stop_run(vm.run_dir)
