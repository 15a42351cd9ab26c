"""Chaos Toolkit actions: the fault injections and the rollbacks that undo them.

Every injection verifies that the fault is really in effect and raises InterruptExecution
when it is not (a failed injection would otherwise leave the run "completed": trap 2).
Every remote command carries its own timeout (the activity `timeout` key is never
enforced for Python providers: trap 5). Rollbacks are idempotent: with strategy `always`
they also run after the method already undid the fault.
"""
from __future__ import annotations

import json
import shlex
import time
from collections.abc import Mapping

from chaoslib.exceptions import InterruptExecution

from node.api import CapabilityMissing, NodeError, poll
from node.commands import USER_RUNTIME
from node.names import HARNESS

from . import memo, observe, ops, target

BALLAST = f"/var/lib/{HARNESS.mark('chaos-ballast')}"
CLOCK_FILE = f"{ops.RUN_DIR}/clock.json"


def _interrupt(msg: str):
    raise InterruptExecution(f"injection failed, nothing would be tested: {msg}")


def _node(configuration):
    return target.node(configuration)


def _main_pid(node, unit: str) -> int:
    return int(node.succeed(node.cmd.as_root(f"systemctl show -p MainPID --value {shlex.quote(unit)}"),
                            timeout=30).strip() or 0)


def _py(node, code: str, timeout: float = 30) -> str:
    """Run a python3 snippet on the node as root (standard library only; it may set the clock)."""
    return node.succeed(node.cmd.as_root("python3 -"), timeout=timeout, input=code.encode())


# -- lifecycle operations recorded in the history ----------------------------------------
def rpc(configuration: Mapping, f: str, app: str, timeout: float = 600) -> dict:
    """An operation that must be acknowledged before the fault (it then must survive it)."""
    rec = ops.call(configuration, f, app, timeout)
    if rec["type"] != "ok":
        _interrupt(f"{f} {app} before the fault was not acknowledged: {rec.get('error', rec['type'])}")
    return {"f": f, "app": app, "outcome": rec["type"]}


def start_op(configuration: Mapping, f: str, app: str, timeout: float = 600) -> dict:
    """Start an operation in the background on the node (the fault will hit it in flight)."""
    return {"process": ops.start_async(configuration, f, app, timeout), "f": f, "app": app}


def wait_op_phase(configuration: Mapping, app: str, phase: str = "unit", timeout: float = 120) -> dict:
    """Block until the in-flight op on `app` reached `phase` (unit file written / container
    created) while it is still unanswered — so the fault lands mid-operation."""
    node = _node(configuration)
    pend = [p for p in ops.pending(configuration) if p["app"] == app]
    if not pend:
        _interrupt(f"no operation on {app} in flight")
    p = pend[-1]["process"]
    checks = {"unit": node.cmd.as_root(f"test -e {node.names.quadlet(app)}"),
              "container": f"{node.cmd.podman} container exists {node.names.container(app)}"}
    if phase not in checks:
        raise ValueError(f"phase must be one of {', '.join(checks)}")
    if not poll(lambda: node.run(checks[phase], timeout=30).rc == 0, timeout, 0.3):
        _interrupt(f"{app} never reached phase {phase!r} within {timeout:.0f}s ({_op_state(node, p)})")
    if ops.reply_ready(configuration, p):
        _interrupt(f"the operation on {app} already finished: the fault would not land mid-operation")
    return {"app": app, "phase": phase, "process": p}


def _op_state(node, p: int) -> str:
    """What became of an async op, for the error: its reply, or its transient unit's state."""
    out = f"{ops.RUN_DIR}/op-{p}.out"
    r = node.run(node.cmd.as_root(f"if test -e {out}; then printf 'reply: '; head -c 300 {out}; else printf 'op unit: '; "
                                  f"systemctl show -p ActiveState,Result --value {ops.op_unit(p)} | paste -sd' '; fi"),
                 timeout=30)
    return " ".join(r.stdout.split())[:320]


def collect_ops(configuration: Mapping, timeout: float = 600) -> dict:
    done = ops.collect(configuration, timeout)
    return {"completed": [{"f": r["f"], "app": r["app"], "outcome": r["type"]} for r in done]}


