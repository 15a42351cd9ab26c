"""Install stacks: which apps an app needs on the node, dependencies first.

Pure functions of the matrix, shared by the grid's planning and `make soak`.
"""
from __future__ import annotations

from typing import Iterable

from .model import Matrix


class PlanError(ValueError):
    """The matrix cannot give an order for this (no provider, a dependency cycle, ...)."""


def provider(matrix: Matrix, capability: str, present: Iterable[str]) -> str:
    """The app providing `capability`: one already present, else the first in grid order."""
    present = list(present)
    if capability in matrix.apps:
        return capability
    for app_id in present:
        if matrix.apps[app_id].provides == capability:
            return app_id
    found = matrix.providers(capability)
    if not found:
        raise PlanError(f"no app provides {capability!r}")
    return found[0]


def stack(matrix: Matrix, app_id: str, present: Iterable[str] = ()) -> list[str]:
    """`app_id` with its dependencies, dependencies first (providers already present reused)."""
    out: list[str] = list(present)
    seen: set[str] = set()

    def visit(a: str) -> None:
        if a in out or a in seen:
            if a in seen and a not in out:
                raise PlanError(f"dependency cycle through {a!r}")
            return
        seen.add(a)
        for cap in matrix.apps[a].depends:
            visit(provider(matrix, cap, out))
        out.append(a)

    visit(app_id)
    return out[len(list(present)):]
