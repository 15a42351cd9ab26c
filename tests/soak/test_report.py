"""Timeline file, rendering and the CLI's render command on recorded timelines (fast)."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.soak.report import render
from harness.soak.sampler import containers, parse_size, parse_units
from harness.soak.timeline import TimelineError, TimelineWriter, read_timeline
from node.names import ROOTFUL
from synthetic import steady, with_leak, with_restart

ROOT = Path(__file__).resolve().parents[2]
RECORDED = Path(__file__).with_name("data") / "vm-soak.jsonl"   # a real 5m soak on the TCG VM


def write(path, meta, samples, tail=b""):
    with TimelineWriter(path) as w:
        w.append(meta)
        for s in samples:
            w.append(s)
    if tail:
        with open(path, "ab") as f:
            f.write(tail)


def test_torn_last_line_is_skipped_and_next_append_starts_clean(tmp_path):
    meta, samples = steady(n=5)
    p = tmp_path / "t.jsonl"
    write(p, meta, samples, tail=b'{"kind": "sample", "seq": 5, "t": 17')   # crash mid-write
    tl = read_timeline(p)
    assert len(tl.samples) == 5 and tl.skipped_lines == [7]
    with TimelineWriter(p) as w:                    # resume appends after the torn line
        w.append({**samples[-1], "seq": 6, "t": samples[-1]["t"] + 30})
    tl = read_timeline(p)
    assert [s["seq"] for s in tl.samples] == [0, 1, 2, 3, 4, 6]


def test_not_a_timeline_is_a_clear_error(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"kind": "sample", "t": 1}\n')
    with pytest.raises(TimelineError, match=r"x.jsonl:1: not a soak timeline"):
        read_timeline(p)
    with pytest.raises(TimelineError, match="no such timeline"):
        read_timeline(tmp_path / "missing.jsonl")


def test_render_pass_and_fail_reports(tmp_path):
    meta, samples = steady()
    write(tmp_path / "ok" / "timeline.jsonl", meta, samples)
    v, paths = render(tmp_path / "ok" / "timeline.jsonl")
    html = paths["html"].read_text()
    assert v.passed and "PASS" in html and html.count("<svg") == 5
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    write(tmp_path / "bad" / "timeline.jsonl", meta, with_leak(with_restart(samples, 10)))
    v, paths = render(tmp_path / "bad" / "timeline.jsonl")
    html, md = paths["html"].read_text(), paths["markdown"].read_text()
    assert not v.passed and "## Soak FAIL" in md and "No container restart | **FAIL**" in md
    # the restart is drawn: a marker on the state timeline and a dashed line on the memory plot
    assert "archy-lnd restarted" in html and 'stroke-dasharray="4,3"' in html
    assert json.loads(paths["verdict"].read_text())["passed"] is False
    # one headline (once "FAIL: FAIL: ..."), and the restart marker labelled on the chart, not only on hover
    assert "<div class='verdict fail'>FAIL: no_restart:" in html and "FAIL: FAIL" not in html
    assert re.search(r'<text [^>]*>archy-lnd restarted', html)


def test_verdict_json_says_what_level_7_asks_of_a_nightly_soak(tmp_path):
    """The commit and the apps of the run, and its one-line summary (harness/levels.read_soak)."""
    from harness.levels import read_soak
    meta, samples = steady()
    write(tmp_path / "timeline.jsonl", {**meta, "commit": "c" * 40}, with_leak(samples))
    render(tmp_path / "timeline.jsonl")
    soak = read_soak(tmp_path)
    assert (soak.passed, soak.commit, soak.apps) == (False, "c" * 40, tuple(meta["apps"]))
    assert soak.summary.startswith("FAIL: memory:") and soak.source == str(tmp_path / "verdict.json")


def test_every_svg_is_well_formed_xml(tmp_path):
    import xml.etree.ElementTree as ET
    meta, samples = steady()
    write(tmp_path / "timeline.jsonl", meta, with_restart(samples, 3))
    _, paths = render(tmp_path / "timeline.jsonl")
    svgs = re.findall(r"<svg.*?</svg>", paths["html"].read_text(), re.S)
    assert len(svgs) == 5
    for s in svgs:
        ET.fromstring(s)


def test_container_names_are_escaped(tmp_path):
    meta, samples = steady(n=3)
    for s in samples:
        s["containers"]["<b>x&y"] = dict(s["containers"]["archy-lnd"])
    write(tmp_path / "timeline.jsonl", meta, samples)
    _, paths = render(tmp_path / "timeline.jsonl")
    html = paths["html"].read_text()
    assert "<b>x&y" not in html and "&lt;b&gt;x&amp;y" in html


def test_recorded_vm_timeline(tmp_path):
    """Recorded on the embedded VM under heavy host load: a container restarted at the end
    (its shutdown logged) and /health answering 503 while ticks took longer than 2 intervals."""
    v, paths = render(RECORDED, tmp_path)
    assert not v.rule("journal").passed and "archy-bitcoin-ui" in v.rule("journal").details[0]
    assert not v.rule("steady_state").passed and v.rule("complete").passed and v.rule("memory").passed
    html = paths["html"].read_text()
    assert html.count("<polyline") >= 8 and "archy-bitcoin-knots" in html
    assert "\n" not in paths["markdown"].read_text().split("| rule |")[1].split("\n\n")[0].replace("\n|", "|")


def test_cli_render_exit_codes(tmp_path):
    meta, samples = steady()
    write(tmp_path / "a" / "timeline.jsonl", meta, samples)
    write(tmp_path / "b" / "timeline.jsonl", meta, with_restart(samples, 4))
    run = lambda *a: subprocess.run([sys.executable, "-m", "harness.soak", *a], cwd=ROOT,
                                    capture_output=True, text=True, timeout=60)
    assert run("render", str(tmp_path / "a" / "timeline.jsonl")).returncode == 0
    r = run("render", str(tmp_path / "b" / "timeline.jsonl"))
    assert r.returncode == 1 and "no_restart" in r.stdout
    r = run("render", str(tmp_path / "nope.jsonl"))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "no such timeline" in r.stderr
    r = run("run", "--duration", "ten minutes")
    assert r.returncode == 2 and "bad duration" in r.stderr and "Traceback" not in r.stderr


def test_sampler_parsers():
    assert parse_size("12.5MB") == 12_500_000 and parse_size("1.5GiB") == 1610612736 and parse_size("x") is None
    units = parse_units("Id=archy-lnd.service\nActiveState=active\nNRestarts=2\nInvocationID=ab\n"
                        "MemoryCurrent=1000\nCPUUsageNSec=2000000000\n\nId=archy-lnd-ui.service\nActiveState=failed\n")
    ps = [{"Names": ["archy-lnd"], "State": "running", "Status": "Up 3 minutes (healthy)", "Id": "c1",
           "StartedAt": 5}]
    stats = [{"name": "archy-lnd", "mem_usage": "20MB / 2GB", "cpu_percent": "3.5%"}]
    prev = {"archy-lnd": {"cpu_ns": 1_000_000_000}}
    c = containers(units, ps, stats, {"archy-lnd": "lnd", "archy-lnd-ui": "lnd"}, prev, 10.0, names=ROOTFUL)
    assert c["archy-lnd"]["health"] == "healthy" and c["archy-lnd"]["nrestarts"] == 2
    assert c["archy-lnd"]["mem_bytes"] == 20_000_000 and c["archy-lnd"]["cpu_pct"] == pytest.approx(10.0)
    assert c["archy-lnd-ui"]["state"] == "missing" and c["archy-lnd-ui"]["active"] == "failed"


def test_latency_axis_reads_in_seconds_not_exponents(tmp_path):
    meta, samples = steady(n=5)
    for s in samples:
        s["latency"] = {"sample": 91.6, "goss:lnd": 51.9, "health": 0.8}   # the TCG soak's figures
    write(tmp_path / "timeline.jsonl", meta, samples)
    html = render(tmp_path / "timeline.jsonl")[1]["html"].read_text()
    latency = html[html.index("Probe latency"):]
    latency = latency[:latency.index("</svg>")]
    assert "e+" not in latency and re.search(r">100<|>80<", latency), latency[:400]