# -- the reconciler daemon ---------------------------------------------------------------
def signal_reconciler(configuration: Mapping, signal: str = "KILL", timeout: float = 30) -> dict:
    """Send a signal to the daemon's main process and verify it took effect."""
    node = _node(configuration)
    daemon = node.names.daemon_unit
    pid = _main_pid(node, daemon)
    if pid <= 0:
        _interrupt(f"{daemon} has no main process")
    if signal != "STOP":
        node.succeed(node.cmd.as_root(f"kill -s {shlex.quote(signal)} {pid}"), timeout=30)
    if signal == "STOP":
        health = target.driver(configuration).health(timeout=10)
        memo.put("tick_interval", health.get("interval"))
        node.succeed(node.cmd.as_root(f"kill -s {shlex.quote(signal)} {pid}"), timeout=30)
        memo.put("stopped_pid", pid)
        frozen = poll(lambda: node.run(f"grep -q '^State:.*T' /proc/{pid}/status", timeout=30).rc == 0,
                      timeout, 0.2)
        if not frozen:
            _interrupt(f"pid {pid} is not stopped after SIGSTOP")
    elif signal in ("KILL", "TERM"):
        if not poll(lambda: _main_pid(node, daemon) != pid, timeout, 0.2):
            _interrupt(f"pid {pid} still the daemon's main process after SIG{signal}")
    return {"pid": pid, "signal": signal}


def resume_reconciler(configuration: Mapping) -> dict:
    """Rollback of SIGSTOP: SIGCONT the frozen pid if it still exists (idempotent)."""
    node = _node(configuration)
    pid = memo.get("stopped_pid")
    if pid:
        node.run(node.cmd.as_root(f"kill -s CONT {int(pid)}") + " 2>/dev/null", timeout=30)
    node.run(node.cmd.as_root(f"systemctl kill -s CONT {node.names.daemon_unit}"), timeout=30)
    return {"resumed": pid}


def queue_health_request(configuration: Mapping, hold_factor: float = 2.5) -> dict:
    """While the daemon is frozen: queue a /health request (answered on SIGCONT, before the
    next tick can complete) and keep the daemon frozen for hold_factor x the tick interval, so
    its last good tick is stale. The fault has a duration by design; this is not a readiness wait."""
    node = _node(configuration)
    pid = memo.get("stopped_pid")
    if not pid:
        _interrupt("the daemon was not stopped first")
    interval = float(memo.get("tick_interval") or 5)
    out = f"{ops.RUN_DIR}/health-frozen.out"
    node.run(node.cmd.as_root(f"mkdir -p {ops.RUN_DIR}; rm -f {out}"), timeout=30)
    node.succeed(node.cmd.as_root(f"systemd-run --quiet --collect --unit={HARNESS.mark(f'chaos-health-{pid}')} "
                                  f"--property=RuntimeMaxSec=300 "
                                  f"sh -c \"curl -s -o /dev/null -w '%{{http_code}}' --max-time 240 "
                                  f"{node.names.health_url} > {out}.tmp; mv {out}.tmp {out}\""), timeout=30)
    t0 = time.monotonic()
    # the fault's own duration: frozen for longer than the staleness threshold
    while time.monotonic() - t0 < hold_factor * interval:
        if node.run(node.cmd.as_root(f"test -e {out}"), timeout=30).rc == 0:
            _interrupt("/health answered while the daemon was frozen: it was not really stopped")
        time.sleep(0.5)
    return {"held_s": round(time.monotonic() - t0, 1), "interval": interval}


def frozen_health_answer(configuration: Mapping, timeout: float = 60) -> dict:
    """After SIGCONT: the /health request queued while frozen must not have been answered 200."""
    node = _node(configuration)
    out = f"{ops.RUN_DIR}/health-frozen.out"
    if not poll(lambda: node.run(node.cmd.as_root(f"test -e {out}"), timeout=30).rc == 0, timeout, 0.5):
        raise AssertionError(f"the /health request queued while frozen got no answer within {timeout:.0f}s")
    code = node.succeed(node.cmd.as_root(f"cat {out}"), timeout=30).strip()
    if code == "200":
        raise AssertionError("/health answered 200 with a last good tick older than 2 x interval: "
                             "liveness is not reported")
    return {"http_code": code}


def restart_reconciler(configuration: Mapping) -> dict:
    node = _node(configuration)
    daemon = node.names.daemon_unit
    old = _main_pid(node, daemon)
    node.succeed(node.cmd.as_root(f"systemctl restart {daemon}"), timeout=120)
    new = _main_pid(node, daemon)
    if new in (0, old):
        _interrupt(f"{daemon} was not restarted (pid {old} -> {new})")
    return {"old_pid": old, "new_pid": new}


