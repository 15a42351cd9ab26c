"""The chaos CLI dies with its runner: a SIGKILLed pytest leaves no `chaos run` behind, and the
orphan gets SIGINT (its rollbacks run), not SIGKILL (chaos/run.py _run_bounded)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from node.api import poll

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent("""
    import pathlib, signal, sys, time
    d = pathlib.Path(sys.argv[1])
    def interrupted(*_):
        (d / "interrupted").write_text("SIGINT")
        sys.exit(130)
    signal.signal(signal.SIGINT, interrupted)
    (d / "ready").write_text("")
    for _ in range(600):          # bounded: a minute at most if the tie did not hold
        time.sleep(0.1)
""")


def test_a_killed_runner_interrupts_its_chaos_process(tmp_path):
    runner = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from chaos.run import _run_bounded
        _run_bounded([sys.executable, "-c", {CHILD!r}, {str(tmp_path)!r}], dict(os.environ), 60,
                     Path({str(tmp_path / "out.log")!r}))
    """)
    proc = subprocess.Popen([sys.executable, "-c", runner], start_new_session=True)
    try:
        assert poll(lambda: (tmp_path / "ready").exists(), 30, 0.05), "the chaos stand-in never started"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert poll(lambda: (tmp_path / "interrupted").exists(), 10, 0.05), \
            "the chaos process outlived its SIGKILLed runner without a SIGINT"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
