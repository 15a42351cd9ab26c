#!/usr/bin/python3
"""The rootless reconciler's only privileged commands, run as root through an exact sudoers rule:

    sudo -n /usr/bin/python3 -I /opt/archipelago/reconciler/priv.py nginx-reload|tor-start|tor-reload

  nginx-reload  `nginx -t -q` (it reads the root-only TLS key), then reload-or-restart nginx
  tor-start     start tor@default
  tor-reload    reload-or-restart tor@default, then remove the hidden-service dirs of catalog apps
                that have no torrc snippet any more (the daemon cannot even stat them: debian-tor, 02700)

It takes no path and no other argument: what it prunes comes from the root-owned catalog and
settings in /etc/archipelago. Standard library only; every command has a timeout. `sudoers(user)`
is the text of /etc/sudoers.d/archipelago-daemon (provisioning writes it); `command(verb)` is the
argv the daemon runs (reconciler/apply.py), so the two cannot drift apart.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

if __package__ in (None, ""):   # `python3 -I .../reconciler/priv.py`: the package is its dir's parent
    sys.dont_write_bytecode = True
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from reconciler import scope
    from reconciler.store import remove_path
else:
    from . import scope
    from .store import remove_path

PYTHON = "/usr/bin/python3"
PRIV = "/opt/archipelago/reconciler/priv.py"
VERBS = ("nginx-reload", "tor-start", "tor-reload")
SUDOERS_LINES = tuple(f"{PYTHON} -I {PRIV} {verb}" for verb in VERBS)
SUDOERS_FILE = "/etc/sudoers.d/archipelago-daemon"
SETTINGS = "/etc/archipelago/reconciler.json"
CATALOG = "/etc/archipelago/catalog.json"
NGINX_UNIT, TOR_UNIT = "nginx.service", "tor@default.service"
HS_ROOT = "/var/lib/tor"     # tor's DataDirectory: the hidden services live in it
TIMEOUT = 60.0         # each command run here
CALL_TIMEOUT = 150.0   # the daemon's sudo call: above the sum of one verb's commands
USER_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


class PrivError(RuntimeError):
    pass


def command(verb: str) -> list[str]:
    """The argv the daemon runs for a verb: exactly one of the sudoers lines behind `sudo -n`."""
    if verb not in VERBS:
        raise ValueError(f"unknown privileged verb {verb!r}")
    return ["sudo", "-n", PYTHON, "-I", PRIV, verb]


def sudoers(user: str) -> str:
    """/etc/sudoers.d/archipelago-daemon: the daemon's user may run these three lines, nothing else."""
    if not isinstance(user, str) or not USER_RE.match(user) or user == "root":
        raise ValueError(f"not a user name for sudoers: {user!r}")
    head = ["# Managed by archipelago (reconciler/priv.py): the reconciler daemon's only privileged commands.",
            "# Exact arguments, no wildcards; install with mode 0440 after `visudo -cf`."]
    return "\n".join([*head, *(f"{user} ALL=(root) NOPASSWD: {line}" for line in SUDOERS_LINES)]) + "\n"


def run(argv: list[str], timeout: float = TIMEOUT) -> tuple[int, str]:
    """(exit code, the output's last line)."""
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout:.0f} s"
    except OSError as e:
        return 127, str(e)
    lines = (p.stderr or p.stdout).strip().splitlines()
    return p.returncode, lines[-1][:300] if lines else ""


def _check(runner, argv: list[str], what: str) -> None:
    rc, out = runner(argv)
    if rc != 0:
        raise PrivError(f"{what} failed (rc={rc})" + (f": {out}" if out else ""))


def nginx_reload(runner=run, root: str = "/") -> str:
    _check(runner, ["nginx", "-t", "-q"], "nginx config test")
    _check(runner, ["systemctl", "reload-or-restart", "--no-block", NGINX_UNIT], f"reload of {NGINX_UNIT}")
    return f"{NGINX_UNIT} reloaded"


def tor_start(runner=run, root: str = "/") -> str:
    _check(runner, ["systemctl", "start", "--no-block", TOR_UNIT], f"start of {TOR_UNIT}")
    return f"{TOR_UNIT} started"


def tor_reload(runner=run, root: str = "/") -> str:
    _check(runner, ["systemctl", "reload-or-restart", "--no-block", TOR_UNIT], f"reload of {TOR_UNIT}")
    node, apps = load_node(root), load_app_ids(root)
    removed = [prune_one(path, root) for path in stale_hidden_services(root, node, apps)]
    return f"{TOR_UNIT} reloaded" + (f"; removed {', '.join(removed)}" if removed else "")


def load_node(root: str = "/") -> scope.Node:
    try:
        with open(os.path.join(root, SETTINGS.lstrip("/")), encoding="utf-8") as f:
            data = json.load(f)
        return scope.parse(data.get("node") if isinstance(data, dict) else None)
    except FileNotFoundError:
        return scope.SYSTEM
    except (OSError, ValueError) as e:
        raise PrivError(f"{SETTINGS}: {e}") from None


def load_app_ids(root: str = "/") -> list[str]:
    try:
        with open(os.path.join(root, CATALOG.lstrip("/")), encoding="utf-8") as f:
            data = json.load(f)
        ids = [a for section in ("apps", "companions") for a in (data.get(section) or {})]
    except (OSError, ValueError, AttributeError) as e:
        raise PrivError(f"{CATALOG}: {e}") from None
    return [a for a in ids if isinstance(a, str) and scope.ID_RE.match(a)]


def stale_hidden_services(root: str, node: scope.Node, app_ids) -> list[str]:
    """Hidden-service dirs (tor_dir/<container>) of catalog apps whose torrc snippet is gone."""
    out = []
    for stem in sorted({node.container_name(a) for a in app_ids}):
        if not scope.NAME_RE.match(stem) or stem in (".", ".."):
            continue
        hs = os.path.join(root, node.tor_dir.lstrip("/"), stem)
        snippet = os.path.join(root, node.torrc_dir.lstrip("/"), f"{stem}.conf")
        if not os.path.lexists(snippet) and os.path.isdir(hs) and not os.path.islink(hs):
            out.append(hs)
    return out


def prune_one(path: str, root: str = "/") -> str:
    """Refused (an OSError: exit 1) unless strictly inside tor's own dir, whatever tor_dir the
    settings name: the one tree this root helper deletes in."""
    remove_path(path, (os.path.join(root, HS_ROOT.lstrip("/")),))
    return path


ACTIONS = {"nginx-reload": nginx_reload, "tor-start": tor_start, "tor-reload": tor_reload}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in ACTIONS:
        print(f"usage: priv.py {{{'|'.join(VERBS)}}}", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("priv.py: must run as root (sudo -n ...)", file=sys.stderr)
        return 2
    try:
        print(ACTIONS[args[0]]())
    except (PrivError, OSError) as e:
        print(f"priv.py {args[0]}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
