"""Pure parsers of the event probes: listening ports, data manifests, torrc, systemd, journal owners."""
from harness.checks import probes
from harness.checks.protocols import NOT_YET, READY, Answer
from harness.events.tor_onion import hs_ports
from harness.grid.run import journal_owner
from matrix.model import load
from node.names import ROOTFUL


def test_parse_listening():
    ss = ("LISTEN 0 4096 0.0.0.0:8332 0.0.0.0:*\nLISTEN 0 128 [::]:22 [::]:*\n"
          "LISTEN 0 511 127.0.0.1:5678 0.0.0.0:*\n")
    assert probes.parse_listening(ss) == {8332, 22, 5678}


def test_manifest_skips_runtime_and_state_files_and_finds_losses():
    out = ("10 aa /d/blocks/blk00000.dat\n1 bb /d/LOCK\n1 cc /d/.clean_shutdown\n1 dd /d/x.tmp\n"
           "5 ee /d/wallet\n9 ab /d/chainstate.json\n12 fa /d/.standin-fault\n")
    m = probes.parse_manifest(out)
    assert m == {"/d/blocks/blk00000.dat": (10, "aa"), "/d/wallet": (5, "ee")}
    assert probes.manifest_problems(m, {**m, "/d/blocks/blk00001.dat": (3, "ff")}) == []   # a new block file
    assert "gone" in probes.manifest_problems(m, {"/d/wallet": (5, "ee")})[0]
    assert "changed" in probes.manifest_problems(m, {**m, "/d/wallet": (5, "00")})[0]


def test_a_block_file_may_grow_but_not_rewrite_its_old_bytes():
    m = {"/d/blocks/blk00000.dat": (10, "aa"), "/d/wallet": (5, "ee")}
    grown = {**m, "/d/blocks/blk00000.dat": (20, "zz")}
    assert probes.manifest_problems(m, grown, lambda p, n: "aa" if n == 10 else "?") == []
    rewritten = probes.manifest_problems(m, grown, lambda p, n: "bad")
    assert rewritten == ["1 data file(s) changed: /d/blocks/blk00000.dat"]
    shrunk = {**m, "/d/blocks/blk00000.dat": (8, "zz")}           # a torn tip cut back: lost blocks
    assert "changed" in probes.manifest_problems(m, shrunk, lambda p, n: "aa")[0]
    wallet_grew = {**m, "/d/wallet": (9, "ff")}                   # only block files are append-only
    assert "changed" in probes.manifest_problems(m, wallet_grew, lambda p, n: "ee")[0]


RUNNING = {"Id": "c1", "State": {"Status": "running", "StartedAt": "t0", "Health": {"Status": "healthy"}}}


def test_health_problems_come_from_the_protocol_systemd_and_podman():
    m = load()
    lnd, ex = m.apps["lnd"], m.apps["electrumx"]
    up = {"ActiveState": "active"}
    synced = Answer(READY, "synced to chain at height 7", 7, True)
    assert probes.health_problems(lnd, synced, up, RUNNING, ROOTFUL) == []
    behind = Answer(NOT_YET, "not synced to chain (synced_to_chain False, block_height 7)", 7, False)
    assert probes.health_problems(lnd, behind, up, RUNNING, ROOTFUL) == [
        "lnd: lnd REST /v1/getinfo: not synced to chain (synced_to_chain False, block_height 7)"]
    no_tip = Answer(READY, "ElectrumX 1.16.0, protocol 1.4, no chain tip (daemon connection problem)")
    assert probes.health_problems(ex, no_tip, up, RUNNING, ROOTFUL) == [
        "electrumx: integration bitcoin down (ElectrumX 1.16.0, protocol 1.4, no chain tip (daemon connection problem))"]
    sick = {"State": {"Status": "running", "Health": {"Status": "unhealthy"}}}
    assert probes.health_problems(lnd, synced, {"ActiveState": "activating"}, sick, ROOTFUL) == [
        "lnd: unit archy-lnd.service is activating", "lnd: podman reports container archy-lnd unhealthy"]
    assert probes.health_problems(lnd, synced, up, None, ROOTFUL) == ["lnd: container archy-lnd is missing"]


def test_container_state_reads_podman_inspect():
    assert probes.container_state(RUNNING) == ("running", "healthy")
    assert probes.container_state({"State": {"Status": "exited", "Healthcheck": {"Status": "starting"}}}) == \
        ("exited", "starting")
    assert probes.container_state({"State": {"Status": "running", "Health": None}}) == ("running", "")
    assert probes.container_state(None) == ("", "")


def test_heights_never_go_backwards_and_identity_changes_are_named():
    before = Answer(READY, "height 12", 12, True)
    assert probes.height_problems(before, Answer(READY, "height 12", 12, True)) == []
    assert probes.height_problems(before, Answer(READY, "height 3", 3, True)) == ["chain height went backwards: 12 -> 3"]
    assert probes.height_problems(before, Answer(READY, "HTTP 200", None)) == ["chain height went backwards: 12 -> None"]
    assert probes.height_problems(Answer(READY, "HTTP 200"), Answer(READY, "HTTP 200")) == []
    a = {"invocation": "i1", "restarts": "0", "active": "active", "container": "c1", "started": "t0"}
    assert probes.changes(a, dict(a)) == []
    assert probes.changes(a, {**a, "invocation": "i2", "restarts": "1"}) == ["invocation i1 -> i2", "restarts 0 -> 1"]


