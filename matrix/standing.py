"""An app's standing: its level (matrix/levels.yaml) and the evidence each level rests on. Pure.

Level N is earned when every level below it is and every proof of its own holds:
- each of its grid cells that applies to the app passed, whole: a part not run here (the grid's
  ✓*) leaves the level unearned, so the app stops at the level below and that part is why;
- a `chaos` level also rests on every chaos experiment that judges the app (the caller's
  catalog; the results' cells chaos:<experiment>): an app no experiment judges cannot earn it;
- a `nightly_soak` level also rests on the nightly long soak's verdict of the same commit when
  one is given; when none is, the level says so and rests on its cells alone.
A level with nothing that applies to the app is carried through.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from .model import Matrix

NIGHTLY = "nightly soak"


@dataclass(frozen=True)
class Proof:
    id: str                 # a grid cell (lnd-reboot_survival), chaos:<experiment>, or NIGHTLY
    verdict: str            # passed | failed | not_run | missing (no result) | partial (a part not run)
    note: str = ""          # the reason, the parts not run, where a verdict came from

    @property
    def holds(self) -> bool:
        return self.verdict == "passed"

    def text(self) -> str:
        what = {"missing": "no result", "partial": "part not run", "not_run": "not run"}.get(self.verdict,
                                                                                            self.verdict)
        return f"{self.id}: {what}" + (f": {self.note}" if self.note else "")


@dataclass(frozen=True)
class Rung:
    """One level of one app: what it rests on, and what is said about it without deciding it."""
    n: int
    title: str
    proofs: tuple[Proof, ...]
    lacking: str = ""               # it needs evidence nothing provides (no experiment judges the app)
    notes: tuple[str, ...] = ()

    @property
    def earned(self) -> bool:
        return not self.lacking and all(p.holds for p in self.proofs)

    @property
    def why(self) -> str:
        """Why it is not earned ("" when it is): the first proof that does not hold."""
        if self.lacking:
            return self.lacking
        return next((p.text() for p in self.proofs if not p.holds), "")


@dataclass(frozen=True)
class Standing:
    app: str
    level: int
    rungs: tuple[Rung, ...]         # levels 1..level, then the first one not earned (if any)

    @property
    def stopped_at(self) -> Rung | None:
        return next((r for r in self.rungs if not r.earned), None)


@dataclass(frozen=True)
class Soak:
    """The nightly long soak's verdict (harness/soak verdict.json)."""
    passed: bool
    commit: str | None
    apps: tuple[str, ...]
    summary: str
    source: str


@dataclass(frozen=True)
class Evidence:
    """What a results file says of one node, plus what the levels rest on besides its cells."""
    verdicts: Mapping[tuple[str, str], str]                 # (app, event) -> passed|failed|not_run
    reasons: Mapping[tuple[str, str], str] = field(default_factory=dict)
    parts: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)  # passed, parts not run
    chaos: Mapping[str, tuple[str, ...]] = field(default_factory=dict)   # app -> chaos:<experiment> events
    soak: Soak | None = None
    commit: str | None = None       # the commit the results are of


def _proof(ev: Evidence, app: str, event: str, shown: str) -> Proof:
    key = (app, event)
    verdict = ev.verdicts.get(key)
    if verdict is None:
        return Proof(shown, "missing")
    if verdict == "passed" and ev.parts.get(key):
        return Proof(shown, "partial", "; ".join(ev.parts[key]))
    return Proof(shown, verdict, "" if verdict == "passed" else ev.reasons.get(key, ""))


def _nightly(ev: Evidence, app: str) -> tuple[tuple[Proof, ...], tuple[str, ...]]:
    """The nightly soak's proof for `app`, or what is said when there is none of this commit."""
    s = ev.soak
    if s is None:
        return (), ("no nightly soak results given (SOAK_RESULTS): rests on the grid's soak cell alone",)
    if not ev.commit or s.commit != ev.commit:
        return (), (f"the nightly soak ({s.source}) is of commit {(s.commit or 'unknown')[:12]}, not the "
                    f"results' {(ev.commit or 'unknown')[:12]}: rests on the grid's soak cell alone",)
    if app not in s.apps:
        return (), (f"the nightly soak of this commit did not run {app}: rests on the grid's soak cell alone",)
    return (Proof(NIGHTLY, "passed" if s.passed else "failed", f"{s.summary} ({s.source})"),), ()


def rung(matrix: Matrix, ev: Evidence, app: str, n: int) -> Rung:
    lv = matrix.levels[n]
    proofs = [_proof(ev, app, e, f"{app}-{e}") for e in lv.events if (app, e) in matrix.cells]
    lacking, notes = "", ()
    if lv.chaos:
        judged = [_proof(ev, app, e, e) for e in ev.chaos.get(app, ())]
        proofs += judged
        if not judged:
            lacking = f"no chaos experiment judges {app}"
        elif all(p.verdict == "missing" for p in judged):
            lacking = f"no chaos result for {app}: the chaos suite did not run"
    if lv.nightly_soak:
        more, notes = _nightly(ev, app)
        proofs += more
    return Rung(n, lv.title, tuple(proofs), lacking, notes)


def standing(matrix: Matrix, ev: Evidence, app: str) -> Standing:
    rungs = []
    for n in sorted(matrix.levels):
        rungs.append(rung(matrix, ev, app, n))
        if not rungs[-1].earned:
            break
    return Standing(app, sum(r.earned for r in rungs), tuple(rungs))


def standings(matrix: Matrix, ev: Evidence) -> dict[str, Standing]:
    """{app: standing} for every grid app, in the matrix's order."""
    return {app: standing(matrix, ev, app) for app in matrix.apps}

