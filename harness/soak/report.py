"""The soak report: one self-contained HTML file (inline SVG, inline CSS, no scripts) and a
Markdown summary for a CI job page, both rendered from the timeline file alone."""
from __future__ import annotations

import datetime as dt
import json
from html import escape
from pathlib import Path

from harness.soak import svg
from harness.duration import format_duration
from harness.soak.timeline import Timeline, read_timeline
from harness.soak.verdict import DEFAULT_BOUNDS, RULE_TITLES, Verdict, judge

MIB = 1048576


def _seconds_label(v: float) -> str:
    """0.25, 2.5, 40, 120: two significant digits below 10 s, whole seconds above (not 1e+02)."""
    return f"{v:.2g}" if abs(v) < 10 else f"{v:,.0f}"


def _ts(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _status(c: dict | None) -> str:
    if c is None:
        return "missing"
    if c.get("state") not in (None, "running"):
        return c["state"]
    if c.get("active") not in (None, "active"):
        return c["active"]
    if c.get("health") in ("unhealthy", "starting"):
        return c["health"]
    return "running"


def series(tl: Timeline, field: str, scale: float = 1.0) -> dict[str, list[tuple[float, float]]]:
    t0 = tl.samples[0]["t"]
    out: dict[str, list[tuple[float, float]]] = {}
    for s in tl.samples:
        for name, c in (s.get("containers") or {}).items():
            v = c.get(field)
            if isinstance(v, (int, float)):
                out.setdefault(name, []).append((s["t"] - t0, v / scale))
    return out


def latency_series(tl: Timeline) -> dict[str, list[tuple[float, float]]]:
    t0 = tl.samples[0]["t"]
    out: dict[str, list[tuple[float, float]]] = {}
    for s in tl.samples:
        for name, v in (s.get("latency") or {}).items():
            if isinstance(v, (int, float)):
                out.setdefault(name, []).append((s["t"] - t0, float(v)))
    return out


def disk_series(tl: Timeline) -> dict[str, list[tuple[float, float]]]:
    t0 = tl.samples[0]["t"]
    out: dict[str, list[tuple[float, float]]] = {}
    for s in tl.samples:
        for mount, d in (s.get("disk") or {}).items():
            if d.get("size"):
                out.setdefault(mount, []).append((s["t"] - t0, 100.0 * d["used"] / d["size"]))
    return out


def lanes(tl: Timeline) -> dict[str, list[tuple[float, float, str]]]:
    t0 = tl.samples[0]["t"]
    names = sorted({n for s in tl.samples for n in (s.get("containers") or {})})
    out: dict[str, list[tuple[float, float, str]]] = {n: [] for n in names}
    for a, b in zip(tl.samples, tl.samples[1:] + [None]):
        start = a["t"] - t0
        end = (b["t"] - t0) if b else start
        for n in names:
            st = _status((a.get("containers") or {}).get(n))
            segs = out[n]
            if segs and segs[-1][2] == st and abs(segs[-1][1] - start) < 1e-6:
                segs[-1] = (segs[-1][0], end, st)
            else:
                segs.append((start, end, st))
    return out


def charts(tl: Timeline, verdict: Verdict) -> dict[str, str]:
    if not tl.samples:
        return {}
    t0 = tl.samples[0]["t"]
    span = tl.samples[-1]["t"] - t0
    marks = [(c.t - t0, c.detail, c.kind) for c in verdict.changes if c.kind in ("restart", "vanished")]
    marks += [(e["t"] - t0, e.get("what", "resume"), "resume") for e in tl.events
              if e.get("what") == "resume" and e["t"] >= t0]
    events = [(c.t - t0, c.container, c.kind, c.detail) for c in verdict.changes]
    return {
        "memory": svg.line_chart(series(tl, "mem_bytes", MIB), title="Memory per container", y_label="MiB",
                                 t_span=span, markers=marks),
        "timeline": svg.state_timeline(lanes(tl), events, title="Container state, restarts and state changes",
                                       t_span=span),
        "latency": svg.line_chart(latency_series(tl), title="Probe latency", y_label="seconds",
                                  y_format=_seconds_label, t_span=span, markers=marks),
        "cpu": svg.line_chart(series(tl, "cpu_pct"), title="CPU per container", y_label="% of one core",
                              t_span=span, markers=marks),
        "disk": svg.line_chart(disk_series(tl), title="Disk use", y_label="% used", t_span=span),
    }


def _bounds_text(meta: dict) -> str:
    b = {**DEFAULT_BOUNDS, **(meta.get("bounds") or {})}
    return (f"memory growth per container < max({b['mem_growth_floor'] / MIB:.0f} MiB, "
            f"{b['mem_growth_pct']:g} % of its start); coverage ≥ {b['coverage'] * 100:.0f} % of the duration")


CSS = """body{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;
vertical-align:top}.pass{background:#c8e6c9}.fail{background:#ffcdd2}.verdict{font-size:1.4em;padding:.5em}
details{margin:.3em 0}code{background:#f4f4f4}figure{margin:1em 0}"""


def render_html(tl: Timeline, verdict: Verdict) -> str:
    m = tl.meta
    cls = "pass" if verdict.passed else "fail"
    h = [f"<!doctype html><html><head><meta charset='utf-8'><title>Soak report {escape(m.get('node', ''))}</title>",
         f"<style>{CSS}</style></head><body>",
         f"<h1>Soak report: {escape(str(m.get('node', '?')))}</h1>",
         f"<div class='verdict {cls}'>{escape(verdict.one_line())}</div>",   # one_line() starts PASS:/FAIL:
         "<table>"]
    first = tl.samples[0]["t"] if tl.samples else m.get("started", 0)
    last = tl.samples[-1]["t"] if tl.samples else first
    for k, v in (("apps", ", ".join(m.get("apps") or [])), ("requested duration", format_duration(m.get("duration", 0))),
                 ("sampled", f"{format_duration(last - first)} in {len(tl.samples)} samples, every "
                             f"{format_duration(m.get('interval', 0))}"),
                 ("started", _ts(first) if tl.samples else "-"), ("ended", _ts(last) if tl.samples else "-"),
                 ("end of run", (tl.end or {}).get("reason", "no end record (still running or interrupted)")),
                 ("bounds", _bounds_text(m))):
        h.append(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>")
    h.append("</table>")
    if tl.skipped_lines:
        h.append(f"<p>Skipped unreadable timeline lines: {escape(str(tl.skipped_lines))}</p>")
    h.append("<h2>Rules</h2><table><tr><th>rule</th><th>result</th><th>details</th></tr>")
    for r in verdict.rules:
        det = "".join(f"<li>{escape(d)}</li>" for d in r.details[:50])
        more = f"<li>… {len(r.details) - 50} more</li>" if len(r.details) > 50 else ""
        h.append(f"<tr class='{'pass' if r.passed else 'fail'}'><td><b>{escape(r.name)}</b><br>{escape(r.title)}</td>"
                 f"<td>{'pass' if r.passed else 'FAIL'}</td><td><ul>{det}{more}</ul></td></tr>")
    h.append("</table>")
    for key, svg_text in charts(tl, verdict).items():
        h.append(f"<figure id='{key}'>{svg_text}</figure>")
    h.append("<h2>Memory per container</h2><table><tr><th>container</th><th>start</th><th>end</th><th>peak</th>"
             "<th>growth</th><th>bound</th></tr>")
    for name, mm in sorted(verdict.memory.items()):
        bad = mm["growth"] > mm["bound"]
        h.append(f"<tr class='{'fail' if bad else ''}'><td>{escape(name)}</td>"
                 + "".join(f"<td>{mm[k] / MIB:.1f} MiB</td>" for k in ("start", "end", "peak", "growth", "bound"))
                 + "</tr>")
    h.append("</table><h2>Changes</h2>")
    if verdict.changes:
        h.append("<ul>" + "".join(f"<li>{escape(_ts(c.t))}: {escape(c.detail)}</li>" for c in verdict.changes) + "</ul>")
    else:
        h.append("<p>none</p>")
    h.append("<h2>Rules, stated</h2><ul>" + "".join(
        f"<li><b>{escape(k)}</b>: {escape(v)}</li>" for k, v in RULE_TITLES.items()) + "</ul>")
    h.append("<p>Rendered from the timeline file alone; re-render with "
             "<code>python -m harness.soak render TIMELINE</code>.</p></body></html>")
    return "\n".join(h)


def render_markdown(tl: Timeline, verdict: Verdict) -> str:
    m = tl.meta
    first = tl.samples[0]["t"] if tl.samples else 0
    last = tl.samples[-1]["t"] if tl.samples else 0
    out = [f"## Soak {'PASS' if verdict.passed else 'FAIL'}: {m.get('node', '?')}", "",
           f"{format_duration(last - first)} sampled of {format_duration(m.get('duration', 0))} requested, "
           f"{len(tl.samples)} samples, apps: {', '.join(m.get('apps') or [])}.", "",
           "| rule | result | first detail |", "|---|---|---|"]
    for r in verdict.rules:
        first_detail = " ".join((r.details[0] if r.details else "").split()).replace("|", "\\|")
        more = f" (+{len(r.details) - 1} more)" if len(r.details) > 1 else ""
        out.append(f"| {r.title} | {'pass' if r.passed else '**FAIL**'} | {first_detail}{more} |")
    out += ["", "| container | memory start | end | peak | restarts |", "|---|---|---|---|---|"]
    restarts: dict[str, int] = {}
    for c in verdict.changes:
        if c.kind == "restart":
            restarts[c.container] = restarts.get(c.container, 0) + 1
    for name, mm in sorted(verdict.memory.items()):
        out.append(f"| {name} | {mm['start'] / MIB:.1f} MiB | {mm['end'] / MIB:.1f} MiB | {mm['peak'] / MIB:.1f} MiB "
                   f"| {restarts.get(name, 0)} |")
    out += ["", f"Bounds: {_bounds_text(m)}.", ""]
    return "\n".join(out)


def render(timeline_path: Path, out_dir: Path | None = None) -> tuple[Verdict, dict[str, Path]]:
    """Judge a timeline and write report.html, summary.md and verdict.json next to it (or in out_dir)."""
    tl = read_timeline(Path(timeline_path))
    verdict = judge(tl.meta, tl.samples)
    out_dir = Path(out_dir or Path(timeline_path).parent)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"html": out_dir / "report.html", "markdown": out_dir / "summary.md", "verdict": out_dir / "verdict.json"}
    paths["html"].write_text(render_html(tl, verdict), encoding="utf-8")
    paths["markdown"].write_text(render_markdown(tl, verdict), encoding="utf-8")
    # what level 7 asks of a nightly soak (harness/levels.py): the commit, the apps, how long
    about = {k: tl.meta.get(k) for k in ("commit", "apps", "node", "duration")}
    paths["verdict"].write_text(json.dumps({**verdict.to_dict(), **about, "summary": verdict.one_line()}, indent=1),
                                encoding="utf-8")
    return verdict, paths
