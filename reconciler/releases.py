"""Release rollback (seed 004, pattern 3: "a bad image fails its health check and is rolled
back"): per app, the last release (image) seen healthy, and a new release that failed.

A changed image in the catalog is an OTA. When the app on the new release crash-loops (systemd gave
up on its unit, or its backoff for the new spec doubled: backoff.crash_looping) while an older
release was seen healthy, the new release is marked failed and the app runs its last good release again, until the
catalog names another image. Persisted in releases.json, so a daemon restart keeps the rollback.
Pure but `load`/`save`."""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Mapping

from . import backoff as bo
from .model import AppPlan, Catalog, CurrentState, DesiredNode, frozen_map
from .store import atomic_write, read_bytes


@dataclass(frozen=True)
class Release:
    good: str | None = None       # the last image the app was seen healthy on
    failed: str | None = None     # a catalog image that crash-looped and was rolled back


def pinned(catalog: Catalog, releases: Mapping[str, Release]) -> Catalog:
    """The catalog as the node runs it: an app whose catalog image failed runs its last good one."""
    apps = {a: replace(s, image=releases[a].good)
            for a, s in catalog.apps.items()
            if a in releases and releases[a].failed == s.image and releases[a].good}
    return replace(catalog, apps=frozen_map({**catalog.apps, **apps})) if apps else catalog


def _on_its_unit(plan: AppPlan, node: DesiredNode, current: CurrentState) -> bool:
    """The unit file on disk is the desired one: what runs is the planned release."""
    spec = node.files.get(plan.unit_file)
    return spec is not None and current.files.get(plan.unit_file) == spec.content


def observe(releases: Mapping[str, Release], catalog: Catalog, node: DesiredNode, current: CurrentState,
            backoff: Mapping[str, bo.Entry], healthy) -> Mapping[str, Release]:
    """The releases after this tick's look: a healthy app's release is good; a new release that
    crash-loops while an older one was good is failed. `healthy(plan, current)` is diff.is_healthy."""
    out = {a: r for a, r in releases.items() if a in node.apps}
    for app, plan in node.apps.items():
        if app not in catalog.apps or not plan.managed_by_unit:
            continue
        want, r = catalog.apps[app].image, out.get(app, Release())
        if healthy(plan, current) and _on_its_unit(plan, node, current):
            if r.good != plan.image:
                out[app] = replace(r, good=plan.image)
            continue
        # on its unit: a failure of the release before it (the unit file not yet rewritten) is not this one's
        looping = (_on_its_unit(plan, node, current)
                   and bo.crash_looping(backoff.get(app), plan.spec_hash, current.units.get(plan.unit)))
        if plan.image == want and r.good and r.good != want and r.failed != want and looping:
            out[app] = replace(r, failed=want)
    return frozen_map(out)


def load(path: str) -> Mapping[str, Release]:
    raw = read_bytes(path)
    if not raw:
        return frozen_map()
    try:
        data = json.loads(raw)
        return frozen_map({k: Release(v.get("good"), v.get("failed")) for k, v in data.items()})
    except (ValueError, TypeError, AttributeError):
        return frozen_map()   # a corrupt file forgets the rollbacks: the catalog's images run


def save(path: str, releases: Mapping[str, Release]) -> None:
    body = {k: {"good": r.good, "failed": r.failed} for k, r in sorted(releases.items())}
    atomic_write(path, (json.dumps(body, indent=1) + "\n").encode(), 0o644)
