"""Where goss runs on a node for this session: the node's own goss, or the pinned one copied over.

Each session gets a directory made with `mktemp -d` on the node (in the login's /run/user/UID when
it has one, else /tmp), for the goss files, their vars and, when the node has no `goss` on its
PATH, the pinned binary (harness/goss_binary.py), checked against its digest after the copy.
`release(node)` removes that directory and nothing else; `session(node)` does it on any exit
(a failure, Ctrl-C). The plugin's node fixture and the soak CLI release their node at the end.
A reboot or a snapshot restore may take the directory away: `ensure` notices and makes a new one.
"""
from __future__ import annotations

import gzip
import logging
import re
import shlex
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator

from harness import goss_binary
from harness.goss_binary import GossUnavailable, Pinned
from node.api import Node, NodeError
from node.names import HARNESS

log = logging.getLogger("archy.goss")
TEMPLATE = f"{HARNESS.mark('goss')}.XXXXXXXX"
OURS = re.compile(rf"^/(?:[\w.-]+/)*{re.escape(HARNESS.mark('goss'))}\.[A-Za-z0-9]{{8}}$")
COPY_TIMEOUT = 300
FIX = "install goss on the node (apt-get install goss)"
# prints dir=, goss=, machine=; the first writable of $XDG_RUNTIME_DIR, /run/user/UID, /tmp
PROBE = ('g=$(command -v goss 2>/dev/null || true); b=""; '
         'for c in "${XDG_RUNTIME_DIR:-}" "/run/user/$(id -u)" /tmp; do '
         '[ -n "$c" ] && [ -d "$c" ] && [ -w "$c" ] && { b=$c; break; }; done; '
         '[ -n "$b" ] || { echo "no writable /run/user/$(id -u) or /tmp" >&2; exit 3; }; '
         f'd=$(mktemp -d "$b/{TEMPLATE}") || exit 3; '
         'printf "dir=%s\\ngoss=%s\\nmachine=%s\\n" "$d" "$g" "$(uname -m)"')


@dataclass(frozen=True)
class Session:
    dir: str             # the session's directory on the node (ours: removed by release)
    goss: str            # the goss that runs: the node's own, or dir/goss
    copied: bool         # the pinned goss was copied into dir

    def path(self, name: str) -> str:
        return f"{self.dir}/{name}"


_SESSIONS: "weakref.WeakKeyDictionary[Node, Session]" = weakref.WeakKeyDictionary()


def parse_probe(stdout: str) -> dict[str, str]:
    """PROBE's `key=value` lines -> {dir, goss, machine} (goss "" when the node has none)."""
    out = dict(line.split("=", 1) for line in stdout.splitlines() if "=" in line)
    if not OURS.match(out.get("dir", "")):
        raise GossUnavailable(f"mktemp on the node gave {out.get('dir')!r}, not a dir of ours")
    return {"dir": out["dir"], "goss": out.get("goss", ""), "machine": out.get("machine", "")}


def ensure(node: Node, *, pinned: Callable[[], Pinned] = goss_binary.ensure) -> Session:
    """This session's goss on `node`, set up once (again if a reboot or a restore removed it)."""
    s = _SESSIONS.get(node)
    if s and node.run(f"test -d {shlex.quote(s.dir)} && test -x {shlex.quote(s.goss)}", timeout=30).rc == 0:
        return s
    r = node.run(PROBE, timeout=30)
    if r.rc != 0:
        raise GossUnavailable(f"{node.name}: no directory for goss: {r.stderr.strip() or r.stdout.strip()}")
    found = parse_probe(r.stdout)
    s = Session(found["dir"], found["goss"], False)
    if not found["goss"]:
        try:
            s = _copy(node, found, pinned())
        except NodeError:
            _remove(node, found["dir"])
            raise
    _SESSIONS[node] = s
    return s


def _copy(node: Node, found: dict[str, str], pinned: Pinned) -> Session:
    """The pinned goss into the session dir: gzip on the wire, digest and a test run on the node."""
    pin, d = pinned.pin, found["dir"]
    if found["machine"] != pin.machine:
        raise GossUnavailable(f"{node.name} has no goss on its PATH and is {found['machine'] or '?'}; the "
                              f"pinned goss is {pin.machine} only: {FIX}")
    part, goss = shlex.quote(f"{d}/goss.part"), shlex.quote(f"{d}/goss")
    cmd = (f"gzip -dc > {part} && chmod 700 {part} || exit 3; "
           f'[ "$(sha256sum < {part} | cut -d" " -f1)" = {pin.bin_sha256} ] || '
           f"{{ echo 'the copy is not the pinned goss (sha256 differs)' >&2; exit 4; }}; "
           f"mv -f {part} {goss} || exit 3; {goss} --help >/dev/null 2>&1 || "
           f"{{ echo 'the copied goss does not run there (a noexec mount? another libc?)' >&2; exit 5; }}")
    r = node.run(cmd, timeout=COPY_TIMEOUT, input=_gzipped(pinned.path))
    if r.rc != 0:
        why = (r.stderr.strip() or r.stdout.strip() or f"exit {r.rc}").splitlines()[-1]
        raise GossUnavailable(f"cannot copy goss to {node.name}:{d}: {why}: {FIX}")
    log.info("%s: pinned goss %s copied to %s", node.name, pin.version, d)
    return Session(d, f"{d}/goss", True)


@lru_cache(maxsize=2)
def _gzipped(path: Path) -> bytes:
    return gzip.compress(path.read_bytes(), 6)


def _remove(node: Node, d: str) -> None:
    """rm -r of a session dir, only when it is one of ours; a node that is gone is logged, not raised."""
    if not OURS.match(d):
        log.warning("%s: not removing %r: not a goss session dir", node.name, d)
        return
    try:
        r = node.run(f"rm -rf -- {shlex.quote(d)}", timeout=30)
        if r.rc != 0:
            log.warning("%s: could not remove %s: %s", node.name, d, r.stderr.strip())
    except NodeError as e:
        log.warning("%s: could not remove %s: %s", node.name, d, e)


def release(node: Node) -> None:
    """Remove this session's goss dir from `node` (copied binary, goss files, vars), if there is one."""
    s = _SESSIONS.pop(node, None)
    if s:
        _remove(node, s.dir)


@contextmanager
def session(node: Node) -> Iterator[Node]:
    """`with session(node):` its goss dir is removed however the block ends (Ctrl-C included)."""
    try:
        yield node
    finally:
        release(node)
