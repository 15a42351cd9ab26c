"""The broken_install cell's pure parts: the broken release's Containerfile, the catalog it names."""
from __future__ import annotations

import json

import pytest

from harness.events.broken_install import BROKEN_IMAGE, SAYS, containerfile, with_image


def test_the_broken_release_is_the_apps_image_exiting_at_once():
    text = containerfile("localhost/archy-standin:1")
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
