"""ci/side_by_side.py: make test's two sequences at once, every exit status and summary kept."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNNER = [sys.executable, str(ROOT / "ci" / "side_by_side.py")]


def run(tmp_path, *args, timeout=60):
    p = subprocess.run([*RUNNER, "--results-dir", str(tmp_path), *args], capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout


def test_both_sequences_run_and_the_background_output_follows_the_foreground(tmp_path):
    rc, out = run(tmp_path, "--background", "sh -c 'sleep 0.5; echo bg one'", "--background", "echo bg two",
                  "--", "echo fg one", "echo fg two")
    assert rc == 0, out
    assert out.index("fg two") < out.index("background sequence") < out.index("bg one") < out.index("bg two")


def test_a_failure_on_either_side_is_the_exit_status_and_the_rest_still_runs(tmp_path):
    rc, out = run(tmp_path, "--background", "sh -c 'exit 3'", "--background", "echo after", "--", "true")
    assert rc == 3 and "after" in out
    rc, out = run(tmp_path, "--background", "sh -c 'exit 3'", "--", "sh -c 'exit 2'", "echo next")
    assert rc == 2 and "next" in out


def test_the_deadline_stops_a_background_command_that_hangs(tmp_path):
    t = time.monotonic()
    rc, out = run(tmp_path, "--timeout", "2", "--background", "sleep 300", "--", "true")
    assert rc == 124 and "past its deadline" in out and time.monotonic() - t < 60


def test_sigterm_stops_both_sides_and_leaves_no_process(tmp_path):
    marker = f"side-by-side-{os.getpid()}"
    p = subprocess.Popen([*RUNNER, "--results-dir", str(tmp_path), "--background",
                          f"bash -c 'exec -a {marker}-bg sleep 300'", "--", f"bash -c 'exec -a {marker}-fg sleep 300'"],
                         stdout=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 20
    while subprocess.run(["pgrep", "-f", f"^{marker}-"], capture_output=True).stdout.count(b"\n") < 2:
        assert time.monotonic() < deadline, "the two sleeps never started"
        time.sleep(0.1)
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=60)
    assert p.returncode == 130, out
    assert subprocess.run(["pgrep", "-f", f"^{marker}-"], capture_output=True).returncode == 1, \
        "a sleep outlived the runner"


def test_an_empty_command_is_a_usage_error(tmp_path):
    rc, _ = run(tmp_path, "--background", "", "--", "true")
    assert rc == 2


def test_a_previous_log_goes_and_only_inside_the_results_dir(tmp_path):
    (tmp_path / "test-background.log").write_text("the previous run's lines\n")
    rc, out = run(tmp_path, "--background", "echo this run", "--", "true")
    assert rc == 0 and "this run" in out and "previous run" not in out
    for root in ("/", str(Path.home())):
        p = subprocess.run([*RUNNER, "--results-dir", root, "--background", "true", "--", "true"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 2 and "refusing to delete" in p.stderr and "Traceback" not in p.stderr, p.stderr
