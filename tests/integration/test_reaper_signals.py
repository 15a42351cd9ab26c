"""vm.reaper tears the VMs down on SIGINT/SIGTERM, but only when the process does not ignore the
signal: a grid started as a background job (SIGINT ignored, POSIX) must not lose its VM to a
Ctrl-C meant for the foreground, and then run on against a node that is gone."""
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import os, signal, sys, time
from vm import reaper
reaper.track(1, lambda: print("torn down", flush=True))
try:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.5)
    print("still running", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


@pytest.mark.parametrize("ignored, expected", [(False, ["torn down", "interrupted"]), (True, ["still running"])])
def test_sigint_tears_down_only_when_it_is_not_ignored(ignored, expected):
    # explicit either way: a pytest started as a background job hands its children SIGINT ignored
    disposition = signal.SIG_IGN if ignored else signal.SIG_DFL
    pre = lambda: signal.signal(signal.SIGINT, disposition)  # noqa: E731
    r = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True,
                       timeout=30, preexec_fn=pre)
    assert r.stdout.split("\n")[:len(expected)] == expected, r.stdout + r.stderr
