"""Leftover inventory in the style of podman's `leak_check`, plus witness files.

`snapshot(node)` runs one bounded script (pure `script`, from the node's names) on the node and
parses it (pure `parse`) into sets of
stable names per kind; `diff(before, after)` (pure) says what appeared or vanished. Witness
files planted in *other* apps' data dirs catch collateral deletion (YunoHost's witness.sh idea).
"""
from __future__ import annotations

import fnmatch
import hashlib
import re
import secrets
import shlex
from dataclasses import dataclass

from node.api import Node
from node.commands import ROOT, Commands
from node.names import HARNESS, Names

KINDS = ("containers", "volumes", "networks", "images", "quadlet", "units", "ports", "nginx", "tor")


def script(names: Names, cmd: Commands = ROOT) -> str:
    """The one inventory command. `|| true` everywhere: a node without nginx/tor simply has empty sections.
    Only what needs root runs as root (`ss -p` names other users' processes; tor's dirs are its own)."""
    units = " ".join(shlex.quote(g) for g in names.unit_globs())
    podman, systemctl = cmd.podman, cmd.systemctl
    daemon = f"'{names.daemon}*'"
    # the daemon is a system unit; where the apps are user units, the system manager is asked too
    system_units = (f"; systemctl list-units --all --plain --no-legend --no-pager {daemon} 2>/dev/null || true"
                    if cmd.user_scope else "")
    return f"""
s() {{ echo "@@section $1"; }}
s containers; {podman} ps -a --external --format '{{{{.Names}}}}' 2>/dev/null || true
s volumes;    {podman} volume ls --format '{{{{.Name}}}}' 2>/dev/null || true
s networks;   {podman} network ls --format '{{{{.Name}}}}' 2>/dev/null || true
s images;     {podman} images -a --format '{{{{.Repository}}}}:{{{{.Tag}}}} {{{{.ID}}}}' 2>/dev/null || true
s quadlet;    find {names.quadlet_dir} -mindepth 1 -maxdepth 2 -type f 2>/dev/null || true
s units;      {systemctl} reset-failed 2>/dev/null; {systemctl} list-units --all --plain --no-legend --no-pager {units} {daemon} 2>/dev/null || true{system_units}
s ports;      {cmd.as_root("ss -Htlnp")} 2>/dev/null || true
s nginx;      find {names.nginx_dir} -mindepth 1 -maxdepth 1 2>/dev/null || true
s tor;        {cmd.as_root(f"find {names.tor_dir} {names.torrc_dir} -mindepth 1 -maxdepth 1 {tor_names(names)}")} 2>/dev/null || true
"""


def tor_names(names: Names) -> str:
    """find's test for the apps' hidden-service dirs and torrc snippets (`-name 'archy-*'`, or
    one -name per app where containers are named by app id); pure."""
    found: list[str] = []
    for path in (*names.globs("hs_dir"), *names.globs("tor_snippet")):
        base = path.rsplit("/", 1)[-1]
        if not any(fnmatch.fnmatchcase(base, g) for g in found):
            found.append(base)
    tests = [f"-name {shlex.quote(g)}" for g in found]
    return tests[0] if len(tests) == 1 else "\\( " + " -o ".join(tests) + " \\)"


_PROC = re.compile(r'users:\(\("([^"]+)"')


@dataclass(frozen=True)
class Inventory:
    items: dict[str, frozenset[str]]

    def __getitem__(self, kind: str) -> frozenset[str]:
        return self.items.get(kind, frozenset())


def _line(kind: str, line: str, names: Names) -> str | None:
    line = line.strip()
    if not line:
        return None
    if kind == "units":
        cols = line.split()
        # "<unit> loaded active running ..."; not-found units are only references. The daemon's
        # shared slices appear with the first app started and stay: they are no app's leftover.
        return None if len(cols) < 2 or cols[1] == "not-found" or cols[0] in names.daemon_slices else cols[0]
    if kind == "ports":
        cols = line.split()
        if len(cols) < 4:
            return None
        proc = _PROC.search(line)
        return f"{cols[3]} {proc.group(1) if proc else '?'}"  # pids change, names do not
    return line


