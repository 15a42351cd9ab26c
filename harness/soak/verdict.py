"""Verdict rules of a soak, pure functions of the recorded samples.

The rules (stated in every report):
  complete       the samples cover >= 90 % of the requested duration and no sample failed to collect
  no_state_change every container seen in the first sample stays in its state (running/active, health
                 not degraded) and no container appears or vanishes
  no_restart     no container restarted: systemd NRestarts, the unit's InvocationID, the container id
                 and its start time all stay the same
  memory         per container: median of the last samples minus median of the first samples stays
                 under max(floor, pct % of the start)
  journal        no error (priority <= 3) in the journal from the reconciler, the app units/containers,
                 podman, nginx or tor, other than allowlisted ones
  steady_state   every goss run passes and the reconciler reports healthy and converged ticks
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from harness.duration import format_duration

DEFAULT_BOUNDS = {"mem_growth_pct": 20.0, "mem_growth_floor": 16 * 1024 * 1024, "coverage": 0.9}

RULE_TITLES = {
    "complete": "Soak ran its full duration and every sample was collected",
    "no_state_change": "No unexpected container state change",
    "no_restart": "No container restart",
    "memory": "Memory growth under the bound",
    "journal": "No journal error",
    "steady_state": "goss passes and the reconciler stays healthy",
}


@dataclass(frozen=True)
class Change:
    t: float
    container: str
    kind: str          # restart | state | health | appeared | vanished
    detail: str


@dataclass
class RuleResult:
    name: str
    passed: bool
    details: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return RULE_TITLES[self.name]


@dataclass
class Verdict:
    passed: bool
    rules: list[RuleResult]
    changes: list[Change]
    memory: dict[str, dict]      # container -> start, end, peak, growth, bound (bytes)

    def rule(self, name: str) -> RuleResult:
        return next(r for r in self.rules if r.name == name)

    def one_line(self) -> str:
        if self.passed:
            return "PASS: all soak rules held"
        failed = [r for r in self.rules if not r.passed]
        return "FAIL: " + "; ".join(f"{r.name}: {r.details[0] if r.details else 'failed'}" for r in failed)

    def to_dict(self) -> dict:
        return {"passed": self.passed,
                "rules": [{"name": r.name, "title": r.title, "passed": r.passed, "details": r.details}
                          for r in self.rules],
                "changes": [c.__dict__ for c in self.changes],
                "memory": self.memory}


def observed_span(samples: list[dict], interval: float) -> float:
    """Seconds the node was watched: from the first sample's start to the last one's end (a sample
    observes while it runs, a minute and more under TCG); gaps longer than two intervals (a harness
    crash before a resume) do not count."""
    if not samples:
        return 0.0
    gaps = [b["t"] - a["t"] for a, b in zip(samples, samples[1:])]
    last = max(0.0, float(samples[-1].get("t_end") or samples[-1]["t"]) - samples[-1]["t"])
    # a slow node makes every gap longer than the interval: cap at twice the usual gap then
    usual = statistics.median(gaps) if gaps else last
    cap = 2 * max(interval, usual) if interval > 0 else float("inf")
    return sum(min(g, cap) for g in gaps) + min(last, cap)


def _clock(t: float, t0: float) -> str:
    return "+" + format_duration(t - t0)


def detect_changes(samples: list[dict]) -> list[Change]:
    """Every restart and state change between consecutive samples (first sample = baseline)."""
    out: list[Change] = []
    prev: dict[str, dict] = {}
    for i, s in enumerate(samples):
        cur = s.get("containers") or {}
        if s.get("errors") and not cur:
            continue                      # nothing collected: not evidence of a change
        if i:
            for name in sorted(set(prev) | set(cur)):
                a, b = prev.get(name), cur.get(name)
                if a is None:
                    out.append(Change(s["t"], name, "appeared", f"{name} appeared ({b.get('state')})"))
                elif b is None:
                    out.append(Change(s["t"], name, "vanished", f"{name} vanished (was {a.get('state')})"))
                else:
                    out.extend(_compare(s["t"], name, a, b))
        prev = cur
    return out


def _compare(t: float, name: str, a: dict, b: dict) -> list[Change]:
    out = []
    why = []
    if (b.get("nrestarts") or 0) > (a.get("nrestarts") or 0):
        why.append(f"NRestarts {a.get('nrestarts')}->{b.get('nrestarts')}")
    for key, label in (("invocation", "new unit invocation"), ("id", "new container id"),
                       ("started_at", "container start time changed")):
        if a.get(key) and b.get(key) and a[key] != b[key]:
            why.append(label)
    if why:
        out.append(Change(t, name, "restart", f"{name} restarted: " + ", ".join(why)))
    for key in ("state", "active"):
        if a.get(key) != b.get(key):
            out.append(Change(t, name, "state", f"{name} {key} {a.get(key)} -> {b.get(key)}"))
    if a.get("health") == "healthy" and b.get("health") != "healthy":
        out.append(Change(t, name, "health", f"{name} health {a.get('health')} -> {b.get('health')}"))
    return out


def memory_growth(samples: list[dict], bounds: dict) -> dict[str, dict]:
    series: dict[str, list[int]] = {}
    for s in samples:
        for name, c in (s.get("containers") or {}).items():
            if isinstance(c.get("mem_bytes"), (int, float)):
                series.setdefault(name, []).append(int(c["mem_bytes"]))
    out = {}
    for name, values in series.items():
        k = max(1, min(5, len(values) // 5))
        start = statistics.median(values[:k])
        end = statistics.median(values[-k:])
        bound = max(bounds["mem_growth_floor"], bounds["mem_growth_pct"] / 100 * start)
        out[name] = {"start": start, "end": end, "peak": max(values), "growth": end - start,
                     "bound": bound, "samples": len(values)}
    return out


def _mib(n: float) -> str:
    return f"{n / 1048576:.1f} MiB"


def judge(meta: dict, samples: list[dict]) -> Verdict:
    bounds = {**DEFAULT_BOUNDS, **(meta.get("bounds") or {})}
    t0 = samples[0]["t"] if samples else 0.0
    rules = []

    # complete
    details = []
    want = float(meta.get("duration") or 0)
    span = observed_span(samples, float(meta.get("interval") or 0))
    if len(samples) < 2:
        details.append(f"only {len(samples)} sample(s) recorded")
    elif span < bounds["coverage"] * want:
        details.append(f"samples cover {format_duration(span)} of the requested {format_duration(want)}"
                       + (" (gaps longer than two intervals not counted)" if span < samples[-1]["t"] - t0 else ""))
    for s in samples:
        for err in s.get("errors") or []:
            details.append(f"{_clock(s['t'], t0)}: sample incomplete: {err}")
    rules.append(RuleResult("complete", not details, details))

    changes = detect_changes(samples)
    state = [c for c in changes if c.kind != "restart"]
    rules.append(RuleResult("no_state_change", not state,
                            [f"{_clock(c.t, t0)}: {c.detail}" for c in state]))
    restarts = [c for c in changes if c.kind == "restart"]
    rules.append(RuleResult("no_restart", not restarts,
                            [f"{_clock(c.t, t0)}: {c.detail}" for c in restarts]))

    memory = memory_growth(samples, bounds)
    details = [f"{name} grew {_mib(m['growth'])} ({_mib(m['start'])} -> {_mib(m['end'])}), "
               f"bound {_mib(m['bound'])}"
               for name, m in sorted(memory.items()) if m["growth"] > m["bound"]]
    if samples and not memory:
        details.append("no memory figures were collected")
    rules.append(RuleResult("memory", not details, details))

    details = []
    for s in samples:
        for e in (s.get("journal") or {}).get("errors") or []:
            details.append(f"{_clock(e.get('t', s['t']), t0)}: {e.get('id') or e.get('unit')}: {e.get('message')}")
    rules.append(RuleResult("journal", not details, details))

    details = []
    for s in samples:
        for app, g in sorted((s.get("goss") or {}).items()):
            if not g.get("ok"):
                what = ", ".join(g.get("failed") or []) or g.get("error") or "failed"
                details.append(f"{_clock(s['t'], t0)}: goss {app}: {what}")
        r = s.get("reconciler") or {}
        if r and (r.get("health_ok") is False or r.get("converged") is False or r.get("error")):
            details.append(f"{_clock(s['t'], t0)}: reconciler: "
                           + (r.get("error") or f"health_ok={r.get('health_ok')} converged={r.get('converged')}"))
    rules.append(RuleResult("steady_state", not details, details))

    return Verdict(all(r.passed for r in rules), rules, changes, memory)
