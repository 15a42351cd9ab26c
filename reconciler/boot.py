"""The order apps start in when the node boots: pure, from the catalog alone.

At boot systemd starts every enabled app unit in one transaction. Under TCG the full line
(six apps, three companions) then ran nine startup health probes every 5 s at once, each
about 4 s of guest CPU, and the probes starved the apps they waited for: the units stayed
`activating` for 10-15 minutes at a load of 30-50 (docs/performance.md, "The boot storm").
Each app unit is therefore ordered After= every app before it in this order. With
Notify=healthy, systemd starts the next one when the previous one is healthy: one startup probe
at a time. After= only orders: it starts nothing, an install (one unit) is not delayed, and an
app that is not installed is skipped. The order is topological (providers before the apps that
depend on them, an app before its companions), so it is the dependency order too. A companion
comes right after its app: the app's UI is part of the app being up (the grid's checks of an app
include its companion), and a small UI must not wait for every other app of the node to boot.
"""
from __future__ import annotations

from .catalog import providers
from .model import Catalog


def order(catalog: Catalog) -> tuple[str, ...]:
    """Catalog order, each app moved after everything it needs: the providers of its depends and,
    for a companion, the apps that list it. Within a cycle, catalog order decides."""
    apps = catalog.apps
    needs = {a: ({p for cap in s.depends for p in providers(catalog, cap, apps)}
                 | {p for p, o in apps.items() if a in o.companions}) - {a} for a, s in apps.items()}
    done: list[str] = []
    pending = list(apps)
    while pending:
        ready = next((a for a in pending if needs[a] <= set(done)), pending[0])
        done.append(ready)
        pending.remove(ready)
        for c in apps[ready].companions:          # its UI next, once all it needs is up
            if c in pending and needs[c] <= set(done):
                done.append(c)
                pending.remove(c)
    return tuple(done)


def after(catalog: Catalog) -> dict[str, tuple[str, ...]]:
    """app -> the units it starts after at boot: every app's unit before it in `order`."""
    seq = order(catalog)
    return {a: tuple(catalog.apps[b].unit for b in seq[:i]) for i, a in enumerate(seq)}
