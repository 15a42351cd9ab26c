"""Broken install (seed 000: "install of an image that never starts must fail, not report
success"): the app's catalog entry names a release whose image exits at once. package.install
must answer an error within its deadline, the node must be as before the install (the inventory
unchanged: no unit, container, Quadlet file, route or onion left), and the installed apps untouched
(same process, no restart). Then the good release installs cleanly over what is left, so the
cell ends on the state a fresh install leaves.

The broken image is built on the node from the app's own (FROM it, an ENTRYPOINT that exits 1),
so no registry is needed; the catalog (node.names.catalog) is put back byte for byte and the
image removed, on failure too. A node without that catalog file cannot take a broken release
from the harness: the cell says so and fails rather than pass unjudged."""
from __future__ import annotations

import json
import re
import shlex
import time

from harness import inventory
from harness.checks import probes
from harness.grid.context import CellContext
from harness.grid.event import BEFORE_APP, GridEvent
from node.names import HARNESS

BROKEN_IMAGE = f"localhost/{HARNESS.mark('broken-release')}:exits-at-once"
SAYS = "archy-lifecycle broken release: exits at once"
# What the broken release makes its own unit and the reconciler log while it fails.
JOURNAL_ALLOW = (r"Failed with result 'exit-code'", r"Main process exited, code=exited", re.escape(SAYS),
                 r"Start request repeated too quickly", r"Failed to start ", r"install \S+ failed",
                 r"crash[- ]loop")


def containerfile(base: str) -> str:
    """The broken release: the app's image with an entrypoint that exits 1 at once; pure."""
    script = f"import sys; sys.exit({SAYS!r})"
    return f"FROM {base}\nENTRYPOINT {json.dumps(['/usr/bin/python3', '-c', script])}\n"


def with_image(catalog: dict, app_id: str, image: str) -> dict:
    """The catalog with the app's release replaced; pure (KeyError: no such app)."""
    apps = dict(catalog["apps"])
    apps[app_id] = {**apps[app_id], "image": image}
    return {**catalog, "apps": apps}


def _build(node, base: str) -> None:
    podman = node.cmd.podman
    node.succeed(f"d=$(mktemp -d) && {podman} build -q --pull=never -t {shlex.quote(BROKEN_IMAGE)} -f - \"$d\"; "
                 f"rc=$?; rmdir \"$d\"; exit $rc", timeout=300, input=containerfile(base).encode())


def _remove_image(node) -> None:
    node.run(f"{node.cmd.podman} rmi -f {shlex.quote(BROKEN_IMAGE)} >/dev/null 2>&1", timeout=120)


def run(ctx: CellContext) -> None:
    node, app, path = ctx.node, ctx.app, ctx.node.names.catalog
    if node.run(node.cmd.as_root(f"test -f {shlex.quote(path)}"), timeout=30).rc != 0:
        raise AssertionError(f"{app.id}: no catalog at {path} to name a broken release in "
                             "(this platform cannot take one from the harness)")
    original = node.get_file(path)
    catalog = json.loads(original)
    base = catalog["apps"].get(app.id, {}).get("image") or catalog["image"]
    others = {a: probes.identity(node, a) for a in ctx.installed}
    _build(node, base)
    try:
        node.wait_settled(ctx.options.healthy_timeout)
        before = inventory.snapshot(node)
        node.put_file(path, (json.dumps(with_image(catalog, app.id, BROKEN_IMAGE), indent=1) + "\n").encode(), 0o644)
        try:
            _install_fails(ctx)
        finally:
            node.put_file(path, original, 0o644)
        node.wait_settled(ctx.options.healthy_timeout)
        problems = _left_behind(ctx, before) + _touched(ctx, others)
    finally:
        _remove_image(node)
    if problems:
        raise AssertionError(f"{app.id}: " + "; ".join(problems))
    t0 = time.monotonic()
    probes.rpc(ctx.driver, "package.install", ctx.options.install_timeout, id=app.id)
    probes.wait_healthy(node, app, ctx.options.healthy_timeout)
    ctx.notes.append(f"{app.id}: the good release installed {probes.elapsed(t0)} after the rollback")


def _install_fails(ctx: CellContext) -> None:
    t0 = time.monotonic()
    try:
        ctx.driver.call("package.install", timeout=ctx.options.install_timeout, id=ctx.app.id)
    except AssertionError:
        raise
    except Exception as e:   # RpcError: what the cell wants; a transport error too, within the deadline
        ctx.notes.append(f"package.install of the broken release failed after {probes.elapsed(t0)}: "
                         f"{str(e)[:300]}")
        return
    raise AssertionError(f"package.install of a release that exits at once answered success "
                         f"after {probes.elapsed(t0)}")


def _left_behind(ctx: CellContext, before) -> list[str]:
    after = inventory.snapshot(ctx.node)
    d = inventory.diff(before, after)
    return [f"the failed install left the node changed: {inventory.format_diff(d)}"] if d else []


def _touched(ctx: CellContext, others: dict) -> list[str]:
    out = []
    for a, first in others.items():
        now = probes.identity(ctx.node, a)
        if changed := probes.changes(first, now):
            out.append(f"{a} was touched by the failed install ({', '.join(changed)})")
    return out


EVENT = GridEvent("broken_install", run, starts_from=BEFORE_APP, journal_allow=JOURNAL_ALLOW)
