"""The start_order cell's pure parts: dependencies among the installed apps, the boot's first
Starting/Started times, the verdict."""
from __future__ import annotations

from harness.events.start_order import (UNIT_STARTED, UNIT_STARTING, dependencies, first_times,
                                        order_problems)
from matrix.model import load

M = load()
BOOT = "b1"


def entry(mid, unit, t, boot=BOOT, user=True):
    return {"MESSAGE_ID": mid, ("USER_UNIT" if user else "UNIT"): unit, "__MONOTONIC_TIMESTAMP": str(int(t * 1e6)),
            "_BOOT_ID": boot}


def test_dependencies_are_the_installed_providers():
    line = ("bitcoin-knots", "lnd", "electrumx", "btcpay", "mempool")
    assert dependencies(M, "lnd", line) == ["bitcoin-knots"]
    assert dependencies(M, "btcpay", line) == ["bitcoin-knots", "lnd"]
    assert dependencies(M, "mempool", line) == ["electrumx", "bitcoin-knots"]
    assert dependencies(M, "bitcoin-knots", line) == []
    assert dependencies(M, "lnd", ("bitcoin-core", "lnd")) == ["bitcoin-core"]


def test_first_times_keep_the_earliest_of_this_boot_only():
    times = first_times([entry(UNIT_STARTING, "lnd.service", 30), entry(UNIT_STARTING, "lnd.service", 12),
                         entry(UNIT_STARTING, "lnd.service", 1, boot="old"),
                         entry(UNIT_STARTED, "bitcoin-knots.service", 20, user=False),
                         {"MESSAGE_ID": "other", "USER_UNIT": "lnd.service", "_BOOT_ID": BOOT,
                          "__MONOTONIC_TIMESTAMP": "1"}], BOOT)
    assert first_times([entry(UNIT_STARTED, "x.service", 1, boot="6c1b2d3e0f")], "6c1b2d3e-0f") == {
        (UNIT_STARTED, "x.service"): 1.0}
    assert times == {(UNIT_STARTING, "lnd.service"): 12.0, (UNIT_STARTED, "bitcoin-knots.service"): 20.0}


def test_a_dependent_starting_before_its_dependency_is_ready_fails():
    times = {(UNIT_STARTING, "lnd.service"): 12.0, (UNIT_STARTED, "bitcoin-knots.service"): 20.0}
    [p] = order_problems(times, "lnd.service", "bitcoin-knots.service", "bitcoin-knots")
    assert "began starting at +12.0s, before bitcoin-knots" in p and "+20.0s" in p
    times[(UNIT_STARTING, "lnd.service")] = 20.5
    assert order_problems(times, "lnd.service", "bitcoin-knots.service", "bitcoin-knots") == []
    assert "never became ready" in order_problems({(UNIT_STARTING, "lnd.service"): 1.0}, "lnd.service",
                                                  "bitcoin-knots.service", "bitcoin-knots")[0]
    assert "no start of lnd.service" in order_problems({}, "lnd.service", "bitcoin-knots.service", "bitcoin-knots")[0]


def test_a_change_touches_the_apps_own_integrations_and_its_dependents():
    from harness.checks.probes import touched_integrations
    line = ("bitcoin-knots", "lnd", "electrumx", "btcpay", "mempool")
    assert touched_integrations(M, "lnd", line) == [("lnd", "bitcoin"), ("btcpay", "lnd")]
    assert ("lnd", "bitcoin") in touched_integrations(M, "bitcoin-knots", line)
    assert touched_integrations(M, "bitcoin-knots", ("bitcoin-knots",)) == []
