"""Call sites that run platform tools go through `node.cmd`: on a root login (ROOT, the embedded VM)
their command strings are byte-identical to what they were before node.cmd existed; on a sudo
login with user units they are prefixed, wrapped or left to the login as node.commands says."""
import json
import shlex

import pytest

from chaos import actions, memo
from harness import artifacts, inventory
from harness.checks import probes
from harness.soak import node_probe, sampler
from matrix.model import load
from node.api import CommandResult, Node
from node.commands import ROOT, Commands
from node.names import ROOTFUL

SEEDS = Commands.for_login("archipelago", "sudo -n", "user", True)
USER = "XDG_RUNTIME_DIR=/run/user/$(id -u) "


class Recorder(Node):
    """A Node whose `run` records the command and answers what the call sites parse."""
    names = ROOTFUL
    capabilities = frozenset({"node", "reboot"})

    def __init__(self, cmd: Commands = ROOT):
        self.cmd, self.cmds = cmd, []

    def run(self, cmd, timeout=60, input=None):
        self.cmds.append(cmd)
        out = ""
        if "boot_id" in cmd:
            out = f"boot-{len(self.cmds)}\n"   # a new boot each time: reboot returns at once
        elif "DatabaseBackend" in cmd:
            out = "sqlite\n"
        elif "GraphRoot" in cmd:
            out = "/var/lib/containers/storage\n"
        elif "MainPID" in cmd:
            out = f"{100 + len(self.cmds)}\n"
        elif "list-units" in cmd:
            out = "archy-lnd.service\n"
        elif "base64" in cmd:
            out = "e30="
        return CommandResult(cmd, 0, out, "", 0.0)

    def reconnect(self):
        pass

    def close(self):
        pass


def _node_api(n: Recorder) -> list[str]:
    n.put_file("/etc/archipelago/reconciler.json", b"{}")
    n.get_file("/etc/archipelago/catalog.json")
    n.journal_since("s=1;i=2")
    n.reboot(timeout=5)
    return n.cmds


def test_node_api_on_a_root_login_is_unchanged():
    assert _node_api(Recorder()) == [
        "d=$(dirname /etc/archipelago/reconciler.json) && mkdir -p \"$d\" && t=$(mktemp \"$d/.put.XXXXXX\") && "
        "cat > \"$t\" && chmod 644 \"$t\" && mv -f \"$t\" /etc/archipelago/reconciler.json",
        "base64 -w0 < /etc/archipelago/catalog.json",
        "journalctl -q -o json --no-pager --after-cursor='s=1;i=2'",
        "cat /proc/sys/kernel/random/boot_id",
        "systemctl --no-block reboot",
        "cat /proc/sys/kernel/random/boot_id",
    ]


def test_node_api_on_a_sudo_login_writes_reads_and_reboots_as_root():
    cmds = _node_api(Recorder(SEEDS))
    assert cmds[0].startswith("sudo -n sh -c 'd=$(dirname /etc/archipelago/reconciler.json)")
    assert cmds[1:] == ["sudo -n sh -c 'base64 -w0 < /etc/archipelago/catalog.json'",
                        "sudo -n journalctl -q -o json --no-pager --after-cursor='s=1;i=2'",
                        "cat /proc/sys/kernel/random/boot_id",     # readable by anyone: no sudo
                        "sudo -n systemctl --no-block reboot",
                        "cat /proc/sys/kernel/random/boot_id"]


def _probes(n: Recorder) -> list[str]:
    app = load().app("bitcoin-knots")
    probes.unit(n, "lnd")
    probes.container(n, "lnd")
    probes.prefix_digest(n, "/var/lib/archipelago/apps/bitcoin-knots/blocks/blk0.dat", 10)
    probes.data_manifest(n, app)
    return n.cmds


def test_probes_on_a_root_login_are_unchanged():
    cmds = _probes(Recorder())
    assert cmds[:3] == [
        "systemctl show -p ActiveState,SubState,MainPID,NRestarts,ActiveEnterTimestampMonotonic,LoadState,InvocationID "
        "archy-lnd.service",
        "podman inspect --type container --format json archy-lnd",
        "head -c 10 /var/lib/archipelago/apps/bitcoin-knots/blocks/blk0.dat | sha256sum",
    ]
    assert cmds[3].startswith("find /var/lib/archipelago/apps/bitcoin-knots -type f -print0 2>/dev/null")


def test_probes_on_a_sudo_login_ask_the_login_s_units_and_read_data_as_root():
    cmds = _probes(Recorder(SEEDS))
    assert cmds[0].startswith(f"{USER}systemctl --user show -p ActiveState")
    assert cmds[1] == f"{USER}podman inspect --type container --format json archy-lnd"
    assert cmds[2] == "sudo -n head -c 10 /var/lib/archipelago/apps/bitcoin-knots/blocks/blk0.dat | sha256sum"
    assert cmds[3].startswith("sudo -n sh -c 'find /var/lib/archipelago/apps/bitcoin-knots")


