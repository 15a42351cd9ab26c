"""Releases the harness hands a node: images built on the node FROM the app's own (no registry),
named in the node's catalog (node.names.catalog) as an OTA would. The broken_install and
upgrade_rollback cells share them. Pure but `catalog`, `build` and `remove`."""
from __future__ import annotations

import json
import re
import shlex

from node.names import HARNESS

BROKEN_IMAGE = f"localhost/{HARNESS.mark('broken-release')}:exits-at-once"
V2_IMAGE = f"localhost/{HARNESS.mark('release')}:v2"
SAYS = "archy-lifecycle broken release: exits at once"
# What a broken release makes its own unit and the reconciler log while it fails.
JOURNAL_ALLOW = (r"Failed with result 'exit-code'", r"Main process exited, code=exited", re.escape(SAYS),
                 r"Start request repeated too quickly", r"Failed to start ", r"install \S+ failed",
                 r"crash[- ]loop", r"Error: container is stopped")   # podman, waiting on a container that exited


def broken_containerfile(base: str) -> str:
    """The broken release: the app's image with an entrypoint that exits 1 at once."""
    script = f"import sys; sys.exit({SAYS!r})"
    return f"FROM {base}\nENTRYPOINT {json.dumps(['/usr/bin/python3', '-c', script])}\n"


def v2_containerfile(base: str) -> str:
    """A good new release: the app's image with one more label (another image id)."""
    return f"FROM {base}\nLABEL {HARNESS.mark('release')}=v2\n"


def with_image(catalog: dict, app_id: str, image: str) -> dict:
    """The catalog with the app's release replaced (KeyError: no such app)."""
    apps = dict(catalog["apps"])
    apps[app_id] = {**apps[app_id], "image": image}
    return {**catalog, "apps": apps}


def catalog(node, app_id: str) -> tuple[bytes, dict, str]:
    """(the catalog's bytes, its JSON, the app's image now); AssertionError where the node has no
    catalog file: a platform that cannot take a release from the harness fails the cell, never
    passes it unjudged."""
    path = node.names.catalog
    if node.run(node.cmd.as_root(f"test -f {shlex.quote(path)}"), timeout=30).rc != 0:
        raise AssertionError(f"{app_id}: no catalog at {path} to name a release in "
                             "(this platform cannot take one from the harness)")
    raw = node.get_file(path)
    data = json.loads(raw)
    return raw, data, data["apps"].get(app_id, {}).get("image") or data["image"]


def put_catalog(node, data: bytes) -> None:
    node.put_file(node.names.catalog, data, 0o644)


def name_release(node, catalog_json: dict, app_id: str, image: str) -> None:
    """The OTA: the catalog names `image` for the app (the platform re-reads it)."""
    put_catalog(node, (json.dumps(with_image(catalog_json, app_id, image), indent=1) + "\n").encode())


def build(node, tag: str, containerfile: str) -> None:
    node.succeed(f"d=$(mktemp -d) && {node.cmd.podman} build -q --pull=never -t {shlex.quote(tag)} -f - \"$d\"; "
                 f"rc=$?; rmdir \"$d\"; exit $rc", timeout=300, input=containerfile.encode())


def remove(node, *tags: str) -> None:
    for tag in tags:
        node.run(f"{node.cmd.podman} rmi -f {shlex.quote(tag)} >/dev/null 2>&1", timeout=120)
