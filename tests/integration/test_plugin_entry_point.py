"""The plugin loads through its pytest11 entry point: a user's own test directory, outside this
repository and without a conftest, gets the options and the `node` fixture; `-p no:archy` turns
it off (what pytester runs with their own stand-ins use)."""
import subprocess
import sys


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
