"""EnsureDir on the real filesystem: the mode, and the catalog's data_owner (seed 003's electrumx volume)."""
from __future__ import annotations

import os
import stat

import pytest

from reconciler.apply import Applier
from reconciler.model import EnsureDir


def test_a_dir_without_owner_keeps_the_daemons(tmp_path):
    path = tmp_path / "apps" / "lnd"
    [out], _ = Applier(runner=None, root=str(tmp_path)).apply(
        (EnsureDir(app="lnd", path=str(path), mode=0o750),), {}, 0.0)
    st = path.stat()
    assert out.ok and stat.S_IMODE(st.st_mode) == 0o750 and st.st_uid == os.geteuid()


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")
def test_a_dir_with_an_owner_is_chowned_to_it(tmp_path):
    path = tmp_path / "apps" / "electrumx"
    [out], _ = Applier(runner=None, root=str(tmp_path)).apply(
        (EnsureDir(app="electrumx", path=str(path), mode=0o750, owner="1:1"),), {}, 0.0)
    st = path.stat()
    assert out.ok and (st.st_uid, st.st_gid) == (1, 1) and stat.S_IMODE(st.st_mode) == 0o750
    assert "owner 1:1" in out.step.describe()
