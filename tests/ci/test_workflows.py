"""The Gitea workflows (.gitea/workflows/): actionlint and check-jsonschema through
ci/workflow_lint.py, each shown failing on a broken workflow; the repository's own checks; the
helper scripts the workflows call."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".gitea" / "workflows").glob("*.yml"))
sys.path.insert(0, str(ROOT / "ci"))
import workflow_lint  # noqa: E402


def test_three_workflows_exist():
    assert {p.name for p in WORKFLOWS} == {"beta-matrix.yml", "nightly-soak.yml", "weekly-chaos.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_uploads_artifacts_always_and_ends_with_the_deciding_step(path):
    doc = yaml.safe_load(path.read_text())
    (job,) = doc["jobs"].values()
    steps = job["steps"]
    upload = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    assert upload and all(s.get("if") == "always()" for s in upload)
    assert steps[-1].get("if") == "always()" and "continue-on-error" not in steps[-1]
    work = [s for s in steps if "ci/vm_runner.sh" in str(s.get("run", ""))]
    assert work and all(s.get("continue-on-error") is True for s in work)   # the last step decides


def test_triggers():
    on = {p.name: yaml.load(p.read_text(), Loader=yaml.BaseLoader)["on"] for p in WORKFLOWS}
    assert {"push", "pull_request"} <= set(on["beta-matrix.yml"])
    assert on["nightly-soak.yml"]["schedule"][0]["cron"].split()[2:] == ["*", "*", "*"]     # daily
    assert on["weekly-chaos.yml"]["schedule"][0]["cron"].split()[2:] == ["*", "*", "0"]     # Sundays


def test_every_job_runs_on_the_documented_runner_label():
    readme = (ROOT / "README.md").read_text()
    label = yaml.safe_load((ROOT / ".gitea" / "actionlint.yaml").read_text())["self-hosted-runner"]["labels"]
    assert label == ["archy-lifecycle"] and "act_runner register --labels archy-lifecycle:host" in readme
    for p in WORKFLOWS:
        for job in yaml.safe_load(p.read_text())["jobs"].values():
            assert job["runs-on"] == "archy-lifecycle", p.name


def test_the_workflows_pass_actionlint_the_schema_and_the_repository_checks():
    assert workflow_lint.lint(WORKFLOWS) == []


def _broken(tmp_path, name, old, new):
    """A copy of one workflow with one change, under tmp_path/.gitea/workflows/ (where actionlint's
    path-scoped ignores apply, as in the repository)."""
    text = (ROOT / ".gitea" / "workflows" / name).read_text()
    assert old in text, f"{old!r} not in {name}"
    bad = tmp_path / ".gitea" / "workflows" / name
    bad.parent.mkdir(parents=True)
    bad.write_text(text.replace(old, new, 1))
    return bad


BROKEN = {   # (workflow, old, new, what a problem line must say, which check says it)
    "typo in an input": ("nightly-soak.yml", "${{ inputs.duration", "${{ inputs.durration", "durration", "actionlint"),
    "unknown step id": ("weekly-chaos.yml", "steps.prove.outcome", "steps.prov.outcome", '"prov"', "actionlint"),
    "unknown runner label": ("beta-matrix.yml", "runs-on: archy-lifecycle", "runs-on: archy-lifecyle",
                             "archy-lifecyle", "actionlint"),
    "schema: timeout is a string": ("beta-matrix.yml", "timeout-minutes: 180", "timeout-minutes: [180]",
                                    "schema:", "check-jsonschema"),
    "missing script": ("beta-matrix.yml", "ci/collect_artifacts.sh", "ci/collect.sh", "ci/collect.sh", "repository"),
    "unknown make target": ("beta-matrix.yml", "vm_runner.sh beta-matrix", "vm_runner.sh beta-matrixx",
                            "make target 'beta-matrixx'", "repository"),
    "script outlives the job": ("nightly-soak.yml", "ARCHY_CI_TIMEOUT: 410m", "ARCHY_CI_TIMEOUT: 7h",
                                "not under the job's timeout-minutes 420", "repository"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_workflow_is_caught(case, tmp_path):
    name, old, new, expect, _by = BROKEN[case]
    problems = workflow_lint.lint([_broken(tmp_path, name, old, new)], root=tmp_path)
    assert any(expect in p for p in problems), problems


def test_the_github_only_warnings_are_ignored_by_name_not_wholesale(tmp_path):
    """The ignore list drops node20 and upload-artifact@v3 only: a retired action of another kind still fails."""
    problems = workflow_lint.actionlint([_broken(tmp_path, "beta-matrix.yml", "actions/checkout@v4",
                                                 "actions/checkout@v1")], root=tmp_path)
    assert any("actions/checkout@v1" in p for p in problems), problems


def test_lint_cli_exit_codes(tmp_path):
    py = sys.executable
    ok = subprocess.run([py, str(ROOT / "ci" / "workflow_lint.py")], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    gone = subprocess.run([py, str(ROOT / "ci" / "workflow_lint.py"), str(tmp_path / "nope.yml")],
                          capture_output=True, text=True, timeout=60)
    assert gone.returncode == 2 and "no such workflow file" in gone.stderr and "Traceback" not in gone.stderr


@pytest.mark.parametrize("value, expect", [("170m", 170), ("6h", 360), ("600s", 10), ("600", 10), ("1d", 1440),
                                           ("soon", None), ("", None)])
def test_timeout_durations(value, expect):
    assert workflow_lint.minutes(value) == expect


def test_vm_runner_rejects_an_unknown_target():
    r = subprocess.run([str(ROOT / "ci" / "vm_runner.sh"), "deploy"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "usage: ci/vm_runner.sh" in r.stderr


def test_collect_artifacts(tmp_path):
    res = tmp_path / "results"
    (res / "allure").mkdir(parents=True)
    (res / "allure" / "x-result.json").write_text("{}")
    (res / "cells.json").write_text('{"cells": []}')
    (res / "grid.md").write_text("# Lifecycle matrix\n")
    cell = res / "artifacts" / "vm0" / "lnd-fresh_install"
    cell.mkdir(parents=True)
    (cell / "journal.txt").write_text("-- journal --")
    (res / "grid.html").write_text('<a href="artifacts/vm0/lnd-fresh_install/">x</a>'
                                   '<a href="artifacts/vm0/lnd-fresh_install/journal.txt">journal.txt</a>'
                                   '<a href="soak/latest/report.html">soak report</a>')
    run = res / "soak" / "20260101-000000-vm0"
    run.mkdir(parents=True)
    for f in ("report.html", "summary.md", "timeline.jsonl"):
        (run / f).write_text(f)
    (res / "soak" / "latest").symlink_to(run.name)
    summary = tmp_path / "summary.md"
    env = {**os.environ, "RESULTS": str(res), "ARCHY_RUN": str(tmp_path / "runs"), "GITHUB_STEP_SUMMARY": str(summary)}
    r = subprocess.run([str(ROOT / "ci" / "collect_artifacts.sh"), str(tmp_path / "out")], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out"
    assert (out / "allure-results" / "x-result.json").exists() and (out / "soak" / "latest" / "report.html").is_file()
    assert "junit.xml" in (out / "MISSING.txt").read_text()       # a missing piece is listed, not fatal
    links = re.findall(r'href="([^"]+)"', (out / "grid.html").read_text())
    assert links and all((out / link).exists() for link in links)   # the grid's links work in the bundle
    assert "# Lifecycle matrix" in summary.read_text() and "summary.md" in summary.read_text()


def test_check_bundle_finds_a_broken_link_and_passes_a_whole_bundle(tmp_path):
    sys.path.insert(0, str(ROOT / "ci"))
    import check_bundle
    (tmp_path / "artifacts" / "vm0" / "a").mkdir(parents=True)
    (tmp_path / "artifacts" / "vm0" / "a" / "journal.txt").write_text("j")
    (tmp_path / "grid.html").write_text('<a href="artifacts/vm0/a/">a</a><a href="artifacts/vm0/a/journal.txt">j</a>'
                                        '<a href="https://example.org/">x</a><a href="#levels">l</a>')
    assert check_bundle.broken(tmp_path) == []
    (tmp_path / "grid.html").write_text('<a href="cell-artifacts/vm0/a/">a</a><img src="../outside.png">')
    assert check_bundle.broken(tmp_path) == ["grid.html: cell-artifacts/vm0/a/", "grid.html: ../outside.png"]
