"""The soak verdict rules on recorded (synthetic) timelines: each rule holds on a steady node and
fails on the input that breaks it."""
import copy

import pytest

from harness.soak.verdict import detect_changes, judge, observed_span
from synthetic import MIB, steady, with_leak, with_restart


def failed(v):
    return {r.name for r in v.rules if not r.passed}


def test_steady_node_passes():
    meta, samples = steady()
    v = judge(meta, samples)
    assert v.passed, v.one_line()
    assert not v.changes


def test_restart_fails_no_restart_only():
    meta, samples = steady()
    v = judge(meta, with_restart(samples, 10))
    assert failed(v) == {"no_restart"}
    assert "archy-lnd restarted" in v.rule("no_restart").details[0]
    assert v.rule("no_restart").details[0].startswith("+5m")


@pytest.mark.parametrize("field,value", [("nrestarts", 1), ("invocation", "other"), ("id", "c9"),
                                         ("started_at", 123.0)])
def test_each_restart_signal_alone_is_caught(field, value):
    meta, samples = steady()
    for s in samples[5:]:
        s["containers"]["archy-lnd"][field] = value
    assert failed(judge(meta, samples)) == {"no_restart"}


def test_state_change_and_vanished_container():
    meta, samples = steady()
    samples[7]["containers"]["archy-lnd"]["state"] = "exited"
    samples[7]["containers"]["archy-lnd"]["active"] = "failed"
    del samples[9]["containers"]["archy-bitcoin-knots"]
    v = judge(meta, samples)
    assert failed(v) == {"no_state_change"}
    text = " ".join(v.rule("no_state_change").details)
    assert "archy-lnd state running -> exited" in text and "archy-bitcoin-knots vanished" in text


def test_health_degradation_is_a_state_change():
    meta, samples = steady()
    samples[4]["containers"]["archy-lnd"]["health"] = "unhealthy"
    assert "no_state_change" in failed(judge(meta, samples))


def test_memory_growth_over_bound_fails_and_under_passes():
    meta, samples = steady()
    assert failed(judge(meta, with_leak(samples, mib_per_sample=2.0))) == {"memory"}
    assert judge(meta, with_leak(samples, mib_per_sample=0.3)).passed   # 6 MiB < 16 MiB floor


def test_memory_bound_is_configurable():
    meta, samples = steady()
    leaky = with_leak(samples, mib_per_sample=0.3)
    meta = {**meta, "bounds": {"mem_growth_floor": 1 * MIB, "mem_growth_pct": 5}}
    assert failed(judge(meta, leaky)) == {"memory"}


def test_one_spike_does_not_fail_memory():
    meta, samples = steady()
    samples[10]["containers"]["archy-lnd"]["mem_bytes"] += 500 * MIB
    assert judge(meta, samples).passed


def test_journal_error_fails():
    meta, samples = steady()
    samples[3]["journal"]["errors"].append({"t": samples[3]["t"], "id": "archipelago", "message": "tick failed"})
    v = judge(meta, samples)
    assert failed(v) == {"journal"} and "archipelago: tick failed" in v.rule("journal").details[0]


def test_goss_and_reconciler_failures_fail_steady_state():
    meta, samples = steady()
    samples[2]["goss"]["lnd"] = {"ok": False, "failed": ["port tcp:8080 listening"]}
    samples[6]["reconciler"] = {"health_ok": False, "converged": True}
    v = judge(meta, samples)
    assert failed(v) == {"steady_state"} and len(v.rule("steady_state").details) == 2


def test_short_soak_and_sampling_errors_fail_complete():
    meta, samples = steady()
    assert failed(judge(meta, samples[:10])) == {"complete"}
    assert failed(judge(meta, samples[:1])) == {"complete"}
    broken = copy.deepcopy(samples)
    broken[5] = {"kind": "sample", "seq": 5, "t": broken[5]["t"], "errors": ["node probe: unreachable"]}
    v = judge(meta, broken)
    assert failed(v) == {"complete"}, v.one_line()   # a missing sample is not a state change


def test_gap_from_a_harness_crash_is_not_counted_as_observed():
    meta, samples = steady(n=11)
    for s in samples[5:]:
        s["t"] += 3600          # harness dead for an hour, then resumed
    assert observed_span(samples, meta["interval"]) == pytest.approx(9 * 30 + 60)
    meta["duration"] = 600          # the wall-clock span (3900 s) covers it, the watched time does not
    v = judge(meta, samples)
    assert failed(v) == {"complete"} and "gaps longer than two intervals" in v.rule("complete").details[0]


def test_restart_during_a_gap_is_still_caught():
    meta, samples = steady(n=11)
    samples = with_restart(samples, 6)
    for s in samples[6:]:
        s["t"] += 600
    assert "no_restart" in failed(judge(meta, samples))


def test_detect_changes_orders_by_time():
    meta, samples = steady()
    samples = with_restart(samples, 12)
    samples[4]["containers"]["archy-bitcoin-knots"]["state"] = "stopping"
    kinds = [(c.container, c.kind) for c in detect_changes(samples)]
    assert kinds[0] == ("archy-bitcoin-knots", "state") and ("archy-lnd", "restart") in kinds


def test_full_stack_order_and_conflicts():
    from harness.soak.runner import SoakError, full_stack
    from matrix.model import load
    m = load()
    stack = full_stack(m)
    assert stack == ["bitcoin-knots", "lnd", "electrumx", "btcpay", "mempool", "fedimint"]
    assert full_stack(m, ["mempool"]) == ["bitcoin-knots", "electrumx", "mempool"]
    with pytest.raises(SoakError, match="conflicts with bitcoin-knots"):
        full_stack(m, ["bitcoin-knots", "bitcoin-core"])
    with pytest.raises(SoakError, match="unknown app 'nope'"):
        full_stack(m, ["nope"])


def test_the_last_sample_counts_while_it_runs():
    """A TCG node: six samples each ~95 s long at t=0,120,...,510 for a 600 s soak. The last one
    observed until 605 s, so the soak is complete; judged on start times alone it was not."""
    meta, samples = steady(n=6)
    meta["duration"], meta["interval"] = 600, 30
    for i, s in enumerate(samples):
        s["t"] = samples[0]["t"] + (0, 120, 210, 330, 420, 510)[i]
        s["t_end"] = s["t"] + 95
    assert observed_span(samples, 30) == pytest.approx(605)
    assert judge(meta, samples).passed, judge(meta, samples).one_line()
    for s in samples:
        del s["t_end"]                      # timelines written before t_end was recorded
    assert failed(judge(meta, samples)) == {"complete"}
