"""Where each broken variant was caught, against where it is meant to be (reconciler/variants.py
CAUGHT_BY): the pure half of `make prove`; ci/prove.py runs the grid and the chaos suite.

A place is a grid cell `<app>-<event>` or a chaos experiment `chaos:<name>`. What a variant's runs
showed is `seen`: place -> (verdict, reason), verdict passed | failed | not_run. Its judgement:
- caught where expected: a listed place failed, no listed place passed, nothing else failed;
- caught elsewhere: an unlisted place failed (not a pass, even when a listed one failed too);
- missed: a listed place passed against it, or nothing failed;
- not run: no place ran (a red reference, a run that recorded nothing, every place skipped).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from chaos import catalog, summary, verdict
from ci.grid_run import minutes
from reconciler.variants import Catch

CAUGHT, ELSEWHERE, MISSED, NOT_RUN = "caught where expected", "caught elsewhere", "missed", "not run"
Seen = Mapping[str, tuple[str, str]]


def is_chaos(place: str) -> bool:
    return catalog.experiment_of(place) is not None


def grid_cells(catch: Catch) -> list[str]:
    return [p for p in catch.where if not is_chaos(p)]


def experiments(catch: Catch) -> list[str]:
    return [catalog.experiment_of(p) for p in catch.where if is_chaos(p)]


def cell_app(cell_id: str) -> str:
    """The app of a grid cell id: event ids hold no '-', app ids may."""
    return cell_id.rpartition("-")[0]


def grid_seen(cells: Iterable[dict]) -> dict[str, tuple[str, str]]:
    """What a grid run's records show, by cell id; a failure on any node wins."""
    out: dict[str, tuple[str, str]] = {}
    for c in cells:
        place = f"{c['app']}-{c['event']}"
        if place not in out or c["verdict"] == "failed":
            out[place] = (c["verdict"], str(c.get("reason") or ""))
    return out


def chaos_seen(rows: Iterable[dict], variant: str) -> dict[str, tuple[str, str]]:
    """What the chaos suite's rows show against `variant`. A catch counts only where the reference
    passed the same experiment and the failure is the repair's (not a run that tested nothing)."""
    rows = list(rows)
    # an experiment's own row run under ARCHY_RECONCILER_VARIANT is no reference
    ref = {r["experiment"]: r for r in rows if r["kind"] == summary.REFERENCE and not r.get("variant")}
    out: dict[str, tuple[str, str]] = {}
    for r in rows:
        if r["kind"] != summary.VARIANT or r.get("variant") != variant:
            continue
        base, problems = ref.get(r["experiment"]), [str(p) for p in r.get("problems") or []]
        if r["passed"] is None:
            seen = ("not_run", str(r.get("reason") or "not run"))
        elif base is None or base["passed"] is not True:
            why = "never ran" if base is None else (base.get("reason") or "; ".join(base.get("problems") or [])
                                                   or "failed")
            seen = ("not_run", f"the reference did not pass it ({why})")
        elif r["passed"]:
            seen = ("passed", "")
        elif bad := verdict.wrong_reason(problems):
            seen = ("not_run", f"failed for the wrong reason: {bad[0]}")
        else:
            seen = ("failed", problems[0] if problems else "failed")
        out[catalog.event(r["experiment"])] = seen
    return out


@dataclass(frozen=True)
class Judgement:
    variant: str
    outcome: str
    detail: str
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome == CAUGHT


def _short(reason: str, n: int = 160) -> str:
    return reason if len(reason) <= n else reason[: n - 1] + "…"


def judge(variant: str, catch: Catch, seen: Seen, not_run: str = "", seconds: float = 0.0) -> Judgement:
    """One variant's outcome from what its runs showed (`not_run`: why none of them ran)."""
    def made(outcome: str, detail: str) -> Judgement:
        return Judgement(variant, outcome, detail, seconds)

    if not_run or not seen:
        return made(NOT_RUN, not_run or "no cell or experiment ran against it")
    if all(v == "not_run" for v, _ in seen.values()):
        return made(NOT_RUN, "; ".join(f"{p}: {_short(r, 100)}" for p, (_, r) in seen.items()))
    listed = catch.where
    failed = [p for p, (v, _) in seen.items() if v == "failed"]
    hits = [p for p in failed if p in listed]
    lapses = [p for p in listed if seen.get(p, ("",))[0] == "passed"]
    if elsewhere := [p for p in failed if p not in listed]:
        return made(ELSEWHERE, f"by {elsewhere[0]}: {_short(seen[elsewhere[0]][1])} "
                               f"(meant for {', '.join(listed)})")
    if lapses:
        also = f"; caught by {', '.join(hits)}" if hits else ""
        return made(MISSED, f"{', '.join(lapses)} passed against it{also}")
    if hits:
        return made(CAUGHT, "by " + "; ".join(f"{p}: {_short(seen[p][1])}" for p in hits))
    quiet = [f"{p} not run: {_short(seen[p][1], 100)}" for p in listed if p in seen]
    passed = sum(v == "passed" for v, _ in seen.values())
    return made(MISSED, f"nothing failed ({passed} passed)" + (f"; {'; '.join(quiet)}" if quiet else
                                                                f"; {', '.join(listed)} never ran"))


def ratio(judgements: Iterable[Judgement]) -> str:
    js = list(judgements)
    rest = [f"{n} {o}" for o in (ELSEWHERE, MISSED, NOT_RUN) if (n := sum(j.outcome == o for j in js))]
    return f"{sum(j.ok for j in js)}/{len(js)} caught where expected" + (f" ({', '.join(rest)})" if rest else "")


def render(judgements: Iterable[Judgement]) -> list[str]:
    """The report's lines: one per variant, then the ratio."""
    js = list(judgements)
    if not js:
        return ["prove: no variant ran"]
    width = max(len(j.variant) for j in js)
    out = ["prove: variant -> where it was caught"]
    out += [f"  {j.variant:{width}}  {minutes(j.seconds):>7}  {j.outcome}: {j.detail}" for j in js]
    return out + [f"prove: {ratio(js)}"]
