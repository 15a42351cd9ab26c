"""How a node's platform spells its privileged tools: the login may not be root.

A login as root runs everything as it is. A sudo user (`become: sudo -n`) prefixes what needs
root; rootless podman and user units run as the login user itself (`systemctl --user`). Callers
write `f"{node.cmd.systemctl} restart {unit}"` or `node.cmd.as_root(cmd)`, never a bare
`systemctl`/`podman` for the platform's own units and containers.

Which to use:
- `systemctl` / `podman`: the apps' units and containers (their scope: system or the login's user units);
- `journalctl`: the whole journal (the daemon's, the apps', systemd's lines);
- `as_root(...)`: everything else that needs root: system-scope units (the daemon, nginx, tor,
  reboot), platform files (/etc, /var/lib/archipelago, /var/lib/tor), signals to root processes,
  `ss -p`, the clock, the harness's scratch under /run. Never wrap `systemctl`/`podman` from
  this object in it: in a rootless, user-scope node they must run as the login, not as root.
- `root_systemctl` / `root_podman`: the same tools as text that root runs (goss's commands, a
  script under `as_root`): `as_login_from_root` puts the login's user scope back in front
  (`runuser -u LOGIN -- env XDG_RUNTIME_DIR=/run/user/UID`); plain tools in the system scope.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

# A command sudo can run as it is: words of plain characters or single-quoted text (the login's
# shell removes the quotes and expands nothing). Anything else (pipes, ;, redirections, $, globs,
# ~, a leading VAR=) goes through `sh -c`, so root's shell does the expanding.
_SIMPLE = re.compile(r"[\w@%+=:,./-]+|'[^']*'")
_BECOME = {"sudo -n": "sudo -n ", "sudo": "sudo -n "}   # sudo never prompts: a prompt would hang
# An SSH exec session may have no XDG_RUNTIME_DIR (no PAM session): user units and rootless
# podman find the user's manager and runtime dir through it.
USER_RUNTIME = "/run/user/$(id -u)"          # the login's runtime dir, as its own shell spells it
USER_ENV = f"XDG_RUNTIME_DIR={USER_RUNTIME}"


def login_from_root(login: str, uid: int | None = None) -> str:
    """The prefix (with its trailing blank) under which root runs a command as `login` in its
    user scope: its user manager (`systemctl --user`) and its rootless podman. `uid` None: the
    shell that runs the command looks it up (`$(id -u LOGIN)`); pure."""
    if not login or login == "root":
        raise ValueError(f"login {login!r}: root acts in a user scope of another user, not its own")
    q = shlex.quote(login)
    runtime = f"/run/user/{int(uid)}" if uid is not None else f"/run/user/$(id -u {q})"
    return f"runuser -u {q} -- env XDG_RUNTIME_DIR={runtime} "


def glob_arg(glob: str) -> str:
    """A shell glob as one word whose `*` still expands and whose other characters are quoted
    (`/var/lib/tor/archy-*` stays as it is; a blank or a quote is escaped); pure."""
    return "*".join(shlex.quote(part) if part else "" for part in glob.split("*"))


def is_simple(cmd: str) -> bool:
    """One command with literal arguments (what sudo can run without a shell); pure."""
    words = [w for w in cmd.split(" ") if w]     # a tab or newline is no word character: not simple
    if not words or "=" in words[0] or "'" in words[0]:
        return False
    return all("".join(_SIMPLE.findall(w)) == w for w in words)


@dataclass(frozen=True)
class Commands:
    root: str = ""                  # prefix of a command that needs root: "" or "sudo -n "
    systemctl: str = "systemctl"    # for the platform's app units (system or user scope)
    journalctl: str = "journalctl"  # reads those units' journal
    podman: str = "podman"          # the podman that owns the apps' containers
    login: str = ""                 # the non-root login whose user scope or podman holds the apps

    def as_root(self, cmd: str) -> str:
        """`cmd` (any shell text) run with root rights: `sudo -n cmd` when it is one simple
        command (a sudoers rule can name it), `sudo -n sh -c '...'` otherwise."""
        if not self.root:
            return cmd
        return f"{self.root}{cmd}" if is_simple(cmd) else f"{self.root}sh -c {shlex.quote(cmd)}"

    @property
    def user_scope(self) -> bool:
        """The apps' units are the login's user units (a user manager must be running)."""
        return " --user" in self.systemctl

    @property
    def rootless(self) -> bool:
        """The apps' containers are the login's rootless podman's."""
        return self.podman.startswith(USER_ENV)

    @property
    def as_login_from_root(self) -> str:
        """Prefix for root acting in the login's user scope ("" when the apps are root's)."""
        return login_from_root(self.login) if self.login and (self.user_scope or self.rootless) else ""

    @property
    def root_systemctl(self) -> str:
        """`systemctl` for the apps' units as root runs it (goss, a script under as_root)."""
        return f"{self.as_login_from_root}systemctl --user" if self.user_scope and self.login else "systemctl"

    @property
    def root_podman(self) -> str:
        """`podman` for the apps' containers as root runs it (goss, a script under as_root)."""
        return f"{self.as_login_from_root}podman" if self.rootless and self.login else "podman"

    @classmethod
    def for_login(cls, user: str | None, become: str = "", scope: str = "system",
                  rootless: bool = False) -> "Commands":
        """The commands of a login `user` (None: root) that gets root through `become` ("" or
        "sudo -n"), whose apps run as `scope` units ("system", or "user": the login's own) with
        rootful or `rootless` podman (the login's). Raises ValueError (one line) on bad input."""
        is_root = user in (None, "", "root")
        if scope not in ("system", "user"):
            raise ValueError(f"unit scope {scope!r}: use system or user")
        if become.strip() not in ("", *_BECOME):
            raise ValueError(f"become {become!r}: use sudo -n (or nothing for a root login)")
        if not is_root and not become.strip():
            raise ValueError(f"login {user} is not root: set become: sudo -n (and give it the "
                             "sudo rules in docs/real-node.md#sudo)")
        root = "" if is_root else _BECOME[become.strip()]
        if scope == "user":
            systemctl = f"{USER_ENV} systemctl --user"
        else:
            systemctl = f"{root}systemctl"
        # root reads every journal file, the users' too: the daemon's (system) and the apps'
        # (user units) lines in one stream. `journalctl --user` would read only the login's own
        # files, which journald keeps apart only on persistent storage (journald.conf SplitMode).
        journalctl = f"{root}journalctl"
        podman = f"{USER_ENV} podman" if rootless and not is_root else f"{root}podman"
        login = user if not is_root and (scope == "user" or rootless) else ""
        return cls(root, systemctl, journalctl, podman, login)


ROOT = Commands()
