"""One module per lifecycle event; each declares `EVENT = GridEvent(...)`: its `run(ctx)`, which
raises AssertionError naming what failed, and the traits the grid engine plans it by.

`EVENTS` maps the event ids of matrix/events.yaml to those declarations, in the order the grid
runs them on a line of apps: fresh installs build the rungs, read-only cells share the full
line, cells that change or tear down the state come last. A cell whose event is missing here is
a planning error at collection, not a silent pass.
"""
from __future__ import annotations

from harness.events import (broken_install, config_drift, fresh_install, start_order, upgrade_rollback, reboot_survival, reinstall_idempotent,
                            restart_integrations, soak, stop_ports_released, tor_onion,
                            ui_direct_port, ui_https_proxy, ui_iframe, uninstall_no_orphans)
from harness.grid.event import GridEvent

EVENTS: dict[str, GridEvent] = {m.EVENT.name: m.EVENT for m in (
    fresh_install, ui_direct_port, ui_https_proxy, ui_iframe, tor_onion, restart_integrations,
    config_drift, stop_ports_released, reboot_survival, start_order, soak, broken_install, upgrade_rollback,
    reinstall_idempotent,
    uninstall_no_orphans)}
