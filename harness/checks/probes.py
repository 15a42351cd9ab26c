"""Observations on the node the events share: health (the app's own protocol, its unit, its
container), integrations, units, containers, ports, data.

Verdicts come from what the node shows: the app's protocol (harness.checks.protocols), systemd and
podman. The stand-ins' /status is read only as extra evidence where an app's protocol shows no view
of an integration, and never needed: on a node without it that part is reported not run.
Pure parsers and rules are unit-tested; the rest runs one bounded command on the node each.
"""
from __future__ import annotations

import html
import json
import re
import shlex
import time
from typing import Any, Callable

from harness.checks import protocols
from harness.checks.protocols import Answer
from matrix.model import App, Matrix
from node.api import poll
from node.names import Names
from reconciler.standin.faults import FAULT_FILE

# stand-in files that legitimately come and go (and a test's fault switch)
RUNTIME_FILES = ("LOCK", ".clean_shutdown", FAULT_FILE)
# Rewritten as the chain grows; that the chain never goes backwards is checked through the height
# bitcoind answers.
STATE_FILES = ("chainstate.json",)
APPEND_ONLY = re.compile(r"(^|/)blk\d+\.dat$")   # block files only grow: old bytes must stay a prefix


def members(matrix: Matrix, app_id: str) -> list[App]:
    """The app and its UI companions: what installing it puts on the node."""
    app = matrix.app(app_id)
    return [app] + [matrix.app(c) for c in app.companions]


def ui_target(matrix: Matrix, app: App) -> tuple[App, int]:
    """The app (or companion) serving the UI page and its UI port."""
    ui = matrix.app(app.ui)
    ports = [p.port for p in ui.ports if p.ui]
    if not ports:
        raise AssertionError(f"{app.id}: matrix names {ui.id} as its UI but it has no ui port")
    return ui, ports[0]


def dependents(matrix: Matrix, app_id: str, installed: tuple[str, ...]) -> list[str]:
    """Installed apps that depend on (or integrate with) what `app_id` provides."""
    cap = matrix.app(app_id).provides
    return [a for a in installed if a != app_id
            and (cap in matrix.apps[a].depends or cap in matrix.apps[a].integrations)]


# ------------------------------------------------------------------ pure parsers
def parse_listening(ss_output: str) -> set[int]:
    """Ports with a TCP listener in `ss -Htln` output."""
    ports = set()
    for line in ss_output.splitlines():
        cols = line.split()
        if len(cols) >= 4 and cols[3].rpartition(":")[2].isdigit():
            ports.add(int(cols[3].rpartition(":")[2]))
    return ports


def page_title(page: str) -> str | None:
    """The <title> of an HTML page, whitespace folded; None when it has none."""
    m = re.search(r"<title[^>]*>(.*?)</title\s*>", page, re.I | re.S)
    return " ".join(html.unescape(m.group(1)).split()) or None if m else None


def parse_manifest(output: str) -> dict[str, tuple[int, str]]:
    """`SIZE DIGEST PATH` lines (the digest of the first SIZE bytes) -> {path: (size, digest)};
    runtime and state files left out."""
    out = {}
    for line in output.splitlines():
        size, _, rest = line.partition(" ")
        digest, _, path = rest.partition(" ")
        name = path.rsplit("/", 1)[-1]
        if path and size.isdigit() and name not in RUNTIME_FILES + STATE_FILES and not path.endswith(".tmp"):
            out[path] = (int(size), digest)
    return out


def manifest_problems(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]],
                      prefix_digest: Callable[[str, int], str] | None = None) -> list[str]:
    """Data must never go backwards: every file present before is still there, unchanged; a block
    file may have grown, when its first bytes are still the old ones (`prefix_digest(path, size)`)."""
    lost = sorted(set(before) - set(after))
    changed = []
    for p in sorted(set(before) & set(after)):
        (size0, digest0), (size1, digest1) = before[p], after[p]
        if digest0 == digest1 and size0 == size1:
            continue
        grown = APPEND_ONLY.search(p) and size1 > size0 and prefix_digest is not None
        if not (grown and prefix_digest(p, size0) == digest0):
            changed.append(p)
    problems = []
    if lost:
        problems.append(f"{len(lost)} data file(s) gone: {', '.join(lost[:5])}")
    if changed:
        problems.append(f"{len(changed)} data file(s) changed: {', '.join(changed[:5])}")
    return problems


