"""What every profile shares: status endpoint, integration checks, lifecycle hooks."""
import os
import sys
import threading
import time
from typing import Callable

from . import faults
from .clients import ProbeError
from .datasum import data_checksum
from .netkit import Listeners, Request, Response
from .settings import Settings


class Fatal(Exception):
    """The app cannot run (exit 1 with this one-line message), like a real daemon refusing to start."""


def log(msg: str) -> None:
    """Progress on stdout: journald files it at info priority, like a daemon's normal chatter."""
    print(f"standin: {msg}", flush=True)


def log_error(msg: str) -> None:
    """A fault on stderr: journald files it at priority err, which the harness's journal check flags."""
    print(f"standin: {msg}", file=sys.stderr, flush=True)


class Standin:
    capabilities: tuple[str, ...] = ()   # integrations this profile checks
    uses_data = True

    def __init__(self, settings: Settings):
        self.s = settings
        self.listeners = Listeners(settings.bind)
        self.status_listener = Listeners(settings.bind)
        self.started_at = time.time()
        self.state = "starting"
        self.unclean_shutdown = False
        self.integrations = {cap: {"ok": False, "detail": "not checked yet"} for cap in self.capabilities}
        self.fatal: str | None = None
        self.request_stop: Callable[[], None] = lambda: None
        self._lock = threading.Lock()

    # -- lifecycle hooks (override) --
    def prepare(self) -> None:
        """Read config, verify/create data. Raise Fatal or SettingsError to refuse to start."""
        if self.uses_data:
            self.s.data.mkdir(parents=True, exist_ok=True)

    def open_listeners(self) -> None:
        """Open the app's own ports (the status port is opened by start())."""

    def checks(self) -> dict[str, Callable[[], str]]:
        """cap -> probe returning a detail string or raising ProbeError."""
        return {}

    def background(self, stop: threading.Event) -> None:
        """Profile work loop (bitcoind mines); returns when stop is set."""

    def close(self) -> None:
        """Graceful stop: close the app's ports, flush."""
        self.listeners.close()

    # -- shared --
    def start(self) -> None:
        if "exit-at-start" in faults.active(self.s.data):
            raise Fatal(f"{self.s.app}: refusing to start: {self.s.data} holds the exit-at-start fault")
        self.prepare()
        self.refresh_integrations()
        self.open_listeners()
        route = self.route_status_and_ui if self.s.ports.get("status") is None else self.route_status
        self.status_listener.http(self.s.status_port, route, "status")
        if self.state == "starting":
            self.state = "running"
        log(f"{self.s.profile} {self.s.app} {self.state} on {self.s.bind} ports {dict(self.s.ports)}")

    def shutdown(self) -> None:
        self.state = "stopping"
        try:
            self.close()
        finally:
            self.status_listener.close()

    def refresh_integrations(self) -> None:
        results = {}
        for cap, probe in self.checks().items():
            try:
                results[cap] = {"ok": True, "detail": probe()}
            except ProbeError as exc:
                results[cap] = {"ok": False, "detail": str(exc)}
        with self._lock:
            changed = {c for c in results if results[c]["ok"] != self.integrations.get(c, {}).get("ok")}
            self.integrations.update(results)
        for cap in sorted(changed):
            log(f"integration {cap}: {'ok' if results[cap]['ok'] else 'DOWN'} ({results[cap]['detail']})")

    def healthy(self) -> bool:
        return self.state == "running" and self.fatal is None

    def extra_status(self) -> dict:
        return {}

    def status(self) -> dict:
        with self._lock:
            integrations = {c: dict(v) for c, v in self.integrations.items()}
        return {
            "app": self.s.app, "profile": self.s.profile, "healthy": self.healthy(), "state": self.state,
            "integrations": integrations,
            "data_checksum": data_checksum(self.s.data),
            "unclean_shutdown": self.unclean_shutdown, "started_at": self.started_at, "pid": os.getpid(),
            "ports": dict(self.s.ports), **self.extra_status(),
        }

    def route_status(self, req: Request) -> Response:
        if req.method in ("GET", "HEAD") and req.path.split("?")[0] in ("/status", "/status/"):
            return Response.json(200, self.status())
        return Response.json(404, {"error": "not found"})

    def ui_page(self) -> str:
        rows = "".join(f"<li>{cap}: {'ok' if v['ok'] else 'down'}</li>" for cap, v in self.status()["integrations"].items())
        return (f"<!doctype html><html><head><meta charset=utf-8><title>{self.s.app}</title></head>"
                f"<body><h1 id=app data-app=\"{self.s.app}\">{self.s.app}</h1><p>archy stand-in ({self.s.profile}),"
                f" {'healthy' if self.healthy() else 'unhealthy'}</p><ul>{rows}</ul></body></html>\n")

    def route_ui(self, req: Request) -> Response:
        if req.method not in ("GET", "HEAD"):
            return Response(405, b"method not allowed\n")
        # no X-Frame-Options here: the dashboard frames this page; nginx sets the frame policy
        return Response.html(200, self.ui_page())

    def route_status_and_ui(self, req: Request) -> Response:
        if req.path.split("?")[0].rstrip("/").endswith("/status"):
            return Response.json(200, self.status())
        return self.route_ui(req)
