"""The chaos suite's node preparation: the stack installed once, then a clean start per experiment.

On the embedded VM the stack (ARCHY_CHAOS_STACK; bitcoin-knots,lnd for the full suite,
bitcoin-knots for the fast subset) is installed from
golden once and saved as the snapshot `chaos-<stack>`; every experiment starts from it (seconds).
A real node must be marked disposable and the run must pass --allow-destructive.

ARCHY_CHAOS_SUITE=all (set by `make chaos`) runs every experiment; otherwise only the fast
subset kept in `make test`. ARCHY_CHAOS_VARIANTS=1 also runs each experiment against the broken
reconciler variant that lacks the repair it tests, and expects it to fail.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.plugin import current_target
from node.api import Node, NodeError, poll
from node.target import to_url

FULL = os.environ.get("ARCHY_CHAOS_SUITE") == "all"
# the fast subset in `make test` needs only bitcoind (+ its UI companion); the full suite adds lnd
STACK = [a for a in os.environ.get("ARCHY_CHAOS_STACK",
                                   "bitcoin-knots,lnd" if FULL else "bitcoin-knots").split(",") if a]
SNAPSHOT = "chaos-" + "-".join(STACK)
SETTINGS = "/etc/archipelago/reconciler.json"
SECRETS = "/var/lib/archipelago/secrets"


@dataclass
class ChaosNode:
    node: Node
    url: str              # what the `chaos run` process connects to
    is_vm: bool
    results: Path
    stack: list[str]

    def reset(self) -> None:
        """A clean start: the stack snapshot on a VM; on a real node, the stack re-checked."""
        if self.is_vm:
            self.node.restore(SNAPSHOT)
        wait_stack(self.node, timeout=600)

    def secrets(self) -> list[str]:
        """The node's canonical secret values (to grep journals for; never printed)."""
        out = []
        raw = self.node.run(f"cat {SECRETS}/bitcoin-rpc.json 2>/dev/null", timeout=30).stdout
        try:
            out.append(json.loads(raw)["password"])
        except (ValueError, KeyError, TypeError):
            pass
        mac = self.node.run(f"cat {SECRETS}/lnd-macaroon 2>/dev/null", timeout=30).stdout.strip()
        return [s for s in out + [mac] if len(s) >= 8]

    def set_variant(self, variant: str | None) -> None:
        settings = json.loads(self.node.get_file(SETTINGS))
        settings["variant"] = variant
        self.node.put_file(SETTINGS, json.dumps(settings, indent=2).encode())
        self.node.succeed(self.node.cmd.as_root(f"systemctl restart {self.node.names.daemon_unit}"), timeout=120)
        self.node.wait_until_succeeds("curl -sf --max-time 5 http://127.0.0.1:5678/health", timeout=120)
        got = json.loads(self.node.get_file(SETTINGS)).get("variant")
        assert got == variant, f"variant switch failed: {got!r}"


def stack_state(node: Node) -> tuple[bool, str]:
    from node.driver import PlatformDriver
    d = PlatformDriver(node)
    tick = d.tick(timeout=300)
    health = d.container_health(timeout=120)
    missing = [a for a in STACK if a not in health]
    sick = [a for a, h in health.items() if not h.get("healthy")]
    ok = tick.get("converged") and not tick.get("steps") and not missing and not sick
    return bool(ok), f"converged={tick.get('converged')} steps={tick.get('steps')} missing={missing} unhealthy={sick}"


def wait_stack(node: Node, timeout: float) -> None:
    why = ""

    def ok():
        nonlocal why
        try:
            good, why = stack_state(node)
        except NodeError as e:
            good, why = False, str(e)
        return good

    if not poll(ok, timeout, 3.0):
        raise AssertionError(f"the chaos stack is not steady after {timeout:.0f}s: {why}")


def install_stack(node: Node) -> None:
    from node.driver import PlatformDriver, RpcError
    d = PlatformDriver(node)
    installed = d.container_health(timeout=120)
    for app in STACK:
        if app not in installed:
            try:
                d.install(app, timeout=900)
            except RpcError as e:
                if e.code not in (None, -32000):   # refused (unknown app, conflict): a real error
                    raise
                # accepted but not healthy in time (slow TCG host): the steady wait below decides
    wait_stack(node, timeout=1200)


@pytest.fixture(scope="session")
def chaos_node(request, archy) -> ChaosNode:
    target = current_target(request.config)
    if not target.is_vm and not (target.disposable and archy.allow_destructive):
        pytest.skip(f"chaos is destructive: node {target.name} must be marked disposable "
                    "(?disposable=1) and the run must pass --allow-destructive")
    node = request.getfixturevalue("node")
    from chaos.target import CHANNEL_TIMEOUT
    node.connect_timeout = max(node.connect_timeout, CHANNEL_TIMEOUT)  # slow channel opens under TCG load
    results = Path(archy.results_dir) / "chaos"
    results.mkdir(parents=True, exist_ok=True)
    if target.is_vm:
        url = f"vm://{target.name}"
        t0 = time.monotonic()
        if SNAPSHOT not in node.snapshots():
            node.restore()
            install_stack(node)
            node.snapshot(SNAPSHOT)
        (results / "setup.json").write_text(json.dumps({"stack": STACK, "setup_s": round(time.monotonic() - t0, 1)}))
    else:
        url = to_url(target)
        install_stack(node)
    cn = ChaosNode(node, url, target.is_vm, results, STACK)
    yield cn
    if target.is_vm:
        try:
            node.restore()  # leave the shared session VM as the other suites expect it
        except NodeError:
            pass