# ------------------------------------------------------------------ health, pure
def container_state(c: dict | None) -> tuple[str, str]:
    """(status, health) of a `podman inspect` entry; ("", "") when there is none."""
    state = (c or {}).get("State") or {}
    health = state.get("Health") or state.get("Healthcheck") or {}
    return str(state.get("Status") or ""), str(health.get("Status") or "") if isinstance(health, dict) else ""


def health_problems(app: App, answer: Answer, unit_props: dict[str, str], ctr: dict | None,
                    names: Names) -> list[str]:
    """What the app's own protocol, its unit and its container say is wrong: not answering ready,
    an integration its protocol shows down, the unit not active, the container not running or
    unhealthy to podman."""
    k = protocols.kind(app)
    if not answer.ready:
        return [f"{app.id}: {protocols.PROTOCOL[k]}: {answer.detail}"]
    problems = [f"{app.id}: integration {cap} down ({answer.detail})" for cap in app.integrations
                if protocols.sees(k, cap, answer) is False]
    active = unit_props.get("ActiveState") or "unknown"
    if active != "active":
        problems.append(f"{app.id}: unit {names.unit(app.id)} is {active}")
    status, health = container_state(ctr)
    if status != "running":
        problems.append(f"{app.id}: container {names.container(app.id)} is {status or 'missing'}")
    elif health == "unhealthy":
        problems.append(f"{app.id}: podman reports container {names.container(app.id)} unhealthy")
    return problems


def height_problems(before: Answer | None, after: Answer) -> list[str]:
    """The chain height the app answers never goes backwards (bitcoind, lnd, electrumx)."""
    if before is None or before.height is None:
        return []
    if after.height is None or after.height < before.height:
        return [f"chain height went backwards: {before.height} -> {after.height}"]
    return []


IDENTITY = ("invocation", "restarts", "container", "started")


def changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Which parts of an `identity` differ: the app's process was replaced or restarted."""
    return [f"{k} {before.get(k) or '-'} -> {after.get(k) or '-'}"[:80] for k in IDENTITY
            if before.get(k) != after.get(k)]


# ------------------------------------------------------------------ node observations
def health_now(node, app: App, seen: list[Answer] | None = None) -> tuple[Answer, list[str]]:
    """One look: the app's protocol answer, and (once it answers ready) its unit and container."""
    answer = protocols.probe(node, app)
    if seen is not None:
        seen.append(answer)
    if not answer.ready:
        return answer, health_problems(app, answer, {}, None, node.names)
    return answer, health_problems(app, answer, *unit_and_container(node, app.id), node.names)


def wait_healthy(node, app: App, timeout: float, seen: list[Answer] | None = None) -> Answer:
    """Poll until the app answers ready through its own protocol with every integration that
    protocol shows up, its unit active and its container running; its last answer."""
    last: tuple[Answer, list[str]] = (Answer(protocols.NOT_YET, "not asked yet"), ["not asked yet"])

    def ok() -> bool:
        nonlocal last
        last = health_now(node, app, seen)
        return not last[1]

    if not poll(ok, timeout, 2.0):
        raise AssertionError(f"{app.id}: not healthy within {timeout:.0f}s: " + "; ".join(last[1]))
    return last[0]


def standin_integration(node, app: App, cap: str) -> bool | None:
    """The stand-in's own report of an integration (its /status, on the reference node): extra
    evidence where the app's protocol shows no view of it. None when nothing answers there."""
    res = node.run(f"curl -sf --max-time 10 {shlex.quote(app.status_url)}", timeout=30)
    try:
        entry = (json.loads(res.stdout).get("integrations") or {}).get(cap) if res.rc == 0 else None
    except (ValueError, AttributeError):
        return None
    return entry.get("ok") is True if isinstance(entry, dict) else None


