"""Every output of a pytest run is redacted at its end, on the controller, with the secrets every
process learned: a child pytest plants a secret that reaches junit.xml, an Allure result and an
artifact, alone and on two xdist workers (whose secrets reach the controller in workeroutput)."""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.outputs import redact_outputs, written_files

ROOT = Path(__file__).resolve().parents[2]
SECRET = "Planted5ecret-q81xWv0"          # not secret-shaped: only the learned value can mask it
LEAKY = f'''
import json
from pathlib import Path

import allure
import pytest

from harness import artifacts

SECRET = {SECRET!r}


@pytest.mark.parametrize("n", [1, 2])
def test_leaks(n, pytestconfig):
    artifacts.register_secret(SECRET)           # what learn_node_secrets does with a node's files
    print(f"stdout has {{SECRET}}")
    allure.attach(f"attached {{SECRET}}", name="log", attachment_type=allure.attachment_type.TEXT)
    d = Path(pytestconfig.option.results_dir) / "artifacts" / f"cell{{n}}"
    d.mkdir(parents=True, exist_ok=True)
    (d / "journal.txt").write_text(f"journal line {{SECRET}}\\n")
    (d / "inspect.json").write_text(json.dumps([{{"Env": [f"X={{SECRET}}"]}}], indent=1))
    (d / "core.bin").write_bytes(b"\\0ELF" + SECRET.encode())
    assert f"value {{SECRET}}" == "expected"
'''


def run_child(tmp_path: Path, *args: str, source: str = LEAKY, rc: int = 1) -> tuple[Path, str]:
    (tmp_path / "conftest.py").write_text('# harness.plugin: the pytest11 entry point archy\n')
    (tmp_path / "test_leaky.py").write_text(source)
    results = tmp_path / "results"
    results.mkdir()
    old = results / "previous-run.txt"               # an earlier run's file: not this run's to rewrite
    old.write_text(f"kept {SECRET}\n")
    os.utime(old, (1_000_000, 1_000_000))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-o", "junit_logging=all",
                        "--results-dir", str(results), *args], cwd=tmp_path, capture_output=True, text=True,
                       timeout=180, env=env)
    assert r.returncode == rc, r.stdout + r.stderr
    return results, r.stdout + r.stderr


def hits(results: Path) -> list[str]:
    return sorted(str(p.relative_to(results)) for p in results.rglob("*")
                  if p.is_file() and SECRET.encode() in p.read_bytes())


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "two xdist workers"])
def test_a_planted_secret_is_in_no_output(tmp_path, workers):
    results, out = run_child(tmp_path, *workers)
    assert hits(results) == ["artifacts/cell1/core.bin", "artifacts/cell2/core.bin", "previous-run.txt"], out
    assert SECRET not in out and "assert 'value ***' == 'expected'" in out      # the console too
    # the audit after the sweep names what redaction cannot rewrite (a binary file), never the value
    leaks = [line for line in out.splitlines() if "SECRET LEAK after redaction" in line]
    assert len(leaks) == 2 and all("core.bin: 1 occurrence(s) of secret #1" in line for line in leaks), out
    junit = ET.parse(results / "junit.xml").getroot()              # still well-formed
    failures = [f.get("message") for f in junit.iter("failure")]
    assert len(failures) == 2 and all("***" in m for m in failures)
    allure_json = [json.loads(p.read_text()) for p in (results / "allure").glob("*-result.json")]
    assert len(allure_json) == 2 and all("***" in r["statusDetails"]["message"] for r in allure_json)
    attachments = [p.read_text() for p in (results / "allure").glob("*-attachment.txt")]
    assert sorted(set(attachments)) == ["attached ***", "stdout has ***\n"]     # Allure keeps stdout too
    inspect = json.loads((results / "artifacts" / "cell1" / "inspect.json").read_text())
    assert inspect == [{"Env": ["X=***"]}]


def test_the_sweep_takes_only_this_runs_regular_files(tmp_path):
    root = tmp_path / "results"
    (root / "a").mkdir(parents=True)
    new, old = root / "a" / "new.log", root / "old.log"
    new.write_text("rpcpassword=Zq81xWv0aa77\n")
    old.write_text("rpcpassword=Zq81xWv0aa77\n")
    os.utime(old, (1_000_000, 1_000_000))
    outside = tmp_path / "outside.log"
    outside.write_text("rpcpassword=Zq81xWv0aa77\n")
    (root / "link.log").symlink_to(outside)
    assert written_files([root, root / "a" / "new.log"], since=2_000_000) == [new]
    sweep = redact_outputs([root], since=2_000_000, secrets=[])
    assert sweep.redacted == [new] and sweep.errors == []
    assert new.read_text() == "rpcpassword=***\n"
    assert old.read_text() == outside.read_text() == "rpcpassword=Zq81xWv0aa77\n"


PASSING_BUT_LEAKY = f'''
from pathlib import Path

from harness import artifacts


def test_passes(pytestconfig):
    artifacts.register_secret({SECRET!r})
    d = Path(pytestconfig.option.results_dir) / "artifacts"
    d.mkdir(parents=True, exist_ok=True)
    (d / "clean.txt").write_text("a line with {SECRET}\\n")      # redacted by the sweep
    CORE
'''


@pytest.mark.parametrize("leak", [False, True], ids=["clean", "binary leak"])
def test_a_secret_left_after_redaction_fails_a_passing_run(tmp_path, leak):
    core = f'(d / "core.bin").write_bytes(b"\\0ELF" + {SECRET!r}.encode())' if leak else "pass"
    results, out = run_child(tmp_path, source=PASSING_BUT_LEAKY.replace("CORE", core), rc=1 if leak else 0)
    assert hits(results) == (["artifacts/core.bin"] if leak else []) + ["previous-run.txt"], out
    assert f"searched for 1 node secret value(s): {int(leak)} leak(s)" in out, out
    assert SECRET not in out
