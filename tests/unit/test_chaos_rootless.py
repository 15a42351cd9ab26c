"""Chaos actions on the rootless reference (the login's user units and rootless podman): the podman
DB wipe also removes the login's libpod runtime dir, and the network is revoked as the rootless
netns. The command text is checked here; tests/integration/test_chaos_netns_script.py runs the
netns script with a real sh."""
import pytest
from chaoslib.exceptions import InterruptExecution

from chaos import actions, memo
from node import platform
from node.api import CommandResult

P = platform.load("reference")
CMD = P.commands(P.login)
USER = "XDG_RUNTIME_DIR=/run/user/$(id -u) "


class Recorder:
    """A rootless node: records commands and answers what the actions parse."""
    names, cmd = P.names, CMD

    def __init__(self, answers=None):
        self.cmds, self.answers = [], answers or {}

    def run(self, cmd, timeout=60, input=None):
        self.cmds.append(cmd)
        for needle, (rc, out) in self.answers.items():
            if needle in cmd:
                return CommandResult(cmd, rc, out, "", 0.0)
        out = {"DatabaseBackend": "sqlite\n", "GraphRoot": "/home/archipelago/.local/share/containers/storage\n",
               "list-units": "lnd.service\narchy-lnd-ui.service\n",
               "ps -a --external": "lnd\narchy-lnd-ui\nsomething-else\n"}
        return CommandResult(cmd, 0, next((v for k, v in out.items() if k in cmd), ""), "", 0.0)

    def succeed(self, cmd, timeout=60, input=None):
        r = self.run(cmd, timeout, input)
        assert r.rc == 0, cmd
        return r.stdout


@pytest.fixture
def node(monkeypatch):
    def make(answers=None) -> Recorder:
        n = Recorder(answers)
        monkeypatch.setattr(actions.target, "node", lambda _configuration: n)
        monkeypatch.setattr(memo, "_facts", {})
        return n
    return make


def test_the_db_wipe_removes_the_login_s_libpod_runtime_before_the_daemon_starts(node):
    n = node()
    out = actions.wipe_podman_db({})
    storage = "/home/archipelago/.local/share/containers/storage"
    globs = "'archy-*.service' " + " ".join(f"{c}.service" for c in (
        "bitcoin-core", "bitcoin-knots", "btcpay-server", "electrumx", "fedimint", "lnd", "mempool"))
    assert n.cmds == [
        f"{USER}podman info --format '{{{{.Host.DatabaseBackend}}}}'",
        f"{USER}podman info --format '{{{{.Store.GraphRoot}}}}'",
        "sudo -n systemctl stop archipelago.service",
        f"sudo -n test -s {storage}/db.sql",
        f"sudo -n rm -f {storage}/db.sql {storage}/db.sql-wal {storage}/db.sql-shm",
        f"{USER}systemctl --user list-units --plain --no-legend {globs} | awk '{{print $1}}'",
        f"{USER}systemctl --user stop lnd.service archy-lnd-ui.service",
        f"{USER}podman ps -a --external --format '{{{{.Names}}}}'",
        'rm -rf "/run/user/$(id -u)/libpod" && test ! -e "/run/user/$(id -u)/libpod"',   # as the login
        "sudo -n systemctl start archipelago.service",
    ]
    assert out["runtime_removed"] is True
    assert out["storage_leftovers"] == ["lnd", "archy-lnd-ui"]          # not something-else


def test_the_rootful_db_wipe_leaves_the_runtime_alone(node, monkeypatch):
    n = node()
    rootful = platform.load("reference-rootful")
    monkeypatch.setattr(n, "names", rootful.names)
    monkeypatch.setattr(n, "cmd", rootful.commands("root"))
    assert actions.wipe_podman_db({})["runtime_removed"] is False
    assert not any("libpod" in c for c in n.cmds)
    assert "systemctl list-units --plain --no-legend 'archy-*.service' | awk '{print $1}'" in n.cmds


def test_the_network_of_a_user_scope_node_is_its_rootless_netns(node):
    n = node({"findmnt": (1, "")})
    n.answers["rootless-netns-conn.pid"] = (0, "4242\n")
    n.answers["test -d /proc/4242"] = (1, "")
    assert actions.revoke_network({}) == {"revoked": "rootless-netns", "pasta_pid": 4242}
    assert n.cmds == [actions.revoke_netns_script(f"{USER}podman"), "test -d /proc/4242",
                      f'{USER}podman unshare findmnt -n "/run/user/$(id -u)/containers/networks/rootless-netns'
                      f'/rootless-netns"']
    assert not any("network rm" in c for c in n.cmds)


@pytest.mark.parametrize("rc,said", [(3, "no rootless netns"), (4, "kill -9 of the rootless netns' pasta failed"),
                                     (5, "podman unshare umount of the netns failed"), (1, r"failed \(rc 1\)")])
def test_a_revocation_that_fails_says_which_step(node, rc, said):
    node({"rootless-netns-conn.pid": (rc, "")})
    with pytest.raises(InterruptExecution, match=said):
        actions.revoke_network({})


def test_a_netns_still_mounted_is_no_revocation(node):
    node({"rootless-netns-conn.pid": (0, "4242\n"), "test -d /proc/4242": (1, ""), "findmnt": (0, "nsfs")})
    with pytest.raises(InterruptExecution, match="still mounted"):
        actions.revoke_network({})


def test_the_runtime_dir_expands_only_the_login_s_uid():
    cmd = actions.wipe_runtime_command()
    assert cmd == 'rm -rf "/run/user/$(id -u)/libpod" && test ! -e "/run/user/$(id -u)/libpod"'
    script = actions.revoke_netns_script(f"{USER}podman")
    assert script.startswith('d="/run/user/$(id -u)/containers/networks/rootless-netns"; ')
    assert '"$d/rootless-netns"' in script and '"$d/rootless-netns-conn.pid"' in script
