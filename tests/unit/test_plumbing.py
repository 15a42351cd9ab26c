"""Pure parts of targets, node waits, driver replies and verdict folding."""
import pytest

from node.driver import RpcError, RpcUnavailable, parse_http, parse_rpc
from node.api import port_listening
from harness.plugin import missing_capability
from harness.results import phase_verdict
from matrix.model import Cell
from node.api import port_listening
from node.driver import RpcError, RpcUnavailable, parse_http, parse_rpc
from node.target import TargetError, parse


def test_parse_ssh_target():
    t = parse("ssh://admin@lab-node.example:2222?disposable=1&key=~/.ssh/id_ed25519&known_hosts=/tmp/kh")
    assert (t.kind, t.url, t.name, t.disposable) == ("ssh", "ssh://admin@lab-node.example:2222", "lab-node.example:2222", True)
    assert "destructive" in t.capabilities and "power_cut" not in t.capabilities
    assert t.known_hosts == "/tmp/kh" and t.identity_file.endswith("/.ssh/id_ed25519")
    t = parse("ssh://admin@node.lan?name=lab")
    assert (t.name, t.disposable, t.url) == ("lab", False, "ssh://admin@node.lan:22")
    assert "destructive" not in t.capabilities
    assert parse("vm://vm3").name == "vm3" and "power_cut" in parse("vm://vm3").capabilities


@pytest.mark.parametrize("url,msg", [
    ("http://node", "unknown scheme http://"),
    ("node.lan", "unknown scheme (none)"),
    ("ssh://admin@node?disposible=1", "unknown parameter(s) disposible"),
    ("ssh://admin@node?disposable=maybe", "disposable='maybe' is not a boolean"),
    ("ssh://admin@node:99999", "port '99999' is not a port number (use 1..65535"),
])
def test_bad_targets(url, msg):
    with pytest.raises(TargetError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        parse(url)


def test_missing_capability():
    reboot = Cell("lnd", "reboot_survival", "MUST", ("reboot", "destructive"))
    soak = Cell("lnd", "soak", "MUST", ("soak",))
    plain = parse("ssh://a@h")
    disposable = parse("ssh://a@h?disposable=1")
    assert "not marked disposable" in missing_capability(reboot, plain, True, 60)
    assert missing_capability(reboot, disposable, False, 60) == \
        "destructive cell: pass --allow-destructive to run it on h:22"
    assert missing_capability(reboot, disposable, True, 60) is None
    assert missing_capability(reboot, parse("vm://vm0"), False, 60) is None  # the VM is ours to break
    assert missing_capability(soak, plain, False, 0) == "soak disabled (--soak-duration 0)"
    assert missing_capability(Cell("x", "y", "MUST", ("tor_network",)), parse("vm://vm0"), True, 1) == \
        "target vm0 lacks capability 'tor_network'"


def test_a_node_not_marked_disposable_runs_only_what_leaves_it_as_it_was():
    ui, install = Cell("lnd", "ui_direct_port", "MUST", ("node",)), Cell("lnd", "fresh_install", "MUST", ("node",))
    plain, disposable = parse("ssh://a@h"), parse("ssh://a@h?disposable=1")
    assert missing_capability(ui, plain, False, 60, changes_node=False) is None
    assert missing_capability(install, plain, False, 60).startswith(
        "changes the node: h:22 is not marked disposable (add ?disposable=1 to its URL)")
    assert missing_capability(install, disposable, False, 60) is None
    assert missing_capability(install, parse("vm://vm0"), False, 60) is None


def test_which_events_run_on_a_node_the_run_may_not_change():
    from harness.events import EVENTS
    runs = sorted(e for e, ev in EVENTS.items() if not ev.changes_node)
    assert runs == ["fresh_install", "tor_onion", "ui_direct_port", "ui_https_proxy", "ui_iframe"]


def test_port_listening():
    ss = ("LISTEN 0 4096 0.0.0.0:8332 0.0.0.0:*\nLISTEN 0 4096 127.0.0.1:5678 0.0.0.0:*\n"
          "LISTEN 0 4096 [::]:9735 [::]:*\nLISTEN 0 5 127.0.0.2:2222 0.0.0.0:*\nLISTEN 0 5 *:4080 *:*\n")
    assert port_listening(ss, 8332) and port_listening(ss, 5678) and port_listening(ss, 9735)
    assert port_listening(ss, 4080)
    assert not port_listening(ss, 2222)            # bound to another address
    assert port_listening(ss, 2222, "127.0.0.2")
    assert not port_listening(ss, 833) and not port_listening("", 8332)


def test_rpc_replies():
    assert parse_http('{"a": 1}\narchy_http_status=200') == (200, '{"a": 1}')
    assert parse_http('{"a": 1}') == (0, '{"a": 1}')
    assert parse_rpc("m", 200, '{"jsonrpc": "2.0", "id": 3, "result": {"ok": true}}', 3) == {"ok": True}
    with pytest.raises(RpcError) as e:
        parse_rpc("package.install", 200, '{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"unknown app"}}', 1)
    assert (e.value.code, str(e.value)) == (-32602, "package.install: unknown app (code -32602)")
    with pytest.raises(RpcUnavailable, match="HTTP 502, not JSON"):
        parse_rpc("m", 502, "<html>bad gateway</html>", 1)
    with pytest.raises(RpcError, match="reply id 2 != request id 1"):
        parse_rpc("m", 200, '{"jsonrpc":"2.0","id":2,"result":1}', 1)


def test_phase_verdict():
    assert phase_verdict({"setup": ("passed", ""), "call": ("passed", ""), "teardown": ("passed", "")}) == ("passed", "")
    assert phase_verdict({"setup": ("skipped", "destructive cell: ...")}) == ("not_run", "destructive cell: ...")
    assert phase_verdict({"setup": ("failed", "node vm0: unreachable")}) == ("failed", "setup: node vm0: unreachable")
    assert phase_verdict({"setup": ("passed", ""), "call": ("passed", ""),
                          "teardown": ("failed", "journal check: 1 error")}) == ("failed", "teardown: journal check: 1 error")
    assert phase_verdict({"setup": ("passed", ""), "call": ("skipped", "no tor network")}) == ("not_run", "no tor network")
    assert phase_verdict({"setup": ("passed", "")}) == ("not_run", "no result (interrupted)")
