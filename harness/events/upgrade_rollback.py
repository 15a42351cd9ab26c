"""Upgrade and rollback (seed 004, pattern 3): the catalog names a new release of the installed
app (an OTA). A good one (v2) runs with the app's data and its integrations intact; a bad one
after it (its image exits at once, so it never passes a health check) is rolled back by the
platform to the last good release, which the cell then sees running, healthy, with its data.

Both releases are built on the node FROM the app's own image (harness/checks/releases.py). The
catalog is put back byte for byte at the end, the app waited back onto its original release, and
the built images removed, on failure too."""

from __future__ import annotations

from functools import partial

from harness.checks import probes, releases
from harness.grid.context import CellContext
from harness.grid.event import DEPENDENCY_DOWN, WITH_APP, GridEvent
from node.api import poll

# the bad release crash-loops, then the platform rolls it back: on the reference, after one cycle of
# 5 failing starts (~150 s under TCG; systemd gives up); a reconciler that waits for its own backoff
# to double takes three cycles and the pauses between them, which still fit
ROLLBACK_WINDOW = 900.0


def running_image(node, app_id: str) -> str:
    c = probes.container(node, app_id) or {}
    return str(c.get("ImageName") or "")


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
    pairs = probes.touched_integrations(m, app.id, ctx.installed)
    lost, unseen = probes.integrations_back(node, m, pairs, ctx.options.integration_window)
    ctx.not_run.extend(f"{u} ({what})" for u in unseen)
    problems += lost
    return [f"{what}: {p}" for p in problems]


def run(ctx: CellContext) -> None:
    node, app = ctx.node, ctx.app
    original, catalog, v1 = releases.catalog(node, app.id)
    answer = probes.wait_healthy(node, app, ctx.options.healthy_timeout)
    before = {"answer": answer, "files": probes.data_manifest(node, app)}
    problems: list[str] = []
    try:
        releases.build(node, releases.V2_IMAGE, releases.v2_containerfile(v1))
        releases.build(node, releases.BROKEN_IMAGE, releases.broken_containerfile(v1))
        releases.name_release(node, catalog, app.id, releases.V2_IMAGE)
        _runs(ctx, releases.V2_IMAGE, ctx.options.healthy_timeout, "upgrade to v2")
        problems += _kept(ctx, before, "after the upgrade to v2")
        before = {"answer": probes.wait_healthy(node, app, ctx.options.healthy_timeout),
                  "files": probes.data_manifest(node, app)}
        releases.name_release(node, catalog, app.id, releases.BROKEN_IMAGE)
        if not poll(lambda: running_image(node, app.id) != releases.V2_IMAGE, ctx.options.healthy_timeout, 3.0):
            problems.append(f"the bad release was never tried: {app.id} stayed on v2")
        _runs(ctx, releases.V2_IMAGE, ROLLBACK_WINDOW, "the bad release rolled back")
        ctx.notes.append(f"{app.id}: the bad release was rolled back to v2")
        problems += _kept(ctx, before, "after the rollback to v2")
    finally:
        releases.put_catalog(node, original)
        try:
            _runs(ctx, v1, ctx.options.healthy_timeout + app.stop_grace, "back on the original release")
        finally:
            releases.remove(node, releases.V2_IMAGE, releases.BROKEN_IMAGE)
    if problems:
        raise AssertionError(f"{app.id}: " + "; ".join(problems))


EVENT = GridEvent("upgrade_rollback", run, starts_from=WITH_APP,
                  journal_allow=(DEPENDENCY_DOWN, *releases.JOURNAL_ALLOW, r"release \S+ of \S+ crash-loops"))
