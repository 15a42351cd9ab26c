"""The reference's release rollback, pure part: the releases the reconciler pins."""
from __future__ import annotations

from pathlib import Path

import yaml

from reconciler import catalog as cat
from reconciler.releases import Release, pinned


def catalog_data() -> dict:
    return yaml.safe_load((Path(__file__).resolve().parents[2] / "matrix" / "apps.yaml").read_text())


def test_a_failed_release_runs_the_last_good_one_and_only_that_app():
    c = cat.parse(catalog_data())
    bad = cat.parse({**catalog_data(), "apps": {**catalog_data()["apps"],
                                                 "lnd": {**catalog_data()["apps"]["lnd"], "image": "localhost/bad"}}})
    assert pinned(bad, {"lnd": Release("localhost/good", "localhost/bad")}).apps["lnd"].image == "localhost/good"
    assert pinned(bad, {"lnd": Release("localhost/good", "localhost/bad")}).apps["bitcoin-knots"].image == c.image
    assert pinned(bad, {"lnd": Release("localhost/good", None)}).apps["lnd"].image == "localhost/bad"
    assert pinned(bad, {"lnd": Release(None, "localhost/bad")}).apps["lnd"].image == "localhost/bad"
    assert pinned(c, {}) is c