def test_dependents_and_ui_target():
    m = load()
    installed = ("bitcoin-knots", "lnd", "electrumx", "mempool")
    assert probes.dependents(m, "bitcoin-knots", installed) == ["lnd", "electrumx", "mempool"]
    assert probes.dependents(m, "electrumx", installed) == ["mempool"]
    ui, port = probes.ui_target(m, m.apps["lnd"])
    assert (ui.id, port) == ("archy-lnd-ui", 8081)


def test_hs_ports_only_for_the_apps_dir():
    torrc = ("HiddenServiceDir /var/lib/tor/archy-lnd/\nHiddenServicePort 80 127.0.0.1:3002\n"
             "HiddenServiceDir /var/lib/tor/archy-btcpay\nHiddenServicePort 80 127.0.0.1:23000 # x\n")
    assert hs_ports(torrc, "/var/lib/tor/archy-lnd") == {80: "127.0.0.1:3002"}
    assert hs_ports(torrc, "/var/lib/tor/archy-mempool") == {}


def test_journal_lines_go_to_their_app():
    m = load()
    members = ("bitcoin-knots", "lnd")
    assert journal_owner(m, "archy-lnd.service", members, names=ROOTFUL) == ["lnd"]
    assert journal_owner(m, "archy-bitcoin-ui", members, names=ROOTFUL) == ["bitcoin-knots"]
    assert journal_owner(m, "archipelago", members, names=ROOTFUL) == ["bitcoin-knots", "lnd"]


def test_stale_rpcauth_is_well_formed_and_never_repeats():
    import re
    from harness.events.restart_integrations import stale_rpcauth
    a, b = stale_rpcauth(), stale_rpcauth()
    assert re.fullmatch(r"rpcauth=archipelago:[0-9a-f]{32}\$[0-9a-f]{64}", a)
    assert a != b


def test_one_soak_keeps_a_verdict_per_app():
    """A restart of lnd during the shared soak fails lnd's cell only."""
    from harness.events.soak import restrict
    from harness.soak.verdict import judge
    m = load()

    def sample(t, lnd_id):
        ctr = lambda app, cid: {"app": app, "state": "running", "active": "active", "health": "healthy",  # noqa: E731
                                "id": cid, "nrestarts": 0, "mem_bytes": 20 << 20}
        return {"t": t, "containers": {"archy-lnd": ctr("lnd", lnd_id), "archy-fedimint": ctr("fedimint", "f1")},
                "goss": {"lnd": {"ok": True}, "fedimint": {"ok": True}}, "journal": {"errors": []}}

    seen = {"apps": ("lnd", "fedimint"), "duration": 60, "samples": [sample(0, "a"), sample(30, "a"), sample(60, "b")]}
    lnd = judge({"duration": 60}, restrict(seen, "lnd", m, ROOTFUL))
    fed = judge({"duration": 60}, restrict(seen, "fedimint", m, ROOTFUL))
    assert not lnd.passed and "restart" in lnd.one_line()
    assert fed.passed


def test_page_title_recognises_the_app_page():
    page = ('<!doctype html><html><head><meta charset=utf-8><title>\n  btcpay &amp; co </title></head>'
            '<body><h1>btcpay</h1></body></html>')
    assert probes.page_title(page) == "btcpay & co"
    assert probes.page_title("<TITLE>mempool</TITLE>") == "mempool"
    assert probes.page_title('{"app": "btcpay"}') is None
    assert probes.page_title("<title> </title>") is None


def test_unit_and_container_come_back_from_one_round_trip():
    mark = "@@archy-podman-inspect@@"
    out = (f"ActiveState=active\nNRestarts=0\nInvocationID=ab12\n{mark}\n"
           f'[{{"Id": "c0ffee", "State": {{"Status": "running", "StartedAt": "t"}}}}]\n{mark} 0\n')
    u, c = probes.parse_unit_and_container(out)
    assert u == {"ActiveState": "active", "NRestarts": "0", "InvocationID": "ab12"} and c["Id"] == "c0ffee"
    u, c = probes.parse_unit_and_container(f"ActiveState=inactive\n{mark}\n{mark} 125\n")    # no container
    assert u == {"ActiveState": "inactive"} and c is None
    assert probes.parse_unit_and_container(f"ActiveState=active\n{mark}\nnot json\n{mark} 0\n")[1] is None
    assert probes.parse_unit_and_container("") == ({}, None)                                 # nothing came back


class Recorded:
    """A node that answers the probes' commands as a real node would, and counts round trips."""
    def __init__(self, answers):
        self.answers, self.calls = answers, []
        from node.names import REFERENCE
        from node.commands import ROOT
        self.names, self.cmd = REFERENCE, ROOT

    def run(self, cmd, timeout=60, input=None):
        from node.api import CommandResult
        self.calls.append(cmd)
        return CommandResult(cmd, 0, self.answers(cmd), "", 0.0)


def test_identity_is_one_round_trip():
    mark = "@@archy-podman-inspect@@"
    n = Recorded(lambda cmd: f"InvocationID=i1\nNRestarts=2\nActiveState=active\n{mark}\n"
                             f'[{{"Id": "c1", "State": {{"StartedAt": "s1"}}}}]\n{mark} 0\n')
    assert probes.identity(n, "lnd") == {"invocation": "i1", "restarts": "2", "active": "active",
                                         "container": "c1", "started": "s1"}
    assert len(n.calls) == 1
