"""Deliberately broken reconcilers for `make prove` and the chaos suite.

Each name switches off exactly one repair of the reference reconciler (variant null).
The rest of the code asks `variant.off("<repair>")`, so every switch is listed here and nowhere else.
"""
from __future__ import annotations

from dataclasses import dataclass

# variant name -> the repair it switches off (see docs/architecture.md, "Broken variants")
VARIANTS: dict[str, str] = {
    "fm1-companions-not-recreated": "companion-units",         # companions `podman run` once at install
    "fm2-rpcauth-not-rederived": "bitcoin-conf-rederive",      # bitcoin.conf written only when missing
    "derived-configs-not-rederived": "configs-rederive",        # lnd.conf, electrumx.env, integrations.json likewise
    "fm3-apps-in-daemon-cgroup": "own-cgroup",                  # apps are `podman run` children of the daemon
    "stop-timeout-10s": "stop-grace",                           # StopTimeout=10 for every app
    "install-success-before-healthy": "install-waits-healthy",  # install returns before the app is healthy
    "uninstall-leaves-unit": "uninstall-removes-unit",          # the Quadlet file stays after uninstall
    "failed-install-left-behind": "install-rollback",           # a fresh install that fails stays half-installed
    "no-boot-order": "boot-order",                              # units carry no After= their dependencies
    "no-release-rollback": "release-rollback",                  # a new release that crash-loops stays
    "chaos-backoff-forgotten-on-restart": "backoff-persisted",  # a restarted daemon's crash loops start from zero
    "chaos-state-flushed-on-exit": "desired-written-at-once",   # desired.json written only on SIGTERM
    "chaos-install-not-resumed": "install-resumed",             # in-flight installs dropped at start
    "chaos-no-podman-selfheal": "podman-selfheal",              # no storage-container removal, no migrate
    "chaos-no-retry-after-failure": "retry-failed",             # a crashed app stays down: Restart=no, no retry
    "chaos-stopped-app-not-restarted": "restart-stopped",      # started only on install/start, never after a stop behind its back
    "chaos-network-not-recreated": "network-recreate",          # vanished archy network left alone
    "chaos-tor-not-supervised": "tor-supervised",               # tor not started when inactive
    "chaos-snippet-not-rerendered": "nginx-rerender",           # nginx snippets written only when missing
    "chaos-wallclock-ticks": "monotonic-ticks",                 # tick deadlines on time.time()
    "chaos-health-always-ok": "health-honest",                  # /health always 200
    "chaos-no-disk-pressure": "disk-pressure",                  # full disk neither reported nor waited out
    "container-without-memory-limit": "memory-limit",           # no --memory: seed 003 C4 wants one on all
    "unit-without-host-alias": "host-alias",                    # no AddHost=host.archipelago (seed 004 FM4)
    "electrumx-without-dac-override": "added-caps",             # --cap-drop=all, nothing added back (seed 003)
}


@dataclass(frozen=True)
class Catch:
    """Where a variant is meant to be caught: grid cells `<app>-<event>` as in results/cells.json,
    chaos experiments `chaos:<name>` (chaos/experiments/<name>.json); every one listed must fail
    against it. `make prove` (ci/catches.py) counts a catch only at a listed place."""
    where: tuple[str, ...]
    why: str


