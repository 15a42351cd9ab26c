"""No orphan VMs (vm/proc.spawn, vm/reaper): QEMU dies with the process that started it, a run dir
is locked by its owner until the run ends, and the reaper's rules for what has no live owner.
Real processes; `sleep` stands in for QEMU where only process ties are judged."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vm import proc, reaper

ROOT = Path(__file__).resolve().parents[2]


def _gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive(pid):
            return True
        time.sleep(0.05)
    return False


PARENT = """
import sys, time
from pathlib import Path
from vm import proc
p = proc.spawn(["sleep", "300"], Path(sys.argv[1]), tied=sys.argv[2] == "tied")
print(p.pid, flush=True)
time.sleep(300)
"""


@pytest.mark.parametrize("tied", [True, False])
def test_a_tied_child_dies_with_its_sigkilled_parent(tmp_path, tied):
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path / "log"), "tied" if tied else "free"],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    try:
        assert proc.alive(child)
        parent.kill()                  # SIGKILL: no handler, no atexit runs
        parent.wait(timeout=10)
        assert _gone(child, 5) is tied
    finally:
        if proc.alive(child):
            os.kill(child, signal.SIGKILL)


def test_the_tie_is_in_place_when_spawn_returns(tmp_path):
    """setpriv sets the death signal after Popen returns; a parent killed in between (a loaded CI
    machine) left the child untied. spawn returns only once setpriv has exec'd the program."""
    for _ in range(20):
        child = proc.spawn(["sleep", "300"], tmp_path / "log", tied=True)
        try:
            assert Path(os.readlink(f"/proc/{child.pid}/exe")).name == "sleep"
        finally:
            child.kill()
            child.wait(timeout=10)


def test_the_run_dir_lock_is_held_until_released_and_dropped_by_a_dead_owner(tmp_path):
    fd = reaper.claim(tmp_path)
    assert reaper.lock_held(tmp_path)
    with pytest.raises(reaper.RunDirBusy):
        reaper.claim(tmp_path, timeout=0.2)
    reaper.release(fd)
    assert not reaper.lock_held(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c",
                               "import sys, time; from pathlib import Path; from vm import reaper; "
                               "reaper.claim(Path(sys.argv[1])); print('held', flush=True); time.sleep(300)",
                               str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    assert reaper.lock_held(tmp_path)
    holder.kill()
    holder.wait(timeout=10)
    assert not reaper.lock_held(tmp_path)


DETACHED = {"owner_pid": None}
OWNED = {"owner_pid": 4242, "owner_start": 1}


@pytest.mark.parametrize("record, owner_live, qemu_up, age, orphan", [
    (DETACHED, False, True, 999, False),   # `vm up`: lives until `down`
    (DETACHED, False, False, None, True),  # its QEMU is gone: only the dir is left
    (OWNED, True, True, 999, False),       # a live owner (its lock, or an old run's record)
    (OWNED, False, True, 999, True),       # no live owner
    (OWNED, False, False, None, True),     # no live owner, QEMU gone too
    (None, False, True, 10, False),        # QEMU just started, owner.json not yet written
    (None, False, True, 61, True),         # no owner file and a QEMU older than a minute
    (None, False, False, None, True),      # an empty leftover dir
])
def test_orphan_rules(record, owner_live, qemu_up, age, orphan):
    assert reaper.orphaned(record, owner_live, qemu_up, age) is orphan


def test_age_of_this_process_is_small_and_of_a_gone_pid_none():
    assert 0 <= proc.age(os.getpid()) < 3600
    assert proc.age(2 ** 22 + 7) is None
