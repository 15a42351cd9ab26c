"""The base image: Debian trixie built with mmdebstrap from Debian packages only, cached by hash.

Cache layout (docs/architecture.md): ${ARCHY_CACHE}/base-<hash>/ holds vmlinuz, initrd.img,
base.qcow2 (read-only; VMs boot from overlays), the client key id_ed25519, the guest's SSH host
public key and a known_hosts line pattern for 127.0.0.1. The key logs in as HARNESS.login
(`archipelago`, the seeds' login) only, a user with passwordless sudo; root login is off, as on
the seeds' node. useradd gives it the subuid/subgid range 100000:65536 rootless podman maps. The hash
covers everything below that shapes the image (suite, mirrors, packages, files written, units,
the login and its sudoers line), so changing the recipe rebuilds; the golden state's key holds
the base hash, so it is provisioned again on the new base.
"""
import hashlib
import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from node.deletion import safe_rmtree
from node.names import HARNESS

from . import cache, paths, prereq
from .errors import VMError

RECIPE_VERSION = 3                          # 2: the sudo login; 3: rootless (archipelago, uidmap, user bus)
SUITE = "trixie"
MIRRORS = (
    "deb http://deb.debian.org/debian trixie main",
    "deb http://deb.debian.org/debian trixie-updates main",
    "deb http://deb.debian.org/debian-security trixie-security main",
)
PACKAGES = (
    # boot + init
    "systemd-sysv", "udev", "dbus", "libpam-systemd", "linux-image-amd64", "initramfs-tools",
    "zstd", "e2fsprogs", "kmod",
    # podman 5 stack (netavark, Quadlet); rootless: newuidmap/newgidmap for the subuid range, and a
    # user D-Bus so podman can move its pause process and pasta out of the daemon's cgroup
    "podman", "crun", "conmon", "passt", "netavark", "aardvark-dns", "nftables", "catatonit",
    "uidmap", "dbus-user-session",
    # node services
    "openssh-server", "python3", "goss", "tor", "nginx", "ssl-cert", "openssl",
    # tools the harness runs on the node
    "iproute2", "iputils-ping", "ca-certificates", "curl", "procps", "less",
    # the rehearsal's sudo login
    "sudo",
)
DISK_SIZE = "8G"
HOSTNAME = HARNESS.mark("vm")

# Run by mmdebstrap before the kernel is installed: initramfs-tools cannot probe the root fs type in
# a chroot and would leave fsck out of the initramfs.
ESSENTIAL_HOOKS = (
    'printf "/dev/vda / ext4 defaults,errors=remount-ro 0 1\\n" > "$1/etc/fstab"',
    'mkdir -p "$1/etc/initramfs-tools/conf.d" && echo FSTYPE=ext4 > "$1/etc/initramfs-tools/conf.d/fstype"',
)
DPKG_OPTS = (
    "path-exclude=/usr/share/man/*", "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias", "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
)
# Files written into the rootfs after mmdebstrap (path -> content).
FILES = {
    "etc/hostname": f"{HOSTNAME}\n",
    "etc/hosts": f"127.0.0.1 localhost\n127.0.1.1 {HOSTNAME}\n::1 localhost ip6-localhost ip6-loopback\n",
    "etc/resolv.conf": "nameserver 10.0.2.3\n",
    "etc/systemd/network/20-wired.network":
        "[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv4\nIPv6AcceptRA=no\n",
    # one pinned host key type only; many channels per connection for the harness
    "etc/ssh/sshd_config.d/archy.conf":
        "HostKey /etc/ssh/ssh_host_ed25519_key\nPermitRootLogin no\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUseDNS no\n"
        "MaxSessions 64\nMaxStartups 64:30:128\nClientAliveInterval 15\n",
    # persistent journal: the previous boot's journal shows how it ended (power cut vs reboot)
    "etc/systemd/journald.conf.d/archy.conf": "[Journal]\nStorage=persistent\nSyncIntervalSec=5s\n",
}
UNITS_ENABLE = ("systemd-networkd.service", "ssh.service")
UNITS_DISABLE = ("tor.service",)
UNITS_MASK = ("systemd-networkd-wait-online.service", "apt-daily.timer", "apt-daily-upgrade.timer")
LOGIN = HARNESS.login


def sudoers(user: str) -> str:
    """/etc/sudoers.d/<user>: root through `sudo -n` without a password. The VM is disposable:
    the rule is the full one docs/real-node.md#sudo gives for a disposable node."""
    return (f"# {HARNESS.project}: the rehearsal's sudo login (a disposable test VM)\n"
            f"{user} ALL=(root) NOPASSWD: ALL\n")