@pytest.fixture
def chaos_node(monkeypatch):
    def make(cmd: Commands = ROOT) -> Recorder:
        n = Recorder(cmd)
        monkeypatch.setattr(actions.target, "node", lambda _configuration: n)
        monkeypatch.setattr(memo, "_facts", {})
        return n
    return make


def test_chaos_db_wipe_on_a_root_login_is_unchanged(chaos_node):
    n = chaos_node()
    actions.wipe_podman_db({})
    assert n.cmds == [
        "podman info --format '{{.Host.DatabaseBackend}}'",
        "podman info --format '{{.Store.GraphRoot}}'",
        "systemctl stop archipelago.service",
        "test -s /var/lib/containers/storage/db.sql",
        "rm -f /var/lib/containers/storage/db.sql /var/lib/containers/storage/db.sql-wal "
        "/var/lib/containers/storage/db.sql-shm",
        "systemctl list-units --plain --no-legend 'archy-*.service' | awk '{print $1}'",
        "systemctl stop archy-lnd.service",
        "podman ps -a --external --format '{{.Names}}'",
        "systemctl start archipelago.service",
    ]


def test_chaos_db_wipe_on_a_sudo_login_keeps_the_apps_with_the_login(chaos_node):
    n = chaos_node(SEEDS)
    actions.wipe_podman_db({})
    assert n.cmds[2] == "sudo -n systemctl stop archipelago.service"      # the daemon: a system unit
    assert n.cmds[5] == f"{USER}systemctl --user list-units --plain --no-legend 'archy-*.service' | awk '{{print $1}}'"
    assert n.cmds[6] == f"{USER}systemctl --user stop archy-lnd.service"
    assert n.cmds[7] == f"{USER}podman ps -a --external --format '{{{{.Names}}}}'"


class _Running(Recorder):
    """Answers a running container (id abc123, host pid 4242) whose pid is gone after the kill."""
    def run(self, cmd, timeout=60, input=None):
        if "{{.Id}} {{.State.Running}} {{.State.Pid}}" in cmd:
            self.cmds.append(cmd)
            return CommandResult(cmd, 0, "abc123 true 4242\n", "", 0.0)
        if cmd.startswith("test -d /proc/"):
            self.cmds.append(cmd)
            return CommandResult(cmd, 1, "", "", 0.0)
        return super().run(cmd, timeout, input)


@pytest.mark.parametrize("cmd,user,root", [(ROOT, "", ""), (SEEDS, USER, "sudo -n ")])
def test_chaos_out_of_band_stop_and_kill(monkeypatch, cmd, user, root):
    n = _Running(cmd)
    monkeypatch.setattr(actions.target, "node", lambda _configuration: n)
    inspect = f"{user}podman inspect --format '{{{{.Id}}}} {{{{.State.Running}}}} {{{{.State.Pid}}}}'"
    assert actions.kill_container_init({}, "bitcoin-knots")["killed_pid"] == 4242
    assert n.cmds == [f"{inspect} archy-bitcoin-knots", f"{root}kill -9 4242", "test -d /proc/4242"]
    n.cmds.clear()
    assert actions.stop_container({}, "bitcoin-knots", companion=True)["container"] == "archy-bitcoin-ui"
    assert n.cmds == [f"{inspect} archy-bitcoin-ui", f"{user}podman stop archy-bitcoin-ui",
                      f"{user}podman inspect --format '{{{{.State.Running}}}}' abc123"]
    n.cmds.clear()
    actions.start_app({}, "bitcoin-knots", companion=True)
    sysd = f"{user}systemctl --user" if user else "systemctl"
    assert n.cmds == [f"{sysd} start --no-block archy-bitcoin-ui.service"]


def test_chaos_stop_of_a_container_that_does_not_run_is_refused(monkeypatch):
    from chaoslib.exceptions import InterruptExecution
    n = Recorder()                      # inspect answers nothing: not running
    monkeypatch.setattr(actions.target, "node", lambda _configuration: n)
    with pytest.raises(InterruptExecution, match="archy-bitcoin-knots is not running"):
        actions.stop_container({}, "bitcoin-knots")
    assert not any(" stop " in c for c in n.cmds)


def test_inventory_and_artifacts_on_a_root_login_are_unchanged():
    script = inventory.script(ROOTFUL, ROOT)
    assert script == inventory.script(ROOTFUL)
    assert "\ns ports;      ss -Htlnp 2>/dev/null || true\n" in script
    assert "\ns units;      systemctl reset-failed 2>/dev/null; systemctl list-units --all --plain " \
           "--no-legend --no-pager 'archy-*' 'archipelago*' 2>/dev/null || true\n" in script
    cmds = artifacts.commands("lnd", "s=1;i=2", ROOTFUL)
    assert cmds["journal.txt"] == "journalctl --no-pager -o short-iso --after-cursor='s=1;i=2'"
    assert cmds["units.txt"] == (
        "systemctl status --no-pager -n 20 'archy-lnd*' archipelago.service 2>&1; for u in $(systemctl "
        "list-units --all --plain --no-legend 'archy-lnd*' | awk '{print $1}'); do systemctl cat \"$u\" 2>&1; "
        "done; ls -l /etc/containers/systemd/ 2>&1")


