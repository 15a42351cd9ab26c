"""`python3 -m reconciler`: the daemon. RPC server thread + a tick loop on a monotonic clock."""
from __future__ import annotations

import logging
import signal
import sys
import threading
import time

from .catalog import CatalogError
from .daemon import Reconciler, SettingsError, load_settings
from .runner import Runner, Stopping
from .sdnotify import notify
from .server import make_server
from .store import Paths, StoreError

log = logging.getLogger("archipelago")


IDLE_DUTY = 5   # after a converged tick, wait 4x its length: the loop takes <= 1/5 of a CPU


def pause_after(report, interval: float) -> float:
    """A tick that found work is followed after `interval`; a converged one after at least 4x
    its own duration, so a slow node (TCG: a tick of several seconds) is not kept busy observing."""
    if report is None or not report.converged:
        return interval
    return max(interval, (IDLE_DUTY - 1) * report.duration)


def wait_next(stop: threading.Event, interval: float, wallclock: bool) -> None:
    if not wallclock:
        stop.wait(interval)  # Event.wait runs on the monotonic clock: clock steps do not matter
        return
    deadline = time.time() + interval  # chaos-wallclock-ticks: stalls when the clock steps back
    while not stop.is_set() and time.time() < deadline:
        stop.wait(min(0.5, interval))


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    root = (argv or sys.argv[1:] or ["/"])[0]
    try:
        settings = load_settings(Paths(root).settings)
        paths = Paths(root, settings.node)   # the node block names the rendered files and app dirs
        runner = Runner()
        rec = Reconciler(paths, runner, settings)
    except (SettingsError, StoreError, CatalogError, OSError) as e:
        log.error("cannot start: %s", e)
        return 2
    if settings.node.user_scope:
        log.info("rootless: %s's podman and user units (%s)", settings.node.user, settings.node.quadlet_dir)
    if settings.variant.name:
        log.warning("running the BROKEN variant %s (for make prove / chaos only)", settings.variant.name)
    try:
        server = make_server(rec, settings.listen_host, settings.listen_port)
    except OSError as e:
        log.error("cannot listen on %s:%s: %s", settings.listen_host, settings.listen_port, e)
        return 2
    threading.Thread(target=server.serve_forever, name="rpc", daemon=True).start()
    stop = threading.Event()

    def on_term(signum, frame):
        stop.set()
        runner.stop()   # the tick in flight ends now, not after its remaining podman/systemctl calls

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    log.info("listening on %s:%s, tick every %.1f s", settings.listen_host, settings.listen_port,
             settings.tick_interval)
    ready = False
    while not stop.is_set():
        report = None
        try:
            report = rec.tick()
            for app, why in report.failed.items():
                log.warning("%s: %s", app, why)
        except Stopping:
            break
        except (CatalogError, StoreError, OSError, RuntimeError, ValueError) as e:
            log.error("tick failed: %s", e)
        if not ready:
            notify("READY=1\nSTATUS=reconciling")
            ready = True
        notify("WATCHDOG=1")
        rec.pause = pause_after(report, settings.tick_interval)   # /health judges staleness by it
        wait_next(stop, rec.pause, settings.variant.off("monotonic-ticks"))
    notify("STOPPING=1")
    server.shutdown()
    if settings.variant.off("desired-written-at-once"):
        rec.flush()
    log.info("stopped; apps keep running in their own units")
    return 0


if __name__ == "__main__":
    sys.exit(main())
