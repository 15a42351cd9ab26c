"""python -m vm build|up|down|ssh|status|restore|reap — the developer loop around the embedded VM."""
import argparse
import json
import os
import sys
import time

from . import attach, build, golden, image, launch, paths, reaper
from node.api import NodeError
from node.names import HARNESS
from node.target import VM_NAME, TargetError, vm_name

from .errors import VMError
from .machine import VM


def _say(msg: str) -> None:
    print(f"[vm {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def cmd_build(a) -> None:
    base, g = build(_say)
    _say(f"base {base.dir}\n         golden {g.dir}")


def cmd_up(a) -> None:
    node = launch(a.name, _say, detached=True)
    node.close()
    _say(f"{a.name} is up (detached): `python -m vm ssh {a.name}`, `python -m vm down {a.name}`")


def cmd_down(a) -> None:
    d = paths.run_root() / a.name
    if not d.exists():
        _say(f"no VM {a.name}")
        return
    killed = reaper.stop_run(d)
    _say(f"{a.name} stopped" + (f" (QEMU pid {killed})" if killed else " (was not running)") + f", removed {d}")


def cmd_ssh(a) -> None:
    base = image.cached_base()
    if base is None:
        raise VMError("no VM base image built yet: `python -m vm build`")
    vm = VM.attach(a.name, base)
    os.execvp("ssh", vm.ssh_argv(HARNESS.login, *a.command))


def cmd_status(a) -> None:
    base = image.cached_base()
    print(f"cache {paths.cache_root()}")
    print(f"  base   {base.dir if base else 'not built (python -m vm build)'}")
    if base:
        g = golden.cached_golden(base)
        print(f"  golden {g.dir if g else 'not built'}")
    root = paths.run_root()
    runs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("_")) if root.is_dir() else []
    print(f"runs {root}: {len(runs) or 'none'}")
    for d in runs:
        rec = reaper.read_owner(d) or {}
        info = {"owner_pid": rec.get("owner_pid"), "owner_alive": reaper.owner_alive(rec),
                "ports": rec.get("ports")}
        if base and VM_NAME.fullmatch(d.name):      # not one of ours otherwise
            vm = VM(d.name, base)
            vm.ports = {int(k): v for k, v in (rec.get("ports") or {}).items()}
            info.update(vm.status())
        print(f"  {d.name}: {json.dumps(info)}")


def cmd_restore(a) -> None:
    node = attach(a.name)
    t = time.monotonic()
    node.restore()
    node.close()
    _say(f"{a.name} restored to golden in {time.monotonic() - t:.1f} s")


def cmd_reap(a) -> None:
    if not reaper.reap(_say):
        _say("nothing to reap")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m vm", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build", help="build (or reuse) the base image and the golden state")
    for name, helptext in (("up", "restore golden into a detached VM"), ("down", "stop a VM, remove its overlay"),
                           ("restore", "put a running VM back to golden"), ("ssh", "ssh into a VM")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("name", nargs="?", default="vm0")
        if name == "ssh":
            s.add_argument("command", nargs=argparse.REMAINDER)
    sub.add_parser("status", help="cache and running VMs")
    sub.add_parser("reap", help="remove VMs left by dead runs")
    a = p.parse_args(argv)
    try:
        if getattr(a, "name", None) is not None:
            vm_name(a.name, f"python -m vm {a.cmd}")   # before it names a dir to stop and delete
    except TargetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        globals()[f"cmd_{a.cmd}"](a)
    except NodeError as e:            # VMError and the harness's SSH errors: one line
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
