"""HTML and Markdown renderings of a Grid. Pure: text in, text out."""
from __future__ import annotations

import html
import time

from matrix.standing import Proof, Rung, Standing

from .grid import MISSING, NA, UNSELECTED, Grid, GridCell, RunInfo

SYMBOL = {"passed": "✓", "failed": "✗", "not_run": "○", MISSING: "?", UNSELECTED: "·", NA: "—"}
EMOJI = {"passed": "✅", "failed": "❌", "not_run": "⏭️", MISSING: "❔", UNSELECTED: "·", NA: "—"}
LABEL = {"passed": "passed", "failed": "failed", "not_run": "not run", MISSING: "no result",
         UNSELECTED: "not selected", NA: "not applicable"}
CSS = """
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:center}
th.row{text-align:left;font-weight:normal}
td.passed{background:#c8f0c8}td.failed{background:#f7b6b6;font-weight:bold}
td.not_run{background:#fff1b8}td.missing{background:#ddd}td.unselected{color:#aaa}td.na{color:#bbb}
td.level{background:#e6eefc;font-weight:bold}
small{color:#666}a{color:inherit}
ul.reasons li{margin:.2em 0}
span.passed{color:#1a7f1a}span.failed{color:#b00;font-weight:bold}span.not_run,span.missing,span.partial{color:#a60}
"""
# a proof a level rests on (matrix/standing.py), as each renderer marks it
PROOF_SYMBOL = {**SYMBOL, "partial": "✓*"}
PROOF_EMOJI = {**EMOJI, "partial": "✅*"}


def _title(c: GridCell) -> str:
    bits = [f"{c.app} / {c.event}", LABEL[c.verdict]]
    if c.requirement:
        bits.append(c.requirement)
    if c.reason:
        bits.append(c.reason)
    bits += [f"part not run: {r}" for r in c.parts_not_run]
    bits += [f"retried: {c.retried}"] if c.retried else []
    bits += [f"broken infrastructure: {c.broken}"] if c.broken else []
    return " — ".join(bits)


def _suffix(c: GridCell) -> str:
    """* a part not run here; ↻ run again after a guest kernel crash; ⚡ the retry crashed too."""
    return ("*" if c.parts_not_run else "") + ("↻" if c.retried else "") + ("⚡" if c.broken else "")


def _judged(grid: Grid, node: str, app: str) -> bool:
    """Whether the run had anything of `app` to judge (an app outside --apps has no level, not L0)."""
    return any(grid.cells[(node, app, ev)].verdict not in (UNSELECTED, NA) for ev in grid.rows)


def _partial(cells) -> list[GridCell]:
    return [c for c in cells if c.verdict == "passed" and c.parts_not_run]


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t)) if t else "?"


def _span(r: RunInfo) -> str:
    took = f" ({(r.finished - r.started) / 60:.0f} min)" if r.started and r.finished else ""
    return f"{_when(r.started)} to {_when(r.finished)}{took}"


def _seconds(s: float) -> str:
    return f"{s / 60:.0f} min" if s >= 90 else f"{s:.0f} s"


def run_facts(r: RunInfo) -> list[str]:
    """The page's head, as plain text lines: the gate's verdict first, then commit, times and links."""
    gate = r.gate["summary"] if r.gate else "not judged yet (ci/gate --write results/gate.json)"
    return [f"Gate: {gate}", f"Commit {(r.commit or 'unknown')[:12]}, run {_span(r)}"]


