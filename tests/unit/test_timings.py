"""Where the time goes: node/timing.py's tally (SSH commands, spans, polls charged to their caller)
and harness/timings.py's results/timings.json and report rows. Pure."""
import json

import pytest

from harness import timings
from node import api, timing


@pytest.fixture(autouse=True)
def fresh_tally(monkeypatch):
    monkeypatch.setattr(timing, "TALLY", timing.Tally())


def wait_for_health(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(api.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(api.time, "sleep", lambda s: now.__setitem__(0, now[0] + s))
    return api.poll(lambda: False, 30, 1.0)


def test_a_poll_is_charged_to_the_function_that_called_it(monkeypatch):
    before = timing.snapshot()
    assert wait_for_health(monkeypatch) is False
    got = timing.since(before)["waits"]
    assert got == {f"{__name__}.wait_for_health": [1, 30.0]}


def test_commands_and_spans_since_a_snapshot():
    timing.command(0.5)
    before = timing.snapshot()
    timing.command(0.25)
    timing.command(0.75)
    with timing.span("ladder restore"):
        with timing.span("ladder install"):
            pass
    got = timing.since(before)
    assert got["ssh"] == {"calls": 2, "seconds": 1.0}
    assert set(got["spans"]) == {"ladder restore", "ladder install"} and got["spans"]["ladder install"][0] == 1
    assert timing.since(timing.snapshot()) == {"ssh": {"calls": 0, "seconds": 0.0}, "spans": {}, "waits": {}}


def test_a_span_counts_when_its_body_raises():
    with pytest.raises(RuntimeError):
        with timing.span("batch action reboot_survival"):
            raise RuntimeError("reboot failed")
    assert timing.TALLY.spans["batch action reboot_survival"][0] == 1


def record(cell, setup, call, spans=None, ssh=(10, 4.0), waits=None):
    return timings.cell_record(cell, {"node": "vm0", "verdict": "passed"},
                               {"setup": setup, "call": call, "teardown": 1.0},
                               {"ssh": {"calls": ssh[0], "seconds": ssh[1]}, "spans": spans or {},
                                "waits": waits or {}})


def test_the_document_sums_cells_and_lists_batches():
    cells = [record("lnd-reboot_survival", 600.0, 5.0, {"batch action reboot_survival": [1, 580.0],
                                                        "ladder restore": [1, 15.0]}),
             record("bitcoin-knots-reboot_survival", 0.5, 4.0),
             record("lnd-fresh_install", 20.0, 200.0, {"ladder restore": [1, 18.0]},
                    waits={"harness.checks.probes.wait_healthy": [2, 90.0]})]
    doc = timings.document(cells, commit="abc", started=1.0, finished=2.0)
    t = doc["totals"]
    assert t["cells"] == 3 and t["seconds"] == pytest.approx(832.5)
    assert t["phases"] == {"setup": 620.5, "call": 209.0, "teardown": 3.0}
    assert t["ssh"] == {"calls": 30, "seconds": 12.0}
    assert t["spans"]["ladder restore"] == [2, 33.0]
    assert list(t["spans"])[0] == "batch action reboot_survival"          # longest first
    assert t["batches"] == [{"cell": "lnd-reboot_survival", "action": "reboot_survival", "seconds": 580.0}]
    json.dumps(doc)


def test_summary_rows_name_ssh_spans_and_waits():
    doc = timings.document([record("lnd-fresh_install", 20.0, 200.0, {"ladder install": [2, 300.0]},
                                   waits={"harness.checks.probes.wait_healthy": [2, 90.0]})],
                           commit="abc", started=1.0, finished=2.0)
    rows = dict(timings.summary(doc))
    assert rows["1 cells, summed"] == "3.7 min"
    assert rows["SSH round trips: 10, 0.40 s each"] == "4 s"
    assert rows["ladder install ×2"] == "5.0 min"
    assert rows["waiting in harness.checks.probes.wait_healthy (2 polls)"] == "1.5 min"


def test_read_gives_none_for_what_it_cannot_use(tmp_path):
    p = tmp_path / "timings.json"
    assert timings.read(p) is None
    p.write_text("{not json")
    assert timings.read(p) is None
    p.write_text(json.dumps({"version": 99, "totals": {}}))
    assert timings.read(p) is None
    doc = timings.document([], commit=None, started=0.0, finished=0.0)
    timings.write(p, doc)
    assert timings.read(p) == doc