# -- podman state DB ---------------------------------------------------------------------
_DB_FILES = {"sqlite": ["db.sql", "db.sql-wal", "db.sql-shm"], "boltdb": ["libpod/bolt_state.db"]}
ROOTLESS_LIBPOD = f"{USER_RUNTIME}/libpod"     # as the login's shell spells it: $(id -u) expands there


def wipe_podman_db(configuration: Mapping) -> dict:
    """Delete the state DB of the backend in use, with the reconciler stopped; then stop the
    app units, so their containers stay in storage unknown to the DB (as after a power loss),
    and start the reconciler again."""
    node = _node(configuration)
    c = node.cmd
    backend = node.succeed(f"{c.podman} info --format '{{{{.Host.DatabaseBackend}}}}'", timeout=90).strip()
    graphroot = node.succeed(f"{c.podman} info --format '{{{{.Store.GraphRoot}}}}'", timeout=90).strip()
    if backend not in _DB_FILES or not graphroot.startswith("/"):
        _interrupt(f"unknown podman DB backend {backend!r} (graphroot {graphroot!r})")
    files = [f"{graphroot}/{f}" for f in _DB_FILES[backend]]
    main = files[0]
    node.succeed(c.as_root(f"systemctl stop {node.names.daemon_unit}"), timeout=120)
    if node.run(c.as_root(f"test -s {shlex.quote(main)}"), timeout=30).rc != 0:
        _interrupt(f"backend {backend} but {main} does not exist: wrong DB file")
    node.succeed(c.as_root("rm -f " + " ".join(shlex.quote(f) for f in files)), timeout=30)
    globs = " ".join(map(shlex.quote, node.names.globs("unit")))
    units = node.succeed(f"{c.systemctl} list-units --plain --no-legend {globs} | awk '{{print $1}}'",
                         timeout=30).split()
    if units:
        node.run(f"{c.systemctl} stop " + " ".join(map(shlex.quote, units)), timeout=900)
    leftover = node.succeed(f"{c.podman} ps -a --external --format '{{{{.Names}}}}'", timeout=90).split()
    if c.rootless:    # the login's libpod runtime state goes too, as in seed 004's FM6
        node.succeed(wipe_runtime_command(), timeout=60)
    node.succeed(c.as_root(f"systemctl start {node.names.daemon_unit}"), timeout=120)
    return {"backend": backend, "removed": files, "runtime_removed": c.rootless, "units_stopped": units,
            "storage_leftovers": [c for c in leftover if node.names.is_app(c)]}


def wipe_runtime_command() -> str:
    """The login's command that removes its rootless libpod runtime dir (its own: no root). The
    path is double-quoted so the login's shell expands $(id -u) in it and nothing else; pure."""
    return f'rm -rf "{ROOTLESS_LIBPOD}" && test ! -e "{ROOTLESS_LIBPOD}"'


# -- files the reconciler derives ----------------------------------------------------------
def _sha(node, path: str) -> str:
    r = node.run(node.cmd.as_root(f"sha256sum {shlex.quote(path)}") + " 2>/dev/null | cut -d' ' -f1", timeout=30)
    return r.stdout.strip()


def corrupt_file(configuration: Mapping, path: str, restart_unit: str = "") -> dict:
    """Garble the first line of a derived file (recording its hash); optionally restart its
    consumer so the damage is read (a restart alone must not be what repairs it)."""
    node, path = _node(configuration), target.owned_path(configuration, path)
    before = _sha(node, path)
    if not before:
        _interrupt(f"{path} does not exist")
    memo.put(f"sha:{path}", before)
    q = shlex.quote(path)
    node.succeed(node.cmd.as_root(f"sed -i '1s/.*/@@ garbled by archy chaos: not key=value @@/' {q}"), timeout=30)
    if _sha(node, path) == before:
        _interrupt(f"{path} unchanged after corruption")
    return {"path": path, "sha_before": before}


