"""The files an SSH login reads, checked before any connection: the pinned known_hosts (a line
paramiko cannot load is one clear error with its number, not a traceback in every cell) and the
client key (a missing one is named, not "No such file or directory")."""
from __future__ import annotations

from paramiko.hostkeys import HostKeyEntry, InvalidHostKey
from paramiko.ssh_exception import SSHException

from .api import NodeError


class KeyFileError(NodeError):
    pass


def known_hosts_problem(text: str, path: str) -> str | None:
    """The first line that makes paramiko's HostKeys.load raise, as one line naming it and the
    fix, or None; pure. Lines paramiko skips (unknown key types, too few fields) pass here too."""
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            marker = line.split()[0]
            return (f"known_hosts {path}:{n}: {marker[:40]} lines are not supported (only plain pinned "
                    "host keys are); remove the line or pin the host's own key (ssh-keyscan)")
        try:
            HostKeyEntry.from_line(line, n)
        except InvalidHostKey:
            return (f"known_hosts {path}:{n}: the key is not valid base64; re-pin the host "
                    "(ssh-keyscan -p PORT HOST) or remove the line")
        except SSHException:    # a key paramiko cannot use: it skips the line, so do we
            continue
    return None


def check_known_hosts(path: str) -> None:
    """KeyFileError when `path` cannot be read or holds a line paramiko cannot load."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as e:
        raise KeyFileError(f"known_hosts {path}: cannot read it: {e.strerror or e}; "
                              "pin the node's key there (ssh-keyscan) or pass ?known_hosts=PATH") from None
    if why := known_hosts_problem(text, path):
        raise KeyFileError(why)


def check_key(path: str | None) -> None:
    """KeyFileError when the client key (?key=PATH) is given but cannot be read."""
    if path is None:
        return
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        raise KeyFileError(f"client key {path}: cannot read it: {e.strerror or e}; "
                           "fix ?key=PATH (the private key file, e.g. ~/.ssh/id_ed25519)") from None


def check(known_hosts: str, key: str | None) -> None:
    check_known_hosts(known_hosts)
    check_key(key)
