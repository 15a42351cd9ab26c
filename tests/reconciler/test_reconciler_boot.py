"""The boot order (reconciler/boot.py): one app's startup probe at a time when the node boots."""
import json

from reconciler import boot, catalog, diff
from recfake import catalog_data


def _catalog():
    return catalog.parse(catalog_data())


def test_the_boot_order_puts_every_provider_and_app_before_what_needs_it():
    cat = _catalog()
    seq = boot.order(cat)
    assert sorted(seq) == sorted(cat.apps)
    pos = {a: i for i, a in enumerate(seq)}
    for app, spec in cat.apps.items():
        for cap in spec.depends:
            provs = [p for p, o in cat.apps.items() if p == cap or o.provides == cap]
            assert provs and all(pos[p] < pos[app] for p in provs), (app, cap)
        for parent in (p for p, o in cat.apps.items() if app in o.companions):
            assert pos[parent] < pos[app], (parent, app)


def test_a_companion_boots_right_after_its_app():
    """The grid judges an app with its UI: a companion waiting for every other app of the node
    made bitcoin-knots' UI come up minutes after bitcoin-knots (the rootful reboot cell, 90d7f58)."""
    for data in (catalog_data(), json.loads(json.dumps(catalog_data(), sort_keys=True))):   # the node's is sorted
        cat = catalog.parse(data)
        seq = boot.order(cat)
        for ui in ("archy-bitcoin-ui", "archy-lnd-ui", "archy-electrs-ui"):
            last = max(seq.index(a) for a, s in cat.apps.items() if ui in s.companions)   # knots and core share one
            assert seq.index(ui) == last + 1, seq


def test_a_dependency_listed_after_its_dependent_still_boots_first():
    data = catalog_data()
    apps = data["apps"]
    data["apps"] = {"lnd": apps["lnd"], **{a: s for a, s in apps.items() if a != "lnd"}}
    seq = boot.order(catalog.parse(data))
    assert seq.index("bitcoin-knots") < seq.index("lnd") and seq.index("bitcoin-core") < seq.index("lnd")


def test_each_app_starts_after_every_unit_before_it_installed_or_not():
    cat = _catalog()
    seq, after = boot.order(cat), boot.after(cat)
    assert after[seq[0]] == ()
    for i, app in enumerate(seq):
        assert after[app] == tuple(cat.apps[a].unit for a in seq[:i])


def test_a_new_boot_order_alone_is_no_drift():
    old = b"[Unit]\nAfter=dbus.socket dbus.service\n[Container]\nImage=x\n"
    new = b"[Unit]\nAfter=dbus.socket dbus.service\nAfter=a.service b.service\n[Container]\nImage=x\n"
    assert not diff.runs_differently(old, new)
    assert diff.runs_differently(old, new.replace(b"Image=x", b"Image=y"))
