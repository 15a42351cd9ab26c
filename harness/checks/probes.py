"""Observations on the node the events share: stand-in status, units, containers, ports, data.

Pure parsers (`parse_*`) are unit-tested; the rest runs one bounded command on the node each.
"""
from __future__ import annotations

import html
import json
import re
import shlex
import time
from typing import Any, Callable

from matrix.model import App, Matrix
from node.api import poll

RUNTIME_FILES = ("LOCK", ".clean_shutdown")   # stand-in files that legitimately come and go
# Rewritten as the chain grows; that the chain never goes backwards is checked through chain_height.
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


# ------------------------------------------------------------------ node observations
def try_status(node, app: App, timeout: float = 10) -> dict | None:
    res = node.run(f"curl -sf --max-time {int(timeout)} {shlex.quote(app.status_url)}",
                   timeout=timeout + 10)
    if res.rc != 0:
        return None
    try:
        return json.loads(res.stdout)
    except ValueError:
        return None


def status(node, app: App) -> dict:
    s = try_status(node, app)
    if s is None:
        raise AssertionError(f"{app.id}: status endpoint {app.status_url} does not answer")
    return s


def wait_status(node, app: App, pred: Callable[[dict], bool], timeout: float, what: str) -> dict:
    """Poll the app's status until pred holds; AssertionError naming `what` otherwise."""
    last: dict | None = None

    def ok():
        nonlocal last
        last = try_status(node, app)
        return last is not None and pred(last)

    if not poll(ok, timeout, 2.0):
        seen = "no answer" if last is None else _brief(last)
        raise AssertionError(f"{app.id}: {what} not reached within {timeout:.0f}s (last status: {seen})")
    return last


def _brief(s: dict) -> str:
    keys = ("healthy", "state", "integrations", "unclean_shutdown", "chain_height")
    return json.dumps({k: s[k] for k in keys if k in s}, sort_keys=True)[:300]


def container(node, app_id: str) -> dict | None:
    """`podman inspect` of the app's container, None when there is none."""
    name = node.names.container(app_id)
    res = node.run(f"{node.cmd.podman} inspect --type container --format json {shlex.quote(name)}", timeout=60)
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


def unit(node, app_id: str) -> dict[str, str]:
    props = "ActiveState,SubState,MainPID,NRestarts,ActiveEnterTimestampMonotonic,LoadState"
    out = node.run(f"{node.cmd.systemctl} show -p {props} {shlex.quote(node.names.unit(app_id))}", timeout=30).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


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


def health_problems(s: dict, app: App) -> list[str]:
    """What the app's own status says is wrong (unhealthy, an integration down, chain broken)."""
    problems = []
    if s.get("healthy") is not True:
        problems.append(f"{app.id} reports unhealthy (state {s.get('state', '?')})")
    for cap, integ in (s.get("integrations") or {}).items():
        if not (isinstance(integ, dict) and integ.get("ok") is True):
            detail = integ.get("detail", "") if isinstance(integ, dict) else integ
            problems.append(f"{app.id}: integration {cap} down ({detail})")
    if s.get("chain_ok") is False:
        problems.append(f"{app.id}: chain not ok")
    return problems


def wait_healthy(node, app: App, timeout: float) -> dict:
    return wait_status(node, app, lambda s: not health_problems(s, app), timeout,
                       "healthy with every integration up")


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