def remove_file(configuration: Mapping, path: str, reload_unit: str = "") -> dict:
    """Delete a derived file (recording its hash); reload its consumer so the loss bites."""
    node, path = _node(configuration), target.owned_path(configuration, path)
    before = _sha(node, path)
    if not before:
        _interrupt(f"{path} does not exist")
    memo.put(f"sha:{path}", before)
    node.succeed(node.cmd.as_root(f"rm -f {shlex.quote(path)}"), timeout=30)
    if reload_unit:
        node.succeed(node.cmd.as_root(f"systemctl reload-or-restart {shlex.quote(reload_unit)}"), timeout=120)
    return {"path": path, "sha_before": before}


def assert_route_down(configuration: Mapping, url: str, path: str = "", timeout: float = 60) -> dict:
    """The deleted snippet really took the route away (else nothing is tested). nginx's reload
    is asynchronous (old workers answer until they drain), so the route is polled. A 200 counts
    only once the reconciler re-rendered the file (the fault was in effect and repaired)."""
    node, path = _node(configuration), target.path(configuration, path)
    seen: dict = {}

    def gone_or_repaired() -> bool:
        seen["code"] = _http_code(node, url)
        if seen["code"] != "200":
            return True
        seen["rerendered"] = bool(path) and node.run(node.cmd.as_root(f"test -e {shlex.quote(path)}"),
                                                     timeout=30).rc == 0
        return seen["rerendered"]

    if not poll(gone_or_repaired, timeout, 1.0):
        _interrupt(f"{url} still answers 200 {timeout:.0f}s after its snippet was deleted")
    if seen["code"] == "200":
        return {"url": url, "http_code": "200", "already_rerendered": True}
    return {"url": url, "http_code": seen["code"]}


def _http_code(node, url: str) -> str:
    return node.run(f"curl -k -s -o /dev/null -w '%{{http_code}}' --max-time 10 {shlex.quote(url)}",
                    timeout=30).stdout.strip()


# -- disk ----------------------------------------------------------------------------------
def fill_disk(configuration: Mapping, path: str = "/var", keep_mib: int = 16,
              hold_seconds: float = 0) -> dict:
    """fallocate a ballast so that only keep_mib MiB stay available (df: ~99-100 %)."""
    node, path = _node(configuration), target.path(configuration, path)
    stat = ("import os,json;s=os.statvfs(%r);"
            "print(json.dumps([s.f_frsize,s.f_blocks,s.f_bavail]))") % path
    frsize, blocks, avail = json.loads(_py(node, stat))
    size = avail * frsize - keep_mib * 1024 * 1024
    if size <= 0:
        _interrupt(f"{path} has only {avail * frsize >> 20} MiB available: already full")
    r = node.run(node.cmd.as_root(f"fallocate -l {size} {BALLAST}"), timeout=120)
    if r.rc != 0:
        node.run(node.cmd.as_root(f"rm -f {BALLAST}"), timeout=30)
        _interrupt(f"fallocate failed: {r.stderr.strip()[:200]}")
    _, _, after = json.loads(_py(node, stat))
    used = 1 - after / blocks
    if after * frsize > (keep_mib + 8) * 1024 * 1024:
        node.run(node.cmd.as_root(f"rm -f {BALLAST}"), timeout=30)
        _interrupt(f"{path} still has {after * frsize >> 20} MiB available after the ballast")
    return {"ballast_mib": size >> 20, "available_mib": after * frsize >> 20, "used_pct": round(used * 100, 2)}


def remove_ballast(configuration: Mapping) -> dict:
    node = _node(configuration)
    node.succeed(node.cmd.as_root(f"rm -f {BALLAST}"), timeout=60)
    return {"removed": BALLAST}


def wait_app_down(configuration: Mapping, app: str, timeout: float = 120) -> dict:
    """The fault bit: the app's stand-in is not healthy (e.g. bitcoind exits on a full disk)."""
    d = target.driver(configuration)

    def down() -> bool:
        try:
            return not (d.container_health(app, timeout=60).get(app) or {}).get("healthy")
        except NodeError:
            return True

    if not poll(down, timeout, 2.0):
        _interrupt(f"{app} stayed healthy for {timeout:.0f}s: the fault did not bite")
    return {"app": app, "down": True}


# -- clock -----------------------------------------------------------------------------------
_OFFSET = "import time;print(repr(time.clock_gettime(time.CLOCK_REALTIME)-time.clock_gettime(time.CLOCK_MONOTONIC)))"