def test_inventory_and_artifacts_on_a_sudo_login():
    script = inventory.script(ROOTFUL, SEEDS)
    assert "\ns ports;      sudo -n ss -Htlnp 2>/dev/null || true\n" in script
    assert f"\ns containers; {USER}podman ps -a --external" in script
    cmds = artifacts.commands("lnd", None, ROOTFUL, SEEDS)
    assert cmds["journal.txt"] == "sudo -n journalctl --no-pager -o short-iso -b -n 3000"
    # the daemon is a system unit, the app's units are the login's
    assert cmds["units.txt"].startswith("sudo -n systemctl status --no-pager -n 20 archipelago.service 2>&1; "
                                        f"{USER}systemctl --user status --no-pager -n 20 'archy-lnd*' 2>&1; ")


class _Soak(Recorder):
    def run(self, cmd, timeout=60, input=None):
        self.cmds.append(cmd)
        return CommandResult(cmd, 1, "", "probe failed", 0.0)


@pytest.mark.parametrize("cmd,has_cmd", [(ROOT, False), (SEEDS, True)])
def test_the_soak_probe_is_told_the_login_s_tools_only_when_not_root(cmd, has_cmd):
    n = _Soak(cmd)
    s = sampler.Sampler(n, driver=None, matrix=load(), apps=["lnd"], tick=False)
    s.cursor = "c"
    assert "node probe" in s.sample(1)["errors"][0]
    args = json.loads(shlex.split(n.cmds[0])[2])
    assert ("cmd" in args) is has_cmd
    if has_cmd:
        assert args["cmd"]["systemctl"] == SEEDS.systemctl


def test_the_soak_probe_runs_tools_as_they_are_on_a_root_login_else_through_the_prefix():
    assert node_probe.tool({}, "podman", ["ps", "-a"]) == ["podman", "ps", "-a"]
    args = {"cmd": {"root": "sudo -n ", "podman": f"{USER}podman", "journalctl": "sudo -n journalctl"}}
    assert node_probe.tool(args, "podman", ["ps", "--format", "{{.Names}}"]) == \
        ["sh", "-c", f"{USER}podman ps --format '{{{{.Names}}}}'"]
    assert node_probe.tool(args, "goss", ["-g", "/run/x y.yaml"]) == ["sh", "-c", "sudo -n goss -g '/run/x y.yaml'"]


def test_inventory_and_artifacts_on_the_rootless_reference():
    """Containers named by app id: the units and tor sections name each app, never `*` (which
    would list every user unit of the login); podman logs go by the platform's label."""
    from node import platform
    p = platform.load("reference")
    c = p.commands(p.login)
    script = inventory.script(p.names, c)
    units = ("'archy-*' 'bitcoin-core.*' 'bitcoin-knots.*' 'btcpay-server.*' 'electrumx.*' 'fedimint.*' 'lnd.*' "
             "'mempool.*'")
    assert (f"\ns units;      {USER}systemctl --user reset-failed 2>/dev/null; {USER}systemctl --user list-units "
            f"--all --plain --no-legend --no-pager {units} 'archipelago*' 2>/dev/null || true; systemctl list-units "
            f"--all --plain --no-legend --no-pager 'archipelago*' 2>/dev/null || true\n") in script
    tor = inventory.tor_names(p.names)
    assert tor.startswith("\\( -name 'archy-*' -o -name bitcoin-core -o ") and tor.endswith(" -o -name mempool.conf \\)")
    assert "-name btcpay-server -o" in tor and "-name btcpay-server.conf -o" in tor and "-name btcpay " not in tor
    assert f"\ns tor;        sudo -n sh -c {shlex.quote(f'find /var/lib/tor /etc/tor/torrc.d -mindepth 1 -maxdepth 1 {tor}')}" \
        in script
    cmds = artifacts.commands(None, None, p.names, c)
    assert f"{USER}podman ps -a --filter label=io.archipelago.app --format" in cmds["podman-logs.txt"]
    assert f"{USER}systemctl --user status --no-pager -n 20 {units} 2>&1; " in cmds["units.txt"]
    one = artifacts.commands("lnd", None, p.names, c)
    assert f"{USER}systemctl --user status --no-pager -n 20 'lnd*' 2>&1; " in one["units.txt"]
    assert "--filter label=io.archipelago.app=lnd" in one["podman-logs.txt"]
