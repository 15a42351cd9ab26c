"""A soak run: install the stack through the PlatformDriver, then sample at an interval into the
timeline file until the duration is covered; resumable from the timeline after a crash."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from harness import revision
from harness.duration import format_duration
from harness.soak.report import render
from harness.soak.sampler import Sampler
from harness.soak.timeline import VERSION, TimelineWriter, read_timeline
from harness.soak.verdict import DEFAULT_BOUNDS, Verdict, observed_span
from matrix.stack import PlanError, stack
from node.api import NodeError


class SoakError(NodeError):
    pass


def full_stack(matrix, apps: list[str] | None = None) -> list[str]:
    """The apps to soak in install order (dependencies first); without a selection every grid app
    that does not conflict with one already chosen (bitcoin-knots wins over bitcoin-core)."""
    wanted = apps or list(matrix.apps)
    out: list[str] = []
    for a in wanted:
        if a not in matrix.apps:
            raise SoakError(f"unknown app {a!r} (known: {', '.join(matrix.apps)})")
        if a in out:
            continue
        clash = [o for o in out if a in matrix.apps[o].conflicts or o in matrix.apps[a].conflicts]
        if clash:
            if apps:
                raise SoakError(f"{a} conflicts with {clash[0]}: soak one of them")
            continue
        try:
            out += [x for x in stack(matrix, a, out) if x not in out]
        except PlanError as e:
            raise SoakError(str(e)) from None
    return out


def install(driver, apps: list[str], progress: Callable, timeout: float = 900) -> None:
    """Install each app (dependencies first); already installed apps are left as they are."""
    present = {c.get("app") for c in driver.containers() or []}
    for a in apps:
        if a in present:
            progress(f"soak: {a} already installed")
            continue
        t = time.monotonic()
        progress(f"soak: installing {a} ...")
        driver.install(a, timeout=timeout)
        progress(f"soak: {a} installed and healthy in {time.monotonic() - t:.0f}s")


def run_soak(node, driver, matrix, *, apps: list[str], duration: float, interval: float, timeline: Path,
             bounds: dict | None = None, do_install: bool = True, resume: bool = False,
             progress: Callable = print, on_sample: Callable[[int, dict], None] | None = None,
             install_timeout: float = 900) -> Verdict:
    timeline = Path(timeline)
    seq, cursor = 0, None
    if resume:
        tl = read_timeline(timeline)
        meta = tl.meta
        apps, duration, interval = meta["apps"], float(meta["duration"]), float(meta["interval"])
        done = observed_span(tl.samples, interval)
        seq = (tl.samples[-1]["seq"] + 1) if tl.samples else 0
        cursor = next((s["cursor"] for s in reversed(tl.samples) if s.get("cursor")), None)
        progress(f"soak: resuming {timeline} after {len(tl.samples)} samples "
                 f"({format_duration(done)} of {format_duration(duration)} observed)")
    else:
        if timeline.exists():
            raise SoakError(f"{timeline} exists: resume it (--resume) or pick another output directory")
        meta = {"kind": "meta", "version": VERSION, "node": node.name, "apps": apps, "duration": duration,
                "interval": interval, "started": time.time(), "bounds": {**DEFAULT_BOUNDS, **(bounds or {})},
                "commit": revision.commit()}
        done = 0.0
    sampler = Sampler(node, driver, matrix, apps)
    with TimelineWriter(timeline) as w:
        if resume:
            w.append({"kind": "event", "t": time.time(), "what": "resume"})
        else:
            w.append(meta)
            if do_install:
                t = time.time()
                try:
                    install(driver, apps, progress, install_timeout)
                except NodeError as e:
                    # the report still gets written: a nightly job shows why nothing was sampled
                    w.append({"kind": "event", "t": time.time(), "what": "install failed", "error": str(e)[:500]})
                    w.append({"kind": "end", "t": time.time(), "reason": f"install failed: {str(e)[:300]}"})
                    w.close()
                    verdict, paths = render(timeline)
                    progress(f"soak: install failed: {e}; report {paths['html']}")
                    return verdict
                w.append({"kind": "event", "t": time.time(), "what": "install", "apps": apps,
                          "seconds": round(time.time() - t, 1)})
        sampler.prepare(cursor)
        reason = "interrupted"
        try:
            start = time.monotonic() - done
            while True:
                s = sampler.sample(seq)
                w.append(s)
                _report(progress, s, time.monotonic() - start, duration)
                if on_sample:
                    on_sample(seq, s)
                seq += 1
                elapsed = time.monotonic() - start
                if elapsed >= duration:
                    break
                # the sampling cadence: wake at the next interval boundary (nothing is awaited)
                time.sleep(max(0.0, min(interval - (elapsed % interval), duration - elapsed)))
            reason = "completed"
        finally:
            w.append({"kind": "end", "t": time.time(), "reason": reason})
    verdict, paths = render(timeline)
    progress(f"soak: {verdict.one_line()}")
    progress(f"soak: report {paths['html']}, summary {paths['markdown']}")
    return verdict


def _report(progress: Callable, s: dict, elapsed: float, duration: float) -> None:
    cs = s.get("containers") or {}
    running = sum(1 for c in cs.values() if c.get("state") == "running")
    mem = sum(c.get("mem_bytes") or 0 for c in cs.values()) / 1048576
    goss_bad = [a for a, g in (s.get("goss") or {}).items() if not g.get("ok")]
    jerr = len((s.get("journal") or {}).get("errors") or [])
    progress(f"soak: sample {s['seq']} at {format_duration(elapsed)}/{format_duration(duration)}: "
             f"{running}/{len(cs)} running, {mem:.0f} MiB, goss failing: {','.join(goss_bad) or 'none'}, "
             f"journal errors: {jerr}" + (f", sampling errors: {s['errors']}" if s.get("errors") else ""))
