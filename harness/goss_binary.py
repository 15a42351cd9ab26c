"""The harness's own goss, for a node that has none: Debian trixie's package, pinned here.

The .deb comes from the controller's apt: apt's own cache (/var/cache/apt/archives) when it holds
it, else `apt-get download goss=VERSION` with the controller's sources, else the same with a
private source list naming trixie (a bookworm controller's apt does not know trixie; that state
lives in the build dir and goes with it). Its sha256 must be the pinned one; `dpkg-deb -x` then
extracts /usr/bin/goss into ${ARCHY_CACHE}/goss-VERSION-ARCH/ (beside the .deb), built once under
a lock (vm/cache.py) and reused.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from node.api import NodeError
from node.deletion import safe_rmtree
from vm import cache, paths


class GossUnavailable(NodeError):
    """No goss can run on the node: it has none, and the pinned one cannot be had or copied."""


@dataclass(frozen=True)
class Pin:
    """One Debian build of goss: what the harness copies to a node without goss."""
    version: str
    arch: str                 # Debian's name; the node's `uname -m` must be `machine`
    machine: str
    deb_sha256: str
    bin_sha256: str           # of /usr/bin/goss inside it, re-checked on the node after the copy
    source: str               # the apt source line that carries it

    @property
    def deb(self) -> str:
        return f"goss_{self.version}_{self.arch}.deb"


# goss 0.4.9 as the VM image installs it (vm/image.py: Debian trixie, manifest `goss 0.4.9-2+b3`)
PIN = Pin("0.4.9-2+b3", "amd64", "x86_64",
          deb_sha256="6d7fe64e2a1d7c458d619bec0ecb3c551974728f7f6ba1492fa59d44c9284d40",
          bin_sha256="2a955f700f5b79316bf7a76c5aaf79b0c6de73d18c4c3e68a025e57d46a30dbe",
          source="deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
                 "http://deb.debian.org/debian trixie main")
APT_ARCHIVES = Path("/var/cache/apt/archives")
log = logging.getLogger("archy.goss")
APT_TIMEOUT = 300


@dataclass(frozen=True)
class Pinned:
    path: Path                # the goss binary on the controller
    pin: Pin


def sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def cache_dir(pin: Pin = PIN) -> Path:
    return paths.cache_root() / f"goss-{pin.version}-{pin.arch}"


def ensure(progress: Callable[[str], None] | None = None, *, pin: Pin = PIN,
           archives: Path = APT_ARCHIVES) -> Pinned:
    """The pinned goss on the controller, fetched and extracted once; raises GossUnavailable."""
    say = progress or log.info
    d = cache.ensure_dir(cache_dir(pin), lambda tmp: _build(tmp, pin, archives, say),
                         progress=say, what=f"goss {pin.version}")
    binary = d / "goss"
    if not binary.is_file() or sha256(binary) != pin.bin_sha256:
        raise GossUnavailable(f"{binary}: missing or not the pinned goss {pin.version} "
                              f"(sha256 {pin.bin_sha256[:12]}...): delete {d} and run again")
    return Pinned(binary, pin)


def _build(tmp: Path, pin: Pin, archives: Path, say: Callable[[str], None]) -> None:
    deb = tmp / pin.deb
    source = _fetch(deb, pin, archives, say)
    got = sha256(deb)
    if got != pin.deb_sha256:
        raise GossUnavailable(f"{source}: sha256 {got[:12]}... is not the pinned {pin.deb_sha256[:12]}... "
                              f"of goss {pin.version}: remove it, or check PIN in harness/goss_binary.py")
    root = tmp / "root"
    _run(["dpkg-deb", "-x", str(deb), str(root)], f"dpkg-deb -x {pin.deb}")
    (root / "usr" / "bin" / "goss").rename(tmp / "goss")
    safe_rmtree(root, within=paths.cache_root())


def _fetch(deb: Path, pin: Pin, archives: Path, say: Callable[[str], None]) -> str:
    """Into `deb`: apt's cached copy when it has one, else downloaded with apt-get; says from where."""
    cached = archives / pin.deb
    if cached.is_file():
        shutil.copyfile(cached, deb)
        return str(cached)
    if shutil.which("apt-get") is None:
        raise GossUnavailable(f"apt-get not found: the pinned goss {pin.version} is Debian's package "
                              f"(a Debian controller fetches it), or install goss on the node")
    say(f"fetching goss {pin.version} ({pin.arch}) with apt-get download")
    want = f"goss={pin.version}"
    if _apt(["download", want], deb.parent, ()).returncode == 0 and deb.is_file():
        return f"apt-get download {want}"
    private = deb.parent / "apt"
    opts = _private_apt(private, pin.source)
    try:
        upd = _apt(["update"], deb.parent, opts)
        if upd.returncode != 0:
            raise GossUnavailable(f"apt-get update of `{pin.source}` failed: {_last(upd)}")
        got = _apt(["download", want], deb.parent, opts)
        if got.returncode != 0 or not deb.is_file():
            raise GossUnavailable(f"apt-get download {want} from trixie failed: {_last(got)}")
    finally:
        safe_rmtree(private, within=paths.cache_root())
    return f"apt-get download {want} (trixie)"


def _private_apt(d: Path, source: str) -> tuple[str, ...]:
    """apt options for a source list and state of its own, so the controller's apt is untouched."""
    (d / "lists" / "partial").mkdir(parents=True)
    (d / "cache" / "archives" / "partial").mkdir(parents=True)
    (d / "sources.list").write_text(source + "\n")
    (d / "status").write_text("")
    conf = {"Dir::Etc::SourceList": d / "sources.list", "Dir::Etc::SourceParts": "/dev/null",
            "Dir::State::Lists": d / "lists", "Dir::Cache": d / "cache", "Dir::State::Status": d / "status",
            "Acquire::Languages": "none", "APT::Sandbox::User": "root" if os.geteuid() == 0 else "",
            "Debug::NoLocking": "1"}
    return tuple(a for k, v in conf.items() if v != "" for a in ("-o", f"{k}={v}"))


def _apt(args: list[str], cwd: Path, opts: tuple[str, ...]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["apt-get", "-q", *opts, *args], cwd=cwd, capture_output=True, text=True,
                              timeout=APT_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise GossUnavailable(f"apt-get {args[0]} took over {APT_TIMEOUT}s (no network?)") from None


def _run(cmd: list[str], what: str) -> None:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise GossUnavailable(f"{what}: {e}") from None
    if p.returncode != 0:
        raise GossUnavailable(f"{what} failed: {_last(p)}")


def _last(p: subprocess.CompletedProcess) -> str:
    lines = (p.stderr.strip() or p.stdout.strip()).splitlines()
    return lines[-1] if lines else f"exit {p.returncode}"
