"""The config_drift cell's pure parts: restarts counted from systemd's own journal lines, the
derived files named by the platform profile."""
from __future__ import annotations

import pytest

from harness.events.config_drift import restart_problems
from harness.journal import UNIT_STARTED, unit_starts
from node.names import REFERENCE, ROOTFUL
from node.platform import load


def started(unit: str, user: bool = False) -> dict:
    return {"MESSAGE_ID": UNIT_STARTED, ("USER_UNIT" if user else "UNIT"): unit, "MESSAGE": f"Started {unit}."}


def test_starts_are_counted_for_the_unit_in_either_scope():
    entries = [started("lnd.service", user=True), {"MESSAGE": "Started lnd.service.", "UNIT": "lnd.service"},
               started("bitcoin-knots.service", user=True), started("archy-lnd.service"), started("lnd.service")]
    assert unit_starts(entries, "lnd.service") == 2          # a message without systemd's id is no start
    assert unit_starts(entries, "archy-lnd.service") == 1
    assert unit_starts([], "lnd.service") == 0


@pytest.mark.parametrize("starts,want", [(1, []), (0, ["never restarted"]), (3, ["restarted 3 times"])])
def test_exactly_one_restart(starts, want):
    got = restart_problems(starts, "lnd.service", "/x/lnd.conf")
    assert len(got) == len(want) and all(w in g for w, g in zip(want, got))


def test_the_profiles_name_the_derived_files_the_reference_writes():
    for profile, names in (("reference", REFERENCE), ("reference-rootful", ROOTFUL)):
        loaded = load(profile).names
        assert loaded.configs == names.configs
        assert loaded.derived_configs("lnd") == names.derived_configs("lnd")
    assert REFERENCE.derived_configs("lnd") == ("/var/lib/archipelago/lnd/config/lnd.conf",
                                                "/var/lib/archipelago/lnd/config/integrations.json")
    assert ROOTFUL.derived_configs("electrumx")[0] == "/var/lib/archipelago/config/electrumx/electrumx.env"
    assert load("archipelago").names.derived_configs("bitcoin-knots")[0].endswith("/bitcoin-knots/config/bitcoin.conf")
    assert REFERENCE.derived_configs("archy-bitcoin-ui") == ()
