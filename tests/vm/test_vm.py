"""The embedded VM against a real QEMU guest (TCG here): boot, power, golden restore, no leaks."""
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from node.api import poll

pytestmark = pytest.mark.vm
REPO = Path(__file__).resolve().parents[2]
RECOVERING = "archyroot: recovering journal"    # e2fsck in the initramfs, on the serial console


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def journal_grep(node, boot: str, pattern: str) -> list[str]:
    out = node.run(f"{node.cmd.journalctl} -b {boot} -o cat --no-pager | grep -F -- {pattern!r}", timeout=60).stdout
    return out.splitlines()


def test_boot_ssh_podman_and_reconciler(vm_node):
    assert vm_node.succeed("echo hello from $(hostname)").strip() == "hello from archy-vm"
    podman = vm_node.cmd.podman          # the profile's: the login's rootless podman by default
    info = json.loads(vm_node.succeed(f"{podman} info --format json", timeout=120))
    assert info["version"]["Version"].startswith("5."), info["version"]
    assert info["host"]["cgroupVersion"] == "v2"
    assert info["host"]["security"]["rootless"] is (vm_node.platform.scope == "user")
    assert vm_node.run("systemctl is-active archipelago.service").stdout.strip() == "active"
    assert "localhost/archy-standin" in vm_node.succeed(f"{podman} images --format '{{{{.Repository}}}}:{{{{.Tag}}}}'")


def serial_since(node, offset: int) -> str:
    return node.vm.serial_log.read_bytes()[offset:].decode(errors="replace")


def shutdown_logged(node, boot_id: str) -> bool:
    """Whether the journal of the boot that ended (named by id: after a golden restore "-1" may
    be an older boot of the golden's history) records an orderly shutdown. That boot's journal
    must be on disk, so the answer is never vacuous."""
    boot = boot_id.strip().replace("-", "")
    assert node.run(f"{node.cmd.journalctl} -b {boot} -n 1 -q --no-pager", timeout=60).stdout.strip(), \
        f"no journal on disk for boot {boot}"
    # systemd itself (PID 1) reaching shutdown.target; apps may log "shutting down" at any time
    # (provisioning restarts services within the golden's boot).
    return bool(journal_grep(node, f"{boot} _PID=1", "Reached target shutdown.target"))


def test_power_cut_brings_node_back_and_shows_unclean_shutdown(vm_node):
    vm_node.restore()
    vm_node.put_file("/var/tmp/synced.txt", b"survives a power cut\n")
    vm_node.succeed(vm_node.cmd.as_root("journalctl --sync; sync"))   # the cut boot's journal must be on disk to judge it
    old, offset = vm_node.boot_id(), vm_node.vm.serial_log.stat().st_size
    vm_node.power_cut(timeout=1200)      # TCG on a shared 2-core host: boots can take minutes
    assert vm_node.boot_id() != old
    assert vm_node.get_file("/var/tmp/synced.txt") == b"survives a power cut\n"
    vm_node.wait_for_unit("archipelago.service", timeout=600, system=True)
    # the fsck in the initramfs replays the ext4 journal: the root fs was not unmounted
    assert RECOVERING in serial_since(vm_node, offset), "no ext4 journal recovery after a power cut"
    assert not shutdown_logged(vm_node, old), "the cut boot logged a shutdown, but the power was cut"


def test_graceful_reboot_brings_node_back_cleanly(vm_node):
    vm_node.put_file("/var/tmp/synced.txt", b"survives a reboot\n")
    vm_node.succeed("sync")
    old, offset = vm_node.boot_id(), vm_node.vm.serial_log.stat().st_size
    vm_node.reboot(timeout=1200)
    assert vm_node.boot_id() != old
    assert vm_node.get_file("/var/tmp/synced.txt") == b"survives a reboot\n"
    vm_node.wait_for_unit("archipelago.service", timeout=600, system=True)
    serial = serial_since(vm_node, offset)
    assert "archyroot: clean" in serial and RECOVERING not in serial
    assert shutdown_logged(vm_node, old)


def test_restore_from_golden(vm_node):
    golden = vm_node.golden
    before = {p.name: sha256(p) for p in (golden.disk, golden.state)}
    vm_node.restore()
    vm_node.put_file("/var/tmp/after-snapshot.txt", b"written after the golden snapshot\n")
    vm_node.succeed("sync")
    t = time.monotonic()
    vm_node.restore()
    took = time.monotonic() - t
    assert vm_node.run("test -e /var/tmp/after-snapshot.txt").rc == 1, "file written after the snapshot survived"
    assert {p.name: sha256(p) for p in (golden.disk, golden.state)} == before
    assert abs(vm_node.clock_offset()) < 5
    assert vm_node.run("systemctl is-active archipelago.service").stdout.strip() == "active"
    assert took < 60, f"restore took {took:.0f} s"


