"""Build soak timelines for the fast tests: a steady node and the ways it can go wrong."""
from __future__ import annotations

import copy

MIB = 1048576
T0 = 1_760_000_000.0


def container(app, mem_mib, *, inv="inv-1", cid="c1", started=T0 - 100, nrestarts=0, state="running"):
    return {"app": app, "unit": f"archy-{app}.service", "state": state, "active": "active" if state == "running"
            else "inactive", "sub": "running", "health": "healthy", "invocation": inv, "id": cid,
            "started_at": started, "nrestarts": nrestarts, "mem_bytes": int(mem_mib * MIB), "cpu_pct": 1.5}


def steady(n=21, interval=30.0, apps=("bitcoin-knots", "lnd")):
    meta = {"kind": "meta", "version": 1, "node": "vm0", "apps": list(apps), "duration": (n - 1) * interval,
            "interval": interval, "started": T0, "bounds": {}}
    samples = []
    for i in range(n):
        t = T0 + i * interval
        samples.append({
            "kind": "sample", "seq": i, "t": t,
            "containers": {f"archy-{a}": container(a, 40 + 5 * k + (i % 3) * 0.2) for k, a in enumerate(apps)},
            "goss": {a: {"ok": True, "tests": 10, "failed": [], "duration": 0.5} for a in apps},
            "disk": {"/": {"used": 900 * MIB, "size": 3000 * MIB}},
            "journal": {"errors": [], "other_errors": 0},
            "reconciler": {"health_ok": True, "converged": True, "tick_duration": 0.2},
            "latency": {"goss:" + a: 0.5 + 0.01 * (i % 4) for a in apps} | {"reconcile.tick": 0.3},
            "errors": [],
        })
    return meta, samples


def with_restart(samples, at, name="archy-lnd"):
    out = copy.deepcopy(samples)
    for s in out[at:]:
        c = s["containers"][name]
        c.update(invocation="inv-2", id="c2", started_at=s["t"] - 5 if s is out[at] else out[at]["t"] - 5)
    return out


def with_leak(samples, name="archy-lnd", mib_per_sample=2.0):
    out = copy.deepcopy(samples)
    for i, s in enumerate(out):
        s["containers"][name]["mem_bytes"] += int(i * mib_per_sample * MIB)
    return out
