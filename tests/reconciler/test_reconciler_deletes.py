"""Every delete of the reconciler (and of its root helper priv.py) stays inside its own roots."""
from __future__ import annotations

import json
import os

import pytest

from reconciler import priv, scope
from reconciler.store import Paths, RefusedPath, owned, remove_path


@pytest.mark.parametrize("path, inside", [
    ("/var/lib/archipelago/lnd/data", True),
    ("/var/lib/archipelago", False),                  # a root itself is never deleted
    ("/var/lib/archipelago/../../etc", False),        # not normalized
    ("/var/lib/archipelagox/lnd", False),             # a sibling that shares the prefix
    ("var/lib/archipelago/lnd", False),               # relative
    ("/etc/passwd", False),
])
def test_owned_is_strictly_inside_a_root(path, inside):
    assert owned(path, ("/var/lib/archipelago", "/etc/nginx/archy.d")) is inside


def test_a_symlinked_parent_does_not_lead_outside(tmp_path):
    root, outside = tmp_path / "state", tmp_path / "outside"
    root.mkdir(), outside.mkdir()
    (outside / "precious").write_text("x")
    (root / "link").symlink_to(outside)
    with pytest.raises(RefusedPath, match="refusing to delete"):
        remove_path(str(root / "link" / "precious"), (str(root),))
    assert (outside / "precious").exists()


def test_remove_path_deletes_inside_and_refuses_outside(tmp_path):
    paths = Paths(str(tmp_path))
    inside = os.path.join(paths.state_dir, "lnd")
    os.makedirs(inside)
    remove_path(inside, paths.owned_roots)
    assert not os.path.exists(inside)
    victim = tmp_path / "etc" / "keep"
    victim.parent.mkdir()
    victim.write_text("x")
    with pytest.raises(RefusedPath):
        remove_path(str(victim), paths.owned_roots)
    assert victim.exists()


def test_priv_prunes_only_inside_tors_own_dir(tmp_path):
    """A settings file naming another tor_dir cannot make the root helper delete there."""
    (tmp_path / "etc/archipelago").mkdir(parents=True)
    (tmp_path / "etc/archipelago/catalog.json").write_text(json.dumps({"apps": {"usr": {}}}))
    (tmp_path / "usr").mkdir()
    node = scope.parse({"scope": "user", "user": "archipelago", "quadlet_dir": "/home/archipelago/q",
                        "tor_dir": "/srv", "container": "{app}"})
    (tmp_path / "srv/usr").mkdir(parents=True)
    [hs] = priv.stale_hidden_services(str(tmp_path), node, ["usr"])
    with pytest.raises(RefusedPath):
        priv.prune_one(hs, str(tmp_path))
    assert (tmp_path / "srv/usr").is_dir()
