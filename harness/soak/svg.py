"""Inline SVG charts for the soak report, rendered here (no plotting library, no scripts).

x is always seconds since the soak started; every text is XML-escaped.
"""
from __future__ import annotations

import math
from html import escape

from harness.duration import format_duration

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939"]
STATE_COLOURS = {"running": "#4caf50", "active": "#4caf50", "healthy": "#4caf50", "starting": "#ffc107",
                 "missing": "#9e9e9e", "exited": "#f44336", "stopped": "#f44336", "failed": "#b71c1c"}
EVENT_COLOURS = {"restart": "#d62728", "state": "#ff7f0e", "health": "#ffb300",
                 "appeared": "#1f77b4", "vanished": "#6d4c41", "resume": "#7f7f7f", "install": "#2ca02c"}

LEFT, RIGHT, TOP, BOTTOM = 70, 20, 30, 40


def nice_step(span: float, target: int = 5) -> float:
    if span <= 0:
        return 1.0
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def time_step(span: float, target: int = 8) -> float:
    for step in (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400):
        if span / step <= target:
            return step
    return 86400 * math.ceil(span / 86400 / target)


def _svg_open(width: int, height: int, title: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
            f'<rect width="{width}" height="{height}" fill="white"/>',
            f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" font-size="13" '
            f'font-weight="bold">{escape(title)}</text>']


def _x_axis(parts, x0, x1, y, t_span, sx):
    step = time_step(t_span)
    t = 0.0
    while t <= t_span + 1e-9:
        x = sx(t)
        parts.append(f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + 4}" stroke="#333"/>')
        parts.append(f'<text x="{x:.1f}" y="{y + 16}" text-anchor="middle">{format_duration(t)}</text>')
        t += step
    parts.append(f'<line x1="{x0}" y1="{y}" x2="{x1}" y2="{y}" stroke="#333"/>')


def _short(label: str, width: int = 28) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def line_chart(series: dict[str, list[tuple[float, float]]], *, title: str, y_label: str,
               y_format=lambda v: f"{v:,.10g}", t_span: float, width: int = 900, height: int = 300,
               markers: list[tuple[float, str, str]] = ()) -> str:
    """series: name -> [(seconds since start, value)]; markers: (seconds, label, kind)."""
    legend_rows = math.ceil(len(series) / 4) if series else 0
    plot_bottom = height - BOTTOM - 16 * legend_rows
    parts = _svg_open(width, height, title)
    x0, x1, y0, y1 = LEFT, width - RIGHT, TOP, plot_bottom
    values = [v for pts in series.values() for _, v in pts]
    if not values:
        parts.append(f'<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" '
                     f'fill="#888">no data</text></svg>')
        return "\n".join(parts)
    vmax = max(values)
    vmin = min(0.0, min(values))
    step = nice_step(vmax - vmin or 1.0)
    top = math.ceil(vmax / step) * step if vmax > 0 else step
    t_span = max(t_span, 1.0)

    def sx(t):
        return x0 + (x1 - x0) * t / t_span

    def sy(v):
        return y1 - (y1 - y0) * (v - vmin) / ((top - vmin) or 1.0)

    v = vmin
    while v <= top + step / 1000:
        y = sy(v)
        parts.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}" stroke="#e0e0e0"/>')
        parts.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(y_format(v))}</text>')
        v += step
    parts.append(f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#333"/>')
    parts.append(f'<text transform="translate(14,{(y0 + y1) / 2:.0f}) rotate(-90)" '
                 f'text-anchor="middle">{escape(y_label)}</text>')
    _x_axis(parts, x0, x1, y1, t_span, sx)
    for t, label, kind in markers:
        x = sx(t)
        colour = EVENT_COLOURS.get(kind, "#d62728")
        parts.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y1}" stroke="{colour}" '
                     f'stroke-dasharray="4,3"><title>{escape(label)}</title></line>')
        # the marker says what it marks on the chart itself, not only in a hover title
        parts.append(f'<text x="{x + 3:.1f}" y="{y0 + 10}" font-size="10" fill="{colour}">'
                     f'{escape(_short(label))}</text>')
    for i, (name, pts) in enumerate(sorted(series.items())):
        colour = PALETTE[i % len(PALETTE)]
        pts = sorted(pts)
        if len(pts) == 1:
            t, v = pts[0]
            parts.append(f'<circle cx="{sx(t):.1f}" cy="{sy(v):.1f}" r="3" fill="{colour}"/>')
        else:
            path = " ".join(f"{sx(t):.1f},{sy(v):.1f}" for t, v in pts)
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" points="{path}">'
                         f'<title>{escape(name)}</title></polyline>')
        lx = x0 + (i % 4) * ((x1 - x0) / 4)
        ly = plot_bottom + 30 + 16 * (i // 4)
        parts.append(f'<rect x="{lx:.0f}" y="{ly - 9}" width="12" height="4" fill="{colour}"/>')
        parts.append(f'<text x="{lx + 16:.0f}" y="{ly - 4}">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def state_timeline(lanes: dict[str, list[tuple[float, float, str]]], events: list[tuple[float, str, str, str]],
                   *, title: str, t_span: float, width: int = 900) -> str:
    """lanes: container -> [(start s, end s, state)]; events: (s, container, kind, detail)."""
    names = sorted(set(lanes) | {e[1] for e in events})
    lane_h = 22
    height = TOP + lane_h * max(1, len(names)) + BOTTOM + 20
    label_w = 150
    parts = _svg_open(width, height, title)
    x0, x1 = label_w, width - RIGHT
    y_axis = TOP + lane_h * max(1, len(names)) + 4
    t_span = max(t_span, 1.0)

    def sx(t):
        return x0 + (x1 - x0) * min(max(t, 0.0), t_span) / t_span

    for i, name in enumerate(names):
        y = TOP + i * lane_h
        parts.append(f'<text x="{x0 - 6}" y="{y + 15}" text-anchor="end">{escape(name)}</text>')
        parts.append(f'<rect x="{x0}" y="{y + 3}" width="{x1 - x0}" height="{lane_h - 6}" fill="#f5f5f5"/>')
        for start, end, st in lanes.get(name, []):
            colour = STATE_COLOURS.get(st, "#ff9800")
            w = max(sx(end) - sx(start), 1.5)
            parts.append(f'<rect x="{sx(start):.1f}" y="{y + 3}" width="{w:.1f}" height="{lane_h - 6}" '
                         f'fill="{colour}"><title>{escape(name)}: {escape(st)}</title></rect>')
        for t, lane, kind, detail in events:
            if lane != name:
                continue
            x = sx(t)
            colour = EVENT_COLOURS.get(kind, "#d62728")
            parts.append(f'<path d="M{x:.1f},{y + 1} l5,-0 l-5,10 l-5,-10 z" fill="{colour}" stroke="#000" '
                         f'stroke-width="0.5"><title>{escape(detail)}</title></path>')
            parts.append(f'<line x1="{x:.1f}" y1="{y + 3}" x2="{x:.1f}" y2="{y + lane_h - 3}" '
                         f'stroke="{colour}" stroke-width="2"/>')
    _x_axis(parts, x0, x1, y_axis, t_span, sx)
    lx = x0
    for kind in ("restart", "state", "health", "vanished"):
        parts.append(f'<rect x="{lx}" y="{height - 14}" width="10" height="10" fill="{EVENT_COLOURS[kind]}"/>')
        parts.append(f'<text x="{lx + 14}" y="{height - 5}">{kind}</text>')
        lx += 90
    parts.append("</svg>")
    return "\n".join(parts)
