"""Tor .onion reachable: tor runs, the app's hidden service is configured and has a hostname,
the onion port maps to the app's UI. The round trip through the Tor network runs only on a node
with the `tor_network` capability; elsewhere that part is recorded as not run (never passed)."""
from __future__ import annotations

import re
import shlex

from harness.checks import probes
from harness.grid.context import CellContext
from harness.grid.event import FULL_LINE, GridEvent

ONION = re.compile(r"^[a-z2-7]{56}\.onion$")
SOCKS = "127.0.0.1:9050"


def hs_ports(torrc: str, hs_dir: str) -> dict[int, str]:
    """HiddenServicePort lines that belong to `hs_dir`'s HiddenServiceDir block: {virtport: target}."""
    ports, current = {}, None
    for line in torrc.splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] == "HiddenServiceDir":
            current = words[1].rstrip("/") if len(words) > 1 else None
        elif words[0] == "HiddenServicePort" and current == hs_dir.rstrip("/") and len(words) >= 2:
            ports[int(words[1])] = words[2] if len(words) > 2 else words[1]
    return ports


def run(ctx: CellContext) -> None:
    node, app = ctx.node, ctx.app
    if not app.tor:
        raise AssertionError(f"{app.id}: the matrix has a Tor cell but no tor entry for the app")
    hs_dir = node.names.hs_dir(app.id)
    conf = node.names.tor_snippet(app.id)
    target_app = ctx.matrix.app(app.tor["target"])
    ui_ports = [p.port for p in target_app.ports if p.ui] or [p.port for p in target_app.ports]
    problems = []
    if node.run("pgrep -x tor", timeout=30).rc != 0:
        problems.append("tor is not running")
    torrc = node.run(node.cmd.as_root(f"cat {shlex.quote(conf)}"), timeout=30)
    if torrc.rc != 0:
        problems.append(f"{conf} missing")
        ports = {}
    else:
        ports = hs_ports(torrc.stdout, hs_dir)
    target = ports.get(int(app.tor["onion_port"]))
    if torrc.rc == 0 and target is None:
        problems.append(f"{conf} has no HiddenServicePort {app.tor['onion_port']} for {hs_dir}")
    elif target is not None:
        host, _, port = target.rpartition(":")
        if not port.isdigit() or int(port) not in ui_ports or host not in ("127.0.0.1", "localhost", ""):
            problems.append(f"onion port {app.tor['onion_port']} maps to {target}, expected "
                            f"127.0.0.1:{ui_ports[0]} ({target_app.id})")
        elif node.run(f"curl -s -o /dev/null --max-time 10 http://127.0.0.1:{port}/", timeout=30).rc != 0:
            problems.append(f"onion target 127.0.0.1:{port} does not answer")
    hostname = node.run(node.cmd.as_root(f"cat {shlex.quote(hs_dir + '/hostname')}"), timeout=30)
    onion = hostname.stdout.strip()
    if hostname.rc != 0:
        problems.append(f"{hs_dir}/hostname missing: tor has not created the hidden service")
    elif not ONION.match(onion):
        problems.append(f"{hs_dir}/hostname holds {onion[:70]!r}, not a v3 onion address")
    if problems:
        raise AssertionError(f"{app.id}: " + "; ".join(problems))
    if "tor_network" not in ctx.node.capabilities:
        ctx.not_run.append("onion round trip through the Tor network: the node has no Tor network "
                           "access (capability tor_network missing); local hidden-service checks passed")
        return
    _round_trip(ctx, onion)


def _round_trip(ctx: CellContext, onion: str) -> None:
    """curl through tor's SOCKS port; descriptors take minutes to publish, so retry in a window."""
    port = int(ctx.app.tor["onion_port"])
    cmd = (f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 60 --socks5-hostname {SOCKS} "
           f"http://{onion}:{port}/ | grep -qx 200")
    try:
        ctx.node.wait_until_succeeds(cmd, timeout=ctx.options.tor_window, interval=10)
    except Exception as e:
        raise AssertionError(f"{ctx.app.id}: http://{onion}:{port}/ not reachable through Tor: {e}") from None


EVENT = GridEvent("tor_onion", run, starts_from=FULL_LINE, read_only=True)
