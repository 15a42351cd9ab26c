"""A known starting state on a node without snapshots: every app uninstalled through the node's
own RPC (purged where its platform allows), then checked clean with the inventory.

Only a disposable node is ever reset; `uninstall_order` is pure (dependents before what they
depend on, so no app loses a dependency while it still runs).
"""
from __future__ import annotations

from matrix.model import Matrix
from node.conformance import app_ids
from node.driver import PlatformDriver

from harness import inventory
from harness.checks import probes


class ResetFailed(AssertionError):
    """The node could not be brought to a clean state; str() names the app left and why."""


def uninstall_order(installed: list[str], matrix: Matrix) -> list[str]:
    """Dependents first; apps the matrix does not know last, in name order; pure."""
    known = [a for a in installed if a in matrix.apps]
    left, out = set(known), []
    while left:
        free = sorted(a for a in left if not probes.dependents(matrix, a, tuple(left)))
        nxt = free or sorted(left)          # a dependency cycle: break it by name
        out.append(nxt[0])
        left.discard(nxt[0])
    return out + sorted(set(installed) - set(known))


def installed(driver: PlatformDriver, matrix: Matrix) -> list[str]:
    """The apps installed on the node; companions come and go with their app and are not listed
    (a node may list them as rows of their own, as the reference does)."""
    return [a for a in app_ids(driver.containers(), driver.node.names) if a not in matrix.companions]


def uninstall(driver: PlatformDriver, app: str, timeout: float) -> None:
    purge = {driver.platform.rpc.purge: True} if driver.platform.rpc.purge else {}
    probes.rpc(driver, "package.uninstall", timeout, id=app, **purge)


def leftovers(inv: inventory.Inventory, names) -> list[str]:
    """Units, containers and Quadlet files of apps still on the node; pure."""
    found = [*inv["containers"], *inv["units"], *(p.rsplit("/", 1)[-1] for p in inv["quadlet"])]
    return sorted({x for x in found if names.is_app(x) and x != names.daemon_unit})


def clean(node, driver: PlatformDriver, matrix: Matrix, timeout: float = 900,
          progress=lambda _m: None) -> list[str]:
    """Uninstall every app; returns what was removed, raises ResetFailed naming what is left."""
    if "destructive" not in node.capabilities:
        raise ResetFailed(f"node {node.name} is not disposable: it is never reset")
    removed = []
    for app in uninstall_order(installed(driver, matrix), matrix):
        progress(f"reset: uninstall {app}")
        try:
            uninstall(driver, app, timeout)
        except AssertionError as e:
            raise ResetFailed(f"cannot reset {node.name}: {app} is left: {e}") from None
        removed.append(app)
    if still := installed(driver, matrix):
        raise ResetFailed(f"cannot reset {node.name}: {', '.join(still)} still listed by container.list "
                          "after its uninstall")
    if left := leftovers(inventory.snapshot(node), node.names):
        raise ResetFailed(f"cannot reset {node.name}: {', '.join(left)} left on the node after every "
                          "app was uninstalled")
    return removed