def integration_view(node, app: App, cap: str) -> tuple[bool | None, str]:
    """Whether `app` sees its `cap` integration up, and what said so: its own protocol where that
    shows it (lnd, electrumx), else the stand-in's status; (None, why) when neither does."""
    answer = protocols.probe(node, app)
    seen = protocols.sees(protocols.kind(app), cap, answer)
    if seen is not None:
        return seen, answer.detail
    extra = standin_integration(node, app, cap)
    if extra is not None:
        return extra, "the stand-in's status (extra evidence)"
    return None, (f"{app.id} shows no view of {cap} through {protocols.PROTOCOL[protocols.kind(app)]} "
                  f"and no stand-in status answers")


def wait_integration(node, app: App, cap: str, up: bool, timeout: float) -> tuple[bool, str]:
    """Poll until `app` reports `cap` up (or down); (False, why) when it shows no view at all."""
    last: tuple[bool | None, str] = (None, "")

    def ok() -> bool:
        nonlocal last
        last = integration_view(node, app, cap)
        return last[0] is None or last[0] is up

    if not poll(ok, timeout, 2.0):
        raise AssertionError(f"{app.id}: integration {cap} not reported {'up' if up else 'down'} "
                             f"within {timeout:.0f}s (last: {last[1]})")
    return last[0] is not None, last[1]


def touched_integrations(matrix: Matrix, app_id: str, installed: tuple[str, ...]) -> list[tuple[str, str]]:
    """(app, capability) pairs a change of `app_id` touches: its own integrations and its installed
    dependents' integration with what it provides; pure."""
    app = matrix.apps[app_id]
    pairs = [(app_id, cap) for cap in app.integrations]
    if app.provides:
        pairs += [(d, app.provides) for d in dependents(matrix, app_id, installed)
                  if app.provides in matrix.apps[d].integrations]
    return pairs


def integrations_back(node, matrix: Matrix, pairs: list[tuple[str, str]], timeout: float) -> tuple[list[str], list[str]]:
    """Wait for each (app, capability) to report up; (problems, the pairs whose app shows no view)."""
    problems, unseen = [], []
    for who, cap in pairs:
        try:
            seen, how = wait_integration(node, matrix.app(who), cap, True, timeout)
        except AssertionError as e:
            problems.append(str(e))
            continue
        if not seen:
            unseen.append(f"{who}'s own view of {cap}: {how}")
    return problems, unseen


def recovery_logged(node, app_id: str, cursor: str | None = None) -> list[str]:
    """Lines of the app's unit journal (since `cursor`, else this boot) saying it recovered from an
    unclean shutdown (a replay, a reindex, a stale lock)."""
    since = f"--after-cursor={shlex.quote(cursor)}" if cursor else "-b"
    unit_, ctr = shlex.quote(node.names.unit(app_id)), shlex.quote(node.names.container(app_id))
    # the unit's own lines (system or user scope) or its container's (podman's journald log driver)
    match = f"_SYSTEMD_UNIT={unit_} + _SYSTEMD_USER_UNIT={unit_} + CONTAINER_NAME={ctr}"
    res = node.run(f"{node.cmd.journalctl} -q -o cat --no-pager {since} {match} 2>/dev/null "
                   f"| grep -aiE {shlex.quote(protocols.RECOVERY_WORDS)} | tail -n 3", timeout=60)
    return [f"journal: {line.strip()[:160]}" for line in res.stdout.splitlines() if line.strip()]


def unclean_signs(node, app: App, before: Answer | None, seen: list[Answer], cursor: str | None) -> list[str]:
    """Evidence of a recovery from an unclean shutdown: the app's answers, then its journal."""
    return protocols.recovery_signs(before, seen) + recovery_logged(node, app.id, cursor)


def identity(node, app_id: str) -> dict[str, str]:
    """What changes when the app's process is replaced: the unit's invocation and restart count,
    the container's id and start time (systemd and podman, not the app)."""
    u, c = unit_and_container(node, app_id)
    c = c or {}
    return {"invocation": u.get("InvocationID", ""), "restarts": u.get("NRestarts", ""),
            "active": u.get("ActiveState", ""), "container": str(c.get("Id") or ""),
            "started": str((c.get("State") or {}).get("StartedAt") or "")}


def container(node, app_id: str) -> dict | None:
    """`podman inspect` of the app's container, None when there is none."""
    res = node.run(_inspect_cmd(node, app_id), timeout=60)
    if res.rc != 0:
        return None
    try:
        data = json.loads(res.stdout)
    except ValueError:
        return None
    return data[0] if data else None