def jump_clock(configuration: Mapping, minutes: float = 30) -> dict:
    """NTP off, wall clock +minutes. wall-monotonic is recorded first (on the node too) so the
    rollback can restore the exact time from CLOCK_MONOTONIC."""
    node = _node(configuration)
    offset = float(_py(node, _OFFSET))
    ntp = node.run("timedatectl show -p NTP --value", timeout=30).stdout.strip()
    node.put_file(CLOCK_FILE, json.dumps({"offset": offset, "ntp": ntp}).encode())
    memo.put("clock_offset", offset)
    node.run(node.cmd.as_root("timedatectl set-ntp false"), timeout=30)  # fails harmlessly where no NTP service exists
    _py(node, "import time;time.clock_settime(time.CLOCK_REALTIME,"
              f"time.clock_gettime(time.CLOCK_REALTIME)+{float(minutes) * 60!r})")
    skew = float(_py(node, _OFFSET)) - offset
    if abs(skew - minutes * 60) > 10:
        _interrupt(f"clock moved by {skew:.0f}s, not {minutes * 60:.0f}s")
    return {"jumped_s": round(skew, 1), "ntp_was": ntp}


def restore_clock(configuration: Mapping) -> dict:
    """Wall clock back to monotonic + the recorded offset; NTP back on if it was (idempotent)."""
    node = _node(configuration)
    raw = node.run(node.cmd.as_root(f"cat {CLOCK_FILE}") + " 2>/dev/null", timeout=30).stdout.strip()
    if not raw:
        return {"restored": False, "reason": "no jump recorded"}
    saved = json.loads(raw)
    _py(node, "import time;time.clock_settime(time.CLOCK_REALTIME,"
              f"time.clock_gettime(time.CLOCK_MONOTONIC)+{float(saved['offset'])!r})")
    err = float(_py(node, _OFFSET)) - float(saved["offset"])
    if saved.get("ntp") == "yes":
        node.run(node.cmd.as_root("timedatectl set-ntp true"), timeout=30)
    if abs(err) > 2:
        raise RuntimeError(f"clock restore off by {err:.1f}s")
    node.run(node.cmd.as_root(f"rm -f {CLOCK_FILE}"), timeout=30)
    return {"restored": True, "error_s": round(err, 3)}


# -- network ---------------------------------------------------------------------------------
def revoke_network(configuration: Mapping, network: str = "") -> dict:
    """Take the apps' network away. Rootful (system scope): remove the podman network (default:
    the platform's; -f also removes the containers on it). Rootless (user scope): the bridge
    lives in the login's rootless netns, so revoke that: kill its pasta (the pid in
    rootless-netns-conn.pid) and the login's rootlessport processes, unmount the netns file."""
    node = _node(configuration)
    if node.cmd.user_scope:
        return _revoke_rootless_netns(node)
    network = network or node.names.network
    q = shlex.quote(network)
    podman = node.cmd.podman
    if node.run(f"{podman} network exists {q}", timeout=60).rc != 0:
        _interrupt(f"podman network {network} does not exist")
    node.succeed(f"{podman} network rm -f {q}", timeout=300)
    if node.run(f"{podman} network exists {q}", timeout=60).rc == 0:
        _interrupt(f"podman network {network} still exists")
    return {"removed": network}


NETNS_DIR = f"{USER_RUNTIME}/containers/networks/rootless-netns"    # podman 5's, under the login's runtime dir
_NETNS_RC = {3: "no rootless netns (rootless-netns-conn.pid missing or not a pid)",
             4: "kill -9 of the rootless netns' pasta failed", 5: "podman unshare umount of the netns failed"}


def revoke_netns_script(podman: str) -> str:
    """The login's script that revokes its rootless netns and prints the pasta pid it killed:
    exit 3/4/5 say which step failed (_NETNS_RC). The dir is double-quoted so the login's shell
    expands $(id -u) in it and nothing else; the pid is checked to be digits; pure."""
    return (f'd="{NETNS_DIR}"; p=$(cat "$d/rootless-netns-conn.pid" 2>/dev/null) || exit 3; '
            'case "$p" in ""|*[!0-9]*) exit 3;; esac; '
            'kill -9 "$p" || exit 4; '
            'pkill -9 -u "$(id -u)" -x rootlessport; '
            f'{podman} unshare umount "$d/rootless-netns" || exit 5; '
            'echo "$p"')


