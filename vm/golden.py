"""The golden state: the base image provisioned once (reconciler, catalog, stand-in image), saved
as a frozen disk (golden.qcow2) plus memory state (golden.state) and restored in seconds.

Cache key: base hash + accelerator/machine shape + the reconciler/ tree + matrix/apps.yaml, so an
edit to the reconciler or the catalog re-provisions on the next run.
"""
import hashlib
import io
import json
import os
import posixpath
import shlex
import tarfile
import time
from pathlib import Path
from typing import Callable

import yaml

from matrix import model
from node.api import CommandTimeout
from node.deletion import safe_rmtree
from node.names import HARNESS
from node.names import REFERENCE as REFERENCE_NAMES
from node.platform import DEFAULT as REFERENCE_PROFILE, load as load_platform, reconciler_node_block

from . import accel, cache, machine, paths, reaper
from .errors import VMError
from .image import BaseImage
from .node import VMNode
from .state import Golden

PROVISION = "reconciler/provision.py"
PROVISION_UNIT = HARNESS.mark("provision")          # the transient unit provision.py runs in
PROVISION_LOG = f"/var/log/{PROVISION_UNIT}.log"
BASE_ONLY_ENV = "ARCHY_VM_GOLDEN"          # =base: golden of the unprovisioned base (vm tests only)
                                           # =latest: newest provisioned golden, even if stale (dev loop)
GOLDEN_RECIPE = 4                          # bump when the build steps below change (4: one per profile)
# The bundled profiles a golden can be provisioned as: the rootless default and the rootful second
# node (issue 18). Any other profile (archipelago, a user's) reads the default's golden.
PROFILES = (REFERENCE_PROFILE, "reference-rootful")
FRESH_ENV = "ARCHY_VM_GOLDEN_FRESH"        # =1: cold boot + full provisioning, no seed
_SKIP = ("__pycache__", ".pyc", ".pytest_cache")


def _files(tree: Path) -> list[Path]:
    return sorted(p for p in tree.rglob("*")
                  if p.is_file() and not any(s in p.as_posix() for s in _SKIP))


