"""tests/unit is pure: no process, no socket. The autouse guard makes that a rule rather than a
promise; a test that needs a child process, a server or curl belongs in tests/integration."""
import os
import socket
import subprocess

import pytest

# where every way of starting a process or opening a connection passes (subprocess.run and
# check_output end in Popen._execute_child, socket.create_connection in socket.connect)
_IMPURE = ((subprocess.Popen, "_execute_child"), (os, "system"), (os, "fork"), (os, "posix_spawn"),
           (os, "posix_spawnp"), (socket.socket, "connect"), (socket.socket, "connect_ex"),
           (socket.socket, "bind"))


@pytest.fixture(autouse=True)
def _pure(monkeypatch):
    for owner, name in _IMPURE:
        def refuse(*_a, _what=f"{owner.__name__}.{name}", **_k):
            raise AssertionError(f"tests/unit is pure: {_what} called (move the test to tests/integration)")
        monkeypatch.setattr(owner, name, refuse)
