"""One module per lifecycle event; each `run(ctx)` raises AssertionError naming what failed.

`EVENTS` maps the event ids of matrix/events.yaml to their modules; the grid test dispatches
through it, so an event without a module is a collection-time error, not a silent pass.
"""
from __future__ import annotations

import importlib

EVENT_IDS = ("fresh_install", "ui_direct_port", "ui_https_proxy", "ui_iframe", "tor_onion",
             "stop_ports_released", "restart_integrations", "reboot_survival",
             "reinstall_idempotent", "uninstall_no_orphans", "soak")


def module(event: str):
    if event not in EVENT_IDS:
        raise KeyError(f"no event module for {event!r} (known: {', '.join(EVENT_IDS)})")
    return importlib.import_module(f"harness.events.{event}")
