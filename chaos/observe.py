"""What the node looks like right now, reduced to what the chaos checks compare.

`classify` is pure: it turns the reconciler's container list, the unit files and the
containers podman knows (including storage-only ones) into one state per app — absent,
running, stopped, or a "half: ..." description, which the history checker always rejects.
"""
from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Mapping

import yaml

from matrix.model import load as load_matrix
from node.api import Node
from node.commands import glob_arg
from node.names import Names

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@functools.cache
def catalog() -> dict[str, list[str]]:
    """app id -> its companion ids, from matrix/apps.yaml (the single source of truth)."""
    with open(os.path.join(REPO, "matrix", "apps.yaml"), encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    return {app: list(spec.get("companions") or []) for app, spec in data["apps"].items()}


def published_ports(node: Node, apps: Iterable[str]) -> dict[str, tuple[int, ...]]:
    """app (or companion) id -> the TCP ports it publishes on the node, as the node's profile has them."""
    m = node.platform.apply(load_matrix())
    out = {}
    for app in apps:
        for a in (app, *catalog().get(app, [])):
            out[a] = tuple(p.port for p in m.app(a).ports)
    return out


def reach_script(ports: Mapping[str, tuple[int, ...]]) -> str:
    """One shell loop on the node: a TCP connect to 127.0.0.1:<port> per published port, printing
    `<app> <port> ok|down` (3 s each); pure."""
    pairs = " ".join(f"{a}:{p}" for a, ps in sorted(ports.items()) for p in ps)
    return (f'for ap in {pairs}; do a=${{ap%%:*}}; p=${{ap##*:}}; '
            'if timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null; then echo "$a $p ok"; '
            'else echo "$a $p down"; fi; done')


def unreachable(text: str) -> list[str]:
    """The ports reach_script found down, one phrase each; pure."""
    return [f"{a}: port {p} does not answer on the node (published port unreachable)"
            for a, p, state in (line.split() for line in text.splitlines() if len(line.split()) == 3)
            if state != "ok"]


def reach_problems(node: Node, apps: Iterable[str]) -> list[str]:
    """The running apps' published ports, reached from the node itself: a rootless node whose
    netns or port forwarder (rootlessport) is gone keeps its containers healthy inside while
    nothing reaches them (seed 004 chaos 7)."""
    ports = published_ports(node, apps)
    if not any(ports.values()):
        return []
    out = node.run(reach_script(ports), timeout=30 + 4 * sum(len(p) for p in ports.values())).stdout
    return unreachable(out)


def classify(apps: Mapping[str, list[str]], entries: Iterable[Mapping], unit_files: Iterable[str],
             containers: Iterable[str], health: Mapping[str, Mapping], *, names: Names) -> dict[str, str]:
    """One state per app of the catalog. Pure.

    entries: container.list rows; unit_files: Quadlet file names; containers: names podman
    knows (also storage-only); health: container.health result; names: the node's, to read
    unit and container names back as app ids.
    """
    by_app: dict[str, list[Mapping]] = {}
    for e in entries:
        by_app.setdefault(str(e.get("app")), []).append(e)
    known = set(apps) | {c for cs in apps.values() for c in cs}
    files = {names.app_of(f, known) for f in unit_files if f.endswith(".container")}
    ctrs = {names.app_of(c, known) for c in containers}
    def present(m: str) -> bool:
        return bool(by_app.get(m)) or m in files or m in ctrs

    out = {}
    for app, companions in apps.items():
        members = [app] + list(companions)
        rows = [r for m in members for r in by_app.get(m, [])]
        if not present(app):
            out[app] = "absent"
            continue
        missing = [m for m in members if not by_app.get(m)]
        if missing:
            out[app] = f"half: no reconciler entry for {', '.join(missing)} (leftover unit/container)"
            continue
        desired = {r.get("desired") for r in rows}
        active = {m: any(r.get("active") == "active" for r in by_app[m]) for m in members}
        if desired == {"started"}:
            down = [m for m in members if not active[m]]
            sick = [m for m in members if not (health.get(m) or {}).get("healthy")]
            if down:
                out[app] = f"half: desired started but not active: {', '.join(down)}"
            elif sick:
                out[app] = f"half: active but unhealthy: {', '.join(sick)}"
            else:
                out[app] = "running"
        elif desired == {"user-stopped"} or (rows and all(r.get("desired") != "started" for r in rows)):
            up = [m for m in members if active[m]]
            out[app] = f"half: stopped but still active: {', '.join(up)}" if up else "stopped"
        else:
            out[app] = f"half: mixed desired states {sorted(map(str, desired))}"
    # a companion is shared (bitcoin-knots and bitcoin-core): an orphan only without any parent
    for comp in sorted({c for cs in apps.values() for c in cs}):
        if present(comp) and not any(present(a) for a, cs in apps.items() if comp in cs):
            out[comp] = "half: companion left without its app"
    return out


def unit_files(node: Node) -> list[str]:
    out = node.succeed(node.cmd.as_root(f"ls -1 {node.names.quadlet_dir}") + " 2>/dev/null || true", timeout=30)
    return [x for x in out.split() if node.names.is_app(x)]


def podman_containers(node: Node) -> list[str]:
    """Names of every container podman has, including storage-only ones (--external)."""
    out = node.succeed(f"{node.cmd.podman} ps -a --external --format '{{{{.Names}}}}'", timeout=90)
    return [x.strip() for x in out.splitlines() if node.names.is_app(x.strip())]


def failed_units(node: Node) -> list[str]:
    out = node.succeed(f"{node.cmd.systemctl} --failed --plain --no-legend --no-pager", timeout=30)
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def service_problems(node: Node) -> list[str]:
    """The node services the apps are reached through: nginx, and tor once an onion is configured."""
    n = node.names
    snippets = " ".join(glob_arg(g) for g in n.globs("tor_snippet"))
    out = node.run(node.cmd.as_root("systemctl is-active nginx.service; "
                                    f"if ls -d {snippets} 2>/dev/null | grep -q .; then systemctl is-active "
                                    f"{n.tor_unit}; else echo active; fi"), timeout=30).stdout.split()
    names = ["nginx", "tor"]
    return [f"{n} is {s}" for n, s in zip(names, out) if s != "active"] + \
        (["nginx/tor state unknown"] if len(out) < 2 else [])


def onions(node: Node) -> dict[str, list[str]]:
    """HS dir -> [onion hostname, sha256 of its secret key] (the key itself never leaves the node)."""
    dirs = " ".join(f"{glob_arg(g)}/" for g in node.names.globs("hs_dir"))
    script = (f"for d in {dirs}; do [ -f \"$d/hostname\" ] || continue; "
              "printf '%s %s %s\\n' \"$(basename $d)\" \"$(cat $d/hostname)\" "
              "\"$(sha256sum $d/hs_ed25519_secret_key | cut -d' ' -f1)\"; done")
    out = node.succeed(node.cmd.as_root(script), timeout=30)
    return {p[0]: p[1:] for p in (line.split() for line in out.splitlines()) if len(p) == 3}


def data_records(health: Mapping[str, Mapping]) -> list[dict]:
    """observe records (chain height, data checksum) from container.health; pure."""
    recs = []
    for app, h in sorted(health.items()):
        st = h.get("status") or {}
        if "data_checksum" not in st and "chain_height" not in st:
            continue
        rec = {"type": "observe", "app": app, "data_checksum": st.get("data_checksum")}
        if st.get("chain_height") is not None:
            rec["chain_height"] = int(st["chain_height"])
        if st.get("chain_ok") is not None:
            rec["chain_ok"] = bool(st["chain_ok"])
        recs.append(rec)
    return recs


# how an app that follows bitcoind's chain reports bitcoind's height (lnd's getinfo, electrumx's daemon)
FOLLOWER_HEIGHTS = ("block_height", "daemon_height")


def chain_tip(health: Mapping[str, Mapping]) -> int | None:
    """The chain's height as the app holding it (bitcoind) reports it; pure."""
    tips = [int(h["status"]["chain_height"]) for h in health.values()
            if (h.get("status") or {}).get("chain_height") is not None]
    return max(tips) if tips else None


def followers_behind(health: Mapping[str, Mapping], floor: int) -> list[str]:
    """Each app following the chain whose view of it is below `floor`, or that says it is not
    synced (lnd's synced_to_chain); pure."""
    out = []
    for app, h in sorted(health.items()):
        st = h.get("status") or {}
        for key in FOLLOWER_HEIGHTS:
            if key in st and (st[key] is None or int(st[key]) < floor):
                out.append(f"{app}: sees height {st[key]}, below {floor}")
        if st.get("synced_to_chain") is False:
            out.append(f"{app}: not synced to chain")
    return out


def integration_problems(health: Mapping[str, Mapping]) -> list[str]:
    """Every installed app healthy with every integration ok; pure."""
    out = []
    for app, h in sorted(health.items()):
        if not h.get("healthy"):
            out.append(f"{app}: unhealthy (active={h.get('active')}, health={h.get('health')})")
        for cap, i in sorted(((h.get("status") or {}).get("integrations") or {}).items()):
            if not (i or {}).get("ok"):
                out.append(f"{app}: integration {cap} down: {str((i or {}).get('detail', ''))[:120]}")
        if (h.get("status") or {}).get("chain_ok") is False:
            out.append(f"{app}: chain not ok")
    return out


def dumps(x) -> str:
    return json.dumps(x, sort_keys=True, default=str)
