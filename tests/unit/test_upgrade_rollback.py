"""The upgrade_rollback cell's and the reference's pure parts: the v2 release, the releases the
reconciler pins."""
from __future__ import annotations

from pathlib import Path

import yaml

from harness.events.upgrade_rollback import V2_IMAGE, v2_containerfile
from reconciler import catalog as cat
from reconciler.releases import Release, pinned


def catalog_data() -> dict:
    return yaml.safe_load((Path(__file__).resolve().parents[2] / "matrix" / "apps.yaml").read_text())


def test_v2_is_the_apps_image_with_one_more_label():
    assert v2_containerfile("localhost/archy-standin:1").splitlines() == [
        "FROM localhost/archy-standin:1", "LABEL archy-release=v2"]
    assert V2_IMAGE == "localhost/archy-release:v2"


def test_a_failed_release_runs_the_last_good_one_and_only_that_app():
    c = cat.parse(catalog_data())
    bad = cat.parse({**catalog_data(), "apps": {**catalog_data()["apps"],
                                                 "lnd": {**catalog_data()["apps"]["lnd"], "image": "localhost/bad"}}})
    assert pinned(bad, {"lnd": Release("localhost/good", "localhost/bad")}).apps["lnd"].image == "localhost/good"
    assert pinned(bad, {"lnd": Release("localhost/good", "localhost/bad")}).apps["bitcoin-knots"].image == c.image
    assert pinned(bad, {"lnd": Release("localhost/good", None)}).apps["lnd"].image == "localhost/bad"
    assert pinned(bad, {"lnd": Release(None, "localhost/bad")}).apps["lnd"].image == "localhost/bad"
    assert pinned(c, {}) is c
