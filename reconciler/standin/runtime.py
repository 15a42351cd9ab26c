"""Process entry: settings, signals, loops, exit codes."""
import os
import signal
import threading

from .bitcoind import Bitcoind
from .electrumx import ElectrumX
from .lnd import Lnd
from .netkit import ListenError
from .service import Fatal, Standin, log, log_error
from .settings import SettingsError, from_environ
from .ui import Ui
from .webapp import WebApp


PROFILES = {"bitcoind": Bitcoind, "lnd": Lnd, "electrumx": ElectrumX, "ui": Ui}


def build(settings) -> Standin:
    return PROFILES.get(settings.profile, WebApp)(settings)


def _every(interval: float, fn, stop: threading.Event) -> None:
    while not stop.wait(interval):
        fn()


def main(argv: list[str]) -> int:
    try:
        settings = from_environ(argv[0] if argv else None)
    except SettingsError as exc:
        log_error(str(exc))
        return 1
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    svc = build(settings)
    svc.request_stop = stop.set
    try:
        svc.start()
    except (SettingsError, ListenError, Fatal) as exc:
        log_error(str(exc))
        svc.listeners.close()
        svc.status_listener.close()
        return 1
    threading.Thread(target=_every, args=(settings.check_interval, svc.refresh_integrations, stop), daemon=True).start()
    threading.Thread(target=svc.background, args=(stop,), daemon=True).start()
    while not stop.wait(2.0):   # SIGTERM sets stop at once; this only bounds the wait
        pass
    if svc.fatal:
        log_error(svc.fatal)
        os._exit(1)  # like an aborting daemon: no flush, no clean marker
    log("shutdown requested")
    svc.shutdown()
    log("shutdown complete")
    return 0
