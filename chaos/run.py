"""Run one experiment in its own process with the stock CLI and judge its journal.

  python -m chaos.run chaos/experiments/kill9_tor.json --node vm://vm0 [--out DIR] [--timeout S]

Chaos Toolkit keeps global state between runs and installs signal handlers, so every
experiment gets a fresh `chaos --no-version-check run --rollback-strategy always` process.
Its exit status is not trusted (traps 1-2): the journal is checked by chaos.verdict.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from chaoslib.exceptions import ChaosException
from chaoslib.experiment import ensure_experiment_is_valid

from node.proc import stop_group
from node.target import TargetError, parse

from . import verdict
from .catalog import ExperimentError, load_experiment  # noqa: F401  (chaos.run's own names too)

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Outcome:
    experiment: str
    journal_path: Path
    journal: dict
    problems: list[str]
    duration: float
    rc: int
    log_path: Path
    secrets_leaked: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def validate(exp: dict, path: str | Path, env: dict) -> None:
    """Chaos Toolkit's own lint (what `chaos validate` runs), before any process starts: a file it
    rejects is refused in one line instead of a run that writes no journal. `env` is the run's:
    the experiment's configuration and secrets are read from it."""
    loggers = [logging.getLogger(n) for n in ("chaostoolkit", "chaoslib", "chaostoolkit-lib")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:          # chaoslib logs its findings too: the one line below says them
        lg.setLevel(logging.CRITICAL + 1)
    try:
        if bad := _misshapen(exp):
            raise ExperimentError(f"{path}: {bad}")
        with _environ(env):
            ensure_experiment_is_valid(exp)
    except ChaosException as e:
        detail = " ".join(str(e).split()) or type(e).__name__
        raise ExperimentError(f"{path}: fails Chaos Toolkit's lint (chaos validate): {detail}") from None
    except (TypeError, AttributeError, KeyError, ValueError) as e:   # chaoslib trusts the shapes
        raise ExperimentError(f"{path}: Chaos Toolkit cannot read it ({type(e).__name__}: {e}); "
                              "compare it with chaos/experiments/*.json") from None
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


_SHAPES = (("method", list), ("rollbacks", list), ("steady-state-hypothesis", dict),
           ("configuration", dict), ("secrets", dict), ("tags", list), ("extensions", list),
           ("controls", list), ("runtime", dict))


def _misshapen(exp: dict) -> str:
    """The first top-level block of the wrong JSON type, or an activity that is no object."""
    for key, kind in _SHAPES:
        if key in exp and not isinstance(exp[key], kind):
            return f"'{key}' must be a JSON {'list' if kind is list else 'object'}"
    hyp = exp.get("steady-state-hypothesis", {})
    if not isinstance(hyp.get("probes", []), list):
        return "'steady-state-hypothesis.probes' must be a JSON list"
    for key, acts in (("method", exp.get("method", [])), ("rollbacks", exp.get("rollbacks", [])),
                      ("steady-state-hypothesis.probes", hyp.get("probes", []))):
        bad = [i for i, a in enumerate(acts) if not isinstance(a, dict)]
        if bad:
            return f"{key}[{bad[0]}] must be a JSON object (an activity)"
    return ""


@contextlib.contextmanager
def _environ(env: dict):
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def chaos_cli() -> str:
    exe = Path(sys.executable).parent / "chaos"
    if not exe.exists():
        raise ExperimentError(f"{exe} not found: run `make setup` (chaostoolkit is a pinned dependency)")
    if shutil.which("setpriv") is None:   # ties the CLI to us (_run_bounded)
        raise ExperimentError("setpriv not found: run `make setup` or `apt-get install util-linux`")
    return str(exe)


def environment(node_url: str, history: Path, extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHY_NODE")}
    env.update({"ARCHY_NODE_URL": node_url, "ARCHY_CHAOS_HISTORY": str(history),
                "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)})
    env.update(extra or {})
    return env


def run(path: str | Path, node_url: str, out_dir: str | Path, timeout: float = 1800,
        secrets: list[str] | tuple = (), env_extra: dict | None = None) -> Outcome:
    """Run the experiment once; never raises for a failing experiment, only for a bad file."""
    exp = load_experiment(path)
    name = Path(path).stem
    out = Path(out_dir)
    journal_path, log_path, history = out / f"{name}.journal.json", out / f"{name}.log", out / f"{name}.history.jsonl"
    env = environment(node_url, history, env_extra)
    validate(exp, path, env)
    out.mkdir(parents=True, exist_ok=True)
    for f in (journal_path, log_path, history):
        f.unlink(missing_ok=True)
    problems = verdict.lint_experiment(exp)
    cmd = [chaos_cli(), "--no-version-check", "--log-file", str(log_path), "run",
           "--rollback-strategy", "always", "--journal-path", str(journal_path), str(Path(path).resolve())]
    t0 = time.monotonic()
    rc = _run_bounded(cmd, env, timeout, out / f"{name}.stdout")
    duration = time.monotonic() - t0
    if rc is None:
        problems.append(f"chaos run did not finish within {timeout:.0f}s (killed)")
        rc = -1
    journal: dict = {}
    if journal_path.exists():
        try:
            journal = json.loads(journal_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            problems.append(f"{journal_path}: unreadable journal: {e.msg}")
    else:
        problems.append(f"no journal written (chaos exited {rc}; see {log_path})")
    if journal:
        problems += verdict.check_journal(journal)
    leaks = []
    for f in (journal_path, log_path, out / f"{name}.stdout"):
        if f.exists():
            text = f.read_text(encoding="utf-8", errors="replace")
            found = verdict.leaked(text, secrets)
            if found:
                leaks += [f"{f.name}: {x}" for x in found]
                f.write_text(verdict.redact(text, secrets), encoding="utf-8")
    problems += [f"secret leaked into {x}" for x in leaks]
    if journal.get("status") == "interrupted" and log_path.exists():   # read after redaction
        problems += [f"interrupted: {r}" for r in
                     verdict.interrupt_reasons(log_path.read_text(encoding="utf-8", errors="replace"))]
    if journal and leaks:
        journal = json.loads(journal_path.read_text(encoding="utf-8"))
    return Outcome(name, journal_path, journal, problems, duration, rc, log_path, leaks)


def _run_bounded(cmd: list[str], env: dict, timeout: float, stdout_path: Path) -> int | None:
    """Run in its own process group; killed (whole group) on timeout or when we are interrupted.
    Tied to us: if we die without our finally (SIGKILL, an unhandled SIGTERM), the kernel sends it
    SIGINT (`setpriv --pdeathsig`), so it runs its rollbacks and ends instead of living on."""
    with open(stdout_path, "wb") as fh:
        proc = subprocess.Popen(["setpriv", "--pdeathsig", "INT", "--", *cmd], env=env, stdout=fh,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        finally:
            if proc.poll() is None:
                # SIGINT first: chaos then runs its rollbacks (strategy always); then the hard way.
                stop_group(proc, interrupt=120, terminate=None, kill=30)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m chaos.run", description=__doc__.splitlines()[0])
    ap.add_argument("experiments", nargs="+")
    ap.add_argument("--node", default=os.environ.get("ARCHY_NODE_URL", ""),
                    help="ssh://archipelago@host:port?disposable=1&known_hosts=... or vm://NAME "
                         "(an already running VM)")
    ap.add_argument("--out", default="chaos-results")
    ap.add_argument("--timeout", type=float, default=1800)
    a = ap.parse_args(argv)
    if not a.node:
        print("error: no node: pass --node or set ARCHY_NODE_URL", file=sys.stderr)
        return 2
    try:   # a bad URL is one line here, before any experiment starts the toolkit on it
        parse(a.node)
    except TargetError as e:
        print(f"error: --node: {e}", file=sys.stderr)
        return 2
    worst = 0
    for path in a.experiments:
        try:
            o = run(path, a.node, a.out, a.timeout)
        except ExperimentError as e:
            print(f"error: {e}", file=sys.stderr)
            worst = 2
            continue
        print(f"{'PASS' if o.passed else 'FAIL'} {o.experiment} ({o.duration:.0f}s) journal {o.journal_path}")
        for p in o.problems:
            print(f"  - {p}")
        worst = max(worst, 0 if o.passed else 1)
    return worst


if __name__ == "__main__":
    sys.exit(main())
