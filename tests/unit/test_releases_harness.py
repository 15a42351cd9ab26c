"""The releases the harness hands a node (broken_install, upgrade_rollback): their Containerfiles,
the catalog that names them."""
from __future__ import annotations

import json

import pytest

from harness.checks.releases import BROKEN_IMAGE, SAYS, V2_IMAGE, broken_containerfile, v2_containerfile, with_image


def test_the_broken_release_is_the_apps_image_exiting_at_once():
    text = broken_containerfile("localhost/archy-standin:1")
    first, second = text.splitlines()
    assert first == "FROM localhost/archy-standin:1"
    entry = json.loads(second.removeprefix("ENTRYPOINT "))
    assert entry[:2] == ["/usr/bin/python3", "-c"] and SAYS in entry[2] and "sys.exit" in entry[2]


def test_only_the_apps_release_changes_in_the_catalog():
    cat = {"image": "localhost/archy-standin:1", "apps": {"lnd": {"title": "LND"}, "mempool": {"image": "x"}},
           "companions": {"archy-lnd-ui": {}}}
    got = with_image(cat, "lnd", BROKEN_IMAGE)
    assert got["apps"]["lnd"] == {"title": "LND", "image": BROKEN_IMAGE}
    assert got["apps"]["mempool"] == {"image": "x"} and got["companions"] == cat["companions"]
    assert cat["apps"]["lnd"] == {"title": "LND"}          # the original is left as it was
    with pytest.raises(KeyError):
        with_image(cat, "nope", BROKEN_IMAGE)


def test_v2_is_the_apps_image_with_one_more_label():
    assert v2_containerfile("localhost/archy-standin:1").splitlines() == [
        "FROM localhost/archy-standin:1", "LABEL archy-release=v2"]
    assert V2_IMAGE == "localhost/archy-release:v2" and BROKEN_IMAGE.startswith("localhost/archy-")
