"""VMNode: the Node API over SSH (node.ssh.SSHNode, pinned keys) plus the VM-only controls."""
import time
from pathlib import Path

from node import capabilities
from node.api import CommandResult, CommandTimeout, NodeError, NodeUnreachable
from node.platform import Platform, load as load_platform
from node.ssh import SSHNode

from .crashwatch import CrashWatch
from .errors import GuestCrashed, VMError
from .machine import VM, guest_crash, ssh_banner
from .state import Golden

class VMNode(SSHNode):
    # TCG guests answer slowly while booting (the first session starts root's user manager)
    def __init__(self, vm: VM, *, golden: Golden | None, connect_timeout: float = 30,
                 ssh_timeout: float = 300, platform: Platform | None = None):
        self.vm = vm
        self._platform = platform or load_platform()   # the profile the harness reads the VM with
        self.golden = golden
        self._ssh_timeout = ssh_timeout
        self._connect_timeout = connect_timeout
        self._serial_mark = 0        # serial.log bytes written before the current boot / restore
        self._watch: CrashWatch | None = None
        self.crash: str | None = None   # the kernel's crash line since the last restore, if it died
        self._watch_serial()
        self._attach_ssh()

    def _watch_serial(self) -> None:
        """Watch this QEMU's guest from `_serial_mark` on; a crash cuts the SSH transport at once."""
        if self._watch:
            self._watch.stop()
        self.crash = None
        self._watch = CrashWatch(self.vm.serial_log, self._serial_mark, self._on_crash)

    def _on_crash(self, line: str) -> None:
        self.crash = line
        client = getattr(self, "_client", None)
        transport = client.get_transport() if client else None
        if transport is not None:
            transport.close()          # the command in flight fails now, not at its deadline

    def _crashed(self) -> GuestCrashed:
        return GuestCrashed(f"{self.name}: the guest kernel crashed: {self.crash} (serial: {self.vm.serial_log})")

    def _attach_ssh(self) -> None:
        """(Re)build the SSH side for the VM's current port; waits until sshd answers."""
        self.vm.wait_ssh(self._ssh_timeout)
        deadline = time.monotonic() + self._ssh_timeout
        while True:
            try:
                SSHNode.__init__(self, "127.0.0.1", self.vm.ssh_port, user=self._platform.login,
                                 known_hosts=str(self.vm.known_hosts),
                                 identity_file=str(self.vm.image.client_key), disposable=True,
                                 name=self.vm.name, capabilities=capabilities.VM,
                                 connect_timeout=self._connect_timeout, platform=self._platform)
                # the first session can be slow (logind starts the login's user manager unless it lingers)
                self.run("true", timeout=30)
                break
            except NodeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def run(self, cmd: str, timeout: float = 60, input: bytes | None = None) -> CommandResult:
        """SSHNode.run; once the guest kernel crashed, every command fails at once with GuestCrashed."""
        if self.crash:
            raise self._crashed()
        try:
            return super().run(cmd, timeout, input)
        except (CommandTimeout, NodeUnreachable) as e:
            self.crash = self.crash or guest_crash(self.vm.serial_log, self._serial_mark)
            if self.crash is None:
                raise
            raise self._crashed() from e

    # --- power ---------------------------------------------------------------------------
    def power_cut(self, timeout: float = 600) -> None:
        """QMP system_reset: no shutdown, no sync; returns once a new boot answers over SSH."""
        old = self.boot_id()
        self.vm.power_cut()
        self._wait_new_boot(old, timeout)

    def _ready_to_log_in(self) -> bool:
        """The sshd banner (a cheap socket read) before a full SSH login."""
        if not self.vm.alive():
            raise VMError(f"{self.name}: QEMU exited while rebooting (serial: {self.vm.serial_log})")
        self.crash = self.crash or guest_crash(self.vm.serial_log, self._serial_mark)
        if self.crash is not None:
            raise GuestCrashed(f"{self.name}: the guest kernel crashed while rebooting: {self.crash} "
                               f"(serial: {self.vm.serial_log})")
        return ssh_banner(self.vm.ssh_port)

    def _boot_hint(self) -> str:
        return f" (serial: {self.vm.serial_log})"

    def pause(self) -> None:
        self.close()                 # no SSH traffic (keepalives) against a frozen guest
        self.vm.pause()

    def resume(self) -> None:
        self.vm.resume()
        self.reconnect()

    # --- snapshots -------------------------------------------------------------------------
    def snapshot(self, name: str) -> None:
        """Save disk + memory under the run dir as `name`, then continue from it."""
        if name == "golden":
            raise VMError("the golden snapshot is built by vm.golden, not by snapshot()")
        d = self._snap_dir(name)
        d.mkdir(parents=True, exist_ok=True)
        for f in d.iterdir():
            f.chmod(0o644)
            f.unlink()
        self.succeed("sync", timeout=60)
        self.close()
        self.vm.save_state(d / "state")
        self.vm.quit()
        self.vm.freeze_overlay(d / "disk.qcow2")
        (d / "state").chmod(0o444)
        self._restart(d / "disk.qcow2", d / "state")

    def restore(self, name: str = "golden") -> None:
        """Back to a saved state in a fresh overlay (seconds); reconnects and fixes the clock."""
        if name == "golden":
            if self.golden is None:
                raise VMError(f"{self.name}: no golden state attached to this VM")
            disk, state = self.golden.disk, self.golden.state
        else:
            d = self._snap_dir(name)
            disk, state = d / "disk.qcow2", d / "state"
            if not state.is_file():
                raise VMError(f"{self.name}: no snapshot {name!r} (have: {self.snapshots()})")
        self.close()
        self.vm.quit()
        self._restart(disk, state)

    def snapshots(self) -> list[str]:
        root = self.vm.run_dir / "snapshots"
        return sorted(p.name for p in root.iterdir()) if root.is_dir() else []

    def _snap_dir(self, name: str) -> Path:
        if not name.replace("-", "").replace("_", "").isalnum():
            raise VMError(f"snapshot name {name!r}: use letters, digits, '-' and '_'")
        return self.vm.run_dir / "snapshots" / name

    def _restart(self, disk: Path, state: Path) -> None:
        try:
            self._serial_mark = self.vm.serial_log.stat().st_size
        except FileNotFoundError:
            self._serial_mark = 0
        self.vm.start(disk, incoming=state, progress=lambda _m: None)
        self._watch_serial()
        self._attach_ssh()
        self.fix_clock()

    def fix_clock(self) -> None:
        """After a restore the guest clock is the snapshot's; the RTC follows the host."""
        self.succeed(self.cmd.as_root("date -s @$(cat /sys/class/rtc/rtc0/since_epoch) >/dev/null"), timeout=30)

    def clock_offset(self) -> float:
        """Guest minus host wall clock, in seconds (round trip halved)."""
        t0 = time.time()
        guest = float(self.succeed("date +%s.%N", timeout=30))
        t1 = time.time()
        return guest - (t0 + t1) / 2

    # --- teardown ----------------------------------------------------------------------------
    def destroy(self) -> None:
        """Quit QEMU and remove the run dir; idempotent."""
        if self._watch:
            self._watch.stop()
        try:
            self.close()
        finally:
            self.vm.destroy()