def passwd_ids(passwd: str, user: str) -> tuple[int, int]:
    """(uid, gid) of `user` in an /etc/passwd text; VMError when it is not there."""
    for line in passwd.splitlines():
        f = line.split(":")
        if len(f) >= 4 and f[0] == user:
            return int(f[2]), int(f[3])
    raise VMError(f"user {user} not in the image's /etc/passwd after useradd")


def recipe_hash() -> str:
    recipe = {
        "version": RECIPE_VERSION, "suite": SUITE, "mirrors": MIRRORS, "packages": PACKAGES,
        "disk": DISK_SIZE, "essential_hooks": ESSENTIAL_HOOKS, "dpkg": DPKG_OPTS, "files": FILES,
        "enable": UNITS_ENABLE, "disable": UNITS_DISABLE, "mask": UNITS_MASK,
        "login": LOGIN, "sudoers": sudoers(LOGIN),
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class BaseImage:
    dir: Path

    @property
    def hash(self) -> str:
        return self.dir.name.removeprefix("base-")

    kernel = property(lambda self: self.dir / "vmlinuz")
    initrd = property(lambda self: self.dir / "initrd.img")
    disk = property(lambda self: self.dir / "base.qcow2")
    client_key = property(lambda self: self.dir / "id_ed25519")
    host_key_pub = property(lambda self: self.dir / "ssh_host_ed25519_key.pub")

    def known_hosts_line(self, port: int) -> str:
        """known_hosts entry pinning the guest's host key at 127.0.0.1:port (paramiko needs exact names)."""
        keytype, key = self.host_key_pub.read_text().split()[:2]
        return f"[127.0.0.1]:{port} {keytype} {key}\n"


def base_dir() -> Path:
    return paths.cache_root() / f"base-{recipe_hash()}"


def cached_base() -> BaseImage | None:
    d = base_dir()
    return BaseImage(d) if (d / "base.qcow2").is_file() else None


def ensure_base(progress: Callable[[str], None] = print) -> BaseImage:
    """The base image for the current recipe, built once (about a minute) and then reused."""
    found = cached_base()
    if found:
        return found
    prereq.require_tools("mmdebstrap", "mkfs.ext4", "qemu-img", "ssh-keygen")
    prereq.require_root("building the VM image")
    prereq.require_free_space(paths.cache_root(), 6)
    d = cache.ensure_dir(base_dir(), lambda tmp: _build(tmp, progress), progress=progress,
                         what="VM base image")
    return BaseImage(d)


def _build(out: Path, progress: Callable[[str], None]) -> None:
    t0 = time.monotonic()
    rootfs = out / "rootfs"
    log = out / "build.log"
    progress(f"building VM base image {out.name} (mmdebstrap {SUITE}, {len(PACKAGES)} packages, ~1 min)")
    _run_logged(_mmdebstrap_cmd(rootfs), log, progress)
    t1 = time.monotonic()
    progress(f"mmdebstrap done in {t1 - t0:.0f} s; configuring")
    _keys(out, rootfs)
    _customize(rootfs)
    _sudo_login(out, rootfs, LOGIN)
    for name in ("vmlinuz", "initrd.img"):      # for direct kernel boot
        (out / name).write_bytes(_only(rootfs / "boot", f"{name}-*").read_bytes())
    if not _initrd_has_fsck(rootfs):
        raise VMError("initramfs has no fsck.ext4: the FSTYPE hook did not take effect")
    versions = _dpkg_versions(rootfs)
    progress("writing ext4 filesystem and base.qcow2")
    raw = out / "base.raw"
    _run(["mkfs.ext4", "-q", "-F", "-L", "archyroot", "-d", str(rootfs), str(raw), DISK_SIZE])
    _run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(out / "base.qcow2")])
    raw.unlink()
    safe_rmtree(rootfs, within=paths.cache_root())
    (out / "base.qcow2").chmod(0o444)
    manifest = {"hash": recipe_hash(), "suite": SUITE, "packages": PACKAGES, "versions": versions,
                "built_at": time.time(), "build_seconds": round(time.monotonic() - t0, 1)}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    progress(f"VM base image ready in {time.monotonic() - t0:.0f} s")


def _mmdebstrap_cmd(rootfs: Path) -> list[str]:
    cmd = ["mmdebstrap", "--mode=root", "--variant=minbase", "--format=directory",
           "--include=" + ",".join(PACKAGES), "--aptopt=Acquire::Languages \"none\""]
    cmd += [f"--dpkgopt={o}" for o in DPKG_OPTS]
    cmd += [f"--essential-hook={h}" for h in ESSENTIAL_HOOKS]
    return cmd + [SUITE, str(rootfs), *MIRRORS]


