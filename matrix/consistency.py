"""Checks across the apps of apps.yaml that no single field shows: ports, the dependency graph,
conflicts. Pure; each raises MatrixError through `err`, naming file:line of the offending entry.

Run by `load` (so `python -m matrix check`, the grid, the gate and the reconciler's catalog all
refuse such a matrix) after every reference has been resolved.
"""
from __future__ import annotations

from typing import Callable

from .schema import MatrixError

# (file, key path, message) -> MatrixError at the node of that key path (model._build's err)
Err = Callable[[str, tuple, str], MatrixError]


def check(apps: dict, comps: dict, err: Err) -> None:
    """In a fixed order, so the first error is stable."""
    for app in apps.values():
        _check_self(app, err)
    _check_conflicts_mutual(apps, err)
    _check_cycles(apps, err)
    _check_ports(apps, comps, err)


def _check_self(app, err: Err) -> None:
    if app.id in app.conflicts:
        raise err("apps.yaml", ("apps", app.id, "conflicts"),
                  f"{app.id} conflicts with itself: remove it from its own conflicts")
    for dep in app.depends:
        if dep in (app.id, app.provides):
            raise err("apps.yaml", ("apps", app.id, "depends"),
                      f"{app.id} depends on itself ({dep!r}): remove it from its own depends")


def _check_conflicts_mutual(apps: dict, err: Err) -> None:
    """A conflict binds both apps: the reconciler refuses either install, so both must say it."""
    for app in apps.values():
        for other in app.conflicts:
            if app.id not in apps[other].conflicts:
                raise err("apps.yaml", ("apps", app.id, "conflicts"),
                          f"one-sided conflict: {app.id} conflicts with {other} but {other}'s "
                          f"conflicts do not name {app.id}: add it there")


def _providers(apps: dict, dep: str) -> list[str]:
    return [dep] if dep in apps else [a.id for a in apps.values() if a.provides == dep]


def _check_cycles(apps: dict, err: Err) -> None:
    """No app may need itself through its dependencies (any provider of a capability counts)."""
    done: set[str] = set()

    def visit(a: str, trail: list[str]) -> None:
        if a in trail:
            cycle = trail[trail.index(a):] + [a]
            raise err("apps.yaml", ("apps", cycle[0], "depends"),
                      f"dependency cycle {' -> '.join(cycle)}: no install order exists")
        if a in done:
            return
        for dep in apps[a].depends:
            for p in _providers(apps, dep):
                visit(p, trail + [a])
        done.add(a)

    for a in apps:
        visit(a, [])


def _check_ports(apps: dict, comps: dict, err: Err) -> None:
    """Every port is published on the node: two owners of one port cannot run together, so they
    must be two apps that conflict (bitcoin-knots and bitcoin-core share theirs)."""
    seen: dict[int, list[tuple]] = {}     # port -> [(section, owner, port name)]
    for section, owners in (("apps", apps), ("companions", comps)):
        for owner in owners.values():
            for p in owner.ports:
                for first in seen.get(p.port, []):
                    if not (first[0] == section == "apps" and first[1] in owner.conflicts):
                        raise err("apps.yaml", (section, owner.id, "ports", p.name, "port"),
                                  f"port {p.port} is also {'.'.join(first[:2])}.ports.{first[2]}: give "
                                  "one of them another port (only conflicting apps may share one)")
                seen.setdefault(p.port, []).append((section, owner.id, p.name))
