"""The Jepsen-style history checker and the state classifier (pure logic, no node)."""
from functools import partial

import pytest

from chaos import history, observe, ops
from node.api import CommandTimeout
from node.driver import RpcError, RpcUnavailable
from node.names import REFERENCE

classify = partial(observe.classify, names=REFERENCE)


def H(*recs, base=None):
    out = [{"type": "baseline", "states": base or {"bitcoin-knots": "running", "lnd": "running"}}]
    for p, (t, f, app) in enumerate(recs):
        out.append({"type": t, "process": p if t == "invoke" else None, "f": f, "app": app})
    return out


def op(p, f, app, outcome):
    return [{"type": "invoke", "process": p, "f": f, "app": app},
            {"type": outcome, "process": p, "f": f, "app": app}]


BASE = {"type": "baseline", "states": {"bitcoin-knots": "running", "lnd": "running"}}
RUNNING = {"bitcoin-knots": "running", "lnd": "running"}


def test_acknowledged_install_must_be_in_effect():
    h = [BASE, *op(1, "install", "fedimint", "ok")]
    assert history.check_ops(h, {**RUNNING, "fedimint": "running"}) == []
    problems = history.check_ops(h, {**RUNNING, "fedimint": "absent"})
    assert problems and "fedimint: observed absent" in problems[0] and "install#1" in problems[0]


def test_in_flight_install_is_all_or_nothing():
    h = [BASE, *op(1, "install", "electrumx", "info")]
    assert history.check_ops(h, {**RUNNING, "electrumx": "running"}) == []
    assert history.check_ops(h, {**RUNNING, "electrumx": "absent"}) == []
    half = history.check_ops(h, {**RUNNING, "electrumx": "half: no reconciler entry for electrumx"})
    assert half and "half-applied" in half[0]


def test_invoke_without_completion_counts_as_info():
    h = [BASE, {"type": "invoke", "process": 1, "f": "install", "app": "electrumx"}]
    assert history.pair(h)[0].outcome == "info"
    assert history.check_ops(h, {**RUNNING, "electrumx": "absent"}) == []


def test_failed_operation_must_have_no_effect():
    h = [BASE, *op(1, "install", "mempool", "fail")]
    assert history.check_ops(h, {**RUNNING, "mempool": "running"})
    assert history.check_ops(h, RUNNING) == []


def test_untouched_app_must_not_appear_or_vanish():
    assert history.check_ops([BASE], {**RUNNING, "btcpay": "running"})  # an orphan install
    assert history.check_ops([BASE], {"bitcoin-knots": "running", "lnd": "absent"})  # lost app


def test_stop_then_power_cut_keeps_user_stopped():
    h = [BASE, *op(1, "stop", "lnd", "ok")]
    assert history.check_ops(h, {"bitcoin-knots": "running", "lnd": "stopped"}) == []
    assert history.check_ops(h, RUNNING)


def test_malformed_histories_are_reported():
    with pytest.raises(history.HistoryError, match="no open invoke"):
        history.pair([{"type": "ok", "process": 3, "f": "install", "app": "x"}])
    with pytest.raises(history.HistoryError, match="invoked twice"):
        history.pair([{"type": "invoke", "process": 1, "f": "install", "app": "x"}] * 2)
    with pytest.raises(history.HistoryError, match="unknown operation"):
        history.pair([{"type": "invoke", "process": 1, "f": "format-disk", "app": "x"}])


def test_history_file_round_trip_and_bad_line(tmp_path):
    p = str(tmp_path / "h.jsonl")
    history.append(p, {"type": "invoke", "process": 1, "f": "install", "app": "lnd"})
    assert history.load(p)[0]["app"] == "lnd" and history.next_process(history.load(p)) == 2
    with open(p, "a") as fh:
        fh.write("{not json\n")
    with pytest.raises(history.HistoryError, match=r"h\.jsonl:2: not JSON"):
        history.load(p)
    assert history.load(str(tmp_path / "missing.jsonl")) == []


def obs(app, checksum, height=None):
    r = {"type": "observe", "app": app, "data_checksum": checksum}
    if height is not None:
        r["chain_height"] = height
    return r


def test_chain_height_never_goes_backwards():
    assert history.check_observations([obs("bitcoin-knots", "a", 10), obs("bitcoin-knots", "b", 12)]) == []
    bad = history.check_observations([obs("bitcoin-knots", "a", 10), obs("bitcoin-knots", "b", 9)])
    assert bad and "went backwards: 10 -> 9" in bad[0]


def test_checksum_changes_only_with_new_blocks():
    assert history.check_observations([obs("lnd", "aa"), obs("lnd", "aa")]) == []
    assert "checksum changed" in history.check_observations([obs("lnd", "aa"), obs("lnd", "bb")])[0]
    assert history.check_observations([obs("bitcoin-knots", "a", 10), obs("bitcoin-knots", "a2", 10)])


