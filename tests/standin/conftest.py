"""Fixtures: stand-in profiles as local processes (helpers in standin_support.py)."""
from pathlib import Path

import pytest

from standin_support import PROFILE_PORTS, VECTOR_HASH, VECTOR_SALT, VECTOR_USER, Proc, free_port


@pytest.fixture
def standin(tmp_path):
    """factory(profile, app=None, ports=None, env=None, start=True) -> Proc; everything killed at teardown."""
    procs: list[Proc] = []

    def factory(profile: str, app: str | None = None, ports: dict | None = None, env: dict | None = None,
                start: bool = True, data: Path | None = None) -> Proc:
        app = app or profile
        data = data or tmp_path / app / "data"
        config = tmp_path / app / "config"
        config.mkdir(parents=True, exist_ok=True)
        ports = ports or {name: free_port() for name in PROFILE_PORTS[profile]}
        p = Proc(profile, app, data, config, ports, env or {})
        procs.append(p)
        if start:
            p.start()
        return p

    yield factory
    for p in procs:
        if p.proc and p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait(10)


@pytest.fixture
def bitcoind(standin):
    """A bitcoind stand-in whose bitcoin.conf carries the Core test vector's rpcauth line."""
    p = standin("bitcoind", "bitcoin-knots", start=False)
    (p.config / "bitcoin.conf").write_text(
        f"# derived\nserver=1\n[main]\nrpcauth={VECTOR_USER}:{VECTOR_SALT}${VECTOR_HASH}\n")
    return p.start()
