"""harness/revision.py: the commit under test is git's HEAD of the checkout; none outside one."""
import subprocess
from pathlib import Path

from harness import revision

ROOT = Path(__file__).resolve().parents[2]


def test_the_checkouts_head_and_none_outside_a_checkout(tmp_path):
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert revision.commit() == head and len(head) == 40
    assert revision.commit(tmp_path) is None
