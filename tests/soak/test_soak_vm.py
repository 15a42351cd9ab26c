"""A real soak on the embedded VM (real systemd, podman, Quadlet, goss, journald): bitcoin-knots
and its UI companion for ~3 minutes, one container restarted mid-way. The verdict must fail on
exactly that restart, the report must carry real plots, and a re-render of the timeline must
agree. The steady half (before the restart) must pass on its own."""
import re
import shlex
import time

import pytest

from harness.soak.report import render
from harness.soak.runner import run_soak
from harness.soak.timeline import read_timeline
from harness.soak.verdict import judge
from matrix.model import load
from node.driver import PlatformDriver

pytestmark = [pytest.mark.vm, pytest.mark.slow]

APP, VICTIM = "bitcoin-knots", "archy-bitcoin-ui"


@pytest.fixture
def soak_node(node):
    from vm.node import VMNode
    if not isinstance(node, VMNode):
        pytest.skip("the soak test restores golden state: needs the embedded VM")
    node.restore()
    yield node
    node.restore()


def test_restart_mid_soak_fails_the_verdict(soak_node, tmp_path):
    node, lines = soak_node, []
    restarted = {}

    def on_sample(seq, sample):
        if seq == 2:                               # early: the restart alone takes ~40 s under TCG
            node.succeed(f"{node.cmd.systemctl} restart {shlex.quote(node.names.unit(VICTIM))}", timeout=300)
            restarted["t"] = time.time()

    timeline = tmp_path / "timeline.jsonl"
    verdict = run_soak(node, PlatformDriver(node), load(), apps=[APP], duration=180, interval=15,
                       timeline=timeline, progress=lines.append, on_sample=on_sample)
    assert restarted, "the soak ended before the restart"
    assert not verdict.passed
    restart = verdict.rule("no_restart")
    assert not restart.passed and all(VICTIM in d for d in restart.details), restart.details
    assert verdict.rule("complete").passed, verdict.rule("complete").details
    tl = read_timeline(timeline)
    assert len(tl.samples) >= 6 and tl.end["reason"] == "completed"
    # real figures from the node: memory per container, goss, tick
    s = tl.samples[-1]
    assert all(c["mem_bytes"] and c["mem_bytes"] > 1_000_000 for c in s["containers"].values())
    assert s["goss"][APP]["tests"] > 0 and "tick" in s["latency"]
    # the steady part before the restart passes every rule but coverage (it is shorter)
    before = [x for x in tl.samples if x["t"] < restarted["t"]]
    early = judge({**tl.meta, "duration": before[-1]["t"] - before[0]["t"]}, before)
    assert early.passed, early.one_line()
    # the report: five plots with drawn data, the restart marked, and a re-render agrees
    v2, paths = render(timeline, tmp_path / "again")
    html = paths["html"].read_text()
    assert v2.to_dict()["rules"] == verdict.to_dict()["rules"]
    assert html.count("<svg") == 5 and html.count("<polyline") >= 4 and f"{VICTIM} restarted" in html
    assert re.search(r"No container restart \| \*\*FAIL\*\*", paths["markdown"].read_text())
