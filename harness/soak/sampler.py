"""Collect one soak sample from a node: the I/O edge around node_probe.py plus pure parsers.

A sample (one line of the timeline):
  containers  {name: {app, unit, state, active, sub, health, id, started_at, invocation, nrestarts,
               mem_bytes, cpu_pct}}   (the shape harness.soak.verdict judges)
  goss        {app: {ok, tests, failed: [resource ...], error?}}
  disk        {mount: {used, size}}
  journal     {errors: [{t, id, message}]}   (harness.journal's rules, redacted)
  reconciler  {health_ok, converged, tick_duration, error?}
  latency     {probe: seconds}   errors  [why a part of the sample is missing]
"""
from __future__ import annotations

import dataclasses
import json
import re
import shlex
import time
from pathlib import Path

from harness import goss as goss_mod, journal
from harness.artifacts import redact
from node.api import Node, NodeError
from node.commands import ROOT
from node.names import Names

PROBE = Path(__file__).with_name("node_probe.py")
_SIZE = re.compile(r"^\s*([\d.]+)\s*([kKMGT]i?)?B?\s*$")
_MULT = {None: 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
         "ki": 1024, "Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "Ti": 1024 ** 4}


# ------------------------------------------------------------------ pure parsers
def parse_size(text: str) -> int | None:
    """podman's human sizes ('12.3MB', '1.5GiB', '512kB') -> bytes."""
    m = _SIZE.match(str(text))
    return int(float(m.group(1)) * _MULT[m.group(2)]) if m else None


def parse_units(show: str) -> dict[str, dict]:
    """`systemctl show -p ... u1 u2` (blank-line separated blocks) -> {unit: props}."""
    out = {}
    for block in show.strip().split("\n\n"):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if props.get("Id"):
            out[props["Id"]] = props
    return out


def _health(ps: dict) -> str:
    status = ps.get("Status") or ""
    m = re.search(r"\((healthy|unhealthy|starting)\)", status)
    return m.group(1) if m else (ps.get("Health") or "")


def _int(v) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def containers(units: dict[str, dict], ps: list[dict], stats: list[dict], apps_of: dict[str, str],
               prev: dict | None, dt: float | None, *, names: Names) -> dict[str, dict]:
    """One record per expected container (by unit), whether or not podman still has it."""
    by_name = {}
    for c in ps:
        if c.get("Names"):
            by_name[c["Names"][0]] = c
    st_by_name = {s.get("name") or s.get("Name"): s for s in stats}
    out = {}
    for name, app in sorted(apps_of.items()):
        unit = names.unit(name)
        u = units.get(unit, {})
        c = by_name.get(name)
        s = st_by_name.get(name) or {}
        mem = parse_size(str(s.get("mem_usage") or s.get("MemUsage") or "").split("/")[0]) if s else None
        if mem is None:
            mem = _int(u.get("MemoryCurrent"))
        cpu_ns = _int(u.get("CPUUsageNSec"))
        cpu = None
        if cpu_ns is not None and prev and dt and name in prev and prev[name].get("cpu_ns") is not None:
            cpu = max(0.0, (cpu_ns - prev[name]["cpu_ns"]) / 1e9 / dt * 100)
        out[name] = {"app": app, "unit": unit, "state": (c or {}).get("State", "missing"),
                     "active": u.get("ActiveState", "unknown"), "sub": u.get("SubState"),
                     "health": _health(c or {}), "id": (c or {}).get("Id"),
                     "started_at": (c or {}).get("StartedAt"), "invocation": u.get("InvocationID") or None,
                     "nrestarts": _int(u.get("NRestarts")) or 0, "mem_bytes": mem, "cpu_ns": cpu_ns,
                     "cpu_pct": cpu if cpu is not None else _pct(s.get("cpu_percent"))}
    return out


def _pct(v) -> float | None:
    try:
        return float(str(v).rstrip("%"))
    except ValueError:
        return None


def goss_results(raw: dict) -> dict[str, dict]:
    out = {}
    for app, r in raw.items():
        if r["rc"] not in (0, goss_mod.RC_FAIL):
            out[app] = {"ok": False, "error": f"goss rc {r['rc']}: {(r['stderr'] or r['stdout']).strip()[:200]}"}
            continue
        try:
            rep = goss_mod.parse(r["stdout"])
        except goss_mod.GossError as e:
            out[app] = {"ok": False, "error": str(e)[:300]}
            continue
        out[app] = {"ok": rep.ok, "tests": rep.tests, "failed": [redact(str(f))[:300] for f in rep.failures]}
    return out


def mounts(names: Names) -> tuple[str, ...]:
    """The filesystems whose use is sampled: root, the platform's state, podman's storage."""
    return ("/", names.state_dir, "/var/lib/containers")


def journal_errors(entries: list[dict], names: Names, allow: tuple[str, ...] = ()) -> list[dict]:
    out = []
    for e in entries:
        for line in journal.errors([e], allow, names=names):
            src, _, msg = line.partition(": ")
            t = _int(e.get("__REALTIME_TIMESTAMP"))
            out.append({"t": t / 1e6 if t else None, "id": src, "message": redact(msg)[:500]})
    return out


# ------------------------------------------------------------------ the I/O edge
class Sampler:
    def __init__(self, node: Node, driver, matrix, apps: list[str], *, goss_timeout: float = 120,
                 tick: bool = True, journal_allow: tuple[str, ...] = ()):
        self.node, self.driver, self.matrix, self.apps = node, driver, matrix, list(apps)
        self.goss_timeout, self.tick, self.journal_allow = goss_timeout, tick, journal_allow
        self.apps_of = {}
        for a in self.apps:
            app = matrix.app(a)
            for member in [app] + [matrix.app(c) for c in app.companions]:
                self.apps_of[node.names.container(member.id)] = a
        self.cursor: str | None = None
        self._prev: dict | None = None
        self._prev_t: float | None = None
        self._goss_paths: dict[str, dict[str, str]] = {}
        self._goss_bin = ""

    def prepare(self, cursor: str | None = None) -> None:
        """Copy the goss files and their vars once; start the journal at `cursor` (or now)."""
        for a in self.apps:
            app = self.matrix.app(a)
            if not app.goss:
                continue
            s, remote, remote_vars = goss_mod.stage(self.node, self.matrix, app)
            self._goss_paths[a] = {"file": remote, "vars": remote_vars}
            self._goss_bin = s.goss
        self.cursor = cursor or self.node.journal_cursor()

    def sample(self, seq: int) -> dict:
        t = time.time()
        s: dict = {"kind": "sample", "seq": seq, "t": t, "errors": [], "latency": {}}
        args = {"units": [self.node.names.unit(n) for n in self.apps_of], "goss": self._goss_paths,
                "goss_bin": self._goss_bin, "goss_timeout": self.goss_timeout, "cursor": self.cursor,
                "mounts": list(mounts(self.node.names))}
        if self.node.cmd != ROOT:   # not a root login: how the probe reaches the platform's tools
            args["cmd"] = dataclasses.asdict(self.node.cmd)
        budget = 200 + self.goss_timeout * len(self._goss_paths)
        t1 = time.monotonic()
        try:
            r = self.node.run(f"python3 - {shlex.quote(json.dumps(args))}", timeout=budget,
                              input=PROBE.read_bytes())
            if r.rc != 0:
                raise NodeError(f"node probe exited {r.rc}: {r.stderr.strip()[-300:]}")
            raw = json.loads(r.stdout)
        except (NodeError, ValueError) as e:
            s["errors"].append(f"node probe: {redact(str(e))[:300]}")
            s["latency"]["sample"] = time.monotonic() - t1
            s["t_end"] = time.time()
            self._prev = None        # a gap: no CPU delta across it
            return s
        s["latency"]["sample"] = time.monotonic() - t1
        s["latency"].update({k: round(v, 3) for k, v in raw["latency"].items()})
        s["errors"] += raw["errors"]
        dt = (t - self._prev_t) if self._prev_t else None
        s["containers"] = containers(parse_units(raw["units"]), raw["ps"], raw["stats"], self.apps_of,
                                     self._prev, dt, names=self.node.names)
        self._prev, self._prev_t = s["containers"], t
        s["goss"] = goss_results(raw["goss"])
        s["disk"] = raw["disk"]
        s["journal"] = {"errors": journal_errors(raw["journal"]["entries"], self.node.names, self.journal_allow),
                        "dropped": raw["journal"]["dropped"]}
        self.cursor = raw["journal"]["cursor"] or self.cursor
        s["cursor"] = self.cursor
        s["reconciler"] = self._reconciler(s["latency"])
        s["t_end"] = time.time()
        return s

    def _reconciler(self, latency: dict) -> dict:
        out: dict = {}
        t = time.monotonic()
        try:
            out["health_ok"] = self.driver.healthy()
        except NodeError as e:
            out["error"] = f"/health: {redact(str(e))[:200]}"
        latency["health"] = round(time.monotonic() - t, 3)
        if self.tick:
            t = time.monotonic()
            try:
                r = self.driver.call("reconcile.tick", timeout=120)
                out["tick_duration"] = r.get("duration")
                out["converged"] = r.get("converged")
            except NodeError as e:
                out["error"] = f"reconcile.tick: {redact(str(e))[:200]}"
            latency["reconcile.tick rpc"] = round(time.monotonic() - t, 3)
            if isinstance(out.get("tick_duration"), (int, float)):
                latency["tick"] = round(out["tick_duration"], 3)
        return out