def _keys(out: Path, rootfs: Path) -> None:
    """Client key and one host key made here, so known_hosts can pin the guest from the start.

    Every VM cloned from this base shares the host key: fine for a disposable test node only.
    """
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", HARNESS.project, "-f", str(out / "id_ed25519")])
    for old in (rootfs / "etc/ssh").glob("ssh_host_*"):
        old.unlink()
    host = rootfs / "etc/ssh/ssh_host_ed25519_key"
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{HOSTNAME}", "-f", str(host)])
    (out / "ssh_host_ed25519_key.pub").write_bytes(host.with_suffix(".pub").read_bytes())
    keytype, key = host.with_suffix(".pub").read_text().split()[:2]
    # for the ssh CLI; paramiko matches names exactly, so runs write their own line (known_hosts_line)
    (out / "known_hosts").write_text(f"[127.0.0.1]:* {keytype} {key}\n")


def _authorize(home: Path, pub: bytes, uid: int, gid: int) -> None:
    """~/.ssh/authorized_keys holding `pub`, owned by the login (sshd's StrictModes checks it)."""
    ssh_dir = home / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    auth = ssh_dir / "authorized_keys"
    auth.write_bytes(pub)
    auth.chmod(0o600)
    for p in (ssh_dir, auth):
        os.chown(p, uid, gid)


def _sudo_login(out: Path, rootfs: Path, user: str) -> None:
    """A non-root login with the VM's client key and passwordless sudo (validated by visudo)."""
    _run(["chroot", str(rootfs), "useradd", "--create-home", "--user-group", "--shell", "/bin/bash", user])
    uid, gid = passwd_ids((rootfs / "etc/passwd").read_text(), user)
    _authorize(rootfs / "home" / user, (out / "id_ed25519.pub").read_bytes(), uid, gid)
    rule = rootfs / "etc/sudoers.d" / user
    rule.write_text(sudoers(user))
    os.chown(rule, 0, 0)
    rule.chmod(0o440)
    _run(["chroot", str(rootfs), "visudo", "-cf", f"/etc/sudoers.d/{user}"])


def _customize(rootfs: Path) -> None:
    (rootfs / "etc/resolv.conf").unlink(missing_ok=True)
    for rel, content in FILES.items():
        p = rootfs / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
    (rootfs / "var/log/journal").mkdir(parents=True, exist_ok=True)
    root = f"--root={rootfs}"
    _run(["systemctl", root, "enable", *UNITS_ENABLE])
    _run(["systemctl", root, "disable", *UNITS_DISABLE])
    _run(["systemctl", root, "mask", *UNITS_MASK])
    _run(["systemctl", root, "set-default", "multi-user.target"])


def _only(d: Path, pattern: str) -> Path:
    found = sorted(d.glob(pattern))
    if len(found) != 1:
        raise VMError(f"expected one {pattern} in {d}, found {[p.name for p in found]}")
    return found[0]


def _initrd_has_fsck(rootfs: Path) -> bool:
    initrd = _only(rootfs / "boot", "initrd.img-*")
    out = _run(["chroot", str(rootfs), "lsinitramfs", f"/boot/{initrd.name}"], capture=True)
    return "sbin/fsck.ext4" in out


def _dpkg_versions(rootfs: Path) -> dict[str, str]:
    out = _run(["dpkg-query", f"--admindir={rootfs}/var/lib/dpkg", "-W", "-f", "${Package} ${Version}\n",
                *PACKAGES], capture=True)
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def _run(cmd: list[str], capture: bool = False, timeout: float = 600) -> str:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise VMError(f"{cmd[0]} timed out after {timeout:.0f} s")
    if p.returncode != 0:
        raise VMError(f"{' '.join(cmd[:3])} ... failed (rc {p.returncode}): {p.stderr.strip()[-300:]}")
    return p.stdout if capture else ""


def _run_logged(cmd: list[str], log: Path, progress: Callable[[str], None], timeout: float = 1800) -> None:
    """Run a long step, keep its whole output in `log` and pass its milestones to progress."""
    deadline = time.monotonic() + timeout
    with open(log, "w") as f:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            for line in p.stdout:
                f.write(line)
                if line.startswith(("I: ", "E: ", "W: ")):
                    progress("  " + line.rstrip()[:160])
                if time.monotonic() > deadline:
                    raise VMError(f"{cmd[0]} took longer than {timeout:.0f} s (log: {log})")
            rc = p.wait(timeout=max(1, deadline - time.monotonic()))
        finally:
            if p.poll() is None:       # SIGTERM lets mmdebstrap unmount /proc, /dev in the chroot
                p.terminate()
                p.wait(60)
    if rc != 0:
        tail = log.read_text().splitlines()[-5:]
        raise VMError(f"{cmd[0]} failed (rc {rc}), log {log}: {' | '.join(tail)}")
