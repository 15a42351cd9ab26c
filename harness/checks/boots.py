"""The two boots the reboot events judge a batch across: a graceful reboot, then a power cut
where the node can cut its power (else that half is reported not run)."""
from __future__ import annotations

from typing import Callable

from harness.grid.context import CellContext

KINDS = ("graceful", "power_cut")


def both(ctx: CellContext, batch: tuple[str, ...],
         one: Callable[[CellContext, str, tuple[str, ...], dict], None]) -> tuple[dict[str, list[str]], list[str]]:
    """Run `one(ctx, kind, batch, problems)` for each boot kind the node has; (problems per app, not run)."""
    problems: dict[str, list[str]] = {a: [] for a in batch}
    not_run = []
    one(ctx, "graceful", batch, problems)
    if "power_cut" in ctx.node.capabilities:
        one(ctx, "power_cut", batch, problems)
    else:
        not_run.append("power-cut half: the node cannot cut its power (capability power_cut missing)")
    return problems, not_run


def reboot(ctx: CellContext, kind: str) -> None:
    """A graceful reboot or a power cut; returns once the node answers on a new boot."""
    if kind == "power_cut":
        ctx.node.power_cut(timeout=ctx.options.boot_timeout)
    else:
        ctx.node.reboot(timeout=ctx.options.boot_timeout)