def netns_mounted_command(podman: str) -> str:
    """The login's command that succeeds while the rootless netns file is still a mount; pure."""
    return f'{podman} unshare findmnt -n "{NETNS_DIR}/rootless-netns"'


def _revoke_rootless_netns(node) -> dict:
    podman = node.cmd.podman
    r = node.run(revoke_netns_script(podman), timeout=120)
    if r.rc != 0:
        _interrupt(_NETNS_RC.get(r.rc, f"revoking the rootless netns failed (rc {r.rc}): "
                                       f"{(r.stderr or r.stdout).strip()[:200]}"))
    last = (r.stdout.split() or [""])[-1]
    if not last.isdigit():
        _interrupt(f"revoking the rootless netns printed no pid: {r.stdout.strip()[:200]!r}")
    pid = int(last)
    if not poll(lambda: node.run(f"test -d /proc/{pid}", timeout=30).rc != 0, 30, 0.2):
        _interrupt(f"the rootless netns' pasta (pid {pid}) survived SIGKILL")
    if node.run(netns_mounted_command(podman), timeout=60).rc == 0:
        _interrupt("the rootless netns is still mounted")
    return {"revoked": "rootless-netns", "pasta_pid": pid}


# -- tor ---------------------------------------------------------------------------------------
def kill_tor(configuration: Mapping, unit: str = "", timeout: float = 30) -> dict:
    node = _node(configuration)
    unit = unit or node.names.tor_unit
    before = observe.onions(node)
    if not before:
        _interrupt("no onion service with a hostname: nothing to compare afterwards")
    memo.put("onions", before)
    pid = _main_pid(node, unit)
    if pid <= 0:
        _interrupt(f"{unit} has no main process")
    node.succeed(node.cmd.as_root(f"kill -9 {pid}"), timeout=30)
    if not poll(lambda: node.run(f"test -d /proc/{pid}", timeout=30).rc != 0, timeout, 0.2):
        _interrupt(f"tor pid {pid} survived SIGKILL")
    memo.put("tor_pid", pid)
    return {"pid": pid, "onion_services": len(before)}


# -- an app's container, behind the reconciler's back ---------------------------------------------
def _member(app: str, companion: bool) -> str:
    """The app itself, or its UI companion (the catalog's first): an id the node's names resolve."""
    if not companion:
        return app
    companions = observe.catalog().get(app) or []
    if not companions:
        _interrupt(f"{app} has no companion in the catalog")
    return companions[0]


def _running(node, container: str) -> tuple[str, int]:
    """(container id, host pid of its PID 1); interrupts unless it runs now."""
    fmt = "'{{.Id}} {{.State.Running}} {{.State.Pid}}'"
    r = node.run(f"{node.cmd.podman} inspect --format {fmt} {shlex.quote(container)}", timeout=60)
    parts = r.stdout.split()
    if r.rc != 0 or len(parts) != 3 or parts[1] != "true" or not parts[2].isdigit() or int(parts[2]) <= 0:
        _interrupt(f"container {container} is not running: {(r.stdout + r.stderr).strip()[:200]}")
    return parts[0], int(parts[2])


def stop_container(configuration: Mapping, app: str, companion: bool = False, timeout: float = 660) -> dict:
    """`podman stop` of the app's (or its companion's) container, as a user or script would, not
    through the reconciler or systemd. Its own stop timeout applies (bitcoind's is long: no -t)."""
    node = _node(configuration)
    member = _member(app, companion)
    container = node.names.container(member)
    cid, _ = _running(node, container)
    node.succeed(f"{node.cmd.podman} stop {shlex.quote(container)}", timeout=timeout)
    # by id: a repair may already have started a new container under the same name
    r = node.run(f"{node.cmd.podman} inspect --format '{{{{.State.Running}}}}' {shlex.quote(cid)}", timeout=60)
    if r.rc == 0 and r.stdout.strip() == "true":
        _interrupt(f"container {container} ({cid[:12]}) still runs after podman stop")
    return {"app": member, "container": container, "stopped": cid[:12]}


