"""The invariants of shared/research/reconciler.md, on a fake systemd/podman (files are real)."""
from __future__ import annotations

import builtins
import json
import logging
import os
import re
import socket
import subprocess

import pytest

from reconciler import backoff as bo
from reconciler import releases as rel
from reconciler import current as cur
from reconciler import desired as des
from reconciler import diff
from reconciler.daemon import DEPENDENCY, OpError, Reconciler
from reconciler.model import RemoveContainer, RestartUnit, StartUnit, StopUnit
from reconciler.store import atomic_write
from recfake import FakeContainer, FakeUnit, converge, make
from reconciler.variants import parse as parse_variant

STACK = ("bitcoin-knots", "lnd", "electrumx", "btcpay", "mempool", "fedimint")


def install_all(rec, apps=STACK):
    for a in apps:
        rec.install(a, timeout=5)


def unit_path(rec, stem):
    return rec.paths.unit_file(stem)


def cfg(rec, app, name):
    return os.path.join(rec.paths.config_dir(app), name)


def plan_now(rec):
    node = des.build(rec.catalog(), rec.desired, rec.store.load_secrets(), rec.paths, rec.variant)
    return node, cur.snapshot(rec.runner, node)


# 1. fixpoint
def test_fixpoint_after_convergence(env):
    rec, fake = env
    install_all(rec)
    converge(rec, fake)
    fake.reset_calls()
    for _ in range(3):
        assert rec.tick().converged
    reads = (("systemctl", "show"), ("systemctl", "is-system-running"), ("systemctl", "list-units"),
             ("podman", "ps"), ("podman", "image"), ("podman", "network"))
    mutating = [c for c in fake.calls if c[:2] not in reads]
    assert mutating == []


# 2. purity
def test_diff_is_pure_and_does_no_io(env, monkeypatch):
    rec, fake = env
    install_all(rec, ("bitcoin-knots", "lnd"))
    fake.crash("archy-lnd.service")
    node, current = plan_now(rec)
    first = diff.plan(node, current, rec.backoff, 1000.0)

    def no_io(*a, **k):
        raise AssertionError("the diff did I/O")
    monkeypatch.setattr(builtins, "open", no_io)
    monkeypatch.setattr(subprocess, "run", no_io)
    monkeypatch.setattr(os, "stat", no_io)
    monkeypatch.setattr(socket, "socket", no_io)
    second = diff.plan(node, current, rec.backoff, 1000.0)
    assert first == second and first


# 3. bounded convergence: dependency depth + 3 ticks from an empty node, starts taking a tick each
def test_bounded_convergence_from_empty(env):
    rec, fake = env
    for a in ("bitcoin-knots", "lnd", "btcpay"):
        rec.desired = rec.desired.with_app(a, "started")
    fake.slow = {"archy-bitcoin-knots.service", "archy-lnd.service", "archy-btcpay.service",
                 "archy-bitcoin-ui.service", "archy-lnd-ui.service"}
    depth = 3  # bitcoin -> lnd -> btcpay
    busy = converge(rec, fake, max_ticks=depth + 3 + 1)
    assert busy <= depth + 3


# 4. a deleted unit file is recreated in one tick
def test_deleted_unit_recreated_in_one_tick_without_restart(env):
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    converge(rec, fake)
    path = unit_path(rec, "archy-bitcoin-knots")
    before = open(path, "rb").read()
    os.unlink(path)
    fake.reset_calls()
    rec.tick()
    assert open(path, "rb").read() == before
    assert fake.count("systemctl", "daemon-reload") == 1
    assert fake.count("systemctl", "restart") == 0
    assert fake.units["archy-bitcoin-knots.service"].active == "active"
    assert rec.tick().converged


def test_deleted_unit_of_a_stopped_app_is_rewritten_and_started(env):
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    os.unlink(unit_path(rec, "archy-bitcoin-knots"))
    fake.run(["systemctl", "daemon-reload"])               # someone reloaded: the unit is gone
    fake.run(["systemctl", "stop", "archy-bitcoin-knots.service"])
    fake.reset_calls()
    report = rec.tick()
    assert [s for s in report.steps if s.startswith(("write", "daemon-reload", "start archy-bitcoin-knots"))] == [
        f"write {unit_path(rec, 'archy-bitcoin-knots')}", "daemon-reload", "start archy-bitcoin-knots.service"]
    assert fake.units["archy-bitcoin-knots.service"].active == "active"


def test_no_action_while_the_node_shuts_down(env):
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    converge(rec, fake)
    fake.system_state = "stopping"                         # systemd is stopping everything
    fake.run(["systemctl", "stop", "archy-bitcoin-knots.service"])
    fake.reset_calls()
    report = rec.tick()
    assert report.steps == [] and fake.count("systemctl", "start") == 0
    assert fake.units["archy-bitcoin-knots.service"].active != "active"
    fake.system_state = "running"                          # after the boot: converges again
    assert any(s == "start archy-bitcoin-knots.service" for s in rec.tick().steps)


# 5. a changed unit gets exactly one restart; one daemon-reload per tick
def test_changed_unit_restarted_once(env):
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    path = unit_path(rec, "archy-bitcoin-knots")
    with open(path, "a") as f:
        f.write("# local edit\n")
    fake.reset_calls()
    converge(rec, fake)
    assert fake.count("systemctl", "restart", "--no-block", "archy-bitcoin-knots.service") == 1
    assert fake.count("systemctl", "daemon-reload") == 1


def test_restart_policy_change_reloads_but_restarts_nothing(env):
    """A variant switch to Restart=no (chaos-no-retry-after-failure) rewrites every unit; systemd
    applies Restart= at daemon-reload, so no running app is restarted for it."""
    rec, fake = env
    install_all(rec, ("bitcoin-knots", "lnd"))
    converge(rec, fake)
    before = open(unit_path(rec, "archy-lnd")).read()
    rec.variant = parse_variant("chaos-no-retry-after-failure")
    fake.reset_calls()
    converge(rec, fake)
    assert "Restart=no" in open(unit_path(rec, "archy-lnd")).read() != before
    assert fake.count("systemctl", "daemon-reload") == 1
    assert [c for c in fake.calls if c[:2] == ("systemctl", "restart")] == []


