"""Decide whether a Chaos Toolkit run really tested something.

`chaos run` exits 0 in several situations where nothing was tested (research note
chaostoolkit.md, "Traps"). `lint_experiment` rejects experiment files that would fall into
a trap by construction; `check_journal` reads the journal a run wrote and lists every
reason the run does not count as a pass. Both are pure.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from node import redact as redaction

EXTENSION = "archy"                 # extensions[] entry holding our metadata
CONVERGED_FUNC = "wait_converged"   # the probe every method must end with (trap 3)
NOTHING_LOST_FUNC = "nothing_lost"  # data-loss check, first in the hypothesis (trap 3)
REDACTED = redaction.MASK


def metadata(experiment: Mapping) -> dict:
    for ext in experiment.get("extensions") or []:
        if ext.get("name") == EXTENSION:
            return dict(ext)
    return {}


def _func(activity: Mapping) -> str:
    return (activity.get("provider") or {}).get("func", "")


def lint_experiment(exp: Mapping) -> list[str]:
    """Structural reasons an experiment could pass without testing anything."""
    problems = []
    hyp = exp.get("steady-state-hypothesis") or {}
    probes = hyp.get("probes") or []
    method = exp.get("method") or []
    if not probes:
        problems.append("no steady-state hypothesis: nothing is checked before and after (trap 1)")
    elif _func(probes[0]) != NOTHING_LOST_FUNC:
        problems.append(f"the first hypothesis probe must be {NOTHING_LOST_FUNC}: the after-check stops "
                        "at the first failing probe (trap 3)")
    if not method:
        problems.append("empty method: no fault is injected")
    else:
        if not any(a.get("type") == "action" for a in method):
            problems.append("the method has no action: no fault is injected")
        last = method[-1]
        if last.get("type") != "probe" or _func(last) != CONVERGED_FUNC:
            problems.append(f"the method must end with the {CONVERGED_FUNC} probe: the after-hypothesis "
                            "runs before rollbacks (trap 3)")
    if exp.get("controls"):
        problems.append("controls are not allowed: their failures are swallowed (trap 6)")
    for scope, values in (exp.get("secrets") or {}).items():
        for key, val in (values or {}).items():
            if not (isinstance(val, dict) and val.get("type") == "env"):
                problems.append(f"secret {scope}.{key} is inline: it would be copied into the journal (trap 7)")
    for key, val in (exp.get("configuration") or {}).items():
        if isinstance(val, dict) and val.get("type") not in ("env", None):
            problems.append(f"configuration {key}: only env references are allowed")
    runtime = exp.get("runtime")
    if runtime is not None:
        rb = (runtime.get("rollbacks") or {}).get("strategy")
        if rb != "always":
            problems.append("a runtime block without rollbacks.strategy=always resets it to default (trap 8)")
        if "hypothesis" not in runtime:
            problems.append("a runtime block must name hypothesis.strategy too, or it is reset (trap 8)")
    elif exp.get("rollbacks"):
        problems.append("rollbacks need runtime.rollbacks.strategy=always or they are skipped "
                        "after a failed run (trap 4)")
    for a in _activities(exp):
        prov = a.get("provider") or {}
        if prov.get("type") != "python" or not str(prov.get("module", "")).startswith("chaos."):
            problems.append(f"activity {a.get('name')!r}: only chaos.* Python providers "
                            "(their SSH layer enforces timeouts; trap 5)")
        if "timeout" in a:
            problems.append(f"activity {a.get('name')!r}: the timeout key is never enforced for Python "
                            "providers (trap 5); pass timeout as an argument")
    return problems


def budget(exp: Mapping, floor: float = 1500, margin: float = 600) -> float:
    """Seconds a run may take: every activity's own `timeout` argument added up, plus `margin`
    for the hypothesis probes before and after, never below `floor`."""
    declared = sum(float(((a.get("provider") or {}).get("arguments") or {}).get("timeout") or 0)
                   for a in _activities(exp))
    return max(floor, declared + margin)


def _activities(exp: Mapping) -> Iterable[Mapping]:
    yield from ((exp.get("steady-state-hypothesis") or {}).get("probes") or [])
    yield from exp.get("method") or []
    yield from exp.get("rollbacks") or []


def check_journal(journal: Mapping) -> list[str]:
    """Every reason this journal is not a real pass (empty list: it is)."""
    problems = []
    exp = journal.get("experiment") or {}
    status = journal.get("status")
    if status != "completed":
        problems.append(f"status is {status!r}, not 'completed'")
    if journal.get("deviated"):
        problems.append("deviated: the steady state did not hold after the method")
    ss = journal.get("steady_states") or {}
    before = ss.get("before")
    if not before or not before.get("steady_state_met"):
        problems.append("steady state did not hold BEFORE the method: nothing was tested (trap 1)"
                        + _failed_probes(before))
    after = ss.get("after")
    if before and before.get("steady_state_met") and (not after or not after.get("steady_state_met")):
        problems.append("steady state did not hold after the method" + _failed_probes(after))
    run = journal.get("run") or []
    method = exp.get("method") or []
    if not run:
        problems.append("the method did not run (empty run)")
    elif len(run) < len(method):
        problems.append(f"only {len(run)} of {len(method)} method activities ran")
    for entry in run:
        if entry.get("status") != "succeeded":
            problems.append(f"method activity {_name(entry)!r} {entry.get('status') or 'interrupted'}: "
                            f"{_exception(entry)} (trap 2)")
        problems += _overran(entry)
    want = exp.get("rollbacks") or []
    got = journal.get("rollbacks") or []
    if len(got) < len(want):
        problems.append(f"only {len(got)} of {len(want)} rollbacks ran (trap 4)")
    for entry in got:
        if entry.get("status") != "succeeded":
            problems.append(f"rollback {_name(entry)!r} {entry.get('status')}: {_exception(entry)}")
    return problems


# A run against a broken variant must fail for the repair it lacks, not because nothing was
# tested (trap 1) or the fault could not be injected: these problems void a catch.
NOT_A_CATCH = ("BEFORE the method", "injection failed")


def wrong_reason(problems: Iterable[str]) -> list[str]:
    """The problems that say a failed run tested nothing (a variant's catch does not count)."""
    return [p for p in problems if any(m in p for m in NOT_A_CATCH)]


def interrupt_reasons(log_text: str) -> list[str]:
    """chaoslib logs an InterruptExecution's message but does not put it in the journal."""
    return ["injection failed" + line.split("injection failed", 1)[1]
            for line in log_text.splitlines()
            if "injection failed" in line and "CRITICAL]" in line]   # the record, not the traceback


def _name(entry: Mapping) -> str:
    return (entry.get("activity") or {}).get("name", "?")


def _exception(entry: Mapping) -> str:
    exc = entry.get("exception") or []
    text = "".join(exc) if isinstance(exc, list) else str(exc)
    lines = [x for x in text.strip().splitlines() if x.strip()]
    return lines[-1].strip() if lines else "no exception recorded"


def _failed_probes(state: Mapping | None) -> str:
    if not state:
        return ""
    bad = [f"{_name(p)}={json.dumps(p.get('output'), default=str)[:200]}"
           for p in state.get("probes") or [] if not p.get("tolerance_met")]
    return f" (failed: {'; '.join(bad)})" if bad else ""


def _overran(entry: Mapping) -> list[str]:
    """An activity that declared a timeout and ran longer: the timeout was never enforced (trap 5)."""
    declared = (entry.get("activity") or {}).get("timeout")
    dur = entry.get("duration") or 0
    if declared is not None and dur > float(declared):
        return [f"activity {_name(entry)!r} ran {dur:.1f}s past its declared timeout {declared}s (trap 5)"]
    return []


def leaked(text: str, secrets: Iterable[str]) -> list[str]:
    """Which secret values occur in text (reported by length, never by value)."""
    return [f"a {len(s)}-character secret" for s in secrets if s and s in text]


def redact(text: str, secrets: Iterable[str]) -> str:
    """The one redaction (node.redact): the values and secret-shaped text; a JSON journal stays JSON."""
    try:
        return redaction.redact_json(text, secrets)
    except ValueError:
        return redaction.redact(text, secrets)
