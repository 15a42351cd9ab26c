"""make beta-matrix CHAOS=1 / CHAOS_EXPERIMENTS=a,b: the chaos suite after the grid into the same
results, merged, reported and gated (make -n: the commands only); an unknown experiment name is one
line listing the known ones, exit 2, before anything runs."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def dry_run(*variables):
    r = subprocess.run(["make", "-n", "beta-matrix", *variables], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return [" ".join(line.split()) for line in r.stdout.splitlines()]


def test_chaos_runs_after_the_grid_into_the_same_results():
    lines = dry_run("CHAOS=1", "CHAOS_EXPERIMENTS=clock_jump", "SOAK_RESULTS=results/soak/latest")
    at = {what: next(i for i, line in enumerate(lines) if what in line) for what in (
        "-m chaos.catalog --check 'clock_jump'", "-m pytest tests/grid",
        "ARCHY_CHAOS_SUITE=all ARCHY_CHAOS_EXPERIMENTS='clock_jump' .venv/bin/python -m pytest "
        "tests/chaos/test_experiments.py",
        "--results-dir results --junitxml results/chaos/junit.xml --alluredir results/chaos/allure",
        "-m harness.chaos_cells results/cells.json --experiments 'clock_jump'",
        "-m harness.report results/cells.json --print --soak-results 'results/soak/latest'",
        "ci/gate results/cells.json $prev --soak-results 'results/soak/latest' --write results/gate.json",
        "-m harness.report results/cells.json --soak-results 'results/soak/latest' >/dev/null; exit $rc")}
    assert list(at.values()) == sorted(at.values()), at
    gate = at["ci/gate results/cells.json $prev --soak-results 'results/soak/latest' --write results/gate.json"]
    assert lines[gate - 1] == "prev=--selection; rc=0; set -x; \\"      # the run's selection is what is required


def test_chaos_experiments_alone_turns_the_chaos_suite_on_and_without_either_it_stays_off():
    assert any("ARCHY_CHAOS_EXPERIMENTS='kill9_tor'" in line for line in dry_run("CHAOS_EXPERIMENTS=kill9_tor"))
    lines = dry_run("CHAOS=1")
    assert any("ARCHY_CHAOS_EXPERIMENTS=''" in line for line in lines)
    assert not any("prev=--selection" in line for line in lines)     # the whole suite is required
    assert not any("chaos" in line for line in dry_run())


def test_an_unknown_experiment_is_one_line_listing_the_known_ones():
    r = subprocess.run([sys.executable, "-m", "chaos.catalog", "--check", "clock_jump,clock_jmp"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.startswith("chaos: unknown experiment(s) 'clock_jmp'; known: clock_jump, corrupt_bitcoin_conf, ")
    assert r.stderr.count("\n") == 1
