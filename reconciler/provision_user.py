"""The rootless half of provision.py: the daemon runs as the node block's user and drives that
user's podman and Quadlet units (the seeds' node). Run as root by provision.py; stdlib only.

Texts are pure functions (tests/reconciler/test_provision_user.py); the I/O below them is
bounded by provision.run's timeouts. A settings file without a "node" block, or with
scope "system", means the rootful node: nothing here runs.
"""
from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from pathlib import Path

USER_STOP_GRACE = 660      # bitcoind's 600 s stop grace, plus the manager's own (seed 000: 10 s risked the chain)
DAEMON_DROPIN = "/etc/systemd/system/archipelago.service.d/user.conf"
# a prefix drop-in: systemd applies rootless-netns-.scope.d/ to every rootless-netns-<id>.scope
NETNS_SCOPE_DROPIN = "/etc/systemd/user/rootless-netns-.scope.d/archipelago.conf"
APPS_SLICE = "archipelago-apps.slice"     # render.APPS_SLICE: provision.py runs as a plain script, no package imports
SNIPPET_DIR_MODE = 0o2775  # root:<user>: the daemon writes its snippets, nginx and tor (other) read them


@dataclass(frozen=True)
class UserNode:
    user: str
    uid: int
    gid: int
    home: str
    state_dir: str
    snippet_dirs: tuple[str, ...]     # nginx and torrc.d: root-owned, group-writable by the user
    quadlet_dir: str
    gateway: str

    @property
    def runtime_dir(self) -> str:
        return f"/run/user/{self.uid}"

    def as_user(self, argv: list[str]) -> list[str]:
        """argv run as the user in its own systemd/podman session (the user bus and runtime dir)."""
        return ["runuser", "-u", self.user, "--", "env", f"XDG_RUNTIME_DIR={self.runtime_dir}",
                f"DBUS_SESSION_BUS_ADDRESS=unix:path={self.runtime_dir}/bus", f"HOME={self.home}", *argv]


def user_node(block: dict | None, state_dir: str) -> UserNode | None:
    """The user-scope node the settings' "node" block describes; None for a rootful node."""
    if not block or block.get("scope", "system") != "user":
        return None
    entry = pwd.getpwnam(block["user"])          # KeyError: provision reports the missing user
    return UserNode(user=entry.pw_name, uid=entry.pw_uid, gid=entry.pw_gid, home=entry.pw_dir,
                    state_dir=state_dir, snippet_dirs=(block["nginx_dir"], block["torrc_dir"]),
                    quadlet_dir=block["quadlet_dir"], gateway=block["gateway"])


def daemon_dropin(node: UserNode) -> str:
    """archipelago.service.d/user.conf: the daemon as the user, next to its user manager. Not %U:
    in PID 1 that is the manager's user (root), not User=."""
    return (f"# archipelago provision.py: the reconciler runs as {node.user} and drives its user units\n"
            f"[Unit]\nWants=user@{node.uid}.service\nAfter=user@{node.uid}.service\n\n"
            f"[Service]\nUser={node.user}\nGroup={node.user}\n"
            f"Environment=XDG_RUNTIME_DIR={node.runtime_dir} "
            f"DBUS_SESSION_BUS_ADDRESS=unix:path={node.runtime_dir}/bus HOME={node.home}\n")


def user_manager_dropin() -> str:
    """user@UID.service.d: the apps stop inside the user manager, which systemd allows 120 s by
    default; bitcoind needs its 600 s at shutdown."""
    return ("# archipelago provision.py: the apps' stop grace (bitcoind 600 s) inside the user manager\n"
            f"[Service]\nTimeoutStopSec={USER_STOP_GRACE}\n")


def netns_scope_dropin() -> str:
    """The rootless netns (pasta) outlives the apps at shutdown. Its transient scope is otherwise
    stopped at once with the user manager; each app's cleanup then restarts pasta and asks for a
    new scope, which systemd refuses mid-shutdown ("Transaction ... is destructive"), so every
    reboot logged "failed to move the rootless netns pasta process" from each app. Before= the
    apps' slice: shutdown stops the apps, then their slice, then this scope."""
    return ("# archipelago provision.py: pasta outlives the apps at shutdown\n"
            f"[Unit]\nBefore={APPS_SLICE}\n")