def parse(text: str, names: Names) -> Inventory:
    items: dict[str, set[str]] = {k: set() for k in KINDS}
    kind = None
    for raw in text.splitlines():
        if raw.startswith("@@section "):
            kind = raw.split(None, 1)[1].strip()
            items.setdefault(kind, set())
            continue
        if kind and (v := _line(kind, raw, names)) is not None:
            items[kind].add(v)
    return Inventory({k: frozenset(v) for k, v in items.items()})


def snapshot(node: Node, timeout: float = 120) -> Inventory:
    return parse(node.succeed(script(node.names, node.cmd), timeout=timeout), node.names)


def diff(before: Inventory, after: Inventory, ignore: dict[str, list[str]] | None = None) -> dict:
    """{kind: {"added": [...], "removed": [...]}} for kinds that changed; `ignore` holds regexes."""
    out = {}
    for kind in sorted(set(before.items) | set(after.items)):
        pats = [re.compile(p) for p in (ignore or {}).get(kind, [])]
        keep = lambda xs: sorted(x for x in xs if not any(p.search(x) for p in pats))  # noqa: E731
        added, removed = keep(after[kind] - before[kind]), keep(before[kind] - after[kind])
        if added or removed:
            out[kind] = {"added": added, "removed": removed}
    return out


def format_diff(d: dict) -> str:
    lines = []
    for kind, ch in d.items():
        lines += [f"{kind}: + {x}" for x in ch["added"]] + [f"{kind}: - {x}" for x in ch["removed"]]
    return "\n".join(lines)


# ---------------------------------------------------------------- witness files
WITNESS_NAME = f".{HARNESS.mark('witness')}"


def plant_witnesses(node: Node, data_dirs: list[str], timeout: float = 60) -> dict[str, str]:
    """Write a random witness file into each existing dir; returns {path: sha256}."""
    planted = {}
    for d in data_dirs:
        path = f"{d.rstrip('/')}/{WITNESS_NAME}"
        body = secrets.token_hex(16).encode()
        if node.run(node.cmd.as_root(f"test -d {shlex.quote(d)}"), timeout=timeout).rc != 0:
            continue  # app not installed: nothing to protect there
        node.put_file(path, body, mode=0o600)
        planted[path] = hashlib.sha256(body).hexdigest()
    return planted


def verify_witnesses(node: Node, planted: dict[str, str], timeout: float = 60) -> list[str]:
    """Problems with planted witnesses (missing or changed); empty when all are intact."""
    if not planted:
        return []
    paths = " ".join(shlex.quote(p) for p in planted)
    out = node.run(node.cmd.as_root(f"for p in {paths}; do if [ -f \"$p\" ]; then sha256sum \"$p\"; "
                                    f"else echo \"MISSING $p\"; fi; done"), timeout=timeout).stdout
    return check_witnesses(planted, out)


def check_witnesses(planted: dict[str, str], sha256sum_output: str) -> list[str]:
    """Pure half of verify_witnesses."""
    seen, problems = {}, []
    for line in sha256sum_output.splitlines():
        if line.startswith("MISSING "):
            problems.append(f"witness deleted: {line[8:]}")
        elif len(parts := line.split(None, 1)) == 2:
            seen[parts[1].strip()] = parts[0]
    for path, digest in planted.items():
        if path in seen and seen[path] != digest:
            problems.append(f"witness changed: {path}")
        elif path not in seen and f"witness deleted: {path}" not in problems:
            problems.append(f"witness deleted: {path}")
    return problems


def remove_witnesses(node: Node, planted: dict[str, str], timeout: float = 60) -> None:
    if planted:
        node.run(node.cmd.as_root("rm -f " + " ".join(shlex.quote(p) for p in planted)), timeout=timeout)
