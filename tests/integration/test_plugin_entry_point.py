"""The plugin loads through its pytest11 entry point: a user's own test directory, outside this
repository and without a conftest, gets the options and the `node` fixture; `-p no:archy` turns
it off (what pytester runs with their own stand-ins use)."""
import subprocess
import sys
from pathlib import Path


def run(tmp_path, *args):
    (tmp_path / "test_mine.py").write_text("def test_uses_the_fixture(node):\n    pass\n")
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


def test_options_and_fixtures_outside_the_repository(tmp_path):
    r = run(tmp_path, "--help")
    assert "--node=URL" in r.stdout and "--apps=A,B" in r.stdout
    r = run(tmp_path, "--fixtures")
    assert r.returncode == 0, r.stderr
    assert "node [session scope]" in r.stdout and "harness/plugin.py" in r.stdout


def test_p_no_archy_turns_it_off(tmp_path):
    r = run(tmp_path, "-p", "no:archy", "--help")
    assert "--node=URL" not in r.stdout


def test_host_is_the_nodes_testinfra_host_even_beside_testinfras_plugin(tmp_path):
    (tmp_path / "test_mine.py").write_text("def test_h(host):\n    pass\n")
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--fixtures-per-test",
                        "test_mine.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "host -- " in r.stdout and "harness/plugin.py" in r.stdout.split("host -- ", 1)[1].splitlines()[0]
    assert "testinfra's Host on the session's node" in r.stdout


def test_testinfras_own_options_are_off_in_this_repository():
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, "-m", "pytest", "--help"], cwd=root, capture_output=True, text=True,
                       timeout=120)
    assert "--node=URL" in r.stdout and "--hosts=" not in r.stdout and "--nagios" not in r.stdout