def kill_container_init(configuration: Mapping, app: str, companion: bool = False, timeout: float = 30) -> dict:
    """SIGKILL of the container's PID 1 as the host sees it (`podman inspect .State.Pid`): the
    app's main process dies without a shutdown, as in a crash or an OOM kill."""
    node = _node(configuration)
    member = _member(app, companion)
    container = node.names.container(member)
    cid, pid = _running(node, container)
    node.succeed(node.cmd.as_root(f"kill -9 {pid}"), timeout=30)
    if not poll(lambda: node.run(f"test -d /proc/{pid}", timeout=30).rc != 0, timeout, 0.2):
        _interrupt(f"pid {pid} of {container} survived SIGKILL")
    return {"app": member, "container": container, "killed_pid": pid, "id": cid[:12]}


def start_app(configuration: Mapping, app: str, companion: bool = False) -> dict:
    """Rollback: ask systemd to start the member's unit (a no-op when it runs), so a node whose
    repair failed is usable again. Not a repair the experiment credits: the method judged first."""
    node = _node(configuration)
    unit = node.names.unit(_member(app, companion))
    node.succeed(f"{node.cmd.systemctl} start --no-block {shlex.quote(unit)}", timeout=60)
    return {"unit": unit}


# -- power ---------------------------------------------------------------------------------------
def power_cut(configuration: Mapping, timeout: float = 600) -> dict:
    """Hypervisor reset (no shutdown, unsynced writes lost); returns once the node booted again."""
    node = _node(configuration)
    old = node.boot_id()
    try:
        node.power_cut(timeout=timeout)
    except CapabilityMissing as e:
        _interrupt(str(e))
    new = node.boot_id()
    if new == old:
        _interrupt("boot id unchanged after the power cut")
    return {"old_boot": old, "new_boot": new}


# -- OTA ---------------------------------------------------------------------------------------
def build_image(configuration: Mapping, base: str = "", image: str = "", timeout: float = 300) -> dict:
    """A new image version built on the node from the current one (no registry). Defaults: the
    catalog's image, and the same repository tagged 2; the OTA actions below default to it."""
    node = _node(configuration)
    base = base or json.loads(node.get_file(node.names.catalog)).get("image") or ""
    if not base:
        _interrupt(f"no image in {node.names.catalog} to build from")
    image = image or f"{base.rsplit(':', 1)[0]}:2"
    memo.put("built_image", image)
    ctx = f"{ops.RUN_DIR}/image"
    node.put_file(f"{ctx}/Containerfile",
                  f"FROM {base}\nLABEL io.archipelago.chaos.version={image.rsplit(':', 1)[-1]}\n".encode())
    podman = node.cmd.podman
    node.succeed(f"{podman} build --pull=never -q -t {shlex.quote(image)} {ctx} && sync", timeout=timeout)
    return {"image": image, "id": node.succeed(f"{podman} image inspect -f '{{{{.Id}}}}' {shlex.quote(image)}",
                                                timeout=60).strip()[:12]}


def set_app_image(configuration: Mapping, app: str, image: str = "") -> dict:
    """Point the app at a new image (default: the one build_image built) in the node's catalog:
    the reconciler applies it (OTA)."""
    node = _node(configuration)
    image = image or memo.get("built_image") or ""
    if not image:
        _interrupt("no image to point the app at: run build_image first or name one")
    catalog = node.names.catalog
    cat = json.loads(node.get_file(catalog))
    apps = cat.get("apps", cat)
    if app not in apps:
        _interrupt(f"{app} not in {catalog}")
    old = apps[app].get("image") or cat.get("image")
    apps[app]["image"] = image
    node.put_file(catalog, json.dumps(cat, indent=2, sort_keys=True).encode())
    node.succeed("sync", timeout=60)  # the update is on disk before it starts: the cut tests the apply
    memo.put(f"ota:{app}", {"old": old, "new": image})
    return {"app": app, "old": old, "new": image}


def wait_ota_in_flight(configuration: Mapping, app: str, image: str = "", timeout: float = 120) -> dict:
    """Until the unit names the new image (default: the one set_app_image set) but the app does not
    run it yet healthily."""
    node = _node(configuration)
    image = image or (memo.get(f"ota:{app}") or {}).get("new") or ""
    if not image:
        _interrupt(f"no update of {app} to wait for: run set_app_image first or name the image")
    unit = node.names.quadlet(app)
    grep = node.cmd.as_root(f"grep -qx 'Image={image}' {unit}")
    if not poll(lambda: node.run(grep, timeout=30).rc == 0, timeout, 0.3):
        _interrupt(f"the reconciler did not start the update of {app} to {image} within {timeout:.0f}s")
    return {"app": app, "unit_image": image}