# variant name -> where it is caught, and why there. The grid runs a line's cells event by event
# (fresh installs first, uninstalls last) and stops at the first failure; the chaos suite runs each
# experiment against the variant its file names (extensions[archy].broken_variant, which agrees).
CAUGHT_BY: dict[str, Catch] = {
    "fm1-companions-not-recreated": Catch(
        ("bitcoin-knots-fresh_install",),
        "its UI companion runs as a bare `podman run` with no unit: the install's members check finds "
        "archy-bitcoin-ui's unit not active"),
    "fm2-rpcauth-not-rederived": Catch(
        ("lnd-restart_integrations", "electrumx-restart_integrations", "chaos:corrupt_bitcoin_conf"),
        "bitcoin.conf is not re-derived: after the restart on a stale rpcauth (the grid) or a garbled "
        "first line (chaos) bitcoind refuses lnd's and electrumx's credentials or does not start"),
    "derived-configs-not-rederived": Catch(
        ("lnd-config_drift",),
        "lnd.conf is written only at install: cut in half on the node it stays so, and lnd is never "
        "restarted onto a good one"),
    "fm3-apps-in-daemon-cgroup": Catch(
        ("bitcoin-knots-fresh_install",),
        "the app runs as the daemon's `podman run` child with no unit of its own: its unit is not active"),
    "stop-timeout-10s": Catch(
        ("bitcoin-knots-stop_ports_released",),
        "bitcoind is SIGKILLed 10 s into its 15 s flush: started again it recovers from an unclean shutdown"),
    "install-success-before-healthy": Catch(
        ("bitcoin-knots-fresh_install",),
        "package.install answers before bitcoind answers through its own protocol"),
    "uninstall-leaves-unit": Catch(
        ("bitcoin-knots-uninstall_no_orphans",),
        "the Quadlet file and its unit stay: the inventory after the uninstall differs from before the install"),
    "failed-install-left-behind": Catch(
        ("bitcoin-knots-broken_install",),
        "the release that exits at once is reported failed but stays installed: its unit, container and "
        "Quadlet file are in the inventory after the install"),
    "no-boot-order": Catch(
        ("lnd-start_order",),
        "the units carry no After= on their dependencies: at boot systemd starts lnd with bitcoind, "
        "before bitcoind is healthy"),
    "no-release-rollback": Catch(
        ("bitcoin-knots-upgrade_rollback",),
        "the release whose image exits at once keeps crash-looping: bitcoin-knots never runs its last good "
        "release (v2) again"),
    "container-without-memory-limit": Catch(
        ("bitcoin-knots-fresh_install",),
        "the seeds' node check finds HostConfig.Memory 0 on archy-bitcoin-knots"),
    "unit-without-host-alias": Catch(
        ("bitcoin-knots-fresh_install",),
        "the seeds' node check finds host.archipelago unresolved inside the container (FM4)"),
    "electrumx-without-dac-override": Catch(
        ("electrumx-fresh_install",),
        "electrumx cannot write its LOCK in a data dir owned by uid 1 and exits: the install never turns healthy"),
    "chaos-backoff-forgotten-on-restart": Catch(
        ("chaos:crash_loop_daemon_restart",),
        "backoff.json is not read at start: the restarted daemon starts the crash-looping lnd at once, "
        "its hold across the restart far shorter than the one before"),
    "chaos-state-flushed-on-exit": Catch(
        ("chaos:kill9_reconciler_mid_install", "chaos:power_cut_normal", "chaos:power_cut_mid_ota"),
        "desired.json is written only on SIGTERM: the install acknowledged before the SIGKILL or power cut is lost"),
    "chaos-install-not-resumed": Catch(
        ("chaos:restart_reconciler_mid_install",),
        "the install in flight is dropped at start with its unit and container left: a half-installed orphan"),
    "chaos-no-podman-selfheal": Catch(
        ("chaos:podman_db_wipe",),
        "storage-only containers and netavark's stale IPs stay after the DB is lost: the units cannot start"),
    "chaos-no-retry-after-failure": Catch(
        ("chaos:kill9_bitcoind",),
        "the SIGKILLed bitcoind's unit has no Restart= and is never retried: it stays failed"),
    "chaos-stopped-app-not-restarted": Catch(
        ("chaos:podman_stop_bitcoind", "chaos:podman_stop_bitcoin_ui"),
        "a container `podman stop`ped behind the reconciler's back stays down: nothing is desired-running-checked"),
    "chaos-network-not-recreated": Catch(
        ("chaos:revoke_app_network",),
        "the removed network (or revoked rootless netns) is not recreated: the apps' ports stop answering"),
    "chaos-tor-not-supervised": Catch(
        ("chaos:kill9_tor",),
        "tor's unit does not restart itself and the reconciler never starts it: the onions stay down"),
    "chaos-snippet-not-rerendered": Catch(
        ("chaos:delete_nginx_snippet",),
        "the deleted snippet is never written again: /apps/bitcoin-knots/ stays 404"),
    "chaos-wallclock-ticks": Catch(
        ("chaos:clock_jump",),
        "ticks wait for a wall-clock deadline: after the clock steps back /health's last_good_tick stops"),
    "chaos-health-always-ok": Catch(
        ("chaos:sigstop_reconciler",),
        "/health answers 200 while the daemon was frozen for 2.5 ticks"),
    "chaos-no-disk-pressure": Catch(
        ("chaos:fill_var",),
        "the full disk is neither reported on /health nor waited out"),
}


class VariantError(ValueError):
    pass


@dataclass(frozen=True)
class Variant:
    name: str | None = None

    def off(self, repair: str) -> bool:
        assert repair in VARIANTS.values(), repair
        return self.name is not None and VARIANTS[self.name] == repair


REFERENCE = Variant(None)


def parse(name: object) -> Variant:
    if name is None:
        return REFERENCE
    if not isinstance(name, str) or name not in VARIANTS:
        raise VariantError(f"unknown reconciler variant {name!r}; known: {', '.join(sorted(VARIANTS))}")
    return Variant(name)
