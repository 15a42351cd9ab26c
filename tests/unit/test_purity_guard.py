"""The guard of tests/unit/conftest.py refuses processes and sockets before they start."""
import os
import socket
import subprocess
import sys

import pytest


def connect():
    with socket.socket() as s:
        s.connect(("127.0.0.1", 9))


def bind():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))


@pytest.mark.parametrize("start", [
    lambda: subprocess.run([sys.executable, "-c", "pass"]),
    lambda: subprocess.check_output("true", shell=True),
    lambda: os.system("true"),
    connect,
    bind,
], ids=["subprocess.run", "check_output", "os.system", "connect", "bind"])
def test_refused(start):
    with pytest.raises(AssertionError, match=r"^tests/unit is pure: .* called \(move the test to tests/integration\)$"):
        start()