def test_guest_kernel_crash_is_named_within_seconds(vm_node):
    """A real kernel crash (sysrq) cuts the command in flight at once, naming the crash (the crash
    watch on serial.log), instead of at the command's own deadline; a restore brings the node back."""
    from vm.errors import GuestCrashed
    vm_node.restore()
    try:
        t0 = time.monotonic()
        with pytest.raises(GuestCrashed, match="the guest kernel crashed: .*(Kernel panic|sysrq)") as e:
            vm_node.run(vm_node.cmd.as_root("sleep 2; echo c > /proc/sysrq-trigger; sleep 600"), timeout=600)
        took = time.monotonic() - t0
        assert took < 60, f"the crash was noticed only after {took:.0f} s"
        assert str(vm_node.vm.serial_log) in str(e.value)
        t1 = time.monotonic()
        with pytest.raises(GuestCrashed):                 # sticky until the next restore: no round trip
            vm_node.run("true", timeout=60)
        assert time.monotonic() - t1 < 1
    finally:
        vm_node.restore()
    assert vm_node.crash is None and vm_node.succeed("echo back").strip() == "back"


def test_pause_and_resume(vm_node):
    vm_node.pause()
    assert vm_node.vm.runstate() == "paused"
    vm_node.resume()
    assert vm_node.vm.runstate() == "running"
    assert vm_node.succeed("echo ok").strip() == "ok"


def test_named_snapshot_and_restore(vm_node):
    vm_node.put_file("/var/tmp/marker.txt", b"in the snapshot\n")
    vm_node.snapshot("t1")
    vm_node.put_file("/var/tmp/marker.txt", b"after the snapshot\n")
    vm_node.restore("t1")
    assert vm_node.get_file("/var/tmp/marker.txt") == b"in the snapshot\n"
    vm_node.restore()        # leave the shared VM at golden


def test_second_vm_runs_alongside(vm_node, vm_progress):
    import vm
    other = vm.launch(f"{vm_node.name}-b", progress=vm_progress)
    try:
        assert other.vm.ssh_port != vm_node.vm.ssh_port
        assert other.vm.overlay != vm_node.vm.overlay and other.vm.qmp_sock != vm_node.vm.qmp_sock
        other.put_file("/var/tmp/only-in-b.txt", b"b\n")
        assert vm_node.run("test -e /var/tmp/only-in-b.txt").rc == 1
        assert other.succeed("cat /var/tmp/only-in-b.txt") == "b\n"
    finally:
        other.destroy()
    assert not other.vm.run_dir.exists()


# --- no leaks ------------------------------------------------------------------------------
CHILD = """
import signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)   # a background pytest hands it SIGINT ignored
sys.path.insert(0, {repo!r})
from vm.image import ensure_base
from vm.machine import VM
base = ensure_base(lambda m: None)
vm = VM({name!r}, base)
vm.start(base.disk, progress=lambda m: None)
print("started", vm.pid, flush=True)
time.sleep(600)
"""


def _child_with_vm(name: str) -> tuple[subprocess.Popen, int]:
    p = subprocess.Popen([sys.executable, "-c", CHILD.format(repo=str(REPO), name=name)],
                         stdout=subprocess.PIPE, text=True, cwd=REPO)
    line = p.stdout.readline().split()      # bounded: the child prints within seconds or dies
    assert line and line[0] == "started", f"child did not start a VM: {line}"
    return p, int(line[1])


def _run_dir(name: str) -> Path:
    from vm import paths
    return paths.run_root() / name


def _gone(pid: int) -> bool:
    from vm import proc
    return not proc.alive(pid)


def test_a_sigkilled_owner_takes_its_qemu_along_and_the_next_run_clears_the_dir():
    """No handler runs on SIGKILL: the kernel's parent-death signal ends QEMU, the lock drops
    with the owner, and the reaper removes what is left (ci/orphan_check.py measures this mid-cell)."""
    name = f"leak-{os.getpid()}"
    p, qemu = _child_with_vm(name)
    p.send_signal(signal.SIGKILL)
    p.wait(10)
    assert poll(lambda: _gone(qemu), 10, 0.2), "QEMU outlived its SIGKILLed owner"
    from vm import reaper
    assert _run_dir(name).exists() and not reaper.lock_held(_run_dir(name))
    out = subprocess.run([sys.executable, "-m", "vm", "reap"], capture_output=True, text=True,
                         cwd=REPO, timeout=60)
    assert f"reaped leftover VM {name}: owner pid {p.pid} gone, QEMU not running" in out.stdout, out.stdout + out.stderr
    assert not _run_dir(name).exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_signal_tears_the_vm_down(sig):
    name = f"sig-{sig.name.lower()}-{os.getpid()}"
    p, qemu = _child_with_vm(name)
    p.send_signal(sig)
    p.wait(30)
    assert poll(lambda: _gone(qemu), 15, 0.2), f"QEMU {qemu} still running after {sig.name}"
    assert not _run_dir(name).exists()
