"""The embedded default node is the seeds' rootless node (issue 18): what only a booted VM can show.

The session VM runs the default profile, `reference` (rootless). Each check below fails on the
rootful profile's node (reference-rootful) or on a node whose daemon lost its user bus.
"""
import copy
import json
import shlex
import subprocess

import pytest

from node import conformance
from node.driver import PlatformDriver
from node.platform import load

pytestmark = [pytest.mark.vm, pytest.mark.usefixtures("from_golden")]


def _rootless_node(vm_node):
    if vm_node.platform.scope != "user":
        pytest.fail(f"the session VM runs profile {vm_node.platform.name}, not the rootless default", pytrace=False)
    return vm_node


def test_root_cannot_log_in_the_login_is_archipelago(vm_node):
    node = _rootless_node(vm_node)
    assert node.user == "archipelago"
    root = subprocess.run(node.vm.ssh_argv("root", "true", connect_timeout=30), capture_output=True, text=True,
                          timeout=120)
    assert root.returncode == 255 and "Permission denied" in root.stderr, root.stderr


@pytest.mark.parametrize("profile, conforms", [("reference", True), ("archipelago", True),
                                               ("reference-rootful", False)])
def test_the_node_is_what_the_seeds_profile_describes(vm_node, profile, conforms):
    """conformance.check, read with the seeds' `archipelago` profile as a user would: the rootless
    VM passes; read as the rootful profile it is refused (its names are not there)."""
    p = load(profile)
    node = copy.copy(_rootless_node(vm_node))      # the same connection, read with another profile
    node.platform, node.names, node.cmd = p, p.names, p.commands(node.user)
    found = conformance.mismatches(p, conformance.gather(node, PlatformDriver(node)))
    assert (found == []) is conforms, found


def test_the_daemon_runs_as_the_login_and_holds_no_podman_process(vm_node):
    """podman's pause process and pasta leave the daemon's cgroup through the user bus: a daemon
    restart (KillMode=mixed) must not kill them (a self-made FM6, design spike S6)."""
    node = _rootless_node(vm_node)
    unit = node.names.daemon_unit
    # the golden node's pause process was made at provision; it must be the restarted daemon's
    # podman that makes it anew, or a daemon without the user bus would pass (no app runs yet)
    node.succeed(f"{node.cmd.podman} system migrate", timeout=300)
    node.succeed(node.cmd.as_root(f"systemctl restart {shlex.quote(unit)}"), timeout=300)
    node.wait_for_unit(unit, timeout=300, system=True)
    node.wait_until_succeeds("pgrep -u \"$(id -u)\" -x catatonit", timeout=300, interval=2)
    user = node.succeed(f"systemctl show -P User {shlex.quote(unit)}", timeout=60).strip()
    assert user == "archipelago"
    procs = node.succeed(f"systemd-cgls --no-pager -u {shlex.quote(unit)}", timeout=60)
    assert "catatonit" not in procs and "pasta" not in procs and "conmon" not in procs, procs
    info = json.loads(node.succeed(f"{node.cmd.podman} info --format json", timeout=120))
    assert info["host"]["security"]["rootless"] is True
    assert info["store"]["graphRoot"] == "/home/archipelago/.local/share/containers/storage"


def test_user_manager_gives_the_apps_their_stop_grace(vm_node):
    node = _rootless_node(vm_node)
    grace = node.succeed("systemctl show -P TimeoutStopUSec user@$(id -u).service", timeout=60).strip()
    assert grace == "11min", grace


def test_daemon_privileges_are_exactly_the_helper(vm_node):
    """The daemon's sudoers file: the three priv.py lines, nothing else, and root owns the helper
    (the VM's login also has the disposable NOPASSWD: ALL of vm/image.py; a real node need not)."""
    node = _rootless_node(vm_node)
    text = node.succeed(node.cmd.as_root("cat /etc/sudoers.d/archipelago-daemon"), timeout=60)
    rules = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert len(rules) == 3 and all("/opt/archipelago/reconciler/priv.py" in r for r in rules), rules
    owner = node.succeed("stat -c '%U %a' /opt/archipelago/reconciler /opt/archipelago/reconciler/priv.py",
                         timeout=60).split("\n")
    assert all(line.startswith("root ") for line in owner if line), owner   # the login cannot rewrite it
