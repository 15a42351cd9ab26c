"""UI iframe: the proxied page carries headers that let the dashboard (same origin) frame it
and nothing else (CSP frame-ancestors and/or X-Frame-Options, each consistent)."""
from __future__ import annotations

from harness.checks import probes
from harness.checks.headers import frame_policy_problems, parse_head
from harness.grid.context import CellContext
from harness.grid.event import FULL_LINE, GridEvent


def run(ctx: CellContext) -> None:
    app = ctx.app
    url = f"https://127.0.0.1{app.proxy_path}"
    res = ctx.node.run(f"curl -sk -D - -o /dev/null --max-time 10 {url}", timeout=30)
    try:
        head = parse_head(res.stdout)
    except ValueError as e:
        raise AssertionError(f"{app.id}: {url}: {e} (curl rc {res.rc})") from None
    if head.status != 200:
        raise AssertionError(f"{app.id}: {url}: HTTP {head.status}, expected 200 for the framed page")
    want = app.iframe or {}
    problems = frame_policy_problems(head, want.get("frame_ancestors", "'self'"),
                                     want.get("x_frame_options", "SAMEORIGIN"))
    if problems:
        raise AssertionError(f"{app.id}: {url}: " + "; ".join(problems))
    ui, _ = probes.ui_target(ctx.matrix, app)
    ctx.notes.append(f"{ui.id} frame policy: CSP {head.get('content-security-policy')} "
                     f"XFO {head.get('x-frame-options')}")


EVENT = GridEvent("ui_iframe", run, starts_from=FULL_LINE, read_only=True)
