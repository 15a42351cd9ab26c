"""Upgrade and rollback (seed 004, pattern 3): the catalog names a new release of the installed
app (an OTA). A good one (v2) runs with the app's data and its integrations intact; a bad one
after it (its image exits at once, so it never passes a health check) is rolled back by the
platform to the last good release, which the cell then sees running, healthy, with its data.

Both releases are built on the node FROM the app's own image (no registry): v2 differs by a label,
the bad one by an ENTRYPOINT that exits 1 (harness/events/broken_install.py). The catalog is put
back byte for byte at the end, the app waited back onto its original release, and the built
images removed, on failure too. A node without the catalog file cannot take a release from the
harness: the cell says so and fails rather than pass unjudged."""
from __future__ import annotations

import json
import shlex
from functools import partial

from harness.checks import probes
from harness.events import broken_install
from harness.grid.context import CellContext
from harness.grid.event import DEPENDENCY_DOWN, WITH_APP, GridEvent
from node.api import poll
from node.names import HARNESS

V2_IMAGE = f"localhost/{HARNESS.mark('release')}:v2"
ROLLBACK_WINDOW = 600.0      # the bad release crash-loops, then the platform rolls it back


def v2_containerfile(base: str) -> str:
    """A good new release: the app's image with one more label (another image id); pure."""
    return f"FROM {base}\nLABEL {HARNESS.mark('release')}=v2\n"


def _build(node, image: str, containerfile: str) -> None:
    node.succeed(f"d=$(mktemp -d) && {node.cmd.podman} build -q --pull=never -t {shlex.quote(image)} -f - \"$d\"; "
                 f"rc=$?; rmdir \"$d\"; exit $rc", timeout=300, input=containerfile.encode())


def running_image(node, app_id: str) -> str:
    c = probes.container(node, app_id) or {}
    return str(c.get("ImageName") or "")


def _ota(ctx: CellContext, catalog: dict, image: str) -> None:
    path = ctx.node.names.catalog
    ctx.node.put_file(path, (json.dumps(broken_install.with_image(catalog, ctx.app.id, image), indent=1)
                             + "\n").encode(), 0o644)


def _runs(ctx: CellContext, image: str, timeout: float, what: str) -> None:
    """The app's container runs `image` and the app answers healthy through its own protocol."""
    node, app = ctx.node, ctx.app
    if not poll(lambda: running_image(node, app.id) == image and probes.unit(node, app.id).get("ActiveState") == "active",
                timeout, 3.0):
        raise AssertionError(f"{what}: {app.id} not running {image} within {timeout:.0f} s "
                             f"(runs {running_image(node, app.id) or 'nothing'}, unit "
                             f"{probes.unit(node, app.id).get('ActiveState') or 'gone'})")
    probes.wait_healthy(node, app, ctx.options.healthy_timeout)


def _kept(ctx: CellContext, before: dict, what: str) -> list[str]:
    """Data files unchanged (block files may grow), the height not lower, integrations back."""
    node, m, app = ctx.node, ctx.matrix, ctx.app
    answer = probes.wait_healthy(node, app, ctx.options.healthy_timeout)
    problems = probes.manifest_problems(before["files"], probes.data_manifest(node, app),
                                        partial(probes.prefix_digest, node))
    problems += probes.height_problems(before["answer"], answer)
    checks = [(app.id, cap) for cap in m.apps[app.id].integrations]
    if app.provides:
        checks += [(d, app.provides) for d in probes.dependents(m, app.id, ctx.installed)
                   if app.provides in m.apps[d].integrations]
    for who, cap in checks:
        try:
            seen, how = probes.wait_integration(node, m.app(who), cap, True, ctx.options.integration_window)
        except AssertionError as e:
            problems.append(str(e))
            continue
        if not seen:
            ctx.not_run.append(f"{who}'s own view of {cap} {what}: {how}")
    return [f"{what}: {p}" for p in problems]


def run(ctx: CellContext) -> None:
    node, app, path = ctx.node, ctx.app, ctx.node.names.catalog
    if node.run(node.cmd.as_root(f"test -f {shlex.quote(path)}"), timeout=30).rc != 0:
        raise AssertionError(f"{app.id}: no catalog at {path} to name a new release in "
                             "(this platform cannot take one from the harness)")
    original = node.get_file(path)
    catalog = json.loads(original)
    v1 = catalog["apps"].get(app.id, {}).get("image") or catalog["image"]
    answer = probes.wait_healthy(node, app, ctx.options.healthy_timeout)
    before = {"answer": answer, "files": probes.data_manifest(node, app)}
    problems: list[str] = []
    try:
        _build(node, V2_IMAGE, v2_containerfile(v1))
        _build(node, broken_install.BROKEN_IMAGE, broken_install.containerfile(v1))
        _ota(ctx, catalog, V2_IMAGE)
        _runs(ctx, V2_IMAGE, ctx.options.healthy_timeout, "upgrade to v2")
        problems += _kept(ctx, before, "after the upgrade to v2")
        before = {"answer": probes.wait_healthy(node, app, ctx.options.healthy_timeout),
                  "files": probes.data_manifest(node, app)}
        _ota(ctx, catalog, broken_install.BROKEN_IMAGE)
        if not poll(lambda: running_image(node, app.id) != V2_IMAGE, ctx.options.healthy_timeout, 3.0):
            problems.append(f"the bad release was never tried: {app.id} stayed on v2")
        _runs(ctx, V2_IMAGE, ROLLBACK_WINDOW, "the bad release rolled back")
        ctx.notes.append(f"{app.id}: the bad release was rolled back to v2")
        problems += _kept(ctx, before, "after the rollback to v2")
    finally:
        node.put_file(path, original, 0o644)
        try:
            _runs(ctx, v1, ctx.options.healthy_timeout + app.stop_grace, "back on the original release")
        finally:
            for image in (V2_IMAGE, broken_install.BROKEN_IMAGE):
                node.run(f"{node.cmd.podman} rmi -f {shlex.quote(image)} >/dev/null 2>&1", timeout=120)
    if problems:
        raise AssertionError(f"{app.id}: " + "; ".join(problems))


EVENT = GridEvent("upgrade_rollback", run, starts_from=WITH_APP,
                  journal_allow=(DEPENDENCY_DOWN, *broken_install.JOURNAL_ALLOW, r"release \S+ of \S+ crash-loops"))