def containers_conf(node: UserNode) -> str:
    """The user's containers.conf (overrides /etc for rootless podman): seed 004's FM4 fix, so
    host.containers.internal is the node on the apps' network, never the LAN gateway."""
    return ("# archipelago provision.py: seed 004 FM4\n[containers]\n"
            f'host_containers_internal_ip = "{node.gateway}"\n\n[network]\n'
            'default_rootless_network_cmd = "pasta"\n')


def subid_ok(text: str, user: str, size: int = 65536) -> bool:
    """/etc/subuid or /etc/subgid gives the user a range of at least `size` ids."""
    for line in text.splitlines():
        f = line.split(":")
        if len(f) == 3 and f[0] == user and f[2].isdigit() and int(f[2]) >= size:
            return True
    return False


def dirs_to_own(node: UserNode) -> list[tuple[str, int, int, int]]:
    """(path, uid, gid, mode) the user needs: its state, its Quadlet dir and the snippet dirs."""
    return [(node.state_dir, node.uid, node.gid, 0o755),
            (node.quadlet_dir, node.uid, node.gid, 0o755),
            *((d, 0, node.gid, SNIPPET_DIR_MODE) for d in node.snippet_dirs)]


# ------------------------------------------------------------------ I/O (run as root)
def ensure_user_side(node: UserNode, run, write_if_changed, progress, systemctl_timeout: float) -> bool:
    """Linger, the user manager with its grace, the dirs, containers.conf and subids. Returns
    whether the daemon's drop-in changed (the daemon then restarts)."""
    for f in ("/etc/subuid", "/etc/subgid"):
        if not subid_ok(Path(f).read_text() if os.path.exists(f) else "", node.user):
            raise RuntimeError(f"{f} gives {node.user} no range of 65536 ids: rootless podman cannot map the apps' users")
    manager = Path(f"/etc/systemd/system/user@{node.uid}.service.d/archipelago.conf")
    daemon = Path(DAEMON_DROPIN)
    changed_manager = write_if_changed(manager, user_manager_dropin().encode())
    if write_if_changed(Path(NETNS_SCOPE_DROPIN), netns_scope_dropin().encode()):
        # a user manager already running reloads; one not yet started reads it below (check=False)
        run(["systemctl", "--user", "--machine", f"{node.user}@", "daemon-reload"],
            timeout=systemctl_timeout, check=False)
    changed_daemon = write_if_changed(daemon, daemon_dropin(node).encode())
    if changed_manager or changed_daemon:
        run(["systemctl", "daemon-reload"], timeout=systemctl_timeout)
    run(["loginctl", "enable-linger", node.user], timeout=60)
    run(["systemctl", "start", f"user@{node.uid}.service"], timeout=systemctl_timeout)
    for path, uid, gid, mode in dirs_to_own(node):
        os.makedirs(path, exist_ok=True)
        os.chown(path, uid, gid)
        os.chmod(path, mode)
    # the daemon's own files (desired.json, backoff.json, secrets/); never the app dirs, whose
    # owners are the containers' subuids (electrumx's 1:1 is host 100001)
    for entry in os.scandir(node.state_dir):
        if entry.is_file(follow_symlinks=False) or entry.name == "secrets":
            run(["chown", "-R", f"{node.uid}:{node.gid}", entry.path], timeout=120)
    conf = Path(node.home) / ".config/containers/containers.conf"
    for d in (conf.parent.parent, conf.parent):
        os.makedirs(d, exist_ok=True)
        os.chown(d, node.uid, node.gid)
    if write_if_changed(conf, containers_conf(node).encode()):
        os.chown(conf, node.uid, node.gid)
    progress(f"user side: {node.user} (uid {node.uid}) lingers, user@{node.uid} stop grace {USER_STOP_GRACE} s, "
             f"{node.quadlet_dir}, containers.conf host_containers_internal_ip={node.gateway}")
    return changed_daemon


def remove_daemon_dropin(run, systemctl_timeout: float) -> bool:
    """A rootful node: the daemon runs as root (no user drop-in). True when one was removed."""
    try:
        os.unlink(DAEMON_DROPIN)
    except FileNotFoundError:
        return False
    run(["systemctl", "daemon-reload"], timeout=systemctl_timeout)
    return True


def install_sudoers(path: Path, text: str, run) -> None:
    """The daemon's exact-argument sudo rules, checked by visudo before they take effect."""
    tmp = path.with_name(f".{path.name}.tmp")      # sudo ignores names with a dot
    tmp.write_text(text)
    os.chmod(tmp, 0o440)
    run(["visudo", "-cf", str(tmp)], timeout=60)
    os.replace(tmp, path)

