"""The seeds' own node checks, asked after an install and after a reboot (seed 003 C4-FULL-TEST,
seed 004 FM4). Of every container of the app (its own and its companions'):

- a non-zero memory limit (`podman inspect --format '{{.HostConfig.Memory}}'`);
- something that brings it back when it exits, as the platform profile's `apps.restart` says:
  `systemd` (the unit's Restart= is always or on-failure: a Quadlet `podman run` passes --rm,
  which podman refuses with any restart policy) or podman's policy (unless-stopped or always);
- no error, panic or fatal line in the last 30 lines of its log;
- `host.archipelago` resolves, inside it, to the gateway of the platform's podman network (the
  node as its containers see it), not the LAN gateway (FM4);
and of the node: the daemon's /health answers a JSON object whose profile `ok` fields hold.

Verdicts are pure functions of what the node printed (tests/unit/test_node_checks.py); the I/O
below runs one bounded command each and hands its output to them.
"""
from __future__ import annotations

import json
import re
import shlex
from typing import Iterable

from harness.artifacts import redact
from harness.checks import probes
from harness.journal import DEFAULT_ALLOW
from matrix.model import Matrix
from node.api import NodeError, poll
from node.platform import Health

LOG_LINES = 30
# Whole words, any case: "errors=0", "0 errors", "error_count" or "panicked" are no hit (a word
# character on either side); journal.DEFAULT_ALLOW drops the "0 errors" forms that remain.
LOG_WORDS = re.compile(r"(?i)\b(error|panic|fatal)\b")
SYSTEMD_RESTARTS = ("always", "on-failure")
PODMAN_POLICIES = ("unless-stopped", "always")     # seed 003: "all must be unless-stopped or always"
HOST_ALIAS = "host.archipelago"
HEALTH_WINDOW = 60.0    # a /health read during a slow tick may be a moment late (TCG)


# ------------------------------------------------------------------ verdicts, pure
def memory_problems(container: str, value: str) -> list[str]:
    """`{{.HostConfig.Memory}}` (bytes; 0 = no limit)."""
    v = value.strip()
    if not v.isdigit():
        return [f"{container}: memory limit unreadable ({v or 'no answer'!r})"]
    return [f"{container}: no memory limit (HostConfig.Memory is 0)"] if int(v) == 0 else []


def restart_problems(who: str, how: str, value: str) -> list[str]:
    """`how` is the profile's apps.restart; `value` the unit's Restart= (systemd) or the
    container's `{{.HostConfig.RestartPolicy.Name}}` (a podman policy)."""
    v = value.strip()
    if how == "systemd":
        return [] if v in SYSTEMD_RESTARTS else [
            f"{who}: Restart={v or 'unset'}, so nothing brings it back when it exits "
            f"(want {' or '.join(SYSTEMD_RESTARTS)})"]
    return [] if v in PODMAN_POLICIES else [
        f"{who}: restart policy {v or 'none'!r} (want {' or '.join(PODMAN_POLICIES)})"]


def log_problems(container: str, text: str, allow: Iterable[str] = ()) -> list[str]:
    """Error, panic or fatal lines among the last LOG_LINES lines of a container's log."""
    allowed = [re.compile(a) for a in (*DEFAULT_ALLOW, *allow)]
    bad = [line.strip() for line in text.splitlines()[-LOG_LINES:]
           if LOG_WORDS.search(line) and not any(a.search(line) for a in allowed)]
    if not bad:
        return []
    return [f"{container}: {len(bad)} error line(s) in its last {LOG_LINES} log lines: "
            + " | ".join(redact(b)[:160] for b in bad[:3])]


def health_problems(reply: dict, health: Health) -> list[str]:
    """A /health reply (node.driver's: the JSON body plus "http_status", or {"body": text} when the
    body is no JSON object) against the profile's ok fields."""
    if "body" in reply and set(reply) <= {"body", "http_status"}:
        return [f"/health answered no JSON object (HTTP {reply.get('http_status')}): {str(reply['body'])[:80]!r}"]
    wrong = health.wrong(reply)
    return [f"/health is not ok: {', '.join(wrong)}"] if wrong else []


def hosts_address(text: str, name: str) -> str | None:
    """The address of `name` in `getent hosts` output or an /etc/hosts file (the first entry)."""
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) > 1 and name in fields[1:]:
            return fields[0]
    return None