def html_report(grid: Grid, heading: str = "Lifecycle matrix") -> str:
    e = html.escape
    several = len(grid.nodes) > 1
    r = grid.run
    verdict = (r.gate or {}).get("verdict", "")
    head = (f"<p class=gate><span class={'passed' if verdict == 'PASS' else 'failed' if verdict else 'missing'}>"
            f"{e(run_facts(r)[0])}</span></p><p>{e(run_facts(r)[1])}"
            + "".join(f" · <a href=\"{e(href)}\">{e(label)}</a>" for label, href in r.links) + "</p>")
    out = [f"<!doctype html><meta charset=utf-8><title>{e(heading)}</title><style>{CSS}</style>",
           f"<h1>{e(heading)}</h1>", head,
           f"<p>Rendered {e(time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime()))}. "
           + " · ".join(f"{SYMBOL[k]} {LABEL[k]}: {v}" for k, v in sorted(grid.counts().items())) + "</p>",
           "<table><tr>" + ("<th>node</th>" if several else "") + "<th>event \\ app</th>"
           + "".join(f"<th>{e(grid.titles.get(a, a))}<br><small>{e(a)}</small></th>" for a in grid.apps) + "</tr>"]
    for node in grid.nodes:
        for i, ev in enumerate(grid.rows):
            row = "<tr>"
            if several and i == 0:
                row += f"<th class=row rowspan={len(grid.rows) + 1}>{e(node)}</th>"
            row += f"<th class=row>{e(grid.titles.get(ev, ev))}</th>"
            for app in grid.apps:
                c = grid.cells[(node, app, ev)]
                sym = SYMBOL[c.verdict] + _suffix(c)
                if c.artifacts:
                    folder = c.artifacts[0].rsplit("/", 1)[0] + "/"
                    sym = f"<a href=\"{e(folder)}\">{sym}</a>"
                req = f"<br><small>{e(c.requirement)}</small>" if c.requirement == "SHOULD" else ""
                took = f"<br><small>{_seconds(c.duration)}</small>" if c.duration else ""
                row += f"<td class={c.verdict} title=\"{e(_title(c))}\">{sym}{req}{took}</td>"
            out.append(row + "</tr>")
        out.append("<tr><th class=row>level</th>" + "".join(
            f"<td class=level title=\"{e(grid.level_titles.get(grid.levels[node][a], 'none'))} — "
            f"{e(_stops(grid.standings[node][a]))}\">L{grid.levels[node][a]}</td>" if _judged(grid, node, a)
            else "<td class=unselected title=\"not selected in this run: no level\">·</td>" for a in grid.apps) + "</tr>")
    out.append("</table>")
    out.append("<p><small>Levels: " + "; ".join(f"L{n} {e(t)}" for n, t in sorted(grid.level_titles.items()))
               + ". An app's level is the highest whose evidence all holds (below).</small></p>")
    out += _html_evidence(grid)
    notes = [c for c in grid.cells.values() if c.verdict in ("failed", "not_run", MISSING)]
    if notes:
        out.append("<h2>Failed, not run, no result</h2><ul class=reasons>")
        for c in notes:
            links = " ".join(f"<a href=\"{e(p)}\">{e(p.rsplit('/', 1)[-1])}</a>" for p in c.artifacts)
            node = f"{e(c.node)}: " if several else ""
            took = f", {_seconds(c.duration)}" if c.duration else ""
            out.append(f"<li class={c.verdict}>{SYMBOL[c.verdict]} {node}<b>{e(c.app)}-{e(c.event)}</b> "
                       f"({e(c.requirement or '')}, {LABEL[c.verdict]}{took}): {e(c.reason or '—')} {links}</li>")
        out.append("</ul>")
    if grid.time_spent:
        out.append("<h2>Where the time went</h2><p><small>From timings.json: spans, SSH time and waits "
                   "overlap, so they do not add up to the total.</small></p><table class=timings>"
                   + "".join(f"<tr><td>{e(what)}</td><td>{e(took)}</td></tr>" for what, took in grid.time_spent)
                   + "</table>")
    partial = _partial(grid.cells.values())
    if partial:
        out.append("<h2>Passed, with a part not run here (✓*)</h2><ul class=reasons>")
        for c in partial:
            node = f"{e(c.node)}: " if several else ""
            out.append(f"<li>{node}<b>{e(c.app)}-{e(c.event)}</b>: " + "; ".join(e(r) for r in c.parts_not_run) + "</li>")
        out.append("</ul>")
    return "\n".join(out) + "\n"


def _stops(s: Standing) -> str:
    """Where an app's level stops and why."""
    r = s.stopped_at
    return f"not L{r.n} {r.title}: {r.why}" if r else "every level earned"


def _rung_parts(r: Rung, mark, text=lambda s: s) -> list[str]:
    """A level's proofs as each renderer marks them, then what it lacks and what is said of it."""
    return [mark(p) for p in r.proofs] + [text(x) for x in ([r.lacking] if r.lacking else []) + list(r.notes)]


def _proof_md(p: Proof) -> str:
    note = f" ({_md(p.note)})" if p.note and not p.holds else ""
    return f"{PROOF_EMOJI[p.verdict]} `{p.id}`{note}"


def _md_evidence(grid: Grid) -> list[str]:
    """## What the levels rest on: per app the cells and experiments of each level up to the one
    it stops at, and why it stops there."""
    several = len(grid.nodes) > 1
    out = ["## What the levels rest on"]
    for node in grid.nodes:
        if several:
            out += ["", f"### {node}"]
        for app, s in grid.standings.get(node, {}).items():
            if not _judged(grid, node, app):
                continue
            out.append(f"- **{app} L{s.level}**: {_md(_stops(s))}")
            for r in s.rungs:
                out.append(f"  - L{r.n} {r.title}{'' if r.earned else ' (not earned)'}: "
                           + ("; ".join(_rung_parts(r, _proof_md)) or "nothing applies"))
    return out + [""]


