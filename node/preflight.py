"""Refuse a login at once, in one line, when it cannot do what the harness will ask of it.

Run once by `node.target.connect` on every SSH node. A root login with system units runs
nothing here. A root login on a node whose apps are user units is refused without asking the
node: its `systemctl --user` and podman would be root's own units and rootful podman, never the
apps'. A sudo login must pass `sudo -n true` (no password, no prompt); a node whose apps are
the login's user units needs the login's user manager running, and kept running after logout
(lingering). `refusal` decides (pure); `check`
asks the node and raises `LoginRefused` with the one line.
"""
from __future__ import annotations

from dataclasses import dataclass

from .api import Node, NodeError

SUDO_DOC = "docs/real-node.md#sudo"
# `systemctl --user is-system-running` answers one of these once a user manager is reachable
# (exit 1 for all but "running": a degraded manager is still there)
_MANAGER_UP = {"initializing", "starting", "running", "degraded", "maintenance", "stopping"}


class LoginRefused(NodeError):
    """The login cannot run what the harness needs; str() is the one line with the fix."""


@dataclass(frozen=True)
class Answer:
    """What the node said to one probe command."""
    rc: int
    stdout: str = ""
    stderr: str = ""

    @property
    def why(self) -> str:
        lines = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return lines[-1].strip() if lines else f"exit {self.rc}"


def _sudo_reason(a: Answer) -> str:
    text = f"{a.stderr}\n{a.stdout}".lower()
    if a.rc == 127 or "not found" in text:
        return "sudo is not installed"
    if "password is required" in text or "a terminal is required" in text:
        return "a password is required"
    if "not in the sudoers" in text or "may not run sudo" in text or "not allowed" in text:
        return "the login may not run it"
    return a.why


def _manager_up(a: Answer) -> bool:
    first = a.stdout.strip().splitlines()[:1]
    return bool(first) and first[0].strip() in _MANAGER_UP


def root_refusal(login: str, user: str, user_scope: bool) -> str | None:
    """The one-line refusal of a root login on a node whose apps are user units, else None; pure."""
    if user != "root" or not user_scope:
        return None
    return (f"{login}: the apps are user units of the profile's login, but root's `systemctl --user` "
            f"and podman are root's own units and rootful podman, not the apps': log in as the "
            f"apps' user with sudo -n (the profile's login.user, e.g. ssh://archipelago@host)")


def refusal(login: str, user: str, become: str, sudo: Answer | None = None,
            manager: Answer | None = None, linger: Answer | None = None) -> str | None:
    """The one-line refusal for these answers, or None when the login will do; pure.
    login: user@host for the message; become: the sudo prefix ("sudo -n "); None: not asked."""
    if sudo is not None and sudo.rc != 0:
        reason = _sudo_reason(sudo)
        first = "install sudo and give" if reason == "sudo is not installed" else "give"
        return (f"{login}: {become}true failed ({reason}): {first} the login passwordless sudo for "
                f"the commands in {SUDO_DOC}, or log in as root")
    if manager is not None and not _manager_up(manager):
        return (f"{login}: the apps are user units of {user} but its user manager is not reachable "
                f"(systemctl --user: {manager.why}): run `loginctl enable-linger {user}` as root on "
                f"the node (it starts the manager and keeps it after logout)")
    if linger is not None and linger.stdout.strip() != "yes":
        state = linger.stdout.strip() or linger.why
        return (f"{login}: {user}'s user units stop when its last session ends (Linger={state}): run "
                f"`loginctl enable-linger {user}` as root on the node")
    return None


def check(node: Node) -> None:
    """Ask the node what `refusal` needs (bounded, at most three commands) and raise
    LoginRefused with its line; nothing is run for a root login."""
    cmd = node.cmd
    user = getattr(node, "user", None) or "root"
    login = f"{user}@{getattr(node, 'hostname', node.name)}"
    if line := root_refusal(login, user, cmd.user_scope):
        raise LoginRefused(line)
    if not cmd.root and not cmd.user_scope:
        return

    def ask(c: str) -> Answer:
        r = node.run(c, timeout=30)
        return Answer(r.rc, r.stdout, r.stderr)

    sudo = ask(f"{cmd.root}true") if cmd.root else None
    manager = linger = None
    if cmd.user_scope and (sudo is None or sudo.rc == 0):
        manager = ask(f"{cmd.systemctl} is-system-running")
        linger = ask('loginctl show-user "$(id -un)" -p Linger --value')
    if line := refusal(login, user, cmd.root, sudo, manager, linger):
        raise LoginRefused(line)