@pytest.mark.parametrize("old, new, differs", [
    (None, b"[Service]\nRestart=no\n", False),
    (b"[Service]\nRestart=on-failure\nRestartSec=5\n", b"[Service]\nRestart=no\nRestartSec=9\n", False),
    (b"[Install]\nWantedBy=multi-user.target\n", b"[Install]\n", False),
    (b"[Container]\nImage=a\nRestart=no\n", b"[Container]\nImage=b\nRestart=no\n", True),
    (b"[Service]\nTimeoutStopSec=600\n", b"[Service]\nTimeoutStopSec=10\n", True),
])
def test_only_a_change_to_what_runs_is_unit_drift(old, new, differs):
    assert diff.runs_differently(old, new) is differs


def test_one_daemon_reload_per_tick_for_many_writes(env):
    rec, fake = env
    for a in STACK:
        rec.desired = rec.desired.with_app(a, "started")
    fake.reset_calls()
    report = rec.tick()
    assert sum(s.startswith("write /") and s.endswith(".container") for s in report.steps) >= 6
    assert fake.count("systemctl", "daemon-reload") == 1
    last_write = max(i for i, s in enumerate(report.steps) if s.startswith("write"))
    assert report.steps.index("daemon-reload") > last_write


# 6. user-stopped apps are never started, even after a crash or a reboot
def test_user_stopped_never_started(env):
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    rec.set_run("bitcoin-knots", False)
    converge(rec, fake)
    assert fake.units["archy-bitcoin-knots.service"].active == "inactive"
    assert "WantedBy" not in open(unit_path(rec, "archy-bitcoin-knots")).read()
    fake.crash("archy-bitcoin-knots.service")
    fake.units.clear()                                       # reboot: everything inactive
    fake.containers.clear()
    fake.reset_calls()
    for _ in range(3):
        rec.tick()
    assert fake.count("systemctl", "start", "--no-block", "archy-bitcoin-knots.service") == 0
    assert fake.count("systemctl", "start", "--no-block", "archy-bitcoin-ui.service") == 0
    rec.set_run("bitcoin-knots", True)
    converge(rec, fake)
    assert fake.units["archy-bitcoin-knots.service"].active == "active"


# 7. derived-file drift rewritten byte for byte, consumer restarted once
def test_corrupt_bitcoin_conf_rewritten_and_bitcoind_restarted_once(env):
    rec, fake = env
    install_all(rec, ("bitcoin-knots", "lnd"))
    path = cfg(rec, "bitcoin-knots", "bitcoin.conf")
    good = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(b"rpcauth=garbage\n")
    fake.reset_calls()
    converge(rec, fake)
    assert open(path, "rb").read() == good
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert fake.count("systemctl", "restart", "--no-block", "archy-bitcoin-knots.service") == 1
    assert fake.count("systemctl", "restart", "--no-block", "archy-lnd.service") == 0


def test_a_config_drift_met_during_a_start_waits_for_the_start_to_end(env):
    """Restarted mid-start, the unit would fail (its container killed before it ran): the drift
    stays on disk until the start ends, then it is rewritten and the app restarted once."""
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    path = cfg(rec, "bitcoin-knots", "bitcoin.conf")
    good = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(b"rpcauth=garbage\n")
    unit = fake.units["archy-bitcoin-knots.service"]
    unit.active, unit.sub = "activating", "start"
    fake.reset_calls()
    report = rec.tick()
    assert open(path, "rb").read() == b"rpcauth=garbage\n" and not report.converged
    assert "wait bitcoin-knots: config changed; rewritten once its start ends" in report.steps
    assert fake.count("systemctl", "restart", "--no-block", "archy-bitcoin-knots.service") == 0
    unit.active, unit.sub = "active", "running"
    converge(rec, fake)
    assert open(path, "rb").read() == good
    assert fake.count("systemctl", "restart", "--no-block", "archy-bitcoin-knots.service") == 1


def test_rpcauth_not_rederived_in_fm2_variant(tmp_path):
    rec, fake = make(tmp_path, variant="fm2-rpcauth-not-rederived")
    install_all(rec, ("bitcoin-knots",))
    path = cfg(rec, "bitcoin-knots", "bitcoin.conf")
    with open(path, "wb") as f:
        f.write(b"rpcauth=garbage\n")
    converge(rec, fake)
    assert open(path, "rb").read() == b"rpcauth=garbage\n"


@pytest.mark.parametrize("app,name", [("lnd", "lnd.conf"), ("lnd", "integrations.json"),
                                      ("electrumx", "electrumx.env"), ("mempool", "integrations.json")])