def test_rpc_outcomes():
    assert ops.outcome(None) == "ok"
    assert ops.outcome(RpcError(-32602, "unknown app")) == "fail"
    assert ops.outcome(RpcError(-32002, "conflict")) == "fail"
    assert ops.outcome(RpcError(-32000, "not healthy in time")) == "info"
    assert ops.outcome(RpcUnavailable(None, "connection reset")) == "info"
    assert ops.outcome(CommandTimeout("ssh timed out")) == "info"


APPS = {"lnd": ["archy-lnd-ui"], "fedimint": []}


def row(app, desired="started", active="active"):
    return {"app": app, "unit": f"archy-{app}.service", "desired": desired, "active": active}


def test_classify_states():
    healthy = {"lnd": {"healthy": True}, "archy-lnd-ui": {"healthy": True}}
    s = classify(APPS, [row("lnd"), row("archy-lnd-ui")],
                         ["archy-lnd.container", "archy-lnd-ui.container"], ["archy-lnd"], healthy)
    assert s == {"lnd": "running", "fedimint": "absent"}
    stopped = classify(APPS, [row("lnd", "user-stopped", "inactive"),
                                      row("archy-lnd-ui", "user-stopped", "inactive")], [], [], {})
    assert stopped["lnd"] == "stopped"


def test_classify_half_states():
    orphan = classify(APPS, [], ["archy-fedimint.container"], [], {})
    assert orphan["fedimint"].startswith("half: no reconciler entry")
    companion_missing = classify(APPS, [row("lnd")], [], [], {"lnd": {"healthy": True}})
    assert "archy-lnd-ui" in companion_missing["lnd"]
    down = classify(APPS, [row("lnd"), row("archy-lnd-ui", active="failed")], [], [],
                            {"lnd": {"healthy": True}, "archy-lnd-ui": {"healthy": False}})
    assert down["lnd"].startswith("half: desired started but not active")
    storage_only = classify(APPS, [], [], ["archy-fedimint"], {})
    assert storage_only["fedimint"].startswith("half")


def test_integration_problems_and_data_records():
    health = {"lnd": {"healthy": True, "status": {"data_checksum": "c", "integrations":
                                                   {"bitcoin": {"ok": False, "detail": "refused"}}}},
              "bitcoin-knots": {"healthy": True, "status": {"data_checksum": "d", "chain_height": 7,
                                                            "chain_ok": True}}}
    assert observe.integration_problems(health) == ["lnd: integration bitcoin down: refused"]
    recs = observe.data_records(health)
    assert {"type": "observe", "app": "bitcoin-knots", "data_checksum": "d", "chain_height": 7,
            "chain_ok": True} in recs


def test_followers_of_the_chain_tip():
    health = {"bitcoin-knots": {"status": {"chain_height": 120}},
              "lnd": {"status": {"block_height": 120, "synced_to_chain": True}},
              "electrumx": {"status": {"daemon_height": 119}},
              "archy-bitcoin-ui": {"status": {}}}
    assert observe.chain_tip(health) == 120
    assert observe.followers_behind(health, 120) == ["electrumx: sees height 119, below 120"]
    assert observe.followers_behind(health, 119) == []
    health["lnd"]["status"] = {"block_height": None, "synced_to_chain": False}   # lost bitcoind
    assert observe.followers_behind(health, 119) == ["lnd: sees height None, below 119", "lnd: not synced to chain"]
    assert observe.chain_tip({"lnd": health["lnd"]}) is None


def test_shared_companion_is_not_a_half_state():
    apps = {"bitcoin-knots": ["archy-bitcoin-ui"], "bitcoin-core": ["archy-bitcoin-ui"]}
    rows = [row("bitcoin-knots"), row("archy-bitcoin-ui")]
    health = {"bitcoin-knots": {"healthy": True}, "archy-bitcoin-ui": {"healthy": True}}
    assert classify(apps, rows, [], [], health) == {"bitcoin-knots": "running", "bitcoin-core": "absent"}
    orphan = classify(apps, [row("archy-bitcoin-ui")], [], [], {"archy-bitcoin-ui": {"healthy": True}})
    assert orphan["archy-bitcoin-ui"] == "half: companion left without its app"


def test_companion_unit_names_keep_their_prefix():
    apps = {"bitcoin-knots": ["archy-bitcoin-ui"]}
    left = classify(apps, [], ["archy-bitcoin-ui.container"], ["archy-bitcoin-ui"], {})
    assert left == {"bitcoin-knots": "absent", "archy-bitcoin-ui": "half: companion left without its app"}