def running_containers(node, app_id: str) -> list[str]:
    out = node.succeed(f"{node.cmd.podman} ps -q --filter label={node.names.app_label}={shlex.quote(app_id)}",
                       timeout=60)
    return out.split()


UNIT_PROPS = "ActiveState,SubState,MainPID,NRestarts,ActiveEnterTimestampMonotonic,LoadState,InvocationID"
_INSPECT = "@@archy-podman-inspect@@"


def _show(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def _unit_cmd(node, app_id: str) -> str:
    return f"{node.cmd.systemctl} show -p {UNIT_PROPS} {shlex.quote(node.names.unit(app_id))}"


def _inspect_cmd(node, app_id: str) -> str:
    return f"{node.cmd.podman} inspect --type container --format json {shlex.quote(node.names.container(app_id))}"


def unit(node, app_id: str) -> dict[str, str]:
    return _show(node.run(_unit_cmd(node, app_id), timeout=30).stdout)


def unit_and_container(node, app_id: str) -> tuple[dict[str, str], dict | None]:
    """unit() and container() in one round trip (a poll asks both every few seconds)."""
    out = node.run(f"{_unit_cmd(node, app_id)}; echo {_INSPECT}; {_inspect_cmd(node, app_id)} 2>/dev/null; "
                   f"echo \"{_INSPECT} $?\"", timeout=90).stdout
    return parse_unit_and_container(out)


def parse_unit_and_container(out: str) -> tuple[dict[str, str], dict | None]:
    """unit_and_container's output: `systemctl show` lines, the marker, podman's JSON, the marker
    and podman's exit status (not 0: no such container). Pure."""
    head, _, rest = out.partition(_INSPECT + "\n")
    body, _, rc = rest.rpartition(_INSPECT + " ")
    if rc.strip() != "0":
        return _show(head), None
    try:
        data = json.loads(body)
    except ValueError:
        return _show(head), None
    return _show(head), (data[0] if isinstance(data, list) and data else None)


def listening_ports(node) -> set[int]:
    return parse_listening(node.succeed("ss -Htln", timeout=30))


def alive_pids(node, pids: list[int]) -> list[int]:
    pids = [p for p in pids if p and p > 1]
    if not pids:
        return []
    out = node.run("for p in " + " ".join(map(str, pids)) +
                   "; do [ -d /proc/$p ] && echo $p; done", timeout=30).stdout
    return [int(p) for p in out.split()]


def data_manifest(node, app: App) -> dict[str, tuple[int, str]]:
    """{path: (size, digest of those size bytes)}: a file growing while it is read stays consistent."""
    if not app.data_dirs:
        return {}
    dirs = " ".join(shlex.quote(d) for d in app.data_dirs)
    out = node.succeed(node.cmd.as_root(f"find {dirs} -type f -print0 2>/dev/null | sort -z | xargs -0 -r sh -c "
                                        "'for f; do s=$(stat -c %s \"$f\") || continue; "
                                        "d=$(head -c \"$s\" \"$f\" | sha256sum) || continue; "
                                        "echo \"$s ${d%% *} $f\"; done' sh"), timeout=120)
    return parse_manifest(out)


def prefix_digest(node, path: str, size: int) -> str:
    """sha256 of the first `size` bytes of a file on the node ('' when it cannot be read)."""
    res = node.run(node.cmd.as_root(f"head -c {int(size)} {shlex.quote(path)}") + " | sha256sum", timeout=60)
    return res.stdout.split(" ", 1)[0] if res.rc == 0 else ""


def elapsed(t0: float) -> str:
    return f"{time.monotonic() - t0:.1f}s"


def rpc(driver, method: str, timeout: float = 60, **params) -> Any:
    """A driver call whose RPC error becomes an AssertionError naming the method."""
    try:
        return driver.call(method, timeout=timeout, **params)
    except AssertionError:
        raise
    except Exception as e:  # RpcError, NodeError: both mean the operation did not succeed
        args = ", ".join(f"{k}={v}" for k, v in params.items())
        raise AssertionError(f"{method}({args}) failed: {e}") from None
