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
    "fm3-apps-in-daemon-cgroup": "own-cgroup",                  # apps are `podman run` children of the daemon
    "stop-timeout-10s": "stop-grace",                           # StopTimeout=10 for every app
    "install-success-before-healthy": "install-waits-healthy",  # install returns before the app is healthy
    "uninstall-leaves-unit": "uninstall-removes-unit",          # the Quadlet file stays after uninstall
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