def tree_hash(tree: Path) -> str:
    h = hashlib.sha256()
    for p in _files(tree):
        h.update(p.relative_to(tree).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def golden_profile(name: str | None) -> str:
    """The bundled profile whose golden a run of profile `name` restores; pure."""
    return name if name in PROFILES else REFERENCE_PROFILE


def node_settings(profile: str) -> bytes:
    """/etc/archipelago/reconciler.json for a golden of `profile`: the reconciler's defaults plus
    the profile's names and scope (node.platform.reconciler_node_block), written before provision.py."""
    block = reconciler_node_block(load_platform(profile))
    return (json.dumps({"tick_interval": 5, "variant": None, "node": block}, indent=1, sort_keys=True)
            + "\n").encode()


def golden_key(base: BaseImage, repo: Path, base_only: bool, profile: str = REFERENCE_PROFILE) -> str:
    parts = [base.hash, _shape(), f"recipe {GOLDEN_RECIPE}"]
    if not base_only:
        parts += [tree_hash(repo / "reconciler"), hashlib.sha256((repo / "matrix/apps.yaml").read_bytes()).hexdigest(),
                  profile, hashlib.sha256(node_settings(profile)).hexdigest()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def golden_dir(base: BaseImage, repo: Path | None = None, base_only: bool | None = None,
               profile: str = REFERENCE_PROFILE) -> Path:
    repo = repo or paths.repo_root()
    base_only = _base_only() if base_only is None else base_only
    prefix = "golden-base-" if base_only else "golden-"
    return paths.cache_root() / (prefix + golden_key(base, repo, base_only, profile))


def _base_only() -> bool:
    return os.environ.get(BASE_ONLY_ENV) == "base"


def render_catalog(apps_yaml: Path) -> bytes:
    """matrix/apps.yaml as JSON for the node (which has no YAML parser); validated first."""
    try:
        model.load(apps_yaml.parent)      # the matrix loader names file:line on bad data
    except Exception as e:                # MatrixError: already a one-line file:line message
        raise VMError(f"cannot render the catalog: {e}") from None
    try:
        data = yaml.safe_load(apps_yaml.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{apps_yaml}:{mark.line + 1}" if mark else str(apps_yaml)
        raise VMError(f"{where}: invalid YAML: {getattr(e, 'problem', e)}") from None
    return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()


def reconciler_tar(tree: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for p in _files(tree):
            info = tar.gettarinfo(str(p), arcname=p.relative_to(tree).as_posix())
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            with open(p, "rb") as f:
                tar.addfile(info, f)
    return buf.getvalue()


def cached_golden(base: BaseImage, profile: str = REFERENCE_PROFILE) -> Golden | None:
    d = golden_dir(base, profile=profile)
    return Golden(d) if (d / "golden.state").is_file() else None


def ensure_golden(base: BaseImage, progress: Callable[[str], None] = print,
                  profile: str = REFERENCE_PROFILE) -> Golden:
    found = cached_golden(base, profile)
    if found:
        return found
    if os.environ.get(BASE_ONLY_ENV) == "latest" and (newest := find_seed(base, Path("/nonexistent"), profile)):
        progress(f"{BASE_ONLY_ENV}=latest: using {newest.dir.name} although reconciler/ or apps.yaml changed since")
        return newest
    repo = paths.repo_root()
    base_only = _base_only()
    if not base_only and not (repo / PROVISION).is_file():
        raise VMError(f"{PROVISION} missing: the golden node cannot be provisioned yet "
                      f"(set {BASE_ONLY_ENV}=base for an unprovisioned golden, vm tests only)")
    d = cache.ensure_dir(golden_dir(base, profile=profile),
                         lambda tmp: _build(tmp, base, repo, base_only, progress, profile),
                         progress=progress, what="golden VM state")
    prune(keep=d, progress=progress)
    return Golden(d)


KEEP_GOLDENS = 4                                   # two profiles, each with its previous build


def prune(keep: Path, progress: Callable[[str], None], root: Path | None = None) -> list[Path]:
    """Delete all but the newest KEEP_GOLDENS golden dirs (~700 MB each), never one a VM runs on."""
    root = root or paths.cache_root()
    in_use = {str(Path(rec.get("backing", "")).parent) for d in _run_dirs()
              if (rec := reaper.read_owner(d)) and reaper.proc.is_qemu_of(reaper.proc.read_pid(d / reaper.PIDFILE), d)}
    goldens = sorted((p for p in root.glob("golden-*") if p.is_dir() and ".tmp-" not in p.name),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    removed = []
    for tmp in root.glob("*.tmp-*"):              # builds killed outright (SIGKILL, power loss)
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not reaper.proc.alive(int(pid)):
            safe_rmtree(tmp, within=root)
            removed.append(tmp)
    for old in goldens[KEEP_GOLDENS:]:
        if old == keep or str(old) in in_use:
            continue
        safe_rmtree(old, within=root)
        old.with_name(old.name + ".lock").unlink(missing_ok=True)
        removed.append(old)
        progress(f"removed old golden state {old.name}")
    return removed


def _run_dirs() -> list[Path]:
    r = paths.run_root()
    return [p for p in r.iterdir() if p.is_dir()] if r.is_dir() else []


def _shape() -> str:
    return (f"{accel.detect().name}/{machine.MEM_MIB}/{machine.SMP}/{machine.MACHINE_VERSION}/"
            f"{machine.KERNEL_CMDLINE}")


def find_seed(base: BaseImage, exclude: Path, profile: str = REFERENCE_PROFILE,
              root: Path | None = None) -> Golden | None:
    """The newest provisioned golden of the same base and machine shape, to re-provision from
    (of `profile` when there is one).

    Re-provisioning a restored golden (push the new reconciler/ and catalog, rerun the idempotent
    provision.py) takes about a minute; a cold boot + full provisioning takes 5-10 under TCG.
    ARCHY_VM_GOLDEN_FRESH=1 forces the full build.
    """
    if os.environ.get(FRESH_ENV) == "1":
        return None
    root = root or paths.cache_root()
    found = []
    for d in root.glob("golden-*"):
        g = Golden(d)
        if d == exclude or ".tmp-" in d.name or not g.state.is_file():
            continue
        try:
            m = g.manifest
        except (OSError, ValueError):
            continue
        if m.get("base") == base.hash and m.get("shape") == _shape() and not m.get("base_only"):
            # the same profile first; another profile's golden still saves the cold boot
            # (provision.py switches the daemon's scope and builds the image in its storage)
            found.append((m.get("profile") == profile, m.get("saved_at", 0), d))
    return Golden(max(found)[2]) if found else None


def _build(out: Path, base: BaseImage, repo: Path, base_only: bool, progress: Callable[[str], None],
           profile: str = REFERENCE_PROFILE) -> None:
    t0 = time.monotonic()
    vm = machine.VM(f"golden-build-{os.getpid()}", base)
    seed = None if base_only else find_seed(base, out.with_name(out.name.split(".tmp")[0]), profile)
    platform = load_platform(profile)
    name = out.name.split(".tmp")[0]
    try:
        if seed:
            progress(f"building golden state {name} ({profile}) from {seed.dir.name} (restore + re-provision)")
            vm.start(seed.disk, incoming=seed.state, progress=progress)
            node = VMNode(vm, golden=None, platform=platform)
            node.fix_clock()
            # as on a fresh node: the old daemon and its state must not leak into the new golden
            n = node.names
            state = " ".join(shlex.quote(f) for f in (n.desired_state, n.backoff_state))
            node.succeed(node.cmd.as_root(f"systemctl stop {shlex.quote(n.daemon_unit)} && rm -f {state}"),
                         timeout=180)
        else:
            progress(f"building golden state {name} ({profile}): cold boot (minutes under TCG)")
            vm.start(base.disk, progress=progress)
            vm.wait_ssh(900, progress)
            node = VMNode(vm, golden=None, platform=platform)
            progress(f"SSH up after {time.monotonic() - t0:.0f} s; waiting for boot to settle")
            # snapshot a settled system, not one still starting units
            state = node.run("systemctl is-system-running --wait", timeout=900).stdout.strip()
            progress(f"booted ({state}) in {time.monotonic() - t0:.0f} s")
        # the login's user manager stays up: otherwise every SSH login after a restore starts
        # user@<uid>.service first, which takes tens of seconds under a loaded TCG host (and on a
        # rootless node the apps live in it)
        login = shlex.quote(platform.login)
        node.succeed(node.cmd.as_root(f"loginctl enable-linger {login} && "
                                      f"systemctl start user@$(id -u {login}).service"), timeout=300)
        if not base_only:
            _provision(node, repo, progress, profile)
        node.succeed("sync", timeout=60)
        node.close()                               # no TCP session inside the saved state
        took = vm.save_state(out / "golden.state")
        vm.quit()
        vm.freeze_overlay(out / "golden.qcow2")
        if seed:                                   # flatten onto the base: old goldens stay prunable
            (out / "golden.qcow2").chmod(0o644)
            machine._run(["qemu-img", "rebase", "-f", "qcow2", "-b", str(base.disk), "-F", "qcow2",
                          str(out / "golden.qcow2")], timeout=600)
            (out / "golden.qcow2").chmod(0o444)
        (out / "golden.state").chmod(0o444)
        manifest = {"base": base.hash, "shape": _shape(), "base_only": base_only, "accel": vm.accel.name,
                    "profile": None if base_only else profile,
                    "mem_mib": vm.mem_mib, "smp": vm.smp, "saved_at": time.time(),
                    "seeded_from": seed.dir.name if seed else None,
                    "save_seconds": round(took, 1), "build_seconds": round(time.monotonic() - t0, 1)}
        (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        progress(f"golden state saved in {time.monotonic() - t0:.0f} s (memory state {took:.1f} s)")
    finally:
        vm.destroy()


def replaceable_code_dir(path: str) -> str:
    """The code dir provisioning replaces wholesale (rm -rf); pure. Refused unless it is a
    normalized absolute path (no `..`, `.`, `//` or trailing /) strictly inside the reference
    daemon's own prefix on the guest (/opt/archipelago): the one tree there the project installs."""
    own = posixpath.dirname(REFERENCE_NAMES.code_dir)
    if not path.startswith("/") or posixpath.normpath(path) != path or not path.startswith(own + "/"):
        raise VMError(f"refusing to replace code dir {path!r}: want a normalized absolute path inside {own}/ "
                      f"(e.g. {REFERENCE_NAMES.code_dir})")
    return path


def put_reconciler(node, tar_gz: bytes) -> None:
    """The node's reconciler code dir replaced by the tree in `tar_gz` (paths relative to it); the
    one rm -rf on the guest, refused by replaceable_code_dir for any dir but the daemon's own."""
    code = shlex.quote(replaceable_code_dir(node.names.code_dir))
    node.succeed(node.cmd.as_root(f"rm -rf {code} && mkdir -p {code} && tar -xzf - -C {code}"),
                 input=tar_gz, timeout=120)


def _provision(node, repo: Path, progress: Callable[[str], None], profile: str) -> None:
    """Always a bundled reference profile's names (_build, PROFILES): the golden state is a
    reference node whatever $ARCHY_PLATFORM says, so no user option reaches the rm -rf below."""
    n = node.names
    progress(f"copying reconciler/ to {n.code_dir}, the catalog to {n.catalog}, the {profile} settings to {n.settings}")
    put_reconciler(node, reconciler_tar(repo / "reconciler"))
    node.put_file(n.catalog, render_catalog(repo / "matrix/apps.yaml"))
    node.put_file(n.settings, node_settings(profile))
    progress(f"running {PROVISION} on the node (builds the stand-in image; minutes under TCG)")
    t = time.monotonic()
    rc = _run_streamed(node, f"python3 {n.code_dir}/provision.py", PROVISION_UNIT, progress, 1800)
    if rc != 0:
        tail = node.run(node.cmd.as_root(f"tail -n 5 {PROVISION_LOG}"), timeout=30).stdout.strip().replace("\n", " | ")
        raise VMError(f"provision.py failed on the node (exit {rc}): {tail}")
    progress(f"provisioned in {time.monotonic() - t:.0f} s; waiting for {n.daemon_unit}")
    node.wait_for_unit(n.daemon_unit, timeout=300, system=True)


def _run_streamed(node, cmd: str, unit: str, progress: Callable[[str], None], timeout: float) -> int:
    """Run cmd as a transient unit on the node, passing its output to progress as it comes."""
    root = node.cmd.as_root
    node.succeed(root(f"systemctl reset-failed {unit} 2>/dev/null; rm -f {PROVISION_LOG}; "
                      f"systemd-run --quiet --unit={unit} -p StandardOutput=file:{PROVISION_LOG} "
                      f"-p StandardError=inherit {cmd}"), timeout=60)
    offset = 0
    deadline = time.monotonic() + timeout
    while True:
        try:
            state = node.succeed(f"systemctl show -P ActiveState {unit}", timeout=120).strip()
            new = node.run(root(f"tail -c +{offset + 1} {PROVISION_LOG} 2>/dev/null"), timeout=120).stdout
        except CommandTimeout:        # a loaded TCG guest; the overall deadline still holds
            state, new = "unknown", ""
        offset += len(new.encode())
        for line in new.splitlines():
            progress("  " + line)
        if state in ("inactive", "failed"):
            status = node.succeed(f"systemctl show -P ExecMainStatus {unit}", timeout=120).strip()
            node.run(root(f"systemctl reset-failed {unit}"), timeout=120)
            return int(status or 1)
        if time.monotonic() > deadline:
            node.run(root(f"systemctl stop {unit}"), timeout=60)
            raise VMError(f"{cmd} did not finish within {timeout:.0f} s (log {PROVISION_LOG} on the node)")
        time.sleep(2)