def _html_evidence(grid: Grid) -> list[str]:
    e = html.escape
    several = len(grid.nodes) > 1

    def mark(p: Proof) -> str:
        note = f" ({e(p.note)})" if p.note and not p.holds else ""
        return f"<span class={p.verdict}>{PROOF_SYMBOL[p.verdict]} {e(p.id)}</span>{note}"

    out = ["<h2>What the levels rest on</h2>"]
    for node in grid.nodes:
        if several:
            out.append(f"<h3>{e(node)}</h3>")
        out.append("<ul class=reasons>")
        for app, s in grid.standings.get(node, {}).items():
            if not _judged(grid, node, app):
                continue
            out.append(f"<li><b>{e(app)} L{s.level}</b>: {e(_stops(s))}<ul>")
            out += [f"<li>L{r.n} {e(r.title)}{'' if r.earned else ' (not earned)'}: "
                    + ("; ".join(_rung_parts(r, mark, e)) or "nothing applies") + "</li>" for r in s.rungs]
            out.append("</ul></li>")
        out.append("</ul>")
    return out


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_report(grid: Grid, heading: str = "Lifecycle matrix") -> str:
    several = len(grid.nodes) > 1
    gate, facts = run_facts(grid.run)
    links = "".join(f" · [{label}]({href})" for label, href in grid.run.links)
    lines = [f"# {heading}", "", f"**{gate}**", "", facts + links, "",
             " · ".join(f"{EMOJI[k]} {LABEL[k]}: {v}" for k, v in sorted(grid.counts().items())), ""]
    head = (["node"] if several else []) + ["event \\ app"] + grid.apps
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for node in grid.nodes:
        for ev in grid.rows:
            row = ([node] if several else []) + [grid.titles.get(ev, ev)]
            for app in grid.apps:
                c = grid.cells[(node, app, ev)]
                mark = EMOJI[c.verdict] + _suffix(c) + (" (S)" if c.requirement == "SHOULD" else "")
                if c.artifacts:
                    mark = f"[{mark}]({c.artifacts[0].rsplit('/', 1)[0]}/)"
                row.append(mark)
            lines.append("| " + " | ".join(_md(x) for x in row) + " |")
        lines.append("| " + " | ".join(([node] if several else []) + ["**level**"]
                                        + [f"**L{grid.levels[node][a]}**" if _judged(grid, node, a) else "·"
                                           for a in grid.apps]) + " |")
    lines += ["", "Levels: " + "; ".join(f"L{n} {t}" for n, t in sorted(grid.level_titles.items())), ""]
    lines += _md_evidence(grid)
    notes = [c for c in grid.cells.values() if c.verdict in ("failed", "not_run", MISSING)]
    if notes:
        lines.append("## Failed, not run, no result")
        for c in notes:
            where = f"{c.node}: " if several else ""
            took = f", {_seconds(c.duration)}" if c.duration else ""
            art = f" [artifacts]({c.artifacts[0].rsplit('/', 1)[0]}/)" if c.artifacts else ""
            lines.append(f"- {EMOJI[c.verdict]} {where}`{c.app}-{c.event}` ({c.requirement}, {LABEL[c.verdict]}"
                         f"{took}): {_md(c.reason or '—')}{art}")
    if grid.time_spent:
        lines += ["", "## Where the time went", "", "| what | time |", "|---|---|"]
        lines += [f"| {_md(what)} | {took} |" for what, took in grid.time_spent]
    partial = _partial(grid.cells.values())
    if partial:
        lines += ["", "## Passed, with a part not run here (*)"]
        for c in partial:
            where = f"{c.node}: " if several else ""
            lines.append(f"- {where}`{c.app}-{c.event}`: " + "; ".join(_md(r) for r in c.parts_not_run))
    retried = [c for c in grid.cells.values() if c.retried]
    if retried:
        lines += ["", "## Run again after a guest kernel crash (↻; ⚡ the retry crashed too)"]
        for c in retried:
            where = f"{c.node}: " if several else ""
            lines.append(f"- {where}`{c.app}-{c.event}` ({LABEL[c.verdict]}): {_md(c.retried)}"
                         + (f"; {_md(c.broken)}" if c.broken else ""))
    return "\n".join(lines) + "\n"
