"""Fixtures: one real sshd per session and a connected SSHNode per test."""
import pytest

from sshd_helper import Sshd


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    s = Sshd(tmp_path_factory.mktemp("sshd"))
    yield s
    s.stop()


@pytest.fixture
def ssh_node(sshd):
    n = sshd.node()
    yield n
    n.close()
