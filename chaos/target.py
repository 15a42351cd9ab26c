"""The node an experiment acts on, built from its configuration (values come from env).

Experiments name the node only through environment references, e.g.
  "node_url": {"type": "env", "key": "ARCHY_NODE_URL", "default": ""}
so the experiment file and its journal carry no address, key or secret. Connections are
cached per process: `chaos run` calls many activities and each would otherwise reconnect.
"""
from __future__ import annotations

from collections.abc import Mapping

from chaoslib.exceptions import InterruptExecution

import vm
from node.api import Node, NodeError
from node.driver import PlatformDriver
from node.target import connect, parse, with_keys

_nodes: dict[tuple, Node] = {}
CHANNEL_TIMEOUT = 60.0


class TargetMissing(NodeError):
    pass


def _key(configuration: Mapping | None) -> tuple:
    c = configuration or {}
    return (c.get("node_url") or "", c.get("known_hosts") or "", c.get("identity_file") or "")


def node(configuration: Mapping | None) -> Node:
    """The connected node for this configuration; refuses a node not marked disposable."""
    key = _key(configuration)
    if key in _nodes:
        return _nodes[key]
    url, known_hosts, identity = key
    if not url:
        raise TargetMissing("no node: set ARCHY_NODE_URL (ssh://archipelago@host:port?disposable=1 or vm://NAME)")
    # vm://: the VM the test session launched, attached (not restored: the experiment runs on it as it is)
    n = connect(with_keys(parse(url), known_hosts, identity), vm=lambda t: vm.attach(name=t.name, platform=t.platform))
    # Opening a channel on a TCG guest of a loaded host can take far longer than a connect:
    # the harness bounds it by connect_timeout, so give chaos runs a generous one.
    n.connect_timeout = max(getattr(n, "connect_timeout", 10), CHANNEL_TIMEOUT)
    if not n.disposable:
        n.close()
        # Chaos is destructive: refusing must stop the run, not mark one activity failed.
        raise InterruptExecution(f"{n.name}: refusing chaos on a node not marked disposable "
                                 "(add ?disposable=1 to the URL of a node you may break)")
    _nodes[key] = n
    return n


def driver(configuration: Mapping | None) -> PlatformDriver:
    return PlatformDriver(node(configuration))


def forget(configuration: Mapping | None) -> None:
    """Drop a cached connection (after a power cut the caller reconnects anyway)."""
    n = _nodes.pop(_key(configuration), None)
    if n is not None:
        n.close()


def path(configuration: Mapping | None, text: str) -> str:
    """An experiment's argument naming something on the node by reference ("{nginx_snippet:lnd}",
    "{config_dir:bitcoin-knots}/bitcoin.conf", "{state_dir}") as this node's platform names it,
    so an experiment file holds no node path of its own."""
    try:
        return node(configuration).names.resolve(text)
    except ValueError as e:
        raise InterruptExecution(f"experiment argument: {e}") from None


def owned_path(configuration: Mapping | None, text: str) -> str:
    """`path`, for an action that damages the file: refused unless it lies inside the platform's
    own dirs (the profile's state, etc, quadlet, nginx, torrc and hidden-service dirs)."""
    resolved = path(configuration, text)
    names = node(configuration).names
    if not names.owned(resolved):
        raise InterruptExecution(f"experiment argument: {resolved!r} is outside the platform's own dirs "
                                 f"({', '.join(names.owned_roots)}): refused")
    return resolved
