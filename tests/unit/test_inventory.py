"""Leftover inventory: parsing and the diff, witness checks (pure halves)."""
from functools import partial

import pytest

from harness import inventory
from harness.inventory import check_witnesses, diff, format_diff
from node.names import REFERENCE, ROOTFUL

parse = partial(inventory.parse, names=ROOTFUL)

BEFORE = """@@section containers
archy-bitcoin-knots
archy-archy-bitcoin-ui
@@section volumes
@@section networks
archy
podman
@@section images
localhost/archy-standin:1 0123abcd
@@section quadlet
/etc/containers/systemd/archy-bitcoin-knots.container
/etc/containers/systemd/archy.network
@@section units
archy-bitcoin-knots.service loaded active running archy-bitcoin-knots
archy-ghost.service not-found inactive dead archy-ghost.service
@@section ports
LISTEN 0 4096 0.0.0.0:8332 0.0.0.0:* users:(("conmon",pid=1234,fd=5))
LISTEN 0 128 127.0.0.1:5678 0.0.0.0:* users:(("python3",pid=99,fd=3))
@@section nginx
/etc/nginx/archy.d/bitcoin-knots.conf
@@section tor
/var/lib/tor/archy-bitcoin-knots
"""

AFTER_LND = BEFORE.replace("archy-archy-bitcoin-ui\n", "archy-archy-bitcoin-ui\narchy-lnd\n") \
    .replace("archy.network\n", "archy.network\n/etc/containers/systemd/archy-lnd.container\n") \
    .replace("pid=1234", "pid=4321")  # a restarted process: same listener, new pid


def test_parse_keeps_stable_names():
    inv = parse(BEFORE)
    assert inv["units"] == {"archy-bitcoin-knots.service"}  # not-found references dropped
    assert inv["ports"] == {"0.0.0.0:8332 conmon", "127.0.0.1:5678 python3"}
    assert inv["tor"] == {"/var/lib/tor/archy-bitcoin-knots"}
    assert inv["volumes"] == frozenset()


@pytest.mark.parametrize("names", [ROOTFUL, REFERENCE], ids=["rootful", "rootless"])
def test_the_nodes_shared_slices_are_no_apps_leftover(names):
    """archipelago-apps.slice and its parent stay loaded after the last app is gone; in the
    rootless user manager too (the rootless grid's first uninstall saw `+ archipelago.slice`)."""
    units = ("@@section units\narchipelago-apps.slice loaded active active archipelago-apps.slice\n"
             "archipelago.slice loaded active active archipelago.slice\n"
             "archy-lnd-x.slice loaded active active archy-lnd-x.slice\n")
    assert inventory.parse(units, names)["units"] == {"archy-lnd-x.slice"}


def test_diff_names_leftovers_only():
    d = diff(parse(BEFORE), parse(AFTER_LND))
    assert d == {"containers": {"added": ["archy-lnd"], "removed": []},
                 "quadlet": {"added": ["/etc/containers/systemd/archy-lnd.container"], "removed": []}}
    assert format_diff(d).splitlines() == ["containers: + archy-lnd",
                                           "quadlet: + /etc/containers/systemd/archy-lnd.container"]
    assert diff(parse(BEFORE), parse(BEFORE)) == {}
    assert diff(parse(BEFORE), parse(AFTER_LND), ignore={"containers": [r"^archy-lnd$"], "quadlet": ["lnd"]}) == {}


def test_witnesses():
    planted = {"/var/lib/archipelago/apps/lnd/.archy-witness": "aa" * 32,
               "/var/lib/archipelago/apps/btcpay/.archy-witness": "bb" * 32}
    ok = "\n".join(f"{h}  {p}" for p, h in planted.items())
    assert check_witnesses(planted, ok) == []
    changed = ok.replace("bb" * 32, "cc" * 32)
    assert check_witnesses(planted, changed) == ["witness changed: /var/lib/archipelago/apps/btcpay/.archy-witness"]
    gone = f"{'aa' * 32}  /var/lib/archipelago/apps/lnd/.archy-witness\nMISSING /var/lib/archipelago/apps/btcpay/.archy-witness"
    assert check_witnesses(planted, gone) == ["witness deleted: /var/lib/archipelago/apps/btcpay/.archy-witness"]


def test_the_daemon_unit_is_asked_where_it_lives():
    """Rootless, the apps are the login's user units but the daemon is a system unit: the units
    section asks both managers; rootful, one system-scope list names both."""
    from node.commands import Commands
    from node.platform import load
    rootless = load("reference")
    user = inventory.script(rootless.names, rootless.commands("archipelago"))
    units = next(line for line in user.splitlines() if line.startswith("s units;"))
    assert "systemctl --user list-units" in units
    assert "; systemctl list-units --all --plain --no-legend --no-pager 'archipelago*'" in units
    system = inventory.script(ROOTFUL, Commands.for_login("root"))
    units = next(line for line in system.splitlines() if line.startswith("s units;"))
    assert units.count("list-units") == 1 and "'archipelago*'" in units
