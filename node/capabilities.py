"""What a node may be asked to do, written once (docs/architecture.md, the Node API)."""
from __future__ import annotations

SSH = frozenset({"node", "reboot", "soak"})
# standin: the apps are the bundled stand-ins, whose faults (reconciler/standin/faults.py) a test may switch on
VM = frozenset({"node", "destructive", "reboot", "power_cut", "pause", "snapshot", "soak", "standin"})


def ssh(disposable: bool) -> frozenset[str]:
    """A real node over SSH: destructive cells only where it is marked disposable."""
    return SSH | ({"destructive"} if disposable else frozenset())
