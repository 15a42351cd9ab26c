"""UI direct port: the UI page answers on its published port, on loopback and the node's address."""
from __future__ import annotations

from harness.checks import probes
from harness.grid.context import CellContext
from harness.grid.event import FULL_LINE, GridEvent


def run(ctx: CellContext) -> None:
    node = ctx.node
    ui, port = probes.ui_target(ctx.matrix, ctx.app)
    addrs = ["127.0.0.1"]
    # The published port is how a LAN browser reaches it: a loopback-only bind would fail there.
    ext = node.run("ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -n1",
                   timeout=30).stdout.strip()
    if ext:
        addrs.append(ext)
    problems = []
    for addr in addrs:
        out = node.run(f"curl -s -o /dev/null --max-time 10 -w '%{{http_code}} %{{size_download}}' "
                       f"http://{addr}:{port}/", timeout=30)
        code, _, size = out.stdout.strip().partition(" ")
        if out.rc != 0 or code != "200" or not size.isdigit() or int(size) == 0:
            problems.append(f"{ui.id} UI on http://{addr}:{port}/: curl rc {out.rc}, "
                            f"HTTP {code or 'none'}, {size or 0} bytes (expected 200 with a page)")
    if problems:
        raise AssertionError(f"{ctx.app.id}: " + "; ".join(problems))


EVENT = GridEvent("ui_direct_port", run, starts_from=FULL_LINE, read_only=True)
