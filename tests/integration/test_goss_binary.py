"""The pinned goss on the controller (harness/goss_binary.py): extracted from the .deb, and each
refusal one line. None of these needs the network."""
import re

import pytest

from harness import goss_binary
from harness.goss_binary import PIN, GossUnavailable
from helpers import pinned_goss


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHY_CACHE", str(tmp_path / "cache"))
    (tmp_path / "archives").mkdir()
    return tmp_path / "archives"


def test_a_deb_with_another_digest_is_refused(empty_cache):
    (empty_cache / PIN.deb).write_bytes(b"not the pinned package")
    with pytest.raises(GossUnavailable) as e:
        goss_binary.ensure(archives=empty_cache)
    assert str(e.value) == (f"{empty_cache / PIN.deb}: sha256 {goss_binary.sha256(empty_cache / PIN.deb)[:12]}... "
                            f"is not the pinned {PIN.deb_sha256[:12]}... of goss {PIN.version}: remove it, "
                            f"or check PIN in harness/goss_binary.py")
    assert not goss_binary.cache_dir().exists()


def test_no_apt_is_one_line(empty_cache, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))          # no apt-get on it
    with pytest.raises(GossUnavailable, match=r"^apt-get not found: the pinned goss 0\.4\.9-2\+b3 is Debian's "
                                              r"package \(a Debian controller fetches it\), or install goss on "
                                              r"the node$"):
        goss_binary.ensure(archives=empty_cache)


def test_a_cached_binary_is_checked_again(empty_cache):
    d = goss_binary.cache_dir()
    d.mkdir(parents=True)
    (d / "goss").write_bytes(b"#!/bin/sh\n")
    with pytest.raises(GossUnavailable, match=re.escape(f"not the pinned goss {PIN.version}") + ".*"
                                              + re.escape(f": delete {d} and run again")):
        goss_binary.ensure(archives=empty_cache)


def test_the_real_deb_extracts_the_pinned_binary(empty_cache):
    """From apt's cache (here: a copy of the one fetched before), without the network."""
    deb = pinned_goss().path.parent / PIN.deb
    if not deb.is_file():
        pytest.skip(f"{deb} is not kept in this cache")
    (empty_cache / PIN.deb).write_bytes(deb.read_bytes())
    got = goss_binary.ensure(archives=empty_cache)
    assert got.path == goss_binary.cache_dir() / "goss" and goss_binary.sha256(got.path) == PIN.bin_sha256
    assert sorted(p.name for p in goss_binary.cache_dir().iterdir()) == ["goss", PIN.deb]
