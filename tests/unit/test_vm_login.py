"""The embedded VM's sudo login (the rehearsal of a real node's `archipelago@host` + sudo): its
name, its sudoers rule, and that adding it rebuilds the base image and so the golden state."""
from pathlib import Path

import pytest

from node.names import HARNESS
from node.platform import load
from vm import golden, image
from vm.errors import VMError
from vm.image import BaseImage

PASSWD = ("root:x:0:0:root:/root:/bin/bash\n"
          "sshd:x:101:65534::/run/sshd:/usr/sbin/nologin\n"
          "archipelago:x:1000:1000::/home/archipelago:/bin/bash\n")


def test_the_login_is_the_seeds_and_every_reference_profiles():
    assert HARNESS.login == "archipelago" == image.LOGIN
    assert {load(p).login for p in golden.PROFILES} == {image.LOGIN}
    assert "sudo" in image.PACKAGES and {"uidmap", "dbus-user-session"} <= set(image.PACKAGES)


def test_root_cannot_log_in():
    sshd = image.FILES["etc/ssh/sshd_config.d/archy.conf"]
    assert "PermitRootLogin no\n" in sshd and "PasswordAuthentication no\n" in sshd


def test_its_sudoers_rule_is_passwordless_root_and_nothing_else():
    rule = image.sudoers("archipelago")
    lines = [x for x in rule.splitlines() if x and not x.startswith("#")]
    assert lines == ["archipelago ALL=(root) NOPASSWD: ALL"]
    assert rule.endswith("\n")          # visudo wants the last line terminated


def test_uid_and_gid_come_from_the_image_s_passwd():
    assert image.passwd_ids(PASSWD, "archipelago") == (1000, 1000)
    assert image.passwd_ids(PASSWD, "root") == (0, 0)
    with pytest.raises(VMError, match="user nobody2 not in the image's /etc/passwd"):
        image.passwd_ids(PASSWD, "nobody2")


def test_the_login_is_part_of_the_base_recipe(monkeypatch):
    h = image.recipe_hash()
    monkeypatch.setattr(image, "LOGIN", "someoneelse")
    assert image.recipe_hash() != h


def test_a_new_base_means_a_new_golden_state():
    """golden_key starts from the base hash: the base with the login is provisioned afresh (and
    find_seed only seeds from goldens of the same base)."""
    repo = Path(__file__).resolve().parents[2]
    old, new = BaseImage(Path("/c/base-0123456789abcdef")), BaseImage(Path("/c/base-fedcba9876543210"))
    assert golden.golden_key(old, repo, True) != golden.golden_key(new, repo, True)
    assert golden.golden_key(old, repo, False) != golden.golden_key(new, repo, False)
