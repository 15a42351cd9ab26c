"""One QEMU VM: start on a qcow2 overlay, control it over QMP, save/restore a golden state.

Direct kernel boot from the base image's kernel/initrd; user-mode networking restricted to the
host (restrict=on) with forwards on 127.0.0.1; QMP on a unix socket; serial console appended to
serial.log. Several VMs run side by side: each has its own run dir, overlay, ports and sockets.
"""
import json
import shlex
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable

from node.names import HARNESS
from node.target import vm_name

from . import accel as accel_mod, paths, prereq, proc, qmp, reaper
from .errors import PrerequisiteMissing, VMError, VMTimeout
from .image import BaseImage

KERNEL_CMDLINE = "root=/dev/vda ro console=ttyS0 net.ifnames=0 systemd.show_status=1"
# Bump when the device set in _argv changes: a saved memory state only loads into the same machine.
MACHINE_VERSION = 2
MEM_MIB = 2048
SMP = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def ssh_banner(port: int, timeout: float = 3) -> bool:
    """True when an sshd answers on 127.0.0.1:port (slirp accepts the TCP connect even when the
    guest is not listening, so only the banner proves sshd is up)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            return s.recv(8).startswith(b"SSH-")
    except OSError:
        return False


class VM:
    """A QEMU process and its run dir ${ARCHY_RUN}/<name>/ (overlay, qmp.sock, serial.log, qemu.pid)."""

    def __init__(self, name: str, image: BaseImage, *, forwards: tuple[int, ...] = (),
                 mem_mib: int = MEM_MIB, smp: int = SMP, detached: bool = False):
        self.name = vm_name(name, "VM")     # its run dir is deleted with it: never ../x
        self.image = image
        self.guest_forwards = forwards          # guest TCP ports also forwarded (besides 22)
        self.mem_mib, self.smp = mem_mib, smp
        self.detached = detached                # survives this process (CLI `up`)
        self.run_dir = paths.run_root() / name
        self.ports: dict[int, int] = {}         # guest port -> host port on 127.0.0.1
        self.accel = accel_mod.detect()
        self._lock: int | None = None           # run.lock held from the first start to destroy
        self._qemu: subprocess.Popen | None = None

    # files of the run
    overlay = property(lambda self: self.run_dir / "overlay.qcow2")
    qmp_sock = property(lambda self: self.run_dir / "qmp.sock")
    serial_log = property(lambda self: self.run_dir / "serial.log")
    pidfile = property(lambda self: self.run_dir / reaper.PIDFILE)
    known_hosts = property(lambda self: self.run_dir / "known_hosts")
    qemu_log = property(lambda self: self.run_dir / "qemu.log")
    ssh_port = property(lambda self: self.ports[22])

    def ssh_argv(self, user: str, *command: str, connect_timeout: int = 10) -> list[str]:
        """The OpenSSH client's argv for this VM as `user`: the image's key, the run's pinned host key."""
        return ["ssh", "-i", str(self.image.client_key), "-p", str(self.ssh_port), "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={self.known_hosts}",
                "-o", f"ConnectTimeout={connect_timeout}", f"{user}@127.0.0.1", *command]

    @property
    def pid(self) -> int | None:
        return proc.read_pid(self.pidfile)

    def alive(self) -> bool:
        return proc.is_qemu_of(self.pid, self.run_dir)

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self, backing: Path, incoming: Path | None = None,
              progress: Callable[[str], None] = print, timeout: float = 120) -> None:
        """Start QEMU on a fresh overlay of `backing`; with `incoming`, resume that saved state."""
        prereq.require_tools("qemu-system-x86_64", "qemu-img", "setpriv")
        if self.alive():
            raise VMError(f"VM {self.name} is already running (pid {self.pid}): `python -m vm down {self.name}`")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self._lock is None:
            try:
                self._lock = reaper.claim(self.run_dir)
            except reaper.RunDirBusy as e:
                raise VMError(f"VM {self.name}: {e}: pick another name (ARCHY_VM_NAME)") from None
        for f in (self.overlay, self.qmp_sock, self.pidfile):
            f.unlink(missing_ok=True)
        prereq.require_free_space(self.run_dir, 2)
        reaper.track(id(self), self._teardown_hard)
        _run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(backing), "-F", "qcow2", str(self.overlay)])
        progress(f"{self.name}: {self.accel.describe()}")
        for attempt in range(3):
            # keep the ports of a previous start (restore) so clients keep their address
            wanted = (22, *self.guest_forwards)
            if attempt or not all(g in self.ports and _port_free(self.ports[g]) for g in wanted):
                self.ports = {g: free_port() for g in wanted}
            err = self._spawn(incoming, timeout)
            if err is None:
                break
            # a free port can be taken before QEMU binds it: pick others
            if "host forwarding" not in err:
                raise VMError(f"QEMU failed to start {self.name}: {err[-400:]}")
            if attempt == 2:
                raise PrerequisiteMissing(f"no free TCP port on 127.0.0.1 for {self.name}'s forwards after 3 tries "
                                          f"({err[-200:]}): free some ports")
        reaper.write_owner(self.run_dir, detached=self.detached,
                           info={"name": self.name, "ports": self.ports, "qemu_pid": self.pid,
                                 "backing": str(backing), "accel": self.accel.name})
        self.known_hosts.write_text(self.image.known_hosts_line(self.ssh_port))
        if self.detached:
            reaper.untrack(id(self))
            self._unlock()                      # a detached VM has no owner to hold its lock
        if incoming:
            self._finish_incoming(timeout)

    def _argv(self, incoming: Path | None) -> list[str]:
        fwd = ",".join(f"hostfwd=tcp:127.0.0.1:{h}-:{g}" for g, h in self.ports.items())
        argv = [
            "qemu-system-x86_64", "-name", HARNESS.mark(self.name), *self.accel.args,
            "-machine", "q35", "-m", str(self.mem_mib), "-smp", str(self.smp),
            "-kernel", str(self.image.kernel), "-initrd", str(self.image.initrd), "-append", KERNEL_CMDLINE,
            "-drive", f"file={self.overlay},if=virtio,format=qcow2,cache=writeback,discard=unmap",
            "-netdev", f"user,id=n0,restrict=on,{fwd}", "-device", "virtio-net-pci,netdev=n0",
            "-device", "virtio-rng-pci",
            "-nodefaults", "-display", "none",     # no VGA, CD-ROM, parallel port: less to probe at boot
            "-chardev", f"file,id=ser0,path={self.serial_log},append=on", "-serial", "chardev:ser0",
            "-qmp", f"unix:{self.qmp_sock},server=on,wait=off",
            "-pidfile", str(self.pidfile),       # no -daemonize: QEMU stays our child (proc.spawn)
        ]
        if incoming:
            argv += ["-incoming", f"exec:cat {shlex.quote(str(incoming))}"]
        return argv

    def _spawn(self, incoming: Path | None, timeout: float) -> str | None:
        """Start QEMU; None once its QMP socket accepts, else what it printed before it exited."""
        start = self.qemu_log.stat().st_size if self.qemu_log.exists() else 0
        self._qemu = proc.spawn(self._argv(incoming), self.qemu_log, tied=not self.detached)
        deadline = time.monotonic() + timeout
        while self._qemu.poll() is None:
            if self.qmp_sock.exists() and qmp.accepts(self.qmp_sock):
                return None
            if time.monotonic() > deadline:
                proc.terminate(self._qemu.pid)
                self._qemu.wait(timeout=10)
                raise VMTimeout(f"{self.name}: QEMU started but its QMP socket did not answer within {timeout:.0f} s")
            time.sleep(0.05)
        with open(self.qemu_log, "rb") as fh:
            fh.seek(start)
            return fh.read().decode(errors="replace").strip() or f"QEMU exited {self._qemu.returncode}"

    def _reap_child(self) -> None:
        """Collect our exited QEMU (no zombie left per restore)."""
        if self._qemu is not None and self._qemu.poll() is not None:
            self._qemu = None

    def _unlock(self) -> None:
        reaper.release(self._lock)
        self._lock = None

    def _finish_incoming(self, timeout: float) -> None:
        """Wait for the saved state to load, then run it (a state saved while stopped arrives paused)."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.qmp("query-migrate").get("status")
            if status == "completed":
                break
            if status == "failed":
                raise VMError(f"{self.name}: loading the saved state failed (serial: {self.serial_log})")
            if time.monotonic() > deadline:
                raise VMTimeout(f"{self.name}: saved state not loaded after {timeout:.0f} s (status {status})")
            time.sleep(0.05)
        if self.runstate() != "running":
            self.qmp("cont")

    def wait_ssh(self, timeout: float = 300, progress: Callable[[str], None] | None = None) -> float:
        """Wait until sshd answers on the forwarded port; returns the seconds waited."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        next_note = t0 + 15
        while not ssh_banner(self.ssh_port):
            now = time.monotonic()
            if not self.alive():
                raise VMError(f"{self.name}: QEMU exited while booting (serial: {self.serial_log})")
            if now > deadline:
                raise VMTimeout(f"{self.name}: no SSH on 127.0.0.1:{self.ssh_port} after {timeout:.0f} s "
                                f"(serial: {self.serial_log})")
            if progress and now > next_note:
                progress(f"{self.name}: waiting for SSH ({now - t0:.0f} s) ...")
                next_note = now + 15
            time.sleep(0.25)
        return time.monotonic() - t0

    # --- QMP control ------------------------------------------------------------------------
    def qmp(self, cmd: str, timeout: float = 10, **args):
        if not self.qmp_sock.exists():
            raise VMError(f"{self.name}: no QMP socket {self.qmp_sock} (VM not running?)")
        return qmp.call(self.qmp_sock, cmd, args, timeout=timeout)

    def runstate(self) -> str:
        return self.qmp("query-status")["status"]

    def power_cut(self) -> None:
        """Hard reset: no guest shutdown, unsynced writes are lost."""
        self.qmp("system_reset")

    def pause(self) -> None:
        self.qmp("stop")

    def resume(self) -> None:
        self.qmp("cont")

    def rtc_time(self) -> dict:
        return self.qmp("qom-get", path="/machine", property="rtc-time")

    def save_state(self, dest: Path, timeout: float = 300) -> float:
        """Stop the VM and write its memory/device state to dest via migrate; returns seconds."""
        t0 = time.monotonic()
        self.qmp("stop")
        self.qmp("migrate-set-parameters", **{"max-bandwidth": 10 * 2**30})
        self.qmp("migrate", uri=f"exec:cat > {shlex.quote(str(dest))}")
        deadline = t0 + timeout
        while (status := self.qmp("query-migrate").get("status")) != "completed":
            if status in ("failed", "cancelled"):
                raise VMError(f"{self.name}: saving state to {dest} {status}")
            if time.monotonic() > deadline:
                raise VMTimeout(f"{self.name}: saving state not done after {timeout:.0f} s ({status})")
            time.sleep(0.1)
        return time.monotonic() - t0

    def quit(self, timeout: float = 30) -> None:
        """QMP quit (falls back to SIGTERM/SIGKILL); keeps the run dir."""
        pid = self.pid
        if not self.alive():
            return
        try:
            self.qmp("quit", timeout=10)
        except VMError:
            pass                     # the socket may close before the reply: the wait decides
        deadline = time.monotonic() + timeout
        while proc.alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.alive(pid):
            proc.terminate(pid)
        self._reap_child()

    def freeze_overlay(self, dest: Path) -> None:
        """Move the (stopped) VM's overlay to dest, read-only: the disk half of a snapshot."""
        if self.alive():
            raise VMError(f"{self.name}: quit QEMU before freezing its disk")
        self.overlay.rename(dest)
        dest.chmod(0o444)

    def destroy(self) -> None:
        """Quit QEMU and remove the run dir (overlay, sockets, pidfile). Idempotent."""
        try:
            self.quit()
        finally:
            if self.run_dir.exists():
                reaper.stop_run(self.run_dir)
            reaper.untrack(id(self))
            self._reap_child()
            self._unlock()

    def _teardown_hard(self) -> None:
        """Signal/atexit path: no QMP (an event loop may be mid-call), just kill and remove."""
        if self.run_dir.exists():
            killed = reaper.stop_run(self.run_dir)
            if killed:
                print(f"vm: tore down {self.name} (QEMU pid {killed})")
        self._reap_child()
        self._unlock()

    def status(self) -> dict:
        info = {"name": self.name, "run_dir": str(self.run_dir), "pid": self.pid, "alive": self.alive(),
                "ports": self.ports, "accel": self.accel.name}
        if info["alive"]:
            try:
                info["runstate"] = self.runstate()
            except VMError as e:
                info["runstate"] = f"unknown ({e})"
        return info

    @classmethod
    def attach(cls, name: str, image: BaseImage) -> "VM":
        """A handle on a VM already running (CLI `down/ssh/status` from another process)."""
        vm = cls(name, image)
        record = reaper.read_owner(vm.run_dir)
        if not record:
            raise VMError(f"no VM {name} under {vm.run_dir}: `python -m vm up {name}`")
        vm.ports = {int(g): h for g, h in record["ports"].items()}
        vm.detached = record.get("owner_pid") is None
        return vm


# what a guest kernel writes to the serial console when it dies (TCG has crashed guests here:
# an int3 Oops in the page allocator, a double fault); after that nothing answers over SSH
CRASH_MARKS = ("Kernel panic", "Oops:", "BUG: ", "general protection fault")


def crash_line(text: str) -> str | None:
    """The first crash line in `text`, without its kernel timestamp; pure."""
    for line in text.splitlines():
        if any(m in line for m in CRASH_MARKS):
            return line.split("] ", 1)[-1].strip()
    return None


def guest_crash(serial_log: Path, since: int = 0) -> str | None:
    """The first crash line the guest kernel logged after byte `since`."""
    try:
        with open(serial_log, "rb") as fh:
            fh.seek(since)
            return crash_line(fh.read(4_000_000).decode(errors="replace"))
    except OSError:
        return None


def _run(cmd: list[str], timeout: float = 60) -> None:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise PrerequisiteMissing(f"{cmd[0]} not found: run `make setup`") from None
    if p.returncode != 0:
        raise VMError(f"{' '.join(cmd[:3])} failed: {p.stderr.strip()[-300:]}")