def test_every_derived_config_is_rewritten_and_its_app_restarted_once(env, app, name):
    """The config_drift cell's promise for each derived file (seed 004 FM2: "the same pattern")."""
    rec, fake = env
    install_all(rec, ("bitcoin-knots", "electrumx", "mempool") if app == "mempool" else ("bitcoin-knots", app))
    path = cfg(rec, app, name)
    good = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(good[: len(good) // 2] + b"\n# edited\n")
    fake.reset_calls()
    converge(rec, fake)
    assert open(path, "rb").read() == good
    assert fake.count("systemctl", "restart", "--no-block", f"archy-{app}.service") == 1
    assert fake.count("systemctl", "restart", "--no-block", "archy-bitcoin-knots.service") == 0


def test_derived_configs_not_rederived_in_their_variant(tmp_path):
    rec, fake = make(tmp_path, variant="derived-configs-not-rederived")
    install_all(rec, ("bitcoin-knots", "lnd"))
    lnd_conf, bitcoin_conf = cfg(rec, "lnd", "lnd.conf"), cfg(rec, "bitcoin-knots", "bitcoin.conf")
    for path in (lnd_conf, bitcoin_conf):
        with open(path, "wb") as f:
            f.write(b"garbage\n")
    converge(rec, fake)
    assert open(lnd_conf, "rb").read() == b"garbage\n"
    assert open(bitcoin_conf, "rb").read() != b"garbage\n"     # only bitcoin.conf's own variant skips that one


def test_deleted_nginx_snippet_rewritten_and_nginx_reloaded(env):
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    path = rec.paths.nginx_file("bitcoin-knots")
    os.unlink(path)
    fake.reset_calls()
    rec.tick()
    assert os.path.exists(path)
    assert fake.count("systemctl", "reload-or-restart", "--no-block", "nginx.service") == 1


# 8. dependency order; reverse order on stop and uninstall; refuse uninstalling a dependency
def test_install_requires_the_dependency_first(env):
    rec, fake = env
    with pytest.raises(OpError) as e:
        rec.install("lnd", timeout=5)
    assert e.value.code == DEPENDENCY and "bitcoin" in e.value.message
    assert dict(rec.desired.apps) == {}
    assert not os.path.exists(rec.paths.desired)


def test_dependent_waits_for_healthy_dependency(env):
    rec, fake = env
    rec.desired = rec.desired.with_app("bitcoin-knots", "started").with_app("lnd", "started")
    fake.slow = {"archy-bitcoin-knots.service"}
    rec.tick()
    assert fake.count("systemctl", "start", "--no-block", "archy-lnd.service") == 0
    rec.tick()                                                # bitcoin still activating
    assert fake.count("systemctl", "start", "--no-block", "archy-lnd.service") == 0
    fake.advance()
    rec.tick()
    assert fake.count("systemctl", "start", "--no-block", "archy-lnd.service") == 1
    order = [c[-1] for c in fake.calls if c[:3] == ("systemctl", "start", "--no-block")]
    assert order.index("archy-bitcoin-knots.service") < order.index("archy-lnd.service")


def test_uninstall_stops_companion_before_parent(env):
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    fake.reset_calls()
    res = rec.uninstall("bitcoin-knots")
    stops = [c[-1] for c in fake.calls if c[:2] == ("systemctl", "stop")]
    # the shared network goes last, once nothing is installed
    assert stops == ["archy-bitcoin-ui.service", "archy-bitcoin-knots.service", "archy-network.service"]
    assert "/etc/containers/systemd/archy-bitcoin-knots.container" in res["removed"]
    assert not os.path.exists(unit_path(rec, "archy-bitcoin-knots"))
    assert not os.path.exists(rec.paths.network_file)
    assert not fake.network and fake.units["archy-network.service"].active == "inactive"
    assert os.path.isdir(rec.paths.data_dir("bitcoin-knots"))   # data kept without purge
    assert rec.tick().converged


def test_uninstall_purge_removes_data(env):
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    rec.uninstall("bitcoin-knots", purge=True)
    assert not os.path.exists(rec.paths.data_dir("bitcoin-knots"))


def test_uninstall_refused_while_a_dependent_is_installed(env):
    rec, fake = env
    install_all(rec, ("bitcoin-knots", "lnd"))
    before = open(rec.paths.desired, "rb").read()
    with pytest.raises(OpError) as e:
        rec.uninstall("bitcoin-knots")
    assert e.value.code == DEPENDENCY and "lnd" in e.value.message
    assert open(rec.paths.desired, "rb").read() == before
    assert fake.units["archy-bitcoin-knots.service"].active == "active"


def test_stop_stops_dependents_of_the_same_app_first(env):
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    fake.reset_calls()
    rec.set_run("bitcoin-knots", False)
    converge(rec, fake)
    stops = [c[-1] for c in fake.calls if c[:2] == ("systemctl", "stop")]
    assert stops == ["archy-bitcoin-ui.service", "archy-bitcoin-knots.service"]


def test_uninstall_leaves_unit_variant(tmp_path):
    rec, fake = make(tmp_path, variant="uninstall-leaves-unit")
    install_all(rec, ("bitcoin-knots",))
    # as on the nodes in the seeds: uninstall answers success, the Quadlet file stays behind
    assert rec.uninstall("bitcoin-knots", timeout=5)["id"] == "bitcoin-knots"
    assert os.path.exists(unit_path(rec, "archy-bitcoin-knots"))


# 10. backoff: 10 -> 20 -> ... -> 300 s, reset after 600 s quiet, persisted, new spec starts fresh
def test_backoff_sequence_and_cap():
    e, delays = None, []
    t = 0.0
    for _ in range(8):
        assert not bo.in_backoff(e, "h", t)
        e = bo.record(e, "h", t)
        delays.append(e.delay)
        assert bo.in_backoff(e, "h", t + e.delay - 0.1)
        t += e.delay
    assert delays == [10, 20, 40, 80, 160, 300, 300, 300]
    assert bo.record(e, "h", t + 601).delay == 10            # reset after 600 s without a failure
    assert bo.record(e, "other", t).delay == 10              # a new spec starts fresh
    assert not bo.in_backoff(e, "other", t)


def test_the_backoff_runs_from_the_failure_not_from_the_start():
    # a cycle of systemd's own restarts outlasting the delay must not use it up (VM, d6e2332:
    # 130 s cycles, the app started again 5-13 s after each failure, never held)
    e = bo.record(bo.record(None, "h", 0.0), "h", 100.0)         # delay 20, started at 100
    failed_at = 230.0                                           # 5 failing starts later
    assert not bo.in_backoff(e, "h", 231.0)                     # counted from the start: over
    assert bo.in_backoff(e, "h", 231.0, failed_at)
    assert bo.remaining(e, "h", 231.0, failed_at) == pytest.approx(19.0)
    assert not bo.in_backoff(e, "h", failed_at + 20.0, failed_at)


def test_a_units_state_change_is_dated_on_the_wall_clock():
    text = ("Id=lnd.service\nActiveState=failed\nStateChangeTimestampMonotonic=250000000\n\n"
            "Id=tor.service\nActiveState=active\nStateChangeTimestampMonotonic=0\n")
    units = cur.parse_show(text, clock_offset=1_000_000.0)
    assert units["lnd.service"].changed == pytest.approx(1_000_250.0)
    assert units["tor.service"].changed == 0.0                  # never changed: not known


def test_a_crash_loop_is_a_doubled_backoff_of_the_same_spec():
    first = bo.record(None, "h", 100.0)
    assert not bo.doubled(first, "h")                       # one lost start race is no loop
    second = bo.record(first, "h", 120.0)
    assert bo.doubled(second, "h") and bo.doubled(second, "h", since=110.0)
    assert not bo.doubled(second, "h", since=130.0)          # not during this install
    assert not bo.doubled(second, "other") and not bo.doubled(None, "h")


def test_systemd_giving_up_on_a_unit_is_a_crash_loop_at_once():
    from reconciler.model import UnitState
    hit = UnitState("lnd.service", active="failed", result="start-limit-hit", changed=200.0)
    assert bo.gave_up(hit) and bo.gave_up(hit, since=150.0)
    assert not bo.gave_up(hit, since=250.0)                  # a failure before this install
    refused = UnitState("lnd.service", active="failed", result="exit-code", restarts=5, changed=200.0)
    assert bo.gave_up(refused)                               # systemd 257: the restart refused, NRestarts 5
    assert not bo.gave_up(UnitState("lnd.service", active="failed", result="exit-code", restarts=2, changed=200.0))
    assert not bo.gave_up(UnitState("lnd.service", active="activating", result="start-limit-hit"))
    assert bo.crash_looping(None, "h", hit)                  # no backoff needed: five failures already
    assert not bo.crash_looping(bo.record(bo.record(None, "h", 1.0), "h", 2.0), "h",
                                UnitState("lnd.service", active="active"))   # running again: no loop


@pytest.mark.parametrize("variant, after_restart", [
    (None, [150]),                                    # a new daemon reads backoff.json: next start at 150
    ("chaos-backoff-forgotten-on-restart", [75, 85, 105, 145]),   # from zero again: 10, 20, 40 s
])
def test_crash_loop_backs_off_and_survives_a_daemon_restart(tmp_path, clock, variant, after_restart):
    rec, fake = make(tmp_path, variant=variant, clock=clock)
    install_all(rec, ("bitcoin-knots",))
    fake.crashing.add("archy-bitcoin-knots.service")
    fake.crash("archy-bitcoin-knots.service")
    starts = []

    def tick_at(t):
        clock.t = t
        fake.reset_calls()
        rec.tick()
        if fake.count("systemctl", "start", "--no-block", "archy-bitcoin-knots.service"):
            starts.append(t - t0)
    t0 = clock.t
    for dt in range(0, 75, 5):
        tick_at(t0 + dt)
    assert starts == [0, 10, 30, 70]
    rec = Reconciler(rec.paths, fake, rec.settings, clock=clock)
    for dt in range(75, 155, 5):
        tick_at(t0 + dt)
    assert starts == [0, 10, 30, 70, *after_restart]
    if variant is None:
        assert bo.load(rec.paths.backoff)["bitcoin-knots"].delay == 160


def test_failed_variant_never_retries(tmp_path):
    rec, fake = make(tmp_path, variant="chaos-no-retry-after-failure")
    install_all(rec, ("bitcoin-knots",))
    fake.crash("archy-bitcoin-knots.service")
    fake.reset_calls()
    for _ in range(3):
        rec.tick()
    assert fake.count("systemctl", "start", "--no-block", "archy-bitcoin-knots.service") == 0


def podman_stop(fake, unit):
    """`podman stop` behind the reconciler's back: the app exits cleanly, the unit (no Restart=) is inactive."""
    fake.units[unit] = FakeUnit("inactive", "dead", "success", fake.units[unit].restarts)
    fake.containers.pop(unit.removesuffix(".service"), None)


@pytest.mark.parametrize("unit", ["archy-bitcoin-knots.service", "archy-bitcoin-ui.service"])
def test_app_stopped_behind_the_back_is_started_again(env, unit):
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    podman_stop(fake, unit)
    fake.reset_calls()
    converge(rec, fake)
    assert fake.count("systemctl", "start", "--no-block", unit) == 1
    assert fake.units[unit].active == "active"


def test_stopped_app_variant_leaves_it_down_but_installs_starts_and_retries(tmp_path):
    rec, fake = make(tmp_path, variant="chaos-stopped-app-not-restarted")
    install_all(rec, ("bitcoin-knots",))                       # asked for: started, companion too
    assert fake.units["archy-bitcoin-ui.service"].active == "active"
    fake.crash("archy-bitcoin-knots.service")                  # a crash is still retried
    fake.reset_calls()
    converge(rec, fake)
    assert fake.count("systemctl", "start", "--no-block", "archy-bitcoin-knots.service") == 1
    podman_stop(fake, "archy-bitcoin-knots.service")
    fake.reset_calls()
    for _ in range(3):
        rec.tick()
    assert fake.count("systemctl", "start", "--no-block", "archy-bitcoin-knots.service") == 0
    rec.set_run("bitcoin-knots", True)                         # a start asks for it
    assert fake.count("systemctl", "start", "--no-block", "archy-bitcoin-knots.service") == 1
    assert rec.requested == frozenset()


# seeds scenario 6: a full /var degrades gracefully and is reported
def test_full_disk_reported_starts_held_then_resumed(env, caplog):
    from reconciler.server import health_body
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    fake.crash("archy-bitcoin-knots.service")                  # bitcoind exits: "Disk space is too low!"
    fake.disk_free["/var/lib/archipelago"] = 16 << 20
    fake.reset_calls()
    with caplog.at_level(logging.INFO, logger="archipelago"):
        for _ in range(3):
            report = rec.tick()
    assert fake.count("systemctl", "start", "--no-block", "archy-bitcoin-knots.service") == 0   # no churn
    assert report.disk_pressure == {"/var/lib/archipelago": 16}
    assert any("disk pressure (/var/lib/archipelago 16 MiB free)" in s for s in report.steps), report.steps
    status, body = health_body(rec)
    assert status == 200 and body["disk_pressure"] == {"/var/lib/archipelago": 16}
    warned = [r.getMessage() for r in caplog.records if "disk pressure" in r.getMessage()]
    assert warned == ["disk pressure: /var/lib/archipelago has 16 MiB free; app starts wait until space is freed"]
    del fake.disk_free["/var/lib/archipelago"]                 # the ballast is gone
    rec.tick()
    assert fake.count("systemctl", "start", "--no-block", "archy-bitcoin-knots.service") == 1
    assert "disk_pressure" not in health_body(rec)[1]
    converge(rec, fake)


def test_no_disk_pressure_variant_neither_reports_nor_waits(tmp_path):
    from reconciler.server import health_body
    rec, fake = make(tmp_path, variant="chaos-no-disk-pressure")
    install_all(rec, ("bitcoin-knots",))
    fake.crash("archy-bitcoin-knots.service")
    fake.disk_free["/var/lib/archipelago"] = 16 << 20
    fake.reset_calls()
    report = rec.tick()
    assert report.disk_pressure == {} and "disk_pressure" not in health_body(rec)[1]
    assert fake.count("systemctl", "start", "--no-block", "archy-bitcoin-knots.service") == 1


# 11. a storage-only container gets exactly one removal, then a start
def test_stale_storage_container_removed_once_then_started(env):
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    fake.units["archy-bitcoin-knots.service"].active = "failed"
    fake.containers["archy-bitcoin-knots"] = FakeContainer("storage", "", None, external=True)
    fake.reset_calls()
    converge(rec, fake)
    assert fake.count("podman", "rm", "-f", "--storage", "archy-bitcoin-knots") == 1
    assert fake.units["archy-bitcoin-knots.service"].active == "active"
    rm = fake.calls.index(("podman", "rm", "-f", "--storage", "archy-bitcoin-knots"))
    start = fake.calls.index(("systemctl", "start", "--no-block", "archy-bitcoin-knots.service"))
    assert rm < start


def test_container_being_created_is_not_removed(env):
    """A container appears in storage before podman's DB knows it; never remove it while the unit starts."""
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    fake.units["archy-bitcoin-knots.service"].active = "activating"
    fake.containers["archy-bitcoin-knots"] = FakeContainer("storage", "", None, external=True)
    fake.reset_calls()
    rec.tick()
    assert fake.count("podman", "rm") == 0


def test_a_unit_that_starts_while_the_tick_looks_keeps_its_container(env, monkeypatch):
    """The unit starts between the tick's two reads (seen on a loaded TCG guest: the daemon read the
    unit inactive, then found its new container in storage and removed it mid-start). Containers are
    read before units, so a container seen with its unit down was there before the unit started."""
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    unit = fake.units["archy-bitcoin-knots.service"]
    unit.active = "inactive"
    fake.containers.pop("archy-bitcoin-knots", None)
    run, started = fake.run, []

    def starts_after_the_first_read(argv, timeout=30.0):
        result = run(argv, timeout)
        reads = ("show" in argv and "systemctl" in argv[0]) or tuple(argv[:2]) == ("podman", "ps")
        if reads and not started:
            started.append(argv)
            unit.active = "activating"
            fake.containers["archy-bitcoin-knots"] = FakeContainer("storage", "", None, external=True)
        return result

    monkeypatch.setattr(fake, "run", starts_after_the_first_read)
    fake.reset_calls()
    rec.tick()
    assert started and fake.count("podman", "rm") == 0, started



def _db_wiped(rec, fake, ipam_db, leftovers: bool = True):
    """podman's state DB lost while the stack ran, then its units stopped: the containers are
    storage-only (or gone), bitcoin-knots' fixed IP is still allocated in netavark's IPAM DB and
    its healthcheck timer is orphaned and failing."""
    cid = "dd" * 32
    install_all(rec, ("bitcoin-knots",))
    for name in list(fake.containers):
        fake.units[f"{name}.service"].active = "failed"
        if leftovers:
            fake.containers[name] = FakeContainer("storage", "", None, external=True)
        else:
            del fake.containers[name]
    fake.units[f"{cid}-24e23f8e.service"] = FakeUnit("failed", "failed", "exit-code")
    fake.ipam_stale.add("archy-bitcoin-knots")
    os.makedirs(os.path.dirname(ipam_db), exist_ok=True)
    open(ipam_db, "wb").close()
    fake.reset_calls()
    return cid


@pytest.mark.parametrize("leftovers", [True, False], ids=["storage-leftovers", "no-leftovers"])
def test_db_wipe_frees_stale_ips_and_orphaned_healthchecks(env, leftovers):
    rec, fake = env
    ipam_db = fake.ipam_db()
    cid = _db_wiped(rec, fake, ipam_db, leftovers)
    converge(rec, fake)
    assert not os.path.exists(ipam_db)
    assert fake.units["archy-bitcoin-knots.service"].active == "active"
    assert fake.units[f"{cid}-24e23f8e.service"].active == "inactive"   # `systemctl --failed` empty
    assert fake.count("systemctl", "stop", f"{cid}-*.timer") == 1


def test_ipam_kept_while_podman_runs_any_container(env):
    """A fresh IPAM DB would hand a running container's address out twice."""
    rec, fake = env
    ipam_db = fake.ipam_db()
    _db_wiped(rec, fake, ipam_db)
    fake.containers["someone-elses"] = FakeContainer("running", "", None)
    for _ in range(3):
        rec.tick()
    assert os.path.exists(ipam_db)
    assert fake.units["archy-bitcoin-knots.service"].active == "failed"


def test_healthcheck_of_a_known_container_is_left_alone(env):
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    cid = "ee" * 32
    fake.containers["archy-bitcoin-knots"] = FakeContainer("running", "healthy", "bitcoin-knots", id=cid)
    fake.units[f"{cid}-1234abcd.service"] = FakeUnit("failed", "failed", "exit-code")
    fake.reset_calls()
    rec.tick()
    assert fake.count("systemctl", "stop", f"{cid}-*.timer") == 0


def test_no_selfheal_variant_stays_down_after_db_wipe(tmp_path):
    rec, fake = make(tmp_path, variant="chaos-no-podman-selfheal")
    ipam_db = fake.ipam_db()
    _db_wiped(rec, fake, ipam_db)
    for _ in range(3):
        rec.tick()
    assert os.path.exists(ipam_db)
    assert fake.units["archy-bitcoin-knots.service"].active == "failed"


def test_podman_db_loss_heals(env):
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    fake.podman_broken = "Error: database disk image is malformed"
    fake.reset_calls()
    rec.tick()
    assert fake.count("podman", "system", "migrate") == 1
    assert rec.tick().converged


def test_slow_podman_never_triggers_migrate(env):
    """`podman system migrate` stops containers: a timeout is not a corrupt DB."""
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    fake.podman_broken = "timed out after 30 s"
    fake.reset_calls()
    report = rec.tick()
    assert fake.count("podman", "system", "migrate") == 0
    assert not report.converged and any("podman unavailable" in s for s in report.steps)


# 12. foreign units and containers are never touched
def test_foreign_units_and_containers_untouched(env):
    rec, fake = env
    fake.containers["nextcloud"] = FakeContainer("exited", "", None)
    fake.containers["archy-custom"] = FakeContainer("exited", "", None)   # our prefix, not our app
    install_all(rec, ("bitcoin-knots",))
    converge(rec, fake)
    rec.uninstall("bitcoin-knots")
    touched = " ".join(" ".join(c) for c in fake.calls if c[:2] != ("systemctl", "show"))
    assert "nextcloud" not in touched and "archy-custom" not in touched
    assert {"nextcloud", "archy-custom"} <= set(fake.containers)


# 13. secrets never in logs, RPC replies or unit files; secret files 0600
def test_secrets_never_leak(env, caplog):
    rec, fake = env
    caplog.set_level(logging.DEBUG)
    replies = []
    replies.append(rec.install("bitcoin-knots", timeout=5))
    replies.append(rec.install("lnd", timeout=5))
    replies.append(rec.container_list())
    replies.append(rec.tick().as_dict())
    secrets = rec.store.load_secrets()
    for s in (secrets.bitcoin_rpc.password, secrets.lnd_macaroon):
        assert s not in caplog.text
        assert s not in repr(replies)
        assert s not in repr(secrets)
        assert all(s not in " ".join(c) for c in fake.calls)
        for d in (rec.paths.quadlet_dir, rec.paths.nginx_dir, rec.paths.tor_dir):
            for name in os.listdir(d):
                assert s not in open(os.path.join(d, name)).read()
    sdir = rec.paths.secrets_dir
    assert os.stat(sdir).st_mode & 0o777 == 0o700
    for name in os.listdir(sdir):
        assert os.stat(os.path.join(sdir, name)).st_mode & 0o777 == 0o600


# 14. one app's failing step does not block the others
def test_one_failing_app_does_not_block_others(env):
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    for a in ("electrumx", "fedimint"):
        rec.desired = rec.desired.with_app(a, "started")
    fake.broken = {"systemctl start --no-block archy-electrumx.service"}
    report = rec.tick()
    assert "electrumx" in report.failed
    assert fake.units["archy-fedimint.service"].active == "active"
    fake.broken = set()
    converge(rec, fake)
    assert fake.units["archy-electrumx.service"].active == "active"


# 15. a crash in the middle of a write never leaves a partial file
def test_atomic_write_keeps_old_content_on_crash(tmp_path, monkeypatch):
    path = str(tmp_path / "f.conf")
    atomic_write(path, b"old\n")

    def boom(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        atomic_write(path, b"new content that never lands\n")
    assert open(path, "rb").read() == b"old\n"
    assert os.listdir(tmp_path) == ["f.conf"]


# 16. /health turns unhealthy after 2 x interval
def test_health_goes_stale_after_two_intervals(env):
    rec, fake = env
    assert not rec.healthy()
    rec.tick()
    assert rec.healthy()
    rec.last_good_mono -= 2 * rec.settings.tick_interval + 0.1
    assert not rec.healthy()


def test_a_longer_pause_after_a_slow_converged_tick_widens_the_window(env):
    rec, fake = env
    rec.tick()
    rec.pause = 20.0                                  # the loop waits 4x a 5 s tick (__main__.pause_after)
    rec.last_good_mono -= 2 * rec.settings.tick_interval + 0.1
    assert rec.healthy()                              # waiting as planned is not a stall
    rec.last_good_mono -= 2 * rec.pause
    assert not rec.healthy()


def test_health_counts_a_slow_tick_in_flight_but_not_a_stalled_one(env):
    import time
    from reconciler.daemon import TICK_STALL
    rec, fake = env
    rec.tick()
    limit = 2 * rec.settings.tick_interval
    now = time.monotonic()
    rec.last_good_mono = now - limit - 3              # stale by the age rule alone ...
    rec.tick_started_mono = now - limit + 1         # ... but a tick began in time and is running
    assert rec.healthy()
    rec.tick_started_mono = rec.last_good_mono + limit + 0.5   # began after the window: a stall
    assert not rec.healthy()
    rec.last_good_mono = now - TICK_STALL - 10
    rec.tick_started_mono = now - TICK_STALL - 5    # began in time but hangs past TICK_STALL
    assert not rec.healthy()
    rec.tick_started_mono = None
    assert not rec.healthy()


def test_health_always_ok_variant(tmp_path):
    rec, _ = make(tmp_path, variant="chaos-health-always-ok")
    assert rec.healthy()


# tor supervision and network recreation
def test_tor_started_when_inactive(env):
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    fake.units["tor@default.service"].active = "inactive"
    fake.reset_calls()
    rec.tick()
    assert fake.count("systemctl", "start", "--no-block", "tor@default.service") == 1


def test_vanished_network_recreated_and_apps_restarted(env):
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    fake.network = False
    fake.reset_calls()
    steps = rec.tick().steps
    assert "recreate network archy" in steps
    assert fake.count("systemctl", "restart", "archy-network.service") == 1
    assert fake.count("systemctl", "restart", "--no-block", "archy-bitcoin-knots.service") == 1


def test_a_network_check_that_times_out_recreates_nothing(env):
    """`podman network exists` says 1 for a missing network; a timeout on a loaded node says
    nothing, and taking it for "missing" restarted every app (seen on the VM under load)."""
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    fake.timing_out.add("podman network exists")
    fake.reset_calls()
    steps = rec.tick().steps
    assert not any("recreate network" in s for s in steps), steps
    assert fake.count("systemctl", "restart") == 0


def test_image_missing_blocks_restart(env):
    """Download-then-kill: never restart onto an image that is not there."""
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    fake.images.clear()
    with open(unit_path(rec, "archy-bitcoin-knots"), "a") as f:
        f.write("# drift\n")
    fake.reset_calls()
    report = rec.tick()
    assert fake.count("systemctl", "restart") == 0
    assert any("missing" in s for s in report.steps)


# broken variants used by `make prove`: each switches off exactly its repair
def test_fm1_companions_created_once_and_never_recreated(tmp_path):
    rec, fake = make(tmp_path, variant="fm1-companions-not-recreated")
    install_all(rec, ("bitcoin-knots",))
    assert not os.path.exists(unit_path(rec, "archy-bitcoin-ui"))
    assert fake.count("podman", "run") == 1 and "archy-bitcoin-ui" in fake.containers
    del fake.containers["archy-bitcoin-ui"]                 # vanished after a daemon restart
    converge(rec, fake)
    assert "archy-bitcoin-ui" not in fake.containers


def test_reference_recreates_a_vanished_companion(env):
    rec, fake = env
    install_all(rec, ("bitcoin-knots",))
    fake.crash("archy-bitcoin-ui.service")
    converge(rec, fake)
    assert fake.containers["archy-bitcoin-ui"].state == "running"


def test_fm3_apps_are_children_of_the_daemon(tmp_path):
    rec, fake = make(tmp_path, variant="fm3-apps-in-daemon-cgroup")
    install_all(rec, ("bitcoin-knots",))
    assert not any(n.endswith(".container") for n in os.listdir(rec.paths.quadlet_dir))
    runs = [c for c in fake.calls if c[:2] == ("podman", "run")]
    assert {c[c.index("--name") + 1] for c in runs} == {"archy-bitcoin-knots", "archy-bitcoin-ui"}
    assert all("--cgroups=disabled" in c and "-d" not in c for c in runs)


# 12. a fresh install that fails is rolled back (seed 000: a release that never starts must not stay)
class Ticking:
    """A wall clock that moves 5 s each time it is read: backoff delays pass while an install waits."""
    def __init__(self, t: float = 1_800_000_000.0):
        self.t = t

    def __call__(self) -> float:
        self.t += 5
        return self.t


def test_a_failed_fresh_install_gives_up_on_a_crash_loop_and_rolls_back(tmp_path):
    rec, fake = make(tmp_path, clock=Ticking())
    install_all(rec, ("bitcoin-knots",))
    fake.crashing.add("archy-lnd.service")
    knots = fake.units["archy-bitcoin-knots.service"]
    with pytest.raises(OpError) as e:
        rec.install("lnd", timeout=60)        # gives up on the crash loop long before the deadline
    assert "crash loop" in e.value.message and "rolled back" in e.value.message
    assert e.value.data["rolled_back"] is True
    assert dict(rec.desired.apps) == {"bitcoin-knots": "started"}
    assert not os.path.exists(unit_path(rec, "archy-lnd"))
    assert not os.path.exists(rec.paths.data_dir("lnd"))
    assert "lnd" not in bo.load(rec.paths.backoff)
    assert fake.units["archy-bitcoin-knots.service"] == knots          # the other app untouched
    fake.crashing.clear()
    rec.install("lnd", timeout=60)                                     # the good release installs cleanly


def test_a_failed_reinstall_keeps_the_installed_app(tmp_path):
    rec, fake = make(tmp_path, clock=Ticking())
    install_all(rec, ("bitcoin-knots",))
    fake.crashing.add("archy-bitcoin-knots.service")
    fake.crash("archy-bitcoin-knots.service")
    with pytest.raises(OpError) as e:
        rec.install("bitcoin-knots", timeout=60)
    assert "rolled back" not in e.value.message
    assert dict(rec.desired.apps) == {"bitcoin-knots": "started"}


def starts_of(fake, unit: str) -> int:
    return sum(1 for c in fake.calls if c[:2] in (("systemctl", "start"), ("systemctl", "restart")) and c[-1] == unit)


def test_an_install_gives_up_when_systemd_gave_up_after_one_cycle(tmp_path):
    rec, fake = make(tmp_path, clock=Ticking())
    install_all(rec, ("bitcoin-knots",))
    fake.crashing.add("archy-lnd.service")
    fake.gives_up = True          # each start the reconciler issues ends in start-limit-hit
    with pytest.raises(OpError) as e:
        rec.install("lnd", timeout=600)
    assert "crash loop" in e.value.message and "rolled back" in e.value.message
    # the tick that sees the failure still starts it once more (a failed unit with no backoff yet);
    # the install gives up right then, where the doubled backoff waits for a third cycle
    assert starts_of(fake, "archy-lnd.service") == 2


def test_failed_install_left_behind_in_its_variant(tmp_path):
    rec, fake = make(tmp_path, variant="failed-install-left-behind", clock=Ticking())
    fake.crashing.add("archy-bitcoin-knots.service")
    with pytest.raises(OpError) as e:
        rec.install("bitcoin-knots", timeout=60)
    assert "rolled back" not in e.value.message
    assert "bitcoin-knots" in dict(rec.desired.apps)
    assert os.path.exists(unit_path(rec, "archy-bitcoin-knots"))


# 13. a new release that crash-loops is rolled back to the last good one (seed 004, pattern 3)
def set_image(rec, app, image):
    path = rec.paths.catalog
    data = json.load(open(path))
    data["apps"][app]["image"] = image
    with open(path, "w") as f:
        json.dump(data, f)


def image_of(rec, stem):
    return re.search(r"^Image=(\S+)", open(unit_path(rec, stem)).read(), re.M).group(1)


def converge_for(rec, fake, ticks: int = 40):
    for _ in range(ticks):
        rec.tick()
        fake.advance()


def test_a_release_that_crash_loops_is_rolled_back_and_stays_so(tmp_path):
    rec, fake = make(tmp_path, clock=Ticking())
    install_all(rec, ("bitcoin-knots",))
    converge_for(rec, fake, 2)
    assert rel.load(rec.paths.releases)["bitcoin-knots"] == rel.Release("localhost/archy-standin:1", None)
    fake.images |= {"localhost/v2", "localhost/v3"}
    set_image(rec, "bitcoin-knots", "localhost/v2")                     # a good OTA
    converge_for(rec, fake, 3)
    assert image_of(rec, "archy-bitcoin-knots") == "localhost/v2"
    assert rel.load(rec.paths.releases)["bitcoin-knots"].good == "localhost/v2"
    fake.crashing_images.add("localhost/v3")
    set_image(rec, "bitcoin-knots", "localhost/v3")                     # a bad one
    converge_for(rec, fake)
    assert image_of(rec, "archy-bitcoin-knots") == "localhost/v2"       # back on the last good release
    assert fake.units["archy-bitcoin-knots.service"].active == "active"
    assert rel.load(rec.paths.releases)["bitcoin-knots"] == rel.Release("localhost/v2", "localhost/v3")
    rec2 = Reconciler(rec.paths, fake, rec.settings, clock=rec.clock)  # a daemon restart keeps it
    converge_for(rec2, fake, 3)
    assert image_of(rec2, "archy-bitcoin-knots") == "localhost/v2"


def test_a_release_is_rolled_back_after_one_cycle_systemd_gave_up_on(tmp_path):
    rec, fake = make(tmp_path, clock=Ticking())
    install_all(rec, ("bitcoin-knots",))
    converge_for(rec, fake, 2)
    fake.images.add("localhost/v3")
    fake.crashing_images.add("localhost/v3")
    fake.gives_up = True
    before = starts_of(fake, "archy-bitcoin-knots.service")
    set_image(rec, "bitcoin-knots", "localhost/v3")
    converge_for(rec, fake, 12)
    assert image_of(rec, "archy-bitcoin-knots") == "localhost/archy-standin:1"
    assert rel.load(rec.paths.releases)["bitcoin-knots"] == rel.Release("localhost/archy-standin:1", "localhost/v3")
    # v3's restart, the start of the tick that saw systemd give up, then the good release's restart:
    # the doubled backoff would have started v3 a third time first
    assert starts_of(fake, "archy-bitcoin-knots.service") - before == 3


def test_no_release_rollback_in_its_variant(tmp_path):
    rec, fake = make(tmp_path, variant="no-release-rollback", clock=Ticking())
    install_all(rec, ("bitcoin-knots",))
    fake.images.add("localhost/v3")
    fake.crashing_images.add("localhost/v3")
    set_image(rec, "bitcoin-knots", "localhost/v3")
    converge_for(rec, fake)
    assert image_of(rec, "archy-bitcoin-knots") == "localhost/v3"
    assert fake.units["archy-bitcoin-knots.service"].active == "failed"


def test_an_install_sees_the_loop_another_tick_saw_and_restarted():
    """The daemon's loop and an install's wait take turns ticking: when the loop's tick sees systemd
    give up and starts the app again, the install's next look finds it starting; the loop is still
    the install's to see (seen on the VM: the first cycle missed, the install waited a second)."""
    import tempfile
    from pathlib import Path
    rec, fake = make(Path(tempfile.mkdtemp()), clock=Ticking())
    install_all(rec, ("bitcoin-knots",))
    since = rec.clock()
    fake.crashing.add("archy-lnd.service")
    fake.gives_up = True
    rec._set_desired(rec.desired.with_app("lnd", "started"))
    rec.tick()                                   # writes and starts lnd: it fails, systemd gives up
    rec.tick()                                   # the loop's tick: sees it, starts it again
    fake.crashing.discard("archy-lnd.service")
    fake.units["archy-lnd.service"] = FakeUnit("activating", "start")
    rec.tick()                                   # the install's tick: lnd is starting
    assert "crash loop" in rec._crash_looping("lnd", since)
    assert rec._crash_looping("lnd", rec.clock() + 100) == ""          # not during a later install