def network_gateways(inspect_json: str) -> list[str]:
    """The gateways of `podman network inspect` JSON (netavark: [{"subnets": [{"gateway"}]}])."""
    try:
        nets = json.loads(inspect_json)
    except ValueError:
        return []
    return [s["gateway"] for n in nets if isinstance(n, dict) for s in n.get("subnets") or ()
            if isinstance(s, dict) and s.get("gateway")]


def default_gateway(route: str) -> str | None:
    """The LAN gateway in `ip -4 route show default` output."""
    m = re.search(r"^default via (\S+)", route, re.M)
    return m.group(1) if m else None


def alias_problems(container: str, resolved: str | None, gateways: list[str], lan: str | None,
                   network: str) -> list[str]:
    """host.archipelago must resolve to the app network's gateway (seed 004 FM4)."""
    if resolved is None:
        return [f"{container}: {HOST_ALIAS} does not resolve (no host entry in the container)"]
    if resolved in gateways:
        return []
    fm4 = " (the LAN gateway: FM4)" if resolved == lan else ""
    return [f"{container}: {HOST_ALIAS} resolves to {resolved}{fm4}, not the {network} network's "
            f"gateway {', '.join(gateways) or '(none found)'}"]


# ------------------------------------------------------------------ on the node
def _container_problems(node, member: str, restart: str, gateways: list[str], lan: str | None,
                        allow: Iterable[str]) -> list[str]:
    n, p = node.names, node.cmd.podman
    c = n.container(member)
    q = shlex.quote(c)
    res = node.run(f"{p} inspect --type container --format "
                   "'{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}' " + q, timeout=60)
    if res.rc != 0:
        return [f"{c}: no container to check ({(res.stderr or res.stdout).strip()[:120]})"]
    memory, _, policy = res.stdout.strip().partition(" ")
    out = memory_problems(c, memory)
    if restart == "systemd":
        unit = n.unit(member)
        value = node.run(f"{node.cmd.systemctl} show -p Restart --value {shlex.quote(unit)}", timeout=30).stdout
        out += restart_problems(f"{c} (unit {unit})", restart, value)
    else:
        out += restart_problems(c, restart, policy)
    # the journal (podman's journald log driver; root reads a user's lines too), else podman logs
    logs = node.run(f"{node.cmd.journalctl} -q -o cat --no-pager -b -n {LOG_LINES} CONTAINER_NAME={q} "
                    f"2>/dev/null | grep . || {p} logs --tail {LOG_LINES} {q} 2>&1", timeout=60).stdout
    out += log_problems(c, logs, allow)
    # getent asks the container's resolver; an image without it still has the hosts file
    hosts = node.run(f"{p} exec {q} getent hosts {HOST_ALIAS} || {p} exec {q} cat /etc/hosts", timeout=60)
    return out + alias_problems(c, hosts_address(hosts.stdout, HOST_ALIAS), gateways, lan, n.network)


def health_now(driver) -> list[str]:
    """The daemon's /health against the profile, read until it holds (at most HEALTH_WINDOW)."""
    last: list[str] = []

    def ok() -> bool:
        nonlocal last
        try:
            reply = driver.health()
        except NodeError as e:
            reply = {"body": f"no answer: {e}", "http_status": None}
        last = health_problems(reply, driver.platform.health)
        return not last

    poll(ok, HEALTH_WINDOW, 3.0)
    return last


def problems(node, driver, matrix: Matrix, app_id: str, allow: Iterable[str] = ()) -> list[str]:
    """Every check above for the app and its companions, and the node's /health; [] when all hold.
    `allow`: regexes of log lines the event's own action makes expected (its journal_allow)."""
    net = node.run(f"{node.cmd.podman} network inspect {shlex.quote(node.names.network)}", timeout=60)
    gateways = network_gateways(net.stdout) if net.rc == 0 else []
    lan = default_gateway(node.run("ip -4 route show default", timeout=30).stdout)
    out = [f"podman network {node.names.network} shows no gateway ({net.stderr.strip()[:120] or 'none set'})"
           ] if not gateways else []
    for m in probes.members(matrix, app_id):
        out += _container_problems(node, m.id, driver.platform.restart, gateways, lan, allow)
    return out + health_now(driver)
